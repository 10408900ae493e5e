"""Extraction cache: (document content hash, extractor config) -> assertions.

A rerun, a forced reconstruction or a resumed backfill never pays the extractor again for an
unchanged document. Each put writes one Parquet file (atomically renamed into place) holding the
assertions and, in a marker row per document, which content hashes it covers (so a document
with no assertions is cached too).

Files are merged in tiers, as a log-structured store does: a put writes a level-0 file; past
FANOUT files of one level they are merged into one file of the next. A lookup reads every file,
so the folder holds at most FANOUT files per level (a backfill of 18,000 days: ~60 files, each
row rewritten about 4 times), not one file per day ever extracted (a lookup read them all: a
backfill's cost grew with the square of its days, and every nightly run paid for the history).
Merging is safe beside other writers and readers, threads or processes: a merged file is
renamed into place before its inputs are removed, a lookup reads rows once (DISTINCT) and
lists the folder again when a file it listed was removed meanwhile, and one merger at a time
works on a folder (the others skip).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from pathlib import Path

import duckdb
import filelock
import pyarrow as pa
import pyarrow.parquet as pq

from litkg.extractors.base import extraction_schema
from litkg.store.arrow import scratch
from litkg.store.catalog import file_list

log = logging.getLogger(__name__)
FANOUT = 16  # files of one level merged into one of the next past this many
_LEVEL = re.compile(r"L(\d+)-")  # "L2-<uuid>.parquet"; a file without it (older litkg): level 0
LOOKUP_TRIES = 5


def _level(path: Path) -> int:
    m = _LEVEL.match(path.name)
    return int(m.group(1)) if m else 0


class ExtractionCache:
    """A directory of Parquet files per extractor config key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, config_key: str) -> Path:
        return self.root / hashlib.sha256(config_key.encode()).hexdigest()[:24]

    def lookup(self, config_key: str, hashes: list[str]) -> tuple[pa.Table, set[str]]:
        """Cached assertions of the given content hashes, and the hashes that were cached."""
        folder = self._dir(config_key)
        for attempt in range(LOOKUP_TRIES):
            files = sorted(str(p) for p in folder.glob("*.parquet")) if folder.exists() else []
            if not files or not hashes:
                return extraction_schema().empty_table(), set()
            try:
                return self._read(files, hashes)
            except duckdb.IOException:  # a merge removed a listed file: list again
                if attempt == LOOKUP_TRIES - 1 or all(Path(f).exists() for f in files):
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _read(files: list[str], hashes: list[str]) -> tuple[pa.Table, set[str]]:
        with scratch() as con:
            listed = file_list(files)  # literal: a list parameter binds several times slower
            con.register("wanted", pa.table({"h": pa.array(sorted(set(hashes)), pa.string())}))
            cached = con.execute(
                f"SELECT DISTINCT _covers FROM read_parquet({listed}) "
                "WHERE _covers IN (SELECT h FROM wanted)",
            ).fetchall()
            covered = {r[0] for r in cached}
            cols = ", ".join(f'"{c}"' for c in extraction_schema().names)
            table = con.execute(
                f"SELECT DISTINCT {cols} FROM read_parquet({listed}) WHERE _covers IS NULL "
                "AND content_hash IN (SELECT h FROM wanted) ORDER BY ALL",
            ).to_arrow_table()
        return table.cast(extraction_schema()), covered

    def put(self, config_key: str, hashes: list[str], assertions: pa.Table) -> None:
        """Record `assertions` as the complete extraction of the documents with `hashes`."""
        if not hashes:
            return
        folder = self._dir(config_key)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.txt").write_text(config_key, encoding="utf-8")
        rows = assertions.append_column("_covers", pa.nulls(assertions.num_rows, pa.string()))
        markers = pa.Table.from_pydict(
            {
                name: pa.nulls(len(hashes), field.type)
                for name, field in zip(extraction_schema().names, extraction_schema(), strict=True)
            }
        ).append_column("_covers", pa.array(hashes, pa.string()))
        table = pa.concat_tables([rows, markers.cast(rows.schema)])
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, folder / f"L0-{uuid.uuid4().hex}.parquet")
        try:
            self._merge(folder)
        except (OSError, duckdb.Error) as exc:  # the put is done; the next one merges again
            log.warning("extraction cache %s: merge stopped (%s)", folder, exc)

    @staticmethod
    def _merge(folder: Path) -> None:
        """Merge each level holding more than FANOUT files into one file of the next level."""
        lock = filelock.FileLock(folder / ".merge.lock")
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:  # another writer is merging this folder
            return
        try:
            level = 0
            while True:
                files = sorted(p for p in folder.glob("*.parquet") if _level(p) == level)
                if not files:
                    if not any(_level(p) > level for p in folder.glob("*.parquet")):
                        return
                elif len(files) > FANOUT:
                    tmp = folder / f".{uuid.uuid4().hex}.tmp"
                    listed = file_list([str(f) for f in files])
                    try:
                        with scratch() as con:
                            con.execute(f"COPY (SELECT * FROM read_parquet({listed})) TO "
                                        f"'{str(tmp).replace(chr(39), chr(39) * 2)}' "
                                        "(FORMAT parquet, COMPRESSION zstd)")
                        os.replace(tmp, folder / f"L{level + 1}-{uuid.uuid4().hex}.parquet")
                    finally:
                        tmp.unlink(missing_ok=True)  # its own, when the copy failed
                    for f in files:
                        f.unlink(missing_ok=True)
                level += 1
        finally:
            lock.release()
