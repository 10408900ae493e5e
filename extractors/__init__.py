"""Extractors: documents in, assertions out (see base.py for the protocol)."""

from __future__ import annotations

from typing import Any

from litkg.extractors.base import Extractor

EXTRACTORS = ("spacy", "llm", "student", "student+rules")


def make_extractor(name: str = "spacy", vocabulary: str = "ml", **options: Any) -> Extractor:
    """Build an extractor by name; heavy imports happen only for the one chosen.

    `package.module:Class` names any class implementing the protocol (built with no
    arguments), e.g. the test suite's `tests.scripted:ScriptedExtractor`, which reads the
    triples written in an abstract: how a failing property-test stream is replayed.
    """
    if ":" in name:
        import importlib

        module, _, cls = name.partition(":")
        return getattr(importlib.import_module(module), cls)()
    if name == "spacy":
        from litkg.extractors.spacy_rules import SpacyRuleExtractor

        return SpacyRuleExtractor(vocabulary=vocabulary, **options)
    if name == "llm":
        from litkg.extractors.llm import LLMExtractor

        return LLMExtractor(vocabulary=vocabulary, **options)
    if name in ("student", "student+rules"):
        from litkg.extractors.student.extractor import StudentExtractor

        return StudentExtractor(vocabulary=vocabulary, rules=name == "student+rules", **options)
    raise ValueError(f"unknown extractor {name!r} (choose from {', '.join(EXTRACTORS)})")
