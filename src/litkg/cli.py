"""The `litkg` command line: run, backfill, ingest, query, stats, eval, convert."""

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

from litkg.extractors.base import ExtractorConfigError, ExtractorUnavailable
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
    str,
    typer.Option("--extractor", "-x",
                 help="Extractor: spacy (default), llm, student or student+rules."),
]
ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", help="Student model directory (default: "
                 "$LITKG_MODELS/student-<vocabulary>, $LITKG_MODELS = data/models; "
                 "e.g. data/models/student-ml-fast)."),
]
VocabOpt = Annotated[
    str, typer.Option("--vocabulary", help="Vocabulary: ml, biomed or a YAML path.")
]
FormatOpt = Annotated[str, typer.Option("--summary-format", help="Summary as markdown or json.")]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict", help="Exit 4 when records were quarantined (default: report them, exit 0)."
    ),
]
PubmedDateOpt = Annotated[
    str, typer.Option("--pubmed-date", help="PubMed batch date: entrez, articledate or pubdate.")
]
ArxivDateOpt = Annotated[
    str, typer.Option("--arxiv-date", help="arXiv batch date: v1, latest or update_date.")
]
CategoryOpt = Annotated[
    list[str] | None,
    typer.Option("--category", help="Keep only these arXiv categories (repeat; 'cs' = cs.*)."),
]

# Exit codes of `ingest`, `run` and `backfill` (docs/ingest.md): 0 done
# (quarantined records are reported, not an error, unless --strict); 1 error, nothing more
# committed (bad option, store locked, extractor cannot start); 2 command-line usage (click);
# 3 done, but an input file failed at file level (missing, unreadable, truncated, refused): what
# could be read was stored and the files are listed; 4 done with quarantined records or
# extraction failures under --strict (3 wins when both apply); 5 the extractor's server is down
# (an outage, not bad input): the days it could not finish are not committed, rerun later. A
# misconfigured extractor (wrong key, model or URL; prompt beyond the context length) exits 1.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_FILES_FAILED = 3
EXIT_QUARANTINED = 4
EXIT_UNAVAILABLE = 5


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)  # one line, for logs and grep
    raise typer.Exit(code)


def _store(home: Path | None) -> Store:
    return Store(home)


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}")
        raise  # unreachable


def _extractor(name: str, vocabulary: str, home: Path | None = None,  # noqa: ANN202
               model: Path | None = None):
    from litkg.extractors import make_extractor

    options: dict = {}
    if name == "llm":  # the LLM response cache lives in the store it serves
        options["cache_dir"] = _store(home).cache_dir / "llm"
    if model is not None:
        if not name.startswith("student"):
            _fail("--model applies to the student extractors only")
        options["model"] = model
    try:
        return make_extractor(name, vocabulary=vocabulary, **options)
    except Exception as exc:  # noqa: BLE001 - a clear one-line message for any set-up error
        _fail(f"cannot start extractor {name!r}: {exc}")


def _print_summary(summary, fmt: str) -> None:  # noqa: ANN001
    if fmt == "json":
        print(json.dumps(summary.to_dict(), default=str, indent=1))
    else:
        console.print(Markdown(summary.to_markdown()))


def _source_options(pubmed_date: str, arxiv_date: str, categories: list[str] | None):  # noqa: ANN202
    from litkg.sources import SourceOptions, arxiv, pubmed

    if pubmed_date not in pubmed.DATE_POLICIES:
        _fail(f"--pubmed-date must be one of {', '.join(pubmed.DATE_POLICIES)}")
    if arxiv_date not in arxiv.DATE_POLICIES:
        _fail(f"--arxiv-date must be one of {', '.join(arxiv.DATE_POLICIES)}")
    cats = tuple(sorted({c.strip() for c in categories or [] if c.strip()})) or None
    return SourceOptions(pubmed_date=pubmed_date, arxiv_date=arxiv_date, arxiv_categories=cats)


def _exit_code(failed_files: dict[str, str], problems: int, strict: bool) -> int:
    """3 if an input file failed, else 4 if --strict and records were quarantined, else 0."""
    if failed_files:
        err.print(f"[bold red]{len(failed_files)} input file(s) failed:[/]")
        for path, why in sorted(failed_files.items()):
            err.print(f"  {path}: {why}")
        return EXIT_FILES_FAILED
    if strict and problems:
        return EXIT_QUARANTINED
    return EXIT_OK


def _process(  # noqa: ANN001
    home, days, source, extractor, vocabulary, force, summary_format, strict=False,
    source_options=None, chunk_days=0, model=None,
):
    from litkg.batches import process_range

    store = _store(home)
    ex = _extractor(extractor, vocabulary, home, model)
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
            summary = process_range(
                store, days, sources=source or [], extractor=ex, vocabulary=vocabulary,
                force=force, on_day=on_day, source_options=source_options,
                chunk_days=chunk_days,
            )
        except ExtractorUnavailable as exc:
            _fail(f"{exc}; days not finished were not committed: rerun later",
                  EXIT_UNAVAILABLE)
        except ExtractorConfigError as exc:
            _fail(str(exc))
        except (StoreError, ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
    _print_summary(summary, summary_format)
    if summary.quarantined or summary.extraction_failures or summary.rejected_assertions:
        err.print(
            f"[yellow]{summary.quarantined} record(s) quarantined, "
            f"{summary.extraction_failures} extraction failure(s), "
            f"{summary.rejected_assertions} assertion(s) rejected: see `litkg stats`[/]"
        )
    code = _exit_code(
        summary.failed_files,
        summary.quarantined + summary.extraction_failures + summary.rejected_assertions,
        strict,
    )
    if code:
        raise typer.Exit(code)
    return summary


@app.command()
def run(
    day: Annotated[
        str | None, typer.Option("--date", help="Day to process (default: yesterday).")
    ] = None,
    source: SourceOpt = None,
    home: HomeOpt = None,
    extractor: ExtractorOpt = "spacy",
    vocabulary: VocabOpt = "ml",
    force: Annotated[
        bool, typer.Option(help="Recompute even if the day is committed; re-read every file.")
    ] = False,
    summary_format: FormatOpt = "markdown",
    strict: StrictOpt = False,
    pubmed_date: PubmedDateOpt = "entrez",
    arxiv_date: ArxivDateOpt = "v1",
    category: CategoryOpt = None,
    model: ModelOpt = None,
) -> None:
    """Process one nightly batch: ingest, extract, construct, snapshot.

    Input files go through the manifest: an unchanged file already ingested for this day is
    not read again. Exit codes: 0 ok, 1 error, 3 an input file failed, 4 --strict and records
    were quarantined.
    """
    d = _parse_day(day, "--date") if day else date.today() - timedelta(days=1)
    options = _source_options(pubmed_date, arxiv_date, category)
    _process(home, [d], source, extractor, vocabulary, force, summary_format, strict, options,
             model=model)


@app.command()
def backfill(
    start: Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last day, inclusive (YYYY-MM-DD).")],
    source: SourceOpt = None,
    home: HomeOpt = None,
    extractor: ExtractorOpt = "spacy",
    vocabulary: VocabOpt = "ml",
    force: Annotated[
        bool, typer.Option(help="Recompute days already committed; re-read every file.")
    ] = False,
    summary_format: FormatOpt = "markdown",
    strict: StrictOpt = False,
    pubmed_date: PubmedDateOpt = "entrez",
    arxiv_date: ArxivDateOpt = "v1",
    category: CategoryOpt = None,
    chunk_days: Annotated[
        int, typer.Option(help="Commit every N days (0: the whole range in one commit, held "
                          "in memory until then).")
    ] = 31,
    model: ModelOpt = None,
) -> None:
    """Process every day from --start to --end, both included; committed days are skipped
    unless --force or they got new documents. Exit codes: 0 ok, 1 error, 3 an input file
    failed, 4 --strict and records were quarantined."""
    from litkg.pipeline import days_between

    s, e = _parse_day(start, "--start"), _parse_day(end, "--end")
    if e < s:
        _fail(f"--end {e} is before --start {s}")
    options = _source_options(pubmed_date, arxiv_date, category)
    _process(home, days_between(s, e), source, extractor, vocabulary, force, summary_format,
             strict, options, chunk_days, model)


@app.command("retry-failed")
def retry_failed(
    home: HomeOpt = None,
    extractor: ExtractorOpt = "spacy",
    vocabulary: VocabOpt = "ml",
    summary_format: FormatOpt = "markdown",
    strict: StrictOpt = False,
    model: ModelOpt = None,
) -> None:
    """Extract again the documents whose extraction failed on committed days (quarantined
    with their doc_id; `litkg stats` lists them), and rebuild those days. The other documents
    come from the extraction cache. Exit codes as `backfill`; 5 the extractor's server is down."""
    from litkg.pipeline import failed_extraction_days

    store = _store(home)
    try:
        days = sorted(failed_extraction_days(store.connect()))
    except StoreError as exc:
        _fail(str(exc))
    if not days:
        err.print("no failed extraction to retry")
        return
    err.print(f"retrying failed extractions on {len(days)} day(s): "
              f"{', '.join(d.isoformat() for d in days)}")
    _process(home, days, None, extractor, vocabulary, False, summary_format, strict,
             model=model)


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, globs or directories.")],
    home: HomeOpt = None,
    force: Annotated[
        bool, typer.Option(help="Read every file, even those the manifest says are unchanged.")
    ] = False,
    strict: StrictOpt = False,
    pubmed_date: PubmedDateOpt = "entrez",
    arxiv_date: ArxivDateOpt = "v1",
    category: CategoryOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Counts as JSON.")] = False,
) -> None:
    """Store documents without processing them (a later `run`/`backfill` extracts them).

    Only new or changed files are read, in file order (the `source_files` manifest, shown by
    `litkg stats`). Exit codes: 0 ok, 1 error, 3 an input file failed (missing, unreadable,
    truncated...: the rest is still stored), 4 --strict and records were quarantined.
    """
    from litkg.pipeline import ingest_only

    options = _source_options(pubmed_date, arxiv_date, category)
    try:
        counts = ingest_only(_store(home), paths, force=force, options=options)
    except (StoreError, ValueError) as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(counts, default=str, indent=1))
    else:
        console.print(
            f"{counts['files_read']} file(s) read, {counts['files_skipped']} unchanged skipped; "
            f"ingested {counts['documents']} document(s) over {counts['days']} day(s): "
            f"{counts['new_versions']} new version(s), {counts['deletions']} deletion(s), "
            f"{counts['quarantined']} quarantined"
        )
    if counts["quarantined"]:
        err.print("[yellow]quarantined records: see `litkg stats` and the quarantine table[/]")
    code = _exit_code(counts["failed_files"], counts["quarantined"], strict)
    if code:
        raise typer.Exit(code)


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

    from litkg.graph import open as open_graph  # the Python API's read path (docs/python.md)

    try:
        graph = open_graph(home)
    except StoreError as exc:
        _fail(str(exc))
    try:
        try:
            rel = graph.relation(sql)
        except ValueError as exc:
            _fail(str(exc))
        if fmt == OutputFormat.parquet and output is None:
            _fail("--format parquet needs --output FILE")
        table = rel.to_arrow_table()
        if fmt in (OutputFormat.parquet, OutputFormat.csv):
            _write_result(table, fmt, output)
            return
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


@app.command()
def context(
    text: Annotated[str, typer.Argument(help="An entity: name, alias, acronym (fuzzy).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Day (default: latest).")] = None,
    hops: Annotated[int, typer.Option(help="Claims within this many edges.")] = 1,
    limit: Annotated[int, typer.Option(help="Max claims.")] = 20,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="md: a Markdown list to paste into a prompt; "
                          "json: one JSON document (as the explorer's /api/context).")
    ] = "md",
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one per claim.")] = False,
    home: HomeOpt = None,
) -> None:
    """What the graph says around an entity on a day, with evidence sentences and their
    documents (retrieval for a RAG prompt): the same as the Python API's `kg.context`."""
    from litkg.graph import open as open_graph
    from litkg.view import rag

    if fmt not in ("md", "json"):
        _fail(f"--format must be md or json, got {fmt!r}")
    try:
        graph = open_graph(home)
        entity = graph.resolve(text).row(0, named=True)
        rows = graph.context(text, as_of=as_of, hops=hops, limit=limit)
    except StoreError as exc:
        _fail(str(exc))
    except (LookupError, ValueError) as exc:
        _fail(str(exc).strip("'\""))
    day = as_of or str(graph.latest_day())
    if as_json:
        for claim in rows.iter_rows(named=True):
            print(json.dumps(claim, default=str))
    elif fmt == "json":
        print(json.dumps(rag.document(entity, day, rows), indent=1))
    else:
        print(rag.as_markdown(rows, rag.title(entity), day))


def _write_result(table, fmt: OutputFormat, output: Path | None) -> None:  # noqa: ANN001
    """Write a query's result as Parquet (to `output`) or CSV (to stdout). The sandboxed reader
    cannot write files, so DuckDB's writers run in a private in-memory connection that only
    ever runs this COPY of the result."""
    import tempfile

    import duckdb

    con = duckdb.connect()
    try:
        con.register("result", table)
        if fmt == OutputFormat.parquet:
            target = str(output).replace("'", "''")
            con.execute(f"COPY result TO '{target}' (FORMAT parquet)")
            err.print(f"wrote {output}")
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "out.csv"
            con.execute(f"COPY result TO '{path}' (FORMAT csv, HEADER true)")
            sys.stdout.write(path.read_text(encoding="utf-8"))
    finally:
        con.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@app.command()
def stats(home: HomeOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What the store holds: tables, latest snapshot, quarantine."""
    from litkg.graph import open as open_graph  # the Python API's read path

    try:
        con = open_graph(home).connection()
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
    failed = con.execute(
        "SELECT count(DISTINCT doc_id), count(DISTINCT source_file) FROM quarantine "
        "WHERE starts_with(source_file, 'extraction of ')").fetchone()
    from litkg.pipeline import MAX_AUTO_ATTEMPTS, pending_extractions

    pending_counts, pending = pending_extractions(con)
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
        # documents whose extraction failed on a committed day: `litkg retry-failed`
        "failed_extractions": {"documents": failed[0], "days": failed[1]},
        # the same as work: attempts, last error; runs retry them until MAX_AUTO_ATTEMPTS
        "pending_extractions": {**pending_counts, "latest": pending},
        "latest_snapshot": dict(zip(cols, latest, strict=True)) if latest else None,
        "store_bytes": store_bytes,
    }
    data.update(_source_stats(con))
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
    t.add_row("failed extractions (litkg retry-failed)",
              f"{failed[0]} documents on {failed[1]} days")
    if pending_counts["given_up"]:
        t.add_row(f"  failed {MAX_AUTO_ATTEMPTS}+ times (only retry-failed retries them)",
                  str(pending_counts["given_up"]))
    if latest:
        snap = data["latest_snapshot"]
        t.add_row("latest snapshot", str(snap["day"]))
        for k in ("active_edges", "contested_edges", "retracted_edges", "entities"):
            t.add_row(f"  {k}", str(snap[k]))
    if "llm_tokens" in data:
        for k, v in data["llm_tokens"].items():
            t.add_row(f"llm {k}", str(v))
    if "papers" in data:
        for k, v in data["papers"].items():
            t.add_row(f"papers: {k}", str(v))
    if "source_files" in data:
        files = data["source_files"]
        t.add_row("input files (manifest)", str(len(files)))
        for k in ("records", "deletions", "rejects"):
            t.add_row(f"  {k}", str(sum(f[k] or 0 for f in files)))
        t.add_row("  failed (file-level)", str(sum(1 for f in files if f["error"])))
        if files:
            t.add_row("  last ingested", str(max(f["last_ingested_at"] for f in files)))
    t.add_row("store bytes", f"{store_bytes:,}")
    console.print(t)
    if pending:
        pt = Table(title="documents waiting for extraction (`litkg retry-failed`; "
                   "each run retries them too)")
        for col in ("day", "doc_id", "attempts", "last failure", "reason"):
            pt.add_column(col, overflow="fold")
        for row in pending:
            pt.add_row(str(row["day"]), row["doc_id"], str(row["attempts"]),
                       str(row["last_failed_at"])[:19], row["reason"] or "")
        console.print(pt)
    files = data.get("source_files") or []
    if files:
        ft = Table(title="input files (newest first)")
        for col in ("file", "records", "deletions", "rejects", "last ingested", "error"):
            ft.add_column(col, overflow="fold")
        for f in files[:20]:
            ft.add_row(
                Path(f["path"]).name, str(f["records"]), str(f["deletions"]),
                str(f["rejects"]), str(f["last_ingested_at"])[:19], f["error"] or "",
            )
        console.print(ft)
        if len(files) > 20:
            err.print(f"({len(files)} files, 20 shown; `litkg query 'select * from source_files'`)")


def _source_stats(con) -> dict:  # noqa: ANN001
    """The input-file manifest and cross-source paper matching, for `stats`."""
    out: dict = {}
    try:
        rel = con.execute(
            "SELECT path, reader, size, sha256, records, deletions, rejects, error, "
            "len(days) AS days, len(ingested_days) AS ingested_days, first_ingested_at, "
            "last_ingested_at FROM source_files ORDER BY last_ingested_at DESC, path"
        )
        names = [d[0] for d in rel.description]
        out["source_files"] = [dict(zip(names, r, strict=True)) for r in rel.fetchall()]
        docs, papers, merged, ambiguous = con.execute(
            """
            SELECT (SELECT count(DISTINCT doc_id) FROM documents),
                   (SELECT count(DISTINCT coalesce(i.canonical_id, d.doc_id))
                    FROM (SELECT DISTINCT doc_id FROM documents) d
                    LEFT JOIN (SELECT DISTINCT doc_id, canonical_id FROM document_ids) i
                    USING (doc_id)),
                   (SELECT count(*) FROM (SELECT canonical_id FROM document_ids
                    GROUP BY canonical_id HAVING count(DISTINCT doc_id) > 1)),
                   (SELECT count(DISTINCT alias_id) FROM document_ids WHERE ambiguous)
            """
        ).fetchone()
        out["papers"] = {"document ids": docs, "papers": papers,
                         "matched across ids": merged, "ambiguous aliases": ambiguous}
    except Exception:  # noqa: BLE001 - a store written before these tables existed
        pass
    return out


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
    from litkg.graph import open as open_graph  # the Python API's read path

    try:
        con = open_graph(home).connection()
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


class Dataset(StrEnum):
    scierc = "scierc"
    biored = "biored"


DatasetArg = Annotated[Dataset, typer.Argument(help="Annotated corpus: scierc or biored.")]
SplitArg = Annotated[
    Path, typer.Argument(help="A split: SciERC JSON lines (dev.json) or BioRED PubTator.")
]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Only the first N documents.")]


@app.command("eval")
def eval_cmd(
    dataset: DatasetArg,
    path: SplitArg,
    extractor: ExtractorOpt = "spacy",
    vocabulary: Annotated[
        str | None,
        typer.Option("--vocabulary",
                     help="Vocabulary (default: ml for scierc, biomed for biored)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    markdown_file: Annotated[
        Path | None, typer.Option("--markdown", help="Write the report as Markdown to FILE.")
    ] = None,
    append: Annotated[bool, typer.Option("--append", help="Append to the Markdown file.")] = False,
    diagram: Annotated[
        Path | None,
        typer.Option("--diagram", help="Reliability diagram PNG (default with --markdown: "
                     "beside it, <stem>_<dataset>_reliability.png)."),
    ] = None,
    limit: LimitOpt = None,
    model: ModelOpt = None,
    summary: Annotated[
        Path | None,
        typer.Option("--summary", help="Append the headline figures as a row of a Markdown "
                     "table in FILE (rules / student / combination side by side)."),
    ] = None,
) -> None:
    """Score an extractor against SciERC or BioRED: relations, mentions, entity resolution,
    calibration, and edges by support after running the real pipeline."""
    from litkg.eval import report
    from litkg.eval.harness import DEFAULT_VOCABULARY, evaluate

    if not path.exists():
        _fail(f"no such file: {path}")
    vocab = vocabulary or DEFAULT_VOCABULARY[dataset.value]
    ex = _extractor(extractor, vocab, model=model)
    with err.status(f"evaluating {extractor} on {path.name}", spinner="dots"):
        try:
            result = evaluate(dataset.value, path, extractor=ex, vocabulary=vocab, limit=limit)
        except (ValueError, RuntimeError, StoreError) as exc:
            _fail(str(exc))
    if diagram is None and markdown_file is not None:
        diagram = markdown_file.with_name(
            f"{markdown_file.stem}_{dataset.value}_reliability.png")
    result["diagram"] = None
    if diagram is not None:
        if report.reliability_png(result, diagram):
            result["diagram"] = str(diagram)
        else:
            err.print("[yellow]matplotlib is not installed: no reliability diagram drawn[/]")
    if markdown_file is not None:
        rel = None
        if result["diagram"]:  # linked relative to the Markdown file
            rel = os.path.relpath(Path(result["diagram"]).resolve(),
                                  markdown_file.resolve().parent)
        section = report.markdown(result, rel)
        markdown_file.parent.mkdir(parents=True, exist_ok=True)
        if append and markdown_file.exists():
            with markdown_file.open("a", encoding="utf-8") as fh:
                fh.write("\n" + section)
        else:
            markdown_file.write_text(report.HEADER + section, encoding="utf-8")
        err.print(f"wrote {markdown_file}")
    if summary is not None:
        report.append_summary(summary, result)
        err.print(f"appended to {summary}")
    if as_json:
        print(json.dumps(result, default=str, indent=1))
    else:
        report.render_rich(result, console)


@app.command()
def convert(
    dataset: DatasetArg,
    path: SplitArg,
    output: Annotated[Path, typer.Argument(help="litkg input file to write (JSON lines).")],
    limit: LimitOpt = None,
) -> None:
    """Turn an annotated corpus into dated litkg input (e.g. SciERC as a 1980–2016 stream)."""
    from litkg.eval.harness import load_corpus

    if not path.exists():
        _fail(f"no such file: {path}")
    try:
        corpus = load_corpus(dataset.value, path, limit)
    except ValueError as exc:
        _fail(str(exc))
    output.parent.mkdir(parents=True, exist_ok=True)
    n = corpus.write_jsonl(output)
    days = sorted({d.published for d in corpus.documents})
    span = f"{days[0]} … {days[-1]}, {len(days)} day(s)" if days else "no documents"
    console.print(f"wrote {n} document(s) to {output} ({span}; {corpus.dating})")


# Commands of the installed tool live in their own module.
from litkg import cli_release  # noqa: E402

app.callback()(cli_release.main_options)
app.command()(cli_release.demo)
app.command()(cli_release.deploy)

# Seeing and using the graph (issue 15): report, serve, export, changes.
from litkg import cli_view  # noqa: E402

for _command in (cli_view.report, cli_view.serve, cli_view.export, cli_view.changes):
    app.command()(_command)

from litkg.train_cli import train_app  # noqa: E402 - the `train` command group

app.add_typer(train_app, name="train")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

from litkg import cli_store  # noqa: E402 - the rebuild / verify commands

app.command()(cli_store.rebuild)
app.command()(cli_store.verify)
