"""Training material for the student: documents with typed mentions and labelled relations.

Every source (a gold corpus, a store a teacher filled) becomes `TrainDoc`s whose relation labels
are litkg vocabulary relations (`used-for`, `positive_correlate`...), so the student predicts
what the pipeline stores and `litkg eval` maps back to the dataset's labels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from litkg import schema
from litkg.eval.corpus import GoldCorpus
from litkg.eval.harness import label_map

#: BioRED's entity types -> the biomed vocabulary's entity types
BIORED_TYPES = {"GeneOrGeneProduct": "Gene", "ChemicalEntity": "Chemical",
                "DiseaseOrPhenotypicFeature": "Disease", "SequenceVariant": "Variant",
                "OrganismTaxon": "Species", "CellLine": "CellLine"}
#: sentence-level (candidates: mention pairs of one sentence) or document-level (concept pairs)
LEVELS = ("sentence", "document")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    type: str
    #: identities relations refer to (the mention itself, or concept ids)
    groups: tuple[str, ...]


@dataclass(frozen=True)
class Relation:
    head: str
    label: str
    tail: str
    symmetric: bool
    weight: float = 1.0


@dataclass
class TrainDoc:
    doc_id: str
    text: str
    mentions: list[Mention] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)


def dataset_to_vocab(vocab: schema.Vocabulary, dataset: str) -> dict[str, str]:
    """Dataset label -> the vocabulary relation that stands for it: of the primary relations
    mapped to the label, the one whose name shares the longest prefix with it
    (Positive_Correlation -> positive_correlate, not cause). Labels nothing maps to are
    dropped."""

    def squash(s: str) -> str:
        return s.lower().replace("_", "").replace("-", "")

    def common(a: str, b: str) -> int:
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return n

    out: dict[str, str] = {}
    for name, (label, swap) in label_map(vocab, dataset).items():
        if label is None or swap or vocab.relations[name].inverse_of:
            continue
        if label not in out or (common(squash(name), squash(label))
                                > common(squash(out[label]), squash(label))):
            out[label] = name
    return out


def from_corpus(corpus: GoldCorpus, vocab: schema.Vocabulary) -> list[TrainDoc]:
    to_vocab = dataset_to_vocab(vocab, corpus.dataset)
    docs = []
    for d in corpus.documents:
        mentions = [Mention(m.start, m.end, BIORED_TYPES.get(m.type, m.type), tuple(m.ids))
                    for m in d.mentions]
        # undirected when the corpus says so (all of BioRED: its ids are stored in sorted
        # order, not as head and tail) or the vocabulary does
        rels = [Relation(r.head, to_vocab[r.label], r.tail,
                         r.symmetric or vocab.relations[to_vocab[r.label]].symmetric)
                for r in d.relations if r.label in to_vocab]
        docs.append(TrainDoc(d.doc_id, d.text, mentions, rels))
    return docs


def default_level(corpus_or_vocab: str) -> str:
    return "document" if corpus_or_vocab in ("biored", "biomed") else "sentence"


def held_out(doc_id: str, share: float) -> bool:
    """A stable pseudo-random choice of documents (for a calibration split of a store)."""
    h = int.from_bytes(hashlib.sha256(doc_id.encode()).digest()[:8], "big")
    return h / 2**64 < share


def fingerprint(docs: list[TrainDoc]) -> str:
    """sha256 of the training material as the student sees it."""
    h = hashlib.sha256()
    for d in sorted(docs, key=lambda d: d.doc_id):
        h.update(d.doc_id.encode())
        h.update(d.text.encode())
        for m in d.mentions:
            h.update(f"{m.start},{m.end},{m.type},{'|'.join(m.groups)}".encode())
        for r in d.relations:
            h.update(f"{r.head},{r.label},{r.tail},{r.weight:.4f}".encode())
    return h.hexdigest()
