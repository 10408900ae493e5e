"""Render an evaluation result: rich tables, Markdown, a reliability diagram (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

NAMES = {"scierc": "SciERC", "biored": "BioRED"}


def _f(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def title(result: dict[str, Any]) -> str:
    ex = result["extractor"]
    return (f"{NAMES.get(result['dataset'], result['dataset'])} {result['split']}: "
            f"extractor {ex['name']} {ex['version']}, vocabulary {result['vocabulary']}")


def tables(result: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report as (caption, header, rows) tables, shared by the terminal and Markdown."""
    out: list[tuple[str, list[str], list[list[str]]]] = []
    rel = result["relations"]
    rows = []
    for mode in ("strict", "relaxed"):
        micro = rel[mode]["typed"]["micro"]
        for kind, prf in (("typed", micro), ("untyped", rel[mode]["untyped"])):
            rows.append([mode, kind, _f(prf["precision"]), _f(prf["recall"]), _f(prf["f1"]),
                         str(prf["tp"]), str(prf["pred"]), str(prf["gold"])])
    out.append(("Relation triples (micro)",
                ["matching", "labels", "P", "R", "F1", "tp", "pred", "gold"], rows))
    labels = list(rel["relaxed"]["typed"]["per_label"])
    rows = []
    for lab in labels:
        s = rel["strict"]["typed"]["per_label"].get(lab)
        r = rel["relaxed"]["typed"]["per_label"][lab]
        rows.append([lab, _f(s and s["precision"]), _f(s and s["recall"]), _f(s and s["f1"]),
                     _f(r["precision"]), _f(r["recall"]), _f(r["f1"]), str(r["pred"]),
                     str(r["gold"])])
    out.append(("Relation triples per type (strict | relaxed)",
                ["type", "P strict", "R strict", "F1 strict", "P relaxed", "R relaxed",
                 "F1 relaxed", "pred", "gold"], rows))
    m = result["mentions"]
    rows = []
    for mode in ("strict", "relaxed"):
        found, matching = m[f"gold_found_{mode}"], m[f"predicted_matching_{mode}"]
        rows.append([mode, _f(found / m["gold"] if m["gold"] else None), f"{found}/{m['gold']}",
                     _f(matching / m["predicted"] if m["predicted"] else None),
                     f"{matching}/{m['predicted']}"])
    out.append(("Entity mentions (arguments and contexts of the extracted triples)",
                ["matching", "recall", "gold found", "share of extracted on a gold mention",
                 "extracted"], rows))
    rows = []
    names = {"resolver_on_gold_mentions": "litkg keys on gold mentions",
             "end_to_end": "extracted mentions (end to end)"}
    for what, scopes in result["resolution"].items():
        for scope, r in scopes.items():
            pw, b3 = r["pairwise"], r["bcubed"]
            rows.append([names.get(what, what), scope.replace("_", " "), str(r["items"]),
                         _f(pw["precision"]), _f(pw["recall"]), _f(pw["f1"]),
                         _f(b3["precision"]), _f(b3["recall"]), _f(b3["f1"])])
    gold_kind = ("concept ids" if result["corpus"]["document_level"]
                 else "coreference clusters")
    out.append((f"Entity resolution vs gold {gold_kind} (canonical key + acronym rules)",
                ["mentions", "scope", "items", "pairwise P", "pairwise R", "pairwise F1",
                 "B³ P", "B³ R", "B³ F1"], rows))
    cal = result["calibration"]
    rows = [[what, str(c["n"]), _f(c["ece"])] for what, c in cal.items()]
    out.append(("Calibration of confidence (correct = relaxed typed match; 10 equal bins)",
                ["level", "n", "ECE"], rows))
    rows = [[what, f"{b['lo']:.1f}–{b['hi']:.1f}", str(b["n"]), _f(b["confidence"]),
             _f(b["accuracy"])] for what, c in cal.items() for b in c["bins"]]
    out.append(("Reliability bins", ["level", "bin", "n", "mean confidence", "accuracy"], rows))
    g = result["graph"]
    rows = [[b["support"], str(b["edges"]), str(b["correct"]), _f(b["precision"])]
            for b in g["by_support"]]
    out.append((f"Edges by support on {g['as_of']} (correct: one of its assertions matches "
                "a gold relation, relaxed typed)",
                ["support (documents)", "edges", "correct", "precision"], rows))
    return out


def notes(result: dict[str, Any]) -> list[str]:
    c = result["corpus"]
    lines = [
        f"{c['documents']} documents, {c['mentions']} gold mentions, {c['relations']} gold "
        f"relations; {result['run']['assertions']} assertions extracted over {c['days']} day(s) "
        f"({c['first_day']} … {c['last_day']}; {c['dating']}).",
        "Mapping to the dataset's labels (schema/vocab_*.yaml): " + ", ".join(
            f"{k}→{v}" for k, v in result["mapping"].items() if v) + ".",
    ]
    if result["unmapped_predictions"]:
        lines.append("Predictions without a mapping (false positives when typed): " + ", ".join(
            f"{k} ({v})" for k, v in sorted(result["unmapped_predictions"].items())) + ".")
    if c["document_level"]:
        lines.append("Relations are document-level between concepts: a prediction counts once "
                     "per concept pair and document; its arguments are matched to the "
                     "concepts of the gold mentions they match.")
    return lines


def render_rich(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    console.print(f"[bold]{title(result)}[/]")
    for line in [*notes(result), f"pipeline {result['run']['pipeline_s']} s"]:
        console.print(line, style="dim")
    for caption, header, rows in tables(result):
        if caption == "Reliability bins":
            continue
        t = Table(title=caption, title_justify="left")
        for i, h in enumerate(header):
            t.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            t.add_row(*r)
        console.print(t)
    if result.get("diagram"):
        console.print(f"reliability diagram: {result['diagram']}", style="dim")


def markdown(result: dict[str, Any], diagram: str | None = None) -> str:
    lines = [f"## {title(result)}", ""]
    lines += [f"- {n}" for n in notes(result)] + [""]
    for caption, header, rows in tables(result):
        lines += [f"**{caption}**", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    if diagram:
        lines += [f"![reliability diagram, {result['dataset']}]({diagram})", ""]
    return "\n".join(lines)


HEADER = """# litkg quality report

Generated by `make quality` (`litkg eval`) on the dev splits of SciERC and BioRED; do not edit by
hand. Strict matching: exact argument character spans and type. Relaxed: an argument matches on
the same head token or a token overlap of at least half the longer span, and the relation is
mapped to the dataset's labels through the vocabulary (`scierc:` / `biored:` keys in
`schema/vocab_*.yaml`). Untyped: the argument pair only, in either order. Predictions and gold
relations are paired one to one. Entity resolution compares litkg's "same entity" decisions
(canonical key + acronym rules) with the gold coreference clusters / concept ids: pairwise over
all pairs of mentions, and B-cubed per mention.

Extractors: `spacy` (rules), `student` (trained; its decision threshold and calibration were fitted
on these same dev splits) and `student+rules`. Retrain the students with `make model` (or
`litkg train scierc|biored TRAIN --dev DEV`, `litkg train store --home H` to distil the LLM; see
docs/student.md), then `make quality`.

"""


def reliability_png(result: dict[str, Any], path: str | Path) -> bool:
    """Draw the reliability diagram; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for what, style in (("assertions", "o-"), ("edges", "s-")):
        cal = result["calibration"][what]
        bins = cal["bins"]
        if not bins:
            continue
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], style,
                label=f"{what} (ECE {_f(cal['ece'])}, n={cal['n']})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (bin mean)")
    ax.set_ylabel("share correct (relaxed typed)")
    ax.set_title(f"{NAMES.get(result['dataset'], result['dataset'])} {result['split']}: "
                 "reliability", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return True


SUMMARY_HEADER = (
    "# litkg quality summary\n\n"
    "Written by `make quality` (`litkg eval ... --summary`), one row per corpus and extractor: "
    "`spacy` = rules, `student` = the trained student (data/models, `make model`), "
    "`student+rules` = the student plus the rules' hits for relations it has no label for. "
    "Dev splits; the student's decision threshold and calibration were fitted on the same dev "
    "split. Relaxed typed matching for ECE and edge precision.\n\n"
    "| corpus | extractor | strict P | strict R | strict F1 | relaxed P | relaxed R | relaxed F1 "
    "| ECE | edge precision, support 1 | support >=2 | pipeline s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def summary_row(result: dict[str, Any]) -> str:
    """One Markdown row: the headline figures of an evaluation."""
    rel = result["relations"]
    s, r = rel["strict"]["typed"]["micro"], rel["relaxed"]["typed"]["micro"]
    support = {b["support"]: b for b in result["graph"]["by_support"]}
    multi = [support[k] for k in ("2", ">=3") if k in support]
    n, ok = sum(b["edges"] for b in multi), sum(b["correct"] for b in multi)
    one = support.get("1", {})
    name = result["extractor"]["name"]
    if result["extractor"].get("model"):  # which student: its model directory's name
        name += f" ({Path(result['extractor']['model']).name})"
    corpus = f"{NAMES.get(result['dataset'], result['dataset'])} {result['split']}"
    cells = [corpus, name, _f(s["precision"]), _f(s["recall"]), _f(s["f1"]),
             _f(r["precision"]), _f(r["recall"]), _f(r["f1"]),
             _f(result["calibration"]["assertions"]["ece"]),
             _f(one.get("precision")) + f" ({one.get('edges', 0)})",
             _f(ok / n if n else None) + f" ({n})", str(result["run"]["pipeline_s"])]
    return "| " + " | ".join(cells) + " |\n"


def append_summary(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = "" if path.exists() else SUMMARY_HEADER
    with path.open("a", encoding="utf-8") as fh:
        fh.write(head + summary_row(result))
