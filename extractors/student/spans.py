"""Extra candidate mentions: noun phrases read off part-of-speech tags.

The NER finds about half of SciERC's mentions; the relation classifier can only relate what it
is given. So, at sentence level, candidates are the NER's spans *and* the noun phrases of the
text (maximal runs of adjectives, nouns, proper nouns, numbers and participles, ending on a
noun), tagged by the small English pipeline's tagger (`en_core_web_sm`, already a dependency;
no parser: the tagger costs about as much as the NER). The relation classifier sees where each
span comes from (`src:` features) and decides; overlapping duplicates are suppressed at
decoding. On SciERC dev the union covers both arguments of 97 % of the gold relations under
relaxed matching (the NER alone: 58 %), 66 % under exact matching (43 %).

A noun phrase has no NER type: it gets the type its last word most often had in the training
mentions (`TypeLexicon`), else the commonest type.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

#: candidate sources: the NER alone, or the NER and the tagger's noun phrases
SOURCES = ("ner", "ner+np")
#: pipes of the small English pipeline that the tagger does not need
_NOT_NEEDED = ["parser", "ner", "lemmatizer", "senter"]
_WORD = {"ADJ", "NOUN", "PROPN", "NUM"}
_INNER = {"VBG", "VBN", "HYPH"}
_END = {"NOUN", "PROPN"}


def load_tagger() -> Any:
    """en_core_web_sm without its parser and NER: tokenizer, tok2vec, tagger, attribute_ruler."""
    import spacy
    from litkg.extractors.spacy_rules import MODEL

    return spacy.load(MODEL, exclude=_NOT_NEEDED)


def noun_phrases(tagged: Any) -> list[tuple[int, int]]:
    """Character spans of the maximal noun phrases of a tagged doc."""
    toks = list(tagged)
    out = []
    i = 0
    while i < len(toks):
        t = toks[i]
        starts = t.pos_ in _WORD or (t.tag_ in ("VBG", "VBN") and i + 1 < len(toks)
                                     and toks[i + 1].pos_ in _WORD)
        if not starts:
            i += 1
            continue
        j = i
        while j < len(toks) and (toks[j].pos_ in _WORD or toks[j].tag_ in _INNER):
            j += 1
        k = j
        while k > i and toks[k - 1].pos_ not in _END:
            k -= 1
        if k > i:
            out.append((toks[i].idx, toks[k - 1].idx + len(toks[k - 1].text)))
        i = max(j, i + 1)
    return out


def last_word(text: str) -> str:
    words = text.lower().split()
    return words[-1] if words else ""


class TypeLexicon:
    """Entity type of a span from its last word, as seen in the training mentions."""

    def __init__(self, types: dict[str, str], default: str) -> None:
        self.types = types
        self.default = default

    @classmethod
    def learn(cls, mentions: Iterable[tuple[str, str]], min_count: int = 2) -> TypeLexicon:
        """From (mention text, type) pairs: each last word's commonest type."""
        by_word: dict[str, Counter[str]] = defaultdict(Counter)
        overall: Counter[str] = Counter()
        for text, etype in mentions:
            by_word[last_word(text)][etype] += 1
            overall[etype] += 1
        types = {w: c.most_common(1)[0][0] for w, c in sorted(by_word.items())
                 if sum(c.values()) >= min_count}
        default = overall.most_common(1)[0][0] if overall else "Entity"
        return cls(types, default)

    def type_of(self, text: str) -> str:
        return self.types.get(last_word(text), self.default)

    def to_json(self) -> dict[str, Any]:
        return {"types": self.types, "default": self.default}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TypeLexicon:
        return cls(data["types"], data["default"])


def overlapping(a: Sequence[int], b: Sequence[int]) -> bool:
    """Whether two [start, end) spans share a character."""
    return a[0] < b[1] and b[0] < a[1]
