"""The constructor: documents + assertions -> entities, aliases, links and temporal edges.

Everything is set-based SQL over whole tables, one numbered file per step in
`sql/construct/` (this module only orders and runs them), and a pure function of the stored
inputs (documents, deletions, document_ids, assertions, abbreviations) and the vocabulary:
whatever order days arrive in, the same inputs give the same tables. Every rule is defined per
day from the inputs dated on or before it, so `edges_as_of(d)` never looks into the future.
docs/architecture.md ("Merge semantics") states the rules; tests/oracle.py is their
plain-Python specification.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from litkg import schema
from litkg.store import Transaction
from litkg.store.arrow import registered

log = logging.getLogger(__name__)

# ln(1 - c) is stored as an integer number of nano-units (see 20_contrib.sql): sums are exact
# in any order.
LOG_SCALE = 1_000_000_000
MAX_CONFIDENCE = 0.999999


def _temp_table(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, pa.DataType],
                rows: list[list]) -> None:
    """A small temp table from Python rows (the vocabulary's rules)."""
    table = pa.table({c: pa.array([row[i] for row in rows], t)
                      for i, (c, t) in enumerate(columns.items())})
    with registered(con, table) as view:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {view}")


def _families(contra: list[dict]) -> dict[str, str]:
    """Contradiction families: the connected components of the rules, each named by its
    smallest relation. An edge's partners share its pair of entities and its family, so
    (pair, family) groups are closed under judging."""
    family: dict[str, str] = {}

    def root(r: str) -> str:
        while family.setdefault(r, r) != r:
            r = family[r]
        return r

    for r in contra:
        a, b = root(r["relation"]), root(r["partner"])
        family[max(a, b)] = min(a, b)
    return {r: root(r) for r in sorted(family)}


def _load_vocabulary(con: duckdb.DuckDBPyConnection, vocab: schema.Vocabulary) -> None:
    text, flag = pa.string(), pa.bool_()
    _temp_table(con, "_rel_rules",
                {"relation": text, "canonical": text, "swap": flag, "is_symmetric": flag},
                [[r["relation"], r["canonical"], r["swap"], r["symmetric"]]
                 for r in vocab.relation_rules()])
    contra = vocab.contradiction_rules()
    _temp_table(con, "_contra_rules", {"relation": text, "partner": text, "is_reversed": flag},
                [[r["relation"], r["partner"], r["reversed"]] for r in contra])
    _temp_table(con, "_rel_family", {"relation": text, "family": text},
                [[r, f] for r, f in _families(contra).items()])


STEP_DIR = Path(__file__).parent / "sql" / "construct"
MODES = ("rebuild", "incremental")
# The stored state the incremental path reads (doc_runs, acronym_defs, mentions.surface_key):
# a store without it, or with an older layout, is rebuilt once.
STATE_VERSION = 2  # 2: entity_surfaces
# The state table each version added: a store built before it holds the table empty until its
# next commit rebuilds it (`litkg verify` reports it as pending, not as differing).
STATE_TABLES_SINCE = {"entity_surfaces": 2}
# An incremental commit whose scope holds more than this share of all documents is a rebuild
# (the same tables, computed in one pass).
REBUILD_SHARE = 0.25
# The constructor's input tables, seen by the document-level steps through `_in_<name>` views.
INPUTS = ("documents", "deletions", "document_ids", "abbreviations")


# $LITKG_PROFILE_DIR: write each step's query plan with operator timings there
PROFILE_DIR = os.environ.get("LITKG_PROFILE_DIR", "")


@dataclass(frozen=True)
class Step:
    name: str  # the temp table (or view) it makes: `07_defs.sql` makes `_defs`
    sql: str
    view: bool  # `-- materialize: view` in the file: a view, not a table


def load_steps(mode: str) -> list[Step]:
    """The pipeline for `mode`, one numbered `.sql` file per step. `NN_name.sql` runs in both
    modes; `NN_name.rebuild.sql` / `NN_name.incremental.sql` are a step's two variants."""
    if mode not in MODES:
        raise ValueError(f"unknown construction mode {mode!r} (one of {MODES})")
    steps = []
    for path in sorted(STEP_DIR.glob("[0-9][0-9]_*.sql")):
        stem, _, variant = path.name.removesuffix(".sql").partition(".")
        if variant and variant != mode:
            continue
        sql = path.read_text(encoding="utf-8")
        steps.append(Step("_" + stem.split("_", 1)[1], sql, "-- materialize: view" in sql))
    return steps


STEPS: list[tuple[str, str]] = [(s.name, s.sql) for s in load_steps("rebuild")]

# The step tables read after the steps: by the writes (`_write_rebuild`, `_write_incremental`)
# and by `litkg verify` (rebuild.DERIVED). Every other step table is dropped as soon as the last
# step that names it has run, so a big rebuild holds only what is still to be read (30M
# assertions: _raw_mentions alone is ~70M rows) and spills less.
OUTPUTS = frozenset({"_scope_docs", "_in_assertions", "_doc_live", "_defs", "_links",
                     "_mention_rows", "_scope_edges", "_edge_versions", "_scope_entities",
                     "_entity_surfaces", "_entities", "_aliases"})


def drop_points(steps: list[Step]) -> dict[int, list[str]]:
    """Which step tables can go after each step (by index): those no later step names."""
    after: dict[int, list[str]] = {}
    for i, step in enumerate(steps):
        if step.name in OUTPUTS:
            continue
        named = re.compile(rf"\b{step.name}\b")
        last = max((j for j in range(i + 1, len(steps)) if named.search(steps[j].sql)),
                   default=i)
        after.setdefault(last, []).append(step.name)
    return after


def _drop(con: duckdb.DuckDBPyConnection, name: str, view: bool | None = None) -> None:
    """Drop a step's temp table or view: the kind given first, the other if that is what
    exists (a catalog query would cost more: it lists the attached lake's tables too)."""
    kinds = ("TABLE", "VIEW") if view is False else ("VIEW", "TABLE")
    for kind in kinds:
        try:
            con.execute(f"DROP {kind} IF EXISTS {name}")
            return
        except duckdb.CatalogException:  # it is the other kind
            continue


def _run_steps(con: duckdb.DuckDBPyConnection, steps: list[Step], first: int = 0,
               drop_after: dict[int, list[str]] | None = None) -> None:
    """Run `steps` (numbered from `first` in `drop_after`), dropping what is no longer read."""
    views = {s.name: s.view for s in steps}
    for i, step in enumerate(steps, start=first):
        t0 = time.perf_counter()
        kind = "VIEW" if step.view else "TABLE"
        _drop(con, step.name, step.view)
        if PROFILE_DIR:  # a query plan with operator timings per step, for development
            con.execute("PRAGMA enable_profiling = 'query_tree'")
            con.execute(f"PRAGMA profiling_output = '{PROFILE_DIR}/{step.name}.txt'")
        con.execute(f"CREATE TEMP {kind} {step.name} AS {step.sql}")
        if PROFILE_DIR:
            con.execute("PRAGMA disable_profiling")
        log.debug("construct step %s: %.3f s", step.name, time.perf_counter() - t0)
        for name in (drop_after or {}).get(i, []):
            _drop(con, name, views.get(name))


def _inputs(con: duckdb.DuckDBPyConnection, mode: str) -> None:
    """`_in_<table>`: the inputs of the document-level steps (all, or the scope's documents)."""
    for name in INPUTS:
        _drop(con, f"_in_{name}", mode == "rebuild")
        if mode == "rebuild":
            con.execute(f"CREATE TEMP VIEW _in_{name} AS SELECT * FROM {name}")
            continue
        # the scope's rows, read once: each step reads them again, and a scan of an input
        # table visits all its day files
        con.execute(f"CREATE TEMP TABLE _in_{name} AS SELECT * FROM {name} "
                    "WHERE doc_id IN (SELECT doc_id FROM _scope_docs)")


def _dirty_table(con: duckdb.DuckDBPyConnection, dirty: dict[str, list[str]]) -> None:
    """`_dirty` (tbl, d): the days written since the last construction (a load of 18,000 days
    marks 72,000)."""
    rows = pa.table({"tbl": pa.array([t for t, days in dirty.items() for _ in days], pa.string()),
                     "d": pa.array([d for days in dirty.values() for d in days], pa.string())})
    with registered(con, rows) as name:
        con.execute("CREATE OR REPLACE TEMP TABLE _dirty AS "
                    f"SELECT tbl, CAST(d AS DATE) AS d FROM {name}")


def compute(
    con: duckdb.DuckDBPyConnection,
    vocab: schema.Vocabulary,
    mode: str = "rebuild",
    dirty: dict[str, list[str]] | None = None,
    scoped: bool = False,
) -> list[Step]:
    """Run the steps of `mode` on `con` (which reads the store's tables): temp tables `_links`,
    `_mention_rows`, `_entities`, `_aliases`, `_doc_live`, `_defs`, `_edge_versions`... A
    rebuild reads only the input tables, so it also runs on a read-only connection (verify).
    `scoped`: the scope step (`_scope_docs`) already ran (choose_mode measured it)."""
    _load_vocabulary(con, vocab)
    steps = load_steps(mode)
    t0 = time.perf_counter()
    if not scoped:
        _dirty_table(con, dirty or {})
        _run_steps(con, steps[:1])
    t1 = time.perf_counter()
    _inputs(con, mode)
    log.debug("construct inputs (%s): %.3f s", mode, time.perf_counter() - t1)
    _run_steps(con, steps[1:], 1, drop_points(steps))
    log.debug("construct (%s) computed in %.3f s", mode, time.perf_counter() - t0)
    return steps


def choose_mode(tx: Transaction, requested: str = "auto") -> tuple[str, bool]:
    """`rebuild` or `incremental`: an explicit request ($LITKG_CONSTRUCT too) wins; otherwise
    incremental when the store holds the constructor's state and the commit's scope is small.
    Also whether the incremental scope (`_scope_docs`) was computed to decide."""
    if requested == "auto":
        requested = os.environ.get("LITKG_CONSTRUCT", requested)
    if requested in MODES:
        if requested == "incremental" and not has_state(tx):
            return "rebuild", False  # nothing to patch yet
        return requested, False
    if not has_state(tx):
        return "rebuild", False
    _dirty_table(tx.con, tx.dirty_days())
    steps = load_steps("incremental")
    _run_steps(tx.con, steps[:1])  # _scope_docs
    scope, total = tx.sql(
        "SELECT (SELECT count(*) FROM _scope_docs), (SELECT count(*) FROM doc_runs)"
    ).fetchone()
    if scope > REBUILD_SHARE * max(total, 1):
        return "rebuild", False
    return "incremental", True


def has_state(tx: Transaction) -> bool:
    return tx.manifest.meta.get("construct_state") == STATE_VERSION


def construct(
    tx: Transaction,
    vocab: schema.Vocabulary,
    recorded_at: datetime | None = None,
    mode: str = "auto",
) -> dict[str, int | str]:
    """Bring the derived tables (links, mentions, entities, aliases, edges and the
    constructor's state) up to date with the inputs in `tx`.

    `rebuild` computes everything from the inputs; `incremental` recomputes only what the days
    written since the last construction touch (docs/architecture.md, "Incremental commit") and
    patches the tables. Both give the same tables (tests/test_incremental.py). Edges keep
    transaction time: versions no longer computed are superseded, not dropped
    (`edges_history`); counts include `versions_recorded` / `versions_superseded`.
    """
    mode, scoped = choose_mode(tx, mode)
    steps = compute(tx.con, vocab, mode, tx.dirty_days(), scoped=scoped)
    commit_no = tx.base.commit + 1
    now = recorded_at or datetime.now(UTC).replace(tzinfo=None)
    write = _write_rebuild if mode == "rebuild" else _write_incremental
    counts: dict[str, int | str] = {"mode": mode, **write(tx, commit_no, now)}
    for step in steps:  # the others went after their last reader (drop_points)
        if step.name in OUTPUTS:
            _drop(tx.con, step.name, step.view)
    tx.clear_dirty()
    tx.manifest.meta["construct_state"] = STATE_VERSION
    return counts


def _write_rebuild(tx: Transaction, commit_no: int, now: datetime) -> dict[str, int]:
    counts = {
        "doc_runs": tx.replace_table("doc_runs", "SELECT * FROM _doc_live"),
        "acronym_defs": tx.replace_table("acronym_defs", "SELECT * FROM _defs"),
        "links": tx.replace_table("links", "SELECT * FROM _links"),
        "mentions": tx.replace_table("mentions", "SELECT * FROM _mention_rows"),
        "entities": tx.replace_table("entities", "SELECT * FROM _entities"),
        "aliases": tx.replace_table("aliases", "SELECT * FROM _aliases"),
        "entity_surfaces": tx.replace_table("entity_surfaces", "SELECT * FROM _entity_surfaces"),
    }
    tx.sql(
        "CREATE OR REPLACE TEMP TABLE _edges_history AS "
        + (STEP_DIR.parent / "history.sql").read_text(encoding="utf-8"),
        {"commit_no": commit_no, "now": now},
    )
    counts["versions_recorded"], counts["versions_superseded"] = tx.sql(
        "SELECT count(*) FILTER (recorded_commit = $n), count(*) FILTER (superseded_commit = $n) "
        "FROM _edges_history", {"n": commit_no}
    ).fetchone()
    counts["edges"] = tx.replace_table(
        "edges", "SELECT * FROM _edges_history", partition_by="month"
    )
    tx.replace_table("edge_supersessions", "SELECT * FROM edge_supersessions WHERE false")
    tx.sql("DROP TABLE _edges_history")
    return counts


# Rows a commit replaces, by table: those of the scope's documents and re-resolved assertions.
# The first conjunct, implied by the second, is a cheap semi-join on one column that leaves
# few rows for the OR (a re-resolved assertion's document is in _in_assertions too).
_GONE = ("doc_id IN (SELECT doc_id FROM _scope_docs UNION SELECT doc_id FROM _in_assertions) "
         "AND (doc_id IN (SELECT doc_id FROM _scope_docs) "
         "OR assertion_id IN (SELECT assertion_id FROM _in_assertions))")


def _write_incremental(tx: Transaction, commit_no: int, now: datetime) -> dict[str, int]:
    tx.sql(
        "CREATE OR REPLACE TEMP TABLE _history_delta AS "
        + (STEP_DIR.parent / "history_delta.sql").read_text(encoding="utf-8"),
        {"commit_no": commit_no, "now": now},
    )
    counts = {"scope_documents": tx.sql("SELECT count(*) FROM _scope_docs").fetchone()[0],
              "scope_edges": tx.sql("SELECT count(*) FROM _scope_edges").fetchone()[0]}
    # everything below reads only the temp tables computed above, not the views it patches
    for name, new in (("doc_runs", "_doc_live"), ("acronym_defs", "_defs")):
        tx.delete_rows(name, "doc_id IN (SELECT doc_id FROM _scope_docs)")
        counts[name] = tx.insert_rows(name, f"SELECT * FROM {new}")
    for name, new in (("links", "_links"), ("mentions", "_mention_rows")):
        tx.delete_rows(name, _GONE)
        counts[name] = tx.insert_rows(name, f"SELECT * FROM {new}")
    for name, new in (("entities", "_entities"), ("aliases", "_aliases"),
                      ("entity_surfaces", "_entity_surfaces")):
        tx.delete_rows(name, "entity_id IN (SELECT entity_id FROM _scope_entities)")
        counts[name] = tx.insert_rows(name, f"SELECT * FROM {new}")
    # merge-on-read: a superseded version gets a mark, its file is not rewritten
    tx.insert_rows(
        "edge_supersessions",
        "SELECT edge_id, valid_from, recorded_commit, superseded_commit, superseded_at, "
        "CAST(superseded_at AS DATE) AS day FROM _history_delta WHERE change = 'supersede'",
    )
    # one file for the commit's versions, under the commit's month: the versions it closes
    # start in many months, and a file in each was hundreds of small files a night
    tx.insert_rows("edges", "SELECT * EXCLUDE (change) FROM _history_delta "
                            "WHERE change = 'record'", into=f"month={now:%Y-%m}")
    counts["versions_recorded"], counts["versions_superseded"] = tx.sql(
        "SELECT count(*) FILTER (change = 'record'), count(*) FILTER (change = 'supersede') "
        "FROM _history_delta"
    ).fetchone()
    tx.sql("DROP TABLE _history_delta")
    return counts
