"""The extractor protocol: documents in, assertions out, one Arrow schema for every extractor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from litkg import schema

# Columns the pipeline adds itself (identity, batch day, run); an extractor fills the rest.
PIPELINE_COLUMNS = ("assertion_id", "day", "run_id")

#: Columns every extractor must return, in this order, with these types.
EXTRACTION_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (c, t) for c, t in schema.table("assertions").columns.items() if c not in PIPELINE_COLUMNS
)

#: Columns of the documents an extractor receives (at least these).
DOCUMENT_COLUMNS = ("doc_id", "content_hash", "title", "abstract")


def extraction_schema() -> pa.Schema:
    """Arrow schema of an extractor's output."""
    return schema.arrow_schema_of(EXTRACTION_COLUMNS)


class ExtractorUnavailable(ConnectionError):
    """A dependency of the extractor is down (e.g. the LLM server): not bad input. The run
    fails without committing the affected days, and is retried (Prefect retries ConnectionError)."""


class ExtractorConfigError(RuntimeError):
    """The extractor cannot work as configured (wrong key, model, URL...): stop the run with
    this one-line message; nothing is quarantined."""


@dataclass
class ExtractionFailure:
    """A document the extractor could not process; it goes to quarantine with the reason."""

    doc_id: str
    reason: str
    raw: str | None = None


@dataclass
class ExtractionResult:
    """What an extractor returns for a batch of documents.

    `assertions` follows `extraction_schema()`. `extras` holds extractor-specific audit tables
    keyed by a table name declared in schema/tables.yaml (e.g. rejected triples, token usage).
    """

    assertions: pa.Table
    failures: list[ExtractionFailure] = field(default_factory=list)
    extras: dict[str, pa.Table] = field(default_factory=dict)


@runtime_checkable
class Extractor(Protocol):
    """Every extractor (spaCy rules, LLM over HTTP, in-process vLLM) implements this."""

    name: str
    version: str

    def config_key(self) -> str:
        """A stable string of everything that changes the output (model, prompt, sampling...).

        Together with a document's content hash it keys the extraction cache.
        """
        ...

    def extract(self, documents: pa.Table) -> ExtractionResult:
        """Extract assertions from `documents` (columns DOCUMENT_COLUMNS at least).

        Offsets are character offsets into the document's `abstract`.
        """
        ...


def assertions_from_rows(rows: list[dict[str, Any]]) -> pa.Table:
    """Build an extraction table from dict rows, validating against the contract schema."""
    target = extraction_schema()
    missing = {r for row in rows for r in target.names if r not in row}
    if missing:
        raise ValueError(f"extraction rows lack columns: {sorted(missing)}")
    return pa.Table.from_pylist(rows, schema=target)


def empty_assertions() -> pa.Table:
    return extraction_schema().empty_table()
