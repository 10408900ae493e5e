"""The `litkg` command line: run, backfill, ingest, query, stats."""

from __future__ import annotations

import json
import os
import sys
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from litkg.store import Store, StoreError

app = typer.Typer(
    help="Build and query an incremental, temporal knowledge graph of the literature.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Store directory (default: $LITKG_HOME or ./data/store)."),
]
SourceOpt = Annotated[
    list[str] | None,
    typer.Option("--source", "-s", help="Files, globs or directories of input documents."),
]
ExtractorOpt = Annotated[
    str, typer.Option("--extractor", "-x", help="Extractor: spacy (default) or llm.")
]
VocabOpt = Annotated[
    str, typer.Option("--vocabulary", help="Vocabulary: ml, biomed or a YAML path.")
]
FormatOpt = Annotated[str, typer.Option("--summary-format", help="Summary as markdown or json.")]


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _store(home: Path | None) -> Store:
    return Store(home)


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}")
        raise  # unreachable


def _extractor(name: str, vocabulary: str):  # noqa: ANN202 - protocol instance
    from litkg.extractors import make_extractor

    try:
        return make_extractor(name, vocabulary=vocabulary)
    except Exception as exc:  # noqa: BLE001 - a clear one-line message for any set-up error
        _fail(f"cannot start extractor {name!r}: {exc}")


def _print_summary(summary, fmt: str) -> None:  # noqa: ANN001
    if fmt == "json":
        print(json.dumps(summary.to_dict(), default=str, indent=1))
    else:
        console.print(Markdown(summary.to_markdown()))


def _process(home, days, source, extractor, vocabulary, force, summary_format) -> None:  # noqa: ANN001
    from litkg.pipeline import process_days

    store = _store(home)
    ex = _extractor(extractor, vocabulary)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with progress:
        task = progress.add_task("days", total=len(days))

        def on_day(day: date, state: str) -> None:
            progress.update(task, advance=1, description=f"{day} {state}")

        try:
            summary = process_days(
                store,
                days,
                sources=source or [],
                extractor=ex,
                vocabulary=vocabulary,
                force=force,
                on_day=on_day,
            )
        except (StoreError, ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
    _print_summary(summary, summary_format)
    if summary.quarantined or summary.extraction_failures:
        err.print(
            f"[yellow]{summary.quarantined} record(s) quarantined, "
            f"{summary.extraction_failures} extraction failure(s): see `litkg stats`[/]"
        )


@app.command()
def run(
    day: Annotated[
        str | None, typer.Option("--date", help="Day to process (default: yesterday).")
    ] = None,
    source: SourceOpt = None,
    home: HomeOpt = None,
    extractor: ExtractorOpt = "spacy",
    vocabulary: VocabOpt = "ml",
    force: Annotated[bool, typer.Option(help="Recompute even if the day is committed.")] = False,
    summary_format: FormatOpt = "markdown",
) -> None:
    """Process one nightly batch: ingest, extract, construct, snapshot."""
    d = _parse_day(day, "--date") if day else date.today() - timedelta(days=1)
    _process(home, [d], source, extractor, vocabulary, force, summary_format)


@app.command()
def backfill(
    start: Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last day, inclusive (YYYY-MM-DD).")],
    source: SourceOpt = None,
    home: HomeOpt = None,
    extractor: ExtractorOpt = "spacy",
    vocabulary: VocabOpt = "ml",
    force: Annotated[bool, typer.Option(help="Recompute days already committed.")] = False,
    summary_format: FormatOpt = "markdown",
) -> None:
    """Process every day in [start, end]; committed days are skipped unless --force."""
    from litkg.pipeline import days_between

    s, e = _parse_day(start, "--start"), _parse_day(end, "--end")
    if e < s:
        _fail(f"--end {e} is before --start {s}")
    _process(home, days_between(s, e), source, extractor, vocabulary, force, summary_format)


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, globs or directories.")],
    home: HomeOpt = None,
) -> None:
    """Store documents without processing them (a later `run`/`backfill` extracts them)."""
    from litkg.pipeline import ingest_only

    try:
        counts = ingest_only(_store(home), paths)
    except StoreError as exc:
        _fail(str(exc))
    console.print(
        f"ingested {counts['documents']} document(s) over {counts['days']} day(s): "
        f"{counts['new_versions']} new version(s), {counts['quarantined']} quarantined"
    )
    if counts["quarantined"]:
        raise typer.Exit(2)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL over the store (read-only).")],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File for parquet.")] = None,
    home: HomeOpt = None,
    limit: Annotated[int, typer.Option(help="Max rows shown as a table.")] = 200,
) -> None:
    """Run SQL against the store: tables, edges_as_of(d), entities_as_of(d), changes(d1, d2)…"""
    import duckdb

    try:
        con = _store(home).connect()
    except StoreError as exc:
        _fail(str(exc))
    try:
        rel = con.sql(sql)
        if rel is None:
            _fail("the statement returned no rows (the store is opened read-only)")
        if fmt == OutputFormat.parquet:
            if output is None:
                _fail("--format parquet needs --output FILE")
            rel.write_parquet(str(output))
            err.print(f"wrote {output}")
            return
        if fmt == OutputFormat.csv:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "out.csv"
                rel.write_csv(str(path), header=True)
                sys.stdout.write(path.read_text(encoding="utf-8"))
            return
        table = rel.to_arrow_table()
    except duckdb.Error as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if fmt == OutputFormat.json:
        for row in table.to_pylist():
            print(json.dumps(row, default=str))
    else:
        out = Table(show_lines=False)
        for name in table.column_names:
            out.add_column(name, overflow="fold")
        for row in table.slice(0, limit).to_pylist():
            out.add_row(*[_cell(v) for v in row.values()])
        console.print(out)
        if table.num_rows > limit:
            err.print(f"({table.num_rows} rows, {limit} shown; use --format csv for all)")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@app.command()
def stats(home: HomeOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What the store holds: tables, latest snapshot, quarantine."""
    try:
        con = _store(home).connect()
    except StoreError as exc:
        _fail(str(exc))
    counts = {}
    for name in (
        "documents",
        "assertions",
        "entities",
        "aliases",
        "edges",
        "quarantine",
        "snapshots",
        "deletions",
    ):
        counts[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    latest = con.execute("SELECT * FROM snapshots ORDER BY day DESC LIMIT 1").fetchone()
    cols = [d[0] for d in con.description] if latest else []
    status = dict(
        con.execute(
            "SELECT status, count(*) FROM assertions GROUP BY status ORDER BY status"
        ).fetchall()
    )
    reasons = con.execute(
        "SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC, 1"
    ).fetchall()
    extra = {}
    for table_name in ("llm_usage",):
        try:
            extra[table_name] = con.execute(
                f"SELECT count(*), sum(prompt_tokens), sum(completion_tokens) FROM {table_name}"
            ).fetchone()
        except Exception:  # noqa: BLE001 - optional table
            pass
    store_bytes = sum(p.stat().st_size for p in Path(_store(home).home).rglob("*") if p.is_file())
    data = {
        "home": str(_store(home).home),
        "rows": counts,
        "assertions_by_status": status,
        "quarantine_by_reason": dict(reasons),
        "latest_snapshot": dict(zip(cols, latest, strict=True)) if latest else None,
        "store_bytes": store_bytes,
    }
    if "llm_usage" in extra and extra["llm_usage"] and extra["llm_usage"][0]:
        n, p, c = extra["llm_usage"]
        gpu_tps = float(os.environ.get("LITKG_GPU_TOKENS_PER_S", "2500"))
        data["llm_tokens"] = {
            "documents": n,
            "prompt_tokens": p,
            "completion_tokens": c,
            "estimated_gpu_hours": round(((p or 0) + (c or 0)) / gpu_tps / 3600, 4),
        }
    if as_json:
        print(json.dumps(data, default=str, indent=1))
        return
    t = Table(title=f"litkg store {data['home']}")
    t.add_column("what")
    t.add_column("value", justify="right")
    for k, v in counts.items():
        t.add_row(k, str(v))
    for k, v in status.items():
        t.add_row(f"assertions {k}", str(v))
    t.add_row("quarantined records", str(counts["quarantine"]))
    for reason, n in reasons:
        t.add_row(f"  {reason}", str(n))
    if latest:
        snap = data["latest_snapshot"]
        t.add_row("latest snapshot", str(snap["day"]))
        for k in ("active_edges", "contested_edges", "retracted_edges", "entities"):
            t.add_row(f"  {k}", str(snap[k]))
    if "llm_tokens" in data:
        for k, v in data["llm_tokens"].items():
            t.add_row(f"llm {k}", str(v))
    t.add_row("store bytes", f"{store_bytes:,}")
    console.print(t)


@app.command("check-gold")
def check_gold_cmd(
    gold: Annotated[
        Path, typer.Argument(help="Gold YAML of planted facts (data/sample/gold.yaml).")
    ],
    end: Annotated[str, typer.Option(help="Day the gold's final state refers to.")] = "2024-03-31",
    home: HomeOpt = None,
) -> None:
    """How much of a gold file's planted behaviour the store recovers."""
    from litkg.goldcheck import check_gold

    try:
        con = _store(home).connect()
    except StoreError as exc:
        _fail(str(exc))
    report = check_gold(con, gold, end=end)
    t = Table(title=f"gold: {gold}")
    for col in ("check", "recovered", "of", "share"):
        t.add_column(col, justify="left" if col == "check" else "right")
    for name, ok, total in report.table():
        t.add_row(name, str(ok), str(total), f"{ok / total:.0%}" if total else "-")
    ok, total = report.score()
    t.add_row("[bold]all", f"[bold]{ok}", f"[bold]{total}", f"[bold]{ok / total:.1%}")
    console.print(t)
    for failure in report.failures():
        err.print(f"  missed: {failure}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
