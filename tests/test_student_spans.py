"""Noun-phrase candidates of the student (`extractors/student/spans.py`) and the suppression of
overlapping duplicate predictions: cheap checks, no training."""

from __future__ import annotations

import pytest
from litkg.extractors.student.model import Prediction, Span, suppress_overlaps
from litkg.extractors.student.spans import TypeLexicon, load_tagger, noun_phrases


@pytest.fixture(scope="module")
def tagger():
    return load_tagger()


def test_noun_phrases_are_maximal_runs_ending_on_a_noun(tagger):
    text = "We propose a novel statistical parser for machine translation of long sentences."
    got = {text[s:e] for s, e in noun_phrases(tagger(text))}
    assert {"novel statistical parser", "machine translation", "long sentences"} <= got
    assert not any(p.startswith(("a ", "for ", "We")) for p in got)  # no determiner, no verb


def test_a_noun_phrase_is_typed_by_its_last_word_as_seen_in_training():
    lexicon = TypeLexicon.learn([("parser", "Method"), ("statistical parser", "Method"),
                                 ("machine translation", "Task"), ("BLEU", "Metric")])
    assert lexicon.type_of("novel dependency parser") == "Method"
    assert lexicon.type_of("BLEU") == "Method"  # seen once: below min_count, the commonest
    assert TypeLexicon.from_json(lexicon.to_json()).types == lexicon.types


def _pred(head: tuple[int, int], tail: tuple[int, int], p: float, label: str = "used-for",
          src: str = "ner") -> Prediction:
    return Prediction(Span(*head, "h", "Method", src), label, Span(*tail, "t", "Task", src),
                      p, p, (0, 100))


def test_overlapping_duplicates_keep_the_ner_pair_then_the_likeliest():
    ner = _pred((0, 10), (20, 30), 0.4)
    np_longer = _pred((0, 14), (18, 30), 0.6, src="np")
    other_label = _pred((0, 10), (20, 30), 0.5, label="part-of")
    elsewhere = _pred((40, 50), (60, 70), 0.3, src="np")
    weaker_np = _pred((40, 48), (60, 70), 0.2, src="np")
    kept = suppress_overlaps([np_longer, ner, other_label, elsewhere, weaker_np])
    assert set(kept) == {ner, other_label, elsewhere}
