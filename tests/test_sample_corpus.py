"""The bundled sample corpus end to end on the embedded extractor, checked against its gold."""

from __future__ import annotations

from litkg.goldcheck import check_gold
from tests.conftest import SAMPLE


def test_planted_behaviour_is_recovered(sample_store):
    report = check_gold(sample_store.connect(), SAMPLE / "gold.yaml")
    ok, total = report.score()
    print("gold recovery:", report.table(), f"{ok}/{total}")
    assert total > 70
    # every category is exercised; the figure itself is reported, the floor guards regressions
    assert ok / total >= 0.9, report.failures()
    for category in (
        "conflicts detected",
        "no false conflict across contexts",
        "revision",
        "malformed quarantined",
        "acronyms resolved",
    ):
        got, of = report.score(category)
        assert of and got == of, (category, report.failures())


def test_conflicts_live_within_a_context(sample_store):
    con = sample_store.connect()
    rows = con.execute(
        "SELECT context, winning_context FROM conflicts_as_of(DATE '2024-03-31')"
    ).fetchall()
    assert rows, "the sample plants conflicts"
    assert all(c == w or "" in (c, w) for c, w in rows)
    assert any(c.startswith("dataset=") for c, _ in rows)


def test_bad_records_are_quarantined_with_file_line_and_reason(sample_store):
    rows = (
        sample_store.connect()
        .execute("SELECT source_file, line, reason FROM quarantine ORDER BY line")
        .fetchall()
    )
    assert len(rows) == 6
    assert all(r[0].endswith("2024-03-malformed.jsonl") and r[1] >= 1 and r[2] for r in rows)
    reasons = " | ".join(r[2] for r in rows)
    for expected in (
        "not JSON",
        "no usable publication date",
        "not an ISO date",
        "no text",
        "missing doc_id",
        "invalid UTF-8",
    ):
        assert expected in reasons


def test_every_processed_day_has_a_snapshot(sample_store):
    con = sample_store.connect()
    days, empty = con.execute(
        "SELECT count(*), count(*) FILTER (new_documents = 0) FROM snapshots"
    ).fetchone()
    assert days == 31 and empty >= 1  # 2024-03-17 has no documents
    growing = con.execute(
        "SELECT bool_and(documents >= prev) FROM (SELECT documents, "
        "lag(documents, 1, 0) OVER (ORDER BY day) AS prev FROM snapshots)"
    ).fetchone()[0]
    assert growing


def test_a_claim_can_be_traced_from_edge_to_evidence_sentence(sample_store):
    con = sample_store.connect()
    row = con.execute(
        """SELECT a.doc_id, a.evidence, a.subject, substr(d.abstract, a.subject_start + 1,
                  a.subject_end - a.subject_start)
           FROM edges_as_of(DATE '2024-03-31') e JOIN assertions a USING (edge_id)
           JOIN documents d ON d.doc_id = a.doc_id AND d.content_hash = a.content_hash
           ORDER BY e.support DESC, a.assertion_id LIMIT 1"""
    ).fetchone()
    doc_id, evidence, subject, span = row
    assert subject == span and subject in evidence


def test_contexts_remove_false_conflicts(sample_store):
    con = sample_store.connect()
    within = con.execute("SELECT count(*) FROM conflicts_as_of(DATE '2024-03-31')").fetchone()[0]
    blind = con.execute(
        "SELECT count(*) FROM conflicts_ignoring_context_as_of(DATE '2024-03-31')"
    ).fetchone()[0]
    print(f"conflicts within contexts: {within}; ignoring contexts: {blind}")
    assert 0 < within < blind
