"""The full rebuild: the specification of the incremental commit, kept as a command.

`rebuild` recomputes every derived table from the inputs alone and commits it (what
`litkg rebuild` does). `verify` recomputes them on a read-only connection, into temp tables that
spill to a scratch directory, and compares per-table checksums with the live store (what the
weekly `litkg verify` deployment does): the live store is never written and never locked.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

from litkg import schema
from litkg.construct import STATE_TABLES_SINCE, compute, construct
from litkg.snapshots import write_snapshots
from litkg.store import Store

# Each derived table and the temp table a rebuild computes it into.
DERIVED = {
    "doc_runs": "_doc_live",
    "acronym_defs": "_defs",
    "links": "_links",
    "mentions": "_mention_rows",
    "entities": "_entities",
    "aliases": "_aliases",
    "entity_surfaces": "_entity_surfaces",
    "edges": "_edge_versions",
}


def rebuild(store: Store, vocabulary: str | None = None, lock_timeout: float = 0) -> dict:
    """Recompute every derived table and snapshot from the inputs; one commit."""
    with store.writer(timeout=lock_timeout) as tx:
        vocab = schema.vocabulary(vocabulary or tx.manifest.meta.get("vocabulary", "ml"))
        counts = construct(tx, vocab, mode="rebuild")
        write_snapshots(tx, {}, "rebuild")
        tx.commit({"vocabulary": vocab.name})
    return counts


@dataclass
class TableCheck:
    table: str
    live_rows: int
    rebuilt_rows: int
    live_checksum: int
    rebuilt_checksum: int
    # a state table newer than the store's constructor state: the next commit builds it
    pending: bool = False

    @property
    def ok(self) -> bool:
        return self.pending or (
            (self.live_rows, self.live_checksum) == (self.rebuilt_rows, self.rebuilt_checksum))


def _checksum_sql(source: str, columns: list[str]) -> str:
    cols = ", ".join(f'"{c}"' for c in columns)
    return f"SELECT count(*), coalesce(sum(hash({cols})::HUGEINT), 0) FROM {source}"


def verify(store: Store, memory_limit: str = "4GB") -> list[TableCheck]:
    """Rebuild in a scratch area and compare each derived table's row count and checksum (a
    sum of row hashes: order-free) with the live store's current rows."""
    con = store.connect()
    with tempfile.TemporaryDirectory(prefix="litkg-verify-") as scratch:
        try:
            con.execute(f"SET temp_directory = '{scratch}'")
            con.execute(f"SET memory_limit = '{memory_limit}'")
            meta = dict(con.execute("SELECT key, value FROM store_meta").fetchall())
            compute(con, schema.vocabulary(meta.get("vocabulary", "ml")), "rebuild")
            state = int(meta.get("construct_state") or 0)
            checks = []
            history = {"recorded_commit", "recorded_at", "superseded_commit", "superseded_at"}
            for table, temp in DERIVED.items():
                cols = [c for c in schema.table(table).columns if c not in history]
                live = "stored_edges WHERE superseded_commit IS NULL" if table == "edges" \
                    else f"stored_{table}"
                lr, lc = con.execute(_checksum_sql(live, cols)).fetchone()
                rr, rc = con.execute(_checksum_sql(temp, cols)).fetchone()
                pending = STATE_TABLES_SINCE.get(table, 0) > state
                checks.append(TableCheck(table, lr, rr, int(lc), int(rc), pending))
            return checks
        finally:
            con.close()
