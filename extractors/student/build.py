"""Building a student model directory from a gold corpus or from a teacher's store."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litkg.extractors.student.data import default_level, from_corpus, held_out
from litkg.extractors.student.distil import from_store
from litkg.extractors.student.model import StudentModel
from litkg.extractors.student.train import train

from litkg import schema

#: vocabulary of each gold corpus
CORPUS_VOCABULARY = {"scierc": "ml", "biored": "biomed"}
#: relation candidates of each gold corpus (see `spans`): noun phrases help at sentence level
#: (SciERC dev, same NER: strict F1 0.247 -> 0.254, relaxed 0.307 -> 0.353); BioRED's
#: document-level candidates are entities (genes, chemicals...), not noun phrases
CORPUS_CANDIDATES = {"scierc": "ner+np", "biored": "ner"}
#: share of a store's documents held out to tune and calibrate when no gold dev split is given
STORE_DEV_SHARE = 0.1


def save_atomically(model: StudentModel, output: Path) -> None:
    """Write the model beside `output` then swap it in: a reader never sees half a model."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        model.save(tmp)
        if output.exists():
            shutil.rmtree(output)
        tmp.rename(output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def from_gold(dataset: str, train_path: Path, dev_path: Path | None, output: Path, *,
              seed: int = 13, epochs: int = 30, limit: int | None = None,
              dev_limit: int | None = None, log: Callable[[str], None] = print,
              **options: Any) -> StudentModel:
    """Train on a gold split (SciERC JSON lines, BioRED PubTator), tune on its dev split."""
    from litkg.eval.harness import load_corpus

    vocab = schema.vocabulary(CORPUS_VOCABULARY[dataset])
    train_docs = from_corpus(load_corpus(dataset, train_path, limit), vocab)
    dev_docs = (from_corpus(load_corpus(dataset, dev_path, dev_limit), vocab)
                if dev_path else [])
    source = {"kind": dataset, "train": str(train_path), "dev": str(dev_path) if dev_path else None,
              "limit": limit}
    options.setdefault("candidates", CORPUS_CANDIDATES[dataset])
    model = train(train_docs, dev_docs, level=default_level(dataset), vocabulary=vocab.name,
                  source=source, seed=seed, ner_epochs=epochs, log=log, **options)
    save_atomically(model, output)
    return model


def from_teacher(home: Path, output: Path, *, vocabulary: str = "ml",
                 min_confidence: float = 0.6, extractor: str | None = None,
                 dev: tuple[str, Path] | None = None, level: str | None = None,
                 seed: int = 13, epochs: int = 30, log: Callable[[str], None] = print,
                 **options: Any) -> StudentModel:
    """Distil what a teacher put in the store at `home`; tune on a gold dev split when given
    (dataset, path), else on a held-out tenth of the store's documents."""
    from litkg.eval.harness import load_corpus

    vocab = schema.vocabulary(vocabulary)
    level = level or default_level(vocab.name)
    docs = from_store(home, vocab, min_confidence=min_confidence, level=level,
                      extractor=extractor)
    if not docs:
        raise ValueError(f"no live assertions with confidence >= {min_confidence} in the store "
                         f"at {home}: nothing to distil")
    if dev is not None:
        train_docs, dev_docs = docs, from_corpus(load_corpus(dev[0], dev[1]), vocab)
    else:
        train_docs = [d for d in docs if not held_out(d.doc_id, STORE_DEV_SHARE)]
        dev_docs = [d for d in docs if held_out(d.doc_id, STORE_DEV_SHARE)]
        if not train_docs:
            train_docs, dev_docs = docs, []
    source = {"kind": "store", "home": str(home), "min_confidence": min_confidence,
              "extractor": extractor, "dev": str(dev[1]) if dev else "held-out store documents"}
    log(f"distilling {len(train_docs)} document(s), "
        f"{sum(len(d.relations) for d in train_docs)} relation(s); dev {len(dev_docs)}")
    model = train(train_docs, dev_docs, level=level, vocabulary=vocab.name, source=source,
                  seed=seed, ner_epochs=epochs, log=log, **options)
    save_atomically(model, output)
    return model
