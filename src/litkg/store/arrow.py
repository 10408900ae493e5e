"""Python rows handed to DuckDB as Arrow tables, for the length of a block."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, table: pa.Table) -> Iterator[str]:
    """The name of `table`, registered on `con` for the block: Python rows reach DuckDB as one
    Arrow table. A list parameter binds in time that grows with its length (18,000 days took
    seconds per statement) and `executemany` goes row by row (72,000 dirty days: 40 s)."""
    name = f"_arrow_{uuid.uuid4().hex[:8]}"
    con.register(name, table)
    try:
        yield name
    finally:
        con.unregister(name)


@contextmanager
def registered_values(con: duckdb.DuckDBPyConnection, values: list[Any],
                      arrow_type: pa.DataType | None = None) -> Iterator[str]:
    """`(SELECT v FROM ...)` over `values` (see `registered`)."""
    with registered(con, pa.table({"v": pa.array(values, arrow_type)})) as name:
        yield f"(SELECT v FROM {name})"
