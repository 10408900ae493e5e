"""BioRED (Luo et al., 2022) in PubTator format -> GoldCorpus.

A block per abstract, blocks separated by a blank line::

    PMID|t|title
    PMID|a|abstract
    PMID<TAB>start<TAB>end<TAB>mention<TAB>type<TAB>id[,id...]      (6 fields)
    PMID<TAB>relation<TAB>id1<TAB>id2<TAB>Novel|No                  (5 fields)

Offsets index `title + " " + abstract` (end exclusive); that string is the document text here.
Relations are document-level, between concept ids, undirected. The files carry no date: every
document gets `DATE` (the ordering by PMID is kept in the stream; days carry no meaning).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from litkg.eval.corpus import (
    LOCAL,
    GoldCorpus,
    GoldDocument,
    GoldMention,
    GoldRelation,
    check_normalised,
    normalise_with_offsets,
)

LABELS = ["Association", "Positive_Correlation", "Negative_Correlation", "Bind", "Cotreatment",
          "Comparison", "Drug_Interaction", "Conversion"]
DATE = date(2022, 1, 1)


def _parse_block(lines: list[str], where: str) -> GoldDocument:
    title = abstract = None
    pmid = None
    mentions: list[GoldMention] = []
    relations: list[GoldRelation] = []
    seen: set[tuple[str, str, str]] = set()
    for line in lines:
        if "|t|" in line[:20] and title is None:
            pmid, title = line.split("|t|", 1)
            continue
        if "|a|" in line[:20] and abstract is None:
            pmid, abstract = line.split("|a|", 1)
            continue
        fields = line.split("\t")
        if len(fields) == 6:
            _, start, end, surface, etype, ids = fields
            s, e = int(start), int(end)
            if ids.strip() in ("", "-"):
                own = f"{LOCAL}none{len(mentions)}"
                mentions.append(GoldMention(s, e, etype, own, (own,)))
            else:
                parts = tuple(i.strip() for i in ids.split(",") if i.strip())
                mentions.append(GoldMention(s, e, etype, ",".join(parts), parts))
        elif len(fields) == 5:
            _, label, a, b, _novel = fields
            key = (min(a, b), label, max(a, b))
            if key not in seen:
                seen.add(key)
                relations.append(GoldRelation(key[0], label, key[2], symmetric=True))
        else:
            raise ValueError(f"{where}: unexpected line {line[:60]!r}")
    if pmid is None or title is None or abstract is None:
        raise ValueError(f"{where}: block without title and abstract lines")
    raw = f"{title} {abstract}" if abstract else title
    doc_id = f"pmid:{pmid.strip()}"
    for m in mentions:
        if not 0 <= m.start < m.end <= len(raw):
            raise ValueError(f"{where}: mention offsets {m.start}-{m.end} outside the text")
    text, at = normalise_with_offsets(raw)  # a few abstracts hold runs of spaces
    check_normalised(doc_id, text)
    if text != raw:
        mentions = [replace(m, start=at[m.start], end=at[m.end - 1] + 1) for m in mentions]
    return GoldDocument(doc_id, title, text, DATE, mentions, relations)


def parse(text: str, where: str = "<text>") -> list[GoldDocument]:
    docs = []
    block: list[str] = []
    start_line = 1
    for n, raw in enumerate(text.splitlines() + [""], 1):
        line = raw.rstrip("\r\n")
        if line.strip():
            if not block:
                start_line = n
            block.append(line)
        elif block:
            docs.append(_parse_block(block, f"{where}:{start_line}"))
            block = []
    return docs


def load(path: str | Path) -> GoldCorpus:
    with open(path, encoding="utf-8") as fh:  # universal newlines: CRLF is fine
        docs = parse(fh.read(), str(path))
    docs.sort(key=lambda d: int(d.doc_id.split(":", 1)[1]) if d.doc_id[5:].isdigit() else 0)
    return GoldCorpus(
        "biored", str(path), docs, list(LABELS), document_level=True,
        dating=f"no dates in the files: every document on {DATE.isoformat()}",
        symmetric_labels=frozenset(LABELS),
    )
