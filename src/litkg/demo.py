"""The demo: the bundled sample corpus, the days it covers, and the questions it answers.

The corpus (data/sample/ in the repository) ships inside the wheel as `litkg/sample/`, so
`litkg demo` works from an installed package, anywhere; `make demo` calls the same command.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

BACKFILL_START, BACKFILL_END = date(2024, 3, 1), date(2024, 3, 31)
NIGHTLY = date(2024, 4, 1)  # the batch after the backfill, processed as one nightly run
GOLD_END = "2024-03-31"  # the day gold.yaml's final state refers to

#: (heading, SQL) shown after the store is built.
QUERIES: tuple[tuple[str, str], ...] = (
    (
        "strongest claims on 2024-03-15",
        "select subject, relation, object, context, round(confidence, 3) as confidence, "
        "support, status from edges_as_of(DATE '2024-03-15') "
        "order by support desc, confidence desc limit 10",
    ),
    (
        "conflicts on 2024-03-31, each within its context",
        "select context, contested_subject || ' ' || contested_relation || ' ' || "
        "contested_object as contested, winning_subject || ' ' || winning_relation || ' ' || "
        "winning_object as winner, contested_support, winning_support "
        "from conflicts_as_of(DATE '2024-03-31')",
    ),
    (
        "conflicts judged within contexts vs what a context-blind graph would report",
        "select (select count(*) from conflicts_as_of(DATE '2024-03-31')) as within_contexts, "
        "(select count(*) from conflicts_ignoring_context_as_of(DATE '2024-03-31')) "
        "as ignoring_contexts",
    ),
    (
        "what changed in the last week of March",
        "select change, count(*) as edges from changes(DATE '2024-03-24', DATE '2024-03-31') "
        "group by change order by edges desc",
    ),
)


def sample_dir() -> Path:
    """The sample corpus: package data of an installed litkg, else the checkout's data/sample
    (an editable install maps packages only, so the data stays where the repository has it)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "sample", here.parents[1] / "data" / "sample"):
        if (candidate / "gold.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"the sample corpus is missing from this installation (looked in {here / 'sample'})"
    )


def gold_file() -> Path:
    """Planted facts of the sample corpus (`litkg check-gold`)."""
    return sample_dir() / "gold.yaml"
