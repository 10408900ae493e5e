"""Real sources through the pipeline: cross-source deduplication, PubMed revisions and
deletions, arXiv original text. Scripted abstracts ("s | relation | o | ctx | conf") make the
assertions exact; the XML / JSON builders here are reused by tests/test_ingest_manifest.py."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

from litkg.pipeline import days_between, ingest_only, process_days
from litkg.store import Store
from tests.scripted import ScriptedExtractor, abstract, claim
from tests.storecompare import snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "sources"


def day(n: int) -> date:
    return date(2024, 3, n)


# -- builders ------------------------------------------------------------------------------------
def pm_article(
    pmid: int, text: str, *, entrez: date, revised: date | None = None, doi: str | None = None,
    title: str = "T",
) -> str:
    rev = revised or entrez
    eloc = f'<ELocationID EIdType="doi" ValidYN="Y">{doi}</ELocationID>' if doi else ""
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE"><PMID Version="1">{pmid}</PMID>'
        f"<DateRevised><Year>{rev.year}</Year><Month>{rev.month:02d}</Month>"
        f"<Day>{rev.day:02d}</Day></DateRevised><Article><Journal><Title>J</Title></Journal>"
        f"<ArticleTitle>{escape(title)}</ArticleTitle>{eloc}<Abstract><AbstractText>"
        f"{escape(text)}</AbstractText></Abstract></Article></MedlineCitation><PubmedData>"
        f'<History><PubMedPubDate PubStatus="entrez"><Year>{entrez.year}</Year>'
        f"<Month>{entrez.month}</Month><Day>{entrez.day}</Day></PubMedPubDate></History>"
        "</PubmedData></PubmedArticle>\n"
    )


def pm_file(path: Path, *articles: str, deletes: tuple[int, ...] = ()) -> Path:
    dels = (
        "<DeleteCitation>" + "".join(f"<PMID Version=\"1\">{p}</PMID>" for p in deletes)
        + "</DeleteCitation>\n" if deletes else ""
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<PubmedArticleSet>\n'
        + "".join(articles) + dels + "</PubmedArticleSet>\n",
        encoding="utf-8",
    )
    return path


def ax_record(
    arxiv_id: str, text: str, *, created: date, doi: str | None = None, title: str = "T",
    cats: str = "cs.CL",
) -> str:
    stamp = created.strftime("%a, %d %b %Y 10:00:00 GMT")
    return json.dumps({
        "id": arxiv_id, "submitter": "A. Tester", "authors": "A. Tester", "title": title,
        "comments": None, "journal-ref": None, "doi": doi, "report-no": None,
        "categories": cats, "license": None, "abstract": "  " + text + "\n",
        "versions": [{"version": "v1", "created": stamp}],
        "update_date": created.isoformat(), "authors_parsed": [["Tester", "A.", ""]],
    })


def ax_file(path: Path, *records: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r + "\n" for r in records), encoding="utf-8")
    return path


def jsonl_file(path: Path, *records: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def run(store: Store, sources, days: list[date], **kw):
    return process_days(store, days, sources=sources, extractor=ScriptedExtractor(), **kw)


def edge(store: Store, subject: str, relation: str, obj: str, on: date) -> dict | None:
    row = store.connect().execute(
        "SELECT status, support, last_evidence_doc FROM edges "
        "WHERE subject = ? AND relation = ? AND object = ? AND valid_from <= ? "
        "AND (valid_to IS NULL OR valid_to > ?)",
        [subject, relation, obj, on, on],
    ).fetchone()
    return None if row is None else dict(zip(["status", "support", "doc"], row, strict=True))


def papers(store: Store) -> dict[str, str]:
    return dict(store.connect().execute(
        "SELECT DISTINCT doc_id, canonical_id FROM document_ids").fetchall())


# -- cross-source deduplication ------------------------------------------------------------------
def _two_sources(tmp_path: Path) -> list[Path]:
    pm = pm_file(
        tmp_path / "src" / "pubmed01.xml",
        pm_article(100, abstract(claim("X", "outperforms", "Y", conf=0.7)), entrez=day(4),
                   doi="10.1000/ABC.1"),
    )
    ax = ax_file(
        tmp_path / "src" / "arxiv.json",
        ax_record("2403.00001", abstract(claim("X", "outperforms", "Y", conf=0.6),
                                         claim("X", "improves", "Z", conf=0.5)),
                  created=day(2), doi="10.1000/abc.1"),
    )
    return [pm, ax]


def test_same_doi_from_two_sources_is_one_paper_with_both_ids(tmp_path):
    sources = _two_sources(tmp_path)
    store = Store(tmp_path / "store")
    run(store, sources, days_between(day(1), day(6)))
    assert papers(store) == {
        "pmid:100": "doi:10.1000/abc.1", "arxiv:2403.00001": "doi:10.1000/abc.1"}
    con = store.connect()
    assert sorted(r[0] for r in con.execute("SELECT doc_id FROM documents").fetchall()) == [
        "arxiv:2403.00001", "pmid:100"]
    # the preprint (day 2) is the paper until the journal version (day 4) revises it
    assert edge(store, "x", "outperforms", "y", day(3)) == {
        "status": "active", "support": 1, "doc": "arxiv:2403.00001"}
    assert edge(store, "x", "outperforms", "y", day(5)) == {
        "status": "active", "support": 1, "doc": "pmid:100"}
    assert edge(store, "x", "improves", "z", day(3))["status"] == "active"
    assert edge(store, "x", "improves", "z", day(5))["status"] == "retracted"
    snap = dict(con.execute("SELECT day, documents FROM snapshots").fetchall())
    assert snap[day(3)] == 1 and snap[day(5)] == 1  # one paper, not two


def test_dedup_is_independent_of_processing_order(tmp_path):
    sources = _two_sources(tmp_path)
    whole = Store(tmp_path / "whole")
    run(whole, sources, days_between(day(1), day(6)))
    late_first = Store(tmp_path / "late_first")  # the journal version is processed first
    for days in ([day(4)], [day(2)], days_between(day(1), day(6))):
        run(late_first, sources, days)
    assert snapshot(late_first) == snapshot(whole)


def test_cross_reference_without_doi_and_ambiguous_doi(tmp_path):
    src = tmp_path / "src"
    pm_file(src / "pm.xml", pm_article(200, abstract(claim("A", "improves", "B")), entrez=day(2)))
    jsonl_file(src / "mine.jsonl",
               {"doc_id": "doi:10.2000/Q", "title": "t", "published": "2024-03-03",
                "abstract": abstract(claim("A", "improves", "B")), "other_ids": ["PMID:200"]})
    # a proceedings DOI on two arXiv papers identifies neither
    ax_file(src / "ax.jsonl",
            ax_record("2403.00002", abstract(claim("C", "improves", "D")), created=day(2),
                      doi="10.3000/proc"),
            ax_record("2403.00003", abstract(claim("E", "improves", "F")), created=day(2),
                      doi="10.3000/proc"))
    store = Store(tmp_path / "store")
    run(store, [src], days_between(day(1), day(4)))
    p = papers(store)
    assert p["pmid:200"] == p["doi:10.2000/Q"] == "doi:10.2000/q"
    assert p["arxiv:2403.00002"] != p["arxiv:2403.00003"]
    amb = store.connect().execute(
        "SELECT DISTINCT alias_id FROM document_ids WHERE ambiguous").fetchall()
    assert amb == [("doi:10.3000/proc",)]
    assert edge(store, "c", "improves", "d", day(4))["status"] == "active"
    assert edge(store, "e", "improves", "f", day(4))["status"] == "active"


def test_deleting_one_carrier_keeps_a_version_another_source_still_carries(tmp_path):
    text = abstract(claim("G", "improves", "H"))
    src = tmp_path / "src"
    pm_file(src / "a.xml", pm_article(300, text, entrez=day(2), doi="10.4000/g"))
    pm_file(src / "b.xml", pm_article(301, abstract(claim("J", "improves", "K")), entrez=day(5)),
            deletes=(300,))
    jsonl_file(src / "c.jsonl", {"doc_id": "doi:10.4000/g", "title": "T", "abstract": text,
                                 "published": "2024-03-03"})
    store = Store(tmp_path / "store")
    run(store, [src], days_between(day(1), day(6)))
    assert store.connect().execute("SELECT doc_id, deleted_on FROM deletions").fetchall() == [
        ("pmid:300", day(5))]
    assert edge(store, "g", "improves", "h", day(6)) == {
        "status": "active", "support": 1, "doc": "pmid:300"}


# -- PubMed revisions and deletions --------------------------------------------------------------
def test_reissued_pmid_with_new_content_is_a_revision(tmp_path):
    src = tmp_path / "src"
    old = abstract(claim("L", "improves", "M"))
    new = abstract(claim("L", "improves", "N"))
    pm_file(src / "pubmed01.xml", pm_article(400, old, entrez=day(2)))
    # the update file re-issues it: same entrez date, later DateRevised, changed abstract;
    # and re-issues another record unchanged (a no-op)
    pm_file(src / "pubmed02.xml",
            pm_article(400, new, entrez=day(2), revised=day(9)),
            pm_article(401, abstract(claim("P", "improves", "Q")), entrez=day(3), revised=day(9)))
    pm_file(src / "pubmed00.xml", pm_article(401, abstract(claim("P", "improves", "Q")),
                                             entrez=day(3)))
    store = Store(tmp_path / "store")
    run(store, [src], days_between(day(1), day(4)))
    con = store.connect()
    versions = con.execute(
        "SELECT doc_id, revised FROM documents ORDER BY doc_id, revised").fetchall()
    # the unchanged re-issue is no new version; its row keeps the latest revision date
    assert versions == [("pmid:400", day(2)), ("pmid:400", day(9)), ("pmid:401", day(9))]
    # under the entrez policy a revision keeps its batch day: the later revised version wins
    assert edge(store, "l", "improves", "n", day(2))["status"] == "active"
    # the version it supersedes on its own first day never counted: no edge, not even retracted
    assert edge(store, "l", "improves", "m", day(2)) is None
    # independent of which file came first
    other = Store(tmp_path / "other")
    run(other, [src / "pubmed02.xml"], days_between(day(1), day(4)))
    run(other, [src], days_between(day(1), day(4)))
    assert snapshot(other) == snapshot(store)


def test_deletion_retracts_edges_and_unknown_pmid_is_recorded(tmp_path, spacy_extractor):
    """The fixture pair: a baseline-like file, then an update file that revises one record,
    adds one and deletes one ingested PMID plus one never seen (real-language abstracts)."""
    store = Store(tmp_path / "store")
    summary = process_days(
        store, days_between(day(1), day(15)),
        sources=[FIXTURES / "pubmed_deletion_base.xml", FIXTURES / "pubmed_deletion_update.xml"],
        extractor=spacy_extractor,
    )
    assert summary.failed_files == {} and summary.quarantined == 0
    con = store.connect()
    assert con.execute("SELECT doc_id, deleted_on FROM deletions ORDER BY 1").fetchall() == [
        ("pmid:900001", day(12)), ("pmid:999999", day(12))]
    assert edge(store, "metformin", "improves", "glycemic control", day(11))["status"] == "active"
    assert edge(store, "metformin", "improves", "glycemic control", day(12)) == {
        "status": "retracted", "support": 0, "doc": None}  # no live evidence left
    assert con.execute(
        "SELECT evidence_docs FROM changes(?, ?) WHERE change = 'retracted' "
        "AND subject = 'metformin' AND object = 'glycemic control'", [day(11), day(12)]
    ).fetchone() == (["pmid:900001"],)  # the withdrawn document, on the day it went
    assert edge(store, "statin", "improves", "survival", day(15))["status"] == "active"
    assert edge(store, "feature distillation", "improves", "student robustness",
                day(5))["status"] == "active"
    assert con.execute(
        "SELECT retracted_edges FROM snapshots WHERE day = ?", [day(12)]).fetchone()[0] >= 1


def test_deletion_of_a_never_seen_pmid_is_recorded_without_effect(tmp_path):
    src = pm_file(tmp_path / "u.xml", pm_article(500, abstract(claim("R", "improves", "S")),
                                                 entrez=day(3)), deletes=(123456,))
    store = Store(tmp_path / "store")
    summary = run(store, [src], days_between(day(1), day(4)))
    assert summary.failed_files == {}
    con = store.connect()
    assert con.execute("SELECT doc_id, deleted_on FROM deletions").fetchall() == [
        ("pmid:123456", day(3))]
    assert edge(store, "r", "improves", "s", day(4))["status"] == "active"
    assert con.execute("SELECT count(*) FROM edges WHERE status = 'retracted'").fetchone()[0] == 0


# -- arXiv LaTeX: original kept, extraction sees the normalised text ----------------------------
def test_arxiv_latex_original_is_kept_and_extraction_sees_plain_text(tmp_path):
    raw = r"$\alpha$-Net | outperforms | \emph{BERT} |  | 0.8"
    src = ax_file(tmp_path / "a.jsonl",
                  ax_record("2403.00009", raw, created=day(2), title=r"On $\alpha$-Nets"),
                  ax_record("2403.00010", abstract(claim("U", "improves", "V")), created=day(2)))
    store = Store(tmp_path / "store")
    run(store, [src], [day(2)])
    rows = dict(
        (r[0], r[1:]) for r in store.connect().execute(
            "SELECT doc_id, title, abstract, title_original, abstract_original FROM documents"
        ).fetchall()
    )
    title, text, title_orig, text_orig = rows["arxiv:2403.00009"]
    assert title == "On α-Nets" and title_orig == r"On $\alpha$-Nets"
    assert text == "α-Net | outperforms | BERT | | 0.8" and text_orig == raw
    assert rows["arxiv:2403.00010"][2:] == (None, None)  # nothing to keep: only whitespace
    assert edge(store, "α net", "outperforms", "BERT", day(2))["status"] == "active"


def test_ingest_only_then_run_uses_stored_documents(tmp_path):
    sources = _two_sources(tmp_path)
    store = Store(tmp_path / "store")
    counts = ingest_only(store, sources)
    assert counts["files_read"] == 2 and counts["documents"] == 2
    run(store, [], days_between(day(1), day(6)))
    assert edge(store, "x", "outperforms", "y", day(5))["doc"] == "pmid:100"
