"""Extra candidate mentions: noun phrases read off part-of-speech tags.

The NER finds about half of SciERC's mentions; the relation classifier can only relate what it
is given. So, at sentence level, candidates are the NER's spans *and* the noun phrases of the
text (maximal runs of adjectives, nouns, proper nouns, numbers, participles and hyphens,
ending on a noun), tagged by the small English pipeline's tagger (`en_core_web_sm`, already a
dependency; the tagger costs about as much as the NER). With `--dependencies` its parser runs
too, for the dependency-path features of the pairs (`features`). The relation classifier sees
where each span comes from (`src:` features) and decides; overlapping duplicates are suppressed at
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
#: pipes of the small English pipeline that the tagger does not need (the attribute ruler maps
#: tags to coarse parts of speech: a third of the tagger's time, read off the tags here instead)
_NOT_NEEDED = ["parser", "ner", "lemmatizer", "senter", "attribute_ruler"]
#: Penn Treebank tags: nouns, proper nouns, adjectives, numbers; participles and hyphens inside
_END = {"NN", "NNS", "NNP", "NNPS"}
_WORD = _END | {"JJ", "JJR", "JJS", "CD"}
_INNER = {"VBG", "VBN", "HYPH"}


def load_tagger(parse: bool = False) -> Any:
    """en_core_web_sm's tokenizer, tok2vec and tagger (fine-grained Penn Treebank tags); with
    `parse`, its dependency parser too (it listens to the same tok2vec)."""
    import spacy
    from litkg.extractors.spacy_rules import MODEL

    return spacy.load(MODEL, exclude=[p for p in _NOT_NEEDED if not (parse and p == "parser")])


def noun_phrases(tagged: Any) -> list[tuple[int, int]]:
    """Character spans of the maximal noun phrases of a tagged doc."""
    tag, idx, end = [], [], []
    for t in tagged:
        tag.append(t.tag_)
        idx.append(t.idx)
        end.append(t.idx + len(t))
    n = len(tag)
    out = []
    i = 0
    while i < n:
        if not (tag[i] in _WORD or (tag[i] in ("VBG", "VBN") and i + 1 < n
                                    and tag[i + 1] in _WORD)):
            i += 1
            continue
        j = i
        while j < n and (tag[j] in _WORD or tag[j] in _INNER):
            j += 1
        k = j
        while k > i and tag[k - 1] not in _END:
            k -= 1
        if k > i:
            out.append((idx[i], end[k - 1]))
        i = max(j, i + 1)
    return out


#: `doc.user_data` key of the dependency tree copied from a parsed doc: (heads, labels) per
#: token, a head being a token index of `doc` (-1: the token has no aligned counterpart)
DEPS = "litkg_deps"


def copy_tags(doc: Any, tagged: Any) -> None:
    """Give `doc`'s tokens the tags of the tagged doc's tokens that start where they start
    (both come from spaCy's English tokenizer rules, so they nearly always align); when the
    tagged doc is parsed, its dependency tree too, as `doc.user_data[DEPS]`."""
    at = {t.idx: t for t in tagged}
    for t in doc:
        s = at.get(t.idx)
        t.tag_ = s.tag_ if s is not None else "XX"
    if tagged.has_annotation("DEP"):
        index = {t.idx: t.i for t in doc}
        heads, labels = [-1] * len(doc), [""] * len(doc)
        for t in doc:
            s = at.get(t.idx)
            if s is not None:
                heads[t.i] = index.get(s.head.idx, -1)
                labels[t.i] = s.dep_
        doc.user_data[DEPS] = (heads, labels)


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
