"""Scoring: pure functions over spans, triples, clusters and confidences (no I/O, no store).

Conventions (the report states them too):
- spans are character offsets [start, end) into one document text;
- strict argument match: identical spans; relaxed: same head token, or a token overlap of at
  least half the longer of the two spans (tokens: runs of word characters, or single other
  non-space characters; the head is the last word token before any preposition, comma or
  bracket that follows the first token);
- a predicted triple matches a gold relation when its arguments match the gold arguments and,
  typed, its (mapped) label equals the gold label; symmetric labels and untyped matching accept
  either argument order. Predictions and gold relations are paired one to one (maximum
  bipartite matching), so a duplicate prediction is a false positive.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from litkg.eval.corpus import GoldRelation

WORD = re.compile(r"\w+|[^\w\s]")
#: tokens that end a noun phrase's head part ("accuracy of the parser" -> "accuracy")
HEAD_STOPS = {"of", "for", "in", "on", "with", "by", "from", "to", "at", "as", "via", "using",
              "into", "over", "under", "between", "among", "against", "through", "that",
              "which", "where", "whose", "(", "[", ",", ";", ":"}
UNTYPED = "*"
UNMAPPED = "(unmapped)"


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


@dataclass(frozen=True)
class PRF:
    """Counts and the precision, recall and F1 they give (None where undefined)."""

    tp: int
    pred: int
    gold: int

    @property
    def precision(self) -> float | None:
        return ratio(self.tp, self.pred)

    @property
    def recall(self) -> float | None:
        return ratio(self.tp, self.gold)

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: PRF) -> PRF:
        return PRF(self.tp + other.tp, self.pred + other.pred, self.gold + other.gold)

    def as_dict(self) -> dict[str, Any]:
        return {"tp": self.tp, "pred": self.pred, "gold": self.gold,
                "precision": self.precision, "recall": self.recall, "f1": self.f1}


# -- spans ---------------------------------------------------------------------------------------
class SpanMatcher:
    """Token view of one document text, for strict and relaxed span matching."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = [(m.start(), m.end()) for m in WORD.finditer(text)]
        self._starts = [s for s, _ in self.tokens]
        self._ends = [e for _, e in self.tokens]

    def token_ids(self, start: int, end: int) -> tuple[int, ...]:
        """Indices of the tokens overlapping [start, end)."""
        lo = bisect.bisect_right(self._ends, start)
        hi = bisect.bisect_left(self._starts, end)
        return tuple(range(lo, hi))

    def head(self, start: int, end: int) -> int | None:
        ids = self.token_ids(start, end)
        if not ids:
            return None
        cut = list(ids)
        for k, i in enumerate(ids[1:], 1):
            s, e = self.tokens[i]
            if self.text[s:e].lower() in HEAD_STOPS:
                cut = list(ids[:k])
                break
        words = [i for i in cut if self.text[self.tokens[i][0]].isalnum()
                 or self.text[self.tokens[i][0]] == "_"]
        return (words or cut)[-1]

    def match(self, pred: tuple[int, int], gold: tuple[int, int], mode: str) -> bool:
        if mode == "strict":
            return tuple(pred) == tuple(gold)
        if mode != "relaxed":
            raise ValueError(f"unknown matching mode {mode!r}")
        tp, tg = self.token_ids(*pred), self.token_ids(*gold)
        if not tp or not tg:
            return False
        if self.head(*pred) == self.head(*gold):
            return True
        overlap = len(set(tp) & set(tg))
        return 2 * overlap >= max(len(tp), len(tg))


# -- triples -------------------------------------------------------------------------------------
#: A gold relation between argument identities: the corpus's own record, scored as it is.
Gold = GoldRelation


@dataclass(frozen=True)
class Candidate:
    """A predicted triple: the gold argument identities each argument matches, its label in the
    dataset's terms (None: the relation has no mapping), its confidence, and the key under which
    identical predictions collapse."""

    heads: frozenset[str]
    label: str | None
    tails: frozenset[str]
    confidence: float
    key: Hashable


def compatible(p: Candidate, g: Gold, typed: bool) -> bool:
    if typed and p.label != g.label:
        return False
    if g.head in p.heads and g.tail in p.tails:
        return True
    return (not typed or g.symmetric) and g.tail in p.heads and g.head in p.tails


def dedupe(cands: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per key, the most confident; first-seen order."""
    best: dict[Hashable, Candidate] = {}
    for c in cands:
        if c.key not in best or best[c.key].confidence < c.confidence:
            best[c.key] = c
    return list(best.values())


def max_matching(adj: Sequence[Sequence[int]], n_right: int) -> list[int | None]:
    """Maximum bipartite matching (Kuhn's augmenting paths): for each left node, its right
    node or None. Deterministic: tries left nodes and their neighbours in order."""
    owner: list[int | None] = [None] * n_right

    def augment(u: int, seen: set[int]) -> bool:
        for v in adj[u]:
            if v in seen:
                continue
            seen.add(v)
            if owner[v] is None or augment(owner[v], seen):  # type: ignore[arg-type]
                owner[v] = u
                return True
        return False

    for u in range(len(adj)):
        augment(u, set())
    out: list[int | None] = [None] * len(adj)
    for v, u in enumerate(owner):
        if u is not None:
            out[u] = v
    return out


@dataclass
class TripleScore:
    """Counts per label and which predictions were matched."""

    per_label: dict[str, PRF]
    matched: list[bool]  # per prediction (after dedupe), in order

    @property
    def micro(self) -> PRF:
        total = PRF(0, 0, 0)
        for v in self.per_label.values():
            total = total + v
        return total


def score_triples(preds: Sequence[Candidate], golds: Sequence[Gold], typed: bool) -> TripleScore:
    """Match predictions (already deduplicated) to gold relations one to one and count, per
    label, true positives, predictions and gold relations. Untyped: one label, UNTYPED."""
    adj = [[j for j, g in enumerate(golds) if compatible(p, g, typed)] for p in preds]
    pairing = max_matching(adj, len(golds))
    tp: Counter[str] = Counter()
    npred: Counter[str] = Counter()
    ngold: Counter[str] = Counter()
    for p, j in zip(preds, pairing, strict=True):
        label = (p.label or UNMAPPED) if typed else UNTYPED
        npred[label] += 1
        if j is not None:
            tp[golds[j].label if typed else UNTYPED] += 1
    for g in golds:
        ngold[g.label if typed else UNTYPED] += 1
    labels = sorted(set(npred) | set(ngold))
    return TripleScore({lab: PRF(tp[lab], npred[lab], ngold[lab]) for lab in labels},
                       [j is not None for j in pairing])


def merge_scores(scores: Iterable[TripleScore]) -> dict[str, PRF]:
    total: dict[str, PRF] = {}
    for s in scores:
        for lab, v in s.per_label.items():
            total[lab] = total.get(lab, PRF(0, 0, 0)) + v
    return total


# -- clusters ------------------------------------------------------------------------------------
def _contingency(items: Iterable[tuple[Hashable, Hashable]]) -> tuple[
    Counter[tuple[Hashable, Hashable]], Counter[Hashable], Counter[Hashable], int
]:
    cells: Counter[tuple[Hashable, Hashable]] = Counter()
    for pred, gold in items:
        cells[(pred, gold)] += 1
    psize: Counter[Hashable] = Counter()
    gsize: Counter[Hashable] = Counter()
    for (p, g), n in cells.items():
        psize[p] += n
        gsize[g] += n
    return cells, psize, gsize, sum(cells.values())


def pairwise(items: Iterable[tuple[Hashable, Hashable]]) -> PRF:
    """'Same entity' decisions over all pairs of items, each item (predicted cluster, gold
    cluster): tp = pairs together in both, pred = pairs predicted together, gold = pairs
    together in gold."""
    cells, psize, gsize, _ = _contingency(items)
    pairs = lambda n: n * (n - 1) // 2  # noqa: E731
    return PRF(sum(pairs(n) for n in cells.values()), sum(pairs(n) for n in psize.values()),
               sum(pairs(n) for n in gsize.values()))


def bcubed(items: Iterable[tuple[Hashable, Hashable]]) -> dict[str, float | None]:
    """B-cubed precision, recall and F1 (Bagga & Baldwin, 1998), averaged over items."""
    cells, psize, gsize, n = _contingency(items)
    if not n:
        return {"precision": None, "recall": None, "f1": None, "items": 0}
    p = sum(c * c / psize[pk] for (pk, _), c in cells.items()) / n
    r = sum(c * c / gsize[gk] for (_, gk), c in cells.items()) / n
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "items": n}


# -- calibration ---------------------------------------------------------------------------------
def reliability(conf: Sequence[float], correct: Sequence[bool], bins: int = 10
                ) -> list[dict[str, Any]]:
    """Equal-width confidence bins over [0, 1]: count, mean confidence, accuracy (empty bins
    left out). Confidence 1.0 falls in the last bin."""
    rows: dict[int, list[tuple[float, bool]]] = {}
    for c, ok in zip(conf, correct, strict=True):
        b = min(int(math.floor(c * bins)), bins - 1) if c > 0 else 0
        rows.setdefault(b, []).append((c, ok))
    out = []
    for b in sorted(rows):
        vals = rows[b]
        out.append({"lo": b / bins, "hi": (b + 1) / bins, "n": len(vals),
                    "confidence": sum(c for c, _ in vals) / len(vals),
                    "accuracy": sum(ok for _, ok in vals) / len(vals)})
    return out


def ece(conf: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float | None:
    """Expected calibration error: sum over bins of (bin share) x |accuracy - confidence|."""
    n = len(conf)
    if not n:
        return None
    return sum(r["n"] / n * abs(r["accuracy"] - r["confidence"])
               for r in reliability(conf, correct, bins))


# -- graph ---------------------------------------------------------------------------------------
SUPPORT_BUCKETS = ("1", "2", ">=3")


def support_bucket(support: int) -> str:
    return "1" if support <= 1 else "2" if support == 2 else ">=3"


def precision_by_support(edges: Iterable[tuple[int, bool]]) -> list[dict[str, Any]]:
    """Edges as (support, correct) -> one row per support bucket and one for all."""
    n: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    for support, correct in edges:
        for b in (support_bucket(support), "all"):
            n[b] += 1
            ok[b] += bool(correct)
    return [{"support": b, "edges": n[b], "correct": ok[b], "precision": ratio(ok[b], n[b])}
            for b in (*SUPPORT_BUCKETS, "all")]
