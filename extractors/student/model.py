"""The student at inference: a spaCy NER pipeline, a linear relation classifier, a calibrator.

A model directory holds `meta.json` (level, labels, vocabulary, threshold, calibration, training
data fingerprint, dev metrics, candidate source), `ner/` (a spaCy pipeline: tokenizer,
sentencizer, ner), `relations.npz` + `features.json` (the classifier's weights and feature
names) and, when noun phrases are candidates too (`candidates: ner+np`), `span_types.json`
(the type lexicon of `spans`), with static vectors `vectors.npz` (see `vectors`; the
NER's pipeline then holds a `student_vectors` component) and with contextual vectors
`context.npz` (see `context`). Inference needs spaCy (and the
installed small English pipeline for its tagger when noun phrases are candidates) and
numpy/scipy only; nothing is downloaded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from litkg.extractors.student.context import FILE as CONTEXT
from litkg.extractors.student.context import KEY as CONTEXT_KEY
from litkg.extractors.student.context import ContextEncoder
from litkg.extractors.student.features import (
    NONE,
    Candidate,
    Occ,
    document_candidates,
    sentence_candidates,
)
from litkg.extractors.student.spans import (
    DEPS,
    TypeLexicon,
    copy_tags,
    load_tagger,
    noun_phrases,
    overlapping,
)
from litkg.extractors.student.vectors import FILE as VECTORS
from litkg.extractors.student.vectors import WordVectors, pair_features
from scipy import sparse

FORMAT = 1
META = "meta.json"
SPAN_TYPES = "span_types.json"


class ModelError(RuntimeError):
    """A model directory is missing, incomplete or of another format."""


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    type: str
    #: where the span comes from ("ner" or "np", see `spans`)
    src: str = "ner"


@dataclass(frozen=True)
class Prediction:
    head: Span
    label: str
    tail: Span
    #: the classifier's probability of the label (before calibration)
    probability: float
    #: calibrated confidence
    confidence: float
    evidence: tuple[int, int]


def dense_features(vectors: WordVectors | None, context: ContextEncoder | None,
                   words: Sequence[str], cands: Sequence[Candidate],
                   encoded: np.ndarray | None = None) -> np.ndarray | None:
    """The relation classifier's dense columns of candidate pairs over a doc's lower-cased
    words: the static vectors' (see `vectors`), then the contextual ones (see `context`;
    `encoded`: the words' contextual vectors when the pipeline computed them)."""
    blocks = []
    if vectors is not None:
        blocks.append(pair_features(vectors, words, cands))
    if context is not None:
        blocks.append(context.pair_features(words, cands, encoded))
    return np.hstack(blocks) if blocks else None


class LinearModel:
    """Multinomial logistic regression over binary features (and, with static vectors, `dense`
    real-valued columns after them), as plain arrays."""

    def __init__(self, features: list[str], classes: list[str], coef: np.ndarray,
                 intercept: np.ndarray, dense: int = 0) -> None:
        self.features = features
        self.index = {f: i for i, f in enumerate(features)}
        self.classes = classes
        self.dense = dense
        self.coef = np.ascontiguousarray(coef.T, dtype=np.float32)  # columns x classes
        self.intercept = intercept.astype(np.float32)

    def _sparse(self, rows: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        indptr, indices = [0], []
        for feats in rows:
            idx = {self.index[f] for f in feats if f in self.index}
            indices.extend(sorted(idx))
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), len(self.features)))

    def matrix(self, rows: Sequence[Sequence[str]], dense: np.ndarray | None = None
               ) -> sparse.csr_matrix:
        """The design matrix: binary features, then the dense columns (training)."""
        x = self._sparse(rows)
        if self.dense:
            x = sparse.hstack([x, sparse.csr_matrix(dense, dtype=np.float32)], format="csr")
        return x

    def proba(self, rows: Sequence[Sequence[str]], dense: np.ndarray | None = None
              ) -> np.ndarray:
        if not rows:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        n = len(self.features)
        z = self._sparse(rows) @ self.coef[:n] + self.intercept
        if self.dense:
            z += dense @ self.coef[n:]
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, folder: Path) -> None:
        np.savez_compressed(folder / "relations.npz", coef=self.coef.T, intercept=self.intercept)
        (folder / "features.json").write_text(
            json.dumps({"classes": self.classes, "features": self.features,
                        "dense": self.dense}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LinearModel:
        names = json.loads((folder / "features.json").read_text(encoding="utf-8"))
        arrays = np.load(folder / "relations.npz")
        return cls(names["features"], names["classes"], arrays["coef"], arrays["intercept"],
                   names.get("dense", 0))


def platt(p: float, a: float, b: float) -> float:
    """Calibrated confidence from a probability: sigmoid(a * logit(p) + b)."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return 1 / (1 + math.exp(-(a * math.log(p / (1 - p)) + b)))


def parse_class(name: str) -> tuple[str, bool]:
    """`used-for>` -> (used-for, first is head); `used-for<` -> (used-for, second is head);
    `conjunction=` -> (conjunction, first is head)."""
    return name[:-1], name[-1] != "<"


def occurrences(doc: Any, spans: Iterable[tuple[int, int, str, str]],
                src: Sequence[str] = ()) -> tuple[list[Occ], list[tuple[int, int]]]:
    """Token-level mentions (char spans snapped outwards to tokens, each with its sentence and
    its source, `src[i]`, "ner" when not given) and the token bounds of the doc's sentences."""
    bounds = [(s.start, s.end) for s in doc.sents]
    sent_of = np.zeros(len(doc), dtype=np.int32)
    for k, (lo, hi) in enumerate(bounds):
        sent_of[lo:hi] = k
    occs = []
    for i, (start, end, etype, key) in enumerate(spans):
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None or len(span) == 0:
            continue
        occs.append(Occ(span.start, span.end, etype, int(sent_of[span.start]), key,
                        src[i] if i < len(src) else "ner"))
    return occs, bounds


def noun_phrase_spans(tagged: Any, taken: Iterable[tuple[int, int]], lexicon: TypeLexicon
                      ) -> list[tuple[int, int, str]]:
    """The noun phrases of a tagged doc that are not already spans in `taken`, typed by the
    lexicon: (start, end, type) in characters."""
    taken = set(taken)
    text = tagged.text  # built on each access: once
    return [(s, e, lexicon.type_of(text[s:e])) for s, e in noun_phrases(tagged)
            if (s, e) not in taken]


def candidates(doc: Any, occs: list[Occ], bounds: list[tuple[int, int]], level: str,
               group_of: dict[Occ, list[str]] | None = None) -> list[Candidate]:
    """Relation candidates of a doc; at document level mentions are grouped by `group_of`
    (gold identities) or, when predicted, by their lower-cased text."""
    words = [t.lower_ for t in doc]
    if level == "sentence":
        tags = [t.tag_ for t in doc] if doc.has_annotation("TAG") else None
        return sentence_candidates(words, occs, tags, doc.user_data.get(DEPS))
    groups: dict[str, list[Occ]] = {}
    for o in occs:
        keys = group_of[o] if group_of is not None else [" ".join(words[o.start:o.end])]
        for k in keys:
            groups.setdefault(k, []).append(o)
    return document_candidates(words, bounds, groups)


def suppress_overlaps(preds: list[Prediction]) -> list[Prediction]:
    """Of predictions with one label whose heads overlap and whose tails overlap (the same
    relation read off overlapping candidate spans), the one with more NER arguments (their
    boundaries are learnt; a noun phrase's are the tagger's), then the most probable one.
    Measured on SciERC dev: preferring the more probable one alone lost 0.03 strict F1."""
    kept: list[Prediction] = []
    for p in sorted(preds, key=lambda p: (-(p.head.src == "ner") - (p.tail.src == "ner"),
                                          -p.probability)):
        if not any(q.label == p.label
                   and overlapping((q.head.start, q.head.end), (p.head.start, p.head.end))
                   and overlapping((q.tail.start, q.tail.end), (p.tail.start, p.tail.end))
                   for q in kept):
            kept.append(p)
    return sorted(kept, key=lambda p: (p.evidence, p.head.start, p.tail.start))


class StudentModel:
    """A trained student loaded from (or about to be written to) a model directory."""

    def __init__(self, nlp: Any, relations: LinearModel, meta: dict[str, Any],
                 lexicon: TypeLexicon | None = None, tagger: Any = None,
                 vectors: WordVectors | None = None, context: ContextEncoder | None = None
                 ) -> None:
        self.nlp = nlp
        self.relations = relations
        self.meta = meta
        self.lexicon = lexicon
        self._tagger = tagger
        self.vectors = vectors
        self.context = context

    @property
    def level(self) -> str:
        return self.meta["level"]

    @property
    def with_noun_phrases(self) -> bool:
        return self.meta.get("candidates", "ner") == "ner+np"

    @property
    def parses(self) -> bool:
        """Whether the candidates' features include dependency paths (the parser runs)."""
        return bool(self.meta.get("hyperparameters", {}).get("dependencies"))

    @property
    def tagger(self) -> Any:
        if self._tagger is None:
            self._tagger = load_tagger(parse=self.parses)
        return self._tagger

    @classmethod
    def load(cls, folder: str | Path) -> StudentModel:
        import spacy

        folder = Path(folder)
        if not (folder / META).exists():
            raise ModelError(f"no student model at {folder} (build one with `make model` or "
                             f"`litkg train`)")
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ModelError(f"{folder}: model format {meta.get('format')}, expected {FORMAT}; "
                             f"retrain it")
        lexicon = None
        if meta.get("candidates", "ner") == "ner+np":
            lexicon = TypeLexicon.from_json(
                json.loads((folder / SPAN_TYPES).read_text(encoding="utf-8")))
        from litkg.extractors.student import context as context_component
        from litkg.extractors.student import ner_vectors

        relations = LinearModel.load(folder)
        vectors = WordVectors.load(folder) if (folder / VECTORS).exists() else None
        context = ContextEncoder.load(folder) if (folder / CONTEXT).exists() else None
        nlp = spacy.load(folder / "ner")  # the `student_vectors` factory is registered
        if vectors is not None:
            ner_vectors.attach(nlp, vectors)
        if context is not None:
            context_component.attach(nlp, context)
        return cls(nlp, relations, meta, lexicon, vectors=vectors, context=context)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.nlp.to_disk(folder / "ner")
        self.relations.save(folder)
        if self.vectors is not None:
            self.vectors.save(folder)
        if self.context is not None:
            self.context.save(folder)
        if self.lexicon is not None:
            (folder / SPAN_TYPES).write_text(json.dumps(self.lexicon.to_json()), encoding="utf-8")
        (folder / META).write_text(json.dumps(self.meta, indent=1, sort_keys=True),
                                   encoding="utf-8")

    def scored(self, texts: Iterable[str], batch_size: int = 64, n_process: int = 1
               ) -> Iterator[tuple[Any, list[Candidate], np.ndarray]]:
        """Per text: the spaCy doc, its candidates and their class probabilities."""
        texts = list(texts)
        docs = self.nlp.pipe(texts, batch_size=batch_size, n_process=n_process)
        tagged: Iterable[Any] = ([None] * len(texts) if not self.with_noun_phrases else
                                 self.tagger.pipe(texts, batch_size=batch_size,
                                                  n_process=n_process))
        for doc, tags in zip(docs, tagged, strict=True):
            spans = [(e.start_char, e.end_char, e.label_, "") for e in doc.ents]
            src = ["ner"] * len(spans)
            if tags is not None and self.lexicon is not None:
                copy_tags(doc, tags)
                extra = noun_phrase_spans(tags, ((s, e) for s, e, _, _ in spans), self.lexicon)
                spans += [(s, e, t, "") for s, e, t in extra]
                src += ["np"] * len(extra)
            occs, bounds = occurrences(doc, spans, src)
            cands = candidates(doc, occs, bounds, self.level)
            dense = (dense_features(self.vectors, self.context, [t.lower_ for t in doc], cands,
                                    doc.user_data.get(CONTEXT_KEY))
                     if self.relations.dense else None)
            yield doc, cands, self.relations.proba([c.features for c in cands], dense)

    def decode(self, doc: Any, cands: list[Candidate], probs: np.ndarray,
               threshold: float | None = None) -> list[Prediction]:
        """Candidates whose best relation class is likely enough, as predictions."""
        threshold = self.meta["threshold"] if threshold is None else threshold
        a_cal, b_cal = self.meta["calibration"]["a"], self.meta["calibration"]["b"]
        none = self.relations.classes.index(NONE)
        out = []
        for c, p in zip(cands, probs, strict=True):
            q = p.copy()
            q[none] = -1
            k = int(q.argmax())
            if q[k] < threshold:
                continue
            label, first_is_head = parse_class(self.relations.classes[k])
            a = doc[c.a.start:c.a.end]
            b = doc[c.b.start:c.b.end]
            sa = Span(a.start_char, a.end_char, a.text, c.a.type, c.a.src)
            sb = Span(b.start_char, b.end_char, b.text, c.b.type, c.b.src)
            head, tail = (sa, sb) if first_is_head else (sb, sa)
            lo = min(a.sent.start_char, b.sent.start_char)
            hi = max(a.sent.end_char, b.sent.end_char)
            out.append(Prediction(head, label, tail, float(q[k]),
                                  round(platt(float(q[k]), a_cal, b_cal), 6), (lo, hi)))
        return suppress_overlaps(out) if self.with_noun_phrases else out

    def predict(self, texts: Iterable[str], batch_size: int = 64, n_process: int = 1
                ) -> Iterator[tuple[Any, list[Prediction]]]:
        from threadpoolctl import threadpool_limits

        # with workers using the cores, BLAS threads here would only spin
        with threadpool_limits(1, user_api="blas") if n_process > 1 else nullcontext():
            for doc, cands, probs in self.scored(texts, batch_size, n_process):
                yield doc, self.decode(doc, cands, probs)
