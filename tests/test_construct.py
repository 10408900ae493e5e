"""The constructor's semantics, specified with scripted assertions."""

from __future__ import annotations

from datetime import date

import pytest

from litkg.pipeline import days_between, process_days
from litkg.store import Store
from tests.scripted import ScriptedExtractor, abstract, claim, write_docs

D = date(2024, 1, 1)


def day(n: int) -> date:
    return date(2024, 1, n)


def build(tmp_path, docs, deletions=(), until: int = 10) -> Store:
    src = write_docs(tmp_path / "in" / "docs.jsonl", docs, deletions)
    store = Store(tmp_path / "store")
    process_days(
        store, days_between(day(1), day(until)), sources=[src], extractor=ScriptedExtractor()
    )
    return store


def edge_on(store: Store, subject: str, relation: str, obj: str, on: date, context: str = ""):
    con = store.connect()
    row = con.execute(
        "SELECT status, support, confidence, contested_by, edge_id FROM edges "
        "WHERE subject = ? AND relation = ? AND object = ? AND context = ? "
        "AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)",
        [subject, relation, obj, context, on, on],
    ).fetchone()
    return (
        None
        if row is None
        else dict(
            zip(["status", "support", "confidence", "contested_by", "edge_id"], row, strict=True)
        )
    )


def test_recurring_claim_is_reinforced_by_noisy_or(tmp_path):
    store = build(
        tmp_path,
        [
            ("doi:1", day(1), abstract(claim("Dropout", "improves", "robustness", conf=0.5))),
            ("doi:2", day(3), abstract(claim("dropout", "improves", "robustness", conf=0.6))),
            ("doi:3", day(5), abstract(claim("Dropout", "improves", "robustness", conf=0.7))),
        ],
    )
    assert edge_on(store, "dropout", "improves", "robustness", day(1))[
        "confidence"
    ] == pytest.approx(0.5)
    e3 = edge_on(store, "dropout", "improves", "robustness", day(3))
    assert e3["support"] == 2 and e3["confidence"] == pytest.approx(1 - 0.5 * 0.4)
    e5 = edge_on(store, "dropout", "improves", "robustness", day(9))
    assert e5["support"] == 3 and e5["confidence"] == pytest.approx(1 - 0.5 * 0.4 * 0.3)
    versions = (
        store.connect()
        .execute("SELECT count(*) FROM edges WHERE subject = 'dropout'")
        .fetchone()[0]
    )
    assert versions == 3  # one version per change, nothing overwritten


def test_one_document_counts_once_per_edge(tmp_path):
    store = build(
        tmp_path,
        [
            (
                "doi:1",
                day(1),
                abstract(
                    claim("A", "improves", "B", conf=0.5), claim("A", "improves", "B", conf=0.7)
                ),
            ),
        ],
    )
    e = edge_on(store, "a", "improves", "b", day(1))
    assert e["support"] == 1 and e["confidence"] == pytest.approx(0.7)


def test_contradicting_claim_with_higher_confidence_becomes_active(tmp_path):
    store = build(
        tmp_path,
        [
            ("doi:1", day(1), abstract(claim("X", "improves", "Y", conf=0.6))),
            ("doi:2", day(4), abstract(claim("X", "degrades", "Y", conf=0.9))),
        ],
    )
    assert edge_on(store, "x", "improves", "y", day(2))["status"] == "active"
    imp, deg = (edge_on(store, "x", r, "y", day(4)) for r in ("improves", "degrades"))
    assert deg["status"] == "active"
    assert imp["status"] == "contested" and imp["contested_by"] == deg["edge_id"]
    # the earlier version is kept: as of day 2 the claim was active
    assert edge_on(store, "x", "improves", "y", day(3))["status"] == "active"


def test_reversed_outperforms_is_a_conflict_and_can_flip_back(tmp_path):
    store = build(
        tmp_path,
        [
            ("doi:1", day(1), abstract(claim("A", "outperforms", "B", "dataset=ImageNet", 0.8))),
            ("doi:2", day(2), abstract(claim("B", "outperforms", "A", "dataset=ImageNet", 0.8))),
            ("doi:3", day(2), abstract(claim("B", "outperforms", "A", "dataset=ImageNet", 0.8))),
            ("doi:4", day(5), abstract(claim("A", "outperforms", "B", "dataset=ImageNet", 0.9))),
            ("doi:5", day(5), abstract(claim("A", "outperforms", "B", "dataset=ImageNet", 0.9))),
        ],
    )
    ctx = "dataset=imagenet"
    assert edge_on(store, "a", "outperforms", "b", day(1), ctx)["status"] == "active"
    assert edge_on(store, "a", "outperforms", "b", day(3), ctx)["status"] == "contested"
    assert edge_on(store, "b", "outperforms", "a", day(3), ctx)["status"] == "active"
    assert edge_on(store, "a", "outperforms", "b", day(6), ctx)["status"] == "active"
    assert edge_on(store, "b", "outperforms", "a", day(6), ctx)["status"] == "contested"


def test_tie_goes_to_the_more_recent_evidence(tmp_path):
    store = build(
        tmp_path,
        [
            ("doi:1", day(1), abstract(claim("X", "improves", "Y", conf=0.7))),
            ("doi:2", day(3), abstract(claim("X", "degrades", "Y", conf=0.7))),
        ],
    )
    assert edge_on(store, "x", "degrades", "y", day(3))["status"] == "active"
    assert edge_on(store, "x", "improves", "y", day(3))["status"] == "contested"


def test_claims_in_different_contexts_do_not_conflict(tmp_path):
    store = build(
        tmp_path,
        [
            ("doi:1", day(1), abstract(claim("A", "outperforms", "B", "dataset=ImageNet", 0.8))),
            ("doi:2", day(2), abstract(claim("B", "outperforms", "A", "dataset=CIFAR-10", 0.9))),
        ],
    )
    assert edge_on(store, "a", "outperforms", "b", day(3), "dataset=imagenet")["status"] == "active"
    assert edge_on(store, "b", "outperforms", "a", day(3), "dataset=CIFAR 10")["status"] == "active"
    con = store.connect()
    assert con.execute("SELECT count(*) FROM conflicts_as_of(DATE '2024-01-03')").fetchone()[0] == 0


def test_a_qualified_claim_is_judged_against_the_unqualified_default(tmp_path):
    store = build(
        tmp_path,
        [
            ("doi:1", day(1), abstract(claim("A", "outperforms", "B", "dataset=ImageNet", 0.6))),
            ("doi:2", day(2), abstract(claim("B", "outperforms", "A", "", 0.8))),
        ],
    )
    loser = edge_on(store, "a", "outperforms", "b", day(2), "dataset=imagenet")
    assert loser["status"] == "contested"
    rows = (
        store.connect()
        .execute("SELECT context, winning_context FROM conflicts_as_of(DATE '2024-01-02')")
        .fetchall()
    )
    assert rows == [("dataset=imagenet", "")]


def test_one_datasets_result_never_contests_the_general_claim(tmp_path):
    # improves(dropout, acc) in general; degrades on dataset x (weaker) and on y (stronger)
    store = build(
        tmp_path,
        [
            ("doi:1", day(1), abstract(claim("dropout", "improves", "acc", "", 0.9))),
            ("doi:2", day(2), abstract(claim("dropout", "degrades", "acc", "dataset=x", 0.5))),
            ("doi:3", day(3), abstract(claim("dropout", "degrades", "acc", "dataset=y", 0.95))),
        ],
    )
    assert edge_on(store, "dropout", "improves", "acc", day(3))["status"] == "active"
    assert edge_on(store, "dropout", "degrades", "acc", day(3), "dataset=x")["status"] == (
        "contested"
    )
    assert edge_on(store, "dropout", "degrades", "acc", day(3), "dataset=y")["status"] == "active"


def test_rollup_pools_qualified_versions_of_a_claim(tmp_path):
    store = build(
        tmp_path,
        [
            ("doi:1", day(1), abstract(claim("A", "outperforms", "B", "dataset=ImageNet", 0.5))),
            ("doi:2", day(2), abstract(claim("A", "outperforms", "B", "dataset=CIFAR-10", 0.5))),
        ],
    )
    row = (
        store.connect()
        .execute("SELECT support, confidence, contexts FROM edges_rollup_as_of(DATE '2024-01-05')")
        .fetchone()
    )
    assert row[0] == 2 and row[1] == pytest.approx(0.75)
    assert row[2] == ["dataset=CIFAR 10", "dataset=imagenet"]


def test_revision_retracts_the_old_versions_assertions_from_its_date(tmp_path):
    store = build(
        tmp_path,
        [
            ("doi:1", day(1), abstract(claim("A", "improves", "B"), claim("A", "used-for", "C"))),
            ("doi:1", day(4), abstract(claim("A", "used-for", "C"))),
        ],
    )
    assert edge_on(store, "a", "improves", "b", day(3))["status"] == "active"
    assert edge_on(store, "a", "improves", "b", day(4))["status"] == "retracted"
    used = edge_on(store, "a", "used-for", "c", day(5))
    assert used["status"] == "active" and used["support"] == 1
    con = store.connect()
    statuses = dict(
        con.execute("SELECT status, count(*) FROM assertions GROUP BY status").fetchall()
    )
    assert statuses == {"live": 1, "retracted": 2}  # kept, flagged, never deleted
    assert (
        con.execute(
            "SELECT count(*) FROM edges_as_of(DATE '2024-01-05') WHERE relation = 'improves'"
        ).fetchone()[0]
        == 0
    )


def test_deletion_retracts_a_documents_claims(tmp_path):
    store = build(
        tmp_path,
        [("pmid:7", day(1), abstract(claim("A", "improves", "B")))],
        deletions=[("pmid:7", day(6))],
    )
    assert edge_on(store, "a", "improves", "b", day(5))["status"] == "active"
    assert edge_on(store, "a", "improves", "b", day(6))["status"] == "retracted"


def test_same_content_again_is_a_no_op(tmp_path):
    text = abstract(claim("A", "improves", "B", conf=0.5))
    store = build(tmp_path, [("doi:1", day(1), text), ("doi:1", day(5), text)])
    e = edge_on(store, "a", "improves", "b", day(9))
    assert e["support"] == 1 and e["confidence"] == pytest.approx(0.5)
    con = store.connect()
    assert con.execute("SELECT count(*) FROM edges").fetchone()[0] == 1


def test_acronym_resolves_to_its_long_form_from_the_first_definition_on(tmp_path):
    store = build(
        tmp_path,
        [
            ("doi:0", day(1), abstract(claim("KD", "improves", "accuracy"))),
            (
                "doi:1",
                day(2),
                abstract(claim("knowledge distillation (KD)", "improves", "accuracy")),
            ),
            ("doi:2", day(3), abstract(claim("KD", "improves", "accuracy"))),
        ],
    )
    # before the definition, "KD" is its own entity; from it on, it is knowledge distillation
    assert edge_on(store, "KD", "improves", "accuracy", day(2))["support"] == 1
    assert edge_on(store, "knowledge distillation", "improves", "accuracy", day(3))["support"] == 2
    con = store.connect()
    kind = con.execute(
        "SELECT a.kind FROM aliases a JOIN entities e USING (entity_id) "
        "WHERE a.alias = 'kd' AND e.canonical = 'knowledge distillation'"
    ).fetchone()
    assert kind == ("acronym",)


def test_symmetric_relations_and_inverses_share_one_edge(tmp_path):
    store = build(
        tmp_path,
        [
            (
                "doi:1",
                day(1),
                abstract(claim("A", "compare", "B"), claim("C", "underperforms", "D")),
            ),
            ("doi:2", day(2), abstract(claim("B", "compare", "A"), claim("D", "outperforms", "C"))),
        ],
    )
    assert edge_on(store, "a", "compare", "b", day(2))["support"] == 2
    assert edge_on(store, "d", "outperforms", "c", day(2))["support"] == 2


def test_every_edge_traces_to_its_assertions(tmp_path):
    store = build(
        tmp_path,
        [
            ("doi:1", day(1), abstract(claim("A", "improves", "B"))),
            ("doi:2", day(2), abstract(claim("A", "improves", "B"))),
        ],
    )
    con = store.connect()
    rows = con.execute(
        "SELECT a.doc_id, a.evidence FROM assertions a JOIN edges e USING (edge_id) "
        "WHERE e.subject = 'a' ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in rows] == ["doi:1", "doi:1", "doi:2", "doi:2"]  # 2 versions x 2 docs
    changes = con.execute(
        "SELECT change, evidence_docs FROM changes(DATE '2024-01-01', DATE '2024-01-02')"
    ).fetchall()
    assert changes == [("reinforced", ["doi:2"])]


def test_construction_keeps_only_the_step_tables_read_after_it(tmp_path):
    """A step's table is dropped once no later step reads it (a 30M rebuild spills less); what
    the writes and `litkg verify` read after the steps is all still there, in both modes."""
    from litkg import schema
    from litkg.construct import OUTPUTS, compute, load_steps
    from litkg.rebuild import DERIVED

    store = build(tmp_path, [("pmid:1", day(1), abstract(claim("A", "improves", "B", "", 0.5)))])
    assert set(DERIVED.values()) <= OUTPUTS
    for mode in ("rebuild", "incremental"):
        with store.writer() as tx:
            tx.sql("CREATE TEMP TABLE _dirty (tbl VARCHAR, d DATE)")
            compute(tx.con, schema.vocabulary("ml"), mode)
            alive = {r[0] for r in tx.sql(
                "SELECT table_name FROM duckdb_tables() WHERE temporary UNION "
                "SELECT view_name FROM duckdb_views() WHERE temporary").fetchall()}
        steps = {s.name for s in load_steps(mode)}
        assert alive & steps == OUTPUTS & steps, mode
