"""The pipeline's steps, usable without Prefect: ingest -> extract -> construct -> snapshot.

`process_days` is what `litkg run` / `litkg backfill` and the Prefect flows call.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from litkg import schema
from litkg.acronyms import find_abbreviations
from litkg.construct import construct
from litkg.extraction_cache import ExtractionCache
from litkg.extractors.base import (
    DOCUMENT_COLUMNS,
    ExtractionFailure,
    ExtractionResult,
    Extractor,
    ExtractorConfigError,
    empty_assertions,
    extraction_schema,
)
from litkg.ingest import IngestReport, ingest_files, pending_days
from litkg.snapshots import write_snapshots
from litkg.sources import DEFAULT_OPTIONS, SourceOptions
from litkg.store import WHOLE, Store, Transaction
from litkg.store.arrow import registered, registered_values, scratch
from litkg.validate import validate_assertions

ASSERTION_ID = (
    "md5(concat_ws('|', doc_id, content_hash, extractor, extractor_version, subject_start, "
    "subject_end, relation, object_start, object_end, to_json(context)::VARCHAR, "
    "evidence_start))"
)


def day_partition(day: date) -> str:
    return f"day={day.isoformat()}"


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@dataclass
class RunSummary:
    """What one run did: counts, notable edges and time per stage (the run's report)."""

    run_id: str
    days: list[date] = field(default_factory=list)
    skipped_days: list[date] = field(default_factory=list)
    documents: int = 0
    assertions: int = 0
    quarantined: int = 0
    extraction_failures: int = 0
    rejected_assertions: int = 0  # extractor output that failed validation (quarantined)
    cached_documents: int = 0
    files: dict[str, int] = field(default_factory=dict)  # input files read / skipped (manifest)
    failed_files: dict[str, str] = field(default_factory=dict)  # file -> why reading stopped
    # doc ids with several versions (content hashes) on one day of the run: a revision on the
    # day of the version it revises; the later `revised`, else the larger hash, counts
    same_day_revisions: list[dict[str, Any]] = field(default_factory=list)
    # days outside those asked, redone because documents of theirs had failed extraction
    retried_days: list[date] = field(default_factory=list)
    # documents stored by another process after prepare: left to the next run (see
    # extraction_failures)
    deferred_documents: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    top_reinforced: list[dict[str, Any]] = field(default_factory=list)
    newly_contested: list[dict[str, Any]] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    construct_mode: str = ""  # rebuild | incremental (see construct.choose_mode)

    def add_time(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] = round(self.stage_seconds.get(stage, 0.0) + seconds, 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "days": [d.isoformat() for d in self.days],
            "skipped_days": [d.isoformat() for d in self.skipped_days],
            "documents": self.documents,
            "assertions": self.assertions,
            "quarantined": self.quarantined,
            "extraction_failures": self.extraction_failures,
            "retried_days": [d.isoformat() for d in self.retried_days],
            "deferred_documents": self.deferred_documents,
            "rejected_assertions": self.rejected_assertions,
            "cached_documents": self.cached_documents,
            "files": self.files,
            "failed_files": self.failed_files,
            "same_day_revisions": [
                {**r, "day": r["day"].isoformat()} for r in self.same_day_revisions],
            "changes": self.changes,
            "top_reinforced": self.top_reinforced,
            "newly_contested": self.newly_contested,
            "stage_seconds": self.stage_seconds,
            "wall_s": round(self.wall_s, 3),
            "construct_mode": self.construct_mode,
        }

    def to_markdown(self) -> str:
        """The run's report as Markdown (published as a Prefect artifact by the flows)."""
        span = (
            f"{self.days[0]} .. {self.days[-1]}" if self.days else "no new days"
        )
        lines = [
            f"# litkg run {self.run_id[:8]}: {span}",
            "",
            "| documents | assertions | rejected | quarantined | new edges | reinforced | "
            "contested | retracted |",
            "|---|---|---|---|---|---|---|---|",
            f"| {self.documents} | {self.assertions} | {self.rejected_assertions} | "
            f"{self.quarantined} | "
            f"{self.changes.get('added', 0)} | {self.changes.get('reinforced', 0)} | "
            f"{self.changes.get('contested', 0)} | {self.changes.get('retracted', 0)} |",
            "",
            "## Most reinforced edges",
            "",
            "| subject | relation | object | context | support | confidence |",
            "|---|---|---|---|---|---|",
        ]
        for e in self.top_reinforced:
            lines.append(
                f"| {e['subject']} | {e['relation']} | {e['object']} | {e['context'] or '-'} | "
                f"{e['support']} | {e['confidence']:.3f} |"
            )
        lines += ["", "## Newly contested edges", "",
                  "| day | contested claim | context | beaten by | confidence vs winner |",
                  "|---|---|---|---|---|"]
        for e in self.newly_contested:
            lines.append(
                f"| {e['day']} | {e['subject']} {e['relation']} {e['object']} | "
                f"{e['context'] or '-'} | {e['winner']} | "
                f"{e['confidence']:.3f} vs {e['winner_confidence']:.3f} |"
            )
        if self.extraction_failures or self.retried_days or self.deferred_documents:
            lines += ["", "## Extraction failures", "",
                      f"{self.extraction_failures} document(s) failed extraction (listed by "
                      "`litkg stats`; the next run or `litkg retry-failed` retries them)."
                      + (f" Retried failed documents of {', '.join(map(str, self.retried_days))}."
                         if self.retried_days else "")
                      + (f" {self.deferred_documents} document(s) stored by another process "
                         "while this run extracted are left to the next run."
                         if self.deferred_documents else "")]
        if self.same_day_revisions:
            lines += ["", "## Same-day revisions", "",
                      "Several versions of one document on one day: the later `revised`, else "
                      "the larger content hash, counts (docs/architecture.md, Versions).", "",
                      "| day | doc_id | versions |", "|---|---|---|"]
            lines += [f"| {r['day']} | {r['doc_id']} | {r['versions']} |"
                      for r in self.same_day_revisions]
        if self.failed_files:
            lines += ["", "## Input files that failed", "", "| file | why reading stopped |",
                      "|---|---|"]
            lines += [f"| {f} | {why} |" for f, why in sorted(self.failed_files.items())]
        mode = f" (graph: {self.construct_mode})" if self.construct_mode else ""
        lines += ["", f"## Wall time per stage (s){mode}", "",
                  "| " + " | ".join(self.stage_seconds) + " | total |",
                  "|" + "---|" * (len(self.stage_seconds) + 1),
                  "| " + " | ".join(f"{v:.2f}" for v in self.stage_seconds.values())
                  + f" | {self.wall_s:.2f} |"]
        return "\n".join(lines) + "\n"


# -- extract -----------------------------------------------------------------------------------
def documents_of_day(tx: Transaction, day: date) -> pa.Table:
    cols = ", ".join(DOCUMENT_COLUMNS)
    return tx.sql(
        f"SELECT {cols} FROM documents WHERE published = ? ORDER BY doc_id, content_hash", [day]
    ).to_arrow_table()


def extract_documents(
    docs: pa.Table, extractor: Extractor, cache: ExtractionCache | None
) -> tuple[pa.Table, list[Any], dict[str, pa.Table], int]:
    """Assertions for `docs`, from the cache where possible; (assertions, failures, extras,
    number of documents served from the cache)."""
    hashes = docs.column("content_hash").to_pylist()
    key = extractor.config_key()
    cached, covered = cache.lookup(key, hashes) if cache else (None, set())
    todo_mask = pa.array([h not in covered for h in hashes], type=pa.bool_())
    todo = docs.filter(todo_mask)
    parts = [_relabel(cached, docs)] if cached is not None and cached.num_rows else []
    failures: list[Any] = []
    extras: dict[str, pa.Table] = {}
    if todo.num_rows:
        result = extract_isolating(extractor, todo)
        failures = list(result.failures)
        extras = dict(result.extras)
        parts.append(result.assertions)
        failed = {f.doc_id for f in failures}
        done = [
            h for h, d in zip(todo.column("content_hash").to_pylist(),
                              todo.column("doc_id").to_pylist(), strict=True) if d not in failed
        ]
        if cache:
            done_set = set(done)
            produced = result.assertions.column("content_hash").to_pylist()
            mask = pa.array([h in done_set for h in produced], type=pa.bool_())
            cache.put(key, done, result.assertions.filter(mask))
    if parts:
        table = pa.concat_tables([p.cast(parts[0].schema) for p in parts])
    else:
        table = empty_assertions()
    return table, failures, extras, len(covered)


#: Errors that are not a document's fault: they fail the run (an outage is retried later, a
#: configuration error is fixed by the user) instead of quarantining documents; so do errors
#: of the network and cluster libraries (NETWORK_LIBRARIES), which the flows retry.
NOT_A_DOCUMENTS_FAULT: tuple[type[BaseException], ...] = (
    ExtractorConfigError, ConnectionError, TimeoutError, MemoryError,
)
NETWORK_LIBRARIES = {"httpx", "httpcore", "openai", "requests", "urllib3", "distributed",
                     "tornado"}


def documents_fault(exc: BaseException) -> bool:
    """May `exc`, raised by an extractor, be caused by the documents it was given?"""
    if isinstance(exc, NOT_A_DOCUMENTS_FAULT) or not isinstance(exc, Exception):
        return False
    return not {c.__module__.split(".")[0] for c in type(exc).__mro__} & NETWORK_LIBRARIES


def extract_isolating(extractor: Extractor, docs: pa.Table) -> ExtractionResult:
    """`extractor.extract(docs)`; if it raises, the documents that make it raise are found by
    halving the batch, and each becomes an ExtractionFailure with the error, so one bad
    document never fails the others (a tokenizer crash, a text the model refuses). When every
    document of a batch of two or more raises on its own too, the extractor is at fault, not
    the documents: the first error is raised, as are errors that are never a document's fault
    (`documents_fault`: an outage, a bad configuration, a network error)."""
    try:
        return extractor.extract(docs)
    except Exception as exc:  # noqa: BLE001 - isolated below, reported per document
        if not documents_fault(exc):
            raise
        if docs.num_rows <= 1:
            return _raised(docs, exc)
        result, raised = _bisect(extractor, docs)
        if raised == docs.num_rows:
            raise
        return result


def _raised(docs: pa.Table, exc: Exception) -> ExtractionResult:
    """The documents of `docs` (one) as failures carrying the exception."""
    message = str(exc).splitlines()[0][:300] if str(exc) else ""
    reason = f"extractor error: {type(exc).__name__}" + (f": {message}" if message else "")
    detail = "".join(traceback.format_exception_only(exc)).strip()[:ERROR_LIMIT]
    return ExtractionResult(assertions=empty_assertions(), failures=[
        ExtractionFailure(doc_id, reason, detail) for doc_id in docs.column("doc_id").to_pylist()])


def _bisect(extractor: Extractor, docs: pa.Table) -> tuple[ExtractionResult, int]:
    """Extract the two halves of `docs` apart, recursively where they raise; returns the
    merged result and how many documents raised alone."""
    parts, raised = [], 0
    half = docs.num_rows // 2
    for part in (docs.slice(0, half), docs.slice(half)):
        try:
            parts.append(extractor.extract(part))
        except Exception as exc:  # noqa: BLE001 - the culprit is in this half
            if not documents_fault(exc):
                raise
            if part.num_rows == 1:
                parts.append(_raised(part, exc))
                raised += 1
            else:
                result, n = _bisect(extractor, part)
                parts.append(result)
                raised += n
    extras: dict[str, list[pa.Table]] = {}
    for part in parts:
        for name, table in part.extras.items():
            extras.setdefault(name, []).append(table)
    return ExtractionResult(
        assertions=pa.concat_tables([p.assertions.cast(extraction_schema()) for p in parts]),
        failures=[f for p in parts for f in p.failures],
        extras={n: pa.concat_tables([t.cast(ts[0].schema) for t in ts])
                for n, ts in extras.items()},
    ), raised


def _relabel(cached: pa.Table, docs: pa.Table) -> pa.Table:
    """Cached assertions are keyed by content: give them the doc ids of the documents asking
    (two doc ids may carry the same text)."""
    cols = ", ".join(
        "d.doc_id" if c == "doc_id" else f'c."{c}"' for c in extraction_schema().names
    )
    with scratch() as con:
        con.register("c", cached)
        con.register("d", docs.select(["doc_id", "content_hash"]))
        out = con.execute(
            f"SELECT DISTINCT {cols} FROM c JOIN d USING (content_hash) ORDER BY ALL"
        ).to_arrow_table()
    return out.cast(extraction_schema())


def abbreviations_table(docs: pa.Table, day: date) -> pa.Table:
    rows = []
    for doc_id, chash, text in zip(
        docs.column("doc_id").to_pylist(), docs.column("content_hash").to_pylist(),
        docs.column("abstract").to_pylist(), strict=True,
    ):
        for ab in find_abbreviations(text or ""):
            rows.append({"doc_id": doc_id, "content_hash": chash, "day": day,
                         "short": ab.short, "long": ab.long, "start": ab.start})
    return pa.Table.from_pylist(rows, schema=schema.table("abbreviations").arrow_schema())


def write_extraction(
    tx: Transaction, day: date, docs: pa.Table, assertions: pa.Table, failures: list[Any],
    extras: dict[str, pa.Table], run_id: str, rejected: list[dict[str, Any]] = (),
    extractor_key: str = "", deferred: list[tuple[str, str]] = (),
) -> int:
    """Store one day's extraction (delete-insert by day); failures and rejected assertions go
    to quarantine, failures also to `extraction_failures` (the documents to retry)."""
    tx.con.register("_extracted", assertions)
    n = tx.replace_partition(
        "assertions",
        day_partition(day),
        f"SELECT *, {ASSERTION_ID} AS assertion_id, DATE '{day.isoformat()}' AS day, "
        f"'{run_id}' AS run_id FROM _extracted",
    )
    tx.con.unregister("_extracted")
    tx.replace_partition("abbreviations", day_partition(day), abbreviations_table(docs, day))
    tx.con.register("_day_docs", docs.select(["doc_id"]))
    for name, table in extras.items():
        if name not in schema.tables():
            continue
        # Rows per document: the documents served from the extraction cache got no new rows,
        # so they keep theirs (a partial cache hit must not erase them).
        tx.con.register("_extra", table)
        tx.replace_partition(
            name, day_partition(day),
            f"SELECT *, DATE '{day.isoformat()}' AS day, '{run_id}' AS run_id FROM _extra "
            f"UNION ALL BY NAME SELECT * FROM \"{name}\" WHERE day = DATE '{day.isoformat()}' "
            "AND doc_id IN (SELECT doc_id FROM _day_docs) "
            "AND doc_id NOT IN (SELECT doc_id FROM _extra)",
        )
        tx.con.unregister("_extra")
    tx.con.unregister("_day_docs")
    _replace_extraction_failures(tx, day, failures)
    record_extraction_failures(tx, day, docs, failures, extractor_key=extractor_key,
                               run_id=run_id, deferred=deferred)
    _replace_rejections(tx, day, rejected)
    return n


REJECTION_SOURCE = "rejected assertions of "
EXTRACTION_FAILURE_SOURCE = "extraction of "


def _replace_extraction_failures(tx: Transaction, day: date, failures: list[Any]) -> None:
    """The day's extraction failures, one quarantine row per document (its doc_id is in the
    key); those of an earlier run of the day are replaced, so a retried document leaves it."""
    _replace_quarantine(tx, f"{EXTRACTION_FAILURE_SOURCE}{day.isoformat()}", [
        {"doc_id": f.doc_id, "reason": f.reason, "raw": f.raw} for f in failures])


def _replace_rejections(tx: Transaction, day: date, rejected: list[dict[str, Any]]) -> None:
    """The day's rejected assertions (failed validation: see validate.py), replaced when the day
    is extracted again. Not extraction failures: the document was extracted, nothing to retry."""
    _replace_quarantine(tx, f"{REJECTION_SOURCE}{day.isoformat()}", rejected)


def _replace_quarantine(tx: Transaction, source: str, rows: list[dict[str, Any]]) -> None:
    """Quarantine rows of one `source` (doc_id, reason, raw each) replace the earlier ones."""
    old = tx.sql("SELECT count(*) FROM quarantine WHERE source_file = ?", [source]).fetchone()[0]
    if not rows and not old:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [{"source_file": source, "line": 0, **r, "quarantined_at": now} for r in rows]
    tx.con.register("_quarantined", pa.Table.from_pylist(
        rows, schema=schema.table("quarantine").arrow_schema()))
    tx.replace_partition(
        "quarantine", WHOLE,
        f"SELECT * FROM quarantine WHERE source_file <> '{source}' "
        "UNION ALL BY NAME SELECT * FROM _quarantined "
        "QUALIFY row_number() OVER (PARTITION BY source_file, line, doc_id, reason "
        "ORDER BY raw NULLS LAST) = 1",
    )
    tx.con.unregister("_quarantined")


#: Runs retry a failed document until it has failed this many times; then only `litkg
#: retry-failed` does (it stays listed by `litkg stats`).
MAX_AUTO_ATTEMPTS = 3
#: Characters of an error's detail kept in `extraction_failures.last_error`.
ERROR_LIMIT = 2000


#: Reason recorded for a document stored after a run's prepare step, before its commit.
DEFERRED_REASON = "ingested after this run's prepare step: the next run extracts it"


def deferred_documents(
    tx: Transaction, extractions: list[DayExtraction]
) -> dict[date, list[tuple[str, str]]]:
    """Per day, (doc_id, content_hash) of the stored document versions its extraction did not
    get: stored by another process between the run's prepare step and its commit (checked
    under the lock, at commit)."""
    days = [ex.day for ex in extractions]
    got = pa.Table.from_pylist(
        [{"day": ex.day, "doc_id": d, "content_hash": h} for ex in extractions
         for d, h in zip(ex.documents.column("doc_id").to_pylist(),
                         ex.documents.column("content_hash").to_pylist(), strict=True)],
        schema=pa.schema([("day", pa.date32()), ("doc_id", pa.string()),
                          ("content_hash", pa.string())]))
    with registered(tx.con, got) as extracted, \
            registered_values(tx.con, days, pa.date32()) as wanted:
        rows = tx.sql(
            f"SELECT published, doc_id, content_hash FROM documents WHERE published IN {wanted} "
            f"EXCEPT SELECT day, doc_id, content_hash FROM {extracted} ORDER BY ALL",
        ).fetchall()
    out: dict[date, list[tuple[str, str]]] = {}
    for day, doc_id, chash in rows:
        out.setdefault(day, []).append((doc_id, chash))
    return out


def record_extraction_failures(
    tx: Transaction, day: date, docs: pa.Table, failures: list[Any], *, extractor_key: str,
    run_id: str, deferred: list[tuple[str, str]] = (),
) -> None:
    """The day's rows of `extraction_failures` become its failed documents (one per document
    version, `attempts` counted on from the previous row of the same version) and its
    `deferred` ones (not extracted by this run: no attempt counted); the documents of `docs`
    that did not fail leave the table."""
    old = tx.sql("SELECT count(*) FROM extraction_failures WHERE day = ?", [day]).fetchone()[0]
    if not failures and not deferred and not old:
        return
    hashes = dict(zip(docs.column("doc_id").to_pylist(),
                      docs.column("content_hash").to_pylist(), strict=True))
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = {}
    for f in failures:
        rows[(f.doc_id, hashes.get(f.doc_id))] = {
            "doc_id": f.doc_id, "content_hash": hashes.get(f.doc_id), "day": day,
            "extractor": extractor_key, "reason": f.reason,
            "last_error": (f.raw or f.reason or "")[:ERROR_LIMIT], "attempts": 1,
            "first_failed_at": now, "last_failed_at": now, "run_id": run_id}
    for doc_id, chash in deferred:
        rows[(doc_id, chash)] = {
            "doc_id": doc_id, "content_hash": chash, "day": day, "extractor": extractor_key,
            "reason": DEFERRED_REASON, "last_error": DEFERRED_REASON, "attempts": 0,
            "first_failed_at": now, "last_failed_at": now, "run_id": run_id}
    tx.con.register("_failed", pa.Table.from_pylist(
        list(rows.values()), schema=schema.table("extraction_failures").arrow_schema()))
    try:
        tx.replace_partition(
            "extraction_failures", WHOLE,
            f"""
            SELECT * FROM extraction_failures WHERE day <> DATE '{day.isoformat()}'
            UNION ALL BY NAME
            SELECT n.* REPLACE (coalesce(o.attempts, 0) + n.attempts AS attempts,
                                coalesce(o.first_failed_at, n.first_failed_at) AS first_failed_at)
            FROM _failed n LEFT JOIN extraction_failures o
                ON o.doc_id = n.doc_id AND o.content_hash IS NOT DISTINCT FROM n.content_hash
            """,
        )
    finally:
        tx.con.unregister("_failed")


def failed_extraction_days(con: Any, max_attempts: int | None = None) -> set[date]:
    """Days with documents whose extraction failed and waits for a retry: with `max_attempts`,
    those that failed fewer times (what a run retries); None: all (`litkg retry-failed`), also
    those a store written before `extraction_failures` existed has only in quarantine."""
    try:
        days = {r[0] for r in con.execute(
            "SELECT DISTINCT day FROM extraction_failures WHERE ? IS NULL OR attempts < ?",
            [max_attempts, max_attempts]).fetchall()}
    except Exception:  # noqa: BLE001 - an older catalog has no such view
        days = set()
    if max_attempts is not None:
        return days
    n = len(EXTRACTION_FAILURE_SOURCE)
    return days | {r[0] for r in con.execute(
        f"SELECT DISTINCT TRY_CAST(substr(source_file, {n + 1}) AS DATE) FROM quarantine "
        f"WHERE starts_with(source_file, '{EXTRACTION_FAILURE_SOURCE}')").fetchall()
        if r[0] is not None}


def pending_extractions(con: Any, limit: int = 20) -> tuple[dict[str, int], list[dict]]:
    """For `litkg stats`: counts of failed documents (pending: runs retry them; given up:
    only `litkg retry-failed` does) and the most recent ones."""
    try:
        n_docs, n_days, given_up = con.execute(
            "SELECT count(*), count(DISTINCT day), count(*) FILTER (attempts >= ?) "
            "FROM extraction_failures", [MAX_AUTO_ATTEMPTS]).fetchone()
        rel = con.execute(
            "SELECT day, doc_id, attempts, reason, last_failed_at, extractor "
            "FROM extraction_failures ORDER BY last_failed_at DESC, day, doc_id LIMIT ?",
            [limit])
    except Exception:  # noqa: BLE001 - an older catalog has no such view
        return {"documents": 0, "days": 0, "given_up": 0}, []
    names = [d[0] for d in rel.description]
    rows = [dict(zip(names, r, strict=True)) for r in rel.fetchall()]
    return {"documents": n_docs, "days": n_days, "given_up": given_up}, rows


# -- the whole run -----------------------------------------------------------------------------
@dataclass
class WorkPlan:
    """What a run has to do after ingestion: the documents of each day that needs work."""

    run_id: str
    days: list[date]
    documents: dict[date, pa.Table] = field(default_factory=dict)
    skipped: list[date] = field(default_factory=list)
    quarantined: int = 0
    ingest_s: float = 0.0
    files: dict[str, int] = field(default_factory=dict)
    failed_files: dict[str, str] = field(default_factory=dict)
    same_day_revisions: list[dict[str, Any]] = field(default_factory=list)
    retried_days: list[date] = field(default_factory=list)  # outside `days`: failed documents


@dataclass
class DayExtraction:
    """One day's extraction output, computed without holding the store's lock."""

    day: date
    documents: pa.Table
    assertions: pa.Table
    failures: list[Any]
    extras: dict[str, pa.Table]
    cached: int
    seconds: float


def prepare(
    store: Store,
    days: list[date],
    *,
    sources: Iterable[str | Path] = (),
    force: bool = False,
    lock_timeout: float = 0,
    source_options: SourceOptions | None = None,
    retry_failed: bool = True,
) -> WorkPlan:
    """Ingest `sources` for `days` (committed at once) and list the days that need work.

    Files go through the `source_files` manifest: an unchanged file whose records of `days` were
    all ingested before is not read again (`force` reads every file). A day needs work unless
    it is already committed (has a snapshot) and got no new document version, now or since its
    snapshot (e.g. by `litkg ingest`); `force` redoes every day. With `retry_failed`, the
    committed days of any date that have documents whose extraction failed fewer than
    MAX_AUTO_ATTEMPTS times are added (`retried_days`): their failed documents are extracted
    again, the others come from the extraction cache.
    """
    days = sorted(set(days))
    plan = WorkPlan(run_id=uuid.uuid4().hex, days=days)
    if not days:
        return plan
    t0 = time.perf_counter()
    with store.writer(timeout=lock_timeout) as tx:
        new_versions: dict[date, int] = {}
        sources = list(sources)
        if sources:
            report: IngestReport = ingest_files(
                tx, sources, start=days[0], end=days[-1], days=set(days), force=force,
                options=source_options or DEFAULT_OPTIONS,
            )
            plan.quarantined = report.quarantined
            plan.failed_files = report.failed_files
            plan.files = {"read": len(report.files_read), "skipped": len(report.files_skipped)}
            new_versions = report.new_versions
            if report.changed:  # the graph commit writes the catalog (or a reader, if it fails)
                tx.commit(catalog=False)
        done = {r[0] for r in tx.sql("SELECT day FROM snapshots").fetchall()}
        pending = pending_days(tx, days[0], days[-1]) if done else set()
        pending |= failed_extraction_days(tx.con) & set(days) if done else set()
        if retry_failed and done:
            plan.retried_days = sorted(
                (failed_extraction_days(tx.con, MAX_AUTO_ATTEMPTS) & done) - set(days))
            days = sorted(set(days) | set(plan.retried_days))
        with registered_values(tx.con, days, pa.date32()) as wanted:
            stored_days = {r[0] for r in tx.sql(
                f"SELECT DISTINCT published FROM documents WHERE published IN {wanted}"
            ).fetchall()}
        for day in days:
            retry = day in plan.retried_days
            if (day in done and not force and not new_versions.get(day) and day not in pending
                    and not retry):
                plan.skipped.append(day)
            elif day in stored_days:
                plan.documents[day] = documents_of_day(tx, day)
            else:
                plan.documents[day] = pa.table(
                    {c: pa.array([], pa.string()) for c in DOCUMENT_COLUMNS}
                )
        plan.same_day_revisions = same_day_revisions(tx, sorted(plan.documents))
    plan.ingest_s = time.perf_counter() - t0
    return plan


def same_day_revisions(tx: Transaction, days: list[date]) -> list[dict[str, Any]]:
    """Documents with more than one version (content hash) published on one of `days`."""
    if not days:
        return []
    with registered_values(tx.con, days, pa.date32()) as wanted:
        rows = tx.sql(
            "SELECT published, doc_id, count(DISTINCT content_hash) FROM documents "
            f"WHERE published IN {wanted} GROUP BY ALL "
            "HAVING count(DISTINCT content_hash) > 1 ORDER BY ALL",
        ).fetchall()
    return [{"day": d, "doc_id": doc_id, "versions": int(n)} for d, doc_id, n in rows]


def extract_day(
    day: date, docs: pa.Table, extractor: Extractor, cache: ExtractionCache | None
) -> DayExtraction:
    """Extract one day's documents (cache first). Safe to run in parallel: no store writes."""
    t0 = time.perf_counter()
    if docs.num_rows == 0:
        from litkg.extractors.base import empty_assertions

        return DayExtraction(day, docs, empty_assertions(), [], {}, 0, 0.0)
    assertions, failures, extras, cached = extract_documents(docs, extractor, cache)
    return DayExtraction(day, docs, assertions, failures, extras, cached,
                         time.perf_counter() - t0)


def commit_run(
    store: Store,
    plan: WorkPlan,
    extractions: list[DayExtraction],
    *,
    extractor_key: str,
    vocabulary: str = "ml",
    lock_timeout: float = 0,
) -> RunSummary:
    """Store the extractions (delete-insert by day), rebuild the graph, snapshot, commit."""
    summary = RunSummary(run_id=plan.run_id, skipped_days=list(plan.skipped),
                         quarantined=plan.quarantined, files=dict(plan.files),
                         failed_files=dict(plan.failed_files),
                         same_day_revisions=list(plan.same_day_revisions),
                         retried_days=list(plan.retried_days))
    summary.add_time("ingest", plan.ingest_s)
    vocab = schema.vocabulary(vocabulary)
    if not extractions:
        if store.exists():  # an ingest commit left the catalog to this one: bring it up to date
            store.connect().close()
        return summary
    extractions = sorted(extractions, key=lambda e: e.day)
    with store.writer(timeout=lock_timeout) as tx:
        day_seconds: dict[date, float] = {}
        stored_days = _assertion_days(tx)
        deferred_by_day = deferred_documents(tx, extractions)
        for ex in extractions:
            summary.days.append(ex.day)
            summary.add_time("extract", ex.seconds)
            t2 = time.perf_counter()
            valid, rejected = validate_assertions(ex.assertions, vocab)
            summary.rejected_assertions += len(rejected)
            deferred = deferred_by_day.get(ex.day, [])
            summary.deferred_documents += len(deferred)
            if ex.documents.num_rows or ex.day in stored_days or deferred:
                summary.assertions += write_extraction(
                    tx, ex.day, ex.documents, valid, ex.failures, ex.extras, plan.run_id,
                    rejected, extractor_key=extractor_key, deferred=deferred,
                )
            summary.add_time("store", time.perf_counter() - t2)
            summary.documents += ex.documents.num_rows
            summary.cached_documents += ex.cached
            summary.extraction_failures += len(ex.failures)
            day_seconds[ex.day] = ex.seconds + time.perf_counter() - t2
        t3 = time.perf_counter()
        now = datetime.now(UTC).replace(tzinfo=None)
        # nothing before the earliest input day written since the last construction changes
        dirty = [date.fromisoformat(d) for days in tx.dirty_days().values() for d in days]
        counts = construct(tx, vocab, recorded_at=now)
        summary.construct_mode = str(counts["mode"])
        since = min([*dirty, *day_seconds]) if counts["mode"] == "incremental" else None
        construct_s = time.perf_counter() - t3
        summary.add_time("construct", construct_s)
        share = construct_s / len(extractions)
        t4 = time.perf_counter()
        write_snapshots(tx, {d: s + share for d, s in day_seconds.items()}, plan.run_id,
                        since=since)
        _record_run(tx, summary, counts, now)
        _summarise(tx, summary)
        tx.commit({"vocabulary": vocab.name, "extractor": extractor_key,
                   "last_run": plan.run_id})
        summary.add_time("snapshot", time.perf_counter() - t4)
    return summary


def _record_run(
    tx: Transaction, summary: RunSummary, counts: dict[str, int], now: datetime
) -> None:
    """One `runs` row per graph commit: what transaction-time queries are keyed by."""
    row = {"run_id": summary.run_id, "commit_no": tx.base.commit + 1, "committed_at": now,
           "first_day": min(summary.days), "last_day": max(summary.days),
           "days": len(summary.days), "documents": summary.documents,
           "assertions": summary.assertions,
           "versions_recorded": counts["versions_recorded"],
           "versions_superseded": counts["versions_superseded"]}
    tx.merge_partition(
        "runs", WHOLE, pa.Table.from_pylist([row], schema=schema.table("runs").arrow_schema())
    )


def _assertion_days(tx: Transaction) -> set[date]:
    return {date.fromisoformat(p.split("=", 1)[1]) for p in tx.partitions("assertions")}


def process_days(
    store: Store,
    days: list[date],
    *,
    sources: Iterable[str | Path] = (),
    extractor: Extractor,
    vocabulary: str = "ml",
    force: bool = False,
    on_day: Callable[[date, str], None] | None = None,
    lock_timeout: float = 0,
    source_options: SourceOptions | None = None,
    retry_failed: bool = True,
) -> RunSummary:
    """Ingest, extract, construct and snapshot `days`: what `litkg run`/`backfill` do.

    Ingestion commits first; the graph commit is one transaction, so a crash in between leaves
    documents ingested but their days uncommitted, and a rerun finishes them.
    """
    t_run = time.perf_counter()
    plan = prepare(store, days, sources=sources, force=force, lock_timeout=lock_timeout,
                   source_options=source_options, retry_failed=retry_failed)
    cache = ExtractionCache(store.cache_dir / "extract")
    extractions = []
    for day in plan.skipped:
        if on_day:
            on_day(day, "skipped")
    for day, docs in sorted(plan.documents.items()):
        extractions.append(extract_day(day, docs, extractor, cache))
        if on_day:
            on_day(day, "extracted")
    summary = commit_run(store, plan, extractions, extractor_key=extractor.config_key(),
                         vocabulary=vocabulary, lock_timeout=lock_timeout)
    summary.wall_s = time.perf_counter() - t_run
    return summary


def _summarise(tx: Transaction, summary: RunSummary) -> None:
    first = summary.days[0] - timedelta(days=1)
    last = summary.days[-1]
    # the run's changes once: counted here, joined to their winners below
    tx.sql("CREATE OR REPLACE TEMP TABLE _run_changes AS SELECT * FROM changes(?, ?)",
           [first, last])
    rows = tx.sql("SELECT change, count(*) FROM _run_changes GROUP BY change").fetchall()
    summary.changes = {k: int(v) for k, v in rows}
    # the best-supported claims among those the run changed, as the run left them: from the
    # run's changes, not a scan of the whole graph (a nightly costs the day, not the history)
    cols = ["subject", "relation", "object", "context", "support", "confidence"]
    summary.top_reinforced = [
        dict(zip(cols, r, strict=True))
        for r in tx.sql(
            f"""
            SELECT {', '.join(cols)} FROM (
                SELECT * FROM _run_changes QUALIFY row_number() OVER (
                    PARTITION BY edge_id ORDER BY day DESC) = 1)
            WHERE support > 1 AND status <> 'retracted'
            ORDER BY support DESC, confidence DESC, edge_id LIMIT 10
            """
        ).fetchall()
    ]
    ccols = ["day", "subject", "relation", "object", "context", "confidence", "winner",
             "winner_confidence"]
    summary.newly_contested = [
        dict(zip(ccols, r, strict=True))
        for r in tx.sql(
            """
            SELECT c.day, c.subject, c.relation, c.object, c.context, c.confidence,
                   w.subject || ' ' || w.relation || ' ' || w.object, w.confidence
            FROM _run_changes c
            JOIN edges w ON w.edge_id = c.contested_by
                AND w.valid_from <= c.day AND (w.valid_to IS NULL OR w.valid_to > c.day)
            WHERE c.change = 'contested' ORDER BY c.day, c.edge_id
            """
        ).fetchall()
    ]
    tx.sql("DROP TABLE _run_changes")


def ingest_only(
    store: Store,
    paths: Iterable[str | Path],
    *,
    force: bool = False,
    options: SourceOptions | None = None,
    lock_timeout: float = 0,
) -> dict[str, Any]:
    """Store documents from `paths` without processing them (`litkg ingest`).

    Only new or changed files are read (the `source_files` manifest), in file order; `force`
    reads all. A later `run`/`backfill` extracts the days that got new versions, committed or
    not. Returns the counts of `IngestReport.to_dict()`.
    """
    with store.writer(timeout=lock_timeout) as tx:
        report = ingest_files(tx, paths, force=force, options=options or DEFAULT_OPTIONS)
        if report.changed or not store.exists():
            tx.commit()
    return report.to_dict()
