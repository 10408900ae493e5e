"""A readable change log: what changed between two days, one sentence per change (the KGCL idea
of a human-readable diff), e.g.

    2024-03-21: 'graphformer outperforms gatedgcn (dataset=cora)' is now contested by
    'gatedgcn outperforms graphformer (dataset=cora)', 0.96 vs 0.99 [arxiv:2403.12345]

`sentence()` is pure (one row of `litkg/sql/view/changelog.sql` in, text out); `changelog()`
runs the query.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litkg.graph import Graph
from litkg.view import queries


def claim(subject: str, relation: str, obj: str, context: str | None = None) -> str:
    """A claim as text: 'subject relation object (context)'."""
    return f"{subject} {relation} {obj}" + (f" ({context})" if context else "")


def _num(x: float | None) -> str:
    """A confidence: two decimals, four near 1 (where noisy-OR saturates)."""
    if x is None:
        return "?"
    return f"{x:.4f}" if x > 0.99 else f"{x:.2f}"


def _pair(a: float | None, b: float | None) -> tuple[str, str]:
    """Two confidences in one format: four decimals if either is near 1, else two."""
    digits = 4 if max(a or 0, b or 0) > 0.99 else 2
    return tuple("?" if x is None else f"{x:.{digits}f}" for x in (a, b))  # type: ignore


def _papers(n: int | None) -> str:
    return f"{n} paper" + ("" if n == 1 else "s")


def sentence(row: dict[str, Any]) -> str:
    """One change as a sentence (a row of changelog.sql)."""
    what = f"'{claim(row['subject'], row['relation'], row['object'], row['context'])}'"
    change = row["change"]
    if change == "added":
        text = (f"new claim {what}, {_papers(row['support'])}, "
                f"confidence {_num(row['confidence'])}")
    elif change == "contested":
        winner = claim(row["winner_subject"] or "?", row["winner_relation"] or "?",
                       row["winner_object"] or "?", row["winner_context"])
        new = "" if row.get("prev_support") is not None else "new and "
        text = (f"{what} is {new}now contested by '{winner}', "
                f"{row['confidence']:.2f} vs {row['winner_confidence'] or 0:.2f}")
    elif change in ("reinforced", "weakened"):
        before, after = _pair(row["prev_confidence"], row["confidence"])
        text = (f"{what} is {change}: {_papers(row['prev_support'])} → {row['support']}, "
                f"confidence {before} → {after}")
    elif change == "resolved":
        text = (f"{what} is no longer contested (confidence {_num(row['confidence'])}, "
                f"{_papers(row['support'])})")
    elif change == "retracted":
        text = f"{what} is retracted: none of its evidence counts any more"
    elif change == "restored":
        text = f"{what} is back: its evidence counts again ({_papers(row['support'])})"
    else:
        text = f"{what}: {change}"
    docs = row.get("evidence_docs") or []
    cites = f" [{', '.join(docs)}]" if docs else ""
    return f"{row['day']}: {text}{cites}"


def changelog(graph: Graph, start: date, end: date) -> list[dict[str, Any]]:
    """The changes in (start, end], oldest first, each row with its `sentence`."""
    rows = queries.run(graph, "changelog", {"d1": start, "d2": end}).to_dicts()
    for row in rows:
        row["sentence"] = sentence(row)
    return rows
