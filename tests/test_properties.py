"""Property tests of the temporal graph over generated assertion streams (with contexts,
revisions, duplicates and deletions):

(a) processing the same days in any order gives identical graph tables;
(b) rerunning a day changes nothing;
(c) edges_as_of(D) equals the graph built from only the documents published on or before D
    (over the oracle's generator: papers across sources, acronyms, late records...);
(d) no assertion is lost: every edge version's support and confidence are recomputable from
    its assertions.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litkg.pipeline import days_between, process_days
from litkg.store import Store
from tests.generators import DAYS, examples, streams, time_limit
from tests.scripted import ScriptedExtractor, abstract, claim, write_docs, write_records
from tests.storecompare import snapshot

ENTITIES = ["A", "B", "C", "knowledge distillation (KD)", "KD"]
RELATIONS = ["outperforms", "improves", "degrades", "compare", "used-for", "underperforms"]
CONTEXTS = ["", "dataset=X", "dataset=Y", "dataset=X,metric=F1"]

claims = st.builds(
    lambda s, r, o, c, p: claim(s, r, o, c, p),
    st.sampled_from(ENTITIES),
    st.sampled_from(RELATIONS),
    st.sampled_from(ENTITIES),
    st.sampled_from(CONTEXTS),
    st.sampled_from([0.3, 0.5, 0.7, 0.9]),
)
documents = st.lists(
    st.tuples(st.integers(0, 4), st.integers(1, DAYS), st.lists(claims, min_size=1, max_size=3)),
    min_size=1,
    max_size=10,
)
deletions = st.lists(st.tuples(st.integers(0, 4), st.integers(1, DAYS)), max_size=2)


def day(n: int) -> date:
    return date(2024, 1, n)


def write_stream(path, docs, dels):
    return write_docs(
        path,
        [(f"doi:{i}", day(d), abstract(*cs)) for i, d, cs in docs],
        [(f"doi:{i}", day(d)) for i, d in dels],
    )


def run(store: Store, src, days: list[date], force: bool = False) -> None:
    process_days(store, days, sources=[src], extractor=ScriptedExtractor(), force=force)


@settings(max_examples=examples(12))
@pytest.mark.slow
@pytest.mark.timeout(time_limit(1800))  # many examples of a whole pipeline
@given(docs=documents, dels=deletions, order=st.permutations(list(range(1, DAYS + 1))))
def test_any_processing_order_gives_identical_tables(tmp_path_factory, docs, dels, order):
    tmp = tmp_path_factory.mktemp("order")
    src = write_stream(tmp / "in.jsonl", docs, dels)
    whole = Store(tmp / "whole")
    run(whole, src, days_between(day(1), day(DAYS)))
    shuffled = Store(tmp / "shuffled")
    for d in order:
        run(shuffled, src, [day(d)])
    assert snapshot(shuffled) == snapshot(whole)


@settings(max_examples=examples(12))
@pytest.mark.slow
@pytest.mark.timeout(time_limit(1800))  # many examples of a whole pipeline
@given(docs=documents, dels=deletions, again=st.integers(1, DAYS))
def test_rerunning_a_day_changes_nothing(tmp_path_factory, docs, dels, again):
    tmp = tmp_path_factory.mktemp("rerun")
    src = write_stream(tmp / "in.jsonl", docs, dels)
    store = Store(tmp / "store")
    run(store, src, days_between(day(1), day(DAYS)))
    before = snapshot(store)
    run(store, src, [day(again)])  # committed: skipped
    run(store, src, [day(again)], force=True)  # recomputed
    assert snapshot(store) == before


@settings(max_examples=examples(25))
@pytest.mark.slow
@pytest.mark.timeout(time_limit(1800))  # many examples of a whole pipeline
@given(stream=streams(), cut=st.integers(1, DAYS))
def test_edges_as_of_a_day_equal_the_graph_built_from_documents_up_to_it(
    tmp_path_factory, stream, cut
):
    """With papers across sources (merges, then ambiguity), acronyms redefined, revisions and
    deletions: nothing after day `cut` changes what the graph says about it."""
    tmp = tmp_path_factory.mktemp("asof")
    src = write_records(tmp / "in.jsonl", stream["main"] + stream["late"])
    whole, prefix = Store(tmp / "whole"), Store(tmp / "prefix")
    for store, last in ((whole, DAYS), (prefix, cut)):
        process_days(store, days_between(day(1), day(last)), sources=[src],
                     extractor=ScriptedExtractor(), vocabulary=stream["vocabulary"])
    q_edges = ("SELECT * EXCLUDE (valid_to, recorded_commit, recorded_at) FROM edges_as_of(?) "
               "ORDER BY edge_id")
    q_entities = "SELECT * FROM entities_as_of(?) ORDER BY entity_id"
    for q in (q_edges, q_entities):
        assert (
            whole.connect().execute(q, [day(cut)]).fetchall()
            == prefix.connect().execute(q, [day(cut)]).fetchall()
        )


@settings(max_examples=examples(15))
@pytest.mark.slow
@pytest.mark.timeout(time_limit(1800))  # many examples of a whole pipeline
@given(docs=documents, dels=deletions)
def test_every_edge_version_is_recomputable_from_its_assertions(tmp_path_factory, docs, dels):
    tmp = tmp_path_factory.mktemp("trace")
    src = write_stream(tmp / "in.jsonl", docs, dels)
    store = Store(tmp / "store")
    run(store, src, days_between(day(1), day(DAYS)))
    con = store.connect()
    rows = con.execute(
        """
        WITH per_doc AS (
            SELECT edge_id, doc_id, content_hash, live_from, retracted_on, max(confidence) AS c
            FROM links GROUP BY ALL
        )
        SELECT e.edge_id, e.valid_from, e.support, e.confidence, count(p.doc_id) AS n,
               CASE WHEN count(p.doc_id) = 0 THEN 0
                    ELSE 1 - exp(sum(ln(1 - least(p.c, 0.999999)))) END AS conf
        FROM edges e LEFT JOIN per_doc p
          ON p.edge_id = e.edge_id AND p.live_from <= e.valid_from
         AND (p.retracted_on IS NULL OR p.retracted_on > e.valid_from)
        GROUP BY ALL
        """
    ).fetchall()
    for edge_id, valid_from, support, confidence, n, conf in rows:
        assert support == n, (edge_id, valid_from)
        assert abs(confidence - conf) < 1e-9, (edge_id, valid_from)
    # every assertion of a document version that counted reaches an edge, unless its subject
    # and object resolve to one entity (acronyms included: no exclusions)
    lost = con.execute(
        """
        SELECT count(*) FROM assertions a
        WHERE a.status = 'ignored'
          AND EXISTS (SELECT 1 FROM links l WHERE l.doc_id = a.doc_id
                      AND l.content_hash = a.content_hash AND l.day = a.day)
          AND NOT EXISTS (SELECT 1 FROM mentions s JOIN mentions o USING (assertion_id)
                          WHERE s.assertion_id = a.assertion_id AND s.role = 'subject'
                            AND o.role = 'object' AND s.entity_id = o.entity_id)
        """
    ).fetchone()[0]
    assert lost == 0
