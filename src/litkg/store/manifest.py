"""The manifest: the files of every table by partition, the commit number, the store's metadata
and the files recent commits dropped. Replacing `manifest.json` (write, fsync, rename) is the
commit: the store's state is exactly what it names."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

from litkg import schema

MANIFEST = "manifest.json"
WHOLE = "_all"  # partition name of unpartitioned tables
JOURNALS = ".txlog"  # per transaction, the paths it writes or drops (collected if it dies)
RETAIN_SECONDS = 300  # how long a file dropped by a commit stays for queries in flight


def retain_seconds() -> float:
    return float(os.environ.get("LITKG_RETAIN_SECONDS", RETAIN_SECONDS))


def atomic_write_text(path: Path, text: str) -> None:
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
        # A partition's file list is never changed in place (a writer assigns a new list), so
        # copies share them: copying a long history's 18,000 partitions per table is then a
        # dict copy, not 150,000 list copies (3M assertions: 79 -> ~3 ms per copy).
        return Manifest(commit=self.commit,
                        tables={k: dict(parts) for k, parts in self.tables.items()},
                        meta=orjson.loads(orjson.dumps(self.meta)), retired=dict(self.retired))

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            return cls.empty()
        raw = orjson.loads(path.read_bytes())
        tables = {name: {} for name in schema.tables()}
        tables.update(raw["tables"])
        return cls(commit=raw["commit"], tables=tables, meta=raw.get("meta", {}),
                   retired=raw.get("retired", {}))

    def dumps(self) -> str:
        # compact, sorted; orjson writes the megabytes of a long history ~8x faster than json
        return orjson.dumps(
            {"commit": self.commit, "tables": self.tables, "meta": self.meta,
             "retired": self.retired},
            option=orjson.OPT_SORT_KEYS,
        ).decode()

    def files(self, table: str) -> list[str]:
        parts = self.tables.get(table, {})  # a month file lists under each of its days
        return list(dict.fromkeys(chain.from_iterable(parts[key] for key in sorted(parts))))

    def all_files(self) -> set[str]:
        return {f for parts in self.tables.values() for files in parts.values() for f in files}
