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


def test_dependency_paths_join_the_heads_of_two_mentions_through_their_common_ancestor():
    """With the parser (`load_tagger(parse=True)`), a pair's features name the labels on the
    path between the mentions' heads, the ancestor's word, the words on the path and each head's
    attachment; a blank
    pipeline's doc gets the tree by character offsets (`copy_tags`)."""
    import spacy
    from litkg.extractors.student.features import Occ, sentence_candidates
    from litkg.extractors.student.spans import DEPS, copy_tags

    text = "The statistical parser is used for machine translation of long sentences."
    blank = spacy.blank("en")
    doc = blank(text)
    copy_tags(doc, load_tagger(parse=True)(text))
    words = [t.lower_ for t in doc]
    parser_, translation, sentences = (Occ(1, 3, "Method", 0), Occ(6, 8, "Task", 0),
                                       Occ(9, 11, "Material", 0))
    by_pair = {(c.a, c.b): set(c.features) for c in sentence_candidates(
        words, [parser_, translation, sentences], [t.tag_ for t in doc], doc.user_data[DEPS])}
    near = by_pair[(parser_, translation)]
    assert {"dp:nsubjpass^prep/pobj", "lca:used", "dw:for"} <= near
    assert {"tdp:Method|Task|nsubjpass^prep/pobj", "dpx:nsubjpass>used^used<prep/for<pobj",
            "ga:nsubjpass|used", "gb:pobj|for"} <= near
    inner = by_pair[(translation, sentences)]
    assert {"dp:^prep/pobj", "lca:translation", "dw:of"} <= inner  # one heads the other
    # without the parser there is no tree, and no dependency feature
    plain = blank(text)
    copy_tags(plain, load_tagger()(text))
    assert DEPS not in plain.user_data
