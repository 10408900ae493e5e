"""The production extractor: an LLM behind an OpenAI-compatible endpoint (vLLM), scored by
sampling agreement.

Per document: its cached sample stream first (SampleStore: one Parquet row per sample, keyed by
content, served model, prompt/schema fingerprint and the pinned generation fields), then
requests for `n` more samples only while the confidence policy asks for them (scoring). The
policy is applied after the cache, so changing it costs no request for samples already drawn.
Before the first request of a run, a preflight checks the server (preflight). A server-wide
failure raises `LLMUnavailable` (retryable: the day is not committed without its documents);
a bad key, model or URL raises `LLMConfigError`; only a document's own failures (malformed
answers, a prompt beyond the context length, a request failing while the server answers
others) quarantine it. Rejected triples go to `llm_rejections`, token usage to `llm_usage`
(schema/tables_llm.yaml; both returned without `day` and `run_id`, which the pipeline adds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pyarrow as pa
from litkg.extractors.base import (
    ExtractionFailure,
    ExtractionResult,
    assertions_from_rows,
    empty_assertions,
)
from litkg.extractors.llm.cache import SampleStore, cache_key
from litkg.extractors.llm.client import (
    ChatClient,
    LLMConfigError,
    LLMRequestError,
    LLMUnavailable,
)
from litkg.extractors.llm.config import LLMConfig
from litkg.extractors.llm.preflight import ServedModel, preflight
from litkg.extractors.llm.prompt import (
    PROMPT_VERSION,
    build_messages,
    prompt_fingerprint,
    response_format,
    response_schema,
    system_prompt,
)
from litkg.extractors.llm.sampling import SamplingPolicy
from litkg.extractors.llm.scoring import (
    NAME,
    DocumentJob,
    FinalizeSettings,
    finalize,
    relation_rules,
    sha256,
)
from litkg.schema import arrow_schema_of, table, vocabulary

#: Bump when the code's handling of samples changes (parsing, scoring, grounding).
CODE_VERSION = "2"
PIPELINE_EXTRA_COLUMNS = ("day", "run_id")
log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["LLMExtractor", "LLMConfigError", "LLMUnavailable", "DocumentJob", "finalize",
           "extra_schema", "run_sync"]


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
        self.response_format = response_format(self.vocab, config.structured_output,
                                               config.max_triples)
        self._fingerprint = prompt_fingerprint(self.vocab, config.max_triples)
        self._rules = relation_rules(self.vocab)
        self._system = system_prompt(self.vocab)
        self.samples = SampleStore(config.resolved_cache_dir()) if config.cache else None
        self.settings = FinalizeSettings(
            self.version, config.grounding_threshold, config.max_sentence_gap,
            config.hedge_weight,
        )
        #: what the server serves, once a preflight has run (recorded in llm_usage)
        self.served: ServedModel | None = None
        self._preflight_lock = threading.Lock()

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
                "generation": cfg.generation_key(),
                "policy": cfg.policy_key(),
                "grounding": {
                    "threshold": cfg.grounding_threshold,
                    "max_sentence_gap": cfg.max_sentence_gap,
                },
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    def preflight(self) -> ServedModel:
        """Check the server once (/health, /v1/models, context length); see preflight.py."""
        with self._preflight_lock:
            if self.served is None:
                if self.config.preflight:
                    fixed = len(self._system) + len(json.dumps(
                        response_schema(self.vocab, self.config.max_triples)))
                    self.served = preflight(self.config, fixed, self.config.connect_timeout_s)
                else:
                    self.served = ServedModel(self.config.model)
            return self.served

    # -- jobs ----------------------------------------------------------------------------

    def make_job(self, doc: dict[str, Any]) -> DocumentJob:
        """A document's sampling job, with its cache key."""
        abstract = doc.get("abstract") or ""
        # the served model id is the configured one (preflight checks it is listed)
        key = cache_key(
            content=sha256(abstract),
            model=self.config.model,
            prompt_version=PROMPT_VERSION,
            prompt=self._fingerprint,
            generation=self.config.generation_key(),
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
            model=self.config.model,
        )

    def plan(self, documents: pa.Table) -> tuple[list[DocumentJob], list[DocumentJob]]:
        """All jobs, each fed its cached samples, and those that need more samples than the
        cache holds (one per distinct key)."""
        cols = [c for c in ("doc_id", "content_hash", "abstract") if c in documents.column_names]
        jobs = [self.make_job(d) for d in documents.select(cols).to_pylist()]
        live = [job for job in jobs if job.abstract.strip()]
        streams = self.samples.get_many(j.cache_key for j in live) if self.samples else {}
        todo: dict[str, DocumentJob] = {}
        for job in live:
            job.feed(streams.get(job.cache_key, []))
            if job.next_n() > 0 and job.cache_key not in todo:
                todo[job.cache_key] = job
        return jobs, list(todo.values())

    def persist(self, jobs: Iterable[DocumentJob]) -> None:
        """Store the samples the server gave these jobs (also after an outage: paid for)."""
        rows = [row for job in jobs for row in job.new_rows]
        if self.samples is None or not rows:
            return
        try:
            self.samples.put(rows)
        except OSError as exc:
            log.warning("LLM sample cache write failed (%d samples): %s", len(rows), exc)
            return
        for job in jobs:
            job.new_rows = []

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
                    job.feed(leader.samples)
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
        """Once a job is sampled: score it (idempotent).

        An error while scoring quarantines the document instead of failing the batch.
        """
        if job.failure is not None or job.result is not None:
            return
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
            "served_root": self.served.root if self.served else None,
            "max_model_len": self.served.max_model_len if self.served else None,
            "extractor_version": self.version,
            "status": status,
            "cached": job.cached,
            "requests": job.requests,
            "rounds": job.rounds,
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
            served = self.preflight()
            for job in todo:  # each sample row records the weights it came from
                job.model = served.root or served.id
            try:
                run_sync(self._sample_all(todo))
            finally:
                self.persist(todo)
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
            try:  # a task group cancels the other workers when one meets an outage
                async with asyncio.TaskGroup() as group:
                    for _ in range(workers):
                        group.create_task(worker())
            except BaseExceptionGroup as eg:
                raise eg.exceptions[0] from None

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
        except (LLMUnavailable, LLMConfigError):
            raise  # the whole run's problem, not this document's
        except Exception as exc:  # one odd document must not sink the batch: quarantine it
            log.exception("LLM extraction of %s failed", job.doc_id)
            job.failure = f"internal error: {type(exc).__name__}: {exc}"
