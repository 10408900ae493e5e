"""Seeing and using the graph (issue 15) without a browser: exports that networkx and Neo4j
read, the change log as sentences, `litkg context` for RAG prompts, the explorer's JSON API and
the report's content, on the demo store. (tests/test_browser.py drives a real browser.)"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import networkx as nx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import litkg
from litkg.cli import app
from litkg.view import changelog, export, report
from litkg.view.serve import create_app

KD = ("knowledge distillation", "improves", "student accuracy")
runner = CliRunner()


@pytest.fixture
def kg(demo_store):
    with litkg.open(demo_store) as graph:
        yield graph


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


# -- exports -----------------------------------------------------------------------------------
def test_graphml_export_loads_in_networkx_with_contexts_and_evidence(demo_store, tmp_path):
    out = tmp_path / "graph.graphml"
    cli("export", "--format", "graphml", "--out", str(out), "--as-of", "2024-03-31",
        "--home", str(demo_store))
    g = nx.read_graphml(out)
    with litkg.open(demo_store) as kg:
        edges = kg.edges("2024-03-31")
    assert isinstance(g, nx.MultiDiGraph) and g.number_of_edges() == edges.height
    kd = [d for s, o, d in g.edges(data=True)
          if g.nodes[s]["canonical"] == KD[0] and d["relation"] == KD[1]
          and g.nodes[o]["canonical"] == KD[2]]
    assert len(kd) == 1 and kd[0]["support"] == 6 and isinstance(kd[0]["confidence"], float)
    assert len(kd[0]["evidence_docs"].split("; ")) == 6
    assert {e["doc_id"] for e in json.loads(kd[0]["evidence"])} == set(
        kd[0]["evidence_docs"].split("; "))
    contexts = {d.get("context") for _, _, d in g.edges(data=True)}
    assert "dataset=imagenet" in contexts  # qualified claims keep their context
    assert {d["status"] for _, _, d in g.edges(data=True)} == {"active", "contested"}


def test_neo4j_export_has_typed_import_headers_and_every_endpoint_exists(demo_store, tmp_path):
    out = tmp_path / "neo4j"
    cli("export", "-f", "neo4j", "-o", str(out), "--home", str(demo_store))
    with (out / "entities.csv").open(newline="") as fh:
        nodes = list(csv.reader(fh))
    with (out / "claims.csv").open(newline="") as fh:
        rels = list(csv.reader(fh))
    assert nodes[0] == export.ENTITY_HEADER and rels[0] == export.CLAIM_HEADER
    assert nodes[0][0] == "entityId:ID(Entity)" and ":LABEL" in nodes[0]
    assert rels[0][:3] == [":START_ID(Entity)", ":END_ID(Entity)", ":TYPE"]
    for header in (nodes[0], rels[0]):  # name[:type], types neo4j-admin knows
        for col in header:
            _, _, typ = col.partition(":")
            assert typ in ("", "ID(Entity)", "START_ID(Entity)", "END_ID(Entity)", "TYPE",
                           "LABEL", "date", "long", "double", "string[]"), col
    ids = [row[0] for row in nodes[1:]]
    assert len(ids) == len(set(ids))
    assert rels[1:] and all(r[0] in set(ids) and r[1] in set(ids) for r in rels[1:])
    assert all(len(r) == len(rels[0]) for r in rels) and all(len(n) == len(nodes[0])
                                                             for n in nodes)
    types = {r[2] for r in rels[1:]}
    assert {"IMPROVES", "OUTPERFORMS", "USED_FOR"} <= types
    assert "neo4j-admin database import full" in (out / "import.sh").read_text()


def test_jsonl_export_has_every_edge_with_its_evidence_sentences(demo_store, tmp_path):
    out = tmp_path / "edges.jsonl"
    cli("export", "-f", "jsonl", "-o", str(out), "--home", str(demo_store))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    with litkg.open(demo_store) as kg:
        assert len(rows) == kg.edges().height
    (kd,) = [r for r in rows if (r["subject"], r["relation"], r["object"]) == KD]
    assert kd["support"] == 7 and kd["as_of"] == "2024-04-01" and kd["context"] == ""
    assert len(kd["evidence"]) == kd["evidence_count"] >= 7
    assert all(e["sentence"] and e["url"].startswith("https://arxiv.org/abs/")
               for e in kd["evidence"])


# -- change log, context -----------------------------------------------------------------------
def test_changes_are_sentences_and_a_contested_claim_names_what_beats_it(demo_store):
    text = cli("changes", "2024-03-20", "2024-03-21", "--home", str(demo_store))
    assert ("2024-03-21: 'graphformer outperforms gatedgcn (dataset=cora)' is now contested "
            "by 'gatedgcn outperforms graphformer (dataset=cora)', 0.96 vs 0.99") in text
    assert all(line.startswith("2024-03-21: ") for line in text.splitlines())
    rows = [json.loads(line) for line in cli("changes", "2024-03-20", "2024-03-21", "-f",
                                             "json", "--home", str(demo_store)).splitlines()]
    assert [r["sentence"] for r in rows] == text.splitlines()


def test_a_sentence_per_kind_of_change():
    row = {"day": date(2024, 3, 2), "subject": "a", "relation": "improves", "object": "b",
           "context": "dataset=x", "confidence": 0.96, "support": 2, "prev_confidence": 0.8,
           "prev_support": 1, "evidence_docs": ["pmid:1"], "winner_subject": "a",
           "winner_relation": "degrades", "winner_object": "b", "winner_context": "dataset=x",
           "winner_confidence": 0.99}
    said = {kind: changelog.sentence({**row, "change": kind}) for kind in
            ("added", "reinforced", "weakened", "contested", "resolved", "retracted",
             "restored")}
    assert said["reinforced"] == ("2024-03-02: 'a improves b (dataset=x)' is reinforced: "
                                  "1 paper → 2, confidence 0.80 → 0.96 [pmid:1]")
    assert "contested by 'a degrades b (dataset=x)', 0.96 vs 0.99" in said["contested"]
    assert "retracted" in said["retracted"] and "no longer contested" in said["resolved"]


def test_context_answers_in_markdown_or_json_like_the_api(demo_store):
    md = cli("context", "knowledge distilation", "--home", str(demo_store))  # fuzzy
    assert md.startswith("What the literature says about KD (knowledge distillation)")
    assert ("- knowledge distillation improves student accuracy: confidence 1.00, support 7, "
            "active") in md
    assert '"KD improves student accuracy." [arxiv:2404.00060, 2024-04-01]' in md
    doc = json.loads(cli("context", "KD", "--format", "json", "--hops", "2", "--as-of",
                         "2024-03-31", "--home", str(demo_store)))
    assert doc["entity"]["match"] == "acronym" and doc["as_of"] == "2024-03-31"
    kd = doc["claims"][0]
    assert (kd["subject"], kd["relation"], kd["object"], kd["support"]) == (*KD, 6)
    api = TestClient(create_app(litkg.open(demo_store))).get(
        "/api/context", params={"q": "KD", "hops": 2, "as_of": "2024-03-31"}).json()
    assert api == doc


# -- the explorer's JSON API -------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(demo_store):
    with TestClient(create_app(litkg.open(demo_store))) as c:
        yield c


def test_api_entity_gives_edges_evidence_and_neighbourhood_as_of_a_day(client):
    (hit, *_) = client.get("/api/search", params={"q": "KD"}).json()
    assert hit["match"] == "acronym"
    now = client.get(f"/api/entity/{hit['entity_id']}").json()
    assert now["as_of"] == "2024-04-01" and "knowledge distillation" in now["entity"]["aliases"]
    kd = next(e for e in now["edges"] if e["object"] == KD[2])
    assert (kd["support"], kd["change"], kd["changed_on"]) == (7, "reinforced", "2024-04-01")
    assert kd["evidence"][0]["url"] == "https://arxiv.org/abs/2404.00060"
    nodes = {n["id"] for n in now["graph"]["nodes"]}
    assert all(e["source"] in nodes and e["target"] in nodes for e in now["graph"]["edges"])
    then = client.get(f"/api/entity/{hit['entity_id']}",
                      params={"as_of": "2024-03-05"}).json()
    kd_then = next(e for e in then["edges"] if e["object"] == KD[2])
    assert kd_then["support"] < 7 and len(then["edges"]) < len(now["edges"])
    two = client.get(f"/api/entity/{hit['entity_id']}", params={"hops": 2}).json()
    assert len(two["graph"]["edges"]) >= len(now["graph"]["edges"])


def test_api_errors_and_pages(client):
    assert client.get("/api/entity/nope").status_code == 404
    assert client.get("/api/entity/x", params={"as_of": "March"}).status_code == 400
    assert client.get("/api/context", params={"q": "zzzqqq"}).status_code == 404
    changes = client.get("/api/changes", params={"from": "2024-03-20", "to": "2024-03-21"})
    assert any("is now contested by" in c["sentence"] for c in changes.json())
    page = client.get("/entity/knowledge distillation")  # a name redirects to the entity id
    assert page.status_code == 200 and 'id="explorer"' in page.text
    assert client.get("/static/cytoscape.min.js").status_code == 200
    assert "knowledge distillation" in client.get("/search", params={"q": "distil"}).text
    home = client.get("/")
    assert home.status_code == 200 and 'href="entity/' in home.text  # entities linked


# -- the report's content ----------------------------------------------------------------------
def test_report_is_self_contained_and_covers_every_section(demo_store, tmp_path):
    out = tmp_path / "r.html"
    path = cli("report", "--out", str(out), "--since", "2024-03-01", "--home", str(demo_store))
    assert Path(path.strip()) == out.resolve()
    html = out.read_text()
    for section in ("summary", "growth", "strongest", "reinforced", "contested", "changes",
                    "relations", "quality"):
        assert f'<section id="{section}"' in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert 'src="http' not in html and "<link rel=\"stylesheet\"" not in html
    assert "graphformer outperforms gatedgcn" in html  # a newly contested claim, beside
    assert "gatedgcn outperforms graphformer" in html  # the claim that beats it
    assert "not an ISO date" in html  # the quarantine summary
    with litkg.open(demo_store) as kg:
        built = report.build(kg, since=date(2024, 3, 1))
    assert built.plots == html.count('class="plot') >= 12
    assert html.count("<svg") >= built.plots


def test_report_refuses_since_after_as_of(demo_store, tmp_path):
    result = runner.invoke(app, ["report", "--out", str(tmp_path / "r.html"), "--as-of",
                                 "2024-03-10", "--since", "2024-03-20", "--home",
                                 str(demo_store)])
    assert result.exit_code == 1 and "must be before" in result.output


def test_litkg_serve_listens_on_loopback_and_answers(demo_store):
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "litkg", "serve", "--port", str(port),
                             "--home", str(demo_store)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                days = httpx.get(f"http://127.0.0.1:{port}/api/days", timeout=5).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "did not start"
                time.sleep(0.2)
        assert days[0] == "2024-03-01" and days[-1] == "2024-04-01"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    assert f"on http://127.0.0.1:{port}/" in stderr


@pytest.mark.parametrize("args", [["report", "--out", "x.html"], ["export", "-f", "jsonl", "-o",
                                  "x.jsonl"], ["changes", "2024-03-01"], ["serve"]])
def test_commands_without_a_store_fail_in_one_line(args, tmp_path):
    result = runner.invoke(app, [*args, "--home", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no litkg store" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
