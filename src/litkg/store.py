"""The store: Parquet files under $LITKG_HOME, a manifest naming the live files, a DuckDB catalog.

Layout::

    $LITKG_HOME/
      manifest.json        live files of every table, by partition (the commit point)
      litkg.duckdb         catalog: views over the live files + the SQL macros (read-only use)
      data/<table>/<partition>/<uuid>.parquet
      cache/               extraction cache (content hash x extractor config)
      .lock                one writer at a time

A write never modifies a file: it writes new files, then atomically replaces the manifest and
the catalog. A crash before that leaves the previous state intact (orphans are collected by the
next commit). Files of the previous manifest are kept so that readers holding it keep working.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import filelock
import pyarrow as pa

from litkg import schema

MANIFEST = "manifest.json"
PREVIOUS_MANIFEST = "manifest.prev.json"
CATALOG = "litkg.duckdb"
WHOLE = "_all"  # partition name of unpartitioned tables
# Inputs of the constructor: a write to one of their day partitions marks that day dirty (in the
# manifest's meta) until the next construction, which then judges only what those days touch.
CONSTRUCT_INPUTS = ("documents", "deletions", "assertions", "abbreviations")
SQL_DIR = Path(__file__).parent / "sql"


class StoreError(RuntimeError):
    """A store problem a user can act on (missing store, locked by another writer...)."""


class StoreLocked(StoreError):
    """Another process is writing this store."""


def default_home() -> Path:
    return Path(os.environ.get("LITKG_HOME", "data/store"))


def _empty_select(table: schema.Table) -> str:
    cols = ", ".join(f'NULL::{t} AS "{c}"' for c, t in table.columns.items())
    return f"SELECT {cols} WHERE false"


def _file_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def table_select(table: schema.Table, files: list[str]) -> str:
    """SQL reading a table's files with its contract columns (empty when it has none)."""
    if not files:
        return _empty_select(table)
    return f"SELECT {table.select_list()} FROM read_parquet({_file_list(files)})"


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class Manifest:
    """Live files per table and partition; the store's state is exactly what it names."""

    commit: int
    tables: dict[str, dict[str, list[str]]]
    meta: dict[str, Any]

    @classmethod
    def empty(cls) -> Manifest:
        return cls(commit=0, tables={name: {} for name in schema.tables()}, meta={})

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            return cls.empty()
        raw = json.loads(path.read_text(encoding="utf-8"))
        tables = {name: {} for name in schema.tables()}
        tables.update(raw["tables"])
        return cls(commit=raw["commit"], tables=tables, meta=raw.get("meta", {}))

    def dumps(self) -> str:
        return json.dumps(
            {"commit": self.commit, "tables": self.tables, "meta": self.meta},
            indent=1,
            sort_keys=True,
        )

    def files(self, table: str) -> list[str]:
        parts = self.tables.get(table, {})
        return [f for key in sorted(parts) for f in parts[key]]

    def all_files(self) -> set[str]:
        return {f for parts in self.tables.values() for files in parts.values() for f in files}


class Store:
    """A litkg store rooted at `home`."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.home = self.home.resolve()

    @property
    def catalog_path(self) -> Path:
        return self.home / CATALOG

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def exists(self) -> bool:
        return (self.home / MANIFEST).exists()

    def manifest(self) -> Manifest:
        return Manifest.load(self.home / MANIFEST)

    def abs(self, rel: str) -> str:
        return str(self.home / rel)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the catalog (the SQL surface users query)."""
        if not self.catalog_path.exists():
            raise StoreError(
                f"no litkg store at {self.home} (run `litkg backfill` or `litkg run` first)"
            )
        return duckdb.connect(str(self.catalog_path), read_only=True)

    @contextmanager
    def writer(self, timeout: float = 0) -> Iterator[Transaction]:
        """Exclusive write access; raises StoreLocked at once if another process writes."""
        self.home.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.home / ".lock"))
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout as exc:
            holder = self.home / ".lock.owner"
            who = holder.read_text() if holder.exists() else "another process"
            raise StoreLocked(
                f"store {self.home} is being written by {who}; try again when it finishes"
            ) from exc
        try:
            (self.home / ".lock.owner").write_text(f"pid {os.getpid()}")
            tx = Transaction(self)
            try:
                yield tx
            finally:
                tx.close()
        finally:
            lock.release()


class Transaction:
    """A unit of work on the store: reads see the transaction's own writes; commit is atomic."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.base = store.manifest()
        self.manifest = Manifest(
            commit=self.base.commit,
            tables={
                k: {p: list(v) for p, v in parts.items()} for k, parts in self.base.tables.items()
            },
            meta=dict(self.base.meta),
        )
        self.con = duckdb.connect()
        self.con.execute("SET preserve_insertion_order = false")
        load_macros(self.con)
        for name in schema.tables():
            self._refresh_view(name)
        self.con.execute((SQL_DIR / "derived.sql").read_text(encoding="utf-8"))
        self.written: list[str] = []
        self.committed = False

    # -- reading -----------------------------------------------------------------------------
    def _refresh_view(self, name: str) -> None:
        files = [self.store.abs(f) for f in self.manifest.files(name)]
        select = table_select(schema.table(name), files)
        if schema.has_history(name):  # as in the catalog: `<name>` is what holds now
            self.con.execute(f'CREATE OR REPLACE VIEW "{name}_history" AS {select}')
            select = f'SELECT * FROM "{name}_history" WHERE superseded_commit IS NULL'
        self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {select}')

    def sql(
        self, query: str, params: list[Any] | dict[str, Any] | None = None
    ) -> duckdb.DuckDBPyConnection:
        return self.con.execute(query, params or [])

    def partitions(self, name: str) -> list[str]:
        return sorted(p for p, files in self.manifest.tables[name].items() if files)

    # -- writing -----------------------------------------------------------------------------
    def _touch(self, name: str, partition: str) -> None:
        if name in CONSTRUCT_INPUTS and "=" in partition:
            dirty = self.manifest.meta.setdefault("dirty", {})
            days = set(dirty.get(name, []))
            days.add(partition.split("=", 1)[1])
            dirty[name] = sorted(days)

    def dirty_days(self) -> dict[str, list[str]]:
        """Input days written since the last construction, by table (ISO dates)."""
        return {k: list(v) for k, v in self.manifest.meta.get("dirty", {}).items()}

    def clear_dirty(self) -> None:
        self.manifest.meta.pop("dirty", None)

    def _new_file(self, name: str, partition: str) -> str:
        rel = f"data/{name}/{partition}/{uuid.uuid4().hex}.parquet"
        (self.store.home / rel).parent.mkdir(parents=True, exist_ok=True)
        self.written.append(rel)
        return rel

    def _copy(self, source_sql: str, rel: str, params: list[Any] | None = None) -> int:
        path = self.store.abs(rel).replace("'", "''")
        self.con.execute(
            f"COPY ({source_sql}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)", params or []
        )
        return self.con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]

    def _register(self, data: pa.Table | str) -> str:
        if isinstance(data, str):
            return data
        view = f"_in_{uuid.uuid4().hex[:8]}"
        self.con.register(view, data)
        return f"SELECT * FROM {view}"

    def replace_partition(self, name: str, partition: str, data: pa.Table | str) -> int:
        """Delete-insert: the partition's rows become exactly `data` (SQL or Arrow)."""
        table = schema.table(name)
        source = self._register(data)
        self._touch(name, partition)
        select = f"SELECT {table.select_list()} FROM ({source}) ORDER BY ALL"
        rel = self._new_file(name, partition)
        n = self._copy(select, rel)
        if n == 0:
            os.remove(self.store.abs(rel))
            self.manifest.tables[name].pop(partition, None)
        else:
            self.manifest.tables[name][partition] = [rel]
        self._refresh_view(name)
        return n

    def merge_partition(self, name: str, partition: str, data: pa.Table | str) -> int:
        """Merge by the table's key: new rows are added, rows with a known key are kept as-is."""
        table = schema.table(name)
        source = self._register(data)
        current = table_select(
            table, [self.store.abs(f) for f in self.manifest.tables[name].get(partition, [])]
        )
        key = ", ".join(f'"{k}"' for k in table.key)
        # deterministic among duplicates of one key; list columns can't be ordered, skip them
        order = ", ".join(f'"{c}"' for c, t in table.columns.items() if not t.endswith("]"))
        merged = (
            f"SELECT * FROM (SELECT *, 0 AS _prio FROM ({current}) UNION ALL BY NAME "
            f"SELECT {table.select_list()}, 1 AS _prio FROM ({source})) "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _prio, {order}) = 1"
        )
        return self.replace_partition(name, partition, f"SELECT * EXCLUDE (_prio) FROM ({merged})")

    def replace_table(
        self, name: str, data: pa.Table | str, partition_by: str | None = None
    ) -> int:
        """Replace a whole table, optionally split into partitions by a column's value."""
        self.manifest.tables[name] = {}
        if partition_by is None:
            return self.replace_partition(name, WHOLE, self._register(data))
        return self.replace_partitions(name, data, partition_by)

    def replace_partitions(self, name: str, data: pa.Table | str, partition_by: str) -> int:
        """Delete-insert every partition present in `data` (one pass, hive-style files)."""
        table = schema.table(name)
        select = f"SELECT {table.select_list()} FROM ({self._register(data)}) ORDER BY ALL"
        return self._write_partitioned(name, select, partition_by, replace=True)

    def _write_partitioned(self, name: str, select: str, partition_by: str, replace: bool) -> int:
        """Write `select` as hive-style files, one folder per value of `partition_by`; each
        partition written replaces the manifest's files for it (`replace`) or adds to them."""
        folder = f"data/{name}/_w{uuid.uuid4().hex[:12]}"
        (self.store.home / folder).parent.mkdir(parents=True, exist_ok=True)
        target = self.store.abs(folder).replace("'", "''")
        self.con.execute(
            f"COPY ({select}) TO '{target}' (FORMAT parquet, COMPRESSION zstd, "
            f'PARTITION_BY ("{partition_by}"), WRITE_PARTITION_COLUMNS true, '
            "FILENAME_PATTERN 'p_{uuid}')"
        )
        root = self.store.home / folder
        files = sorted(root.rglob("*.parquet")) if root.exists() else []
        written: dict[str, list[str]] = {}
        for path in files:
            rel = str(path.relative_to(self.store.home))
            self.written.append(rel)
            written.setdefault(path.parent.name, []).append(rel)  # "<column>=<value>"
        for key, rels in written.items():
            self._touch(name, key)
            kept = [] if replace else self.manifest.tables[name].get(key, [])
            self.manifest.tables[name][key] = kept + rels
        self._refresh_view(name)
        if not files:
            return 0
        paths = [str(p) for p in files]
        return self.con.execute("SELECT count(*) FROM read_parquet(?)", [paths]).fetchone()[0]

    def delete_rows(self, name: str, where_sql: str) -> int:
        """Delete the rows matching a predicate (it may read temp tables): only the files
        holding such rows are rewritten."""
        located = [(p, f) for p, files in self.manifest.tables[name].items() for f in files]
        if not located:
            return 0
        by_path = {self.store.abs(f): (p, f) for p, f in located}
        hits = self.con.execute(
            f"SELECT filename, count(*) FROM read_parquet(?, filename = true) "
            f"WHERE coalesce(({where_sql}), false) GROUP BY filename",
            [list(by_path)],
        ).fetchall()
        deleted = 0
        for path, n in hits:
            partition, rel = by_path[path]
            literal = "'" + path.replace("'", "''") + "'"
            keep = (f"SELECT * EXCLUDE (filename) FROM read_parquet({literal}, filename = true) "
                    f"WHERE NOT coalesce(({where_sql}), false)")
            new_rel = self._new_file(name, partition)
            left = self._copy(keep, new_rel)
            files = [f for f in self.manifest.tables[name][partition] if f != rel]
            if left:
                files.append(new_rel)
            else:
                os.remove(self.store.abs(new_rel))
            if files:
                self.manifest.tables[name][partition] = files
            else:
                self.manifest.tables[name].pop(partition)
            deleted += n
        self._refresh_view(name)
        return deleted

    def insert_rows(self, name: str, data: pa.Table | str) -> int:
        """Append rows (SQL or Arrow with the contract's columns) as new files."""
        table = schema.table(name)
        select = f"SELECT {table.select_list()} FROM ({self._register(data)})"
        if table.partition is None:
            rel = self._new_file(name, WHOLE)
            n = self._copy(select, rel)
            if n:
                self.manifest.tables[name].setdefault(WHOLE, []).append(rel)
            else:
                os.remove(self.store.abs(rel))
            self._refresh_view(name)
            return n
        return self._write_partitioned(name, select, table.partition, replace=False)

    def commit(self, meta: dict[str, Any] | None = None) -> None:
        """Atomically publish every write of this transaction (manifest, then catalog)."""
        home = self.store.home
        self.manifest.commit = self.base.commit + 1
        self.manifest.meta.update(meta or {})
        self.manifest.meta["committed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        if (home / MANIFEST).exists():
            shutil.copyfile(home / MANIFEST, home / PREVIOUS_MANIFEST)
        _atomic_write_text(home / MANIFEST, self.manifest.dumps())
        write_catalog(self.store, self.manifest)
        self.committed = True
        self._collect_garbage()

    def _collect_garbage(self) -> None:
        keep = self.manifest.all_files()
        keep |= Manifest.load(self.store.home / PREVIOUS_MANIFEST).all_files()
        data = self.store.home / "data"
        if not data.exists():
            return
        for path in data.rglob("*.parquet"):
            if str(path.relative_to(self.store.home)) not in keep:
                path.unlink(missing_ok=True)
        for folder in sorted(data.rglob("*"), key=lambda p: -len(p.parts)):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def close(self) -> None:
        if not self.committed:
            for rel in self.written:
                Path(self.store.abs(rel)).unlink(missing_ok=True)
        self.con.close()


def load_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Scalar macros the construction SQL and users both rely on (canonical keys...)."""
    con.execute((SQL_DIR / "functions.sql").read_text(encoding="utf-8"))


def write_catalog(store: Store, manifest: Manifest) -> None:
    """(Re)create the DuckDB catalog: views over the manifest's files, then the SQL surface."""
    final = store.catalog_path
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    con = duckdb.connect(str(tmp))
    try:
        load_macros(con)
        for name, table in schema.tables().items():
            files = [store.abs(f) for f in manifest.files(name)]
            # Stored tables are exposed as `stored_<name>`; the public names are views that
            # may add derived columns (see sql/catalog.sql).
            con.execute(f'CREATE VIEW "stored_{name}" AS {table_select(table, files)}')
        vocab = schema.vocabulary(manifest.meta.get("vocabulary", "ml"))
        con.execute(
            'CREATE TABLE relations (relation VARCHAR, definition VARCHAR, "symmetric" BOOLEAN, '
            "antisymmetric BOOLEAN, inverse_of VARCHAR, contradicts VARCHAR[])"
        )
        con.executemany(
            "INSERT INTO relations VALUES (?, ?, ?, ?, ?, ?)",
            [
                [r.name, r.definition, r.symmetric, r.antisymmetric, r.inverse_of, r.contradicts]
                for r in vocab.relations.values()
            ],
        )
        con.execute("CREATE TABLE store_meta (key VARCHAR, value VARCHAR)")
        con.executemany(
            "INSERT INTO store_meta VALUES (?, ?)",
            [["home", str(store.home)], ["commit", str(manifest.commit)]]
            + [[k, str(v)] for k, v in sorted(manifest.meta.items())],
        )
        con.execute((SQL_DIR / "catalog.sql").read_text(encoding="utf-8"))
        public = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        for name in schema.tables():  # component tables (llm_usage...) get a plain view
            if name not in public:
                con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "stored_{name}"')
        con.execute((SQL_DIR / "derived.sql").read_text(encoding="utf-8"))
        con.execute((SQL_DIR / "catalog_macros.sql").read_text(encoding="utf-8"))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, final)
