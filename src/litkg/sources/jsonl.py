"""Plain document files: JSON lines (optionally gzipped) and Parquet, one record per abstract.

Fields: doc_id, title, abstract, published (ISO date), optional source, authors, venue, url,
other_ids (the paper's ids elsewhere: "doi:10.x/y", "pmid:123", "arxiv:2101.11408") and revised
(ISO date: orders two versions published on the same day).
A record with `"deleted": true` withdraws doc_id from `deleted_on` (or `published`) on.
"""

from __future__ import annotations

import codecs
import gzip
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from litkg.sources.records import Deletion, Rejected, SourceItem, SourceRecord

RAW_SNIPPET = 500


def parse_date(value: Any) -> date | None:
    """An ISO date (or datetime) string / date -> date; anything else -> None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for candidate in (text, text[:10]):
            try:
                return date.fromisoformat(candidate)
            except ValueError:
                continue
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    return value


def record_from_mapping(obj: Any, source_file: str, line: int, raw: str) -> SourceItem:
    """Map one decoded record to a SourceRecord, Deletion or Rejected (never raises)."""
    if not isinstance(obj, dict):
        return Rejected(source_file, line, "record is not a JSON object", raw[:RAW_SNIPPET])
    doc_id = obj.get("doc_id")
    if not isinstance(doc_id, str) or not doc_id.strip():
        return Rejected(source_file, line, "missing doc_id", raw[:RAW_SNIPPET])
    doc_id = doc_id.strip()
    if obj.get("deleted"):
        when = parse_date(obj.get("deleted_on", obj.get("published")))
        if when is None:
            return Rejected(source_file, line, "deletion without a date", raw[:RAW_SNIPPET], doc_id)
        return Deletion(doc_id, when, source_file, line)
    published_raw = obj.get("published")
    published = parse_date(published_raw)
    if published_raw is not None and published is None:
        return Rejected(
            source_file, line, f"published is not an ISO date: {published_raw!r}",
            raw[:RAW_SNIPPET], doc_id,
        )
    authors = obj.get("authors") or []
    if isinstance(authors, str):
        authors = [authors]
    return SourceRecord(
        doc_id=doc_id,
        title=_text(obj.get("title")),
        abstract=_text(obj.get("abstract")),
        published=published,
        source=_text(obj.get("source")) or doc_id.split(":", 1)[0],
        source_file=source_file,
        line=line,
        authors=[str(a) for a in authors],
        venue=_text(obj.get("venue")),
        url=_text(obj.get("url")),
        other_ids=[str(x) for x in obj.get("other_ids") or []],
        revised=parse_date(obj.get("revised")),
    )


def iter_jsonl(path: str | Path) -> Iterator[SourceItem]:
    """Records of a JSON-lines file; a bad line is Rejected and reading goes on. A UTF-8 byte
    order mark at the start of the file is skipped."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    name = str(path)
    number = 0
    try:
        with opener(path, "rb") as fh:
            for number, raw_bytes in enumerate(fh, start=1):
                if number == 1 and raw_bytes.startswith(codecs.BOM_UTF8):
                    raw_bytes = raw_bytes[len(codecs.BOM_UTF8):]  # a UTF-8 BOM is no data
                if not raw_bytes.strip():
                    continue
                try:
                    raw = raw_bytes.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield Rejected(
                        name, number, f"invalid UTF-8 at byte {exc.start}",
                        raw_bytes[:RAW_SNIPPET].decode("utf-8", "replace"),
                    )
                    continue
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError as exc:
                    yield Rejected(name, number, f"not JSON: {exc.msg}", raw[:RAW_SNIPPET])
                    continue
                yield record_from_mapping(obj, name, number, raw)
    except (OSError, EOFError) as exc:  # truncated gzip, unreadable file
        where = number + 1 if number else 0
        yield Rejected(name, where, f"file could not be read to the end: {exc}", file_level=True)


def iter_parquet(path: str | Path) -> Iterator[SourceItem]:
    """Records of a Parquet file (same fields as the JSON lines format)."""
    name = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not raised
        yield Rejected(name, 0, f"not a readable Parquet file: {exc}", file_level=True)
        return
    number = 0
    for batch in parquet.iter_batches():
        for obj in batch.to_pylist():
            number += 1
            yield record_from_mapping(obj, name, number, json.dumps(obj, default=str))
