"""Distillation: the teacher's assertions in a store as training documents for the student.

Spans come from the assertions' offsets, types from their subject/object types, relations are
the stored relation names (inverses turned into their primaries) and the teacher's confidence
is the sample weight. Context arguments ("on ImageNet") are entity mentions too, typed by their
qualifier (Dataset, Metric...): they teach the NER and give the relation classifier pairs the
teacher did not relate. Documents are whatever the teacher read: a document without assertions
above the threshold is not used (its pairs would all look unrelated).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from litkg.extractors.student.data import Mention, Relation, TrainDoc

from litkg import schema
from litkg.store import Store

#: type of an argument the teacher left untyped
UNTYPED = "Entity"


def from_store(home: str | Path, vocab: schema.Vocabulary, *, min_confidence: float = 0.6,
               level: str = "sentence", extractor: str | None = None) -> list[TrainDoc]:
    sql = resources.files("litkg.extractors.student").joinpath("teacher.sql").read_text()
    con = Store(home).connect()
    try:
        rows = con.execute(sql, [min_confidence, extractor, extractor]).fetchall()
        names = [c[0] for c in con.description]
    finally:
        con.close()
    docs: dict[str, TrainDoc] = {}
    mentions: dict[str, dict[tuple[int, int], Mention]] = {}
    relations: dict[str, dict[tuple[str, str, str], Relation]] = {}
    for values in rows:
        r = dict(zip(names, values, strict=True))
        spec = vocab.relations.get(r["relation"])
        if spec is None or not r["text"]:
            continue
        doc = docs.setdefault(r["doc_id"], TrainDoc(r["doc_id"], r["text"]))
        ms = mentions.setdefault(doc.doc_id, {})
        keys = []
        for role in ("subject", "object"):
            s, e = r[f"{role}_start"], r[f"{role}_end"]
            if s is None or e is None or not 0 <= s < e <= len(doc.text):
                break
            # sentence level: a mention is its own identity; document level: its text
            key = f"{s}:{e}" if level == "sentence" else doc.text[s:e].lower()
            ms.setdefault((s, e), Mention(s, e, r[f"{role}_type"] or UNTYPED, (key,)))
            keys.append(key)
        if len(keys) < 2:
            continue
        for c in r["context"] or []:
            s, e = c.get("start"), c.get("end")
            if s is not None and e is not None and 0 <= s < e <= len(doc.text):
                key = f"{s}:{e}" if level == "sentence" else doc.text[s:e].lower()
                ms.setdefault((s, e), Mention(s, e, c["qualifier"].title(), (key,)))
        head, tail, label = keys[0], keys[1], r["relation"]
        if spec.inverse_of:
            head, tail, label = tail, head, spec.inverse_of
        rels = relations.setdefault(doc.doc_id, {})
        old = rels.get((head, label, tail))
        weight = float(r["confidence"])
        if old is None or old.weight < weight:
            rels[(head, label, tail)] = Relation(head, label, tail,
                                                 vocab.relations[label].symmetric, weight)
    for doc_id, doc in docs.items():
        doc.mentions = sorted(mentions.get(doc_id, {}).values(), key=lambda m: (m.start, m.end))
        doc.relations = list(relations.get(doc_id, {}).values())
    return [docs[k] for k in sorted(docs)]
