"""Source readers: files in, SourceRecord / Deletion / Rejected items out."""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from pathlib import Path

from litkg.sources.records import Deletion, Rejected, SourceItem, SourceRecord

__all__ = ["Deletion", "Rejected", "SourceItem", "SourceRecord", "expand_paths", "iter_sources"]

SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz", ".parquet", ".xml", ".xml.gz")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named by paths, globs and directories (recursively), in a stable order."""
    out: list[Path] = []
    for p in paths:
        text = str(p)
        matches = [Path(m) for m in sorted(glob.glob(text))] if any(c in text for c in "*?[") else [Path(text)]
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


def iter_file(path: Path) -> Iterator[SourceItem]:
    """Dispatch one file to its reader by name and content."""
    from litkg.sources.jsonl import iter_jsonl, iter_parquet

    name = path.name
    if not path.exists():
        yield Rejected(str(path), 0, "file not found")
        return
    if name.endswith(".parquet"):
        yield from iter_parquet(path)
        return
    if name.endswith((".xml", ".xml.gz")):
        try:
            from litkg.sources.pubmed import iter_pubmed
        except ImportError:  # pragma: no cover - parser module missing
            yield Rejected(str(path), 0, "PubMed XML reader is not available")
            return
        yield from iter_pubmed(path)
        return
    if name.endswith((".json", ".json.gz")):
        try:
            from litkg.sources import arxiv

            if arxiv.sniff(path) == "arxiv":
                yield from arxiv.iter_arxiv(path)
                return
        except ImportError:  # pragma: no cover
            pass
    yield from iter_jsonl(path)


def iter_sources(paths: Iterable[str | Path]) -> Iterator[SourceItem]:
    """Every item of every file named by `paths`; a missing file is a Rejected item."""
    for path in expand_paths(paths):
        yield from iter_file(path)
