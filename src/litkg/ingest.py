"""Ingestion as a nightly job sees it: a manifest of input files, paper ids across sources.

- `source_files` (the manifest): one row per input file (absolute path) with its size, mtime,
  sha256, reader settings, counts, the batch days its records fall on (`days`) and those of them
  already ingested (`ingested_days`). A file is read again only when it is new, its checksum or
  reader settings changed, or the run asks for days of it that were not ingested yet (`run` /
  `backfill` keep only records of their days, so coverage is tracked per day); `force` reads
  everything. Size and mtime unchanged => the stored checksum is trusted (rsync's quick check).
- `document_ids`: (doc_id, alias_id) pairs from each stored record (its own id, its DOIs and
  cross-referenced PMIDs / arXiv ids), and the paper each document belongs to
  (`canonical_id`), recomputed over all pairs whenever new pairs arrive: connected components
  over shared aliases, canonical id = the smallest `doi:` alias of the component, else its
  smallest alias. A pure function of the stored pairs, so independent of ingestion order.
  An alias that two documents of one namespace give as a cross-reference (a proceedings DOI on
  many arXiv papers, a DOI on two PMIDs) is `ambiguous` and matches nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from litkg import schema
from litkg.documents import Batch, build_batch, normalise_id
from litkg.sources import (
    DEFAULT_OPTIONS,
    Rejected,
    SourceItem,
    SourceOptions,
    detect_format,
    expand_paths,
    iter_file,
)
from litkg.store import WHOLE, Transaction
from litkg.store.arrow import registered_values

_HASH_CHUNK = 1 << 20
_EPOCH = datetime(1970, 1, 1)
_MAX_LABEL_ROUNDS = 100


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class FileScan:
    """One input file as the manifest sees it before reading."""

    path: Path  # as named (readers report this in source_file)
    key: str  # absolute path: the manifest key
    exists: bool
    size: int | None = None
    mtime: datetime | None = None
    sha256: str | None = None
    reader: str | None = None
    fmt: str | None = None
    previous: dict[str, Any] | None = None
    read: bool = True
    why: str = "new"  # new | changed | new days | forced | unchanged | missing


@dataclass
class IngestReport:
    """What one ingestion did (files read and skipped, documents, quarantine, failures)."""

    files_read: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    failed_files: dict[str, str] = field(default_factory=dict)
    documents: int = 0  # document versions read (in the requested days)
    deletions: int = 0
    quarantined: int = 0
    new_versions: dict[date, int] = field(default_factory=dict)  # per day, a new deletion = 1
    new_documents: int = 0  # new document versions stored
    days: int = 0
    changed: bool = False  # something was written (commit needed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files_read": len(self.files_read),
            "files_skipped": len(self.files_skipped),
            "failed_files": dict(self.failed_files),
            "documents": self.documents,
            "new_versions": self.new_documents,
            "deletions": self.deletions,
            "days": self.days,
            "quarantined": self.quarantined,
        }


# -- the manifest ------------------------------------------------------------------------------
def _manifest_rows(tx: Transaction) -> dict[str, dict[str, Any]]:
    table = tx.sql("SELECT * FROM source_files").to_arrow_table()
    return {row["path"]: row for row in table.to_pylist()}


def _wanted(day: date, start: date | None, end: date | None, days: set[date] | None) -> bool:
    return (
        (start is None or day >= start)
        and (end is None or day <= end)
        and (days is None or day in days)
    )


def scan_files(
    tx: Transaction,
    paths: Iterable[str | Path],
    *,
    start: date | None = None,
    end: date | None = None,
    days: set[date] | None = None,
    force: bool = False,
    options: SourceOptions = DEFAULT_OPTIONS,
) -> list[FileScan]:
    """Which of the files named by `paths` need reading for the days asked, in file order."""
    known = _manifest_rows(tx)
    out: list[FileScan] = []
    keys: set[str] = set()
    for path in expand_paths(paths):
        key = str(path.resolve())
        if key in keys:  # the same file named twice (a/x.xml, ./a/x.xml, a link)
            continue
        keys.add(key)
        if not path.is_file():
            out.append(FileScan(path, key, exists=False, why="missing"))
            continue
        st = path.stat()
        mtime = _EPOCH + timedelta(microseconds=st.st_mtime_ns // 1000)
        prev = known.get(key)
        scan = FileScan(path, key, exists=True, size=st.st_size, mtime=mtime, previous=prev)
        scan.fmt = detect_format(path)
        scan.reader = options.describe(scan.fmt)
        quick = prev is not None and prev["size"] == st.st_size and prev["mtime"] == mtime
        scan.sha256 = prev["sha256"] if quick else file_sha256(path)
        if prev is None:
            scan.why = "new"
        elif prev["sha256"] != scan.sha256 or prev["reader"] != scan.reader:
            scan.why = "changed"
        elif force:
            scan.why = "forced"
        else:
            asked = {d for d in prev["days"] or [] if _wanted(d, start, end, days)}
            if asked <= set(prev["ingested_days"] or []):
                scan.read, scan.why = False, "unchanged"
            else:
                scan.why = "new days"
        out.append(scan)
    return out


def record_files(
    tx: Transaction,
    scans: list[FileScan],
    batch: Batch,
    *,
    start: date | None = None,
    end: date | None = None,
    days: set[date] | None = None,
) -> int:
    """Upsert the manifest rows of the files scanned (read, or found touched but unchanged)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for scan in scans:
        if not scan.exists:
            continue
        prev = scan.previous
        if not scan.read:
            if prev is not None and prev["mtime"] == scan.mtime and prev["size"] == scan.size:
                continue
            rows.append({**prev, "mtime": scan.mtime, "size": scan.size})
            continue
        stats = batch.files.get(str(scan.path))
        file_days = sorted(stats.days) if stats else []
        same = prev is not None and scan.why in ("new days", "forced")
        covered = set(prev["ingested_days"] or []) if same else set()
        covered |= {d for d in file_days if _wanted(d, start, end, days)}
        rows.append({
            "path": scan.key, "size": scan.size, "mtime": scan.mtime, "sha256": scan.sha256,
            "reader": scan.reader,
            "records": stats.records if stats else 0,
            "deletions": stats.deletions if stats else 0,
            "rejects": stats.rejects if stats else 0,
            "error": stats.error if stats else None,
            "days": file_days, "ingested_days": sorted(covered),
            "first_ingested_at": prev["first_ingested_at"] if prev else now,
            "last_ingested_at": now,
        })
    if not rows:
        return 0
    table = schema.table("source_files")
    new = pa.Table.from_pylist(rows, schema=table.arrow_schema())
    tx.con.register("_new_source_files", new)
    try:
        tx.replace_partition(
            "source_files", WHOLE,
            "SELECT * FROM _new_source_files UNION ALL BY NAME SELECT * FROM source_files "
            "WHERE path NOT IN (SELECT path FROM _new_source_files)",
        )
    finally:
        tx.con.unregister("_new_source_files")
    return len(rows)


def _items(scans: list[FileScan], options: SourceOptions) -> Iterator[SourceItem]:
    for scan in scans:
        if not scan.read:
            continue
        if not scan.exists:
            yield Rejected(str(scan.path), 0, "file not found", file_level=True)
            continue
        yield from iter_file(scan.path, options, scan.fmt)


# -- paper ids across sources ------------------------------------------------------------------
def update_document_ids(tx: Transaction, aliases: list[dict[str, Any]]) -> set[date]:
    """Merge new (doc_id, alias_id) pairs and recompute every document's paper (canonical id).

    Set-based label propagation over the bipartite graph documents <-> aliases: each round
    gives every node the smallest label of its neighbours, until nothing changes (rounds = the
    longest chain of shared aliases, 1-2 in practice). Returns the first days of the pairs
    that are new or seen earlier than before: paper matching may change from those days on
    (empty when nothing was new).
    """
    if not aliases:
        return set()
    own = {a["doc_id"]: normalise_id(a["doc_id"]) for a in aliases}
    rows = [{**a, "own_id": own[a["doc_id"]] == a["alias_id"]} for a in aliases]
    new = pa.Table.from_pylist(rows, schema=pa.schema([
        ("doc_id", pa.string()), ("alias_id", pa.string()), ("first_seen", pa.date32()),
        ("own_id", pa.bool_()),
    ]))
    tx.con.register("_new_pairs", new)
    try:
        tx.sql(
            """
            CREATE OR REPLACE TEMP TABLE _pairs AS
            SELECT doc_id, alias_id, bool_or(own_id) AS own_id, min(first_seen) AS first_seen
            FROM (SELECT doc_id, alias_id, own_id, first_seen FROM _new_pairs
                  UNION ALL
                  SELECT doc_id, alias_id, own_id, first_seen FROM document_ids)
            GROUP BY doc_id, alias_id
            """
        )
        changed = {r[0] for r in tx.sql(
            "SELECT DISTINCT first_seen FROM (SELECT doc_id, alias_id, first_seen FROM _pairs "
            "EXCEPT SELECT doc_id, alias_id, first_seen FROM document_ids)"
        ).fetchall()}
        if not changed:
            return set()
        tx.sql(
            """
            CREATE OR REPLACE TEMP TABLE _ambiguous AS
            SELECT alias_id FROM _pairs WHERE NOT own_id GROUP BY alias_id
            HAVING count(DISTINCT doc_id) > count(DISTINCT lower(split_part(doc_id, ':', 1)))
            """
        )
        tx.sql(
            """
            CREATE OR REPLACE TEMP TABLE _links AS
            SELECT doc_id, alias_id,
                   CASE WHEN alias_id LIKE 'doi:%' THEN '0' ELSE '1' END || alias_id AS rank
            FROM _pairs
            WHERE own_id OR alias_id NOT IN (SELECT alias_id FROM _ambiguous)
            """
        )
        tx.sql(
            "CREATE OR REPLACE TEMP TABLE _label AS "
            "SELECT doc_id, min(rank) AS label FROM _links GROUP BY doc_id"
        )
        for _ in range(_MAX_LABEL_ROUNDS):
            tx.sql(
                """
                CREATE OR REPLACE TEMP TABLE _next AS
                WITH by_alias AS (
                    SELECT k.alias_id, min(l.label) AS label
                    FROM _links k JOIN _label l USING (doc_id) GROUP BY k.alias_id
                )
                SELECT k.doc_id, min(a.label) AS label
                FROM _links k JOIN by_alias a USING (alias_id) GROUP BY k.doc_id
                """
            )
            moved = tx.sql(
                "SELECT count(*) FROM _next n JOIN _label l USING (doc_id) WHERE n.label < l.label"
            ).fetchone()[0]
            tx.sql("CREATE OR REPLACE TEMP TABLE _label AS SELECT * FROM _next")
            if not moved:
                break
        tx.replace_partition(
            "document_ids", WHOLE,
            """
            SELECT p.doc_id, p.alias_id,
                   coalesce(substr(l.label, 2), p.doc_id) AS canonical_id, p.own_id,
                   (NOT p.own_id AND p.alias_id IN (SELECT alias_id FROM _ambiguous))
                       AS ambiguous,
                   p.first_seen
            FROM _pairs p LEFT JOIN _label l USING (doc_id)
            """,
        )
        for name in ("_pairs", "_ambiguous", "_links", "_label", "_next"):
            tx.sql(f"DROP TABLE IF EXISTS {name}")
    finally:
        tx.con.unregister("_new_pairs")
    return changed


# -- putting it together -----------------------------------------------------------------------
def store_batch(tx: Transaction, batch: Batch) -> dict[date, int]:
    """Merge a batch into the store; returns, per day, how many new document versions came in
    (a new deletion, or new cross-references from that day on, counts as one)."""
    return _store_batch(tx, batch)[0]


def _store_batch(tx: Transaction, batch: Batch) -> tuple[dict[date, int], int]:
    new: dict[date, int] = {}
    new_documents = 0
    for day, (added, changed) in _merge_documents(tx, batch.documents).items():
        new[day] = added + changed
        new_documents += added
    del_schema = schema.table("deletions").arrow_schema()
    for day, rows in sorted(batch.deletions.items()):
        part = f"deleted_on={day.isoformat()}"
        before = _count(tx, "deletions", "deleted_on", day)
        tx.merge_partition("deletions", part, pa.Table.from_pylist(rows, schema=del_schema))
        if _count(tx, "deletions", "deleted_on", day) > before:
            new[day] = new.get(day, 0) + 1
    # a record re-sent with the same text but new cross-references adds no version, yet
    # merges papers from its day on: that day is redone and constructed again
    for day in update_document_ids(tx, batch.aliases):
        tx.mark_dirty("documents", day)
        new[day] = new.get(day, 0) + 1
    if batch.quarantine:
        q_schema = schema.table("quarantine").arrow_schema()
        tx.merge_partition(
            "quarantine", WHOLE, pa.Table.from_pylist(batch.quarantine, schema=q_schema)
        )
    return new, new_documents


def _merge_documents(
    tx: Transaction, by_day: dict[date, list[dict[str, Any]]]
) -> dict[date, tuple[int, int]]:
    """Merge documents by (doc_id, content_hash) within their `published` partition; of two
    rows of one key the later revised, then the smaller source_file, then the earlier ingested
    is kept, so the stored row does not depend on the order files came in.
    Returns, per day, (new versions, rows replaced by a later revised / other file's row).

    All days in one pass (a PubMed baseline file spans thousands of entrez days: merged a day
    at a time, 4,000 days took 167 s, each day re-binding a view over every file)."""
    if not by_day:
        return {}
    table = schema.table("documents")
    rows = [r for day in sorted(by_day) for r in by_day[day]]
    new_docs, old_docs, merged = (f"_{n}_{uuid.uuid4().hex[:8]}" for n in ("new", "old", "merged"))
    tx.con.register(new_docs, pa.Table.from_pylist(rows, schema=table.arrow_schema()))
    try:
        # the touched partitions as stored now (before the write replaces them)
        tx.sql(f"CREATE TEMP TABLE {old_docs} AS SELECT * FROM documents "
               f"WHERE published IN (SELECT DISTINCT published FROM {new_docs})")
        tx.sql(f"""
            CREATE TEMP TABLE {merged} AS
            SELECT * FROM (
                SELECT * FROM {old_docs} UNION ALL BY NAME SELECT * FROM {new_docs}
            )
            QUALIFY row_number() OVER (
                PARTITION BY published, doc_id, content_hash
                ORDER BY revised DESC NULLS LAST, source_file, ingested_at) = 1
            """)
        counts = tx.sql(f"""
            SELECT d.published,
                   count(*) FILTER (o.doc_id IS NULL),
                   count(*) FILTER (o.doc_id IS NOT NULL AND (
                       o.revised IS DISTINCT FROM d.revised
                       OR o.source_file IS DISTINCT FROM d.source_file))
            FROM {merged} d LEFT JOIN {old_docs} o USING (published, doc_id, content_hash)
            GROUP BY d.published
            """).fetchall()
        # only the days whose stored rows change are written (and marked for construction):
        # re-reading a file must not redo the days it holds unchanged
        changed_days = [day for day, added, changed in counts if added or changed]
        if changed_days:
            with registered_values(tx.con, changed_days, pa.date32()) as days:
                tx.replace_partitions(
                    "documents", f"SELECT * FROM {merged} WHERE published IN {days}", "published")
    finally:
        tx.con.unregister(new_docs)
        tx.sql(f"DROP TABLE IF EXISTS {old_docs}")
        tx.sql(f"DROP TABLE IF EXISTS {merged}")
    return {day: (int(added), int(changed)) for day, added, changed in sorted(counts)}


def _count(tx: Transaction, table: str, column: str, day: date) -> int:
    return tx.sql(f'SELECT count(*) FROM "{table}" WHERE "{column}" = ?', [day]).fetchone()[0]


def ingest_files(
    tx: Transaction,
    paths: Iterable[str | Path],
    *,
    start: date | None = None,
    end: date | None = None,
    days: set[date] | None = None,
    force: bool = False,
    options: SourceOptions = DEFAULT_OPTIONS,
) -> IngestReport:
    """Read the files of `paths` that the manifest says need it (in file order), store their
    records of the days asked (all days when none are given), update the manifest. No commit."""
    scans = scan_files(tx, paths, start=start, end=end, days=days, force=force, options=options)
    report = IngestReport()
    report.files_read = [str(s.path) for s in scans if s.read and s.exists]
    report.files_skipped = [str(s.path) for s in scans if not s.read]
    batch = build_batch(_items(scans, options), start=start, end=end, days=days)
    report.failed_files = batch.failed_files()
    report.documents = batch.count_documents()
    report.deletions = sum(len(v) for v in batch.deletions.values())
    report.quarantined = len(batch.quarantine)
    report.days = len(batch.days())
    if batch.documents or batch.deletions or batch.quarantine or batch.aliases:
        report.new_versions, report.new_documents = _store_batch(tx, batch)
        report.changed = True
    if record_files(tx, scans, batch, start=start, end=end, days=days):
        report.changed = True
    return report


def pending_days(tx: Transaction, first: date, last: date) -> set[date]:
    """Committed days in [first, last] whose documents or deletions were stored after the day's
    snapshot (e.g. by `litkg ingest`), or whose input changed since the last construction (a
    new cross-reference: no document row changes): they need extracting again."""
    dirty = {date.fromisoformat(d) for name in ("documents", "deletions")
             for d in tx.dirty_days().get(name, [])}
    rows = tx.sql(
        """
        WITH t AS (
            SELECT published AS day, max(ingested_at) AS at FROM documents
            WHERE published BETWEEN ? AND ? GROUP BY 1
            UNION ALL
            SELECT deleted_on, max(ingested_at) FROM deletions
            WHERE deleted_on BETWEEN ? AND ? GROUP BY 1
        )
        SELECT DISTINCT t.day FROM t JOIN snapshots s ON s.day = t.day
        -- ingested_at is UTC; committed_at is the session's local time (DuckDB now())
        WHERE t.at + (now()::TIMESTAMP - timezone('UTC', now())) > s.committed_at
        """,
        [first, last, first, last],
    ).fetchall()
    return {r[0] for r in rows} | {d for d in dirty if first <= d <= last}


def describe_report(report: IngestReport) -> str:
    """One line for the CLI."""
    return (
        f"{len(report.files_read)} file(s) read, {len(report.files_skipped)} unchanged skipped; "
        f"{report.documents} document version(s) over {report.days} day(s), "
        f"{report.new_documents} new; {report.deletions} deletion(s); "
        f"{report.quarantined} quarantined"
    )
