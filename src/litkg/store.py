"""The store: Parquet files under $LITKG_HOME, a manifest naming the live files, a DuckDB catalog.

Layout::

    $LITKG_HOME/
      manifest.json        live files of every table, by partition: THE commit point
      litkg.duckdb         catalog: views over the live files + the SQL macros (read-only use);
                           a cache of the manifest, rebuilt by any reader that finds it behind
      data/<table>/<partition>/<uuid>.parquet
      cache/               extraction cache (content hash x extractor config)
      .lock                one writer at a time

A write never modifies a file: it writes new files, then atomically replaces the manifest. That
rename is the commit: before it the previous state is intact (the files written are orphans,
removed by the transaction or by the next commit), after it the commit is durable whatever
happens to the catalog, which `Store.connect()` rebuilds when it is missing, older than the
manifest or names another home (a copied store). Files a commit drops are kept for
`LITKG_RETAIN_SECONDS` (default 300) in the manifest's `retired` list, so a query running over
the previous state finishes; `litkg.open` readers follow each new commit by themselves.
Fault points (`litkg.faults`) mark each step of the commit for the crash tests.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import filelock
import pyarrow as pa

from litkg import faults, schema

MANIFEST = "manifest.json"
CATALOG = "litkg.duckdb"
WHOLE = "_all"  # partition name of unpartitioned tables
# Inputs of the constructor: a write to one of their day partitions marks that day dirty (in the
# manifest's meta) until the next construction, which then judges only what those days touch.
CONSTRUCT_INPUTS = ("documents", "deletions", "assertions", "abbreviations")
SQL_DIR = Path(__file__).parent / "sql"
RETAIN_SECONDS = 300  # how long a file dropped by a commit stays for queries in flight
log = logging.getLogger(__name__)
# A full disk or a read-only mount: the store cannot be written, which is not a bug to trace.
_UNWRITABLE = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
               errno.EROFS: "read-only file system"}


def retain_seconds() -> float:
    return float(os.environ.get("LITKG_RETAIN_SECONDS", RETAIN_SECONDS))


def unwritable_reason(exc: BaseException) -> str | None:
    """'no space left on device' (etc.) when `exc` says the store cannot be written."""
    if isinstance(exc, OSError) and exc.errno in _UNWRITABLE:
        return _UNWRITABLE[exc.errno]
    text = str(exc)
    for reason in ("No space left on device", "Read-only file system", "Disk quota exceeded"):
        if reason in text:
            return reason.lower()
    return None


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
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the store from its readers
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Manifest:
    """Live files per table and partition; the store's state is exactly what it names."""

    commit: int
    tables: dict[str, dict[str, list[str]]]
    meta: dict[str, Any]
    retired: dict[str, str] = field(default_factory=dict)  # file -> when a commit dropped it

    @classmethod
    def empty(cls) -> Manifest:
        return cls(commit=0, tables={name: {} for name in schema.tables()}, meta={})

    def copy(self) -> Manifest:
        return Manifest(commit=self.commit,
                        tables={k: {p: list(v) for p, v in parts.items()}
                                for k, parts in self.tables.items()},
                        meta=json.loads(json.dumps(self.meta)), retired=dict(self.retired))

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            return cls.empty()
        raw = json.loads(path.read_text(encoding="utf-8"))
        tables = {name: {} for name in schema.tables()}
        tables.update(raw["tables"])
        return cls(commit=raw["commit"], tables=tables, meta=raw.get("meta", {}),
                   retired=raw.get("retired", {}))

    def dumps(self) -> str:
        return json.dumps(
            {"commit": self.commit, "tables": self.tables, "meta": self.meta,
             "retired": self.retired},
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

    @property
    def manifest_path(self) -> Path:
        return self.home / MANIFEST

    def stamp(self) -> tuple[int, int] | None:
        """Changes with every commit (the manifest is replaced, never rewritten in place)."""
        try:
            st = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the SQL surface of the last commit.

        The catalog file is a cache of the manifest: when a crash left it behind the manifest,
        or the store was copied (the catalog names absolute paths), it is rebuilt here, under
        the writer's lock. If a writer holds that lock, or the store cannot be written (a
        read-only mount, a full disk), the reader gets a private in-memory catalog instead."""
        if not self.exists():
            raise StoreError(
                f"no litkg store at {self.home} (run `litkg backfill` or `litkg run` first)"
            )
        con = self._open_catalog(self.manifest().commit)
        if con is not None:
            return con
        try:
            with self.lock():
                write_catalog(self, self.manifest())
            con = self._open_catalog(self.manifest().commit)
        except (StoreLocked, OSError, duckdb.Error):
            con = None
        if con is None:
            con = duckdb.connect()
            build_catalog(con, self, self.manifest())
        return con

    def _open_catalog(self, commit: int) -> duckdb.DuckDBPyConnection | None:
        """The catalog file, if it describes this home at `commit` (or a later commit)."""
        if not self.catalog_path.exists():
            return None
        try:
            con = duckdb.connect(str(self.catalog_path), read_only=True)
        except duckdb.Error:
            return None
        try:
            meta = dict(con.execute("SELECT key, value FROM store_meta "
                                    "WHERE key IN ('commit', 'home')").fetchall())
            if meta.get("home") == str(self.home) and int(meta.get("commit", -1)) >= commit:
                return con
        except duckdb.Error:
            pass
        con.close()
        return None

    @contextmanager
    def lock(self, timeout: float = 0) -> Iterator[None]:
        """The writer's lock (`.lock`), held by one process at a time."""
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
            yield
        finally:
            lock.release()

    @contextmanager
    def writer(self, timeout: float = 0) -> Iterator[Transaction]:
        """Exclusive write access; raises StoreLocked at once if another process writes.
        A full disk or a read-only store is a StoreError naming the cause (the store keeps its
        last commit), not a traceback."""
        try:
            with self.lock(timeout):
                tx = Transaction(self)
                try:
                    yield tx
                finally:
                    tx.close()
        except (OSError, duckdb.Error) as exc:
            reason = unwritable_reason(exc)
            if reason is None:
                raise
            last = self.manifest().commit if self.exists() else 0
            raise StoreError(f"cannot write the store at {self.home}: {reason}; it keeps its "
                             f"last commit ({last}): free space or make it writable, then "
                             "rerun") from exc


class Transaction:
    """A unit of work on the store: reads see the transaction's own writes; commit is atomic."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.base = store.manifest()
        self.manifest = self.base.copy()
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
        """Publish every write of this transaction: the manifest's atomic rename is the commit.
        The catalog and the garbage collection that follow are best effort (a reader rebuilds
        a catalog left behind; the next commit collects what this one did not). The
        transaction may go on from the committed state."""
        home = self.store.home
        faults.point("files-written")
        now = datetime.now(UTC)
        self.manifest.commit = self.base.commit + 1
        self.manifest.meta.update(meta or {})
        self.manifest.meta["committed_at"] = now.isoformat(timespec="seconds")
        live = self.manifest.all_files()
        retired = {f: t for f, t in self.base.retired.items() if f not in live}
        for rel in self.base.all_files() - live:
            retired[rel] = now.isoformat(timespec="seconds")
        horizon = (now.timestamp() - retain_seconds())
        self.manifest.retired = {f: t for f, t in sorted(retired.items())
                                 if datetime.fromisoformat(t).timestamp() > horizon}
        _atomic_write_text(home / MANIFEST, self.manifest.dumps())  # the commit
        self.committed = True
        self.written = []  # named by the manifest now: never removed by close()
        self.base = self.manifest.copy()
        faults.point("manifest-written")
        try:
            write_catalog(self.store, self.manifest)
        except (OSError, duckdb.Error) as exc:
            log.info("commit %d is durable, its catalog was not written (%s): the next "
                        "reader rebuilds it", self.manifest.commit, exc)
        faults.point("catalog-written")
        try:
            self._collect_garbage()
        except OSError as exc:
            log.warning("commit %d: garbage collection stopped (%s); the next commit goes on",
                        self.manifest.commit, exc)
        faults.point("collected")

    def _collect_garbage(self) -> None:
        """Remove what no commit names: files of transactions that never committed, files
        retired longer than the retention, temporary manifests and catalogs (the writer's lock
        is held: nobody else is writing any of them)."""
        home = self.store.home
        keep = self.manifest.all_files() | set(self.manifest.retired)
        for pattern in (f"{MANIFEST}.*.tmp", f".{CATALOG}.*.tmp", "manifest.prev.json"):
            for path in home.glob(pattern):
                path.unlink(missing_ok=True)
        data = home / "data"
        if not data.exists():
            return
        for path in data.rglob("*.parquet"):
            if str(path.relative_to(home)) not in keep:
                path.unlink(missing_ok=True)
        for folder in sorted(data.rglob("*"), key=lambda p: -len(p.parts)):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def close(self) -> None:
        """Remove the files of writes that were not committed."""
        for rel in self.written:
            Path(self.store.abs(rel)).unlink(missing_ok=True)
        self.written = []
        self.con.close()


def load_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Scalar macros the construction SQL and users both rely on (canonical keys...)."""
    con.execute((SQL_DIR / "functions.sql").read_text(encoding="utf-8"))


def write_catalog(store: Store, manifest: Manifest) -> None:
    """(Re)create the catalog file: written beside it, then renamed over it."""
    final = store.catalog_path
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            build_catalog(con, store, manifest)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)


def build_catalog(con: duckdb.DuckDBPyConnection, store: Store, manifest: Manifest) -> None:
    """The SQL surface of `manifest` in `con`: views over its files, the vocabulary, the store's
    metadata, the public views and macros."""
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
