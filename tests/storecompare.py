"""Compare two stores table by table, ignoring the columns that record when or by which run a
row was written (`schema.volatile_columns()`): what "identical stores" means in the tests."""

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
            cols = [f'"{c}"' for c in table.columns if c not in volatile]
            rows = con.execute(f"SELECT {', '.join(cols)} FROM stored_{name}").fetchall()
            out[name] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def differences(a: Store, b: Store) -> dict[str, tuple[int, int]]:
    """Tables whose rows differ: name -> (rows in a, rows in b). Empty when identical."""
    sa, sb = snapshot(a), snapshot(b)
    return {n: (len(sa[n]), len(sb[n])) for n in sa if sa[n] != sb.get(n)}
