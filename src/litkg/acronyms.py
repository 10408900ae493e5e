"""Abbreviation definitions, "long form (SF)", found with the Schwartz & Hearst (2003) rules.

Pure functions over text; the constructor uses the definitions to resolve acronyms to the
entity of their long form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PAREN = re.compile(r"\(([^()]{1,12})\)")
_WORD = re.compile(r"[\w][\w\-']*")


@dataclass(frozen=True)
class Abbreviation:
    short: str
    long: str
    start: int  # char offset of the long form


def _is_short_form(text: str) -> bool:
    words = text.split()
    if not 1 <= len(words) <= 2 or not 2 <= len(text) <= 10:
        return False
    return any(c.isalpha() for c in text) and text[0].isalnum() and any(c.isupper() for c in text)


def _best_long_form(short: str, candidate: str) -> int | None:
    """Start index in `candidate` of the shortest long form matching `short` (S&H algorithm)."""
    s = short.lower()
    lf = candidate.lower()
    s_idx = len(s) - 1
    l_idx = len(lf) - 1
    while s_idx >= 0:
        c = s[s_idx]
        if not c.isalnum():
            s_idx -= 1
            continue
        while l_idx >= 0 and (
            lf[l_idx] != c or (s_idx == 0 and l_idx > 0 and lf[l_idx - 1].isalnum())
        ):
            l_idx -= 1
        if l_idx < 0:
            return None
        l_idx -= 1
        s_idx -= 1
    start = lf.rfind(" ", 0, l_idx + 1) + 1
    return start


def find_abbreviations(text: str) -> list[Abbreviation]:
    """Every "long form (SF)" definition in `text`, in order of appearance."""
    out: list[Abbreviation] = []
    for m in _PAREN.finditer(text):
        short = m.group(1).strip()
        if not _is_short_form(short):
            continue
        # Candidate long form: at most min(|SF| + 5, 2|SF|) words before the parenthesis,
        # within the same clause.
        before = text[: m.start()].rstrip()
        clause_start = max(before.rfind(". "), before.rfind("; "), before.rfind(", "), -1) + 1
        words = list(_WORD.finditer(before, clause_start))
        n = min(len(short.replace("-", "")) + 5, 2 * len(short.replace("-", "")))
        if not words:
            continue
        window = words[-n:]
        cand_start = window[0].start()
        candidate = before[cand_start:]
        rel = _best_long_form(short, candidate)
        if rel is None:
            continue
        long = candidate[rel:].strip()
        if len(long) <= len(short) or long.lower() == short.lower():
            continue
        out.append(Abbreviation(short=short, long=long, start=cand_start + rel))
    return out
