"""Commands to see and use the graph (issue 15), registered in cli.py: `report`, `serve`,
`export`, `changes`. Each opens the store read-only through `litkg.open`."""

from __future__ import annotations

import ipaddress
import json
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from litkg.store import StoreError

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Store directory (default: $LITKG_HOME or ./data/store)."),
]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Day (default: the latest).")]


class ExportFormat(StrEnum):
    graphml = "graphml"
    neo4j = "neo4j"
    jsonl = "jsonl"


class ChangesFormat(StrEnum):
    text = "text"
    json = "json"


def _open(home: Path | None):  # noqa: ANN202
    from litkg import cli
    from litkg.graph import open as open_graph

    try:
        return open_graph(home)
    except StoreError as exc:
        cli._fail(str(exc))


def _day(value: str | None, name: str) -> date | None:
    from litkg import cli

    return cli._parse_day(value, name) if value else None


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path(
        "report.html"),
    as_of: AsOfOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Changes after this day (default: 30 days "
                                 "before --as-of).")
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Write one self-contained HTML report of the graph on a day: growth, strongest and most
    reinforced claims with their confidence timelines, newly contested claims beside what
    beats them, the changes since --since, quarantine, relation mix, extractors. Opens from
    file:// with no network."""
    from litkg import cli
    from litkg.view import report as reports

    graph = _open(home)
    try:
        written = reports.write(graph, out, _day(as_of, "--as-of"), _day(since, "--since"))
    except ValueError as exc:
        cli._fail(str(exc))
    finally:
        graph.close()
    cli.err.print(f"wrote {out} (the graph on {written.as_of}, changes since {written.since}, "
                  f"{written.plots} plots)", soft_wrap=True)
    print(out.resolve())


def serve(
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8765,
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on (default: loopback only).")
    ] = "127.0.0.1",
    home: HomeOpt = None,
) -> None:
    """Explore the store in a browser (read-only): the report at /, a page per entity with a
    date slider, its edges with evidence and its neighbourhood, and JSON at /api/entity/{id},
    /api/search, /api/changes, /api/context (docs at /api/docs). Ctrl-C stops it."""
    from litkg import cli
    from litkg.view.serve import serve as run_server

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        cli.err.print(f"[yellow]warning: listening on {host}: anyone who can reach this "
                      "machine can read the store (no authentication)[/]")
    graph = _open(home)
    cli.err.print(f"litkg explorer of {graph.home} on http://{host}:{port}/ (Ctrl-C stops it)",
                  soft_wrap=True)
    try:
        run_server(graph, host=host, port=port)
    finally:
        graph.close()


def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="graphml, neo4j or jsonl.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="File to write (a folder for neo4j).")
    ],
    as_of: AsOfOpt = None,
    home: HomeOpt = None,
) -> None:
    """Export the graph on a day with contexts and provenance: GraphML (networkx, Gephi),
    Neo4j import CSVs (`neo4j-admin database import full`; see import.sh in the folder) or
    JSON lines of edges with their evidence."""
    from litkg import cli
    from litkg.view.export import export as write

    graph = _open(home)
    try:
        day = _day(as_of, "--as-of") or graph.latest_day() or date.today()
        counts = write(graph, fmt.value, out, day)
    finally:
        graph.close()
    what = ", ".join(f"{n} {k}" for k, n in counts.items())
    cli.err.print(f"wrote {out} ({fmt.value}, the graph on {day}: {what})", soft_wrap=True)


def changes(
    start: Annotated[str, typer.Argument(help="Changes after this day (YYYY-MM-DD).")],
    end: Annotated[
        str | None, typer.Argument(help="Up to this day, included (default: the latest).")
    ] = None,
    fmt: Annotated[ChangesFormat, typer.Option("--format", "-f")] = ChangesFormat.text,
    home: HomeOpt = None,
) -> None:
    """What changed in (START, END], one sentence per change: claims added, reinforced,
    weakened, contested (by what, confidence vs the winner's), resolved, retracted, restored,
    with the documents that caused it."""
    from litkg import cli
    from litkg.view.changelog import changelog

    graph = _open(home)
    try:
        d1 = _day(start, "START")
        d2 = _day(end, "END") or graph.latest_day() or date.today()
        if d2 < d1:
            cli._fail(f"END {d2} is before START {d1}")
        rows = changelog(graph, d1, d2)
    finally:
        graph.close()
    for row in rows:
        if fmt == ChangesFormat.json:
            print(json.dumps(row, default=str))
        else:
            print(row["sentence"])
    if not rows:
        cli.err.print(f"no change in ({d1}, {d2}]")


def demo_report(home: Path | None, since: date) -> Path:
    """The end of `litkg demo`: the report beside the store (changes since `since`), its path
    and how to explore the store."""
    from litkg import cli
    from litkg.view import report as reports

    graph = _open(home)
    out = graph.home.parent / "report.html"
    try:
        written = reports.write(graph, out, since=since - timedelta(days=1))
    finally:
        graph.close()
    cli.console.print(f"\n[bold]== report ==[/]\nwrote {out} ({written.plots} plots): open it "
                      "in a browser (file://, no network needed)", soft_wrap=True)
    cli.console.print(f"explore the store: [bold]litkg serve --home {graph.home}[/] then open "
                      "http://127.0.0.1:8765/", soft_wrap=True)
    return out
