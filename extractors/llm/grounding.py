"""Grounding: every entity and context text of a triple must be found in the abstract.

Texts are searched exactly (case- and whitespace-insensitive, on word boundaries), then fuzzily
(rapidfuzz `ratio` >= a threshold against runs of whole words). The evidence is
the sentence (or run of sentences) holding subject and object. Sentences that read like
instructions to a model ("ignore previous instructions...") never count as evidence. A claim
negated ("X does not outperform Y") or hedged ("X may improve Y") in its evidence is flagged
(`Grounder.polarity`): the first is dropped, the second down-weighted.

The injection filter aims at imperatives addressed to a model, not at findings that share its
words ("networks forget prior tasks", "we add 2 million triples", "our system prompt design
improves..."): its false-positive rate on real abstracts is measured by bench/injection_filter.py.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

Span = tuple[int, int]

_SENTENCE_END = re.compile(r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]*[A-Z0-9])")
_INJECTION = re.compile(
    # "ignore/disregard/forget (all) (the/your) previous instructions", "ignore the above"
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?"
    r"(?:the\s+|your\s+|these\s+|those\s+|my\s+)?(?:(?:previous|prior|above|earlier|"
    r"preceding|system|original)\s+)?(?:instructions?|prompts?|rules|directions|guidelines|"
    r"context)\b"
    r"|\b(?:ignore|disregard)\s+(?:all\s+|everything\s+)?(?:the\s+)?(?:above|previous)"
    r"(?:\s+(?:text|message|content|lines|paragraphs?))?(?=\s*(?:[.,;:!]|and\b|$))"
    # addressing the model: "you are now", "as an AI", "new instructions:", "system prompt:"
    r"|\byou\s+are\s+now\s+(?:a|an|my|the|in|acting|playing|free|no\s+longer)\b"
    r"|\byou\s+(?:must|should|will)\s+now\b"
    r"|\bas\s+an\s+(?:ai|llm|language\s+model|assistant)\b"
    r"|\b(?:new|updated|additional)\s+instructions?\s*:"
    r"|\b(?:system|developer)\s+(?:prompt|message)\s*:"
    r"|(?:^|[.:;!]\s*|\bplease\s+)(?:now\s+)?(?:output|return|respond\s+with|print|emit|"
    r"add|include|insert|extract)\s+(?:the\s+|this\s+|a\s+|an\s+|only\s+)?(?:following\s+)?"
    r"(?:triples?|json|relations?|facts?)\b",
    re.IGNORECASE,
)
# negation cues between (or just before) the arguments; "not only" is not a negation
_NEGATION = re.compile(
    r"\b(?:not(?!\s+only\b)|no(?!\s+longer\b)|never|neither|nor|cannot|can't|"
    r"\w+n't|fail(?:s|ed)?\s+to|unable\s+to|did\s+not|does\s+not|no\s+evidence)\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:may|might|could|possibly|potentially|perhaps|likely|unlikely|unclear|whether|"
    r"suggests?|suggested|hypothes[iz]es?|hypothesi[sz]ed|conjecture[sd]?|speculate[sd]?|"
    r"appears?\s+to|seems?\s+to|is\s+expected\s+to|remains?\s+(?:to\s+be\s+seen|open))\b",
    re.IGNORECASE,
)
_WINDOW_BEFORE_WORDS = 6
_WINDOW_AFTER_WORDS = 4
_MIN_FUZZY_LEN = 4
_DETERMINER = re.compile(r"^(?:the|a|an|our|their|its|this|these)\s+", re.IGNORECASE)


def sentence_spans(text: str) -> list[Span]:
    """Sentence (start, end) offsets, split after . ! ? followed by a capital or digit."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.start() + len(m.group(1))))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(s, _rstrip_end(text, s, e)) for s, e in spans if text[s:e].strip()]


def _rstrip_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def is_instruction_like(sentence: str) -> bool:
    """Whether a sentence reads like an instruction to a model rather than a finding."""
    return _INJECTION.search(sentence) is not None


_TOKEN = re.compile(r"[^\W\d_]+|\d+|[^\w\s]")
_SEPARATORS = frozenset("-_/.,:;")


def _exact_pattern(needle: str) -> re.Pattern[str] | None:
    """Case-insensitive pattern of the needle's tokens (letter runs, digit runs, symbols).

    Separators (hyphen, slash, ...) are optional and two alphanumeric tokens may be joined by up
    to three non-word characters, so "ResNet 50" and "Resnet50" both match "ResNet-50".
    """
    parts: list[str] = []
    prev_alnum = False
    for tok in _TOKEN.findall(needle):
        if tok in _SEPARATORS:
            continue
        alnum = tok.isalnum()
        if parts:
            parts.append(r"[\W_]{0,3}" if alnum and prev_alnum else r"\s*")
        parts.append(re.escape(tok))
        prev_alnum = alnum
    if not parts:
        return None
    left = r"(?<!\w)" if needle[0].isalnum() else ""
    right = r"(?!\w)" if needle[-1].isalnum() else ""
    return re.compile(left + "".join(parts) + right, re.IGNORECASE)


_WORD = re.compile(r"\w+(?:[-/.+']\w+)*\+*")


def word_spans(text: str) -> list[Span]:
    """(start, end) of each word (hyphenated and dotted compounds count as one)."""
    return [m.span() for m in _WORD.finditer(text)]


def _verbatim(needle: str, text: str, lowered: str | None = None) -> list[Span]:
    """Case-insensitive whole-word occurrences of the needle as written (no regex compiled)."""
    lowered = text.lower() if lowered is None else lowered
    target = needle.lower()
    if len(lowered) != len(text) or len(target) != len(needle):
        return []  # lower() changed lengths (rare scripts): offsets would not line up
    spans: list[Span] = []
    start = lowered.find(target)
    while start != -1:
        end = start + len(target)
        left_ok = start == 0 or not (target[0].isalnum() and lowered[start - 1].isalnum())
        right_ok = end == len(lowered) or not (target[-1].isalnum() and lowered[end].isalnum())
        if left_ok and right_ok:
            spans.append((start, end))
        start = lowered.find(target, start + 1)
    return spans


def find_spans(
    needle: str,
    text: str,
    threshold: float = 90.0,
    words: list[Span] | None = None,
    lowered: str | None = None,
) -> list[Span]:
    """Where `needle` occurs in `text`: all exact matches, else the best fuzzy one, else [].

    Exact: verbatim (case-insensitive, whole words), else token-wise with optional separators.

    Fuzzy: the run of words (as many as the needle has, +-1) with the highest `fuzz.ratio`
    to the needle, case-folded, if >= threshold.
    """
    needle = " ".join(needle.split()).strip()
    if not needle:
        return []
    spans = _verbatim(needle, text, lowered)
    if spans:
        return spans
    pattern = _exact_pattern(needle)
    if pattern is None:
        return []
    spans = [m.span() for m in pattern.finditer(text)]
    if spans or len(needle) < _MIN_FUZZY_LEN:
        return spans
    words = word_spans(text) if words is None else words
    n = max(1, len(needle.split()))
    target = needle.casefold()
    best: tuple[float, Span] | None = None
    for size in (n - 1, n, n + 1):
        if size < 1:
            continue
        for i in range(len(words) - size + 1):
            start, end = words[i][0], words[i + size - 1][1]
            score = fuzz.ratio(target, text[start:end].casefold(), score_cutoff=threshold)
            if score and (best is None or score > best[0]):
                best = (score, (start, end))
    return [best[1]] if best else []


@dataclass(frozen=True)
class Polarity:
    """A claim that its evidence negates or hedges, and the cue that says so."""

    kind: str  # negated | hedged
    cue: str


@dataclass
class Grounded:
    """A triple located in the abstract."""

    subject: Span
    object: Span
    evidence: Span
    context: list[tuple[str, Span]] = field(default_factory=list)


@dataclass
class Ungrounded:
    """Why a triple could not be located: a reason code and a detail."""

    reason: str
    detail: str = ""


class Grounder:
    """Grounds triples in one abstract (sentences and instruction-like sentences precomputed)."""

    def __init__(self, abstract: str, threshold: float = 90.0, max_sentence_gap: int = 2):
        self.text = abstract
        self.threshold = threshold
        self.max_gap = max_sentence_gap
        self.lowered = abstract.lower()
        self.words = word_spans(abstract)
        self.sentences = sentence_spans(abstract) or [(0, len(abstract))]
        self._ends = [e for _, e in self.sentences]
        self.suspect = [is_instruction_like(abstract[s:e]) for s, e in self.sentences]

    def sentence_of(self, pos: int) -> int:
        """Index of the sentence holding char offset `pos` (the next one if between two)."""
        return min(bisect.bisect_right(self._ends, pos), len(self.sentences) - 1)

    def _locate(self, needle: str) -> tuple[list[Span], bool]:
        """Spans outside instruction-like sentences, and whether any were inside them."""
        spans = find_spans(needle, self.text, self.threshold, self.words, self.lowered)
        bare = _DETERMINER.sub("", needle.strip())
        if not spans and bare != needle.strip():
            spans = find_spans(bare, self.text, self.threshold, self.words, self.lowered)
        clean = [sp for sp in spans if not self.suspect[self.sentence_of(sp[0])]]
        return clean, len(clean) < len(spans)

    def ground(
        self, subject: str, obj: str, context: list[tuple[str, str]]
    ) -> Grounded | Ungrounded:
        """Locate subject, object, context and the evidence sentences, or say why not."""
        subj_spans, subj_sus = self._locate(subject)
        if not subj_spans:
            reason = "in-instruction-text" if subj_sus else "ungrounded-subject"
            return Ungrounded(reason, subject)
        obj_spans, obj_sus = self._locate(obj)
        if not obj_spans:
            reason = "in-instruction-text" if obj_sus else "ungrounded-object"
            return Ungrounded(reason, obj)
        best: tuple[int, int, Span, Span] | None = None
        for s in subj_spans:
            for o in obj_spans:
                if s == o:
                    continue
                gap = abs(self.sentence_of(s[0]) - self.sentence_of(o[0]))
                dist = abs(s[0] - o[0])
                if best is None or (gap, dist) < best[:2]:
                    best = (gap, dist, s, o)
        if best is None:
            return Ungrounded("self-loop", subject)
        gap, _, s_span, o_span = best
        if gap > self.max_gap:
            return Ungrounded("arguments-apart", f"{gap} sentences apart")
        first = min(self.sentence_of(s_span[0]), self.sentence_of(o_span[0]))
        last = max(self.sentence_of(s_span[0]), self.sentence_of(o_span[0]))
        evidence = (self.sentences[first][0], self.sentences[last][1])
        grounded_ctx: list[tuple[str, Span]] = []
        for qualifier, text in context:
            spans, sus = self._locate(text)
            if not spans:
                reason = "in-instruction-text" if sus else "ungrounded-context"
                return Ungrounded(reason, f"{qualifier}={text}")
            # prefer a mention inside the evidence, then the nearest one
            spans.sort(key=lambda sp: (not (evidence[0] <= sp[0] < evidence[1]),
                                       abs(sp[0] - s_span[0])))
            grounded_ctx.append((qualifier, spans[0]))
        return Grounded(s_span, o_span, evidence, grounded_ctx)

    def polarity(self, subject: Span, obj: Span) -> Polarity | None:
        """Whether the claim between these spans is negated or hedged in its sentence.

        Looked at: the words between the arguments, up to a few words before the first one
        in its sentence ("we find no evidence that X ...") and, for hedges, a few after the
        second ("... remains unclear"). The arguments' own words never count.
        """
        first, second = sorted((subject, obj))
        s_first = self.sentences[self.sentence_of(first[0])]
        s_second = self.sentences[self.sentence_of(second[0])]
        between = self.text[first[1]:second[0]]
        # only the clause the first argument is in ("Although Z does not converge, X ...")
        lead = re.split(r"[,;:()]", self.text[s_first[0]:first[0]])[-1]
        before = lead.split()[-_WINDOW_BEFORE_WORDS:]
        tail = re.split(r"[,;:()]", self.text[second[1]:s_second[1]])[0]
        after = tail.split()[:_WINDOW_AFTER_WORDS]
        window = " ".join([*before, "|", between, "|"])
        m = _NEGATION.search(window)
        if m:
            return Polarity("negated", m.group(0))
        m = _HEDGE.search(window + " " + " ".join(after))
        if m:
            return Polarity("hedged", m.group(0))
        return None
