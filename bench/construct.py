"""Benchmark the constructor at scale: a synthetic assertion stream into a real store.

Default: 1M assertions over 5,000 days, Zipf-popular entities, ~5% of edges with a
contradicting partner. Reports total construct time, assertions/s, the time to add one more day
to the full graph, edges_as_of latency at random dates, store bytes and peak RSS, and - in the
same run - a naive baseline (a Python dict fold that copies the graph per day) on a subsample,
as a ratio. Prints figures; asserts nothing.

    .venv/bin/python bench/construct.py [--assertions 1000000] [--days 5000]
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from litkg import schema
from litkg.construct import construct
from litkg.pipeline import ASSERTION_ID
from litkg.snapshots import write_snapshots
from litkg.store import Store
from litkg.store.transaction import PARQUET

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nightly  # noqa: E402 - bench/nightly.py, beside this file

START = date(2010, 1, 1)
RELATIONS = [
    "used-for",
    "part-of",
    "hyponym-of",
    "compare",
    "conjunction",
    "evaluate-for",
    "feature-of",
    "outperforms",
    "improves",
    "degrades",
]


def stream_sql(n: int, days: int, entities: int, seed: float) -> str:
    """Assertions as SQL: log-uniform (Zipf-like) entity popularity, 3 claims per document."""
    rels = "[" + ", ".join(f"'{r}'" for r in RELATIONS) + "]"
    return f"""
    SELECT setseed({seed});
    CREATE TEMP TABLE gen AS
    WITH a AS (
        SELECT i, i // 3 AS doc,
               CAST(floor(exp(random() * ln({entities}))) AS INTEGER) AS s,
               CAST(floor(exp(random() * ln({entities}))) AS INTEGER) AS o,
               {rels}[1 + CAST(floor(random() * {len(RELATIONS)}) AS INTEGER)] AS relation,
               random() AS r_ctx, 0.3 + 0.65 * random() AS confidence
        FROM range({n}) t(i)
    )
    SELECT i, 'doi:10.1/' || doc AS doc_id, md5('v' || doc) AS content_hash,
           DATE '{START}' + CAST(doc * {days} // ({n} // 3 + 1) AS INTEGER) AS day,
           'entity ' || s AS subject, relation, 'entity ' || o AS object,
           CASE WHEN r_ctx < 0.3 THEN 'dataset ' || CAST(floor(r_ctx * 150) AS INTEGER) END
               AS ctx,
           confidence
    FROM a WHERE s <> o;
    """


def complete(tx, table: str, sql: str) -> str:
    """`sql` with every other contract column of `table` added as NULL (nullable extras)."""
    have = {r[0] for r in tx.sql(f"DESCRIBE {sql}").fetchall()}
    extra = [c for c in schema.table(table).columns if c not in have]
    nulls = "".join(f', NULL AS "{c}"' for c in extra)
    return f"SELECT *{nulls} FROM ({sql})"


def store_documents(tx) -> None:  # noqa: ANN001 - a store Transaction
    """The documents behind the generated assertions (table `gen`), by publication day."""
    tx.replace_partitions(
        "documents",
        complete(tx, "documents",
                 """SELECT doc_id, content_hash, 't' AS title, 'a' AS abstract,
                 day AS published, 'bench' AS source, []::VARCHAR[] AS authors,
                 'bench' AS source_file, now()::TIMESTAMP AS ingested_at
                 FROM gen GROUP BY doc_id, content_hash, day"""),
        "published",
    )


def load(store: Store, n: int, days: int, entities: int) -> int:
    with store.writer() as tx:
        tx.sql(stream_sql(n, days, entities, 0.42))
        store_documents(tx)
        tx.sql(
            """CREATE TEMP TABLE gen_a AS SELECT doc_id, content_hash, day, subject,
                  0 AS subject_start, 1 AS subject_end, NULL AS subject_type, relation, object,
                  2 AS object_start, 3 AS object_end, NULL AS object_type,
                  CASE WHEN ctx IS NULL THEN []
                       ELSE [{'qualifier': 'dataset', 'text': ctx, 'start': 4, 'end': 5}] END
                      AS context,
                  'e' AS evidence, 0 AS evidence_start, 1 AS evidence_end, confidence,
                  'bench' AS extractor, '1' AS extractor_version, 'bench' AS run_id, i
               FROM gen"""
        )
        n_rows = tx.replace_partitions(
            "assertions",
            f"SELECT * EXCLUDE (i), {ASSERTION_ID} || i AS assertion_id FROM gen_a",
            "day",
        )
        tx.commit()
    return n_rows


def rebuild(store: Store, vocab: schema.Vocabulary) -> float:
    t0 = time.perf_counter()
    with store.writer() as tx:
        construct(tx, vocab)
        tx.commit()
    return time.perf_counter() - t0


def add_day(store: Store, vocab: schema.Vocabulary, day: date, n: int, entities: int) -> float:
    """One more nightly batch on the full graph: store the day's assertions, rebuild, snapshot."""
    t0 = time.perf_counter()
    with store.writer() as tx:
        tx.sql(stream_sql(n, 1, entities, 0.7))
        tx.sql(
            f"UPDATE gen SET day = DATE '{day}', doc_id = doc_id || '-new', "
            "content_hash = content_hash || 'n'"
        )
        store_documents(tx)
        tx.replace_partitions(
            "assertions",
            """SELECT doc_id, content_hash, day, subject, 0 AS subject_start, 1 AS subject_end,
                   NULL AS subject_type, relation, object, 2 AS object_start, 3 AS object_end,
                   NULL AS object_type, [] AS context, 'e' AS evidence, 0 AS evidence_start,
                   1 AS evidence_end, confidence, 'bench' AS extractor, '1' AS extractor_version,
                   'bench' AS run_id, md5(doc_id || i) AS assertion_id FROM gen""",
            "day",
        )
        t = time.perf_counter()
        construct(tx, vocab)
        print(f"... add-day construct {time.perf_counter() - t:.1f} s", file=sys.stderr)
        t = time.perf_counter()
        write_snapshots(tx, {day: 0.0}, "bench")
        print(f"... add-day snapshots {time.perf_counter() - t:.1f} s", file=sys.stderr)
        t = time.perf_counter()
        tx.commit()
        print(f"... add-day commit {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return time.perf_counter() - t0


def naive_fold(rows: list[tuple], contradicts: dict[str, str]) -> float:
    """Baseline: a Python dict of edges, folded day by day, the graph copied per day."""
    t0 = time.perf_counter()
    graph: dict[tuple, dict] = {}
    history = []
    by_day: dict[date, list[tuple]] = {}
    for r in rows:
        by_day.setdefault(r[0], []).append(r)
    for day in sorted(by_day):
        for _, doc, s, rel, o, ctx, c in by_day[day]:
            key = (s, rel, o, ctx)
            e = graph.setdefault(key, {"docs": set(), "log": 0.0, "status": "active"})
            if doc not in e["docs"]:
                e["docs"].add(doc)
                e["log"] += math.log(1 - min(c, 0.999999))
            partner = (
                (o, rel, s, ctx)
                if rel == "outperforms"
                else ((s, contradicts[rel], o, ctx) if rel in contradicts else None)
            )
            if partner and partner in graph:
                p = graph[partner]
                win = e["log"] < p["log"]
                e["status"], p["status"] = (
                    ("active", "contested") if win else ("contested", "active")
                )
        history.append(copy.deepcopy(graph))  # a snapshot per day, as a naive store would keep
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assertions", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=5000)
    ap.add_argument("--entities", type=int, default=50_000)
    ap.add_argument("--day-size", type=int, default=600, help="assertions in the added day")
    ap.add_argument("--baseline", type=int, default=20_000, help="assertions for the baseline")
    ap.add_argument("--keep", type=Path, default=None, help="keep the store here")
    ap.add_argument("--verbose", action="store_true", help="log each construction step")
    ap.add_argument("--reuse", action="store_true",
                    help="the --keep store is already loaded and built (e.g. by `litkg rebuild` "
                         "after a run that stopped): measure the rest on it")
    args = ap.parse_args()
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="... %(message)s")
        for noisy in ("filelock",):
            logging.getLogger(noisy).setLevel(logging.WARNING)

    home = args.keep or Path(tempfile.mkdtemp(prefix="litkg-bench-"))
    store = Store(home / "store")
    vocab = schema.vocabulary("ml")
    if args.reuse:
        con = store.connect()
        n = con.execute("SELECT count(*) FROM assertions").fetchone()[0]
        con.close()
        load_s = build_s = float("nan")
    else:
        t0 = time.perf_counter()
        n = load(store, args.assertions, args.days, args.entities)
        load_s = time.perf_counter() - t0
        print(f"... loaded in {load_s:.1f} s", file=sys.stderr, flush=True)
        build_s = rebuild(store, vocab)
        print(f"... built in {build_s:.1f} s", file=sys.stderr, flush=True)
    con = store.connect()
    edges, versions, contested = con.execute(
        "SELECT count(DISTINCT edge_id), count(*), count(DISTINCT edge_id) FILTER "
        "(status = 'contested') FROM edges"
    ).fetchone()
    # edges with a contradicting partner in the same context (two equi-joins, not an OR join)
    partnered = con.execute(
        """WITH k AS (SELECT DISTINCT edge_id, subject, relation, object, context FROM edges)
           SELECT count(DISTINCT edge_id) FROM (
             SELECT a.edge_id FROM k a JOIN k b ON a.relation = 'outperforms'
               AND b.relation = 'outperforms' AND a.subject = b.object
               AND a.object = b.subject AND a.context = b.context
             UNION ALL
             SELECT a.edge_id FROM k a JOIN k b ON a.subject = b.subject
               AND a.object = b.object AND a.context = b.context
               AND a.relation IN ('improves', 'degrades') AND b.relation IN ('improves', 'degrades')
               AND a.relation <> b.relation)"""
    ).fetchone()[0]
    con.close()
    last = START + timedelta(days=args.days)
    one_day_s = add_day(store, vocab, last + timedelta(days=1), args.day_size, args.entities)
    # the same through `litkg run`'s path: in-process, as a CLI process, and a late day
    files = home / "days"
    night_days = [last + timedelta(days=2 + i) for i in range(3)]
    cli_day = last + timedelta(days=5)
    late_day = max(START, last - timedelta(days=3650))
    # three nights in a row: the median is what a night costs (the first warms the page cache)
    nights = [nightly.in_process(store, d, nightly.day_file(
        files / f"night{i}.jsonl", d, args.day_size, args.entities, 10 + i))
        for i, d in enumerate(night_days)]
    night = sorted(nights, key=lambda r: r["wall_s"])[1]
    cli_s = nightly.as_cli(store, cli_day, nightly.day_file(
        files / "cli.jsonl", cli_day, args.day_size, args.entities, 2))
    late = nightly.in_process(store, late_day, nightly.day_file(
        files / "late.jsonl", late_day, args.day_size, args.entities, 3))
    recorded_s = nightly.as_recorded(store, late_day)
    print(f"... nightly {nights}, cli {cli_s:.2f} s, late {late}", file=sys.stderr, flush=True)
    print(f"... one more day in {one_day_s:.1f} s", file=sys.stderr, flush=True)
    con = store.connect()
    rng = random.Random(7)
    lat_count, lat_fetch = [], []
    for _ in range(20):
        d = START + timedelta(days=rng.randrange(args.days))
        t = time.perf_counter()
        con.execute("SELECT count(*) FROM edges_as_of(?)", [d]).fetchone()
        lat_count.append(time.perf_counter() - t)
        t = time.perf_counter()
        con.execute("SELECT * FROM edges_as_of(?)", [d]).to_arrow_table()
        lat_fetch.append(time.perf_counter() - t)
    store_bytes = sum(p.stat().st_size for p in store.home.rglob("*") if p.is_file())
    own = home / "assertions.parquet"  # the assertions alone, as the store writes Parquet
    con.execute(f"COPY (SELECT * FROM stored_assertions) TO '{own}' ({PARQUET})")
    own_bytes = own.stat().st_size
    sample = con.execute(
        f"SELECT day, doc_id, subject, relation, object, coalesce(context[1].text, ''), "
        f"confidence FROM assertions ORDER BY day, assertion_id LIMIT {args.baseline}"
    ).fetchall()
    con.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    contradicts = {"improves": "degrades", "degrades": "improves"}
    naive_s = naive_fold(sample, contradicts)
    naive_rate = len(sample) / naive_s
    litkg_rate = n / build_s

    print(f"assertions stored        {n:,} over {args.days:,} days (load {load_s:.1f} s)")
    print(
        f"edges / versions         {edges:,} / {versions:,}; with a contradicting partner "
        f"{partnered / max(edges, 1):.1%}; ever contested {contested:,}"
    )
    if args.reuse:
        print("full construct           not measured here (--reuse: the store was built before)")
    else:
        print(f"full construct           {build_s:.2f} s  ({litkg_rate:,.0f} assertions/s)")
    print(f"add one more day         {one_day_s:.2f} s  ({args.day_size} assertions, full graph)")
    print("nightly days (litkg run)  " + ", ".join(f"{r['wall_s']:.2f}" for r in nights)
          + " s in-process; the median:")
    for label, r in (("nightly day (litkg run)", night), ("late day (10 y back)", late)):
        print(f"{label:<25}{r['wall_s']:.2f} s in-process: graph {r['mode']} "
              f"{r['construct_s']:.2f} s, snapshot+commit {r['snapshot_s']:.2f} s")
    print(f"nightly day, CLI process {cli_s:.2f} s (start-up included)")
    print(f"edges_as_recorded count  {recorded_s * 1000:.1f} ms (the first run, on the late day)")
    print(f"edges_as_of count        median {sorted(lat_count)[10] * 1000:.1f} ms")
    print(f"edges_as_of to Arrow     median {sorted(lat_fetch)[10] * 1000:.1f} ms")
    print(f"store bytes              {store_bytes / 1e6:.1f} MB ({store_bytes / own_bytes:.1f}x "
          f"the assertions' own Parquet, {own_bytes / 1e6:.1f} MB)")
    print(f"peak RSS                 {peak_mb:.0f} MB")
    print(
        f"naive dict fold          {len(sample):,} assertions in {naive_s:.2f} s "
        f"({naive_rate:,.0f} assertions/s, graph copied per day)"
    )
    if not args.reuse:
        print(f"ratio litkg / naive      {litkg_rate / naive_rate:.1f}x assertions/s")
    if args.keep is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
