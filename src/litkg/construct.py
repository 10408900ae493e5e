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
import time
from datetime import UTC, datetime
from pathlib import Path

from litkg import schema
from litkg.store import Transaction

log = logging.getLogger(__name__)

# ln(1 - c) is stored as an integer number of nano-units (see 14_contrib.sql): sums are exact
# in any order.
LOG_SCALE = 1_000_000_000
MAX_CONFIDENCE = 0.999999


def _load_vocabulary(tx: Transaction, vocab: schema.Vocabulary) -> None:
    tx.sql(
        "CREATE OR REPLACE TEMP TABLE _rel_rules "
        "(relation VARCHAR, canonical VARCHAR, swap BOOLEAN, is_symmetric BOOLEAN)"
    )
    rules = vocab.relation_rules()
    if rules:
        tx.con.executemany(
            "INSERT INTO _rel_rules VALUES (?, ?, ?, ?)",
            [[r["relation"], r["canonical"], r["swap"], r["symmetric"]] for r in rules],
        )
    tx.sql(
        "CREATE OR REPLACE TEMP TABLE _contra_rules "
        "(relation VARCHAR, partner VARCHAR, is_reversed BOOLEAN)"
    )
    contra = vocab.contradiction_rules()
    if contra:
        tx.con.executemany(
            "INSERT INTO _contra_rules VALUES (?, ?, ?)",
            [[r["relation"], r["partner"], r["reversed"]] for r in contra],
        )


STEP_DIR = Path(__file__).parent / "sql" / "construct"


def _load_steps() -> list[tuple[str, str]]:
    """The pipeline, one numbered `.sql` file per step: `07_live.sql` makes temp table `_live`."""
    steps = []
    for path in sorted(STEP_DIR.glob("[0-9][0-9]_*.sql")):
        steps.append(("_" + path.stem.split("_", 1)[1], path.read_text(encoding="utf-8")))
    return steps


STEPS: list[tuple[str, str]] = _load_steps()
# Kept after construction: snapshots count live document versions from it.
KEEP = {"_doc_live"}


def construct(
    tx: Transaction, vocab: schema.Vocabulary, recorded_at: datetime | None = None
) -> dict[str, int]:
    """Rebuild the derived tables (links, mentions, entities, aliases, edges) in `tx`.

    Edges keep transaction time: versions this commit no longer computes are superseded, not
    dropped (`edges_history`); counts include `versions_recorded` / `versions_superseded`.
    """
    _load_vocabulary(tx, vocab)
    for name, sql in STEPS:
        t0 = time.perf_counter()
        tx.sql(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        log.debug("construct step %s: %.3f s", name, time.perf_counter() - t0)
    counts = {}
    counts["links"] = tx.replace_table("links", "SELECT * FROM _links")
    counts["mentions"] = tx.replace_table(
        "mentions",
        "SELECT * EXCLUDE (canonical, entity_key, day, first_live), first_live AS day, "
        "entity_key AS canonical, litkg_id(entity_key) AS entity_id FROM _mentions",
    )
    counts["entities"] = tx.replace_table(
        "entities", "SELECT * FROM entities_as_of(DATE '9999-12-31')"
    )
    counts["aliases"] = tx.replace_table(
        "aliases",
        """
        SELECT lower(surface) AS alias, litkg_id(entity_key) AS entity_id,
               CASE WHEN bool_or(via_acronym) THEN 'acronym' ELSE 'surface' END AS kind,
               min(first_live) AS first_seen, count(*) AS mention_count
        FROM _mentions GROUP BY lower(surface), litkg_id(entity_key)
        """,
    )
    commit_no = tx.base.commit + 1
    now = recorded_at or datetime.now(UTC).replace(tzinfo=None)
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
    tx.sql("DROP TABLE _edges_history")
    for name, _ in STEPS:
        if name not in KEEP:
            tx.sql(f"DROP TABLE IF EXISTS {name}")
    return counts
