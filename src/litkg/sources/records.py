"""What a source reader yields: records, deletions and rejects, before validation and storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class SourceRecord:
    """One abstract as read from a source file, not yet validated.

    `doc_id` is source-prefixed (`pmid:123`, `arxiv:2401.01234`, `doi:10.1/x`). `other_ids` holds
    the same paper's ids in other namespaces (a DOI, a PMID cross-reference) for deduplication.
    `published` is the batch key under the source's date policy; None means "no usable date"
    (validation quarantines it). `line` is the 1-based position in the file (line or record).
    """

    doc_id: str
    title: str | None
    abstract: str | None
    published: date | None
    source: str
    source_file: str
    line: int
    authors: list[str] = field(default_factory=list)
    venue: str | None = None
    url: str | None = None
    other_ids: list[str] = field(default_factory=list)


@dataclass
class Deletion:
    """A source says this document is withdrawn from `deleted_on` (e.g. PubMed DeleteCitation)."""

    doc_id: str
    deleted_on: date
    source_file: str
    line: int


@dataclass
class Rejected:
    """A record that could not be read; it goes to quarantine with file, position and reason."""

    source_file: str
    line: int
    reason: str
    raw: str | None = None
    doc_id: str | None = None


SourceItem = SourceRecord | Deletion | Rejected
