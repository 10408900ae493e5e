"""The read-only query sandbox: what `litkg query` and `litkg.open()` run users' SQL in.

Two locks, both needed:

1. **Statements** (`check_read_only`): every statement of the SQL text is classified by DuckDB's
   own parser (`extract_statements`) and anything but a read is refused with a one-line error
   naming the statement type. Reads: SELECT (also WITH, FROM-first, VALUES, DESCRIBE, SHOW,
   SUMMARIZE and the PRAGMAs that read, which DuckDB parses as SELECT), EXPLAIN (EXPLAIN ANALYZE
   runs its statement, so any statement explained must be a read too; found with DuckDB's
   tokenizer, so comments cannot hide an ANALYZE) and CALL of a metadata table function
   (`pragma_*`, `duckdb_*`); no statement may call a table function that writes
   (`WRITING_FUNCTIONS`: checkpoint, DuckLake's maintenance functions that delete files).
   Refused: COPY, EXPORT, ATTACH/DETACH/USE, INSTALL/LOAD,
   SET/RESET, PRAGMA that sets, CREATE/INSERT/UPDATE/DELETE/DROP/ALTER, PREPARE/EXECUTE,
   transactions, CHECKPOINT, VACUUM, a PIVOT without an IN list (it creates a type)... The
   connection alone could not refuse a COPY over a file
   of the store: the store's own directories must stay readable, and DuckDB's allowed
   directories are writable too.
2. **The connection** (`lock_reader`): external access off except the store's directories
   (`allowed_directories`, so `read_text('/etc/passwd')`, `read_csv`, `glob('/*')`, ATTACH or
   COPY elsewhere fail), no extension installed or loaded automatically, no community
   extensions, a memory limit, then `lock_configuration` so no SET gives any of it back.

`lock_reader` takes an open read connection and the directories the store's files live in, so
it serves whatever store format opens that connection (today `Store.connect()`: a catalog of
views over Parquet files by absolute path under the store home).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb

#: DuckDB memory limit of a sandboxed reader (override: $LITKG_QUERY_MEMORY_LIMIT).
DEFAULT_MEMORY_LIMIT = "4GB"
#: What a refusal tells the user they may run.
ALLOWED = "SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, PRAGMA that reads"
_READ_FUNCTION = re.compile(r"^(pragma|duckdb)_\w+$", re.I)
_WORD = re.compile(r"\w+|.", re.S)


class QueryRefused(ValueError):
    """The SQL holds a statement the read-only sandbox does not run (the message says which)."""


def _type_name(statement: duckdb.Statement) -> str:
    return str(statement.type).rsplit(".", 1)[-1]


def _text(statement: duckdb.Statement) -> str:
    try:
        return statement.query
    except Exception:  # noqa: BLE001 - the binding cannot give the text back: refuse it
        return ""


def _refuse(kind: str, detail: str = "") -> QueryRefused:
    return QueryRefused(f"refused: {kind} statement{detail} (the store is queried read-only: "
                        f"{ALLOWED})")


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise QueryRefused unless every statement of `sql` only reads.

    Parsed on `con` (a sandboxed reader), so a PRAGMA that the parser expands by reading files
    (import_database) is already held by the connection's file lock.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    if not statements:
        raise QueryRefused("no SQL statement given")
    for statement in statements:
        _check_statement(con, statement)


#: Table functions that write or delete (the database, or a DuckLake's files) although they
#: are called from a SELECT: refused whatever the store's format.
WRITING_FUNCTIONS = frozenset({
    "checkpoint", "force_checkpoint", "ducklake_cleanup_old_files",
    "ducklake_delete_orphaned_files", "ducklake_expire_snapshots",
    "ducklake_merge_adjacent_files", "ducklake_rewrite_data_files",
    "ducklake_flush_inlined_data", "ducklake_add_data_files", "ducklake_set_option",
    "ducklake_set_commit_message",
})


def _check_statement(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> None:
    kind = _type_name(statement)
    _, words = _words(_text(statement))
    for word, after in zip(words, words[1:], strict=False):
        if after == "(" and word in WRITING_FUNCTIONS:
            raise _refuse(kind, f" calling {word}(), which writes")
    if kind == "SELECT":
        return
    if kind == "CALL":
        if _READ_FUNCTION.match(_called(_text(statement)) or ""):
            return
        raise _refuse("CALL", " of a function other than the pragma_*/duckdb_* table functions")
    if kind == "EXPLAIN":
        # EXPLAIN ANALYZE runs its statement: whatever the form, the statement explained must
        # be a read itself (found with DuckDB's tokenizer, which skips comments)
        inner = _explained(_text(statement))
        try:
            kinds = [_type_name(s) for s in con.extract_statements(inner)] if inner else []
        except duckdb.Error:
            kinds = []
        if not kinds:
            raise _refuse("EXPLAIN", " whose statement could not be read")
        for inner_kind in kinds:
            if inner_kind != "SELECT":
                raise _refuse(inner_kind, " under EXPLAIN")
        return
    raise _refuse(kind)


def _words(text: str) -> tuple[list[int], list[str]]:
    """Token positions and lower-cased tokens of `text` (DuckDB's tokenizer: no comments)."""
    positions = [p for p, _ in duckdb.tokenize(text)]
    return positions, [_WORD.match(text, p).group(0).lower() for p in positions]


def _called(text: str) -> str | None:
    """The function name of `CALL [schema.]name(...)`, None if not found."""
    _, words = _words(text)
    if len(words) < 3 or words[0] != "call" or "(" not in words:
        return None
    name = words[1:words.index("(")]
    return name[-1] if name and all(w == "." for w in name[1::2]) else None


def _explained(text: str) -> str | None:
    """The statement of `EXPLAIN [(options)] [ANALYZE] <statement>`, None if not found."""
    tokens, words = _words(text)
    if not words or words[0] != "explain":
        return None
    i = 1
    if i < len(words) and words[i] == "(":
        depth = 0
        while i < len(words):
            depth += {"(": 1, ")": -1}.get(words[i], 0)
            i += 1
            if depth == 0:
                break
    if i < len(words) and words[i] in ("analyze", "analyse"):
        i += 1
    return text[tokens[i]:] if i < len(tokens) else None


def memory_limit() -> str:
    return os.environ.get("LITKG_QUERY_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)


def lock_reader(
    con: duckdb.DuckDBPyConnection, directories: Iterable[str | Path],
    *, memory: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Lock `con` for untrusted reads: files only under `directories`, no extension loading,
    a memory limit, configuration locked. Returns `con`. Irreversible for this connection."""
    dirs = [str(Path(d).resolve()).rstrip("/") + "/" for d in directories]
    if not dirs:
        raise ValueError("a sandboxed reader needs the store's directories")
    if is_locked(con):
        # DuckDB shares one database instance, settings included, between the connections of
        # a process to one file: a second reader of the store finds it locked already
        allowed = con.execute("SELECT current_setting('allowed_directories')").fetchone()[0]
        external = con.execute("SELECT current_setting('enable_external_access')").fetchone()[0]
        if external or not set(dirs) <= {str(d).rstrip("/") + "/" for d in allowed}:
            raise ValueError(f"this DuckDB database is locked with other settings: external "
                             f"access {external}, allowed directories {allowed}")
        return con
    for statement, params in (
        ("SET allowed_directories = ?", [dirs]),
        ("SET enable_external_access = false", None),
        ("SET autoinstall_known_extensions = false", None),
        ("SET autoload_known_extensions = false", None),
        ("SET allow_community_extensions = false", None),
        ("SET allow_unsigned_extensions = false", None),
        ("SET memory_limit = ?", [memory or memory_limit()]),
        ("SET lock_configuration = true", None),
    ):
        try:
            con.execute(statement, params)
        except duckdb.InvalidInputException as exc:
            # allow_unsigned_extensions can only be set at start-up: it is false unless the
            # connection was opened with it, and a locked configuration keeps it so.
            if "allow_unsigned_extensions" not in statement:
                raise
            del exc
    return con


def is_locked(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT value FROM duckdb_settings() WHERE name = 'lock_configuration'"
    ).fetchone()
    return bool(row) and row[0] == "true"
