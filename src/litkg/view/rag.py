"""Retrieval for RAG prompts with attribution: `Graph.context` rows as Markdown (to paste into
a prompt) or as JSON-ready dicts (for a program). `litkg context` and `/api/context` share it."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from litkg.view.changelog import claim


def as_dicts(rows: pl.DataFrame) -> list[dict[str, Any]]:
    """Each claim as a dict (dates as ISO strings)."""
    return json.loads(json.dumps(rows.to_dicts(), default=str))


def document(entity: dict[str, Any], as_of: Any, rows: pl.DataFrame) -> dict[str, Any]:
    """What `litkg context --format json` prints and `/api/context` returns: the entity the
    text resolved to (and how), the day, the claims and the same as Markdown."""
    return {"entity": json.loads(json.dumps(entity, default=str)), "as_of": str(as_of),
            "claims": as_dicts(rows), "markdown": as_markdown(rows, title(entity), as_of)}


def title(entity: dict[str, Any]) -> str:
    """An entity's name, with its canonical form when that says more (KD: knowledge
    distillation)."""
    name, canonical = entity["name"], entity.get("canonical") or ""
    return name if canonical.lower() == name.lower() else f"{name} ({canonical})"


def as_markdown(rows: pl.DataFrame, entity: str | None = None, as_of: Any = None) -> str:
    """The claims as a Markdown list, each with its status, what beats it or what it beats, and
    its evidence sentences with document ids."""
    lines = []
    if entity is not None:
        lines += [f"What the literature says about {entity}"
                  + (f" (as of {as_of})" if as_of else "") + ":", ""]
    for c in rows.iter_rows(named=True):
        status = c["status"]
        if c["beaten_by"]:
            status += f"; contested by: {c['beaten_by']}"
        if c["beats"]:
            status += f"; beats: {', '.join(c['beats'])}"
        lines.append(f"- {claim(c['subject'], c['relation'], c['object'], c['context'])}: "
                     f"confidence {c['confidence']:.2f}, support {c['support']}, {status}")
        for ev in c["evidence"]:
            lines.append(f"    - \"{ev['sentence']}\" [{ev['doc_id']}, {ev['day']}]")
    return "\n".join(lines)
