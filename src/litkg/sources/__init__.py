"""Source readers: files in, SourceRecord / Deletion / Rejected items out.

Dispatch (`detect_format`): `.parquet` -> Parquet; `.xml`/`.xml.gz` -> PubMed/MEDLINE XML; JSON
files (`.jsonl`, `.jsonl.gz`, `.ndjson`, `.json`, `.json.gz`) are sniffed: a first line that is
an arXiv metadata snapshot object (an arXiv id plus a snapshot-only key) -> arXiv reader, else
the plain JSON-lines document format. A file with another name is sniffed for PubMed XML, then
arXiv, else read as JSON lines.

Positions: `line` is 1-based (text line, or top-level element for XML); a `Rejected` with
`line == 0` concerns the whole file, and `file_level=True` marks a failure that stopped reading
the file (see `records.Rejected`).
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from litkg.sources.records import Deletion, Rejected, SourceItem, SourceRecord

__all__ = [
    "Deletion",
    "Rejected",
    "SourceItem",
    "SourceOptions",
    "SourceRecord",
    "detect_format",
    "expand_paths",
    "iter_file",
    "iter_sources",
]

SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz", ".parquet", ".xml", ".xml.gz")
JSON_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz")
FORMATS = ("pubmed", "arxiv", "jsonl", "parquet")


@dataclass(frozen=True)
class SourceOptions:
    """Reader settings: which date is the batch key, which arXiv categories to keep.

    `pubmed_date`: entrez (default) | articledate | pubdate; `arxiv_date`: v1 (default) | latest |
    update_date; `arxiv_categories`: keep only these (prefix "cs" matches cs.*), None = all.
    """

    pubmed_date: str = "entrez"
    arxiv_date: str = "v1"
    arxiv_categories: tuple[str, ...] | None = None

    def describe(self, fmt: str) -> str:
        """The settings that change what a reader of format `fmt` yields (for the manifest)."""
        if fmt == "pubmed":
            return f"pubmed(date={self.pubmed_date})"
        if fmt == "arxiv":
            cats = ",".join(sorted(self.arxiv_categories)) if self.arxiv_categories else "*"
            return f"arxiv(date={self.arxiv_date};categories={cats})"
        return fmt


DEFAULT_OPTIONS = SourceOptions()


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named by paths, globs and directories (recursively), in a stable order."""
    out: list[Path] = []
    for p in paths:
        text = str(p)
        is_glob = any(c in text for c in "*?[")
        matches = [Path(m) for m in sorted(glob.glob(text))] if is_glob else [Path(text)]
        for m in matches:
            if m.is_dir():
                out.extend(
                    f for f in sorted(m.rglob("*")) if f.is_file() and f.name.endswith(SUFFIXES)
                )
            else:
                out.append(m)
    seen: set[Path] = set()
    unique = []
    for f in out:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return unique


def detect_format(path: Path) -> str:
    """Which reader handles `path`: pubmed, arxiv, jsonl or parquet (by name, then content)."""
    from litkg.sources import arxiv, pubmed

    name = path.name
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".xml", ".xml.gz")):
        return "pubmed"
    if name.endswith(JSON_SUFFIXES):
        return "arxiv" if arxiv.sniff(path) == "arxiv" else "jsonl"
    if pubmed.sniff(path) == "pubmed":
        return "pubmed"
    if arxiv.sniff(path) == "arxiv":
        return "arxiv"
    return "jsonl"


def iter_file(
    path: Path, options: SourceOptions = DEFAULT_OPTIONS, fmt: str | None = None
) -> Iterator[SourceItem]:
    """Dispatch one file to its reader (`fmt`, else `detect_format`)."""
    from litkg.sources import arxiv, pubmed
    from litkg.sources.jsonl import iter_jsonl, iter_parquet

    if not path.exists():
        yield Rejected(str(path), 0, "file not found", file_level=True)
        return
    if path.is_dir():
        yield Rejected(str(path), 0, "is a directory with no input files", file_level=True)
        return
    fmt = fmt or detect_format(path)
    if fmt == "parquet":
        yield from iter_parquet(path)
    elif fmt == "pubmed":
        yield from pubmed.iter_pubmed(path, date_policy=options.pubmed_date)
    elif fmt == "arxiv":
        cats = set(options.arxiv_categories) if options.arxiv_categories else None
        yield from arxiv.iter_arxiv(path, categories=cats, date_policy=options.arxiv_date)
    else:
        yield from iter_jsonl(path)


def iter_sources(
    paths: Iterable[str | Path], options: SourceOptions = DEFAULT_OPTIONS
) -> Iterator[SourceItem]:
    """Every item of every file named by `paths`; a missing file is a Rejected item."""
    for path in expand_paths(paths):
        yield from iter_file(path, options)
