"""Documents: validation of source records, content hashing, quarantine rows, id aliases."""

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


#: Longest title + abstract stored, in characters (after whitespace normalisation). Real
#: abstracts stay under ~20,000; spaCy refuses texts over 1,000,000 (`nlp.max_length`) and an
#: LLM's context is far smaller. A longer record is quarantined with its size, never truncated,
#: so that a document is either extracted whole or not at all.
MAX_TEXT_CHARS = 100_000


def validation_error(record: SourceRecord) -> str | None:
    """Why a record cannot be stored, or None if it can."""
    if ":" not in record.doc_id or not record.doc_id.split(":", 1)[1].strip():
        return f"doc_id {record.doc_id!r} is not source-prefixed (e.g. pmid:123)"
    if record.published is None:
        return "no usable publication date"
    title, text = normalise_text(record.title), normalise_text(record.abstract)
    if not title and not text:
        return "no text (empty title and abstract)"
    if len(title) + len(text) > MAX_TEXT_CHARS:
        return (f"text too long: {len(title) + len(text):,} characters of title and abstract "
                f"(limit {MAX_TEXT_CHARS:,})")
    return None


def normalise_id(value: str | None) -> str | None:
    """A paper id in its comparable form (`doi:` lower-cased, `arxiv:` without version), or None.

    Ids are namespace-prefixed (`doi:`, `pmid:`, `arxiv:`, ...); a bare DOI (`10.x/y`) gets
    `doi:`. Used to match the same paper across sources (see `document_ids`).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.lower().startswith("10.") and "/" in text:
        text = "doi:" + text
    if ":" not in text:
        return None
    ns, rest = text.split(":", 1)
    ns, rest = ns.strip().lower(), rest.strip()
    if not rest:
        return None
    if ns == "doi":
        rest = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/)", "", rest, flags=re.I).lower()
    elif ns == "pmid":
        rest = rest.lstrip("0") or "0"
    elif ns == "arxiv":
        from litkg.sources.arxiv import parse_arxiv_id

        try:
            rest = parse_arxiv_id(rest)[0]
        except ValueError:
            pass
    return f"{ns}:{rest}"


@dataclass
class FileStats:
    """What one input file held, counted while reading it (for the `source_files` manifest)."""

    records: int = 0
    deletions: int = 0
    rejects: int = 0
    error: str | None = None  # first file-level failure (reading stopped there)
    days: set[date] = field(default_factory=set)  # batch days of its valid records and deletions


@dataclass
class Batch:
    """Validated input, ready to store: documents and deletions by day, quarantine rows, the
    (doc_id, alias_id) pairs that match papers across sources, and per-file counts."""

    documents: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    deletions: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    aliases: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, FileStats] = field(default_factory=dict)

    def failed_files(self) -> dict[str, str]:
        """Files whose reading stopped on a file-level failure, with the reason."""
        return {f: s.error for f, s in self.files.items() if s.error}

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
    days: set[date] | None = None,
) -> Batch:
    """Validate source items; keep those published in [start, end] (and in `days` if given);
    quarantine the bad ones.

    Rejects are kept whatever their date (they have none, or an unusable one): quarantine is
    merged by (file, line, reason), so reporting them on every run is idempotent.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    batch = Batch()
    kept: dict[tuple[str, str, date], dict[str, Any]] = {}
    pairs: dict[tuple[str, str], date] = {}

    def in_range(day: date) -> bool:
        return (
            (start is None or day >= start)
            and (end is None or day <= end)
            and (days is None or day in days)
        )

    def stats(source_file: str) -> FileStats:
        found = batch.files.get(source_file)
        if found is None:
            found = batch.files[source_file] = FileStats()
        return found

    for item in items:
        if isinstance(item, Rejected):
            st = stats(item.source_file)
            st.rejects += 1
            if item.file_level and st.error is None:
                st.error = item.reason
            batch.quarantine.append(quarantine_row(item, now))
        elif isinstance(item, Deletion):
            st = stats(item.source_file)
            st.deletions += 1
            st.days.add(item.deleted_on)
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
            st = stats(item.source_file)
            st.records += 1
            error = validation_error(item)
            if error is not None:
                st.rejects += 1
                batch.quarantine.append(
                    quarantine_row(
                        Rejected(item.source_file, item.line, error, None, item.doc_id), now
                    )
                )
                continue
            assert item.published is not None
            st.days.add(item.published)
            if not in_range(item.published):
                continue
            for alias in [item.doc_id, *item.other_ids]:
                alias_id = normalise_id(alias)
                if alias_id is not None:
                    pair = (item.doc_id, alias_id)
                    pairs[pair] = min(pairs.get(pair, item.published), item.published)
            chash = content_hash(item.title, item.abstract)
            key = (item.doc_id, chash, item.published)
            previous = kept.get(key)
            if previous is not None and not _preferred(item, previous):
                continue  # the same version twice in one batch: keep one, deterministically
            kept[key] = (
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
                    "revised": item.revised,
                    "title_original": item.title_original,
                    "abstract_original": item.abstract_original,
                }
            )
    for row in kept.values():
        batch.documents.setdefault(row["published"], []).append(row)
    batch.aliases = [
        {"doc_id": doc_id, "alias_id": alias_id, "first_seen": first}
        for (doc_id, alias_id), first in pairs.items()
    ]
    return batch


def _preferred(item: SourceRecord, row: dict[str, Any]) -> bool:
    """Of two records of one version on one day, the later revised (then the smaller file name)
    is kept: the same rule as the store's merge, so the choice does not depend on file order."""
    new_rev, old_rev = item.revised, row["revised"]
    if new_rev != old_rev:
        return old_rev is None or (new_rev is not None and new_rev > old_rev)
    return item.source_file < row["source_file"]
