"""Relation candidates and their sparse features (tokens, types, positions; part-of-speech tags
and dependency paths when the candidate pipeline gives them).

Sentence level (SciERC): every pair of entity mentions in one sentence, ordered by position;
the class names the label and its direction (`used-for>`: first is the head, `used-for<`: second
is the head, `conjunction=`: symmetric). Document level (BioRED): every pair of entities (mentions
grouped by identity) in the abstract; the class is an undirected label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NONE = "NONE"


@dataclass(frozen=True)
class Occ:
    """An entity mention as token offsets [start, end) into a doc, its type and sentence."""

    start: int
    end: int
    type: str
    sent: int
    #: identity relations refer to (gold mention or concept id; a position when predicted)
    key: str = ""
    #: where the span comes from: "ner" (or a gold mention), "np" (a noun phrase, see `spans`)
    src: str = "ner"


@dataclass(frozen=True)
class Candidate:
    """A pair to classify: the two mentions that stand for it (a first, b second)."""

    a: Occ
    b: Occ
    key_a: str
    key_b: str
    features: tuple[str, ...]


def _bucket(n: int) -> str:
    for limit in (0, 1, 2, 4, 7, 12, 20):
        if n <= limit:
            return str(limit)
    return "20+"


def _surface(words: Sequence[str], o: Occ) -> str:
    return " ".join(words[o.start:o.end])


def _head(words: Sequence[str], o: Occ) -> str:
    return words[o.end - 1]


def _between(words: Sequence[str], a: Occ, b: Occ, prefix: str, out: list[str]) -> None:
    """Bag, first, last and bigrams of the words between two mentions."""
    lo, hi = min(a.end, b.end), max(a.start, b.start)
    between = words[lo:hi] if lo < hi else []
    out.append(f"{prefix}d:{_bucket(len(between))}")
    if not between:
        out.append(f"{prefix}bw:<none>")
        return
    out.append(f"{prefix}bf:{between[0]}")
    out.append(f"{prefix}bl:{between[-1]}")
    if len(between) <= 4:
        out.append(f"{prefix}bs:{' '.join(between)}")
    out.extend(f"{prefix}bw:{w}" for w in set(between))
    out.extend(f"{prefix}bb:{x}_{y}" for x, y in zip(between, between[1:], strict=False))


def _tag_features(tags: Sequence[str], a: Occ, b: Occ, out: list[str]) -> None:
    """Part-of-speech view of a pair: the tag sequence between them (runs collapsed, when
    short), the tags just outside them and whether a verb or preposition lies between."""
    lo, hi = min(a.end, b.end), max(a.start, b.start)
    seq: list[str] = []
    for t in tags[lo:hi] if lo < hi else []:
        if not seq or seq[-1] != t:
            seq.append(t)
    if len(seq) <= 6:
        out.append(f"bp:{' '.join(seq)}")
        out.append(f"tbp:{a.type}|{b.type}|{' '.join(seq)}")
    out.append(f"pta:{tags[a.start - 1] if a.start else '<s>'}")
    out.append(f"ntb:{tags[b.end] if b.end < len(tags) else '</s>'}")
    out.append(f"hta:{tags[a.end - 1]}|{tags[b.end - 1]}")
    if any(t.startswith("VB") for t in seq):
        out.append("verb-between")


def _span_head(heads: Sequence[int], o: Occ) -> int:
    """The syntactic head of a mention: its last token attached outside it (or a root)."""
    for i in range(o.end - 1, o.start - 1, -1):
        h = heads[i]
        if h == i or not o.start <= h < o.end:
            return i
    return o.end - 1


def _ancestors(heads: Sequence[int], i: int) -> list[int]:
    out = [i]
    while len(out) < 64:
        h = heads[out[-1]]
        if h < 0 or h == out[-1]:
            break
        out.append(h)
    return out


def _dep_features(words: Sequence[str], deps: tuple[Sequence[int], Sequence[str]],
                  a: Occ, b: Occ, out: list[str]) -> None:
    """The shortest dependency path between the mentions' heads: its labels (up from the first
    to the lowest common ancestor, down to the second), alone, with the types and with the
    ancestor's word; when short, with the words it passes through; the words on it; and each
    head's own attachment (label and governing word)."""
    heads, labels = deps
    ha, hb = _span_head(heads, a), _span_head(heads, b)
    for tag, h in (("ga", ha), ("gb", hb)):
        g = heads[h]
        out.append(f"{tag}:{labels[h]}|{words[g] if g >= 0 else '-'}")
        out.append(f"{tag}l:{labels[h]}")
    up, down = _ancestors(heads, ha), _ancestors(heads, hb)
    on_down = {n: k for k, n in enumerate(down)}
    lca = next((k for k, n in enumerate(up) if n in on_down), None)
    if lca is None:
        out.append("dp:<none>")
        return
    root = up[lca]
    rising, falling = up[:lca], down[:on_down[root]][::-1]
    path = "/".join(labels[n] for n in rising) + "^" + "/".join(labels[n] for n in falling)
    length = len(rising) + len(falling)
    out.append(f"dlen:{_bucket(length)}")
    if length <= 6:
        out.append(f"dp:{path}")
        out.append(f"tdp:{a.type}|{b.type}|{path}")
        out.append(f"dpw:{path}|{words[root]}")
    if length <= 4:  # "nsubjpass>used^used<prep/for<pobj"
        out.append("dpx:" + "/".join(f"{labels[n]}>{words[heads[n]]}" for n in rising) + "^"
                   + "/".join(f"{words[heads[n]]}<{labels[n]}" for n in falling))
    out.append(f"lca:{words[root]}")
    inner = set(up[1:lca + 1]) | set(down[1:on_down[root]])
    out.extend(f"dw:{words[n]}" for n in sorted(inner))


def sentence_candidates(words: Sequence[str], occs: Sequence[Occ],
                        tags: Sequence[str] | None = None,
                        deps: tuple[Sequence[int], Sequence[str]] | None = None
                        ) -> list[Candidate]:
    """Pairs of mentions in one sentence, in text order, with their features (part-of-speech
    ones too when the tokens' `tags` are given, dependency-path ones when their `deps`)."""
    occs = sorted(occs, key=lambda o: (o.start, o.end))
    n = len(words)
    out = []
    for i, a in enumerate(occs):
        for b in occs[i + 1:]:
            if b.sent != a.sent or (a.start, a.end) == (b.start, b.end):
                continue
            f = [f"t:{a.type}|{b.type}", f"ha:{_head(words, a)}", f"hb:{_head(words, b)}",
                 f"tha:{b.type}|{_head(words, a)}", f"thb:{a.type}|{_head(words, b)}"]
            f.extend(f"wa:{w}" for w in words[a.start:a.end - 1])
            f.extend(f"wb:{w}" for w in words[b.start:b.end - 1])
            if b.start < a.end:
                f.append("nested")
            if a.src != "ner" or b.src != "ner":
                f.append(f"src:{a.src}|{b.src}")
                f.append(f"tsrc:{a.type}|{b.type}|{a.src}|{b.src}")
            _between(words, a, b, "", f)
            lo, hi = min(a.end, b.end), max(a.start, b.start)
            inside = sum(1 for o in occs if o.start >= lo and o.end <= hi)
            f.append(f"ne:{min(inside, 3)}")
            f.append(f"tne:{a.type}|{b.type}|{min(inside, 3)}")
            f.append(f"pa1:{words[a.start - 1] if a.start else '<s>'}")
            f.append(f"pa2:{words[a.start - 2] if a.start > 1 else '<s>'}")
            f.append(f"nb1:{words[b.end] if b.end < n else '</s>'}")
            f.append(f"nb2:{words[b.end + 1] if b.end + 1 < n else '</s>'}")
            if tags is not None:
                _tag_features(tags, a, b, f)
            if deps is not None:
                _dep_features(words, deps, a, b, f)
            if lo < hi:
                f.append(f"tbf:{a.type}|{b.type}|{words[lo]}")
                f.append(f"tbl:{a.type}|{b.type}|{words[hi - 1]}")
            out.append(Candidate(a, b, a.key or f"{a.start}:{a.end}", b.key or f"{b.start}:{b.end}",
                                 tuple(f)))
    return out


def document_candidates(words: Sequence[str], sent_bounds: Sequence[tuple[int, int]],
                        groups: dict[str, list[Occ]]) -> list[Candidate]:
    """Pairs of entities (mention groups) of a document, with their features.

    The pair is represented by its closest mentions in one sentence (else the first mentions);
    features cover the types, how often and how closely the two co-occur, the words between the
    closest mentions and the words of the sentences they share.
    """
    keys = sorted(groups, key=lambda k: (groups[k][0].type, groups[k][0].start))
    out = []
    for i, ka in enumerate(keys):
        for kb in keys[i + 1:]:
            ga, gb = groups[ka], groups[kb]
            ta, tb = ga[0].type, gb[0].type
            shared = sorted({o.sent for o in ga} & {o.sent for o in gb})
            f = [f"t:{ta}|{tb}", f"sa:{_surface(words, ga[0])}", f"sb:{_surface(words, gb[0])}",
                 f"ts:{ta}|{tb}|{_bucket(len(shared))}",
                 f"na:{_bucket(len(ga))}", f"nb:{_bucket(len(gb))}"]
            if any(o.sent == 0 for o in ga) and any(o.sent == 0 for o in gb):
                f.append(f"title:{ta}|{tb}")
            if shared:
                a, b = min(((x, y) for x in ga for y in gb if x.sent == y.sent),
                           key=lambda p: (abs(p[0].start - p[1].start), p[0].start))
                first, second = (a, b) if a.start <= b.start else (b, a)
                _between(words, first, second, "", f)
                f.append("order:" + ("ab" if first is a else "ba"))
                bag: set[str] = set()
                for s in shared[:3]:
                    lo, hi = sent_bounds[s]
                    bag.update(words[lo:hi])
                f.extend(f"sw:{w}" for w in bag)
                f.extend(f"tsw:{ta}|{tb}|{w}" for w in bag)
            else:
                a, b = ga[0], gb[0]
                gap = min(abs(x.sent - y.sent) for x in ga for y in gb)
                f.append(f"nocooc:{ta}|{tb}|{_bucket(gap)}")
            out.append(Candidate(a, b, ka, kb, tuple(f)))
    return out
