"""The graph from Python: a read-only handle on a store whose calls return polars DataFrames.

    import litkg
    kg = litkg.open("data/store")
    kg.edges(as_of="2024-03-15", relation="improves", min_support=2)

Time is an argument of every call (`as_of`: the graph as known at the end of that day; None:
the latest processed day). The store is opened the way `litkg query` opens it: a read-only
DuckDB connection to the catalog, locked by `litkg.sandbox` (files only under the store's own
directory, no extensions, a memory limit, configuration locked), and `sql()` runs only read
statements, so nothing here can write; after a commit by another process the next call sees the
new state. Every call is a SQL query over the catalog's tables and macros
(README, "The SQL surface"); `sql()` runs your own.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from litkg.sandbox import check_read_only, lock_reader
from litkg.store import Store

Day = date | str | None
#: How `entity()` resolved a name, best first.
MATCHES = ("exact", "alias", "acronym", "fuzzy")
FUZZY_CUTOFF = 85.0  # rapidfuzz WRatio, 0-100: below this a name is "not found"


def _day(value: Day, name: str = "as_of") -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a date or an ISO date string, got {value!r}") from None


class Graph:
    """A read-only view of a litkg store. Use `litkg.open(home)` to get one."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.store = Store(home)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._stamp: tuple[int, int] | None = None

    # -- connection ---------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.store.home

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The read-only DuckDB connection behind this graph (DB-API use, e.g. `litkg stats`);
        reopened when a commit has replaced the catalog since the last call. It is locked (see
        `litkg.sandbox.lock_reader`), but statements run on it directly are not classified:
        untrusted SQL goes through `sql()` / `relation()`."""
        return self._connection()

    def _directories(self) -> list[Path]:
        """Where the store's files live: the only directories its reader may open."""
        return [self.store.home]

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """The catalog, reopened when a commit has replaced the manifest since the last call:
        a graph kept open follows the store across any number of commits."""
        stamp = self.store.stamp()
        if stamp is None:
            self.store.connect()  # raises StoreError: no store here, and how to make one
        if self._con is None or stamp != self._stamp:
            self.close()
            con = self.store.connect()
            try:
                lock_reader(con, self._directories())
            except BaseException:
                con.close()
                raise
            self._con, self._stamp = con, stamp
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"litkg.Graph({str(self.home)!r})"

    # -- anything -----------------------------------------------------------------------------
    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None, *,
            lazy: bool = False) -> pl.DataFrame | pl.LazyFrame:
        """Run a read-only SQL query over the store (`?` or `$name` parameters).

        `lazy=True` returns a LazyFrame that is computed when collected; collect it before
        the store's next commit.
        """
        rel = self.relation(query, params)
        return rel.pl(lazy=True) if lazy else rel.pl()

    def relation(self, query: str,
                 params: list[Any] | dict[str, Any] | None = None) -> duckdb.DuckDBPyRelation:
        """The query as a DuckDB relation (what `litkg query` writes out as CSV, JSON...).

        Only read statements run (`litkg.sandbox.check_read_only`): anything else raises
        `QueryRefused` (a ValueError) naming the refused statement type."""
        con = self._connection()
        check_read_only(con, query)
        rel = con.sql(query, params=params)
        if rel is None:
            raise ValueError("the statement returned no rows (the store is opened read-only)")
        return rel

    # -- time ---------------------------------------------------------------------------------
    def latest_day(self) -> date | None:
        """The last processed day (the default `as_of`), None for an empty store."""
        return self._connection().execute("SELECT max(day) FROM snapshots").fetchone()[0]

    def _as_of(self, as_of: Day) -> date:
        day = _day(as_of) or self.latest_day()
        return day or date.min  # an empty store: every table is empty anyway

    def snapshots(self) -> pl.DataFrame:
        """One row per processed day: documents, assertions, entities, edges by status."""
        return self.sql("SELECT * FROM snapshots ORDER BY day")

    # -- the graph ----------------------------------------------------------------------------
    def edges(self, as_of: Day = None, *, recorded: str | datetime | None = None,
              relation: str | list[str] | None = None,
              context: str | None = None, min_support: int = 1,
              lazy: bool = False) -> pl.DataFrame | pl.LazyFrame:
        """The edges in force at the end of `as_of` (retracted ones left out), strongest first.

        `recorded`: what the graph said about `as_of` at a past commit (transaction time): a
        run id (or a unique prefix, see `runs()`) or a timestamp; None = the latest knowledge.
        `relation`: one name or a list; `context`: e.g. "dataset=imagenet", "" for claims made
        without a context, None for all; `min_support`: distinct supporting documents.
        """
        where, params = ["support >= $min_support"], {"d": self._as_of(as_of),
                                                     "min_support": min_support}
        source = "edges_as_of($d)"
        if isinstance(recorded, datetime):
            source, params["recorded"] = "edges_recorded_at($recorded, $d)", recorded
        elif recorded is not None:
            source, params["recorded"] = "edges_as_recorded($recorded, $d)", str(recorded)
        if relation is not None:
            where.append("list_contains($relations, relation)")
            params["relations"] = [relation] if isinstance(relation, str) else list(relation)
        if context is not None:
            where.append("context = $context")
            params["context"] = context
        return self.sql(f"SELECT * FROM {source} WHERE {' AND '.join(where)} "
                        "ORDER BY confidence DESC, support DESC, edge_id", params, lazy=lazy)

    def runs(self) -> pl.DataFrame:
        """One row per graph commit (run id, commit number, time, days, counts): the points in
        transaction time that `edges(recorded=...)` can return."""
        return self.sql("SELECT * FROM runs ORDER BY commit_no")

    def conflicts(self, as_of: Day = None) -> pl.DataFrame:
        """Contested claims on `as_of` beside the claim that beats them, within a context."""
        return self.sql("SELECT * FROM conflicts_as_of($d) ORDER BY context, contested_edge",
                        {"d": self._as_of(as_of)})

    def changes(self, start: date | str, end: Day = None, *,
                lazy: bool = False) -> pl.DataFrame | pl.LazyFrame:
        """Edge versions that appeared in (start, end]: added, reinforced, weakened, contested,
        resolved, retracted, restored, with the documents whose evidence arrived that day."""
        first = _day(start, "start")
        if first is None:
            raise ValueError("changes() needs a start day (changes after it are listed)")
        return self.sql("SELECT * FROM changes($start, $end)",
                        {"start": first, "end": self._as_of(end)}, lazy=lazy)

    # -- entities -----------------------------------------------------------------------------
    def resolve(self, name: str) -> pl.DataFrame:
        """The entity a name refers to: by its canonical key, an alias, an acronym, or else the
        closest alias (rapidfuzz). One row (entity_id, canonical, name, match, score); raises
        LookupError when nothing is close enough."""
        con = self._connection()
        rows = con.execute(
            """
            WITH q AS (SELECT litkg_canon(s) AS key, lower(trim(s)) AS low
                       FROM unnest([$name::VARCHAR]) AS t(s)),
            hits AS (
                SELECT entity_id, 'exact' AS match FROM entities, q WHERE canonical = q.key
                UNION ALL
                SELECT entity_id, CASE kind WHEN 'acronym' THEN 'acronym' ELSE 'alias' END
                FROM aliases, q WHERE alias = q.low OR alias = q.key
            )
            SELECT e.entity_id, e.canonical, e.name, h.match, 100.0::DOUBLE AS score FROM hits h
            JOIN entities e USING (entity_id)
            ORDER BY list_position($order, h.match), e.mention_count DESC, e.entity_id
            LIMIT 1
            """,
            {"name": name, "order": list(MATCHES)},
        ).fetchall()
        if not rows:
            rows = self._fuzzy(con, name)
        if not rows:
            raise LookupError(f"no entity named {name!r} in {self.home}")
        return pl.DataFrame(rows, schema=["entity_id", "canonical", "name", "match", "score"],
                            orient="row")

    def _fuzzy(self, con: duckdb.DuckDBPyConnection, name: str) -> list[tuple]:
        from rapidfuzz import fuzz, process

        aliases = con.execute(
            "SELECT a.alias, e.entity_id, e.canonical, e.name FROM aliases a "
            "JOIN entities e USING (entity_id) ORDER BY e.mention_count DESC, e.entity_id, a.alias"
        ).fetchall()
        best = process.extractOne(name.lower().strip(), [a[0] for a in aliases],
                                  scorer=fuzz.WRatio, score_cutoff=FUZZY_CUTOFF)
        if best is None:
            return []
        _, entity_id, canonical, display = aliases[best[2]]
        return [(entity_id, canonical, display, "fuzzy", round(float(best[1]), 1))]

    def entity(self, name: str, as_of: Day = None) -> pl.DataFrame:
        """The edges of the entity `name` resolves to (see `resolve`), in force on `as_of`, as
        subject or object (`role`), strongest first; `match` says how the name was resolved."""
        hit = self.resolve(name).row(0, named=True)
        return self.sql(
            """
            SELECT $entity_id AS entity_id, $name AS entity, $match AS match,
                   CASE WHEN subject_id = $entity_id THEN 'subject' ELSE 'object' END AS role,
                   * FROM edges_as_of($d)
            WHERE subject_id = $entity_id OR object_id = $entity_id
            ORDER BY confidence DESC, support DESC, edge_id
            """,
            {"entity_id": hit["entity_id"], "name": hit["name"], "match": hit["match"],
             "d": self._as_of(as_of)},
        )

    def history(self, subject: str, relation: str, object: str,  # noqa: A002 - the triple
                context: str | None = None) -> pl.DataFrame:
        """Every version of a claim, oldest first: how its confidence and support grew, when it
        was contested or retracted. Names resolve as in `entity`; `context` None: all of them."""
        s = self.resolve(subject).row(0, named=True)
        o = self.resolve(object).row(0, named=True)
        where = "" if context is None else "AND context = $context"
        params: dict[str, Any] = {"s": s["entity_id"], "r": relation, "o": o["entity_id"]}
        if context is not None:
            params["context"] = context
        return self.sql(
            f"""
            SELECT context, version, valid_from, valid_to, confidence, support, status,
                   contested_by, last_evidence_doc, subject, relation, object, edge_id
            FROM edges WHERE subject_id = $s AND relation = $r AND object_id = $o {where}
            ORDER BY context, valid_from
            """,
            params,
        )

    def context(self, text: str, as_of: Day = None, *, hops: int = 1,
                limit: int = 20) -> pl.DataFrame:
        """Retrieval with attribution (for a RAG prompt): the claims within `hops` edges of the
        entity `text` resolves to, in force on `as_of`, closest then strongest first; each with
        its status, the claim that beats it (`beaten_by`) or that it beats (`beats`), and up to
        three evidence sentences with their document ids, newest first."""
        if hops < 1 or limit < 1:
            raise ValueError("hops and limit must be at least 1")
        hit = self.resolve(text).row(0, named=True)
        return self.sql(
            """
            WITH RECURSIVE e AS (SELECT * FROM edges_as_of($d)),
            reach(node, hop) AS (
                SELECT $entity_id::VARCHAR, 0
                UNION
                SELECT CASE WHEN e.subject_id = r.node THEN e.object_id ELSE e.subject_id END,
                       r.hop + 1
                FROM reach r JOIN e ON r.node = e.subject_id OR r.node = e.object_id
                WHERE r.hop < $hops - 1
            ),
            near AS (SELECT node, min(hop) AS hop FROM reach GROUP BY node),
            picked AS (
                SELECT e.edge_id, min(near.hop) + 1 AS hop FROM e
                JOIN near ON near.node = e.subject_id OR near.node = e.object_id
                GROUP BY e.edge_id
            ),
            evidence AS (
                SELECT l.edge_id,
                       list(struct_pack(doc_id := l.doc_id, day := l.day,
                                        sentence := a.evidence)
                            ORDER BY l.day DESC, l.doc_id)[1:3] AS evidence
                FROM links l JOIN picked USING (edge_id)
                JOIN assertions a USING (assertion_id)
                WHERE l.live_from <= $d AND (l.retracted_on IS NULL OR l.retracted_on > $d)
                GROUP BY l.edge_id
            ),
            beats AS (
                SELECT l.contested_by AS edge_id,
                       list(l.subject || ' ' || l.relation || ' ' || l.object
                            ORDER BY l.edge_id) AS beats
                FROM e l WHERE l.status = 'contested' GROUP BY l.contested_by
            )
            SELECT picked.hop, e.subject, e.relation, e.object, e.context, e.confidence,
                   e.support, e.status,
                   w.subject || ' ' || w.relation || ' ' || w.object AS beaten_by,
                   coalesce(beats.beats, []) AS beats, coalesce(evidence.evidence, [])
                   AS evidence, e.edge_id, e.valid_from
            FROM picked JOIN e USING (edge_id)
            LEFT JOIN e w ON w.edge_id = e.contested_by
            LEFT JOIN beats USING (edge_id) LEFT JOIN evidence USING (edge_id)
            ORDER BY picked.hop, e.confidence DESC, e.support DESC, e.edge_id
            LIMIT $limit
            """,
            {"entity_id": hit["entity_id"], "d": self._as_of(as_of), "hops": hops,
             "limit": limit},
        )


def open(home: str | Path | None = None) -> Graph:  # noqa: A001 - litkg.open, like io.open
    """Open the store at `home` (default: $LITKG_HOME or ./data/store) for reading."""
    graph = Graph(home)
    graph._connection()  # fail now, with how to build a store, if there is none
    return graph
