"""`litkg report`: one self-contained HTML file about the graph as of a day, built with SQL:
growth, the strongest and most reinforced claims with their confidence timelines, newly
contested claims beside what beats them (both with evidence), the changes since a day, the
quarantine and extraction failures, the relation mix and the extractors used. Plots are
inline SVG (`plots`), styles inline: nothing is fetched when it is viewed (works from file://).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jinja2
import polars as pl

from litkg import __version__
from litkg.graph import Graph
from litkg.view import plots, queries
from litkg.view.changelog import changelog, claim

TEMPLATES = Path(__file__).resolve().parent / "templates"
TOP = 8  # claims in each of "strongest" and "most reinforced"
CONTESTED = 20  # newly contested claims shown
CHANGES = 300  # change sentences listed (the counts cover all)
DEFAULT_WINDOW = timedelta(days=30)  # --since defaults to as_of minus this


@dataclass
class Report:
    html: str
    as_of: date
    since: date
    plots: int
    sections: list[str] = field(default_factory=list)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["claim"] = lambda r, p="": claim(r[p + "subject"], r[p + "relation"],
                                                  r[p + "object"], r[p + "context"])
    env.filters["conf"] = lambda x: "" if x is None else (f"{x:.4f}" if x > 0.99 else f"{x:.2f}")
    return env


def _claims(graph: Graph, frame: pl.DataFrame, as_of: date) -> list[dict[str, Any]]:
    """Claims with their confidence timeline (a plot) and newest evidence."""
    ids = frame["edge_id"].to_list()
    if not ids:
        return []
    versions = graph.sql(
        "SELECT edge_id, valid_from, confidence, support, status FROM edges "
        "WHERE list_contains($ids, edge_id) AND valid_from <= $d ORDER BY edge_id, valid_from",
        {"ids": ids, "d": as_of})
    evidence = queries.evidence(graph, ids, as_of, per_edge=1)
    out = []
    for row in frame.iter_rows(named=True):
        mine = versions.filter(pl.col("edge_id") == row["edge_id"])
        out.append({**row, "versions": mine.height, "timeline": plots.timeline(mine),
                    "evidence": evidence.get(row["edge_id"], [])})
    return out


def _contested(graph: Graph, since: date, as_of: date) -> list[dict[str, Any]]:
    rows = queries.run(graph, "contested", {"d1": since, "d2": as_of, "limit": CONTESTED})
    out = []
    for row in rows.iter_rows(named=True):
        ev = queries.evidence(graph, [row["edge_id"], row["winner_id"]], row["day"], 2)
        out.append({**row, "evidence": ev.get(row["edge_id"], []),
                    "winner_evidence": ev.get(row["winner_id"], [])})
    return out


def _store_facts(graph: Graph, as_of: date) -> dict[str, Any]:
    con = graph.connection()
    quarantine = graph.sql(
        "SELECT reason, count(*) AS records FROM quarantine "
        "WHERE NOT starts_with(source_file, 'extraction of ') GROUP BY reason "
        "ORDER BY records DESC, reason")
    failures = con.execute(
        "SELECT count(DISTINCT doc_id), count(DISTINCT source_file) FROM quarantine "
        "WHERE starts_with(source_file, 'extraction of ')").fetchone()
    extractors = graph.sql(
        "SELECT extractor, extractor_version, count(*) AS assertions, "
        "count(DISTINCT doc_id) AS documents, min(day) AS first_day, max(day) AS last_day "
        "FROM assertions WHERE day <= $d GROUP BY ALL ORDER BY assertions DESC", {"d": as_of})
    return {"quarantine": quarantine.to_dicts(), "failures": failures,
            "extractors": extractors.to_dicts()}


def build(graph: Graph, as_of: date | None = None, since: date | None = None, *,
          served: bool = False) -> Report:
    """The report as of `as_of` (default: the latest day) with the changes since `since`
    (default: 30 days before). `served`: link entities to the explorer's pages."""
    as_of = as_of or graph.latest_day() or date.today()
    since = since or as_of - DEFAULT_WINDOW
    if since >= as_of:
        raise ValueError(f"--since {since} must be before --as-of {as_of}")
    snaps = graph.sql("SELECT * FROM snapshots WHERE day <= $d ORDER BY day", {"d": as_of})
    edges = graph.edges(as_of)
    figures: dict[str, str] = {}
    if snaps.height:
        figures["growth"] = plots.growth(snaps)
        figures["status"] = plots.edges_by_status(snaps)
    if edges.height:
        mix = edges.group_by("relation", "status").len("edges")
        figures["relations"] = plots.counts(mix, "relation", "edges", "Relations on "
                                            f"{as_of}", colour="status")
    changes = changelog(graph, since, as_of)
    kinds = (pl.DataFrame({"change": [c["change"] for c in changes]})
             .group_by("change").len("edges") if changes else None)
    if kinds is not None:
        figures["changes"] = plots.counts(kinds, "change", "edges",
                                          f"Changes in ({since}, {as_of}]")
    strongest = _claims(graph, edges.head(TOP), as_of)
    before = graph.sql("SELECT edge_id, support AS support_before FROM edges_as_of($d)",
                       {"d": since})
    gained = edges.join(before, on="edge_id", how="left").with_columns(
        (pl.col("support") - pl.col("support_before").fill_null(0)).alias("gained"))
    reinforced = _claims(graph, gained.filter(pl.col("gained") > 0).sort(
        ["gained", "support", "confidence", "edge_id"],
        descending=[True, True, True, False]).head(TOP), as_of)
    snapshot = snaps.row(-1, named=True) if snaps.height else None
    context = {
        "version": __version__, "home": str(graph.home), "as_of": as_of, "since": since,
        "snapshot": snapshot, "figures": figures, "strongest": strongest,
        "reinforced": reinforced, "contested": _contested(graph, since, as_of),
        "changes": changes[-CHANGES:], "changes_total": len(changes),
        "change_counts": kinds.sort("edges", descending=True).to_dicts() if kinds is not None
        else [], "served": served, **_store_facts(graph, as_of),
    }
    n_plots = len(figures) + len(strongest) + len(reinforced)
    html = environment().get_template("report.html.j2").render(**context, n_plots=n_plots)
    return Report(html=html, as_of=as_of, since=since, plots=n_plots,
                  sections=list(figures))


def write(graph: Graph, out: Path, as_of: date | None = None,
          since: date | None = None) -> Report:
    report = build(graph, as_of, since)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.html, encoding="utf-8")
    return report
