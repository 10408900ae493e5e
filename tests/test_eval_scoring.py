"""The scorer's arithmetic on small hand-made cases (no spaCy, no store)."""

from __future__ import annotations

import pytest

from litkg.eval.scoring import (
    PRF,
    UNMAPPED,
    UNTYPED,
    Candidate,
    Gold,
    SpanMatcher,
    bcubed,
    dedupe,
    ece,
    max_matching,
    merge_scores,
    pairwise,
    precision_by_support,
    reliability,
    score_triples,
)

TEXT = "The accuracy of the parser improves with support vector machines (SVM)."


def span(text: str, sub: str) -> tuple[int, int]:
    i = text.index(sub)
    return i, i + len(sub)


def test_prf_arithmetic_and_undefined_values():
    p = PRF(tp=2, pred=4, gold=8)
    assert p.precision == 0.5 and p.recall == 0.25
    assert p.f1 == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert PRF(0, 0, 3).precision is None and PRF(0, 0, 3).f1 is None
    assert PRF(0, 2, 3).f1 == 0.0
    assert PRF(1, 2, 3) + PRF(2, 3, 4) == PRF(3, 5, 7)


def test_strict_span_match_is_exact():
    m = SpanMatcher(TEXT)
    g = span(TEXT, "support vector machines")
    assert m.match(g, g, "strict")
    assert not m.match(span(TEXT, "vector machines"), g, "strict")


def test_relaxed_span_match_head_or_half_overlap():
    m = SpanMatcher(TEXT)
    gold = span(TEXT, "accuracy of the parser")  # head: "accuracy" (cut at "of")
    assert m.head(*gold) == m.token_ids(*span(TEXT, "accuracy"))[0]
    assert m.match(span(TEXT, "The accuracy"), gold, "relaxed")  # same head
    assert not m.match(span(TEXT, "parser"), gold, "relaxed")  # 1 of 4 tokens, other head
    svm = span(TEXT, "support vector machines (SVM)")  # head "machines" (cut at "(")
    assert m.match(span(TEXT, "vector machines"), svm, "relaxed")  # same head
    # overlap without the head: 2 shared of max(2, 3) tokens -> at least half
    assert m.match(span(TEXT, "support vector"), span(TEXT, "support vector machines"),
                   "relaxed")
    assert not m.match(span(TEXT, "support"), span(TEXT, "support vector machines"), "relaxed")


def cand(h, label, t, conf=0.5, key=None):
    return Candidate(frozenset(h), label, frozenset(t), conf, key or (h, label, t))


def test_typed_and_untyped_triple_scoring():
    golds = [Gold("a", "USED-FOR", "b"), Gold("c", "CONJUNCTION", "d", symmetric=True),
             Gold("e", "PART-OF", "f")]
    preds = [
        cand({"a"}, "USED-FOR", {"b"}),  # tp
        cand({"d"}, "CONJUNCTION", {"c"}),  # tp: symmetric label, either order
        cand({"f"}, "PART-OF", {"e"}),  # wrong direction: fp typed, tp untyped
        cand({"a"}, None, {"x"}),  # unmapped relation: fp
    ]
    typed = score_triples(preds, golds, typed=True)
    assert typed.micro == PRF(2, 4, 3)
    assert typed.per_label["USED-FOR"] == PRF(1, 1, 1)
    assert typed.per_label["CONJUNCTION"] == PRF(1, 1, 1)
    assert typed.per_label["PART-OF"] == PRF(0, 1, 1)
    assert typed.per_label[UNMAPPED] == PRF(0, 1, 0)
    assert typed.matched == [True, True, False, False]
    untyped = score_triples([cand(set(p.heads), None, set(p.tails)) for p in preds], golds,
                            typed=False)
    assert untyped.per_label[UNTYPED] == PRF(3, 4, 3)


def test_one_to_one_matching_makes_duplicates_false_positives():
    golds = [Gold("a", "USED-FOR", "b")]
    preds = [cand({"a"}, "USED-FOR", {"b"}, key=1), cand({"a"}, "USED-FOR", {"b"}, key=2)]
    assert score_triples(preds, golds, typed=True).micro == PRF(1, 2, 1)
    # identical keys collapse first, keeping the most confident
    merged = dedupe([cand({"a"}, "USED-FOR", {"b"}, 0.3, key=1),
                     cand({"a"}, "USED-FOR", {"b"}, 0.9, key=1)])
    assert len(merged) == 1 and merged[0].confidence == 0.9


def test_maximum_matching_beats_greedy():
    # pred 0 fits gold 0 and 1, pred 1 fits gold 0 only: a greedy pass would pair 0-0 and
    # leave pred 1 alone; the maximum matching pairs both
    assert max_matching([[0, 1], [0]], 2) == [1, 0]


def test_per_type_micro_over_documents():
    doc1 = score_triples([cand({"a"}, "USED-FOR", {"b"})], [Gold("a", "USED-FOR", "b")], True)
    doc2 = score_triples([cand({"a"}, "USED-FOR", {"c"}), cand({"c"}, "COMPARE", {"d"})],
                         [Gold("c", "COMPARE", "d", True), Gold("x", "USED-FOR", "y")], True)
    per = merge_scores([doc1, doc2])
    assert per["USED-FOR"] == PRF(1, 2, 2)
    assert per["COMPARE"] == PRF(1, 1, 1)
    total = per["USED-FOR"] + per["COMPARE"]
    assert (total.precision, total.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_pairwise_and_bcubed_on_a_small_clustering():
    # gold: {1,2,3} {4,5}; predicted: {1,2} {3,4,5}
    items = [("p1", "g1"), ("p1", "g1"), ("p2", "g1"), ("p2", "g2"), ("p2", "g2")]
    pw = pairwise(items)
    # predicted pairs: 1 + 3 = 4; gold pairs: 3 + 1 = 4; shared: (1,2) and (4,5)
    assert pw == PRF(2, 4, 4)
    b3 = bcubed(items)
    # precision per item: 1, 1, 1/3, 2/3, 2/3; recall: 2/3, 2/3, 1/3, 1, 1
    assert b3["precision"] == pytest.approx((1 + 1 + 1 / 3 + 2 / 3 + 2 / 3) / 5)
    assert b3["recall"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 5)
    assert bcubed([])["precision"] is None


def test_expected_calibration_error_on_a_tiny_case():
    conf = [0.9, 0.9, 0.2, 0.25, 1.0]
    ok = [True, False, False, True, True]
    bins = reliability(conf, ok, bins=10)
    assert [(b["lo"], b["n"]) for b in bins] == [(0.2, 2), (0.9, 3)]
    # bin 0.2: confidence 0.225, accuracy 0.5; bin 0.9: confidence 2.8/3, accuracy 2/3
    expected = 2 / 5 * abs(0.5 - 0.225) + 3 / 5 * abs(2 / 3 - 2.8 / 3)
    assert ece(conf, ok) == pytest.approx(expected)
    assert ece([], []) is None
    assert ece([0.7, 0.7], [True, False], bins=1) == pytest.approx(0.2)


def test_precision_by_support_buckets():
    rows = precision_by_support([(1, True), (1, False), (2, True), (5, True), (3, False)])
    got = {r["support"]: (r["edges"], r["correct"]) for r in rows}
    assert got == {"1": (2, 1), "2": (1, 1), ">=3": (2, 1), "all": (5, 3)}
