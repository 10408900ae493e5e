"""The data contract: table schemas and relation vocabularies, read from the YAML files here.

Everything else (DDL, Arrow schemas, SQL column lists, prompts, JSON schemas, contradiction
rules) is derived from these files, so they are the single source of truth.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import pyarrow as pa
import yaml
from pydantic import BaseModel, Field


class Table(BaseModel):
    """One stored table: its columns (name -> DuckDB type) and write mode."""

    name: str
    write: str
    key: list[str]
    columns: dict[str, str]
    partition: str | None = None
    # "month": day partitions are kept in month files (one file lists under each of its days),
    # so a table of 18,000 days is a few hundred files; a nightly day starts as its own file
    files: str | None = None
    # a table of superseded-row marks read into this one's history (merge-on-read updates)
    supersessions: str | None = None

    def column_names(self) -> list[str]:
        return list(self.columns)

    def select_list(self, alias: str | None = None) -> str:
        """A SQL select list of this table's columns, cast to their contract types."""
        prefix = f"{alias}." if alias else ""
        return ", ".join(f'CAST({prefix}"{c}" AS {t}) AS "{c}"' for c, t in self.columns.items())

    def ddl(self) -> str:
        cols = ", ".join(f'"{c}" {t}' for c, t in self.columns.items())
        return f'CREATE TABLE "{self.name}" ({cols})'

    def arrow_schema(self) -> pa.Schema:
        return arrow_schema_of(tuple(self.columns.items()))


class Relation(BaseModel):
    """A relation type and the properties the constructor reasons with."""

    name: str
    definition: str
    symmetric: bool = False
    antisymmetric: bool = False
    inverse_of: str | None = None
    contradicts: list[str] = Field(default_factory=list)
    functional: bool = False
    scierc: str | None = None
    biored: str | None = None


class Vocabulary(BaseModel):
    """Entity types, relation types and context qualifiers of one domain."""

    name: str
    version: str
    entity_types: dict[str, str]
    relations: dict[str, Relation]
    context_qualifiers: dict[str, str]

    def canonical_relations(self) -> list[str]:
        """Relations that are stored as edges (inverses are rewritten to their primaries)."""
        return [r for r, spec in self.relations.items() if not spec.inverse_of]

    def relation_rules(self) -> list[dict[str, Any]]:
        """One row per relation: how to orient it before keying an edge."""
        rows = []
        for name, spec in self.relations.items():
            rows.append(
                {
                    "relation": name,
                    "canonical": spec.inverse_of or name,
                    "swap": spec.inverse_of is not None,
                    "symmetric": spec.symmetric,
                }
            )
        return rows

    def contradiction_rules(self) -> list[dict[str, Any]]:
        """Pairs (relation, partner relation, reversed) whose edges contradict each other.

        `reversed` means the partner's arguments are swapped: outperforms(a, b) vs
        outperforms(b, a). Inverse relations are already rewritten to their primary.
        """
        rows = set()
        for name, spec in self.relations.items():
            if spec.inverse_of:
                continue
            for other in spec.contradicts:
                rows.add((name, other, False))
                rows.add((other, name, False))
            if spec.antisymmetric:
                rows.add((name, name, True))
        return [{"relation": a, "partner": b, "reversed": r} for a, b, r in sorted(rows)]


@cache
def _read_yaml(filename: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def tables() -> dict[str, Table]:
    """All stored tables of the contract, by name."""
    out: dict[str, Table] = {}
    # tables.yaml is the core contract; tables_<part>.yaml files add a component's own tables.
    names = sorted(
        p.name
        for p in resources.files(__package__).iterdir()
        if p.name.startswith("tables") and p.name.endswith(".yaml")
    )
    for filename in names:
        for name, spec in _read_yaml(filename)["tables"].items():
            if name in out:
                raise ValueError(f"table {name!r} declared twice ({filename})")
            out[name] = Table(name=name, **spec)
    return out


def table(name: str) -> Table:
    return tables()[name]


def volatile_tables() -> list[str]:
    """Tables about how a store was built (runs); ignored when comparing stores."""
    return list(_read_yaml("tables.yaml").get("volatile_tables", []))


def has_history(name: str) -> bool:
    """A table that keeps superseded rows (transaction time): `<name>` shows the current
    ones, `<name>_history` all of them."""
    return "superseded_commit" in table(name).columns


def volatile_columns() -> list[str]:
    """Columns that record when/which run; ignored when comparing stores for determinism."""
    return list(_read_yaml("tables.yaml")["volatile_columns"])


@cache
def vocabulary(name: str = "ml") -> Vocabulary:
    """Load a vocabulary by name (`ml`, `biomed`) or by path to a YAML file."""
    if name.endswith((".yaml", ".yml")):
        with open(name, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    else:
        try:
            raw = _read_yaml(f"vocab_{name}.yaml")
        except FileNotFoundError as exc:
            raise ValueError(
                f"unknown vocabulary {name!r} (expected ml, biomed or a path)"
            ) from exc
    rels = {
        rname: Relation(name=rname, **(spec or {})) for rname, spec in raw.pop("relations").items()
    }
    vocab = Vocabulary(relations=rels, **raw)
    for spec in rels.values():
        for ref in [spec.inverse_of, *spec.contradicts]:
            if ref and ref not in rels:
                raise ValueError(f"vocabulary {vocab.name}: {spec.name} refers to unknown {ref}")
    return vocab


@cache
def arrow_schema_of(columns: tuple[tuple[str, str], ...]) -> pa.Schema:
    """Arrow schema for DuckDB-typed columns, as DuckDB itself converts them."""
    from litkg.store.arrow import scratch  # at call time: litkg.store imports this package

    select = ", ".join(f'NULL::{t} AS "{c}"' for c, t in columns)
    with scratch() as con:
        return con.execute(f"SELECT {select} LIMIT 0").to_arrow_table().schema
