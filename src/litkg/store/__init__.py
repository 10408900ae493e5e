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
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import filelock

from litkg.store.catalog import (
    CATALOG,
    build_catalog,
    load_macros,
    stamp_text,
    table_select,
    write_catalog,
)
from litkg.store.manifest import MANIFEST, WHOLE, Manifest
from litkg.store.transaction import CONSTRUCT_INPUTS, Transaction

__all__ = ["CATALOG", "CONSTRUCT_INPUTS", "MANIFEST", "WHOLE", "Manifest", "Store", "StoreError",
           "StoreLocked", "Transaction", "default_home", "load_macros", "table_select"]

# A full disk or a read-only mount: the store cannot be written, which is not a bug to trace.
_UNWRITABLE = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
               errno.EROFS: "read-only file system"}


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


class Store:
    """A litkg store rooted at `home`."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.home = self.home.resolve()
        # the last manifest read or committed here, with the stamp of its file: a long
        # history's manifest is megabytes of JSON (3M assertions: 10 MB, ~90 ms to parse),
        # parsed once per commit in a process instead of by every transaction and connect()
        self._manifest: tuple[tuple[int, int, int], Manifest] | None = None

    @property
    def catalog_path(self) -> Path:
        return self.home / CATALOG

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def exists(self) -> bool:
        return (self.home / MANIFEST).exists()

    def manifest(self) -> Manifest:
        """The last commit's manifest, the caller's own copy."""
        stamp = self.stamp()
        cached = self._manifest
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1].copy()
        manifest = Manifest.load(self.home / MANIFEST)
        if stamp is not None and self.stamp() == stamp:  # not replaced while read
            self._manifest = (stamp, manifest.copy())
        return manifest

    def remember(self, manifest: Manifest) -> None:
        """`manifest` was just committed (renamed into place by this process's writer)."""
        stamp = self.stamp()
        if stamp is not None:
            self._manifest = (stamp, manifest.copy())

    def abs(self, rel: str) -> str:
        # a string join: views list every file of a table, thousands per commit
        return f"{self.home}{os.sep}{rel}"

    @property
    def manifest_path(self) -> Path:
        return self.home / MANIFEST

    def stamp(self) -> tuple[int, int, int] | None:
        """Changes with every commit (the manifest is replaced, never rewritten in place)."""
        try:
            st = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

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
        # the catalog written for this very manifest file: no need to parse the manifest
        con = self._open_catalog(stamp=self.stamp())
        if con is None:
            con = self._open_catalog(commit=self.manifest().commit)
        if con is not None:
            return con
        try:
            with self.lock():
                write_catalog(self.home, self.manifest(), stamp=self.stamp())
            con = self._open_catalog(commit=self.manifest().commit)
        except (StoreLocked, OSError, duckdb.Error):
            con = None
        if con is None:
            con = duckdb.connect()
            con.execute("SET parquet_metadata_cache = true")
            build_catalog(con, self.home, self.manifest())
        return con

    def _open_catalog(self, commit: int | None = None,
                      stamp: tuple[int, int, int] | None = None
                      ) -> duckdb.DuckDBPyConnection | None:
        """The catalog file, if it describes this home at `commit` (or a later commit), or was
        written for the manifest file of `stamp`."""
        if not self.catalog_path.exists() or (commit is None and stamp is None):
            return None
        try:
            con = duckdb.connect(str(self.catalog_path), read_only=True)
            con.execute("SET parquet_metadata_cache = true")  # the files are never rewritten
        except duckdb.Error:
            return None
        try:
            meta = dict(con.execute("SELECT key, value FROM store_meta "
                                    "WHERE key IN ('commit', 'home', 'manifest_file')").fetchall())
            if meta.get("home") == str(self.home) and (
                    (commit is not None and int(meta.get("commit", -1)) >= commit)
                    or (stamp is not None and meta.get("manifest_file") == stamp_text(stamp))):
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
