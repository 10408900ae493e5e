"""The `student` extractor (and `student+rules`): a trained model directory in the pipeline.

`student+rules` is the documented combination: the student's triples, plus the rule extractor's
hits for relations the student has no label for (in `ml`: outperforms, underperforms, improves,
degrades; SciERC annotates none of them as such). Each row keeps the extractor that made it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from litkg.extractors.base import ExtractionResult, assertions_from_rows
from litkg.extractors.student.model import META, ModelError, StudentModel
from litkg.extractors.student.train import VERSION

from litkg import schema

#: where `make model` writes the default students (overridable by LITKG_MODELS)
MODELS_DIR = Path("data/models")


def default_model_dir(vocabulary: str) -> Path:
    """The default student of a vocabulary: $LITKG_MODELS/student-<vocabulary>."""
    return Path(os.environ.get("LITKG_MODELS") or MODELS_DIR) / f"student-{vocabulary}"


class StudentExtractor:
    """Typed mentions and relations from a trained student; confidence calibrated on dev."""

    version = VERSION

    def __init__(self, vocabulary: str = "ml", model: str | Path | None = None,
                 rules: bool = False, batch_size: int = 64, n_process: int = 1) -> None:
        self.vocab = schema.vocabulary(vocabulary)
        self.model_dir = Path(model) if model else default_model_dir(self.vocab.name)
        if not (self.model_dir / META).exists():
            raise ModelError(
                f"no student model at {self.model_dir}: build it with `make model` or "
                f"`litkg train scierc|biored|store ... --output {self.model_dir}`")
        self.model = StudentModel.load(self.model_dir)
        trained_for = self.model.meta.get("vocabulary")
        if trained_for != self.vocab.name:
            raise ModelError(f"{self.model_dir} was trained for vocabulary {trained_for!r}, "
                             f"not {self.vocab.name!r}")
        self.batch_size = batch_size
        self.n_process = n_process  # spaCy worker processes for the NER (2 on 2 cores)
        self.name = "student+rules" if rules else "student"
        self.rules = None
        if rules:
            from litkg.extractors.spacy_rules import SpacyRuleExtractor

            self.rules = SpacyRuleExtractor(vocabulary=vocabulary)
        self.kept_from_rules = sorted(set(self.vocab.relations) - set(self.model.meta["relations"]))
        self._digest = hashlib.sha256((self.model_dir / META).read_bytes()).hexdigest()[:16]

    def config_key(self) -> str:
        key = (f"student:{VERSION}:{self._digest}:{self.vocab.name}:{self.vocab.version}")
        if self.rules is not None:
            key += f"+{self.rules.config_key()}:keep={','.join(self.kept_from_rules)}"
        return key

    def extract(self, documents: pa.Table) -> ExtractionResult:
        ids = documents.column("doc_id").to_pylist()
        hashes = documents.column("content_hash").to_pylist()
        texts = [t or "" for t in documents.column("abstract").to_pylist()]
        rows: list[dict[str, Any]] = []
        preds = self.model.predict(texts, batch_size=self.batch_size, n_process=self.n_process)
        for doc_id, chash, text, (_doc, found) in zip(ids, hashes, texts, preds, strict=True):
            seen = set()
            for p in found:
                key = (p.head.start, p.head.end, p.label, p.tail.start, p.tail.end)
                if p.label not in self.vocab.relations or key in seen:
                    continue
                seen.add(key)
                rows.append({
                    "doc_id": doc_id, "content_hash": chash,
                    "subject": p.head.text, "subject_start": p.head.start,
                    "subject_end": p.head.end, "subject_type": p.head.type,
                    "relation": p.label,
                    "object": p.tail.text, "object_start": p.tail.start,
                    "object_end": p.tail.end, "object_type": p.tail.type,
                    "context": [], "evidence": text[p.evidence[0]:p.evidence[1]],
                    "evidence_start": p.evidence[0], "evidence_end": p.evidence[1],
                    "confidence": p.confidence, "extractor": "student",
                    "extractor_version": self.version,
                })
        table = assertions_from_rows(rows)
        if self.rules is None:
            return ExtractionResult(assertions=table)
        ruled = self.rules.extract(documents)
        keep = ruled.assertions.filter(
            pc.is_in(ruled.assertions.column("relation"),
                             pa.array(self.kept_from_rules, pa.string())))
        return ExtractionResult(assertions=pa.concat_tables([table, keep]),
                                failures=ruled.failures, extras=ruled.extras)
