"""The view layer's SQL files (`litkg/sql/view/*.sql`) and the calls that run them on a Graph."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from litkg.graph import Graph

SQL_DIR = Path(__file__).resolve().parent.parent / "sql" / "view"


@cache
def sql_file(name: str) -> str:
    """The text of `litkg/sql/view/<name>.sql`."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def run(graph: Graph, name: str, params: dict[str, Any], *, prefix: str = "") -> pl.DataFrame:
    """Run a view query (`prefix`: CTEs put before it, e.g. `WITH ev AS (...)`)."""
    return graph.sql(prefix + sql_file(name), params)


def evidence(graph: Graph, edge_ids: list[str], as_of: date,
             per_edge: int | None = 3) -> dict[str, list[dict]]:
    """edge_id -> its live evidence on `as_of`, newest first (sentence, document, link)."""
    if not edge_ids:
        return {}
    rows = graph.sql(
        f"SELECT * FROM ({sql_file('evidence')}) WHERE list_contains($ids, edge_id)",
        {"d": as_of, "per_edge": per_edge, "ids": list(edge_ids)},
    )
    return {r["edge_id"]: r["evidence"] for r in rows.iter_rows(named=True)}


def days(graph: Graph) -> list[date]:
    """The processed days (snapshots), oldest first."""
    return graph.snapshots()["day"].to_list()
