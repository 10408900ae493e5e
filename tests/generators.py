"""Hypothesis profiles and the generated input streams shared by the property tests.

Profiles (LITKG_HYPOTHESIS_PROFILE): `ci` (default: derandomized, so a failure reproduces),
`thorough` (1,000 examples per property: `make test-thorough`), `shard` (random, for long runs
split with `--hypothesis-seed=N`), `noshrink` (while developing: fail fast).
"""

from __future__ import annotations

import os
from datetime import date

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from tests.scripted import FAIL_MARK, abstract, claim

_COMMON = {"deadline": None, "print_blob": True,
           "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=50, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=1000, derandomize=True, **_COMMON)
settings.register_profile("shard", max_examples=50, **_COMMON)
settings.register_profile("noshrink", max_examples=50, derandomize=True,
                          phases=[Phase.explicit, Phase.generate], **_COMMON)
PROFILE = os.environ.get("LITKG_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def time_limit(in_ci: int) -> int:
    """A property's pytest-timeout (seconds): `in_ci` under the CI profile, none otherwise. A
    test's timeout mark overrides `--timeout=0`, and 1,000 examples of a whole pipeline take
    longer than any CI limit (`make test-thorough` stopped each at the 1,800 s mark)."""
    return in_ci if PROFILE == "ci" else 0


def examples(in_ci: int) -> int:
    """Examples for a costly property: `in_ci` under the CI profile, the profile's otherwise."""
    return in_ci if PROFILE == "ci" else settings.get_profile(PROFILE).max_examples


DAYS = 6
DOCS = ["arxiv:2401.00001", "arxiv:2401.00002", "pmid:101", "pmid:102", "doi:10.9/own"]
XREFS = ["doi:10.1/x", "doi:10.1/y", "doi:10.9/own", "pmid:101", "arxiv:2401.00001"]
POOLS = {
    "ml": (
        ["A", "B", "knowledge distillation (KD)", "KD", "knowledge diffusion (KD)", "SAR",
         "SARS", "synthetic aperture radar (SAR)", "CNNs", "the CNN"],
        ["outperforms", "underperforms", "improves", "degrades", "compare", "used-for"],
    ),
    "biomed": (
        ["aspirin", "AIDS", "acquired immune deficiency syndrome (AIDS)", "TNF",
         "tumor necrosis factor (TNF)", "fever", "Aid"],
        ["cause", "prevent", "treat", "inhibit", "stimulate", "associate"],
    ),
}
CONTEXTS = ["", "dataset=X", "dataset=Y", "dataset=X,metric=F1"]


def day(n: int) -> date:
    return date(2024, 1, n)


def contradiction(vocab: str, s: str, r: str, o: str) -> tuple[str, str, str] | None:
    """A claim that contradicts (s, r, o) under the vocabulary's rules, if any."""
    from litkg import schema

    for rule in schema.vocabulary(vocab).contradiction_rules():
        if rule["relation"] == r:
            return (o, rule["partner"], s) if rule["reversed"] else (s, rule["partner"], o)
    return None


@st.composite
def streams(draw: st.DrawFn) -> dict:
    vocab = draw(st.sampled_from(sorted(POOLS)))
    entities, relations = POOLS[vocab]
    seen: list[tuple[str, str, str, str]] = []

    @st.composite
    def claims(draw2: st.DrawFn) -> str:
        # half of the claims contradict an earlier one (often in another document, day or
        # commit), mostly in its context: contested and re-judged edges must be common
        ctx = draw2(st.sampled_from(CONTEXTS))
        triple = None
        if seen and draw2(st.booleans()):
            s, r, o, old_ctx = draw2(st.sampled_from(seen))
            triple = contradiction(vocab, s, r, o)
            ctx = old_ctx if draw2(st.integers(0, 2)) else ctx
        if triple is None:
            triple = (draw2(st.sampled_from(entities)), draw2(st.sampled_from(relations)),
                      draw2(st.sampled_from(entities)))
        seen.append((*triple, ctx))
        return claim(*triple, ctx, draw2(st.sampled_from([0.3, 0.5, 0.7, 0.9])))

    claims = claims()
    main, late, texts = [], [], []
    for _ in range(draw(st.integers(1, 10))):
        if texts and draw(st.integers(0, 4)) == 0:
            text = draw(st.sampled_from(texts))  # the same text from another source
        else:
            text = abstract(*draw(st.lists(claims, min_size=1, max_size=3)))
            if draw(st.integers(0, 11)) == 0:
                text += " ;; " + FAIL_MARK
        texts.append(text)
        record = {"doc_id": draw(st.sampled_from(DOCS)), "title": "t", "abstract": text,
                  "published": day(draw(st.integers(1, DAYS)))}
        xrefs = draw(st.lists(st.sampled_from(XREFS), max_size=2, unique=True))
        if xrefs:
            record["other_ids"] = xrefs
        if draw(st.booleans()):
            record["revised"] = day(draw(st.integers(1, DAYS)))
        (late if draw(st.integers(0, 3)) == 0 else main).append(record)
    for doc, d in draw(st.lists(st.tuples(st.sampled_from(DOCS), st.integers(1, DAYS)),
                                max_size=2)):
        main.append({"doc_id": doc, "deleted": True, "deleted_on": day(d)})
    return {"vocabulary": vocab, "main": main, "late": late}


