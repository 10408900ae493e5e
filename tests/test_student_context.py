"""Contextual word vectors for the student's relation classifier: all-MiniLM-L6-v2 run in numpy
(no torch) gives the packaged model's meaning, a word's vector depends on its sentence, long
documents are encoded in windows, and the fitted encoder survives a save as float16."""

from __future__ import annotations

import numpy as np
import pytest
from litkg.extractors.student import context as C
from litkg.extractors.student.context import ContextEncoder
from litkg.extractors.student.features import Candidate, Occ


@pytest.fixture(scope="module")
def full() -> ContextEncoder:
    return ContextEncoder.from_package(6)


def sentence(encoder: ContextEncoder, text: str) -> np.ndarray:
    """The model's sentence embedding: the mean of the last block's outputs, [CLS] and [SEP]
    included, normalised (what sentence-transformers computes for all-MiniLM-L6-v2)."""
    ids = [p for w in text.split() for p in encoder.tokenizer.word_pieces(w)]
    x = encoder._forward(np.array([encoder.cls, *ids, encoder.sep])).mean(0)
    return x / np.linalg.norm(x)


def test_the_numpy_encoder_is_the_sentence_model(full):
    """A wrong block (a transposed weight, a missing norm) destroys the similarity structure
    the model was trained for: paraphrases close, unrelated sentences near orthogonal."""
    a = sentence(full, "a man is eating food .")
    b = sentence(full, "a man is eating a meal .")
    c = sentence(full, "the stock market fell sharply today .")
    d = sentence(full, "we train a neural parser on the penn treebank .")
    e = sentence(full, "a dependency parser is learnt from treebank data .")
    assert a @ b > 0.85 and d @ e > 0.5
    assert max(a @ c, a @ d, c @ e) < 0.25


def test_a_word_vector_depends_on_its_sentence():
    enc = ContextEncoder.from_package(3)
    river = enc.encode("he sat on the bank of the river .".split())[4]
    money = enc.encode("she paid the cheque into her bank account .".split())[6]
    again = enc.encode("he sat on the bank of the river .".split())[4]
    assert np.allclose(river, again)
    assert not np.allclose(river, money, atol=0.1)
    assert enc.encode(["", "parser"])[0].tolist() == [0.0] * 384  # no pieces: zeros


def test_a_long_document_is_encoded_window_by_window(monkeypatch):
    enc = ContextEncoder.from_package(1)
    words = [f"w{i % 50}" for i in range(40)]
    whole = enc.encode(words)
    monkeypatch.setattr(C, "WINDOW", 8)
    windows = enc.encode(words)
    assert windows.shape == whole.shape and not np.allclose(windows, whole)
    first = enc.encode(words[:4])  # "w0".."w3": 2 pieces each, the first window
    assert np.allclose(windows[:4], first, atol=1e-5)


def test_pair_features_are_standardised_means_of_the_mentions_and_between(tmp_path):
    enc = ContextEncoder.from_package(2)
    words = "the parser is used for machine translation .".split()
    enc.fit([words, "a second training sentence .".split()])
    a, b = Occ(1, 2, "Method", 0), Occ(5, 7, "Task", 0)
    cands = [Candidate(a, b, "a", "b", ()), Candidate(b, a, "b", "a", ())]
    x = enc.pair_features(words, cands)
    assert x.shape == (2, enc.columns) == (2, 4 * 384)
    z = (enc.encode(words) - enc.mean) / enc.sd
    d = 384
    assert np.allclose(x[0, :d], C.SCALE * z[1], atol=1e-5)
    assert np.allclose(x[0, d:2 * d], C.SCALE * z[5:7].mean(0), atol=1e-5)
    assert np.allclose(x[0, 2 * d:3 * d], C.SCALE * z[2:5].mean(0), atol=1e-5)
    assert np.allclose(x[0, 3 * d:], C.SCALE * z[1] * z[5:7].mean(0) / 4, atol=1e-5)
    assert np.allclose(x[1, 2 * d:3 * d], x[0, 2 * d:3 * d])  # between is symmetric
    enc.save(tmp_path)
    back = ContextEncoder.load(tmp_path)
    assert back.layers == 2 and back.w["0.qkv.w"].dtype == np.float32
    assert np.allclose(back.pair_features(words, cands), x, atol=0.02)
    assert enc.pair_features(words, []).shape == (0, enc.columns)


def test_an_unfitted_encoder_refuses_to_describe_pairs(tmp_path):
    enc = ContextEncoder.from_package(1)
    with pytest.raises(ValueError, match="not fitted"):
        enc.pair_features(["a", "b"], [Candidate(Occ(0, 1, "T", 0), Occ(1, 2, "T", 0),
                                                 "a", "b", ())])
    with pytest.raises(ValueError, match="not fitted"):
        enc.save(tmp_path)
    with pytest.raises(ValueError, match="context layers 0"):
        ContextEncoder.from_package(0)
