"""Distillation check: a student distilled from a store approaches one trained on the gold.

A "gold teacher" (an extractor that asserts exactly a corpus's gold relations, confidence 0.9)
fills a real store through the pipeline; `litkg train store` then distils it, and the same
training documents are also used directly (`litkg train scierc`). Both are tuned and scored on
the dev split with the same settings, and their dev figures and training times are printed side
by side. What the store loses: mentions that take part in no relation (the NER sees fewer
entities) and assertions the constructor ignores (self-loops after entity resolution).

    .venv/bin/python bench/student_distil.py [--limit 350] [--epochs 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from litkg.extractors.base import ExtractionResult, assertions_from_rows
from litkg.extractors.student.build import from_gold, from_teacher

from litkg.eval.harness import load_corpus
from litkg.pipeline import days_between, process_days
from litkg.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "scierc"


class GoldTeacher:
    name, version = "gold", "1"

    def __init__(self, corpus) -> None:  # noqa: ANN001
        self.docs = {d.doc_id: d for d in corpus.documents}

    def config_key(self) -> str:
        return "gold:1"

    def extract(self, documents):  # noqa: ANN001, ANN201
        rows = []
        for doc_id, chash in zip(documents.column("doc_id").to_pylist(),
                                 documents.column("content_hash").to_pylist(), strict=True):
            d = self.docs[doc_id]
            by_id = {m.ids[0]: m for m in d.mentions}
            for r in d.relations:
                h, t = by_id[r.head], by_id[r.tail]
                rows.append({
                    "doc_id": doc_id, "content_hash": chash, "subject": d.text[h.start:h.end],
                    "subject_start": h.start, "subject_end": h.end, "subject_type": h.type,
                    "relation": r.label.lower(), "object": d.text[t.start:t.end],
                    "object_start": t.start, "object_end": t.end, "object_type": t.type,
                    "context": [], "evidence": None, "evidence_start": None,
                    "evidence_end": None, "confidence": 0.9, "extractor": "gold",
                    "extractor_version": "1"})
        return ExtractionResult(assertions=assertions_from_rows(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args()
    train, dev = SHARED / "train.json", SHARED / "dev.json"
    corpus = load_corpus("scierc", train, args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "train.jsonl"
        corpus.write_jsonl(src)
        days = sorted({d.published for d in corpus.documents})
        process_days(Store(tmp / "store"), days_between(days[0], days[-1]), sources=[str(src)],
                     extractor=GoldTeacher(corpus), vocabulary="ml")
        rows = []
        for name, build in (
            ("gold", lambda: from_gold("scierc", train, dev, tmp / "gold", limit=args.limit,
                                       epochs=args.epochs, log=lambda _m: None)),
            ("distilled", lambda: from_teacher(tmp / "store", tmp / "distilled",
                                               dev=("scierc", dev), epochs=args.epochs,
                                               log=lambda _m: None)),
        ):
            t0 = time.perf_counter()
            m = build().meta
            d = m["metrics"]["dev"]
            rows.append((name, m["train"]["documents"], d["strict"]["f1"] or 0,
                         d["relaxed"]["f1"] or 0, d["ece"] or 0, d["ner_f1"] or 0,
                         time.perf_counter() - t0))
    print(f"{'trained on':10s} {'docs':>5s} {'strict F1':>9s} {'relaxed F1':>10s} {'ECE':>6s} "
          f"{'NER F1':>6s} {'seconds':>8s}")
    for r in rows:
        print(f"{r[0]:10s} {r[1]:5d} {r[2]:9.3f} {r[3]:10.3f} {r[4]:6.3f} {r[5]:6.3f} "
              f"{r[6]:8.0f}")
    print(f"distilled / gold relaxed F1: {rows[1][3] / rows[0][3]:.2f}" if rows[0][3] else "")


if __name__ == "__main__":
    main()
