"""Raw samples in Parquet: one row per sample, keyed by what the server generated them with.

A document's samples form a stream (index 0, 1, ...) under one key: sha256 of its content, the
served model, the prompt/schema fingerprint and the pinned generation fields. The confidence
policy is not in the key: any policy replays a prefix of the stream and asks the server only for
samples beyond it. Each `put` writes one Parquet file into a month folder
(`<dir>/samples/month=YYYY-MM/L0-<uuid>.parquet`, atomically renamed), so a night adds a handful
of files, not one per abstract; a month's files are merged in tiers (`litkg.store.tiers`), so a
backfill's thousands of writes leave a few dozen files to read; `compact()` merges a month's
files into one.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from litkg.store import tiers

SAMPLE_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("idx", pa.int32()),  # position in the document's stream
        ("text", pa.string()),
        ("finish_reason", pa.string()),
        ("request", pa.string()),  # samples of one request share it
        ("prompt_tokens", pa.int64()),  # the request's, on its first sample (0 on the others)
        ("completion_tokens", pa.int64()),
        ("model", pa.string()),
        ("written_at", pa.timestamp("us")),
    ]
)


def cache_key(**parts: Any) -> str:
    """sha256 of the key parts as canonical JSON."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Sample:
    text: str | None
    finish_reason: str | None


class SampleStore:
    """Sample streams per key in month-partitioned Parquet files."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory) / "samples"

    def files(self) -> list[str]:
        if not self.directory.exists():
            return []
        return sorted(str(p) for p in self.directory.glob("month=*/*.parquet"))

    def get_many(self, keys: Iterable[str]) -> dict[str, list[Sample]]:
        """Each key's stream, in index order, contiguous from 0 (a gap ends it)."""
        wanted = sorted(set(keys))
        if not self.files() or not wanted:
            return {}
        rows = tiers.read(self.files, lambda files: self._read(files, wanted))
        out: dict[str, list[Sample]] = {}
        for key, idx, text, reason in rows:
            stream = out.setdefault(key, [])
            if idx == len(stream):
                stream.append(Sample(text, reason))
        return out

    @staticmethod
    def _read(files: list[str], wanted: list[str]) -> list[tuple]:
        con = duckdb.connect()
        try:
            con.register("wanted", pa.table({"k": pa.array(wanted, pa.string())}))
            return con.execute(
                """
                SELECT key, idx, text, finish_reason FROM read_parquet(?, filename = true)
                WHERE key IN (SELECT k FROM wanted)
                QUALIFY row_number() OVER (PARTITION BY key, idx ORDER BY filename) = 1
                ORDER BY key, idx
                """,
                [files],
            ).fetchall()
        finally:
            con.close()

    def put(self, rows: list[dict[str, Any]]) -> None:
        """Append sample rows (columns of SAMPLE_SCHEMA but written_at) in one file."""
        if not rows:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        table = pa.Table.from_pylist([{**r, "written_at": now} for r in rows],
                                     schema=SAMPLE_SCHEMA)
        folder = self.directory / f"month={now:%Y-%m}"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, tiers.new_file(folder))
        tiers.merge(folder)

    def compact(self, month: str) -> int:
        """Merge a month's files into one (run when no writer is active); rows kept."""
        folder = self.directory / f"month={month}"
        files = sorted(str(p) for p in folder.glob("*.parquet"))
        if len(files) < 2:
            return len(files)
        table = pq.read_table(files, schema=SAMPLE_SCHEMA).sort_by([("key", "ascending"),
                                                                    ("idx", "ascending")])
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, folder / f"{uuid.uuid4().hex}.parquet")
        for f in files:
            Path(f).unlink()
        return 1

    def __len__(self) -> int:
        files = self.files()
        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
