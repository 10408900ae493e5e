"""Gold corpora as the evaluation sees them: documents with text, dates, mentions, relations.

Both loaders (SciERC, BioRED) produce a `GoldCorpus`. Offsets are character offsets into
`GoldDocument.text`, which is exactly the text litkg stores and extracts from (already
normalised: `litkg.documents.normalise_text(text) == text`), so extracted offsets and gold
offsets refer to the same string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from litkg.documents import normalise_text

#: prefix of gold entity ids that are local to their document (coreference clusters, singletons,
#: mentions without a concept id); other ids (BioRED concept ids) are global
LOCAL = "local:"


@dataclass(frozen=True)
class GoldMention:
    """An annotated mention: [start, end) in the document text."""

    start: int
    end: int
    type: str
    #: gold entity of the mention (coreference cluster / concept id); LOCAL-prefixed ids are
    #: scoped to the document
    entity: str
    #: argument identities relations refer to (SciERC: the mention itself; BioRED: concept ids)
    ids: tuple[str, ...]


@dataclass(frozen=True)
class GoldRelation:
    """A gold relation between argument identities (see GoldMention.ids)."""

    head: str
    label: str
    tail: str
    symmetric: bool = False


@dataclass
class GoldDocument:
    doc_id: str
    title: str
    text: str
    published: date
    mentions: list[GoldMention] = field(default_factory=list)
    relations: list[GoldRelation] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The document as a litkg input record (JSON lines); the text goes to `abstract` so
        extracted offsets are offsets into `text`."""
        source = self.doc_id.split(":", 1)[0]
        return {"doc_id": self.doc_id, "title": "", "abstract": self.text,
                "published": self.published.isoformat(), "source": source,
                "venue": self.title or None}


@dataclass
class GoldCorpus:
    """A loaded dataset split."""

    dataset: str  # "scierc" | "biored"
    path: str
    documents: list[GoldDocument]
    #: relation labels of the dataset, in its usual order
    labels: list[str]
    #: True when relations hold between concepts anywhere in the document (BioRED), False
    #: when between mentions of one sentence (SciERC)
    document_level: bool
    #: how documents were dated (shown in the report)
    dating: str = ""
    #: labels whose argument order does not matter
    symmetric_labels: frozenset[str] = frozenset()

    def head(self, n: int | None) -> GoldCorpus:
        if n is None:
            return self
        return GoldCorpus(self.dataset, self.path, self.documents[:n], self.labels,
                          self.document_level, self.dating, self.symmetric_labels)

    def write_jsonl(self, path: str | Path) -> int:
        """Write the documents as litkg input (JSON lines, sorted by date then id)."""
        docs = sorted(self.documents, key=lambda d: (d.published, d.doc_id))
        with open(path, "w", encoding="utf-8") as fh:
            for d in docs:
                fh.write(json.dumps(d.record(), ensure_ascii=False) + "\n")
        return len(docs)

    def counts(self) -> dict[str, int]:
        return {
            "documents": len(self.documents),
            "mentions": sum(len(d.mentions) for d in self.documents),
            "relations": sum(len(d.relations) for d in self.documents),
        }


def global_entity(doc_id: str, entity: str) -> str:
    """A gold entity id made unique across the corpus."""
    return f"{doc_id}|{entity}" if entity.startswith(LOCAL) else entity


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """litkg's whitespace normalisation (runs of whitespace -> one space, stripped) and, for
    every character of the input, its offset in the output (plus one entry for len(text)).

    A span [s, e) of the input is [where[s], where[e - 1] + 1) of the output.
    """
    out: list[str] = []
    where: list[int] = []
    pending_space = False
    for ch in text:
        if ch.isspace():
            pending_space = bool(out)
            where.append(len(out) + (1 if pending_space else 0))
            continue
        if pending_space:
            out.append(" ")
            pending_space = False
        where.append(len(out))
        out.append(ch)
    where.append(len(out))
    new = "".join(out)
    where = [min(w, len(new)) for w in where]
    return new, where


def check_normalised(doc_id: str, text: str) -> None:
    if normalise_text(text) != text:
        raise ValueError(f"{doc_id}: text is not in litkg's normal form (whitespace/NFC)")
