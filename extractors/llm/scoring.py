"""One document's samples and what becomes of them: the sampling state of a job (a stream that
the policy consumes, from the sample cache first, then from the server) and `finalize`
(agreement scoring, direction resolution, grounding, negation/hedging, rows).

Shared by the HTTP path (extractor) and the in-process vLLM path (batch).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from litkg.extractors.llm.cache import Sample
from litkg.extractors.llm.client import Completion
from litkg.extractors.llm.grounding import Grounded, Grounder
from litkg.extractors.llm.prompt import Answer, MalformedAnswer, Triple, parse_answer
from litkg.extractors.llm.sampling import (
    RelationRule,
    SamplingPolicy,
    TripleKey,
    agreement,
    resolve_directions,
    triple_key,
)
from litkg.schema import Vocabulary

NAME = "llm"
_RAW_LIMIT = 20_000


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class DocumentJob:
    """One document's sampling state: rounds drawn so far and what to ask for next."""

    doc_id: str
    content_hash: str
    abstract: str
    messages: list[dict[str, str]]
    cache_key: str
    policy: SamplingPolicy
    vocab: Vocabulary
    min_valid_fraction: float = 0.5
    seed: int | None = None
    rules: dict[str, RelationRule] = field(default_factory=dict)
    model: str = ""
    #: every sample drawn so far, in stream order (cached ones first)
    samples: list[Sample] = field(default_factory=list)
    #: rows for the sample cache: samples this job got from the server
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    rounds: int = 0
    answers: list[Answer | None] = field(default_factory=list)
    #: per answer: (identity, arguments swapped, triple) of each of its triples
    keyed: list[list[tuple[TripleKey, bool, Triple]] | None] = field(default_factory=list)
    failure: str | None = None
    failure_raw: str | None = None
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    #: (assertions, rejections) once finalized (the HTTP path does it while others wait)
    result: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None
    _retry_n: int = 0
    _retried: bool = False
    _memo: dict[str, tuple[Answer | None, list[tuple[TripleKey, bool, Triple]] | None]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        if not self.rules:
            self.rules = relation_rules(self.vocab)

    @property
    def drawn(self) -> int:
        return len(self.answers)

    @property
    def cached(self) -> bool:
        """Answered from cached samples alone (no request)."""
        return self.requests == 0 and self.drawn > 0

    def next_n(self) -> int:
        """Samples to request next; 0 when done (or failed)."""
        if self.failure is not None:
            return 0
        if self._retry_n:
            return self._retry_n
        if self.rounds > self.policy.k_max + 1:  # a server returning 1 choice at a time
            return 0
        counts, n_valid = agreement(self.key_sets())
        return self.policy.next_draw(counts, n_valid, self.drawn)

    def next_seed(self) -> int | None:
        """With a base seed, a round's seed is it plus the stream index of the round's first
        sample: distinct per round (the same seed repeats samples), stable across policies."""
        return None if self.seed is None else self.seed + self.drawn

    def feed(self, stream: list[Sample]) -> None:
        """Consume cached samples, beyond those already drawn, as the policy asks for them."""
        while (n := self.next_n()) > 0 and self.drawn < len(stream):
            take = stream[self.drawn:self.drawn + n]
            self.add_round(len(take), Completion([s.text for s in take],
                                                 [s.finish_reason for s in take]), cached=True)

    def add_round(self, n: int, completion: Completion, *, cached: bool = False) -> None:
        """Record a round's samples; a round with too few valid samples is retried once, then
        the document fails with the raw answer."""
        texts = list(completion.texts)
        reasons = list(completion.finish_reasons)
        reasons += [None] * (len(texts) - len(reasons))
        self.rounds += 1
        if not cached:
            request = uuid.uuid4().hex
            self.new_rows += [
                {"key": self.cache_key, "idx": self.drawn + i, "text": t, "finish_reason": r,
                 "request": request, "model": self.model,
                 "prompt_tokens": completion.prompt_tokens if i == 0 else 0,
                 "completion_tokens": completion.completion_tokens if i == 0 else 0}
                for i, (t, r) in enumerate(zip(texts, reasons, strict=True))
            ]
            self.requests += completion.attempts
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
        self.samples += [Sample(t, r) for t, r in zip(texts, reasons, strict=True)]
        parsed: list[Answer | None] = []
        first_bad: str | None = None
        for text, reason in zip(texts, reasons, strict=True):
            answer, keyed = self._parse(text) if reason != "length" else (None, None)
            parsed.append(answer)
            self.keyed.append(keyed)
            if answer is None and first_bad is None:
                first_bad = text if text is not None else "<no content>"
        self.answers.extend(parsed)
        valid = sum(a is not None for a in parsed)
        malformed = not texts or valid < math.ceil(self.min_valid_fraction * len(texts))
        self._retry_n = 0
        if not malformed:
            return
        room = self.policy.k_max - self.drawn  # a retry never goes beyond k_max samples
        if not self._retried and room > 0:
            self._retried = True
            self._retry_n = min(n, room)
            return
        self.failure = f"malformed answer: {valid} of {len(texts)} samples valid after a retry"
        self.failure_raw = (first_bad or "<no choices>")[:_RAW_LIMIT]

    def _parse(
        self, text: str | None
    ) -> tuple[Answer | None, list[tuple[TripleKey, bool, Triple]] | None]:
        """Parse a sample (identical samples are parsed once) and key its triples."""
        if text is None:
            return None, None
        hit = self._memo.get(text)
        if hit is None:
            try:
                answer: Answer | None = parse_answer(text, self.vocab)
            except MalformedAnswer:
                answer = None
            keyed = None if answer is None else [
                (*_key(t, self.rules), t) for t in answer.triples
            ]
            hit = self._memo[text] = (answer, keyed)
        return hit

    def key_sets(self) -> list[set[TripleKey] | None]:
        """Each answer's set of triple identities (None: invalid sample)."""
        return [None if k is None else {key for key, _, _ in k} for k in self.keyed]



def relation_rules(vocab: Vocabulary) -> dict[str, RelationRule]:
    """How each relation is oriented for identity (inverse -> primary, symmetric -> sorted)."""
    return {
        r["relation"]: RelationRule(r["canonical"], r["swap"], r["symmetric"])
        for r in vocab.relation_rules()
    }


def _key(t: Triple, rules: dict[str, RelationRule]) -> tuple[TripleKey, bool]:
    return triple_key(t.subject, t.relation, t.object, [(c.qualifier, c.text) for c in t.context],
                      rules)


@dataclass(frozen=True)
class _Surface:
    """A triple as written by the model, oriented to its canonical relation."""

    subject: str
    subject_type: str
    relation: str
    object: str
    object_type: str
    context: tuple[tuple[str, str], ...]


@dataclass
class FinalizeSettings:
    """What turns samples into assertions (besides the sampling policy)."""

    extractor_version: str
    grounding_threshold: float = 90.0
    max_sentence_gap: int = 2
    #: a hedged claim keeps this share of its confidence (0: dropped)
    hedge_weight: float = 0.5


def finalize(
    job: DocumentJob, settings: FinalizeSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Scoring, direction resolution and grounding of a finished job: (assertions, rejections)."""
    policy, rules = job.policy, job.rules
    surfaces: dict[TripleKey, Counter[_Surface]] = {}
    key_sets: list[set[TripleKey] | None] = []
    for keyed in job.keyed:
        if keyed is None:
            key_sets.append(None)
            continue
        keys: set[TripleKey] = set()
        for key, swapped, t in keyed:
            rel = rules[t.relation].canonical if t.relation in rules else t.relation
            ctx = tuple(sorted({(c.qualifier, c.text) for c in t.context}))
            if swapped and not rules.get(t.relation, RelationRule(t.relation)).symmetric:
                s = _Surface(t.object, t.object_type, rel, t.subject, t.subject_type, ctx)
            else:
                s = _Surface(t.subject, t.subject_type, rel, t.object, t.object_type, ctx)
            if key not in keys:
                surfaces.setdefault(key, Counter())[s] += 1
            keys.add(key)
        key_sets.append(keys)
    counts, n_valid = agreement(key_sets)
    order = {k: i for i, k in enumerate(surfaces)}
    rejections: list[dict[str, Any]] = []

    def reject(key: TripleKey, reason: str, detail: str = "") -> None:
        surface = surfaces[key].most_common(1)[0][0]
        rejections.append(_rejection_row(job, key, surface, counts[key], n_valid, reason, detail,
                                         settings.extractor_version))

    survivors: dict[TripleKey, float] = {}
    for key in surfaces:
        if policy.keep(counts[key], n_valid):
            survivors[key] = policy.confidence(counts[key], n_valid)
        else:
            reject(key, "low-agreement", f"{counts[key]}/{n_valid} samples")
    kept, dropped = resolve_directions(survivors, order)
    for key in dropped:
        reject(key, "reverse-direction", f"{counts[key]}/{n_valid} samples")

    grounder = Grounder(job.abstract, settings.grounding_threshold, settings.max_sentence_gap)
    rows: list[dict[str, Any]] = []
    seen_spans: set[Any] = set()
    for key in kept:
        located: tuple[_Surface, Grounded] | None = None
        first_failure = None
        for surface, _ in surfaces[key].most_common():
            result = grounder.ground(surface.subject, surface.object, list(surface.context))
            if isinstance(result, Grounded):
                located = (surface, result)
                break
            first_failure = first_failure or result
        if located is None:
            assert first_failure is not None
            reject(key, first_failure.reason, first_failure.detail)
            continue
        surface, g = located
        confidence = survivors[key]
        polarity = grounder.polarity(g.subject, g.object)
        if polarity is not None and polarity.kind == "negated":
            reject(key, "negated", polarity.cue)
            continue
        if polarity is not None:  # hedged
            if settings.hedge_weight == 0:
                reject(key, "hedged", polarity.cue)
                continue
            confidence *= settings.hedge_weight
            reject(key, "hedged", f"kept at x{settings.hedge_weight:g}: {polarity.cue}")
        span_key = (g.subject, surface.relation, g.object, tuple(sorted(g.context)))
        if span_key in seen_spans:
            reject(key, "duplicate", "same spans as a kept triple")
            continue
        seen_spans.add(span_key)
        text = job.abstract
        rows.append(
            {
                "doc_id": job.doc_id,
                "content_hash": job.content_hash,
                "subject": text[g.subject[0]:g.subject[1]],
                "subject_start": g.subject[0],
                "subject_end": g.subject[1],
                "subject_type": surface.subject_type,
                "relation": surface.relation,
                "object": text[g.object[0]:g.object[1]],
                "object_start": g.object[0],
                "object_end": g.object[1],
                "object_type": surface.object_type,
                "context": [
                    {"qualifier": q, "text": text[s:e], "start": s, "end": e}
                    for q, (s, e) in g.context
                ],
                "evidence": text[g.evidence[0]:g.evidence[1]],
                "evidence_start": g.evidence[0],
                "evidence_end": g.evidence[1],
                "confidence": confidence,
                "extractor": NAME,
                "extractor_version": settings.extractor_version,
            }
        )
    return rows, rejections


def _rejection_row(
    job: DocumentJob,
    key: TripleKey,
    surface: _Surface,
    support: int,
    n_valid: int,
    reason: str,
    detail: str,
    version: str,
) -> dict[str, Any]:
    ident = json.dumps([job.doc_id, job.content_hash, key, reason], separators=(",", ":"))
    return {
        "rejection_id": sha256(ident),
        "doc_id": job.doc_id,
        "content_hash": job.content_hash,
        "subject": surface.subject,
        "subject_type": surface.subject_type,
        "relation": surface.relation,
        "object": surface.object,
        "object_type": surface.object_type,
        "context": [{"qualifier": q, "text": t} for q, t in surface.context],
        "support": support,
        "valid_samples": n_valid,
        "share": support / n_valid if n_valid else 0.0,
        "reason": reason,
        "detail": detail,
        "extractor_version": version,
    }


