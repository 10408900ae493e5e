"""The production extractor: an LLM behind an OpenAI-compatible endpoint (vLLM), scored by
sampling agreement.

Per document: one request for `k0` samples (`n = k0`, the prompt is computed once), more rounds
of `k_step` only while some triple's share of valid samples is too close to the threshold
(llm_sampling), then agreement scoring (share capped at 0.95, kept if > 0.6, one direction per
pair), then grounding in the abstract (llm_grounding). Raw samples are cached on disk, keyed by
(content, model, prompt, sampling), so a rerun makes no request. Rejected triples go to the
`llm_rejections` audit table and token usage to `llm_usage` (schema/tables_llm.yaml; both
returned without the `day` and `run_id` columns, which the pipeline adds).

`DocumentJob` (sampling state) and `finalize` (scoring, grounding, rows) are shared with the
in-process vLLM batch path (llm_batch).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa
from litkg.extractors.base import (
    ExtractionFailure,
    ExtractionResult,
    assertions_from_rows,
    empty_assertions,
)
from litkg.extractors.llm_cache import ResponseCache, cache_key
from litkg.extractors.llm_client import ChatClient, Completion, LLMRequestError
from litkg.extractors.llm_config import LLMConfig
from litkg.extractors.llm_grounding import Grounded, Grounder
from litkg.extractors.llm_prompt import (
    PROMPT_VERSION,
    Answer,
    MalformedAnswer,
    Triple,
    build_messages,
    parse_answer,
    prompt_fingerprint,
    response_format,
    system_prompt,
)
from litkg.extractors.llm_sampling import (
    RelationRule,
    SamplingPolicy,
    TripleKey,
    agreement,
    resolve_directions,
    triple_key,
)
from litkg.schema import Vocabulary, arrow_schema_of, table, vocabulary

#: Bump when the code's handling of samples changes (parsing, scoring, grounding).
CODE_VERSION = "1"
NAME = "llm"
PIPELINE_EXTRA_COLUMNS = ("day", "run_id")
_RAW_LIMIT = 20_000
log = logging.getLogger(__name__)

T = TypeVar("T")


def extra_schema(name: str) -> pa.Schema:
    """Arrow schema of an audit table as returned in extras (without day and run_id)."""
    columns = table(name).columns
    return arrow_schema_of(
        tuple((c, t) for c, t in columns.items() if c not in PIPELINE_EXTRA_COLUMNS)
    )


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, in any thread, even under a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class DocumentJob:
    """One document's sampling state: rounds drawn so far and what to ask for next."""

    doc_id: str
    content_hash: str
    abstract: str
    messages: list[dict[str, str]]
    cache_key: str
    policy: SamplingPolicy
    vocab: Vocabulary
    min_valid_fraction: float = 0.5
    seed: int | None = None
    rules: dict[str, RelationRule] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    answers: list[Answer | None] = field(default_factory=list)
    #: per answer: (identity, arguments swapped, triple) of each of its triples
    keyed: list[list[tuple[TripleKey, bool, Triple]] | None] = field(default_factory=list)
    failure: str | None = None
    failure_raw: str | None = None
    cached: bool = False
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    #: (assertions, rejections) once finalized (the HTTP path does it while others wait)
    result: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None
    _retry_n: int = 0
    _retried: bool = False
    _memo: dict[str, tuple[Answer | None, list[tuple[TripleKey, bool, Triple]] | None]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        if not self.rules:
            self.rules = relation_rules(self.vocab)

    @property
    def drawn(self) -> int:
        return len(self.answers)

    def next_n(self) -> int:
        """Samples to request next; 0 when done (or failed)."""
        if self.failure is not None:
            return 0
        if self._retry_n:
            return self._retry_n
        if len(self.rounds) > self.policy.k_max + 1:  # a server returning 1 choice at a time
            return 0
        counts, n_valid = agreement(self.key_sets())
        return self.policy.next_draw(counts, n_valid, self.drawn)

    def next_seed(self) -> int | None:
        """A distinct seed per round when a base seed is set (the same seed repeats samples)."""
        return None if self.seed is None else self.seed + 1000 * len(self.rounds)

    def add_round(self, n: int, completion: Completion, *, replay: bool = False) -> None:
        """Record a round's samples; a round with too few valid samples is retried once, then
        the document fails with the raw answer."""
        texts = list(completion.texts)
        reasons = list(completion.finish_reasons)
        reasons += [None] * (len(texts) - len(reasons))
        if not replay:
            self.rounds.append(
                {
                    "n": n,
                    "texts": texts,
                    "finish_reasons": reasons,
                    "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                }
            )
            self.requests += completion.attempts
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
        parsed: list[Answer | None] = []
        first_bad: str | None = None
        for text, reason in zip(texts, reasons, strict=True):
            answer, keyed = self._parse(text) if reason != "length" else (None, None)
            parsed.append(answer)
            self.keyed.append(keyed)
            if answer is None and first_bad is None:
                first_bad = text if text is not None else "<no content>"
        self.answers.extend(parsed)
        valid = sum(a is not None for a in parsed)
        malformed = not texts or valid < math.ceil(self.min_valid_fraction * len(texts))
        self._retry_n = 0
        if not malformed:
            return
        if not self._retried:
            self._retried = True
            self._retry_n = n
            return
        self.failure = f"malformed answer: {valid} of {len(texts)} samples valid after a retry"
        self.failure_raw = (first_bad or "<no choices>")[:_RAW_LIMIT]

    def replay(self, cached_rounds: list[dict[str, Any]]) -> None:
        """Rebuild the state from cached rounds (no request)."""
        self.cached = True
        self.rounds = cached_rounds
        for r in cached_rounds:
            self.add_round(
                r["n"], Completion(r["texts"], r.get("finish_reasons") or []), replay=True
            )

    def _parse(
        self, text: str | None
    ) -> tuple[Answer | None, list[tuple[TripleKey, bool, Triple]] | None]:
        """Parse a sample (identical samples are parsed once) and key its triples."""
        if text is None:
            return None, None
        hit = self._memo.get(text)
        if hit is None:
            try:
                answer: Answer | None = parse_answer(text, self.vocab)
            except MalformedAnswer:
                answer = None
            keyed = None if answer is None else [
                (*_key(t, self.rules), t) for t in answer.triples
            ]
            hit = self._memo[text] = (answer, keyed)
        return hit

    def key_sets(self) -> list[set[TripleKey] | None]:
        """Each answer's set of triple identities (None: invalid sample)."""
        return [None if k is None else {key for key, _, _ in k} for k in self.keyed]

    def cache_value(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "prompt_version": PROMPT_VERSION,
            "rounds": self.rounds,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


def relation_rules(vocab: Vocabulary) -> dict[str, RelationRule]:
    """How each relation is oriented for identity (inverse -> primary, symmetric -> sorted)."""
    return {
        r["relation"]: RelationRule(r["canonical"], r["swap"], r["symmetric"])
        for r in vocab.relation_rules()
    }


def _key(t: Triple, rules: dict[str, RelationRule]) -> tuple[TripleKey, bool]:
    return triple_key(t.subject, t.relation, t.object, [(c.qualifier, c.text) for c in t.context],
                      rules)


@dataclass(frozen=True)
class _Surface:
    """A triple as written by the model, oriented to its canonical relation."""

    subject: str
    subject_type: str
    relation: str
    object: str
    object_type: str
    context: tuple[tuple[str, str], ...]


@dataclass
class FinalizeSettings:
    """What turns samples into assertions (besides the sampling policy)."""

    extractor_version: str
    grounding_threshold: float = 90.0
    max_sentence_gap: int = 2


def finalize(
    job: DocumentJob, settings: FinalizeSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Scoring, direction resolution and grounding of a finished job: (assertions, rejections)."""
    policy, rules = job.policy, job.rules
    surfaces: dict[TripleKey, Counter[_Surface]] = {}
    key_sets: list[set[TripleKey] | None] = []
    for keyed in job.keyed:
        if keyed is None:
            key_sets.append(None)
            continue
        keys: set[TripleKey] = set()
        for key, swapped, t in keyed:
            rel = rules[t.relation].canonical if t.relation in rules else t.relation
            ctx = tuple(sorted({(c.qualifier, c.text) for c in t.context}))
            if swapped and not rules.get(t.relation, RelationRule(t.relation)).symmetric:
                s = _Surface(t.object, t.object_type, rel, t.subject, t.subject_type, ctx)
            else:
                s = _Surface(t.subject, t.subject_type, rel, t.object, t.object_type, ctx)
            if key not in keys:
                surfaces.setdefault(key, Counter())[s] += 1
            keys.add(key)
        key_sets.append(keys)
    counts, n_valid = agreement(key_sets)
    order = {k: i for i, k in enumerate(surfaces)}
    rejections: list[dict[str, Any]] = []

    def reject(key: TripleKey, reason: str, detail: str = "") -> None:
        surface = surfaces[key].most_common(1)[0][0]
        rejections.append(_rejection_row(job, key, surface, counts[key], n_valid, reason, detail,
                                         settings.extractor_version))

    survivors: dict[TripleKey, float] = {}
    for key in surfaces:
        if policy.keep(counts[key], n_valid):
            survivors[key] = policy.confidence(counts[key], n_valid)
        else:
            reject(key, "low-agreement", f"{counts[key]}/{n_valid} samples")
    kept, dropped = resolve_directions(survivors, order)
    for key in dropped:
        reject(key, "reverse-direction", f"{counts[key]}/{n_valid} samples")

    grounder = Grounder(job.abstract, settings.grounding_threshold, settings.max_sentence_gap)
    rows: list[dict[str, Any]] = []
    seen_spans: set[Any] = set()
    for key in kept:
        located: tuple[_Surface, Grounded] | None = None
        first_failure = None
        for surface, _ in surfaces[key].most_common():
            result = grounder.ground(surface.subject, surface.object, list(surface.context))
            if isinstance(result, Grounded):
                located = (surface, result)
                break
            first_failure = first_failure or result
        if located is None:
            assert first_failure is not None
            reject(key, first_failure.reason, first_failure.detail)
            continue
        surface, g = located
        span_key = (g.subject, surface.relation, g.object, tuple(sorted(g.context)))
        if span_key in seen_spans:
            reject(key, "duplicate", "same spans as a kept triple")
            continue
        seen_spans.add(span_key)
        text = job.abstract
        rows.append(
            {
                "doc_id": job.doc_id,
                "content_hash": job.content_hash,
                "subject": text[g.subject[0]:g.subject[1]],
                "subject_start": g.subject[0],
                "subject_end": g.subject[1],
                "subject_type": surface.subject_type,
                "relation": surface.relation,
                "object": text[g.object[0]:g.object[1]],
                "object_start": g.object[0],
                "object_end": g.object[1],
                "object_type": surface.object_type,
                "context": [
                    {"qualifier": q, "text": text[s:e], "start": s, "end": e}
                    for q, (s, e) in g.context
                ],
                "evidence": text[g.evidence[0]:g.evidence[1]],
                "evidence_start": g.evidence[0],
                "evidence_end": g.evidence[1],
                "confidence": survivors[key],
                "extractor": NAME,
                "extractor_version": settings.extractor_version,
            }
        )
    return rows, rejections


def _rejection_row(
    job: DocumentJob,
    key: TripleKey,
    surface: _Surface,
    support: int,
    n_valid: int,
    reason: str,
    detail: str,
    version: str,
) -> dict[str, Any]:
    ident = json.dumps([job.doc_id, job.content_hash, key], separators=(",", ":"))
    return {
        "rejection_id": sha256(ident),
        "doc_id": job.doc_id,
        "content_hash": job.content_hash,
        "subject": surface.subject,
        "subject_type": surface.subject_type,
        "relation": surface.relation,
        "object": surface.object,
        "object_type": surface.object_type,
        "context": [{"qualifier": q, "text": t} for q, t in surface.context],
        "support": support,
        "valid_samples": n_valid,
        "share": support / n_valid if n_valid else 0.0,
        "reason": reason,
        "detail": detail,
        "extractor_version": version,
    }


class LLMExtractor:
    """Extractor protocol over an OpenAI-compatible chat-completions endpoint (vLLM).

    `LLMExtractor()` reads its settings from $LITKG_LLM_CONFIG and LITKG_LLM_* env vars;
    `LLMExtractor(config)` or `LLMExtractor(model=..., urls=[...])` set them explicitly.
    """

    name = NAME

    def __init__(self, config: LLMConfig | None = None, **overrides: Any):
        if config is None:
            config = LLMConfig.load(**overrides)
        elif overrides:
            config = LLMConfig.model_validate({**config.model_dump(), **overrides})
        self.config = config
        self.vocab = vocabulary(config.vocabulary)
        self.policy = SamplingPolicy(
            k0=config.k0,
            k_step=config.k_step,
            k_max=config.k_max,
            threshold=config.threshold,
            cap=config.cap,
            z=config.z,
        )
        self.version = f"{CODE_VERSION}+prompt.{PROMPT_VERSION}+{config.model}"
        self.response_format = response_format(self.vocab, config.structured_output)
        self._fingerprint = prompt_fingerprint(self.vocab)
        self._rules = relation_rules(self.vocab)
        self._system = system_prompt(self.vocab)
        self.cache = ResponseCache(config.resolved_cache_dir()) if config.cache else None
        self.settings = FinalizeSettings(
            self.version, config.grounding_threshold, config.max_sentence_gap
        )

    def config_key(self) -> str:
        """Everything that changes the output: model, prompt, sampling, grounding, vocabulary."""
        cfg = self.config
        return json.dumps(
            {
                "extractor": NAME,
                "code": CODE_VERSION,
                "prompt": PROMPT_VERSION,
                "prompt_sha256": self._fingerprint,
                "model": cfg.model,
                "vocabulary": self.vocab.name,
                "vocabulary_version": self.vocab.version,
                "sampling": {**cfg.sampling_key(), "cap": cfg.cap},
                "grounding": {
                    "threshold": cfg.grounding_threshold,
                    "max_sentence_gap": cfg.max_sentence_gap,
                },
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    # -- jobs ----------------------------------------------------------------------------

    def make_job(self, doc: dict[str, Any]) -> DocumentJob:
        """A document's sampling job, with its cache key."""
        abstract = doc.get("abstract") or ""
        key = cache_key(
            content=sha256(abstract),
            model=self.config.model,
            prompt_version=PROMPT_VERSION,
            prompt=self._fingerprint,
            sampling=self.config.sampling_key(),
        )
        return DocumentJob(
            doc_id=doc["doc_id"],
            content_hash=doc.get("content_hash") or sha256(abstract),
            abstract=abstract,
            messages=build_messages(self.vocab, abstract, self._system),
            cache_key=key,
            policy=self.policy,
            vocab=self.vocab,
            rules=self._rules,
            min_valid_fraction=self.config.min_valid_fraction,
            seed=self.config.seed,
        )

    def plan(self, documents: pa.Table) -> tuple[list[DocumentJob], list[DocumentJob]]:
        """All jobs, and those that need sampling (cache misses, one per distinct key)."""
        cols = [c for c in ("doc_id", "content_hash", "abstract") if c in documents.column_names]
        jobs = [self.make_job(d) for d in documents.select(cols).to_pylist()]
        todo: dict[str, DocumentJob] = {}
        for job in jobs:
            if not job.abstract.strip() or job.cache_key in todo:
                continue
            hit = self.cache.get(job.cache_key) if self.cache else None
            if hit is not None and hit.get("rounds"):
                job.replay(hit["rounds"])
            else:
                todo[job.cache_key] = job
        return jobs, list(todo.values())

    def assemble(self, jobs: list[DocumentJob], sampled: Iterable[DocumentJob]) -> ExtractionResult:
        """Cache the sampled jobs, copy them to duplicates, and build the result tables."""
        by_key = {job.cache_key: job for job in sampled}
        for job in by_key.values():
            self.complete(job)
        rows: list[dict[str, Any]] = []
        rejections: list[dict[str, Any]] = []
        usage: list[dict[str, Any]] = []
        failures: list[ExtractionFailure] = []
        for job in jobs:
            leader = by_key.get(job.cache_key)
            if leader is not None and leader is not job:  # same abstract twice in this batch
                if leader.failure is None:
                    job.replay(leader.rounds)
                else:
                    job.failure, job.failure_raw = leader.failure, leader.failure_raw
            status = "ok"
            doc_rows: list[dict[str, Any]] = []
            doc_rejections: list[dict[str, Any]] = []
            if job.abstract.strip():
                self.complete(job)  # cache hits and duplicates are scored here
            if not job.abstract.strip():
                status = "empty"
            elif job.failure is not None or job.result is None:
                status = "failed"
                failures.append(ExtractionFailure(job.doc_id, job.failure or "not sampled",
                                                  job.failure_raw))
            else:
                doc_rows, doc_rejections = job.result
            rows += doc_rows
            rejections += doc_rejections
            usage.append(self._usage_row(job, status, len(doc_rows), len(doc_rejections)))
        return ExtractionResult(
            assertions=assertions_from_rows(rows) if rows else empty_assertions(),
            failures=failures,
            extras={
                "llm_usage": pa.Table.from_pylist(usage, schema=extra_schema("llm_usage")),
                "llm_rejections": pa.Table.from_pylist(
                    rejections, schema=extra_schema("llm_rejections")
                ),
            },
        )

    def complete(self, job: DocumentJob) -> None:
        """Once a job is sampled: store its samples in the cache and score it (idempotent).

        An error while scoring quarantines the document instead of failing the batch.
        """
        if job.failure is not None or job.result is not None:
            return
        if self.cache is not None and not job.cached:
            try:
                self.cache.put(job.cache_key, job.cache_value())
            except OSError as exc:
                log.warning("LLM cache write failed for %s: %s", job.doc_id, exc)
        try:
            job.result = finalize(job, self.settings)
        except Exception as exc:
            log.exception("scoring the samples of %s failed", job.doc_id)
            job.failure = f"internal error: {type(exc).__name__}: {exc}"

    def _usage_row(self, job: DocumentJob, status: str, kept: int, rejected: int) -> dict[str, Any]:
        return {
            "doc_id": job.doc_id,
            "content_hash": job.content_hash,
            "model": self.config.model,
            "extractor_version": self.version,
            "status": status,
            "cached": job.cached,
            "requests": job.requests,
            "rounds": len(job.rounds),
            "samples": job.drawn,
            "valid_samples": sum(a is not None for a in job.answers),
            "prompt_tokens": job.prompt_tokens,
            "completion_tokens": job.completion_tokens,
            "wall_s": job.wall_s,
            "kept": kept,
            "rejected": rejected,
        }

    # -- HTTP path -----------------------------------------------------------------------

    def extract(self, documents: pa.Table) -> ExtractionResult:
        """Extract assertions from `documents` (doc_id, content_hash, abstract)."""
        jobs, todo = self.plan(documents)
        if todo:
            run_sync(self._sample_all(todo))
        return self.assemble(jobs, todo)

    async def _sample_all(self, jobs: list[DocumentJob]) -> None:
        queue: asyncio.Queue[DocumentJob] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        async with ChatClient(self.config) as client:

            async def worker() -> None:
                while True:
                    try:
                        job = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    await self._sample(client, job)

            workers = min(self.config.concurrency, len(jobs))
            await asyncio.gather(*(worker() for _ in range(workers)))

    async def _sample(self, client: ChatClient, job: DocumentJob) -> None:
        started = time.perf_counter()
        try:
            n = job.next_n()
            while n > 0:
                try:
                    completion = await client.complete(
                        job.messages, n, self.response_format, job.next_seed()
                    )
                except LLMRequestError as exc:
                    job.requests += exc.attempts
                    job.failure, job.failure_raw = f"request failed: {exc}", exc.body
                    break
                job.add_round(n, completion)
                n = job.next_n()
            job.wall_s = time.perf_counter() - started
            self.complete(job)  # now: CPU work overlaps other requests, and a crash keeps it
        except Exception as exc:  # one odd document must not sink the batch: quarantine it
            log.exception("LLM extraction of %s failed", job.doc_id)
            job.failure = f"internal error: {type(exc).__name__}: {exc}"
