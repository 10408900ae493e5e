"""A test extractor that reads triples written into the abstract: it implements the protocol
exactly, so the constructor can be specified with hand-made or generated assertions.

Abstract format: claims separated by " ;; ", each "subject | relation | object | context |
confidence", context like "dataset=ImageNet" or "" (several qualifiers joined with ",").
An abstract containing FAIL_MARK is a document the extractor cannot process (a failure).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pyarrow as pa
from litkg.extractors.base import ExtractionFailure, ExtractionResult, assertions_from_rows

FAIL_MARK = "<<extraction fails>>"


def claim(s: str, r: str, o: str, ctx: str = "", conf: float = 0.8) -> str:
    return f"{s} | {r} | {o} | {ctx} | {conf}"


def abstract(*claims: str) -> str:
    return " ;; ".join(claims)


class ScriptedExtractor:
    name = "scripted"
    version = "1"

    def config_key(self) -> str:
        return "scripted:1"

    def extract(self, documents: pa.Table) -> ExtractionResult:
        rows, failures = [], []
        for doc_id, chash, text in zip(
            documents.column("doc_id").to_pylist(),
            documents.column("content_hash").to_pylist(),
            documents.column("abstract").to_pylist(),
            strict=True,
        ):
            if FAIL_MARK in (text or ""):
                failures.append(ExtractionFailure(doc_id, "scripted failure", text))
                continue
            pos = 0
            for part in (text or "").split(" ;; "):
                start = text.index(part, pos)
                pos = start + len(part)
                s, r, o, ctx, conf = [p.strip() for p in part.split("|")]
                s_start = start + part.index(s)
                o_start = start + part.index(o, part.index(r))
                contexts = []
                for q in filter(None, ctx.split(",")):
                    qual, value = q.split("=")
                    v_start = start + part.index(value)
                    contexts.append(
                        {
                            "qualifier": qual,
                            "text": value,
                            "start": v_start,
                            "end": v_start + len(value),
                        }
                    )
                rows.append(
                    {
                        "doc_id": doc_id,
                        "content_hash": chash,
                        "subject": s,
                        "subject_start": s_start,
                        "subject_end": s_start + len(s),
                        "subject_type": None,
                        "relation": r,
                        "object": o,
                        "object_start": o_start,
                        "object_end": o_start + len(o),
                        "object_type": None,
                        "context": contexts,
                        "evidence": part,
                        "evidence_start": start,
                        "evidence_end": pos,
                        "confidence": float(conf),
                        "extractor": self.name,
                        "extractor_version": self.version,
                    }
                )
        return ExtractionResult(assertions=assertions_from_rows(rows), failures=failures)


def write_docs(path: Path, docs: Iterable[tuple[str, date, str]], deletions=()) -> Path:
    """Write (doc_id, published, abstract) records and (doc_id, deleted_on) deletions as JSONL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for doc_id, day, text in docs:
            fh.write(
                json.dumps(
                    {"doc_id": doc_id, "title": "t", "abstract": text, "published": day.isoformat()}
                )
                + "\n"
            )
        for doc_id, day in deletions:
            fh.write(
                json.dumps({"doc_id": doc_id, "deleted": True, "deleted_on": day.isoformat()})
                + "\n"
            )
    return path


def write_records(path: Path, records: Iterable[dict]) -> Path:
    """Write JSONL source records as they are (documents with other_ids / revised, deletions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, default=str) + "\n")
    return path
