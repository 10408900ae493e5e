"""The student extractor, end to end on a deliberately tiny model: `litkg train` writes a model
directory, the extractor loads it, the pipeline extracts and constructs a typed graph, `litkg
eval` reproduces the dev figures recorded at training time, the rules combination keeps the
relations the student cannot learn, and a store's assertions distil back into training data."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import SHARED
from litkg.extractors.student.data import from_corpus
from litkg.extractors.student.distil import from_store
from litkg.extractors.student.extractor import StudentExtractor
from litkg.extractors.student.model import ModelError, StudentModel
from typer.testing import CliRunner

from litkg import schema
from litkg.cli import app
from litkg.eval.harness import load_corpus
from litkg.pipeline import days_between, process_days
from litkg.store import Store
from tests.scripted import write_docs

SCIERC = SHARED / "scierc" / "train.json"
TINY = 12  # documents: enough for the model to memorise, small enough for CI (~30 s)
SCIERC_TYPES = {"Task", "Method", "Metric", "Material", "OtherScientificTerm", "Generic"}
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A student trained by the CLI on a dozen SciERC training abstracts (dev: the same ones,
    so that the memorised model predicts something to compare)."""
    out = tmp_path_factory.mktemp("models") / "student-ml"
    result = runner.invoke(app, ["train", "scierc", str(SCIERC), "--dev", str(SCIERC),
                                 "--limit", str(TINY), "--epochs", "12", "--output", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_training_writes_a_self_describing_model_directory(tiny_model):
    meta = json.loads((tiny_model / "meta.json").read_text())
    assert meta["vocabulary"] == "ml" and meta["level"] == "sentence"
    assert set(meta["entity_types"]) <= SCIERC_TYPES
    assert set(meta["relations"]) <= set(schema.vocabulary("ml").relations)
    assert len(meta["train"]["fingerprint"]) == 64 and meta["train"]["documents"] == TINY
    assert meta["metrics"]["dev"]["relaxed"]["pred"] > 0
    assert 0 <= meta["calibration"]["n"] and meta["training_seconds"]["total"] > 0
    assert meta["candidates"] == "ner+np"  # SciERC's default: noun phrases are candidates too
    for part in ("ner", "relations.npz", "features.json", "span_types.json"):
        assert (tiny_model / part).exists()
    size = sum(p.stat().st_size for p in tiny_model.rglob("*") if p.is_file())
    assert size < 20_000_000


def test_eval_through_the_pipeline_reproduces_the_figures_recorded_at_training(tiny_model):
    meta = json.loads((tiny_model / "meta.json").read_text())
    result = runner.invoke(app, ["eval", "scierc", str(SCIERC), "--extractor", "student",
                                 "--model", str(tiny_model), "--limit", str(TINY), "--json"])
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout[result.stdout.index("{"):])
    assert scored["extractor"]["name"] == "student"
    for mode in ("strict", "relaxed"):
        micro = scored["relations"][mode]["typed"]["micro"]
        assert (micro["tp"], micro["pred"]) == (meta["metrics"]["dev"][mode]["tp"],
                                                meta["metrics"]["dev"][mode]["pred"])
    assert scored["calibration"]["assertions"]["ece"] == pytest.approx(
        meta["metrics"]["dev"]["ece"])


def test_backfill_with_the_student_builds_a_typed_graph(tiny_model, tmp_path, monkeypatch):
    src = tmp_path / "scierc.jsonl"
    assert runner.invoke(app, ["convert", "scierc", str(SCIERC), str(src), "--limit",
                               str(TINY)]).exit_code == 0
    home = tmp_path / "store"
    monkeypatch.setenv("LITKG_MODELS", str(tiny_model.parent))  # the default model location
    result = runner.invoke(app, ["backfill", "--start", "1980-01-01", "--end", "2016-12-31",
                                 "--source", str(src), "--extractor", "student", "--home",
                                 str(home), "--summary-format", "json"])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(Store(home).catalog_path), read_only=True)
    extractors = con.execute("SELECT DISTINCT extractor FROM assertions").fetchall()
    assert extractors == [("student",)]
    types = {t for (t,) in con.execute(
        "SELECT DISTINCT entity_type FROM entities WHERE entity_type IS NOT NULL").fetchall()}
    assert types and types <= SCIERC_TYPES
    assert con.execute("SELECT count(*) FROM edges").fetchone()[0] > 0


def test_the_combination_keeps_rule_hits_for_relations_the_student_has_no_label_for(
        tiny_model):
    from tests.llm_server import documents

    combined = StudentExtractor(vocabulary="ml", model=tiny_model, rules=True)
    assert {"outperforms", "improves", "degrades"} <= set(combined.kept_from_rules)
    assert not set(combined.kept_from_rules) & set(combined.model.meta["relations"])
    out = combined.extract(documents(
        "FooNet outperforms BarNet on ImageNet. Dropout improves the accuracy of the tagger."
    )).assertions.to_pylist()
    by_rules = [r for r in out if r["extractor"] == "spacy"]
    assert {r["relation"] for r in by_rules} >= {"outperforms", "improves"}
    assert all(r["relation"] in combined.kept_from_rules for r in by_rules)
    assert combined.config_key() != StudentExtractor(model=tiny_model).config_key()


def test_a_missing_or_mismatched_model_is_a_clear_error(tiny_model, tmp_path):
    with pytest.raises(ModelError, match="make model"):
        StudentExtractor(model=tmp_path / "nothing")
    with pytest.raises(ModelError, match="vocabulary"):
        StudentExtractor(vocabulary="biomed", model=tiny_model)
    result = runner.invoke(app, ["eval", "scierc", str(SCIERC), "--extractor", "student",
                                 "--model", str(tmp_path / "nothing"), "--limit", "1"])
    assert result.exit_code == 1 and "make model" in result.output


def assert_eval_reproduces_training(model: Path, meta: dict) -> None:
    """`litkg eval` through the pipeline finds the strict figures recorded at training time."""
    scored = runner.invoke(app, ["eval", "scierc", str(SCIERC), "--extractor", "student",
                                 "--model", str(model), "--limit", str(TINY), "--json"])
    assert scored.exit_code == 0, scored.output
    micro = json.loads(scored.stdout[scored.stdout.index("{"):])["relations"]["strict"]["typed"]
    assert (micro["micro"]["tp"], micro["micro"]["pred"]) == (
        meta["metrics"]["dev"]["strict"]["tp"], meta["metrics"]["dev"]["strict"]["pred"])


def test_static_vectors_retrain_the_relation_step_over_a_kept_ner(tiny_model, tmp_path):
    """`--ner-from` keeps a trained NER; `--vectors` adds the static vectors' dense features
    (here 16 dimensions, relations only), saved with the model and used at extraction: the
    pipeline reproduces the figures recorded at training time."""
    out = tmp_path / "with-vectors"
    result = runner.invoke(app, ["train", "scierc", str(SCIERC), "--dev", str(SCIERC),
                                 "--limit", str(TINY), "--vectors", "16", "--vectors-in",
                                 "relations", "--ner-from", str(tiny_model), "--output", str(out)])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["hyperparameters"]["vector_dims"] == 16
    assert meta["hyperparameters"]["ner_reused"] and meta["hyperparameters"]["C"] == 0.25
    assert (out / "vectors.npz").exists()
    assert StudentModel.load(out).relations.dense == 16
    assert_eval_reproduces_training(out, meta)
    bad = runner.invoke(app, ["train", "scierc", str(SCIERC), "--limit", "2", "--vectors", "16",
                              "--vectors-in", "tagger", "--output", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "--vectors-in" in bad.output


def test_dependency_features_retrain_the_relation_step_and_parse_at_extraction(tiny_model,
                                                                              tmp_path):
    """`--dependencies`: the candidates' pipeline parses, pairs get dependency-path features
    (recorded in meta.json, with their own L2 penalty); the loaded model parses at extraction,
    so the pipeline reproduces the figures recorded at training time. Noun-phrase candidates
    only (the parser is the small English pipeline's, beside its tagger)."""
    out = tmp_path / "with-dependencies"
    result = runner.invoke(app, ["train", "scierc", str(SCIERC), "--dev", str(SCIERC),
                                 "--limit", str(TINY), "--dependencies", "--ner-from",
                                 str(tiny_model), "--output", str(out)])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["hyperparameters"]["dependencies"] and meta["hyperparameters"]["C"] == 0.125
    model = StudentModel.load(out)
    assert model.parses and "parser" in model.tagger.pipe_names
    assert any(f.startswith("dp:") for f in model.relations.features)
    assert not StudentModel.load(tiny_model).parses
    assert_eval_reproduces_training(out, meta)
    bad = runner.invoke(app, ["train", "scierc", str(SCIERC), "--limit", "2", "--dependencies",
                              "--candidates", "ner", "--output", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "ner+np" in bad.output


def test_contextual_vectors_retrain_the_relation_step_and_travel_with_the_model(tiny_model,
                                                                              tmp_path):
    """`--context-layers 2`: the first two blocks of all-MiniLM-L6-v2 give each pair its
    contextual columns (4 x 384), fitted on the training words and saved with the model
    (`context.npz`, float16): the loaded model encodes at extraction without the package, and
    the pipeline reproduces the figures recorded at training time."""
    out = tmp_path / "with-context"
    result = runner.invoke(app, ["train", "scierc", str(SCIERC), "--dev", str(SCIERC),
                                 "--limit", str(TINY), "--context-layers", "2", "--ner-from",
                                 str(tiny_model), "--output", str(out)])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["hyperparameters"]["context_layers"] == 2
    model = StudentModel.load(out)
    assert model.context is not None and model.context.layers == 2
    assert model.relations.dense == 4 * 384
    # the encoder runs as the NER pipeline's last component, hence in its worker processes
    assert model.nlp.pipe_names[-1] == "student_context"
    texts = [d.text for d in from_corpus(load_corpus("scierc", SCIERC, TINY),
                                         schema.vocabulary("ml"))]
    def predicted(n_process: int) -> list:
        return [p for _, preds in model.predict(texts, n_process=n_process) for p in preds]
    one, two = predicted(1), predicted(2)  # the same up to BLAS's summation order
    assert [(p.head, p.label, p.tail) for p in two] == [(p.head, p.label, p.tail) for p in one]
    assert [p.probability for p in two] == pytest.approx([p.probability for p in one],
                                                         abs=1e-4)
    assert (out / "context.npz").stat().st_size < 40_000_000
    assert_eval_reproduces_training(out, meta)
    bad = runner.invoke(app, ["train", "scierc", str(SCIERC), "--limit", "2",
                              "--context-layers", "7", "--output", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "context layers 7" in bad.output
    # a backfill names the model directory (here not the default location)
    src = tmp_path / "scierc.jsonl"
    assert runner.invoke(app, ["convert", "scierc", str(SCIERC), str(src), "--limit",
                               "4"]).exit_code == 0
    home = tmp_path / "store"
    built = runner.invoke(app, ["backfill", "--start", "1980-01-01", "--end", "2016-12-31",
                                "--source", str(src), "--extractor", "student", "--model",
                                str(out), "--home", str(home), "--summary-format", "json"])
    assert built.exit_code == 0, built.output
    con = duckdb.connect(str(Store(home).catalog_path), read_only=True)
    assert con.execute("SELECT count(*) FROM edges").fetchone()[0] > 0
    rules = runner.invoke(app, ["run", "--date", "2016-01-01", "--extractor", "spacy",
                                "--model", str(out), "--home", str(home)])
    assert rules.exit_code == 1 and "--model applies to the student" in rules.output


class GoldTeacher:
    """A teacher that asserts exactly the gold relations of a corpus (confidence 0.9)."""

    name = "gold"
    version = "1"

    def __init__(self, corpus) -> None:  # noqa: ANN001
        self.docs = {d.doc_id: d for d in corpus.documents}

    def config_key(self) -> str:
        return "gold:1"

    def extract(self, documents):  # noqa: ANN001, ANN201
        from litkg.extractors.base import ExtractionResult, assertions_from_rows

        rows = []
        for doc_id, chash in zip(documents.column("doc_id").to_pylist(),
                                 documents.column("content_hash").to_pylist(), strict=True):
            d = self.docs[doc_id]
            by_id = {m.ids[0]: m for m in d.mentions}
            for r in d.relations:
                h, t = by_id[r.head], by_id[r.tail]
                rows.append({
                    "doc_id": doc_id, "content_hash": chash,
                    "subject": d.text[h.start:h.end], "subject_start": h.start,
                    "subject_end": h.end, "subject_type": h.type, "relation": r.label.lower(),
                    "object": d.text[t.start:t.end], "object_start": t.start,
                    "object_end": t.end, "object_type": t.type, "context": [],
                    "evidence": None, "evidence_start": None, "evidence_end": None,
                    "confidence": 0.9, "extractor": self.name, "extractor_version": "1"})
        return ExtractionResult(assertions=assertions_from_rows(rows))


def test_distilling_a_store_recovers_what_the_teacher_asserted(tmp_path):
    corpus = load_corpus("scierc", SCIERC, 8)
    src = tmp_path / "in.jsonl"
    corpus.write_jsonl(src)
    store = Store(tmp_path / "store")
    days = sorted({d.published for d in corpus.documents})
    process_days(store, days_between(days[0], days[-1]), sources=[str(src)],
                 extractor=GoldTeacher(corpus), vocabulary="ml")
    vocab = schema.vocabulary("ml")
    distilled = {d.doc_id: d for d in from_store(store.home, vocab, min_confidence=0.6)}
    gold = {d.doc_id: d for d in from_corpus(corpus, vocab)}
    assert set(distilled) == {k for k, d in gold.items() if d.relations}
    recovered = total = 0
    for doc_id, d in distilled.items():
        spans = {m.groups[0]: (m.start, m.end) for m in d.mentions}
        got = {(spans[r.head], r.label, spans[r.tail], r.weight) for r in d.relations}
        ids = {m.groups[0]: (m.start, m.end) for m in gold[doc_id].mentions}
        want = {(ids[r.head], r.label, ids[r.tail], 0.9) for r in gold[doc_id].relations}
        assert got <= want  # spans, labels and the teacher's confidence as the weight
        recovered, total = recovered + len(got), total + len(want)
    # the constructor ignores the few that become self-loops once entities are resolved
    assert recovered >= 0.9 * total
    assert from_store(store.home, vocab, min_confidence=0.95) == []


def test_train_store_distils_the_llm_teacher_over_http(tmp_path):
    from llm_server import ScriptedServer, pattern_responder

    names = ["Foo", "Bar", "Baz", "Qux", "Zap", "Vex", "Lum", "Nox", "Ory", "Pim"]
    docs = [(f"doi:{i}", date(2024, 3, 1 + i % 3),
             f"{a}Net outperforms {b}Net on {a}Set. We release {a}Net.")
            for i, (a, b) in enumerate(zip(names, names[1:] + names[:1], strict=True))]
    src = write_docs(tmp_path / "in.jsonl", docs)
    home = tmp_path / "store"
    with ScriptedServer(responder=pattern_responder) as server:
        from litkg.extractors.llm import LLMExtractor

        teacher = LLMExtractor(env={}, vocabulary="ml", urls=[server.url],
                               model="scripted-model", cache_dir=tmp_path / "cache", k0=4,
                               k_max=8)
        process_days(Store(home), days_between(date(2024, 3, 1), date(2024, 3, 3)),
                     sources=[str(src)], extractor=teacher, vocabulary="ml")
    out = tmp_path / "distilled"
    result = runner.invoke(app, ["train", "store", "--home", str(home), "--min-confidence",
                                 "0.6", "--teacher", "llm", "--epochs", "8", "--output",
                                 str(out)])
    assert result.exit_code == 0, result.output
    model = StudentModel.load(out)
    assert model.meta["relations"] == ["outperforms"]
    assert model.meta["source"]["kind"] == "store"
    assert model.meta["train"]["documents"] + model.meta["dev"]["documents"] == len(docs)
    (_, found), = model.predict(["QuxNet outperforms ZapNet on QuxSet."])
    best = max(found, key=lambda p: p.confidence)
    assert (best.head.text, best.label, best.tail.text) == ("QuxNet", "outperforms", "ZapNet")


def test_dataset_labels_become_the_vocabulary_relations_named_after_them():
    from litkg.extractors.student.data import dataset_to_vocab

    biored = dataset_to_vocab(schema.vocabulary("biomed"), "biored")
    assert biored["Positive_Correlation"] == "positive_correlate"  # not cause / stimulate
    assert biored["Negative_Correlation"] == "negative_correlate"  # not inhibit / treat
    assert biored["Association"] == "associate" and biored["Bind"] == "interact"
    scierc = dataset_to_vocab(schema.vocabulary("ml"), "scierc")
    assert scierc["COMPARE"] == "compare"  # not outperforms, which also maps to COMPARE
    assert scierc["USED-FOR"] == "used-for"


def test_biored_relations_are_learnt_undirected():
    corpus = load_corpus("biored", SHARED / "biored" / "Dev.PubTator", 5)
    docs = from_corpus(corpus, schema.vocabulary("biomed"))
    labels = {r.label for d in docs for r in d.relations}
    assert "positive_correlate" in labels or "negative_correlate" in labels
    assert all(r.symmetric for d in docs for r in d.relations)
