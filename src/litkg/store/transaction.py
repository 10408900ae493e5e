"""A unit of work on the store: reads see its own writes (views over the files it would
publish); `commit()` publishes them with one rename of the manifest."""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from litkg import faults, schema
from litkg.store.arrow import registered_values
from litkg.store.catalog import (
    NO_HIVE,
    SQL_DIR,
    file_list,
    history_select,
    load_macros,
    table_select,
    write_catalog,
)
from litkg.store.garbage import collect, journal
from litkg.store.manifest import MANIFEST, WHOLE, atomic_write_text, retain_seconds

if TYPE_CHECKING:
    from litkg.store import Store

# Inputs of the constructor: a write to one of their day partitions marks that day dirty (in the
# manifest's meta) until the next construction, which then judges only what those days touch.
CONSTRUCT_INPUTS = ("documents", "deletions", "assertions", "abbreviations")
log = logging.getLogger(__name__)
PARTITIONS_PER_COPY = 1000
FILES_PER_MONTH = 8  # a month's files of a month-grouped table are merged past this many
# zstd at level 1 rather than DuckDB's default 3: on the 1M benchmark's tables it writes 1.1-1.9x
# faster and the files come out no bigger (links 57 -> 55 MB, edges 37 -> 36, assertions
# 40 -> 37), so a rebuild's writes (a third of it) cost less
PARQUET = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"


_MONTH = re.compile(r"\d{4}-\d{2}")


def _value(key: str) -> str:
    """"day=2024-03-05" -> "2024-03-05"; "" for the whole-table key of a store that predates
    a table's partitioning (its file is read as is, and rewritten by partition when hit)."""
    return key.partition("=")[2]


def _keys_filter(column: str, keys: set[str] | list[str]) -> str:
    """SQL true for the rows of these partitions (`column=value` keys)."""
    values = ", ".join("'" + _value(k).replace("'", "''") + "'" for k in sorted(keys))
    return f'CAST("{column}" AS VARCHAR) IN ({values})'


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
        self._months: dict[str, set[str]] = {}  # month-grouped tables: months written
        self._dirty: dict[str, set[str]] = {}  # input days written (the meta's, as sets)

    # -- reading -----------------------------------------------------------------------------
    def _refresh_view(self, name: str) -> None:
        table = schema.table(name)
        files = [self.store.abs(f) for f in self.manifest.files(name)]
        marks = [self.store.abs(f) for f in self.manifest.files(table.supersessions or "")]
        select = history_select(table, files, marks)
        if schema.has_history(name):  # as in the catalog: `<name>` is what holds now
            self.con.execute(f'CREATE OR REPLACE VIEW "{name}_history" AS {select}')
            select = f'SELECT * FROM "{name}_history" WHERE superseded_commit IS NULL'
        self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {select}')
        for parent in schema.tables().values():  # marks changed: the table they mark too
            if parent.supersessions == name:
                self._refresh_view(parent.name)

    def sql(
        self, query: str, params: list[Any] | dict[str, Any] | None = None
    ) -> duckdb.DuckDBPyConnection:
        return self.con.execute(query, params or [])

    def partitions(self, name: str) -> list[str]:
        return sorted(p for p, files in self.manifest.tables[name].items() if files)

    def partition_select(self, name: str, partition: str) -> str:
        """SQL of one partition's rows as stored now (a month file holds other days too)."""
        table = schema.table(name)
        files = self.manifest.tables[name].get(partition, [])
        select = table_select(table, [self.store.abs(f) for f in files])
        if files and table.files == "month":
            select += f" WHERE {_keys_filter(table.partition, [partition])}"
        return select

    # -- month files: day partitions grouped ---------------------------------------------------
    def _grouped(self, name: str) -> bool:
        return schema.table(name).files == "month"

    def _detach(self, name: str, keys: set[str]) -> None:
        """Before the partitions `keys` are replaced: each file they share with other
        partitions is rewritten without their rows, for those others (one month at most)."""
        table = schema.table(name)
        parts = self.manifest.tables[name]
        mine = {f for k in keys for f in parts.get(k, [])}
        listing: dict[str, list[str]] = {}
        for key, files in parts.items():
            for f in files:
                if f in mine and key not in keys:
                    listing.setdefault(f, []).append(key)
        for old, others in sorted(listing.items()):
            rel = self._new_file(name, f"months/{_value(others[0])[:7]}")
            left = self._copy(
                f"SELECT {table.select_list()} FROM "
                f"read_parquet('{self._sql_path(old)}', {NO_HIVE}) "
                f"WHERE NOT ({_keys_filter(table.partition, keys)})", rel)
            for key in others:
                parts[key] = [f for f in parts[key] if f != old] + ([rel] if left else [])
                if not parts[key]:
                    parts.pop(key)
            if not left:
                os.remove(self.store.abs(rel))
        for key in keys:
            if key in parts:
                parts[key] = [f for f in parts[key] if f not in listing]

    def _compact(self, name: str, months: set[str]) -> None:
        """Merge each of `months` into one file once it holds more than FILES_PER_MONTH: a
        nightly day (or a commit's edge versions) is its own file at first, and a table stays
        a few files per month."""
        table = schema.table(name)
        parts = self.manifest.tables[name]
        # the keys grouped by month in one pass: a rebuild compacts every month, and a scan of
        # all keys per month cost 18,000 keys x 600 months (~20 s of a 3M rebuild)
        by_month: dict[str, list[str]] = {}
        for k in sorted(parts):
            if parts[k] and _value(k)[:7] in months:
                by_month.setdefault(_value(k)[:7], []).append(k)
        for month in sorted(months):
            keys = by_month.get(month, [])
            # a month-grouped table merges its days; any other merges within one partition
            groups = [keys] if table.files == "month" else [[k] for k in keys]
            for group in groups:
                files = list(dict.fromkeys(f for k in group for f in parts[k]))
                if len(files) <= FILES_PER_MONTH:
                    continue
                rel = self._new_file(name, f"months/{month}" if len(group) > 1 else group[0])
                paths = file_list([self.store.abs(f) for f in files])
                self._copy(f'SELECT {table.select_list()} FROM read_parquet({paths}, {NO_HIVE}) '
                           f'ORDER BY "{table.partition}"', rel)
                for key in group:
                    parts[key] = [rel]
        self._refresh_view(name)

    def _sql_path(self, rel: str) -> str:
        return self.store.abs(rel).replace("'", "''")

    # -- writing -----------------------------------------------------------------------------
    def _touch(self, name: str, partition: str) -> None:
        if name in CONSTRUCT_INPUTS and "=" in partition:
            # a set per table, written back to the manifest's meta when read or committed: a
            # sorted list rebuilt per day made a load of 18,000 days quadratic
            days = self._dirty.get(name)
            if days is None:
                days = self._dirty[name] = set(self.manifest.meta.get("dirty", {}).get(name, []))
            days.add(partition.split("=", 1)[1])

    def mark_dirty(self, name: str, day: date) -> None:
        """An input day whose derived rows may change though none of its rows did (a new
        cross-reference merges papers from its day on): constructed at the next commit."""
        self._touch(name, f"{schema.table(name).partition}={day.isoformat()}")

    def _sync_dirty(self) -> None:
        if self._dirty:
            dirty = self.manifest.meta.setdefault("dirty", {})
            for name, days in self._dirty.items():
                dirty[name] = sorted(days)

    def dirty_days(self) -> dict[str, list[str]]:
        """Input days written since the last construction, by table (ISO dates)."""
        self._sync_dirty()
        return {k: list(v) for k, v in self.manifest.meta.get("dirty", {}).items()}

    def clear_dirty(self) -> None:
        self._dirty = {}
        self.manifest.meta.pop("dirty", None)

    def _log(self, rels: list[str]) -> None:
        """Journal paths this transaction is about to write or drop, before it does."""
        self._journal = journal(self.store.home, rels, self._journal)

    def _new_file(self, name: str, partition: str) -> str:
        rel = f"data/{name}/{partition}/{uuid.uuid4().hex}.parquet"
        self._log([rel])
        (self.store.home / rel).parent.mkdir(parents=True, exist_ok=True)
        self.written.append(rel)
        return rel

    def _copy(self, source_sql: str, rel: str, params: list[Any] | None = None) -> int:
        path = self.store.abs(rel).replace("'", "''")
        self.con.execute(
            f"COPY ({source_sql}) TO '{path}' ({PARQUET})", params or []
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
        if table.files == "month":
            self._detach(name, {partition})
            self._months.setdefault(name, set()).add(_value(partition)[:7])
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
        current = self.partition_select(name, partition)
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
        partition_by = partition_by or schema.table(name).partition
        if partition_by is None:
            return self.replace_partition(name, WHOLE, self._register(data))
        return self.replace_partitions(name, data, partition_by)

    def replace_partitions(self, name: str, data: pa.Table | str, partition_by: str) -> int:
        """Delete-insert every partition present in `data` (one pass, hive-style files)."""
        table = schema.table(name)
        select = f"SELECT {table.select_list()} FROM ({self._register(data)})"
        return self._write_partitioned(name, select, partition_by, replace=True)

    def _write_partitioned(self, name: str, select: str, partition_by: str, replace: bool,
                           touch: bool = True) -> int:
        """Write `select` as hive-style files, one folder per value of `partition_by` (per
        month for a month-grouped table: its file lists under each of its days); each
        partition written replaces the manifest's files for it (`replace`) or adds to them."""
        folder = f"data/{name}/_w{uuid.uuid4().hex[:12]}"
        self._log([folder])
        (self.store.home / folder).parent.mkdir(parents=True, exist_ok=True)
        target = self.store.abs(folder).replace("'", "''")
        stage = f"_part_{uuid.uuid4().hex[:8]}"
        grouped = self._grouped(name)
        by = "_month" if grouped else partition_by
        month = f""", strftime("{partition_by}", '%Y-%m') AS _month""" if grouped else ""
        self.con.execute(f"CREATE TEMP TABLE {stage} AS SELECT *{month} FROM ({select})")
        try:
            # the folders COPY writes (one per value of `by`) and the partitions each holds
            found = self.con.execute(f'SELECT DISTINCT "{by}", CAST("{partition_by}" AS VARCHAR) '
                                     f"FROM {stage} ORDER BY ALL").fetchall()
            keys: dict[str, list[str]] = {}  # month folder -> the days its file holds
            for group, value in found if grouped else []:
                keys.setdefault(f"_month={group}", []).append(f"{partition_by}={value}")
            if grouped and replace:
                self._detach(name, {k for ks in keys.values() for k in ks})
            # At most PARTITIONS_PER_COPY partitions per COPY: a write's memory grows with the
            # partitions it has open (18,000 days in one COPY ran out of 6 GB).
            values = list(dict.fromkeys(group for group, _ in found))
            for i in range(0, len(values), PARTITIONS_PER_COPY):
                chunk = values[i:i + PARTITIONS_PER_COPY]
                nulls = f' OR "{by}" IS NULL' if None in chunk else ""
                # sorted by partition, COPY writes one file per partition (unsorted, each
                # thread wrote its own, and more when too many were open: 5 per edge month)
                order = f' ORDER BY "{partition_by}"' if grouped else f' ORDER BY "{by}"'
                with registered_values(self.con, chunk) as wanted:
                    self.con.execute(
                        f'COPY (SELECT * FROM {stage} WHERE "{by}" IN {wanted}{nulls}{order}) '
                        f"TO '{target}' ({PARQUET}, "
                        f'PARTITION_BY ("{by}"), '
                        f"WRITE_PARTITION_COLUMNS {str(not grouped).lower()}, "
                        "FILENAME_PATTERN 'p_{uuid}', OVERWRITE_OR_IGNORE true)")
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {stage}")
        root = self.store.home / folder
        files = sorted(root.rglob("*.parquet")) if root.exists() else []
        written: dict[str, list[str]] = {}
        for path in files:
            rel = str(path.relative_to(self.store.home))
            self.written.append(rel)
            for key in keys.get(path.parent.name, [path.parent.name]):  # "<column>=<value>"
                written.setdefault(key, []).append(rel)
        for key, rels in written.items():
            if touch:  # rows moved by a delete are not new input
                self._touch(name, key)
            if _MONTH.match(_value(key)):  # dated partitions: merged per month past a limit
                self._months.setdefault(name, set()).add(_value(key)[:7])
            kept = [] if replace else self.manifest.tables[name].get(key, [])
            self.manifest.tables[name][key] = kept + rels
        self._refresh_view(name)
        if not files:
            return 0
        listed = file_list([str(p) for p in files])  # literal: a list parameter binds slowly
        return self.con.execute(f"SELECT count(*) FROM read_parquet({listed})").fetchone()[0]

    def delete_rows(self, name: str, where_sql: str) -> int:
        """Delete the rows matching a predicate (it may read temp tables): only the files
        holding such rows are rewritten, all in one write."""
        parts = self.manifest.tables[name]
        listing: dict[str, list[str]] = {}  # file -> the partitions listing it
        for partition, files in parts.items():
            for f in files:
                listing.setdefault(f, []).append(partition)
        if not listing:
            return 0
        t0 = time.perf_counter()
        by_path = {self.store.abs(f): f for f in listing}
        every = file_list(sorted(by_path))  # literal: a list parameter binds several times slower
        hits = self.con.execute(
            f"SELECT filename, count(*) FROM read_parquet({every}, filename = true, {NO_HIVE}) "
            f"WHERE ({where_sql}) GROUP BY filename ORDER BY filename",  # NULL: no hit
        ).fetchall()
        if not hits:
            log.debug("delete_rows %s: no rows in %d files, %.3f s", name, len(listing),
                      time.perf_counter() - t0)
            return 0
        table = schema.table(name)
        gone = {by_path[path] for path, _ in hits}
        paths = file_list([self.store.abs(f) for f in sorted(gone)])
        kept = (f"SELECT {table.select_list()} FROM read_parquet({paths}, {NO_HIVE}) "
                f"WHERE NOT coalesce(({where_sql}), false)")
        if table.partition is None:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE _kept AS {kept}")
            kept = "SELECT * FROM _kept"
        for partition in {k for f in gone for k in listing[f]}:
            parts[partition] = [f for f in parts[partition] if f not in gone]
        if table.partition is None:
            self.insert_rows(name, kept)
            self.con.execute("DROP TABLE _kept")
        else:  # the rows kept go back to their partitions (their month, if grouped)
            self._write_partitioned(name, kept, table.partition, replace=False, touch=False)
        for partition in [k for k, files in parts.items() if not files]:
            parts.pop(partition)
        self._refresh_view(name)
        deleted = sum(n for _, n in hits)
        log.debug("delete_rows %s: %d rows from %d of %d files, %.3f s", name, deleted,
                  len(hits), len(listing), time.perf_counter() - t0)
        return deleted

    def insert_rows(self, name: str, data: pa.Table | str, into: str | None = None) -> int:
        """Append rows (SQL or Arrow with the contract's columns) as new files: one per
        partition of the rows, or one file listed under the partition `into` (a commit's
        versions of edges from many months, kept together instead of a file in each month)."""
        table = schema.table(name)
        select = f"SELECT {table.select_list()} FROM ({self._register(data)})"
        if table.partition is None or into is not None:
            key = into or WHOLE
            rel = self._new_file(name, key)
            n = self._copy(select, rel)
            if n:
                parts = self.manifest.tables[name]  # a new list: copies share the old one
                parts[key] = [*parts.get(key, []), rel]
                if _MONTH.match(_value(key)):  # merged past a limit, like any dated partition
                    self._months.setdefault(name, set()).add(_value(key)[:7])
            else:
                os.remove(self.store.abs(rel))
            self._refresh_view(name)
            return n
        return self._write_partitioned(name, select, table.partition, replace=False)

    def commit(self, meta: dict[str, Any] | None = None, catalog: bool = True) -> None:
        """Publish every write of this transaction: the manifest's atomic rename is the commit.
        The catalog and the garbage collection that follow are best effort (a reader rebuilds
        a catalog left behind; the next commit collects what this one did not); `catalog=False`
        leaves the catalog to the next commit or reader (a commit another follows at once).
        The transaction may go on from the committed state."""
        home = self.store.home
        for name, months in sorted(self._months.items()):
            self._compact(name, months)
        self._months = {}
        self._sync_dirty()
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
        self.store.remember(self.base)
        faults.point("manifest-written")
        try:
            if catalog:
                write_catalog(self.store.home, self.manifest, stamp=self.store.stamp())
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
        """Remove what no commit names (see `litkg.store.garbage`); the writer's lock is held."""
        collect(self.store.home, self.manifest.all_files() | set(self.manifest.retired),
                self._journal)
        self._journal = None

    def close(self) -> None:
        """Remove the files of writes that were not committed."""
        for rel in self.written:
            Path(self.store.abs(rel)).unlink(missing_ok=True)
        self.written = []
        if self._journal is not None:  # what it names is removed above, or committed
            self._journal.unlink(missing_ok=True)
        self.con.close()
