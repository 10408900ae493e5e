"""Loaders on tiny hand-written fixtures in the SciERC and PubTator formats."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from litkg.documents import normalise_text
from litkg.eval import biored, scierc
from litkg.eval.corpus import LOCAL, global_entity, normalise_with_offsets

FIXTURES = Path(__file__).parent / "fixtures" / "eval"


def test_scierc_text_spans_dates_and_dedupe():
    corpus = scierc.load(FIXTURES / "tiny_scierc.json")
    assert corpus.dataset == "scierc" and not corpus.document_level
    d1, d2 = corpus.documents
    assert d1.doc_id == "scierc:P99-1001"
    assert d1.text == ("We use support vector machines (SVM) for parsing. "
                       "SVM outperforms decision trees.")
    assert d1.published == date(1999, 7, 1)  # ACL: year from the key, July
    assert d2.published == date(2010, 6, 1)  # CVPR
    surfaces = [d1.text[m.start:m.end] for m in d1.mentions]
    assert surfaces == ["support vector machines (SVM)", "parsing", "SVM", "decision trees"]
    svm_long, _, svm_short, trees = d1.mentions
    assert svm_long.entity == svm_short.entity  # one coreference cluster
    assert trees.entity.startswith(LOCAL) and trees.entity != svm_long.entity
    labels = [(r.label, r.symmetric) for r in d1.relations]
    assert labels == [("USED-FOR", False), ("COMPARE", True)]
    assert d1.relations[0].head == svm_long.ids[0]
    assert len(d2.relations) == 1  # the duplicated record counts once
    assert normalise_text(d1.text) == d1.text


@pytest.mark.parametrize(("key", "expected"), [
    ("P05-1057", date(2005, 7, 1)), ("C80-1001", date(1980, 8, 1)),
    ("J93-2004", date(1993, 6, 1)), ("NIPS_2016_12_abs", date(2016, 12, 1)),
])
def test_scierc_dates_from_keys(key, expected):
    assert scierc.date_of_key(key) == expected


def test_scierc_detokenise_keeps_token_spans():
    text, spans = scierc.detokenise(["a", "-LRB-", "b", "-RRB-", ",", "``", "c", "''", "'s"])
    assert text == 'a (b), "c"\'s'
    assert [text[s:e] for s, e in spans] == ["a", "(", "b", ")", ",", '"', "c", '"', "'s"]


def test_scierc_bad_record_names_the_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"doc_key": "nokey", "sentences": [["x"]], "ner": [[]],
                               "relations": [[]], "clusters": []}) + "\n")
    with pytest.raises(ValueError, match="bad.json:1"):
        scierc.load(bad)


def test_pubtator_offsets_concepts_and_normalisation():
    corpus = biored.load(FIXTURES / "tiny.PubTator")
    assert corpus.dataset == "biored" and corpus.document_level
    assert [d.doc_id for d in corpus.documents] == ["pmid:7", "pmid:42"]  # by PMID
    doc = corpus.documents[1]
    # title + " " + abstract, the double space collapsed as litkg stores it
    assert doc.text == ("Aspirin-induced ulcers in rats. TP53 mutations are associated with "
                        "gastric cancer. Aspirin inhibits COX2.")
    assert [doc.text[m.start:m.end] for m in doc.mentions] == [
        "Aspirin", "ulcers", "rats", "TP53", "gastric cancer", "Aspirin", "COX2"]
    asp1, asp2 = doc.mentions[0], doc.mentions[5]
    assert asp1.entity == asp2.entity == "D001241"
    cox2 = doc.mentions[6]
    assert cox2.entity.startswith(LOCAL)  # "-": no concept id, its own entity
    rels = {(r.head, r.label, r.tail) for r in doc.relations}
    # undirected and deduplicated: the reversed Association line is the same relation
    assert rels == {("D001241", "Positive_Correlation", "D014456"),
                    ("7157", "Association", "D013274")}
    assert all(r.symmetric for r in doc.relations)


def test_pubtator_composite_ids():
    doc = biored.load(FIXTURES / "tiny.PubTator").documents[0]
    halo = doc.mentions[1]
    assert doc.text[halo.start:halo.end] == "haloperidol"
    assert halo.ids == ("D006220", "D000001") and halo.entity == "D006220,D000001"


def test_pubtator_rejects_a_malformed_line():
    with pytest.raises(ValueError, match="unexpected line"):
        biored.parse("1|t|T\n1|a|A\n1\tonly\tthree\n")


def test_normalise_with_offsets_maps_spans():
    raw = "  a  bc \n d "
    text, at = normalise_with_offsets(raw)
    assert text == normalise_text(raw) == "a bc d"
    s, e = raw.index("bc"), raw.index("bc") + 2
    assert text[at[s]:at[e - 1] + 1] == "bc"


def test_global_entity_scopes_local_ids():
    assert global_entity("pmid:1", "D001") == "D001"
    assert global_entity("pmid:1", f"{LOCAL}c0") == f"pmid:1|{LOCAL}c0"


def test_corpus_writes_dated_litkg_input(tmp_path):
    from litkg.sources import iter_sources
    from litkg.sources.records import SourceRecord

    corpus = scierc.load(FIXTURES / "tiny_scierc.json")
    out = tmp_path / "scierc.jsonl"
    assert corpus.write_jsonl(out) == 2
    records = [r for r in iter_sources([out]) if isinstance(r, SourceRecord)]
    assert [(r.doc_id, r.published) for r in records] == [
        ("scierc:P99-1001", date(1999, 7, 1)), ("scierc:CVPR_2010_7_abs", date(2010, 6, 1))]
    assert records[0].abstract == corpus.documents[0].text
