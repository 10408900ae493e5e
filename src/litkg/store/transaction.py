"""A unit of work on the store: reads see its own writes (views over the files it would
publish); `commit()` publishes them with one rename of the manifest."""

from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from litkg import faults, schema
from litkg.store.catalog import CATALOG, SQL_DIR, load_macros, table_select, write_catalog
from litkg.store.manifest import JOURNALS, MANIFEST, WHOLE, atomic_write_text, retain_seconds

if TYPE_CHECKING:
    from litkg.store import Store

# Inputs of the constructor: a write to one of their day partitions marks that day dirty (in the
# manifest's meta) until the next construction, which then judges only what those days touch.
CONSTRUCT_INPUTS = ("documents", "deletions", "assertions", "abbreviations")
log = logging.getLogger(__name__)
PARTITIONS_PER_COPY = 1000


def memory_limit() -> str:
    """DuckDB's memory limit for a writer: $LITKG_MEMORY_LIMIT (e.g. 4GB), else 60 % of RAM."""
    if os.environ.get("LITKG_MEMORY_LIMIT"):
        return os.environ["LITKG_MEMORY_LIMIT"]
    import psutil

    return f"{int(psutil.virtual_memory().total * 0.6 / 2**20)}MB"


def temp_directory(home: Path) -> Path:
    """Where a writer spills: $LITKG_TEMP_DIR, else <home>/tmp."""
    return Path(os.environ.get("LITKG_TEMP_DIR") or home / "tmp")


class Transaction:
    """A unit of work on the store: reads see the transaction's own writes; commit is atomic."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.base = store.manifest()
        self.manifest = self.base.copy()
        self.con = duckdb.connect()
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET parquet_metadata_cache = true")  # files are never rewritten
        # a big build spills to the store's tmp/ instead of dying at DuckDB's default limit
        tmp = temp_directory(store.home)
        tmp.mkdir(parents=True, exist_ok=True)
        self.con.execute(f"SET temp_directory = '{str(tmp).replace(chr(39), chr(39) * 2)}'")
        self.con.execute(f"SET memory_limit = '{memory_limit()}'")
        load_macros(self.con)
        for name in schema.tables():
            self._refresh_view(name)
        self.con.execute((SQL_DIR / "derived.sql").read_text(encoding="utf-8"))
        self.written: list[str] = []
        self._journal: Path | None = None

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

    def _log(self, rels: list[str]) -> None:
        """Journal paths (files or folders) this transaction is about to write or drop, before
        it does: a commit collects what a dead transaction's journal names and no manifest does,
        instead of walking every file of the store."""
        if self._journal is None:
            folder = self.store.home / JOURNALS
            folder.mkdir(exist_ok=True)
            self._journal = folder / f"{uuid.uuid4().hex}.txt"
        with self._journal.open("a", encoding="utf-8") as fh:
            fh.write("".join(f"{rel}\n" for rel in rels))

    def _new_file(self, name: str, partition: str) -> str:
        rel = f"data/{name}/{partition}/{uuid.uuid4().hex}.parquet"
        self._log([rel])
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
        select = f"SELECT {table.select_list()} FROM ({self._register(data)})"
        return self._write_partitioned(name, select, partition_by, replace=True)

    def _write_partitioned(self, name: str, select: str, partition_by: str, replace: bool) -> int:
        """Write `select` as hive-style files, one folder per value of `partition_by`; each
        partition written replaces the manifest's files for it (`replace`) or adds to them."""
        folder = f"data/{name}/_w{uuid.uuid4().hex[:12]}"
        self._log([folder])
        (self.store.home / folder).parent.mkdir(parents=True, exist_ok=True)
        target = self.store.abs(folder).replace("'", "''")
        stage = f"_part_{uuid.uuid4().hex[:8]}"
        self.con.execute(f"CREATE TEMP TABLE {stage} AS {select}")
        try:
            # At most PARTITIONS_PER_COPY partitions per COPY: a write's memory grows with the
            # partitions it has open (18,000 days in one COPY ran out of 6 GB).
            values = [r[0] for r in self.con.execute(
                f'SELECT DISTINCT "{partition_by}" FROM {stage} ORDER BY 1').fetchall()]
            for i in range(0, len(values), PARTITIONS_PER_COPY):
                chunk = values[i:i + PARTITIONS_PER_COPY]
                nulls = f' OR "{partition_by}" IS NULL' if None in chunk else ""
                self.con.execute(
                    f'COPY (SELECT * FROM {stage} WHERE "{partition_by}" IN '
                    f"(SELECT unnest(?)){nulls}) TO '{target}' (FORMAT parquet, COMPRESSION zstd, "
                    f'PARTITION_BY ("{partition_by}"), WRITE_PARTITION_COLUMNS true, '
                    "FILENAME_PATTERN 'p_{uuid}', OVERWRITE_OR_IGNORE true)", [chunk])
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {stage}")
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
        t0 = time.perf_counter()
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
        log.debug("delete_rows %s: %d rows from %d of %d files, %.3f s", name, deleted,
                  len(hits), len(located), time.perf_counter() - t0)
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
        horizon = now.timestamp() - retain_seconds()
        self.manifest.retired = {f: t for f, t in sorted(retired.items())
                                 if datetime.fromisoformat(t).timestamp() > horizon}
        expired = sorted(set(retired) - set(self.manifest.retired))
        if expired:  # journaled first: a kill after the rename still gets them collected
            self._log(expired)
        atomic_write_text(home / MANIFEST, self.manifest.dumps())  # the commit
        self.written = []  # named by the manifest now: never removed by close()
        self.base = self.manifest.copy()
        faults.point("manifest-written")
        try:
            write_catalog(self.store.home, self.manifest)
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
        """Remove what no commit names: what the journals of this and of dead transactions
        list (files written and never committed, files retired longer than the retention),
        temporary manifests and catalogs. The writer's lock is held: every other journal
        belongs to a transaction that died. A store without journals (written by an older
        litkg) is walked once."""
        home = self.store.home
        keep = self.manifest.all_files() | set(self.manifest.retired)
        for pattern in (f"{MANIFEST}.*.tmp", f".{CATALOG}.*.tmp", "manifest.prev.json"):
            for path in home.glob(pattern):
                path.unlink(missing_ok=True)
        folder = home / JOURNALS
        if not (folder / "walked").exists():
            self._collect_everything(keep)
            folder.mkdir(exist_ok=True)
            (folder / "walked").touch()
        for journal in sorted(folder.glob("*.txt")):
            for rel in dict.fromkeys(journal.read_text(encoding="utf-8").splitlines()):
                self._remove_unnamed(rel, keep)
            if journal != self._journal:
                journal.unlink(missing_ok=True)
        if self._journal is not None:
            self._journal.unlink(missing_ok=True)
            self._journal = None

    def _remove_unnamed(self, rel: str, keep: set[str]) -> None:
        """Remove the file `rel`, or the files under the folder `rel`, that `keep` does not
        name; then its folders, up to data/, while they are empty."""
        home = self.store.home
        path = home / rel
        if path.is_dir():
            for file in sorted(path.rglob("*.parquet")):
                if str(file.relative_to(home)) not in keep:
                    file.unlink(missing_ok=True)
            for sub in sorted(path.rglob("*"), key=lambda p: -len(p.parts)):
                if sub.is_dir() and not any(sub.iterdir()):
                    sub.rmdir()
        elif rel not in keep:
            path.unlink(missing_ok=True)
        data = home / "data"
        parent = path if path.is_dir() else path.parent
        while parent != data and data in parent.parents and parent.exists():
            if any(parent.iterdir()):
                break
            parent.rmdir()
            parent = parent.parent

    def _collect_everything(self, keep: set[str]) -> None:
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
        """Remove the files of writes that were not committed."""
        for rel in self.written:
            Path(self.store.abs(rel)).unlink(missing_ok=True)
        self.written = []
        if self._journal is not None:  # what it names is removed above, or committed
            self._journal.unlink(missing_ok=True)
        self.con.close()
