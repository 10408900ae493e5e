"""Commands of the installed tool: `--version`, `demo`, `deploy` (registered in cli.py)."""

from __future__ import annotations

import importlib
import os
import platform
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from litkg import __version__

#: extractor name -> (module, how its version reads); a version says which outputs to recompute.
_EXTRACTOR_VERSIONS = {
    "spacy": ("litkg.extractors.spacy_rules", lambda m: f"{m.VERSION} ({m.MODEL_PACKAGE})"),
    "llm": ("litkg.extractors.llm.extractor",
            lambda m: f"{m.CODE_VERSION}+prompt.{m.PROMPT_VERSION} (+ the served model's name)"),
    "student": ("litkg.extractors.student.train",
                lambda m: f"{m.VERSION} (+ the trained model's digest; make model)"),
    "student+rules": ("litkg.extractors.student.train",
                      lambda m: f"{m.VERSION} + the spacy rules"),
}
_LIBRARIES = ("duckdb", "polars", "pyarrow", "prefect", "spacy")


def _dist(name: str) -> str:
    try:
        return dist_version(name)
    except PackageNotFoundError:
        return "not installed"


def extractor_versions() -> dict[str, str]:
    """Each registered extractor's version, read from its module (no model is loaded)."""
    from litkg.extractors import EXTRACTORS

    out = {}
    for name in EXTRACTORS:
        module, read = _EXTRACTOR_VERSIONS.get(name, (f"litkg.extractors.{name}", None))
        try:
            mod = importlib.import_module(module)
            out[name] = read(mod) if read else str(getattr(mod, "VERSION", "?"))
        except Exception as exc:  # noqa: BLE001 - report, do not fail, on a broken extra
            out[name] = f"unavailable ({type(exc).__name__}: {exc})"
    return out


def version_lines() -> list[str]:
    lines = [f"litkg {__version__}"]
    lines += [f"  extractor {name} {v}" for name, v in extractor_versions().items()]
    libs = ", ".join(f"{lib} {_dist(lib)}" for lib in _LIBRARIES)
    lines.append(f"  python {platform.python_version()}, {libs}")
    return lines


def _print_version(value: bool) -> None:
    if value:
        for line in version_lines():
            print(line)
        raise typer.Exit()


def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True,
                     help="Print litkg's version and its extractors' versions, then exit."),
    ] = False,
) -> None:
    """Build and query an incremental, temporal knowledge graph of the literature."""


def demo(
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Store directory (default: $LITKG_HOME or ./data/store)."),
    ] = None,
    extractor: Annotated[
        str, typer.Option("--extractor", "-x", help="Extractor (default: spacy rules).")
    ] = "spacy",
) -> None:
    """Build a store from the bundled sample corpus (a March 2024 backfill, then the nightly
    run of 2024-04-01) and show what it knows: strongest claims, conflicts within contexts,
    last week's changes, planted facts recovered. Works from any directory."""
    from litkg import cli
    from litkg import demo as sample
    from litkg.pipeline import days_between

    source = [str(sample.sample_dir())]
    cli.console.print(f"[bold]litkg demo[/]: sample corpus {source[0]}", soft_wrap=True)
    backfill = cli._process(home, days_between(sample.BACKFILL_START, sample.BACKFILL_END),
                            source, extractor, "ml", False, "markdown")
    nightly = cli._process(home, [sample.NIGHTLY], source, extractor, "ml", False, "markdown")
    if backfill and nightly and nightly.construct_mode:  # not when a rerun skipped the days
        cli.console.print(
            "\n[bold]== cost of the graph commit ==[/]\n"
            f"backfill of {len(backfill.days)} days ({backfill.construct_mode}): "
            f"{backfill.stage_seconds.get('construct', 0):.2f} s; "
            f"nightly {sample.NIGHTLY} ({nightly.construct_mode}): "
            f"{nightly.stage_seconds.get('construct', 0):.2f} s"
        )
    for title, sql in sample.QUERIES:
        cli.console.print(f"\n[bold]== {title} ==[/]")
        cli.query(sql, fmt=cli.OutputFormat.table, output=None, home=home, limit=200)
    cli.console.print("\n[bold]== planted facts recovered (gold.yaml of the sample) ==[/]")
    cli.check_gold_cmd(sample.gold_file(), end=sample.GOLD_END, home=home)
    cli.stats(home=home, as_json=False)
    from litkg.cli_view import demo_report

    demo_report(home, since=sample.BACKFILL_START)


def deploy(
    pool: Annotated[str, typer.Option("--pool", help="Work pool (created as a process pool "
                                      "if missing).")] = "litkg-process",
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Store the runs write (default: $LITKG_HOME; unset, "
                     "the worker's $LITKG_HOME)."),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Input paths or globs (default: $LITKG_SOURCE; "
                     "unset, the worker's)."),
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="Timezone of the nightly schedule and of its 'yesterday'.")
    ] = "Europe/Berlin",
    cron: Annotated[
        str | None, typer.Option(help="Nightly schedule (default: 0 2 * * *).")
    ] = None,
    extractor: Annotated[str | None, typer.Option("--extractor", "-x")] = None,
    vocabulary: Annotated[str | None, typer.Option("--vocabulary")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the deployments, send nothing.")
    ] = False,
) -> None:
    """Create or update the Prefect deployments (litkg-nightly, litkg-backfill) of this
    installed litkg on the server at PREFECT_API_URL; no checkout needed."""
    from litkg import cli
    from litkg import deploy as deployments

    home = home or (Path(os.environ["LITKG_HOME"]) if os.environ.get("LITKG_HOME") else None)
    if not source and os.environ.get("LITKG_SOURCE"):
        source = [p for p in os.environ["LITKG_SOURCE"].split(os.pathsep) if p]
    settings = deployments.Settings(pool=pool, home=home, sources=tuple(source or ()),
                                    timezone=timezone, cron=cron, extractor=extractor,
                                    vocabulary=vocabulary)
    try:
        built = deployments.build(settings)
    except Exception as exc:  # noqa: BLE001 - e.g. a malformed cron or timezone
        cli._fail(f"cannot build the deployments: {exc}")
    table = Table(title=f"litkg {__version__} deployments, work pool {pool}")
    for col in ("deployment", "entrypoint", "schedule", "parameters"):
        table.add_column(col, overflow="fold")
    for d in built:
        when = ", ".join(f"{s.schedule.cron} {s.schedule.timezone}" for s in d.schedules or [])
        table.add_row(f"{d.flow_name}/{d.name}", d.entrypoint, when or "-",
                      ", ".join(f"{k}={v}" for k, v in d.parameters.items()) or "-")
    cli.console.print(table)
    if dry_run:
        return
    if not deployments.api_url():
        cli._fail("PREFECT_API_URL is not set: start a server (`prefect server start`) and "
                  "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` first")
    try:
        if deployments.ensure_pool(pool):
            cli.console.print(f"created work pool {pool!r} (type process)")
        ids = deployments.apply(built)
    except Exception as exc:  # noqa: BLE001 - server unreachable, refused...
        cli._fail(f"cannot deploy to {deployments.api_url()}: {exc}")
    for name, ident in ids.items():
        cli.console.print(f"deployed {name} ({ident})")
    cli.console.print(
        f"\nStart a worker where litkg is installed: [bold]prefect worker start --pool {pool}"
        "[/]\nRun a backfill: [bold]prefect deployment run 'litkg-backfill/litkg-backfill' "
        "-p start=2024-03-01 -p end=2024-03-31[/]"
    )
