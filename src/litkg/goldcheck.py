"""Check a store against a hand-written gold file of planted facts (data/sample/gold.yaml).

Used by the tests and by `make demo` to report how much of the planted behaviour the pipeline
recovers: reinforced facts, conflicts (with their timelines), non-conflicts across contexts,
acronyms, the revision, the duplicate, malformed records and hedged/negated statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml


@dataclass
class GoldReport:
    """Per-category (passed, total) counts and the failures, by name."""

    results: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)

    def add(self, category: str, name: str, ok: bool) -> None:
        self.results.setdefault(category, []).append((name, bool(ok)))

    def score(self, category: str | None = None) -> tuple[int, int]:
        cats = [category] if category else list(self.results)
        items = [ok for c in cats for _, ok in self.results.get(c, [])]
        return sum(items), len(items)

    def failures(self) -> list[str]:
        return [f"{c}: {n}" for c, items in self.results.items() for n, ok in items if not ok]

    def table(self) -> list[tuple[str, int, int]]:
        return [(c, *self.score(c)) for c in self.results]


class _Canon:
    """`litkg_canon` of every string in the gold file, computed in one query: called with a
    parameter, the macro compiles its regular expressions on each call (~0.3 s apiece)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, gold: Any) -> None:
        rows = con.execute(
            "SELECT s, litkg_canon(s) FROM unnest(?::VARCHAR[]) AS t(s)", [sorted(_strings(gold))]
        ).fetchall()
        self.keys = dict(rows)

    def __call__(self, text: str) -> str:
        return self.keys[text]


def _strings(node: Any) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, dict):
        return {s for v in node.values() for s in _strings(v)}
    if isinstance(node, list):
        return {s for v in node for s in _strings(v)}
    return set()


def _context(ctx: dict[str, str] | None, canon: _Canon) -> str:
    if not ctx:
        return ""
    return "; ".join(sorted(f"{q}={canon(v)}" for q, v in ctx.items()))


def _key(claim: dict[str, Any], canon: _Canon) -> tuple[str, str, str, str]:
    return (canon(claim["subject"]), claim["relation"], canon(claim["object"]),
            _context(claim.get("context"), canon))


def _edge_on(con: duckdb.DuckDBPyConnection, key: tuple[str, ...], day: str) -> dict | None:
    row = con.execute(
        "SELECT edge_id, status, support, confidence, contested_by FROM edges "
        "WHERE subject = ? AND relation = ? AND object = ? AND context = ? "
        "AND valid_from <= CAST(? AS DATE) AND (valid_to IS NULL OR valid_to > CAST(? AS DATE))",
        [*key, day, day],
    ).fetchone()
    if row is None:
        return None
    return dict(
        zip(["edge_id", "status", "support", "confidence", "contested_by"], row, strict=True)
    )


def check_gold(
    con: duckdb.DuckDBPyConnection, gold_path: Path, end: str = "2024-03-31"
) -> GoldReport:
    """Compare the store behind `con` (a catalog connection) with the gold file."""
    gold = yaml.safe_load(Path(gold_path).read_text(encoding="utf-8"))
    canon = _Canon(con, gold)
    report = GoldReport()
    for fact in gold.get("facts", []):
        edge = _edge_on(con, _key(fact, canon), end)
        report.add("facts recovered", fact["id"], edge is not None)
        report.add(
            "facts with full support",
            fact["id"],
            edge is not None and edge["support"] >= fact["min_support"],
        )
    for fact in gold.get("single_support", []):
        name = f"{fact['subject']} {fact['relation']} {fact['object']}"
        edge = _edge_on(con, _key(fact, canon), end)
        report.add("single claims recovered", name, edge is not None)
    for c in gold.get("conflicts", []):
        ka, kb = _key(c["a"], canon), _key(c["b"], canon)
        for day, leader in c["leader_timeline"].items():
            ea, eb = _edge_on(con, ka, day), _edge_on(con, kb, day)
            win, lose = (ea, eb) if leader == "a" else (eb, ea)
            ok = (
                win is not None
                and win["status"] == "active"
                and (
                    lose is None
                    or (lose["status"] == "contested" and lose["contested_by"] == win["edge_id"])
                )
            )
            both = ea is not None and eb is not None
            report.add("conflict timeline", f"{c['id']} on {day}", ok)
            if day == max(c["leader_timeline"]):
                report.add("conflicts detected", c["id"], ok and both)
    for i, nc in enumerate(gold.get("non_conflicts", []), start=1):
        ea, eb = _edge_on(con, _key(nc["a"], canon), end), _edge_on(con, _key(nc["b"], canon), end)
        ok = (
            ea is not None
            and eb is not None
            and ea["contested_by"] != eb["edge_id"]
            and (eb["contested_by"] != ea["edge_id"])
        )
        report.add("no false conflict across contexts", f"NC{i}", ok)
    for alias in gold.get("aliases", []):
        long_key = canon(alias["long"])
        for doc in alias.get("used_alone_in", []):
            if not con.execute("SELECT count(*) FROM documents WHERE doc_id = ?", [doc]).fetchone()[
                0
            ]:
                continue  # not in this store (e.g. published after the checked range)
            hit = con.execute(
                "SELECT count(*) FROM mentions WHERE doc_id = ? AND canonical = ? AND via_acronym",
                [doc, long_key],
            ).fetchone()[0]
            report.add("acronyms resolved", f"{alias['short']} in {doc}", hit > 0)
    rev = gold.get("revision")
    if rev:
        revised = rev["revised_on"]
        for claim in rev.get("retracted_claims", []):
            before = _edge_on(con, _key(claim, canon), rev["first_published"])
            after = _edge_on(con, _key(claim, canon), revised)
            report.add(
                "revision",
                "old claim live before revision",
                before is not None and before["status"] != "retracted",
            )
            report.add(
                "revision",
                "old claim retracted at revision",
                after is not None and after["status"] == "retracted",
            )
        for claim in rev.get("new_claims", []):
            after = _edge_on(con, _key(claim, canon), revised)
            report.add(
                "revision", "new claim live", after is not None and after["status"] == "active"
            )
    dup = gold.get("duplicate")
    if dup:
        n = con.execute(
            "SELECT count(DISTINCT content_hash), count(*) FILTER (status = 'live') > 0 "
            "FROM assertions WHERE doc_id = ?",
            [dup["doc_id"]],
        ).fetchone()
        ignored = con.execute(
            "SELECT count(*) FROM assertions WHERE doc_id = ? AND status = 'ignored'",
            [dup["doc_id"]],
        ).fetchone()[0]
        report.add("duplicate is a no-op", dup["doc_id"], n[0] == 1 and (ignored == 0 or n[1]))
    for bad in gold.get("malformed", []):
        hit = con.execute(
            "SELECT count(*) FROM quarantine WHERE source_file LIKE '%2024-03-malformed.jsonl' "
            "AND line = ?",
            [bad["line"]],
        ).fetchone()[0]
        report.add("malformed quarantined", f"line {bad['line']}", hit == 1)
    for h in gold.get("hedged", []):
        edge = _edge_on(con, _key(h, canon), end)
        if h["modality"] == "negated":
            report.add("negated not asserted", h["subject"], edge is None)
        else:
            report.add(
                "hedged down-weighted", h["subject"], edge is not None and edge["confidence"] < 0.6
            )
    return report
