"""Benchmark of the LLM extractor: HTTP throughput, the sampling policy, and a cost model.

1. Throughput: documents/s against the scripted loopback server (tests/llm_server.py, run in
   its own process) with a fixed per-request latency, for several concurrency levels, and the
   ratio to the ideal concurrency / latency.
2. Sampling: the cheap scheme (k0 samples, more only while undecided) vs the full MedKGent
   scheme (50 samples) on simulated sample streams: Spearman of confidences, keep/drop
   agreement, samples saved.
3. Cost: tokens per abstract x samples, GPU-hours for N abstracts at given tokens/s.

    .venv/bin/python bench/extract_llm.py                      # all three
    .venv/bin/python bench/extract_llm.py --only cost --decode-tokens-per-s 8000
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
from litkg.extractors.llm import LLMExtractor
from litkg.extractors.llm.prompt import build_messages
from litkg.extractors.llm.sampling import SamplingPolicy, simulate
from litkg.schema import vocabulary

ROOT = Path(__file__).resolve().parents[1]
FILLER = (
    "Recent work studies sparse models for vision. We analyse training dynamics in detail and "
    "report ablations over depth, width and data size. The method is simple to implement. "
)


def synthetic_documents(n: int, seed: int = 0) -> pa.Table:
    """n abstracts of ~1,000 characters, each with one "X outperforms Y on Z" claim."""
    rng = random.Random(seed)
    abstracts = [
        f"We propose Model{i}, a new architecture. " + FILLER
        + f"Model{i} outperforms Base{rng.randint(0, 99)} on Set{rng.randint(0, 9)}. " + FILLER
        for i in range(n)
    ]
    return pa.table(
        {
            "doc_id": [f"bench:{i}" for i in range(n)],
            "content_hash": [f"h{i}" for i in range(n)],
            "title": [""] * n,
            "abstract": abstracts,
        }
    )


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    """The scripted server in its own process (so it does not share the client's GIL)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "llm_server.py"), "--latency", str(latency)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise RuntimeError("scripted server did not start")
    return proc, url


def throughput(levels: list[int], latency: float, waves: int) -> list[dict[str, float]]:
    """docs/s per concurrency level; each level runs `waves` x concurrency documents."""
    proc, url = start_server(latency)
    rows = []
    try:
        for c in levels:
            n = max(c * waves, 8)
            docs = synthetic_documents(n, seed=c)
            extractor = LLMExtractor(env={}, urls=[url], model="bench", concurrency=c,
                                     cache=False, timeout_s=30)
            extractor.extract(synthetic_documents(min(c, 8), seed=999))  # warm-up
            started = time.perf_counter()
            result = extractor.extract(docs)
            elapsed = time.perf_counter() - started
            assert not result.failures and result.assertions.num_rows == n
            rate = n / elapsed
            ideal = c / latency
            rows.append({"concurrency": c, "docs": n, "seconds": elapsed, "docs_per_s": rate,
                         "ideal": ideal, "ratio": rate / ideal})
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return rows


def sampling(docs: int, seed: int) -> list[tuple[str, SamplingPolicy]]:
    """Print the simulation for the default policy and a few alternatives."""
    policies = [
        ("default k0=10 step=10 z=1.0", SamplingPolicy(k0=10, k_step=10, k_max=50, z=1.0)),
        ("budget  k0=10 step=10 z=0.5", SamplingPolicy(k0=10, k_step=10, k_max=50, z=0.5)),
        ("careful k0=10 step=10 z=1.5", SamplingPolicy(k0=10, k_step=10, k_max=50, z=1.5)),
        ("small   k0=5  step=5  z=1.0", SamplingPolicy(k0=5, k_step=5, k_max=50, z=1.0)),
    ]
    print(f"\n== sampling: cheap scheme vs full k=50 (MedKGent), {docs} simulated documents ==")
    for label, policy in policies:
        report = simulate(policy, docs=docs, seed=seed)
        print(f"-- {label}")
        for line in report.lines():
            print("   " + line)
    print("\n-- sensitivity of the default policy to the share of ambiguous triples (uniform p)")
    print(f"   {'ambiguous':>9}{'spearman':>10}{'agreement':>11}{'full-vs-full':>14}"
          f"{'samples':>9}{'saved':>8}")
    for ambiguous in (0.0, 0.05, 0.2, 0.4):
        r = simulate(policies[0][1], docs=docs, seed=seed, ambiguous=ambiguous)
        print(f"   {ambiguous:>9.0%}{r.spearman:>10.3f}{r.decision_agreement:>11.2%}"
              f"{r.full_vs_full_agreement:>14.2%}{r.mean_samples:>9.1f}{r.samples_saved:>8.1%}")
    return policies


def cost(args: argparse.Namespace) -> None:
    """Tokens per abstract x samples, and GPU-hours for N abstracts."""
    vocab = vocabulary(args.vocabulary)
    system_tokens = len(build_messages(vocab, "")[0]["content"]) / args.chars_per_token
    prompt = system_tokens + args.abstract_tokens + 20  # + chat template and delimiters
    report = simulate(SamplingPolicy(k0=args.k0, k_step=args.k_step, k_max=50, z=args.z),
                      docs=args.sim_docs, seed=args.seed)
    rounds = sum(k * v for k, v in report.rounds_histogram.items()) / report.docs
    print(f"\n== cost model: {args.abstracts:,} abstracts ==")
    print(f"prompt tokens per request ~ {prompt:.0f} (instructions {system_tokens:.0f} + "
          f"abstract {args.abstract_tokens}); completion tokens per sample {args.sample_tokens}")
    print(f"throughput assumed per GPU: prefill {args.prefill_tokens_per_s:,.0f} tok/s, "
          f"decode {args.decode_tokens_per_s:,.0f} tok/s (aggregate, batched)")
    header = f"{'scheme':<26}{'samples':>9}{'requests':>10}{'tokens/abstract':>17}{'GPU-h':>10}"
    print(header)
    for label, samples, requests in (
        ("full k=50 (MedKGent)", 50.0, 1.0),
        (f"cheap k0={args.k0} z={args.z}", report.mean_samples, rounds),
        ("single sample (k=1)", 1.0, 1.0),
    ):
        prefill = requests * prompt
        decode = samples * args.sample_tokens
        seconds = args.abstracts * (prefill / args.prefill_tokens_per_s
                                    + decode / args.decode_tokens_per_s)
        print(f"{label:<26}{samples:>9.1f}{requests:>10.2f}{prefill + decode:>17,.0f}"
              f"{seconds / 3600:>10,.0f}")
    print("(prefill counted once per request: n samples share one prompt; vLLM prefix caching "
          "makes later rounds' prefill cheaper still)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["throughput", "sampling", "cost"])
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--waves", type=int, default=20, help="documents = waves x concurrency")
    parser.add_argument("--sim-docs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--abstracts", type=int, default=10_000_000)
    parser.add_argument("--abstract-tokens", type=int, default=300)
    parser.add_argument("--sample-tokens", type=int, default=150,
                        help="completion tokens per sample (JSON triples)")
    parser.add_argument("--decode-tokens-per-s", type=float, default=5000.0)
    parser.add_argument("--prefill-tokens-per-s", type=float, default=50000.0)
    parser.add_argument("--chars-per-token", type=float, default=4.0)
    parser.add_argument("--vocabulary", default="ml")
    parser.add_argument("--k0", type=int, default=10)
    parser.add_argument("--k-step", type=int, default=10)
    parser.add_argument("--z", type=float, default=1.0)
    args = parser.parse_args(argv)

    if args.only in (None, "throughput"):
        levels = [int(c) for c in args.concurrency.split(",")]
        print(f"== throughput: scripted server, {args.latency * 1000:.0f} ms per request, "
              f"{os.cpu_count()} CPUs ==")
        print(f"{'concurrency':>12}{'docs':>7}{'seconds':>9}{'docs/s':>9}{'ideal':>8}{'ratio':>8}")
        for r in throughput(levels, args.latency, args.waves):
            print(f"{r['concurrency']:>12}{r['docs']:>7}{r['seconds']:>9.2f}"
                  f"{r['docs_per_s']:>9.1f}{r['ideal']:>8.0f}{r['ratio']:>8.0%}")
    if args.only in (None, "sampling"):
        sampling(args.sim_docs, args.seed)
    if args.only in (None, "cost"):
        cost(args)


if __name__ == "__main__":
    main()
