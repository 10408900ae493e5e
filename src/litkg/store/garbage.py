"""What a commit removes, without walking the store: each transaction journals the paths it is
about to write (files, or the folder of a partitioned write) and the expired files it drops,
before it does; a commit removes what its own journal and the journals of dead transactions
name that the manifest does not (the writer's lock is held, so every other journal belongs to
a transaction that died). A store written before journals existed is walked once."""

from __future__ import annotations

import uuid
from pathlib import Path

from litkg.store.catalog import CATALOG
from litkg.store.manifest import JOURNALS, MANIFEST


def journal(home: Path, rels: list[str], path: Path | None) -> Path:
    """Append `rels` to the journal at `path` (a new one if None); returns its path."""
    if path is None:
        folder = home / JOURNALS
        folder.mkdir(exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}.txt"
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(f"{rel}\n" for rel in rels))
    return path


def collect(home: Path, keep: set[str], own: Path | None) -> None:
    """Remove the journaled paths `keep` does not name, every journal, and temporary manifests
    and catalogs."""
    for pattern in (f"{MANIFEST}.*.tmp", f".{CATALOG}.*.tmp", "manifest.prev.json"):
        for path in home.glob(pattern):
            path.unlink(missing_ok=True)
    folder = home / JOURNALS
    if not (folder / "walked").exists():
        _walk(home, keep)
        folder.mkdir(exist_ok=True)
        (folder / "walked").touch()
    journals = sorted(folder.glob("*.txt"))
    for path in journals:
        for rel in dict.fromkeys(path.read_text(encoding="utf-8").splitlines()):
            _remove_unnamed(home, rel, keep)
    for path in [*journals, *([own] if own else [])]:
        path.unlink(missing_ok=True)


def _remove_unnamed(home: Path, rel: str, keep: set[str]) -> None:
    """Remove the file `rel`, or the files under the folder `rel`, that `keep` does not name;
    then its folders, up to data/, while they are empty."""
    path = home / rel
    if path.is_dir():
        _sweep(home, path, keep)
    elif rel not in keep:
        path.unlink(missing_ok=True)
    data = home / "data"
    parent = path if path.is_dir() else path.parent
    while parent != data and data in parent.parents and parent.exists():
        if any(parent.iterdir()):
            break
        parent.rmdir()
        parent = parent.parent


def _walk(home: Path, keep: set[str]) -> None:
    if (home / "data").exists():
        _sweep(home, home / "data", keep)


def _sweep(home: Path, folder: Path, keep: set[str]) -> None:
    """Remove the Parquet files under `folder` that `keep` does not name, then the folders
    under it left empty (deepest first)."""
    for file in folder.rglob("*.parquet"):
        if str(file.relative_to(home)) not in keep:
            file.unlink(missing_ok=True)
    for sub in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
