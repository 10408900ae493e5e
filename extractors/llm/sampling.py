"""Confidence by sampling agreement, and when to stop sampling: pure functions.

MedKGent draws 50 samples at temperature 0.7; a triple's confidence is the share of valid
samples that contain it, capped at 0.95, and it is kept if the share exceeds 0.6. Here the
samples come in rounds: `k0` first (one request, `n = k0`), then `k_step` more at a time, up to
`k_max`, but only while some triple's share is too close to the threshold to call
(|share - threshold| < z * sqrt(threshold * (1 - threshold) / n)). `simulate()` measures what
stopping early costs against the full 50-sample scheme (synthetic; bench/llm_agreement.py measures
policies on real model samples against an independent 50-sample stream).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

#: (subject, relation, object, ((qualifier, text), ...)), all normalised.
TripleKey = tuple[str, str, str, tuple[tuple[str, str], ...]]

_NON_WORD = re.compile(r"[^\w%+.]+")
_DETERMINER = re.compile(r"^(?:the|a|an|our|their|its)\s+")


def normalise_text(text: str) -> str:
    """Case-folded, punctuation-insensitive form of an entity or context text."""
    out = _NON_WORD.sub(" ", text.casefold()).strip(" .")
    out = " ".join(out.split())
    return _DETERMINER.sub("", out)


@dataclass(frozen=True)
class RelationRule:
    """How to orient a relation for identity: inverse -> primary with swapped arguments."""

    canonical: str
    swap: bool = False
    symmetric: bool = False


def triple_key(
    subject: str,
    relation: str,
    obj: str,
    context: Iterable[tuple[str, str]],
    rules: Mapping[str, RelationRule] | None = None,
) -> tuple[TripleKey, bool]:
    """Identity of a triple across samples, and whether its arguments were swapped for it.

    Texts are normalised; an inverse relation is rewritten to its primary (underperforms(a, b)
    is outperforms(b, a)); a symmetric relation's arguments are sorted; context is a sorted set.
    """
    rule = (rules or {}).get(relation, RelationRule(relation))
    s, o = normalise_text(subject), normalise_text(obj)
    swapped = rule.swap
    if swapped:
        s, o = o, s
    if rule.symmetric and o < s:
        s, o = o, s
        swapped = not swapped
    ctx = tuple(sorted({(q, normalise_text(t)) for q, t in context}))
    return (s, rule.canonical, o, ctx), swapped


@dataclass(frozen=True)
class SamplingPolicy:
    """When to draw more samples, and how to turn agreement into confidence and a decision."""

    k0: int = 4
    k_step: int = 2
    k_max: int = 10
    threshold: float = 0.6
    cap: float = 0.95
    z: float = 1.0

    @classmethod
    def full(cls, k: int = 50, threshold: float = 0.6, cap: float = 0.95) -> SamplingPolicy:
        """The MedKGent scheme: all k samples at once, no early stop."""
        return cls(k0=k, k_step=k, k_max=k, threshold=threshold, cap=cap)

    def confidence(self, count: int, n_valid: int) -> float:
        """Share of valid samples containing the triple, capped."""
        return min(count / n_valid, self.cap) if n_valid else 0.0

    def keep(self, count: int, n_valid: int) -> bool:
        """Kept when the share of valid samples exceeds the threshold."""
        return n_valid > 0 and count / n_valid > self.threshold

    def decided(self, count: int, n_valid: int) -> bool:
        """Whether the share is far enough from the threshold to stop sampling for it."""
        if n_valid <= 0:
            return False
        if n_valid >= self.k_max:
            return True
        margin = self.z * math.sqrt(self.threshold * (1 - self.threshold) / n_valid)
        return abs(count / n_valid - self.threshold) >= margin

    def next_draw(self, counts: Mapping[K, int], n_valid: int, n_drawn: int) -> int:
        """How many more samples to request (0: stop).

        Below k0 drawn (e.g. a server that returned fewer choices than asked), top up to k0;
        then draw k_step more while any triple is undecided, never beyond k_max drawn.
        """
        room = self.k_max - n_drawn
        if room <= 0:
            return 0
        if n_drawn < self.k0:
            return self.k0 - n_drawn
        if n_valid == 0:
            return 0
        if all(self.decided(c, n_valid) for c in counts.values()):
            return 0
        return min(self.k_step, room)


def agreement(samples: Sequence[Collection[K] | None]) -> tuple[Counter[K], int]:
    """Per-key count of valid samples containing it (once per sample), and the valid count.

    A sample is a collection of keys; None marks an invalid (unparseable) sample.
    """
    counts: Counter[K] = Counter()
    n_valid = 0
    for sample in samples:
        if sample is None:
            continue
        n_valid += 1
        counts.update(set(sample))
    return counts, n_valid


def resolve_directions(
    scores: Mapping[TripleKey, float], order: Mapping[TripleKey, int] | None = None
) -> tuple[list[TripleKey], list[TripleKey]]:
    """Keep the higher-scoring direction when both (a, r, b) and (b, r, a) survive.

    Ties go to the key first seen (`order`, lower first), then the lexicographically smaller.
    Returns (kept, dropped), each in input order.
    """
    order = order or {}
    dropped: set[TripleKey] = set()
    for key, score in scores.items():
        s, r, o, ctx = key
        rev = (o, r, s, ctx)
        if s == o or rev not in scores:
            continue
        mine = (-score, order.get(key, 0), key)
        theirs = (-scores[rev], order.get(rev, 0), rev)
        dropped.add(key if theirs < mine else rev)
    kept = [k for k in scores if k not in dropped]
    return kept, [k for k in scores if k in dropped]


# --- simulation: the cheap scheme against the full k = 50 scheme -------------------------


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError("need two sequences of equal length >= 2")
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx and vy else 1.0


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def draw_inclusion_probabilities(rng: random.Random, ambiguous: float = 0.2) -> list[float]:
    """A document's candidate triples and how often a sample contains each.

    A mixture as seen in sampled LLM extraction: genuinely ambiguous triples (uniform p, share
    `ambiguous`), the rest split 45:35 into stable ones (Beta(10, 1.2)) and one-off noise
    (Beta(1, 6)); 3 to 12 candidates per document.
    """
    stable = (1 - ambiguous) * 45 / 80
    out = []
    for _ in range(rng.randint(3, 12)):
        u = rng.random()
        if u < ambiguous:
            out.append(rng.random())
        elif u < ambiguous + stable:
            out.append(rng.betavariate(10, 1.2))
        else:
            out.append(rng.betavariate(1, 6))
    return out


def run_policy(stream: Sequence[Collection[int]], policy: SamplingPolicy) -> tuple[Counter, int]:
    """Consume a sample stream the way the extractor does; (counts, samples used)."""
    used = 0
    counts: Counter[int] = Counter()
    n = policy.k0
    while n > 0:
        used += n
        counts, n_valid = agreement(stream[:used])
        n = policy.next_draw(counts, n_valid, used)
    return counts, used


@dataclass
class SimulationReport:
    """Cheap scheme vs the full scheme on the same sample streams."""

    docs: int
    triples: int
    spearman: float
    decision_agreement: float
    precision: float
    recall: float
    mean_samples: float
    full_samples: int
    samples_saved: float
    rounds_histogram: dict[int, int]
    # baselines: a second, independent full run; and the full run vs the true p > threshold
    full_vs_full_spearman: float
    full_vs_full_agreement: float
    full_vs_truth_agreement: float
    cheap_vs_truth_agreement: float
    #: the cheap scheme vs a full run on an independent stream (not the stream it consumed)
    cheap_vs_independent_full_agreement: float = 0.0

    def lines(self) -> list[str]:
        """Human-readable summary."""
        return [
            f"documents {self.docs}, candidate triples {self.triples}",
            f"spearman(cheap, full) = {self.spearman:.3f}   "
            f"(full vs an independent full run: {self.full_vs_full_spearman:.3f})",
            f"keep/drop agreement = {self.decision_agreement:.3%}   "
            f"(full vs independent full: {self.full_vs_full_agreement:.3%})",
            f"keep/drop agreement vs an independent full run = "
            f"{self.cheap_vs_independent_full_agreement:.3%}",
            f"cheap kept: precision {self.precision:.3%}, recall {self.recall:.3%} vs full",
            f"vs truth (p > threshold): cheap {self.cheap_vs_truth_agreement:.3%}, "
            f"full {self.full_vs_truth_agreement:.3%}",
            f"samples per doc: cheap {self.mean_samples:.1f} vs {self.full_samples} "
            f"-> {self.samples_saved:.1%} saved",
            f"documents by rounds: {dict(sorted(self.rounds_histogram.items()))}",
        ]


def simulate(
    policy: SamplingPolicy, docs: int = 2000, seed: int = 0, ambiguous: float = 0.2,
    reference: int | None = None,
) -> SimulationReport:
    """Sample streams with known per-triple inclusion probabilities; cheap vs full.

    Each document gets a stream of max(k_max, reference) samples (a sample contains triple i
    with probability p_i). The full scheme uses `reference` of them (default k_max); the cheap
    one the prefix its policy asks for. An independent second full run gives the noise floor,
    and the cheap scheme is also compared with it (`cheap_vs_independent_full_agreement`).
    """
    rng = random.Random(seed)
    full = SamplingPolicy.full(reference or policy.k_max, policy.threshold, policy.cap)
    length = max(full.k_max, policy.k_max)
    conf_cheap: list[float] = []
    conf_full: list[float] = []
    conf_full2: list[float] = []
    keep_cheap: list[bool] = []
    keep_full: list[bool] = []
    keep_full2: list[bool] = []
    truth: list[bool] = []
    used_total = 0
    rounds: Counter[int] = Counter()
    for _ in range(docs):
        probs = draw_inclusion_probabilities(rng, ambiguous)

        def stream(probs: list[float] = probs) -> list[set[int]]:
            return [
                {i for i, p in enumerate(probs) if rng.random() < p} for _ in range(length)
            ]

        s1, s2 = stream(), stream()
        c_cheap, used = run_policy(s1, policy)
        c_full, _ = agreement(s1[:full.k_max])
        c_full2, _ = agreement(s2[:full.k_max])
        used_total += used
        rounds[1 + max(0, math.ceil((used - policy.k0) / policy.k_step))] += 1
        for i, p in enumerate(probs):
            if not (c_full[i] or c_cheap[i] or c_full2[i]):
                continue  # never sampled: invisible to every scheme
            conf_cheap.append(policy.confidence(c_cheap[i], used))
            conf_full.append(full.confidence(c_full[i], full.k_max))
            conf_full2.append(full.confidence(c_full2[i], full.k_max))
            keep_cheap.append(policy.keep(c_cheap[i], used))
            keep_full.append(full.keep(c_full[i], full.k_max))
            keep_full2.append(full.keep(c_full2[i], full.k_max))
            truth.append(p > policy.threshold)

    def share(a: list[bool], b: list[bool]) -> float:
        return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)

    both = sum(a and b for a, b in zip(keep_cheap, keep_full, strict=True))
    return SimulationReport(
        docs=docs,
        triples=len(conf_full),
        spearman=spearman(conf_cheap, conf_full),
        decision_agreement=share(keep_cheap, keep_full),
        precision=both / max(1, sum(keep_cheap)),
        recall=both / max(1, sum(keep_full)),
        mean_samples=used_total / docs,
        full_samples=full.k_max,
        samples_saved=1 - used_total / (docs * full.k_max),
        rounds_histogram=dict(rounds),
        full_vs_full_spearman=spearman(conf_full2, conf_full),
        full_vs_full_agreement=share(keep_full2, keep_full),
        full_vs_truth_agreement=share(keep_full, truth),
        cheap_vs_truth_agreement=share(keep_cheap, truth),
        cheap_vs_independent_full_agreement=share(keep_cheap, keep_full2),
    )
