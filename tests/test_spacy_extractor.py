"""The embedded spaCy extractor: dependency patterns mapped to the vocabulary."""

from __future__ import annotations

import pyarrow as pa
import pytest


def triples(extractor, text: str) -> set[tuple]:
    docs = pa.table({"doc_id": ["doi:x"], "content_hash": ["h"], "title": [""], "abstract": [text]})
    rows = extractor.extract(docs).assertions.to_pylist()
    for r in rows:  # offsets point into the abstract
        assert text[r["subject_start"] : r["subject_end"]] == r["subject"]
        assert text[r["object_start"] : r["object_end"]] == r["object"]
        assert r["evidence"] == text[r["evidence_start"] : r["evidence_end"]]
        assert 0 < r["confidence"] <= 1
    return {
        (
            r["subject"],
            r["relation"],
            r["object"],
            tuple(f"{c['qualifier']}={c['text']}" for c in r["context"]),
            r["confidence"],
        )
        for r in rows
    }


def find(found: set[tuple], s: str, r: str, o: str) -> tuple | None:
    return next((t for t in found if t[:3] == (s, r, o)), None)


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "SparseMixer outperforms Switch Transformer on GLUE.",
            ("SparseMixer", "outperforms", "Switch Transformer", ("dataset=GLUE",)),
        ),
        (
            "Label smoothing improves calibration.",
            ("Label smoothing", "improves", "calibration", ()),
        ),
        ("Weight decay degrades calibration.", ("Weight decay", "degrades", "calibration", ())),
        ("BERT is used for question answering.", ("BERT", "used-for", "question answering", ())),
        (
            "We use graph neural networks for molecular property prediction.",
            ("graph neural networks", "used-for", "molecular property prediction", ()),
        ),
        ("We evaluate LoRA-X on SQuAD.", ("SQuAD", "evaluate-for", "LoRA-X", ())),
        (
            "Mixup is a data augmentation technique.",
            ("Mixup", "hyponym-of", "data augmentation technique", ()),
        ),
        (
            "ResNet-50 outperforms ViT-B/16 on CIFAR-10 in terms of accuracy.",
            ("ResNet-50", "outperforms", "ViT-B/16", ("dataset=CIFAR-10", "metric=accuracy")),
        ),
    ],
)
def test_pattern_yields_triple_with_context(spacy_extractor, text, expected):
    found = triples(spacy_extractor, text)
    hit = find(found, *expected[:3])
    assert hit is not None, found
    assert hit[3] == expected[3]


def test_active_claims_are_stronger_than_noun_attachments(spacy_extractor):
    active = find(
        triples(spacy_extractor, "Dropout improves robustness."),
        "Dropout",
        "improves",
        "robustness",
    )
    noun = find(
        triples(spacy_extractor, "A parser for semantic role labeling is proposed."),
        "parser",
        "used-for",
        "semantic role labeling",
    )
    assert active and noun and active[4] > noun[4]


def test_hedged_claims_get_lower_confidence(spacy_extractor):
    plain = find(
        triples(spacy_extractor, "Mixup improves calibration."), "Mixup", "improves", "calibration"
    )
    hedged = find(
        triples(spacy_extractor, "Mixup may improve calibration."),
        "Mixup",
        "improves",
        "calibration",
    )
    assert plain and hedged and hedged[4] < plain[4]


def test_negated_claims_are_not_extracted(spacy_extractor):
    assert (
        find(
            triples(spacy_extractor, "Dropout does not improve calibration."),
            "Dropout",
            "improves",
            "calibration",
        )
        is None
    )


def test_coordinated_arguments_are_distributed(spacy_extractor):
    found = triples(
        spacy_extractor, "SparseMixer outperforms GShard and Switch Transformer on GLUE."
    )
    assert find(found, "SparseMixer", "outperforms", "GShard")
    assert find(found, "SparseMixer", "outperforms", "Switch Transformer")


def test_pronoun_subjects_are_not_entities(spacy_extractor):
    found = triples(spacy_extractor, "It outperforms BERT on GLUE. Our method improves accuracy.")
    assert not any(t[0].lower() in ("it", "our method", "method") for t in found)


def test_model_meta_is_checked(spacy_extractor):
    assert spacy_extractor.nlp.meta["lang"] == "en"
    assert spacy_extractor.config_key().startswith("spacy:")
