"""Scoring the student's predictions against labelled documents, as `litkg eval` does.

Used while training: to pick the decision threshold, to fit the calibration and to record dev
figures in the model's metadata. Same matching as the harness (`litkg.eval.scoring`): strict =
exact character spans, relaxed = same head token or half the tokens; one to one pairing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litkg.extractors.student.data import TrainDoc
from litkg.extractors.student.model import Prediction

from litkg.eval.corpus import GoldRelation
from litkg.eval.scoring import (
    PRF,
    Candidate,
    SpanMatcher,
    dedupe,
    ece,
    merge_scores,
    score_triples,
)

MODES = ("strict", "relaxed")


def score_doc(doc: TrainDoc, preds: Sequence[Prediction], mode: str, document_level: bool
              ) -> tuple[Any, list[Candidate]]:
    """(TripleScore, the deduplicated candidates it scored) for one document."""
    matcher = SpanMatcher(doc.text)

    def idents(start: int, end: int) -> frozenset[str]:
        return frozenset(g for m in doc.mentions
                         if matcher.match((start, end), (m.start, m.end), mode) for g in m.groups)

    cands = []
    for p in preds:
        hs, ts = idents(p.head.start, p.head.end), idents(p.tail.start, p.tail.end)
        if document_level:
            ka = hs or ("surface", p.head.text.lower())
            kb = ts or ("surface", p.tail.text.lower())
        else:
            ka, kb = (p.head.start, p.head.end), (p.tail.start, p.tail.end)
        cands.append(Candidate(hs, p.label, ts, p.confidence, (p.label, frozenset((ka, kb)))))
    cands = dedupe(cands)
    golds = [GoldRelation(r.head, r.label, r.tail, r.symmetric) for r in doc.relations]
    return score_triples(cands, golds, typed=True), cands


def evaluate(docs: Sequence[TrainDoc], preds: Sequence[Sequence[Prediction]],
             document_level: bool) -> dict[str, Any]:
    """Micro P/R/F1 per matching mode and the ECE of the (relaxed) matches."""
    out: dict[str, Any] = {}
    for mode in MODES:
        scores, conf, ok = [], [], []
        for d, p in zip(docs, preds, strict=True):
            s, cands = score_doc(d, p, mode, document_level)
            scores.append(s)
            conf += [c.confidence for c in cands]
            ok += s.matched
        micro = sum(merge_scores(scores).values(), PRF(0, 0, 0))
        out[mode] = micro.as_dict()
        if mode == "relaxed":
            out["ece"] = ece(conf, ok)
    return out


def matched(docs: Sequence[TrainDoc], preds: Sequence[Sequence[Prediction]],
            document_level: bool) -> tuple[list[float], list[bool]]:
    """(raw probability, correct under relaxed typed matching) of every scored prediction."""
    probs: list[float] = []
    ok: list[bool] = []
    for d, p in zip(docs, preds, strict=True):
        s, cands = score_doc(d, [_raw(q) for q in p], "relaxed", document_level)
        probs += [c.confidence for c in cands]
        ok += s.matched
    return probs, ok


def _raw(p: Prediction) -> Prediction:
    """The prediction with its raw probability in place of the calibrated confidence."""
    return Prediction(p.head, p.label, p.tail, p.probability, p.probability, p.evidence)
