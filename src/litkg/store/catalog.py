"""The catalog: the SQL surface of one manifest (views over its files, the vocabulary, the
store's metadata, the public views and macros), in a DuckDB file beside the manifest or in any
connection. It is a cache: `Store.connect()` rebuilds it when it lags the manifest."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from litkg import schema
from litkg.store.arrow import registered
from litkg.store.manifest import Manifest

CATALOG = "litkg.duckdb"
# Every column is stored in the files: a folder name (`month=...`) is where a file lies, not a
# value to read (a commit's edge versions of many months lie in one file under its own month).
NO_HIVE = "hive_partitioning = false"
SQL_DIR = Path(__file__).parent.parent / "sql"


def _empty_select(table: schema.Table) -> str:
    cols = ", ".join(f'NULL::{t} AS "{c}"' for c, t in table.columns.items())
    return f"SELECT {cols} WHERE false"


def file_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def table_select(table: schema.Table, files: list[str]) -> str:
    """SQL reading a table's files with its contract columns (empty when it has none)."""
    if not files:
        return _empty_select(table)
    return f"SELECT {table.select_list()} FROM read_parquet({file_list(files)}, {NO_HIVE})"


def history_select(table: schema.Table, files: list[str], marks: list[str]) -> str:
    """A table's stored rows with its supersession marks applied (`table.supersessions`):
    superseding a row appends a mark instead of rewriting the file that holds it."""
    select = table_select(table, files)
    if not table.supersessions or not files or not marks:
        return select
    keys = schema.table(table.supersessions).key
    using = ", ".join(f'"{k}"' for k in keys)
    return (f"SELECT h.* REPLACE (coalesce(h.superseded_commit, s.superseded_commit) "
            f"AS superseded_commit, coalesce(h.superseded_at, s.superseded_at) AS superseded_at) "
            f"FROM ({select}) h LEFT JOIN (SELECT {using}, superseded_commit, superseded_at "
            f"FROM read_parquet({file_list(marks)}, {NO_HIVE})) s USING ({using})")


def load_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Scalar macros the construction SQL and users both rely on (canonical keys...)."""
    con.execute((SQL_DIR / "functions.sql").read_text(encoding="utf-8"))


def stamp_text(stamp: tuple[int, int, int]) -> str:
    return ":".join(str(x) for x in stamp)


def write_catalog(home: Path, manifest: Manifest,
                  stamp: tuple[int, int, int] | None = None) -> None:
    """(Re)create the catalog file: written beside it, then renamed over it. `stamp`: the
    manifest file's (`Store.stamp`), recorded so that a reader that finds the same file need
    not parse it to know the catalog is current."""
    final = home / CATALOG
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute("BEGIN")  # one write-ahead-log commit, not one per statement
            build_catalog(con, home, manifest, stamp)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)


def build_catalog(con: duckdb.DuckDBPyConnection, home: Path, manifest: Manifest,
                  stamp: tuple[int, int, int] | None = None) -> None:
    """The SQL surface of `manifest` in `con`: views over its files, the vocabulary, the store's
    metadata, the public views and macros."""
    load_macros(con)
    for name, table in schema.tables().items():
        files = [str(home / f) for f in manifest.files(name)]
        marks = [str(home / f) for f in manifest.files(table.supersessions or "")]
        # Stored tables are exposed as `stored_<name>`; the public names are views that
        # may add derived columns (see sql/catalog.sql).
        con.execute(f'CREATE VIEW "stored_{name}" AS {history_select(table, files, marks)}')
    vocab = schema.vocabulary(manifest.meta.get("vocabulary", "ml"))
    relations = pa.table({
        "relation": [r.name for r in vocab.relations.values()],
        "definition": [r.definition for r in vocab.relations.values()],
        "symmetric": pa.array([r.symmetric for r in vocab.relations.values()], pa.bool_()),
        "antisymmetric": pa.array([r.antisymmetric for r in vocab.relations.values()],
                                  pa.bool_()),
        "inverse_of": pa.array([r.inverse_of for r in vocab.relations.values()], pa.string()),
        "contradicts": pa.array([list(r.contradicts) for r in vocab.relations.values()],
                                pa.list_(pa.string())),
    })
    meta = [("home", str(home)), ("commit", str(manifest.commit))] + [
        (k, str(v)) for k, v in sorted(manifest.meta.items())]
    if stamp is not None:
        meta.append(("manifest_file", stamp_text(stamp)))
    store_meta = pa.table({"key": [k for k, _ in meta], "value": [v for _, v in meta]})
    # Arrow, not executemany: a row-by-row insert costs a statement per row
    for name, rows in (("relations", relations), ("store_meta", store_meta)):
        with registered(con, rows) as view:
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM {view}")
    con.execute((SQL_DIR / "catalog.sql").read_text(encoding="utf-8"))
    public = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    for name in schema.tables():  # component tables (llm_usage...) get a plain view
        if name not in public:
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "stored_{name}"')
    con.execute((SQL_DIR / "derived.sql").read_text(encoding="utf-8"))
    con.execute((SQL_DIR / "catalog_macros.sql").read_text(encoding="utf-8"))
