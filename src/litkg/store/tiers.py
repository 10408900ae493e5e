"""Append-only Parquet folders kept to a few files: files merged in tiers.

The caches (extractions, LLM samples) add one file per write, and a lookup reads every file of
the folder: one file per day ever extracted made a backfill's cost grow with the square of its
days, and every nightly run paid for the history. So files are merged in tiers, as a
log-structured store does: a write adds a level-0 file; past FANOUT files of one level they are
merged into one file of the next. A folder then holds at most FANOUT files per level (18,000
writes: ~60 files, each row rewritten about 4 times).

Safe beside other writers and readers, threads or processes: a merged file is renamed into place
before its inputs are removed (a reader may see a row twice, never lose one: readers
deduplicate), a reader lists the folder again when a file it listed was removed meanwhile, and
one merger at a time works on a folder (the others skip it; the next write merges).
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import filelock

from litkg.store.arrow import scratch
from litkg.store.catalog import file_list

log = logging.getLogger(__name__)
FANOUT = 16  # files of one level merged into one of the next past this many
READ_TRIES = 5
_LEVEL = re.compile(r"L(\d+)-")  # "L2-<uuid>.parquet"; a name without it (older litkg): level 0
T = TypeVar("T")


def level(path: Path) -> int:
    m = _LEVEL.match(path.name)
    return int(m.group(1)) if m else 0


def new_file(folder: Path) -> Path:
    """Where a write puts its (level-0) file, once written beside it and renamed."""
    return folder / f"L0-{uuid.uuid4().hex}.parquet"


def merge(folder: Path) -> None:
    """Merge each level of `folder` holding more than FANOUT files into one file of the next.
    A failure is logged, not raised: the write that called it is done, the next one merges."""
    lock = filelock.FileLock(folder / ".merge.lock")
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:  # another writer is merging this folder
        return
    try:
        _merge_levels(folder)
    except (OSError, duckdb.Error) as exc:
        log.warning("%s: merge stopped (%s); the next write merges again", folder, exc)
    finally:
        lock.release()


def _merge_levels(folder: Path) -> None:
    n = 0
    while True:
        files = sorted(p for p in folder.glob("*.parquet") if level(p) == n)
        if not files and not any(level(p) > n for p in folder.glob("*.parquet")):
            return
        if len(files) > FANOUT:
            tmp = folder / f".{uuid.uuid4().hex}.tmp"
            listed = file_list([str(f) for f in files])
            try:
                with scratch() as con:
                    con.execute(f"COPY (SELECT * FROM read_parquet({listed})) TO "
                                f"'{str(tmp).replace(chr(39), chr(39) * 2)}' "
                                "(FORMAT parquet, COMPRESSION zstd)")
                os.replace(tmp, folder / f"L{n + 1}-{uuid.uuid4().hex}.parquet")
            finally:
                tmp.unlink(missing_ok=True)  # its own, when the copy failed
            for f in files:
                f.unlink(missing_ok=True)
        n += 1


def read(list_files: Callable[[], list[str]], read_files: Callable[[list[str]], T]) -> T:
    """`read_files(list_files())`, listing again when a merge removed a listed file meanwhile."""
    for attempt in range(READ_TRIES):
        files = list_files()
        try:
            return read_files(files)
        except duckdb.IOException:
            if attempt == READ_TRIES - 1 or all(Path(f).exists() for f in files):
                raise
    raise AssertionError("unreachable")
