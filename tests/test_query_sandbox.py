"""`litkg query` and `litkg.open()` are read-only: every write or escape of issue 12 is refused
through the real CLI on a real store, and selects and the catalog macros still answer."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from litkg.sandbox import QueryRefused, check_read_only, lock_reader
from tests.scripted import write_docs
from tests.test_cli import litkg


def _fingerprint(home: Path) -> dict[str, str]:
    """Every file of the store with its checksum (the lock file aside)."""
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.name.startswith(".lock")
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sandbox")
    write_docs(d / "in" / "a.jsonl", [
        ("doi:1", date(2024, 3, 1), "Dropout improves robustness on ImageNet."),
        ("doi:2", date(2024, 3, 2), "Dropout improves robustness on ImageNet."),
        ("doi:3", date(2024, 3, 2), "Weight decay degrades calibration."),
    ])
    home = d / "store"
    litkg("backfill", "--start", "2024-03-01", "--end", "2024-03-02", "--source",
          str(d / "in"), home=home)
    return home


def _live_parquet(home: Path) -> Path:
    manifest = json.loads((home / "manifest.json").read_text(encoding="utf-8"))
    return home / manifest["tables"]["edges"][sorted(manifest["tables"]["edges"])[0]][0]


# (name, SQL with {out} = a path outside the store, {live} = a Parquet file the store names,
#  {home} = the store, what stderr says)
ATTACKS = [
    ("copy to csv", "COPY (SELECT 1) TO '{out}/out.csv'", "refused: COPY"),
    ("copy over live parquet", "COPY (SELECT 1 AS x) TO '{live}' (FORMAT parquet)",
     "refused: COPY"),
    ("attach read_write + create table",
     "ATTACH '{out}/other.duckdb' AS o (READ_WRITE); CREATE TABLE o.t AS SELECT 1",
     "refused: ATTACH"),
    ("attach inside the store",
     "ATTACH '{home}/other.duckdb' AS o (READ_WRITE); CREATE TABLE o.t AS SELECT 1",
     "refused: ATTACH"),
    ("export database", "EXPORT DATABASE '{out}/export'", "refused: EXPORT"),
    ("read_text /etc/passwd", "SELECT * FROM read_text('/etc/passwd')", "Permission Error"),
    ("read_csv", "SELECT * FROM read_csv('/etc/passwd', sep=':')", "Permission Error"),
    ("glob /", "SELECT * FROM glob('/*')", "Permission Error"),
    ("load json", "LOAD json", "refused: LOAD"),
    ("install", "INSTALL httpfs", "refused: LOAD"),
    ("select then copy", "SELECT 1; COPY (SELECT 1) TO '{out}/multi.csv'", "refused: COPY"),
    ("copy then select", "COPY (SELECT 1) TO '{out}/multi2.csv'; SELECT 42", "refused: COPY"),
    ("set external access", "SET enable_external_access = true; "
     "SELECT * FROM read_text('/etc/passwd')", "refused: SET"),
    ("reset lock", "RESET lock_configuration", "refused: SET"),
    ("pragma set", "PRAGMA threads=64", "refused: SET"),
    ("explain analyze copy", "EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}/explained.csv'",
     "refused: COPY statement under EXPLAIN"),
    ("explain /* comment */ analyze copy inside the store",
     "EXPLAIN /* x */ ANALYZE COPY (SELECT 1 AS x) TO '{live}' (FORMAT parquet)",
     "refused: COPY statement under EXPLAIN"),
    ("explain -- comment analyze copy",
     "EXPLAIN -- x\n ANALYZE COPY (SELECT 1) TO '{out}/explained2.csv'",
     "refused: COPY statement under EXPLAIN"),
    ("create", "CREATE TABLE t AS SELECT 1", "refused: CREATE"),
    ("insert", "INSERT INTO quarantine SELECT * FROM quarantine", "refused: INSERT"),
    ("call checkpoint", "CALL checkpoint()", "refused: CALL"),
    ("detach", "DETACH litkg", "refused: DETACH"),
    ("prepare", "PREPARE p AS SELECT 1", "refused: PREPARE"),
    ("read a file outside via parquet", "SELECT * FROM read_parquet('{out}/*.parquet')",
     "Permission Error"),
]


@pytest.mark.parametrize("name, sql, message", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_query_refuses_writes_and_escapes(store, tmp_path, name, sql, message):
    out = tmp_path / "outside"
    out.mkdir()
    (out / "x.parquet").write_bytes(b"")  # something to find, were reads outside allowed
    before = _fingerprint(store)
    text = sql.format(out=out, live=_live_parquet(store), home=store)
    proc = litkg("query", text, home=store, check=False)
    assert proc.returncode == 1, (name, proc.stdout, proc.stderr)
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # one line
    assert "root:" not in proc.stdout  # nothing of /etc/passwd leaked
    assert sorted(p.name for p in out.iterdir()) == ["x.parquet"], "a file was written outside"
    assert _fingerprint(store) == before, "the store's files changed"


MACROS = [
    "SELECT count(*) AS n FROM edges_as_of(DATE '2024-03-02')",
    "SELECT count(*) AS n FROM edges_rollup_as_of(DATE '2024-03-02')",
    "SELECT count(*) AS n FROM conflicts_as_of(DATE '2024-03-02')",
    "SELECT count(*) AS n FROM entities_as_of(DATE '2024-03-02')",
    "SELECT count(*) AS n FROM changes(DATE '2024-03-01', DATE '2024-03-02')",
    "SELECT count(*) AS n FROM edges_as_recorded((SELECT max(run_id) FROM runs), "
    "DATE '2024-03-02')",
    "WITH s AS (SELECT * FROM snapshots) SELECT count(*) AS n FROM s",
    "FROM documents SELECT count(*) AS n",
    "DESCRIBE edges",
    "SHOW TABLES",
    "SUMMARIZE snapshots",
    "EXPLAIN SELECT * FROM edges",
    "PRAGMA table_info('edges')",
    "CALL pragma_table_info('edges')",
    "SELECT 1 AS n; SELECT 2 AS n",
]


def test_selects_and_macros_still_answer(store):
    for sql in MACROS:
        proc = litkg("query", "--format", "json", sql, home=store, check=False)
        assert proc.returncode == 0, (sql, proc.stderr)
        assert proc.stdout.strip(), sql
    rows = [json.loads(x) for x in litkg(
        "query", "--format", "json",
        "SELECT subject, relation, object FROM edges_as_of(DATE '2024-03-02')", home=store,
    ).stdout.splitlines()]
    assert {"subject": "dropout", "relation": "improves", "object": "robustness"} in [
        {k: r[k].lower() for k in r} for r in rows]


def test_csv_and_parquet_output_still_work(store, tmp_path):
    csv = litkg("query", "--format", "csv", "select day, documents from snapshots order by day",
                home=store).stdout.splitlines()
    assert csv == ["day,documents", "2024-03-01,1", "2024-03-02,3"]
    target = tmp_path / "edges.parquet"
    litkg("query", "--format", "parquet", "--output", str(target), "select * from edges",
          home=store)
    import pyarrow.parquet as pq

    assert pq.read_table(target).num_rows >= 1


def test_python_api_is_sandboxed_too(store, tmp_path):
    import litkg as api

    kg = api.open(store)
    with pytest.raises(QueryRefused, match="refused: COPY"):
        kg.sql(f"COPY (SELECT 1) TO '{tmp_path}/x.csv'")
    con = kg.connection()
    with pytest.raises(duckdb.PermissionException):
        con.execute("SELECT * FROM read_text('/etc/passwd')").fetchall()
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        con.execute("SET enable_external_access = true")
    settings = dict(con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit', "
        "'autoload_known_extensions', 'autoinstall_known_extensions', "
        "'allow_community_extensions', 'enable_external_access', 'lock_configuration')"
    ).fetchall())
    assert settings["memory_limit"] == "3.7 GiB"  # the default 4GB
    assert settings["lock_configuration"] == "true"
    assert {k: v for k, v in settings.items() if k not in ("memory_limit",
                                                            "lock_configuration")} == {
        "autoload_known_extensions": "false", "autoinstall_known_extensions": "false",
        "allow_community_extensions": "false", "enable_external_access": "false"}
    assert kg.edges(as_of="2024-03-02").height >= 1
    assert not list(tmp_path.iterdir())


def test_the_classifier_uses_duckdbs_parser(tmp_path):
    con = lock_reader(duckdb.connect(), [tmp_path])
    for ok in ["select 1", "with a as (select 1) select * from a", "from range(3)",
               "values (1)", "describe select 1", "show tables", "summarize select 1",
               "explain select 1", "explain analyze select 1", "pragma version",
               "call duckdb_settings()", "/* c */ call main.pragma_version()",
               "explain (format json) select 1", "explain /* c */ analyze select 1",
               "select 'COPY x TO y; ATTACH' AS s -- COPY"]:
        check_read_only(con, ok)
    for bad, kind in [("copy (select 1) to 'x.csv'", "COPY"), ("export database 'd'", "EXPORT"),
                      ("attach 'a.db'", "ATTACH"), ("load json", "LOAD"),
                      ("set threads=1", "SET"), ("reset threads", "SET"),
                      ("set variable v = 1", "SET"), ("insert into t values (1)", "INSERT"),
                      ("update t set a = 1", "UPDATE"), ("delete from t", "DELETE"),
                      ("drop table t", "DROP"), ("create macro m() as 1", "CREATE"),
                      ("begin", "TRANSACTION"), ("vacuum", "VACUUM"), ("checkpoint", "CALL"),
                      ("call /* c */ force_checkpoint()", "CALL"),
                      ("select * from force_checkpoint()", "SELECT statement calling force_"),
                      ("from ducklake_cleanup_old_files('kg', cleanup_all => true)",
                       "SELECT statement calling ducklake_cleanup_old_files"),
                      ("explain analyze copy (select 1) to 'x'", "COPY"),
                      ("explain /* c */ analyze copy (select 1) to 'x'", "COPY"),
                      ("/* c */ explain -- c\n analyze copy (select 1) to 'x'", "COPY"),
                      ("select 1; detach d", "DETACH")]:
        with pytest.raises(QueryRefused, match=f"refused: {kind}"):
            check_read_only(con, bad)
    with pytest.raises(QueryRefused):
        check_read_only(con, "   ")


def test_two_readers_of_one_store_in_one_process(store):
    """DuckDB shares a database's settings between a process's connections to one file: the
    second reader finds it locked already, and works."""
    import litkg as api

    first, second = api.open(store), api.open(store)
    assert first.snapshots().height == second.snapshots().height == 2
    with pytest.raises(QueryRefused):
        second.sql("LOAD json")
    first.close()
    second.close()
