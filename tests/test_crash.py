"""Nothing lost: a crash at any step of a commit, a full disk, a read-only mount, readers kept
open across commits, a copied store. The fault points are `litkg.faults.POINTS`; a crash is an
injected exception (in-process) or `os._exit` (a subprocess, no cleanup: a kill)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

import litkg
from litkg import faults
from litkg.pipeline import days_between, process_days
from litkg.store import Store
from tests.scripted import ScriptedExtractor, abstract, claim, write_records
from tests.storecompare import differences

REPO = Path(__file__).resolve().parents[1]
DAYS = days_between(date(2024, 3, 1), date(2024, 3, 4))
LATER = days_between(date(2024, 3, 5), date(2024, 3, 9))


def _records(days: list[date]) -> list[dict]:
    out = []
    for i, day in enumerate(days):
        out.append({"doc_id": f"doi:10.1/{day}", "title": "t", "published": day,
                    "abstract": abstract(claim("knowledge distillation (KD)", "improves",
                                               "BERT", "", 0.6),
                                         claim(f"method {i % 2}", "outperforms", "KD", "", 0.7))})
    out.append({"doc_id": f"doi:10.1/{days[0]}", "title": "t", "published": days[1],
                "revised": days[1], "abstract": abstract(claim("KD", "degrades", "BERT"))})
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return write_records(tmp_path_factory.mktemp("in") / "main.jsonl", _records(DAYS))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, source) -> Store:
    store = Store(tmp_path_factory.mktemp("ref") / "store")
    process_days(store, DAYS, sources=[source], extractor=ScriptedExtractor())
    return store


def _backfill(store: Store, source: Path) -> None:
    process_days(store, DAYS, sources=[source], extractor=ScriptedExtractor())


def _cli_backfill(home: Path, source: Path, *, fault: str | None = None,
                  days: list[date] = DAYS) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(faults.ENV, None)
    if fault:
        env[faults.ENV] = fault
    return subprocess.run(
        [str(Path(sys.executable).with_name("litkg")), "backfill", "--home", str(home),
         "--start", str(days[0]), "--end", str(days[-1]), "--source", str(source),
         "--extractor", "tests.scripted:ScriptedExtractor"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )


def assert_opens_at_its_last_commit(store: Store) -> None:
    """Every file the manifest names exists, and a reader sees exactly that commit."""
    manifest = store.manifest()
    missing = [f for f in manifest.all_files() if not (store.home / f).exists()]
    assert missing == []
    con = store.connect()
    try:
        commit = con.execute("SELECT value FROM store_meta WHERE key = 'commit'").fetchone()[0]
        assert int(commit) == manifest.commit
        for table in ("documents", "assertions", "edges", "entities", "snapshots"):
            con.execute(f"SELECT count(*) FROM {table}").fetchone()
    finally:
        con.close()


def assert_no_orphans(store: Store) -> None:
    named = store.manifest().all_files() | set(store.manifest().retired)
    on_disk = {str(p.relative_to(store.home)) for p in (store.home / "data").rglob("*.parquet")}
    assert on_disk <= named


# A backfill makes two commits (documents, then the graph): each step of each.
WALK = [(point, hit) for hit in (1, 2) for point in faults.POINTS]


@pytest.mark.parametrize(("point", "hit"), WALK, ids=[f"{p}@{h}" for p, h in WALK])
def test_an_exception_at_any_commit_step_leaves_a_store_a_rerun_finishes(
        tmp_path, monkeypatch, source, reference, point, hit):
    store = Store(tmp_path / "store")
    monkeypatch.setenv(faults.ENV, f"{point}:raise@{hit}")
    faults.reset()
    with pytest.raises(faults.InjectedFault):
        _backfill(store, source)
    monkeypatch.delenv(faults.ENV)
    if store.exists():
        assert_opens_at_its_last_commit(store)
    _backfill(store, source)
    assert_opens_at_its_last_commit(store)
    assert_no_orphans(store)
    assert differences(store, reference) == {}


@pytest.mark.parametrize("point", faults.POINTS)
def test_a_kill_at_any_step_of_the_graph_commit_is_resumed_by_the_next_run(
        tmp_path, source, reference, point):
    home = tmp_path / "store"
    killed = _cli_backfill(home, source, fault=f"{point}:exit@2")
    assert killed.returncode == faults.EXIT_CODE, killed.stderr
    store = Store(home)
    assert_opens_at_its_last_commit(store)  # before the rename: documents only; after: all
    _backfill(store, source)
    assert_opens_at_its_last_commit(store)
    assert_no_orphans(store)
    assert differences(store, reference) == {}


def test_a_catalog_that_could_not_be_written_is_rebuilt_by_the_next_reader(
        tmp_path, monkeypatch, source, reference):
    import litkg.store.transaction as store_module

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "write_catalog", full_disk)
    store = Store(tmp_path / "store")
    _backfill(store, source)  # the commits are durable; their catalog is not there
    assert not store.catalog_path.exists()
    monkeypatch.undo()
    assert_opens_at_its_last_commit(store)
    assert differences(store, reference) == {}


def test_a_reader_kept_open_follows_five_commits(tmp_path, source):
    store = Store(tmp_path / "store")
    _backfill(store, source)
    later = write_records(tmp_path / "later.jsonl", _records(LATER))
    graph = litkg.open(store.home)
    raw = duckdb.connect(str(store.catalog_path), read_only=True)  # any DuckDB client
    seen = [graph.sql("SELECT max(day) AS d FROM snapshots")["d"][0]]
    before = raw.execute("SELECT count(*) FROM assertions").fetchone()[0]
    for day in LATER:
        process_days(store, [day], sources=[later], extractor=ScriptedExtractor())
        seen.append(graph.sql("SELECT max(day) AS d FROM snapshots")["d"][0])
    assert seen == [DAYS[-1], *LATER]
    # a client holding the first catalog still reads its state (files kept for the retention)
    assert raw.execute("SELECT count(*) FROM assertions").fetchone()[0] == before
    graph.close()
    raw.close()


def test_a_copied_store_reads_its_own_files(tmp_path, source, reference):
    store = Store(tmp_path / "store")
    _backfill(store, source)
    copy = Store(shutil.copytree(store.home, tmp_path / "copy"))
    shutil.rmtree(store.home)
    assert_opens_at_its_last_commit(copy)
    assert differences(copy, reference) == {}


def test_the_manifest_is_readable_by_others_and_temporary_files_do_not_pile_up(tmp_path, source):
    store = Store(tmp_path / "store")
    _backfill(store, source)
    assert store.manifest_path.stat().st_mode & 0o044 == 0o044
    left = [store.home / ".litkg.duckdb.0badc0de.tmp", store.home / "manifest.json.x1.tmp"]
    for path in left:  # what a kill in the middle of writing them leaves
        path.write_text("partial")
    process_days(store, [DAYS[-1]], extractor=ScriptedExtractor(), force=True)
    assert not any(path.exists() for path in left)


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MB tmpfs (root only: CI runs as root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_one_line_and_the_next_run_after_freeing_space_succeeds(
        small_disk, tmp_path, source):
    home = small_disk / "store"
    first = _cli_backfill(home, source)
    assert first.returncode == 0, first.stderr
    later = write_records(tmp_path / "later.jsonl", _records(LATER))
    reference = Store(tmp_path / "ref")
    shutil.copytree(home, reference.home)
    process_days(reference, LATER, sources=[later], extractor=ScriptedExtractor())
    free = shutil.disk_usage(small_disk).free
    filler = small_disk / "filler"
    with filler.open("wb") as fh:
        fh.write(b"\0" * max(0, free - 64 * 1024))
    full = _cli_backfill(home, later, days=LATER)
    assert full.returncode == 1
    lines = [ln for ln in full.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no space left on device" in lines[0], full.stderr
    filler.unlink()
    store = Store(home)
    assert_opens_at_its_last_commit(store)  # the documents' commit may have landed, no more
    assert store.connect().execute("SELECT max(day) FROM snapshots").fetchone()[0] == DAYS[-1]
    again = _cli_backfill(home, later, days=LATER)
    assert again.returncode == 0, again.stderr
    assert differences(store, reference) == {}


def test_a_read_only_store_still_answers_and_a_write_is_one_line(small_disk, source):
    home = small_disk / "store"
    assert _cli_backfill(home, source).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        answer = subprocess.run(
            [str(Path(sys.executable).with_name("litkg")), "query", "--home", str(home),
             "SELECT count(*) AS n FROM edges"], capture_output=True, text=True)
        assert answer.returncode == 0, answer.stderr
        refused = _cli_backfill(home, source, days=LATER)
        assert refused.returncode == 1
        lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "read-only file system" in lines[0], refused.stderr
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
