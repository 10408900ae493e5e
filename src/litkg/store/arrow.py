"""Python rows handed to DuckDB as Arrow tables, for the length of a block."""

from __future__ import annotations

import os
import threading
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


_SCRATCH: dict[int, duckdb.DuckDBPyConnection] = {}  # by process: a forked child opens its own
_SCRATCH_LOCK = threading.Lock()


@contextmanager
def scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for a short query over Arrow tables or files, with its own temp tables and
    registrations: a cursor of one in-memory database per process. A new database costs ~20 ms
    to open and ~20 ms to close, and a nightly run opened one for each of these queries."""
    with _SCRATCH_LOCK:
        if os.getpid() not in _SCRATCH:
            _SCRATCH[os.getpid()] = duckdb.connect()
        cursor = _SCRATCH[os.getpid()].cursor()
    try:
        yield cursor
    finally:
        cursor.close()
