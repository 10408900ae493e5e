"""`litkg rebuild` and `litkg verify`: the full rebuild, kept beside the incremental commit as
its specification (src/litkg/rebuild.py does the work)."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from litkg.cli import HomeOpt, _fail, _store, console
from litkg.store import StoreError


def rebuild(home: HomeOpt = None) -> None:
    """Recompute every derived table (links, mentions, entities, aliases, edges, snapshots)
    from the stored inputs in one commit. Edge versions that change are superseded, not lost."""
    from litkg.rebuild import rebuild as rebuild_store

    store = _store(home)
    if not store.exists():
        _fail(f"no litkg store at {store.home}")
    t0 = time.perf_counter()
    try:
        counts = rebuild_store(store)
    except StoreError as exc:
        _fail(str(exc))
    console.print(
        f"rebuilt {store.home} in {time.perf_counter() - t0:.2f} s: {counts['edges']} edge "
        f"versions ({counts['versions_recorded']} recorded, {counts['versions_superseded']} "
        f"superseded), {counts['links']} links, {counts['entities']} entities"
    )


def verify(home: HomeOpt = None) -> None:
    """Rebuild in a scratch area (read-only: the store is neither written nor locked) and
    compare each derived table's row count and checksum with the live store. Exit 1 if any
    differs (then `litkg rebuild` repairs it)."""
    from litkg.rebuild import verify as verify_store

    store = _store(home)
    t0 = time.perf_counter()
    try:
        checks = verify_store(store)
    except StoreError as exc:
        _fail(str(exc))
    table = Table("table", "live rows", "rebuilt rows", "checksum", title=f"verify {store.home}")
    for c in checks:
        table.add_row(c.table, str(c.live_rows), str(c.rebuilt_rows),
                      "pending: the next commit builds it" if c.pending
                      else "same" if c.ok else "[red]DIFFERS[/red]")
    console.print(table)
    bad = [c.table for c in checks if not c.ok]
    if bad:
        _fail(f"{', '.join(bad)} differ from a rebuild: run `litkg rebuild`")
    console.print(f"all {len(checks)} derived tables equal a rebuild "
                  f"({time.perf_counter() - t0:.2f} s)")
    raise typer.Exit(0)
