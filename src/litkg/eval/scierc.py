"""SciERC (Luan et al., 2018) in its processed JSON-lines layout -> GoldCorpus.

Each line: doc_key, sentences (PTB tokens), ner [[start, end, type]] per sentence, relations
[[h_start, h_end, t_start, t_end, label]] per sentence, clusters [[[start, end], ...]]. Token
offsets are document-level and `end` is inclusive.

The tokens are detokenised into plain text (brackets restored, no space before punctuation) and
every token keeps its character span, so gold spans become character spans of that text.
Dates come from `doc_key` (see the dataset README): the year, and the month in which the venue
usually meets (an approximation; the day is the 1st). A journal article (J..) is dated by its
issue (quarterly).
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from litkg.eval.corpus import (
    LOCAL,
    GoldCorpus,
    GoldDocument,
    GoldMention,
    GoldRelation,
    check_normalised,
)

LABELS = ["USED-FOR", "CONJUNCTION", "EVALUATE-FOR", "HYPONYM-OF", "PART-OF", "FEATURE-OF",
          "COMPARE"]
SYMMETRIC = {"COMPARE", "CONJUNCTION"}

PTB = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}",
       "``": '"', "''": '"'}
NO_SPACE_BEFORE = {".", ",", ";", ":", "?", "!", ")", "]", "}", "%", "'s", "'", "n't", "'re",
                   "'ve", "'ll", "'d", "'m"}
NO_SPACE_AFTER = {"(", "[", "{", "$"}

_ACL = re.compile(r"^([A-Z])(\d{2})-(\d)(\d{3})$")
_VENUE = re.compile(r"^([A-Z]+)_(\d{4})_(\d+)_abs$")

#: ACL Anthology letter -> usual month of the meeting (approximate)
ACL_MONTH = {"P": 7, "C": 8, "H": 3, "E": 4, "N": 6, "I": 10, "A": 4, "W": 7, "L": 5, "X": 10,
             "M": 5}
#: Venue_Year_Number_abs venue -> usual month of the meeting (approximate)
VENUE_MONTH = {"CVPR": 6, "ICCV": 10, "ECCV": 9, "NIPS": 12, "ICML": 7, "IJCAI": 8, "AAAI": 7,
               "ICASSP": 4, "INTERSPEECH": 9, "IJCNLP": 10}


def date_of_key(doc_key: str) -> date:
    """Publication date of a SciERC document from its key (year exact, month approximate)."""
    m = _ACL.match(doc_key)
    if m:
        letter, yy, issue = m.group(1), int(m.group(2)), int(m.group(3))
        year = 1900 + yy if yy >= 50 else 2000 + yy
        if letter == "J":  # Computational Linguistics: quarterly, issue n -> month 3n
            month = min(max(issue, 1), 4) * 3
        else:
            month = ACL_MONTH.get(letter, 1)
        return date(year, month, 1)
    m = _VENUE.match(doc_key)
    if m:
        return date(int(m.group(2)), VENUE_MONTH.get(m.group(1), 1), 1)
    raise ValueError(f"SciERC doc_key {doc_key!r} carries no year")


def detokenise(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Plain text from PTB tokens and each token's [start, end) in it."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    glue = True  # no space before the next token
    for raw in tokens:
        tok = PTB.get(raw, raw)
        if not glue and raw != "''" and tok not in NO_SPACE_BEFORE:
            parts.append(" ")
            pos += 1
        parts.append(tok)
        spans.append((pos, pos + len(tok)))
        pos += len(tok)
        glue = tok in NO_SPACE_AFTER or raw == "``"
    return "".join(parts), spans


def parse_document(obj: dict[str, Any]) -> GoldDocument:
    key = obj["doc_key"]
    tokens = [t for sent in obj["sentences"] for t in sent]
    text, spans = detokenise(tokens)
    doc_id = f"scierc:{key}"
    check_normalised(doc_id, text)
    cluster_of: dict[tuple[int, int], str] = {}
    for k, cluster in enumerate(obj.get("clusters", [])):
        for s, e in cluster:
            cluster_of.setdefault((s, e), f"{LOCAL}c{k}")
    mentions: list[GoldMention] = []
    ident: dict[tuple[int, int], str] = {}
    for sent in obj.get("ner", []):
        for s, e, etype in sent:
            if (s, e) in ident:
                continue
            mid = f"m{len(mentions)}"
            ident[(s, e)] = mid
            mentions.append(GoldMention(spans[s][0], spans[e][1], etype,
                                        cluster_of.get((s, e), LOCAL + mid), (mid,)))
    relations: list[GoldRelation] = []
    seen: set[tuple[str, str, str]] = set()
    for sent in obj.get("relations", []):
        for hs, he, ts, te, label in sent:
            rel = (ident[(hs, he)], label, ident[(ts, te)])
            if rel in seen:  # the release has a few exact duplicates
                continue
            seen.add(rel)
            relations.append(GoldRelation(rel[0], label, rel[2], label in SYMMETRIC))
    return GoldDocument(doc_id, "", text, date_of_key(key), mentions, relations)


def load(path: str | Path) -> GoldCorpus:
    docs = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                docs.append(parse_document(json.loads(line)))
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{line_no}: not a SciERC record ({exc})") from exc
    return GoldCorpus(
        "scierc", str(path), docs, list(LABELS), document_level=False,
        dating="year from doc_key; month: the venue's usual meeting month (approximate); day 1",
        symmetric_labels=frozenset(SYMMETRIC),
    )
