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
    `revised` is when the source last revised this record (PubMed `DateRevised`, arXiv latest
    version), used to order two versions that share a batch day. `title_original` /
    `abstract_original` keep the source text when a reader normalised it (arXiv LaTeX).
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
    revised: date | None = None
    title_original: str | None = None
    abstract_original: str | None = None


@dataclass
class Deletion:
    """A source says this document is withdrawn from `deleted_on` (e.g. PubMed DeleteCitation)."""

    doc_id: str
    deleted_on: date
    source_file: str
    line: int


@dataclass
class Rejected:
    """A record that could not be read; it goes to quarantine with file, position and reason.

    `line` is the 1-based position of the record (text line, or element for XML); 0 means the
    whole file (it could not be opened, or was refused before any record was read).
    `file_level` marks a failure of the file itself: reading stopped here (missing or unreadable
    file, truncated gzip, XML syntax error, refused DTD), so the rest of the file is not read.
    """

    source_file: str
    line: int
    reason: str
    raw: str | None = None
    doc_id: str | None = None
    file_level: bool = False


SourceItem = SourceRecord | Deletion | Rejected
