"""Extraction cache: (document content hash, extractor config) -> assertions.

A rerun, a forced reconstruction or a resumed backfill never pays the extractor again for an
unchanged document. Each put writes one Parquet file (atomically renamed into place) holding the
assertions and, in a marker row per document, which content hashes it covers (so a document
with no assertions is cached too).

Files are merged in tiers (`litkg.store.tiers`): a lookup reads a few files, not one per day
ever extracted.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from litkg.extractors.base import extraction_schema
from litkg.store import tiers
from litkg.store.arrow import scratch
from litkg.store.catalog import file_list


class ExtractionCache:
    """A directory of Parquet files per extractor config key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, config_key: str) -> Path:
        return self.root / hashlib.sha256(config_key.encode()).hexdigest()[:24]

    def lookup(self, config_key: str, hashes: list[str]) -> tuple[pa.Table, set[str]]:
        """Cached assertions of the given content hashes, and the hashes that were cached."""
        folder = self._dir(config_key)

        def files() -> list[str]:
            return sorted(str(p) for p in folder.glob("*.parquet")) if folder.exists() else []

        if not hashes or not files():
            return extraction_schema().empty_table(), set()
        return tiers.read(files, lambda listed: self._read(listed, hashes))

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
        os.replace(tmp, tiers.new_file(folder))
        tiers.merge(folder)
