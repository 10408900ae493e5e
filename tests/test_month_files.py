"""Day partitions of the input tables live in month files: a nightly day is its own file at
first, a month is merged into one file past FILES_PER_MONTH, and replacing, merging or deleting
one day of a merged month never touches the rows of its other days."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from litkg import schema
from litkg.store import Store
from litkg.store.transaction import FILES_PER_MONTH

DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(FILES_PER_MONTH + 3)]


def rows(day: date, n: int, tag: str = "") -> pa.Table:
    """`n` deletions (the smallest month-grouped table) dated `day`."""
    return pa.Table.from_pylist(
        [{"doc_id": f"pmid:{day:%m%d}{i}{tag}", "deleted_on": day, "source_file": tag or "f",
          "ingested_at": None} for i in range(n)],
        schema=schema.table("deletions").arrow_schema())


def stored(store: Store) -> list[tuple]:
    con = store.connect()
    try:
        return con.execute("SELECT doc_id, deleted_on, source_file FROM deletions "
                           "ORDER BY ALL").fetchall()
    finally:
        con.close()


def files(store: Store) -> list[str]:
    return store.manifest().files("deletions")


def nightly(store: Store, day: date, data: pa.Table) -> None:
    with store.writer() as tx:
        tx.replace_partition("deletions", f"deleted_on={day}", data)
        tx.commit()


def test_nightly_days_are_merged_into_one_month_file(tmp_path):
    store = Store(tmp_path / "s")
    for i, day in enumerate(DAYS):
        nightly(store, day, rows(day, 2))
        # every day stays its own partition; the month never holds more than the limit
        assert len(files(store)) <= FILES_PER_MONTH
        assert sorted(store.manifest().tables["deletions"]) == [
            f"deleted_on={d}" for d in DAYS[:i + 1]]
    assert len(files(store)) == 3  # merged at the 9th day, then two nightly files
    assert len(stored(store)) == 2 * len(DAYS)


def test_replacing_merging_and_deleting_one_day_of_a_month_file_keeps_the_others(tmp_path):
    store = Store(tmp_path / "s")
    with store.writer() as tx:  # a backfill writes one file per month
        tx.replace_partitions(
            "deletions", pa.concat_tables([rows(d, 3) for d in DAYS] + [rows(date(2024, 4, 2), 1)]),
            "deleted_on")
        tx.commit()
    assert len(files(store)) == 2
    before = stored(store)
    third = DAYS[2]
    nightly(store, third, rows(third, 1, "again"))  # a day re-extracted
    expected = [r for r in before if r[1] != third] + [(f"pmid:{third:%m%d}0again", third, "again")]
    assert stored(store) == sorted(expected)
    with store.writer() as tx:
        tx.merge_partition("deletions", f"deleted_on={DAYS[0]}", rows(DAYS[0], 4, "late"))
        first = tx.partition_select("deletions", f"deleted_on={DAYS[0]}")
        assert tx.sql(f"SELECT count(*) FROM ({first})").fetchone()[0] == 3 + 4
        tx.delete_rows("deletions", "doc_id LIKE 'pmid:0302%'")  # every row of the second day
        tx.commit()
    after = stored(store)
    assert len(after) == len(expected) + 4 - 3
    assert f"deleted_on={DAYS[1]}" not in store.manifest().tables["deletions"]
    assert {r for r in after if r[1] not in (DAYS[0], DAYS[1])} == {
        r for r in expected if r[1] not in (DAYS[0], DAYS[1])}


def test_a_month_partition_that_commits_keep_adding_to_is_merged_too(tmp_path):
    """Edge versions are partitioned by month: each commit adds a file to the current month."""
    store = Store(tmp_path / "s")
    for i in range(FILES_PER_MONTH + 1):
        with store.writer() as tx:
            tx.insert_rows("edges", f"SELECT * REPLACE ('e{i}' AS edge_id) FROM ("
                           f"{_one_edge_version(tx)})")
            tx.commit()
    assert len(store.manifest().tables["edges"]["month=2024-03"]) == 1
    con = store.connect()
    assert con.execute("SELECT count(*) FROM edges").fetchone()[0] == FILES_PER_MONTH + 1
    con.close()


def _one_edge_version(tx) -> str:  # noqa: ANN001 - a store Transaction
    cols = schema.table("edges").columns
    values = {c: f"NULL::{t}" for c, t in cols.items()}
    values.update({"valid_from": "DATE '2024-03-05'", "month": "'2024-03'"})
    return "SELECT " + ", ".join(f'{v} AS "{c}"' for c, v in values.items())


def test_a_store_whose_derived_tables_predate_month_files_is_patched_correctly(tmp_path):
    """Stores written before links, mentions, doc_runs and acronym_defs were partitioned hold
    each in one whole-table file: a nightly commit patches them (the rows it keeps move to
    month files) and the store equals one built from scratch."""
    from litkg.pipeline import process_days
    from tests.scripted import ScriptedExtractor, abstract, claim, write_docs
    from tests.storecompare import differences

    days = [date(2024, 1, d) for d in (1, 2, 3)]
    src = write_docs(tmp_path / "in.jsonl", [
        ("doi:1", days[0], abstract(claim("BERT", "used-for", "parsing"))),
        ("doi:2", days[1], abstract(claim("BERT", "used-for", "parsing"),
                                    claim("ELMo", "compare", "BERT"))),
        ("doi:3", days[2], abstract(claim("BERT", "used-for", "parsing"))),
        ("doi:1", days[2], abstract(claim("BERT", "used-for", "tagging")))])  # a revision
    old, reference = Store(tmp_path / "old"), Store(tmp_path / "ref")
    process_days(reference, days, sources=[src], extractor=ScriptedExtractor())
    process_days(old, days[:2], sources=[src], extractor=ScriptedExtractor())
    with old.writer() as tx:  # the layout an older litkg wrote
        for name in ("links", "mentions", "doc_runs", "acronym_defs"):
            tx.sql(f"CREATE TEMP TABLE _old_{name} AS SELECT * FROM {name}")
            tx.manifest.tables[name] = {}
            tx.replace_partition(name, "_all", f"SELECT * FROM _old_{name}")
        tx.commit()
    assert list(old.manifest().tables["links"]) == ["_all"]
    process_days(old, [days[2]], sources=[src], extractor=ScriptedExtractor())
    assert differences(old, reference) == {}
    assert "_all" not in old.manifest().tables["links"]  # hit: its rows moved to month files


def test_a_commits_edge_versions_lie_in_one_file_and_keep_their_own_month(tmp_path,
                                                                          monkeypatch):
    """Reinforcing edges that started in January and March closes their versions (new rows
    dated January and March) and opens new ones in May: the commit writes them in one file,
    under its own month, instead of a file in each month; each row keeps the month of its
    valid_from (folder names are not read as values)."""
    from litkg.pipeline import process_days
    from litkg.rebuild import verify
    from tests.scripted import ScriptedExtractor, abstract, claim, write_records

    days = [date(2024, 1, 5), date(2024, 3, 5), date(2024, 5, 6)]
    src = write_records(tmp_path / "in.jsonl", [
        {"doc_id": f"pmid:{i}", "title": "t", "published": d,
         "abstract": abstract(claim("A", "improves", "B", "", 0.5),
                              claim("C", "used-for", "D", "", 0.5) if d.month != 1 else
                              claim("E", "used-for", "F", "", 0.5))}
        for i, d in enumerate(days)] + [
        {"doc_id": "pmid:9", "title": "t", "published": days[2],
         "abstract": abstract(claim("E", "used-for", "F", "", 0.7))}])
    store = Store(tmp_path / "store")
    monkeypatch.setenv("LITKG_CONSTRUCT", "incremental")  # however small the store
    process_days(store, days[:2], sources=[src], extractor=ScriptedExtractor())
    before = set(store.manifest().files("edges"))
    summary = process_days(store, days[2:], sources=[src], extractor=ScriptedExtractor())
    assert summary.construct_mode == "incremental"
    added = set(store.manifest().files("edges")) - before
    con = store.connect()
    closed = con.execute("SELECT DISTINCT month FROM edges WHERE valid_to = ? ORDER BY 1",
                         [days[2]]).fetchall()
    wrong = con.execute("SELECT count(*) FROM edges_history "
                        "WHERE month <> strftime(valid_from, '%Y-%m')").fetchone()[0]
    con.close()
    assert closed == [("2024-01",), ("2024-03",)]  # versions of two months were closed
    assert len(added) == 1 and wrong == 0
    assert all(c.ok for c in verify(store))
