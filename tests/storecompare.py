"""Compare two stores table by table, ignoring the columns that record when or by which run a
row was written (`schema.volatile_columns()`), the runs table and superseded history rows:
what "identical stores" means in the tests."""

from __future__ import annotations

from litkg import schema
from litkg.store import Store


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every stored table without its volatile (when/which run) columns, sorted."""
    con = store.connect()
    try:
        volatile = set(schema.volatile_columns())
        out = {}
        for name, table in schema.tables().items():
            if name in schema.volatile_tables():
                continue
            cols = [f'"{c}"' for c in table.columns if c not in volatile]
            # what a store says now; superseded rows record how it got there (run order)
            where = " WHERE superseded_commit IS NULL" if schema.has_history(name) else ""
            rows = con.execute(f"SELECT {', '.join(cols)} FROM stored_{name}{where}").fetchall()
            out[name] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def differences(a: Store, b: Store) -> dict[str, tuple[int, int]]:
    """Tables whose rows differ: name -> (rows in a, rows in b). Empty when identical."""
    sa, sb = snapshot(a), snapshot(b)
    return {n: (len(sa[n]), len(sb[n])) for n in sa if sa[n] != sb.get(n)}
