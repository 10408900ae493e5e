"""The constructor: documents + assertions -> entities, aliases, links and temporal edges.

Everything here is set-based SQL over whole tables (no Python loop over triples), and a pure
function of the stored inputs (documents, deletions, assertions, abbreviations) and the
vocabulary. That is what makes the graph order-independent and reruns idempotent: whatever
order days arrive in, the same inputs give the same tables.

Semantics (see docs/architecture.md):
- A document version is (doc_id, content_hash), live from the first day it was published until
  the next version of the same doc_id or its deletion (`retracted_on`). Assertions of a version
  count from its first day; re-ingesting the same content later is a no-op. Documents of several
  sources that are one paper (`document_ids`: shared DOI or cross-referenced ids) share one
  version history (see `_doc_versions`).
- Entities: canonical key `litkg_canon(surface)`; acronyms defined as "long form (SF)" resolve
  to the long form in the defining document, and in any document published on or after the
  first definition of that acronym anywhere.
- Edges are keyed by (subject, relation, object, context). Each document contributes its best
  confidence c once; confidence is the noisy-OR 1 - prod(1 - c_i) over live documents, summed
  as fixed-point logs so any evaluation order gives identical values.
- Contradicting edges (per the vocabulary, within compatible contexts: equal, or one of them
  unqualified) are compared on every day either changes: the higher confidence wins, a tie goes
  to the more recent evidence, then to the smaller edge id. The loser is `contested` from that
  day on; an edge with no live evidence is `retracted`. Each change is a new version.
"""

from __future__ import annotations

import logging
import time

from litkg import schema
from litkg.store import Transaction

log = logging.getLogger(__name__)

# ln(1 - c) is stored as an integer number of nano-units: sums are exact in any order.
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


STEPS: list[tuple[str, str]] = [
    (
        # Versions of each paper. A paper is a `document_ids.canonical_id` (ids of several sources
        # matched by DOI / cross-references; a document without pairs is its own paper). A
        # version is (paper, content_hash), carried by the source documents that published that
        # content; it is represented by the earliest carrier (ties: smallest doc_id), whose
        # assertions are the version's. Versions are ordered by first day, then by the source's
        # revision date (two versions on one batch day: the later revised is the newer), then
        # hash. A deletion withdraws a carrier from its day on; a version is retracted on the
        # first such day on which no carrier that published it by then is left.
        "_doc_versions",
        """
        WITH papers AS (
            SELECT DISTINCT doc_id, canonical_id FROM document_ids
        ), carriers AS (
            SELECT coalesce(p.canonical_id, d.doc_id) AS paper, d.doc_id, d.content_hash,
                   min(d.published) AS since, max(d.revised) AS revised
            FROM documents d LEFT JOIN papers p USING (doc_id)
            GROUP BY ALL
        ), withdrawn AS (
            SELECT c.paper, c.doc_id, c.content_hash, c.since, min(x.deleted_on) AS until
            FROM carriers c LEFT JOIN deletions x
              ON x.doc_id = c.doc_id AND x.deleted_on >= c.since
            GROUP BY ALL
        ), v AS (
            SELECT paper, content_hash, min(since) AS first_published,
                   arg_min(doc_id, (since, doc_id)) AS doc_id, max(revised) AS revised
            FROM carriers GROUP BY paper, content_hash
        ), ordered AS (
            SELECT *, lead(first_published) OVER (
                PARTITION BY paper ORDER BY first_published, revised NULLS FIRST, content_hash
            ) AS next_version_on
            FROM v
        ), deleted AS (
            SELECT w.paper, w.content_hash, min(w.until) AS deleted_on
            FROM withdrawn w
            WHERE w.until IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM withdrawn o
                WHERE o.paper = w.paper AND o.content_hash = w.content_hash
                  AND o.since <= w.until AND (o.until IS NULL OR o.until > w.until))
            GROUP BY ALL
        )
        SELECT o.doc_id, o.content_hash, o.first_published,
               least(o.next_version_on, d.deleted_on) AS retracted_on
        FROM ordered o LEFT JOIN deleted d USING (paper, content_hash)
        """,
    ),
    (
        # Assertions of the first occurrence of each document version, with known relations.
        "_live",
        """
        SELECT a.assertion_id, a.doc_id, a.content_hash, a.day, a.subject, a.subject_type,
               a.relation, a.object, a.object_type, a.context, a.confidence, v.retracted_on
        FROM assertions a
        JOIN _doc_versions v
          ON v.doc_id = a.doc_id AND v.content_hash = a.content_hash AND v.first_published = a.day
        JOIN _rel_rules r ON r.relation = a.relation
        """,
    ),
    (
        # Acronym definitions of live document versions, by canonical short form.
        "_defs_local",
        """
        SELECT DISTINCT b.doc_id, b.content_hash, v.first_published AS day,
               litkg_canon(b.short) AS short_key, litkg_canon(b.long) AS long_key
        FROM abbreviations b
        JOIN _doc_versions v
          ON v.doc_id = b.doc_id AND v.content_hash = b.content_hash AND v.first_published = b.day
        WHERE litkg_canon(b.short) IS NOT NULL AND litkg_canon(b.long) IS NOT NULL
          AND litkg_canon(b.short) <> litkg_canon(b.long)
        """,
    ),
    (
        # The first definition of each acronym anywhere (earliest day, then smallest long form).
        "_defs_global",
        """
        SELECT short_key, arg_min(long_key, (day, long_key)) AS long_key, min(day) AS day
        FROM _defs_local GROUP BY short_key
        """,
    ),
    (
        "_raw_mentions",
        """
        SELECT assertion_id, doc_id, content_hash, day, 'subject' AS role,
               subject AS surface, subject_type AS entity_type
        FROM _live
        UNION ALL
        SELECT assertion_id, doc_id, content_hash, day, 'object', object, object_type FROM _live
        UNION ALL
        SELECT assertion_id, doc_id, content_hash, day, 'context:' || c.qualifier, c.text, NULL
        FROM (SELECT assertion_id, doc_id, content_hash, day, unnest(context) AS c FROM _live)
        """,
    ),
    (
        # each distinct surface is canonicalised once (regexes are the costly part)
        "_surfaces",
        """
        SELECT surface, litkg_canon(surface) AS canon
        FROM (SELECT DISTINCT surface FROM _raw_mentions)
        """,
    ),
    (
        "_mentions",
        """
        WITH m AS (
            SELECT r.*, s.canon FROM _raw_mentions r JOIN _surfaces s USING (surface)
        )
        SELECT m.assertion_id, m.doc_id, m.content_hash, m.day, m.role, m.surface,
               m.entity_type, m.canon AS canonical,
               (l.long_key IS NOT NULL OR (g.long_key IS NOT NULL AND g.day <= m.day))
                   AS via_acronym,
               coalesce(l.long_key, CASE WHEN g.day <= m.day THEN g.long_key END, m.canon)
                   AS entity_key
        FROM m
        LEFT JOIN _defs_local l
          ON l.doc_id = m.doc_id AND l.content_hash = m.content_hash AND l.short_key = m.canon
        LEFT JOIN _defs_global g ON g.short_key = m.canon
        WHERE m.canon IS NOT NULL
        """,
    ),
    (
        "_contexts",
        """
        SELECT assertion_id,
               string_agg(DISTINCT split_part(role, ':', 2) || '=' || litkg_id(entity_key), ';'
                          ORDER BY split_part(role, ':', 2) || '=' || litkg_id(entity_key))
                   AS context_sig,
               string_agg(DISTINCT split_part(role, ':', 2) || '=' || entity_key, '; '
                          ORDER BY split_part(role, ':', 2) || '=' || entity_key) AS context
        FROM _mentions WHERE role LIKE 'context:%' GROUP BY assertion_id
        """,
    ),
    (
        # One row per live assertion: oriented per the vocabulary, keyed to its edge.
        "_links",
        """
        WITH a AS (
            SELECT l.assertion_id, l.doc_id, l.content_hash, l.day, l.retracted_on,
                   l.confidence, r.canonical AS relation, r.swap, r.is_symmetric,
                   s.entity_key AS s_key, o.entity_key AS o_key,
                   coalesce(c.context_sig, '') AS context_sig, coalesce(c.context, '') AS context
            FROM _live l
            JOIN _rel_rules r ON r.relation = l.relation
            JOIN _mentions s ON s.assertion_id = l.assertion_id AND s.role = 'subject'
            JOIN _mentions o ON o.assertion_id = l.assertion_id AND o.role = 'object'
            LEFT JOIN _contexts c ON c.assertion_id = l.assertion_id
            WHERE s.entity_key <> o.entity_key
        ), oriented AS (
            SELECT *,
                CASE WHEN swap OR (is_symmetric AND o_key < s_key) THEN o_key ELSE s_key END AS sk,
                CASE WHEN swap OR (is_symmetric AND o_key < s_key) THEN s_key ELSE o_key END AS ok
            FROM a
        )
        SELECT assertion_id, doc_id, content_hash, day, retracted_on,
               litkg_id(sk) AS subject_id, sk AS subject, relation,
               litkg_id(ok) AS object_id, ok AS object,
               CASE WHEN context_sig = '' THEN '' ELSE litkg_id(context_sig) END AS context_id,
               context,
               litkg_id(concat_ws('|', sk, relation, ok, context_sig)) AS edge_id,
               confidence
        FROM oriented
        """,
    ),
    (
        # Each document version contributes once per edge, with its best confidence.
        "_contrib",
        f"""
        SELECT edge_id, doc_id, content_hash, day, retracted_on,
               CAST(round(ln(1 - least(max(confidence), {MAX_CONFIDENCE})) * {LOG_SCALE})
                    AS BIGINT) AS logc,
               CAST(count(*) AS INTEGER) AS n
        FROM _links GROUP BY edge_id, doc_id, content_hash, day, retracted_on
        """,
    ),
    (
        "_daily",
        """
        WITH ev AS (
            SELECT edge_id, day AS d, logc AS dl, 1 AS ds, n AS dn, doc_id AS add_doc
            FROM _contrib
            UNION ALL
            SELECT edge_id, retracted_on, -logc, -1, -n, NULL
            FROM _contrib WHERE retracted_on IS NOT NULL
        )
        SELECT edge_id, d, CAST(sum(dl) AS BIGINT) AS dl, CAST(sum(ds) AS INTEGER) AS ds,
               CAST(sum(dn) AS INTEGER) AS dn, max(add_doc) AS add_doc
        FROM ev GROUP BY edge_id, d
        """,
    ),
    (
        "_states",
        """
        SELECT edge_id, d,
               CAST(sum(dl) OVER w AS BIGINT) AS logsum,
               CAST(sum(ds) OVER w AS INTEGER) AS support,
               CAST(sum(dn) OVER w AS INTEGER) AS evidence_count,
               last_value(add_doc IGNORE NULLS) OVER w AS last_evidence_doc,
               max(CASE WHEN add_doc IS NOT NULL THEN d END) OVER w AS last_evidence_day
        FROM _daily
        WINDOW w AS (PARTITION BY edge_id ORDER BY d ROWS UNBOUNDED PRECEDING)
        """,
    ),
    (
        "_keys",
        """
        SELECT DISTINCT edge_id, subject_id, subject, relation, object_id, object,
               context_id, context
        FROM _links
        """,
    ),
    (
        # Contradicting partners within compatible contexts (equal, or either unqualified).
        "_pairs",
        """
        SELECT e.edge_id, p.edge_id AS partner_id
        FROM _keys e JOIN _contra_rules r ON r.relation = e.relation AND NOT r.is_reversed
        JOIN _keys p ON p.relation = r.partner
             AND p.subject_id = e.subject_id AND p.object_id = e.object_id
        WHERE p.context_id = e.context_id OR p.context_id = '' OR e.context_id = ''
        UNION
        SELECT e.edge_id, p.edge_id
        FROM _keys e JOIN _contra_rules r ON r.relation = e.relation AND r.is_reversed
        JOIN _keys p ON p.relation = r.partner
             AND p.subject_id = e.object_id AND p.object_id = e.subject_id
        WHERE p.context_id = e.context_id OR p.context_id = '' OR e.context_id = ''
        """,
    ),
    (
        # Days on which an edge's status must be (re)judged: its own changes and its partners'.
        "_eval",
        """
        WITH days AS (
            SELECT edge_id, d FROM _states
            UNION
            SELECT p.edge_id, s.d FROM _pairs p JOIN _states s ON s.edge_id = p.partner_id
        )
        SELECT days.edge_id, days.d, s.logsum, s.support, s.evidence_count,
               s.last_evidence_doc, s.last_evidence_day
        FROM days ASOF JOIN _states s ON s.edge_id = days.edge_id AND s.d <= days.d
        """,
    ),
    (
        "_beaten",
        """
        WITH p AS (
            SELECT e.edge_id, e.d, pr.partner_id, ps.logsum, ps.support, ps.last_evidence_day
            FROM _eval e JOIN _pairs pr ON pr.edge_id = e.edge_id
            ASOF JOIN _states ps ON ps.edge_id = pr.partner_id AND ps.d <= e.d
        )
        SELECT e.edge_id, e.d,
               arg_min(p.partner_id, (p.logsum, -epoch(p.last_evidence_day), p.partner_id))
                   AS winner
        FROM _eval e JOIN p ON p.edge_id = e.edge_id AND p.d = e.d
        WHERE e.support > 0 AND p.support > 0
          AND (p.logsum < e.logsum
               OR (p.logsum = e.logsum AND p.last_evidence_day > e.last_evidence_day)
               OR (p.logsum = e.logsum AND p.last_evidence_day = e.last_evidence_day
                   AND p.partner_id < e.edge_id))
        GROUP BY e.edge_id, e.d
        """,
    ),
    (
        "_edge_versions",
        """
        WITH judged AS (
            SELECT e.*,
                   CASE WHEN e.support <= 0 THEN 'retracted'
                        WHEN b.winner IS NOT NULL THEN 'contested'
                        ELSE 'active' END AS status,
                   CASE WHEN e.support > 0 THEN b.winner END AS contested_by
            FROM _eval e LEFT JOIN _beaten b ON b.edge_id = e.edge_id AND b.d = e.d
        ), marked AS (
            SELECT *, (lag(row(logsum, support, evidence_count, last_evidence_doc, status,
                               contested_by)) OVER w)
                      IS DISTINCT FROM row(logsum, support, evidence_count, last_evidence_doc,
                                           status, contested_by) AS changed
            FROM judged WINDOW w AS (PARTITION BY edge_id ORDER BY d)
        ), kept AS (SELECT * FROM marked WHERE changed)
        SELECT k.edge_id, k.subject_id, k.subject, k.relation, k.object_id, k.object,
               k.context_id, k.context,
               CAST(row_number() OVER w AS INTEGER) AS version,
               v.d AS valid_from, lead(v.d) OVER w AS valid_to,
               1 - exp(v.logsum / 1e9) AS confidence,
               v.support, v.evidence_count, v.last_evidence_doc, v.last_evidence_day,
               v.status, v.contested_by, strftime(v.d, '%Y-%m') AS month
        FROM kept v JOIN _keys k USING (edge_id)
        WINDOW w AS (PARTITION BY v.edge_id ORDER BY v.d)
        """,
    ),
]


def construct(tx: Transaction, vocab: schema.Vocabulary) -> dict[str, int]:
    """Rebuild the derived tables (links, mentions, entities, aliases, edges) in `tx`."""
    _load_vocabulary(tx, vocab)
    for name, sql in STEPS:
        t0 = time.perf_counter()
        tx.sql(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        log.debug("construct step %s: %.3f s", name, time.perf_counter() - t0)
    counts = {}
    counts["links"] = tx.replace_table("links", "SELECT * FROM _links")
    counts["mentions"] = tx.replace_table(
        "mentions",
        "SELECT * EXCLUDE (canonical, entity_key), entity_key AS canonical, "
        "litkg_id(entity_key) AS entity_id FROM _mentions",
    )
    counts["entities"] = tx.replace_table(
        "entities", "SELECT * FROM entities_as_of(DATE '9999-12-31')"
    )
    counts["aliases"] = tx.replace_table(
        "aliases",
        """
        SELECT lower(surface) AS alias, litkg_id(entity_key) AS entity_id,
               CASE WHEN bool_or(via_acronym) THEN 'acronym' ELSE 'surface' END AS kind,
               min(day) AS first_seen, count(*) AS mention_count
        FROM _mentions GROUP BY lower(surface), litkg_id(entity_key)
        """,
    )
    counts["edges"] = tx.replace_table(
        "edges", "SELECT * FROM _edge_versions", partition_by="month"
    )
    for name, _ in STEPS:
        tx.sql(f"DROP TABLE IF EXISTS {name}")
    return counts
