"""The incremental commit equals the full rebuild (its specification), on every table, after
every commit of a random arrival order: days in any order and in batches (so older days arrive
after newer ones), then a late file of old records; with revisions, deletions, papers merged
across sources, acronyms redefined (the oracle's generator, tests/generators.py)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from litkg.pipeline import days_between, ingest_only, process_days
from litkg.rebuild import rebuild, verify
from litkg.store import Store
from tests.generators import DAYS, day, examples, streams, time_limit
from tests.scripted import ScriptedExtractor, abstract, claim, write_records
from tests.storecompare import differences


@contextmanager
def incremental_only():
    """Every commit after the first takes the incremental path, however large its scope."""
    old = os.environ.get("LITKG_CONSTRUCT")
    os.environ["LITKG_CONSTRUCT"] = "incremental"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("LITKG_CONSTRUCT")
        else:
            os.environ["LITKG_CONSTRUCT"] = old


def rebuilt_copy(store: Store, where) -> Store:
    copy = Store(where)
    shutil.copytree(store.home, copy.home)
    rebuild(copy)
    return copy


def one_claim_papers(tmp_path, *papers: tuple):
    """A source file of papers `pmid:<day>` with one unqualified claim each:
    (day, subject, relation, object, confidence)."""
    return write_records(tmp_path / "in.jsonl", [
        {"doc_id": f"pmid:{n}", "title": "t", "published": day(n),
         "abstract": abstract(claim(s, r, o, "", c))} for n, s, r, o, c in papers])


def commit(store: Store, days, sources, vocabulary: str) -> str:
    summary = process_days(store, days, sources=sources, extractor=ScriptedExtractor(),
                           vocabulary=vocabulary)
    return summary.construct_mode


@pytest.mark.slow
@pytest.mark.timeout(time_limit(1800))
@settings(max_examples=examples(15))
@given(stream=streams(), data=st.data())
def test_every_incremental_commit_equals_a_rebuild(tmp_path_factory, stream, data):
    tmp = tmp_path_factory.mktemp("incremental")
    main = write_records(tmp / "main.jsonl", stream["main"])
    late = write_records(tmp / "late.jsonl", stream["late"])
    order = data.draw(st.permutations(list(range(1, DAYS + 1))), label="arrival order")
    cuts = sorted(data.draw(st.sets(st.integers(1, DAYS - 1), max_size=3), label="cuts"))
    batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, DAYS], strict=True)]
    store = Store(tmp / "store")
    modes = []
    with incremental_only():
        for i, batch in enumerate([*batches, None]):
            days = [day(n) for n in batch] if batch else days_between(day(1), day(DAYS))
            sources = [main] if batch else [main, late]
            modes.append(commit(store, days, sources, stream["vocabulary"]))
            note(f"commit {i}: days {batch or 'all (late file)'} -> {modes[-1]}")
            assert differences(store, rebuilt_copy(store, tmp / f"rebuilt{i}")) == {}
    assert "incremental" in modes[1:] or all(m == "" for m in modes[1:])


def test_a_nightly_day_is_incremental_and_equals_the_rebuild(tmp_path):
    """Without forcing: a small new day on a bigger store takes the incremental path."""
    records = [
        {"doc_id": f"pmid:{i}", "title": "t", "published": day(1 + i % 4),
         "abstract": abstract(claim("A", "improves", "B", "", 0.5),
                              claim(f"M{i % 7}", "outperforms", "B", "dataset=X", 0.7))}
        for i in range(40)
    ]
    records.append({"doc_id": "pmid:999", "title": "t", "published": day(5),
                    "abstract": abstract(claim("B", "outperforms", "M1", "dataset=X", 0.9))})
    src = write_records(tmp_path / "in.jsonl", records)
    store = Store(tmp_path / "store")
    assert commit(store, days_between(day(1), day(4)), [src], "ml") == "rebuild"
    assert commit(store, [day(5)], [src], "ml") == "incremental"
    assert differences(store, rebuilt_copy(store, tmp_path / "rebuilt")) == {}
    # the stored entities (step 33_entities.sql) follow the entities_as_of macro's rule
    con = store.connect()
    assert con.execute("SELECT * FROM entities ORDER BY entity_id").fetchall() == \
        con.execute("SELECT * FROM entities_as_of(DATE '9999-12-31') ORDER BY entity_id").fetchall()
    checks = verify(store)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert {c.table for c in checks} >= {"edges", "links", "mentions", "entities", "aliases"}


def test_a_late_record_that_only_links_two_papers_is_constructed_at_once(tmp_path):
    """Found by `make test-thorough` (example 444 of 1,000): a record re-sent with the same
    text but new cross-references adds no document version, yet merges two papers from its
    day on. The commit that ingests it must construct that day, incrementally, as a rebuild
    would (before: no construction at all, doc_runs and snapshots stale)."""
    text = abstract(claim("A", "outperforms", "B", "", 0.3))
    main = write_records(tmp_path / "main.jsonl", [
        {"doc_id": "arxiv:2401.00001", "title": "t", "published": day(1), "abstract": text},
        {"doc_id": "pmid:102", "title": "t", "published": day(3), "abstract": text,
         "revised": day(3)},
    ])
    # pmid:102 again, same text, an older revision (the stored row stays), but now linked
    late = write_records(tmp_path / "late.jsonl", [
        {"doc_id": "pmid:102", "title": "t", "published": day(3), "abstract": text,
         "revised": day(2), "other_ids": ["arxiv:2401.00001"]},
    ])
    store = Store(tmp_path / "store")
    with incremental_only():
        commit(store, [day(1)], [main], "ml")
        commit(store, [day(2), day(3)], [main], "ml")  # every day committed
        con = store.connect()
        before = con.execute("SELECT count(*) FROM doc_runs").fetchone()[0]
        con.close()
        assert commit(store, days_between(day(1), day(3)), [main, late], "ml") == "incremental"
    con = store.connect()
    # one paper now: its later copy stops counting from day 3 (the same text counts once)
    assert con.execute("SELECT count(*) FROM doc_runs").fetchone()[0] < before
    con.close()
    assert differences(store, rebuilt_copy(store, tmp_path / "rebuilt")) == {}

    # the same through `litkg ingest`, then a backfill without sources: the day is pending
    other = Store(tmp_path / "other")
    with incremental_only():
        commit(other, [day(1)], [main], "ml")
        commit(other, [day(2), day(3)], [main], "ml")
        ingest_only(other, [late])
        assert commit(other, days_between(day(1), day(3)), [], "ml") == "incremental"
    assert differences(other, store) == {}


def test_a_store_from_an_older_constructor_is_pending_then_rebuilt_at_its_next_commit(tmp_path):
    """A store whose constructor state predates a state table (entity_surfaces came with state
    version 2) is not reported as damaged: `verify` says the table is pending, and the next
    commit rebuilds, after which every table equals a rebuild."""
    src = write_records(tmp_path / "in.jsonl", [
        {"doc_id": f"pmid:{i}", "title": "t", "published": day(1 + i % 3),
         "abstract": abstract(claim("A", "improves", f"B{i % 2}", "", 0.5))} for i in range(6)
    ])
    store = Store(tmp_path / "store")
    commit(store, days_between(day(1), day(2)), [src], "ml")
    with store.writer() as tx:  # what a version-1 store looks like: no entity_surfaces rows
        tx.replace_table("entity_surfaces", "SELECT * FROM entity_surfaces WHERE false")
        tx.commit({"construct_state": 1})
    checks = {c.table: c for c in verify(store)}
    assert checks["entity_surfaces"].pending and checks["entity_surfaces"].live_rows == 0
    assert all(c.ok and not c.pending for t, c in checks.items() if t != "entity_surfaces")
    from typer.testing import CliRunner

    from litkg.cli import app

    said = CliRunner().invoke(app, ["verify", "--home", str(store.home)])
    assert said.exit_code == 0 and "pending" in said.output, said.output

    assert commit(store, [day(3)], [src], "ml") == "rebuild"
    checks = verify(store)
    assert all(c.ok and not c.pending for c in checks), [c for c in checks if not c.ok]
    assert differences(store, rebuilt_copy(store, tmp_path / "rebuilt")) == {}


def test_verify_finds_a_damaged_table_and_rebuild_repairs_it(tmp_path):
    from typer.testing import CliRunner

    from litkg.cli import app

    src = write_records(tmp_path / "in.jsonl", [
        {"doc_id": f"pmid:{i}", "title": "t", "published": day(1 + i % 3),
         "abstract": abstract(claim("A", "improves", "B", "", 0.5))} for i in range(6)
    ])
    store = Store(tmp_path / "store")
    commit(store, days_between(day(1), day(3)), [src], "ml")
    runner = CliRunner()
    home = ["--home", str(store.home)]
    ok = runner.invoke(app, ["verify", *home])
    assert ok.exit_code == 0, ok.output
    assert "equal a rebuild" in ok.output

    with store.writer() as tx:  # lose one link, as a faulty incremental commit might
        tx.delete_rows("links", "doc_id = 'pmid:1'")
        tx.commit()
    bad = runner.invoke(app, ["verify", *home])
    assert bad.exit_code == 1 and "links" in bad.output and "DIFFERS" in bad.output

    fixed = runner.invoke(app, ["rebuild", *home])
    assert fixed.exit_code == 0, fixed.output
    assert runner.invoke(app, ["verify", *home]).exit_code == 0


def test_a_new_claim_is_judged_against_its_stored_contradiction(tmp_path):
    """Day 2 adds only "B outperforms A"; the stored "A outperforms B" (untouched by day 2)
    must still contest it, and be re-judged itself: partners are recomputed together."""
    src = one_claim_papers(tmp_path, (1, "A", "outperforms", "B", 0.9),
                           (2, "B", "outperforms", "A", 0.5), (3, "B", "outperforms", "A", 0.95))
    store = Store(tmp_path / "store")
    with incremental_only():
        for n in (1, 2, 3):
            commit(store, [day(n)], [src], "ml")
            assert differences(store, rebuilt_copy(store, tmp_path / f"r{n}")) == {}
    statuses = dict(store.connect().execute(
        "SELECT subject || '>' || object, status FROM edges_as_of(?)", [day(3)]).fetchall())
    assert statuses == {"a>b": "contested", "b>a": "active"}


def test_an_entity_losing_its_last_mention_to_a_late_definition_is_counted_again(tmp_path):
    """Entities are patched from per-surface counts (31_entity_surfaces); when the mentions a
    commit removes held an entity's first or last day, that day is counted again from the
    entity's remaining mentions. Here a definition of KD published on day 2 arrives after days
    1 and 3: the day-3 mention now means knowledge distillation, the day-1 one still KD."""
    src = one_claim_papers(tmp_path, (1, "KD", "improves", "B", 0.5),
                           (3, "KD", "improves", "C", 0.5),
                           (2, "knowledge distillation (KD)", "improves", "A", 0.5))
    store = Store(tmp_path / "store")

    def kd() -> tuple:
        return store.connect().execute(
            "SELECT first_seen, last_seen, mention_count, doc_count FROM entities "
            "WHERE name = 'KD'").fetchone()

    with incremental_only():
        commit(store, [day(1), day(3)], [src], "ml")
        assert kd() == (day(1), day(3), 2, 2)
        assert commit(store, [day(2)], [src], "ml") == "incremental"
    assert kd() == (day(1), day(1), 1, 1)
    assert differences(store, rebuilt_copy(store, tmp_path / "rebuilt")) == {}


def test_a_claim_is_judged_again_with_its_contradiction_group_only(tmp_path):
    """A day touching one edge of a popular pair of entities judges again that edge and the
    edges of its contradiction family on the pair (improves/degrades), not the pair's other
    relations; the result still equals a rebuild."""
    records = [
        {"doc_id": f"pmid:{i}", "title": "t", "published": day(1),
         "abstract": abstract(claim("A", "used-for", "B", f"dataset=D{i}", 0.5),
                              claim("A", "degrades", "B", f"dataset=D{i}", 0.5))}
        for i in range(6)
    ]
    records.append({"doc_id": "pmid:99", "title": "t", "published": day(2),
                    "abstract": abstract(claim("A", "improves", "B", "", 0.9))})
    src = write_records(tmp_path / "in.jsonl", records)
    store = Store(tmp_path / "store")
    with incremental_only():
        commit(store, [day(1)], [src], "ml")
        summary = process_days(store, [day(2)], sources=[src], extractor=ScriptedExtractor())
    recorded = dict(store.connect().execute(
        "SELECT relation, count(*) FROM edges_history WHERE recorded_commit = "
        "(SELECT max(commit_no) FROM runs) GROUP BY relation").fetchall())
    # the unqualified "improves" is new; each dataset's "degrades" is judged against it and
    # contested (its version closed, a new one opened); the "used-for" edges of the pair stay
    assert summary.construct_mode == "incremental"
    assert recorded == {"improves": 1, "degrades": 12}
    assert differences(store, rebuilt_copy(store, tmp_path / "rebuilt")) == {}
