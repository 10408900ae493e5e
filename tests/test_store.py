"""The store: atomic commits, one writer at a time, read-only queries."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import date

import pytest

from litkg.pipeline import days_between, process_days
from litkg.store import Store, StoreError, StoreLocked
from tests.scripted import ScriptedExtractor, abstract, claim, write_docs


def built(tmp_path) -> Store:
    src = write_docs(
        tmp_path / "in.jsonl",
        [
            ("doi:1", date(2024, 1, 1), abstract(claim("A", "improves", "B"))),
            ("doi:2", date(2024, 1, 2), abstract(claim("A", "improves", "B"))),
        ],
    )
    store = Store(tmp_path / "store")
    process_days(
        store,
        days_between(date(2024, 1, 1), date(2024, 1, 2)),
        sources=[src],
        extractor=ScriptedExtractor(),
    )
    return store


def test_a_crash_mid_write_leaves_the_last_good_state(tmp_path):
    store = built(tmp_path)
    manifest_before = (store.home / "manifest.json").read_text()
    files_before = sorted(p for p in store.home.rglob("*.parquet"))
    with pytest.raises(RuntimeError, match="boom"):
        with store.writer() as tx:
            tx.replace_table("edges", "SELECT * FROM edges WHERE false")
            tx.replace_partition(
                "assertions", "day=2024-01-01", "SELECT * FROM assertions WHERE false"
            )
            raise RuntimeError("boom")
    assert (store.home / "manifest.json").read_text() == manifest_before
    assert sorted(p for p in store.home.rglob("*.parquet")) == files_before
    assert store.connect().execute("SELECT count(*) FROM edges").fetchone()[0] == 2


def test_a_second_writer_gets_a_clear_message(tmp_path):
    store = built(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import time
            from litkg.store import Store
            with Store({str(store.home)!r}).writer():
                print("locked", flush=True)
                time.sleep(30)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLocked, match="being written by pid"):
            with store.writer():
                pass
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    with store.writer():  # released when the holder died
        pass


def test_queries_open_the_store_read_only(tmp_path):
    store = built(tmp_path)
    con = store.connect()
    with pytest.raises(Exception, match="read-only"):
        con.execute("CREATE TABLE x (i INTEGER)")


def test_a_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no litkg store"):
        Store(tmp_path / "nowhere").connect()


def test_files_a_commit_drops_are_kept_for_the_retention_then_collected(tmp_path, monkeypatch):
    store = built(tmp_path)
    size = sum(p.stat().st_size for p in store.home.rglob("*.parquet"))
    process_days(store, [date(2024, 1, 2)], extractor=ScriptedExtractor(), force=True)
    retired = store.manifest().retired
    assert retired and all((store.home / f).exists() for f in retired)  # queries in flight
    monkeypatch.setenv("LITKG_RETAIN_SECONDS", "0")
    for _ in range(3):
        process_days(store, [date(2024, 1, 2)], extractor=ScriptedExtractor(), force=True)
    after = sum(p.stat().st_size for p in store.home.rglob("*.parquet"))
    assert store.manifest().retired == {}
    assert after < 1.2 * size  # reruns do not grow the store


def test_a_backfill_over_years_without_documents_is_cheap(tmp_path):
    src = write_docs(
        tmp_path / "in.jsonl", [("doi:1", date(2015, 6, 1), abstract(claim("A", "improves", "B")))]
    )
    store = Store(tmp_path / "store")
    t0 = time.perf_counter()
    summary = process_days(
        store, days_between(date(2010, 1, 1), date(2019, 12, 31)), sources=[src],
        extractor=ScriptedExtractor(),
    )
    elapsed = time.perf_counter() - t0
    print(f"10-year backfill with one document: {elapsed:.2f} s")
    assert len(summary.days) == 3652 and summary.documents == 1
    con = store.connect()
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 3652
    assert con.execute(
        "SELECT active_edges FROM snapshots WHERE day = DATE '2019-12-31'"
    ).fetchone()[0] == 1


def test_a_commit_collects_from_journals_without_walking_the_store(tmp_path):
    """Each transaction journals what it writes: the next commit removes a dead transaction's
    files by its journal; an unjournaled file is left alone, except in a store from an older
    litkg (no `.txlog/walked`), which is swept once."""
    store = built(tmp_path)
    stray = store.home / "data" / "edges" / "stray.parquet"
    dead = store.home / "data" / "edges" / "dead.parquet"
    for path in (stray, dead):
        path.write_bytes(b"not named by any manifest")
    (store.home / ".txlog" / "dead.txt").write_text("data/edges/dead.parquet\n")

    def commit() -> None:
        with store.writer() as tx:
            tx.merge_partition("snapshots", "_all", "SELECT * FROM snapshots")
            tx.commit()

    commit()
    assert not dead.exists() and stray.exists()
    assert list((store.home / ".txlog").glob("*.txt")) == []
    (store.home / ".txlog" / "walked").unlink()
    commit()
    assert not stray.exists()


def _count_in_scratch(_: int) -> tuple[int, bool]:
    """In a forked child: a scratch query's answer, and whether the child opened its own
    database (the parent's, inherited, is keyed by the parent's pid)."""
    import os

    from litkg.store import arrow

    with arrow.scratch() as con:
        n = con.execute("SELECT count(*) FROM range(3)").fetchone()[0]
    return n, os.getpid() in arrow._SCRATCH


def test_short_queries_share_one_database_per_process_but_not_their_tables():
    """`scratch()` cursors share one in-memory database, never each other's registrations or
    temp tables; a forked child (a process pool) opens its own database."""
    import multiprocessing

    import duckdb
    import pyarrow as pa

    from litkg.store import arrow

    with arrow.scratch() as a, arrow.scratch() as b:
        a.register("_mine", pa.table({"v": [1, 2]}))
        a.execute("CREATE TEMP TABLE _mine_too AS SELECT 1 AS v")
        assert a.execute("SELECT count(*) FROM _mine").fetchone() == (2,)
        for name in ("_mine", "_mine_too"):
            with pytest.raises(duckdb.CatalogException):
                b.execute(f"SELECT * FROM {name}")
    with arrow.scratch() as c:  # the tables went with their cursor
        with pytest.raises(duckdb.CatalogException):
            c.execute("SELECT * FROM _mine_too")
    assert len(arrow._SCRATCH) == 1
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(_count_in_scratch, range(4)) == [(3, True)] * 4


def test_the_last_commit_is_parsed_once_and_a_writer_never_changes_it(tmp_path, monkeypatch):
    from litkg.store import Manifest

    store = built(tmp_path)
    on_disk = Manifest.load(store.manifest_path)
    loads = []
    real_load = Manifest.load.__func__
    monkeypatch.setattr(Manifest, "load",
                        classmethod(lambda cls, path: loads.append(path) or real_load(cls, path)))
    assert store.manifest() == on_disk  # parsed at most once for this manifest file
    assert store.manifest() == on_disk
    assert len(loads) <= 1
    with store.writer() as tx:  # writes that share nothing with the copies handed out
        tx.insert_rows("runs", "SELECT * FROM runs")
        tx.replace_partition("assertions", "day=2024-01-01", "SELECT * FROM assertions WHERE false")
        assert store.manifest() == on_disk  # uncommitted: the last commit is unchanged
        assert tx.base == on_disk
        tx.commit()
    committed = Manifest.load(store.manifest_path)
    assert committed != on_disk
    loads.clear()
    assert store.manifest() == committed  # the commit is remembered: not parsed again
    assert loads == []
    other = Store(store.home)  # another process's view: parses the new file
    assert other.manifest() == committed


def test_a_reader_trusts_the_catalog_written_for_the_manifest_file_without_parsing_it(
        tmp_path, monkeypatch):
    from litkg.store import Manifest

    store = built(tmp_path)

    def refuse(cls, path):
        raise AssertionError("the manifest was parsed")

    monkeypatch.setattr(Manifest, "load", classmethod(refuse))
    con = Store(store.home).connect()  # a new process: only the catalog's stamp is checked
    assert con.execute("SELECT count(*) FROM edges").fetchone()[0] == 2
    con.close()
    monkeypatch.undo()
    # a catalog left behind by a later commit (a kill between the two renames) is rebuilt
    with store.writer() as tx:
        tx.replace_table("edges", "SELECT * FROM edges WHERE false")
        tx.commit(catalog=False)
    con = Store(store.home).connect()
    assert con.execute("SELECT count(*) FROM edges").fetchone()[0] == 0
