"""Documents: validation of source records, content hashing, quarantine rows."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from litkg.sources.records import Deletion, Rejected, SourceItem, SourceRecord

_SPACE = re.compile(r"\s+")


def normalise_text(text: str | None) -> str:
    """NFC, collapsed whitespace, stripped: what the content hash and extractors see."""
    if not text:
        return ""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def content_hash(title: str | None, abstract: str | None) -> str:
    """Identity of a document version: sha256 over its normalised title and abstract."""
    payload = normalise_text(title) + "\n" + normalise_text(abstract)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def validation_error(record: SourceRecord) -> str | None:
    """Why a record cannot be stored, or None if it can."""
    if ":" not in record.doc_id or not record.doc_id.split(":", 1)[1].strip():
        return f"doc_id {record.doc_id!r} is not source-prefixed (e.g. pmid:123)"
    if record.published is None:
        return "no usable publication date"
    if not normalise_text(record.title) and not normalise_text(record.abstract):
        return "no text (empty title and abstract)"
    return None


@dataclass
class Batch:
    """Validated input, ready to store: documents and deletions by day, and quarantine rows."""

    documents: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    deletions: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    quarantine: list[dict[str, Any]] = field(default_factory=list)

    def days(self) -> list[date]:
        return sorted(set(self.documents) | set(self.deletions))

    def count_documents(self) -> int:
        return sum(len(v) for v in self.documents.values())


def quarantine_row(item: Rejected, now: datetime) -> dict[str, Any]:
    return {
        "source_file": item.source_file,
        "line": item.line,
        "doc_id": item.doc_id,
        "reason": item.reason,
        "raw": item.raw,
        "quarantined_at": now,
    }


def build_batch(
    items: Iterable[SourceItem],
    *,
    start: date | None = None,
    end: date | None = None,
) -> Batch:
    """Validate source items; keep those published in [start, end]; quarantine the bad ones.

    Rejects are kept whatever their date (they have none, or an unusable one): quarantine is
    merged by (file, line, reason), so reporting them on every run is idempotent.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    batch = Batch()
    seen: set[tuple[str, str, date]] = set()

    def in_range(day: date) -> bool:
        return (start is None or day >= start) and (end is None or day <= end)

    for item in items:
        if isinstance(item, Rejected):
            batch.quarantine.append(quarantine_row(item, now))
        elif isinstance(item, Deletion):
            if in_range(item.deleted_on):
                batch.deletions.setdefault(item.deleted_on, []).append(
                    {
                        "doc_id": item.doc_id,
                        "deleted_on": item.deleted_on,
                        "source_file": item.source_file,
                        "ingested_at": now,
                    }
                )
        else:
            error = validation_error(item)
            if error is not None:
                batch.quarantine.append(
                    quarantine_row(
                        Rejected(item.source_file, item.line, error, None, item.doc_id), now
                    )
                )
                continue
            assert item.published is not None
            if not in_range(item.published):
                continue
            chash = content_hash(item.title, item.abstract)
            key = (item.doc_id, chash, item.published)
            if key in seen:  # the same version twice in one batch
                continue
            seen.add(key)
            batch.documents.setdefault(item.published, []).append(
                {
                    "doc_id": item.doc_id,
                    "content_hash": chash,
                    "title": normalise_text(item.title),
                    "abstract": normalise_text(item.abstract),
                    "published": item.published,
                    "source": item.source,
                    "authors": item.authors,
                    "venue": item.venue,
                    "url": item.url,
                    "source_file": item.source_file,
                    "ingested_at": now,
                }
            )
    return batch
