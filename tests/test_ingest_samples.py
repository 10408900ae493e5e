"""Every real sample file in ../shared/data/samples through `litkg ingest` and the pipeline:
counts, batch dates, structured abstracts, deletions (see the README files there)."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date
from pathlib import Path

import pytest
from litkg.extractors.base import ExtractionResult, empty_assertions
from lxml import etree
from typer.testing import CliRunner

from litkg import cli
from litkg.pipeline import days_between, process_days
from litkg.store import Store

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "samples"
PUBMED = SAMPLES / "pubmed"
ARXIV = SAMPLES / "arxiv" / "arxiv-metadata-oai-snapshot.json"

pytestmark = pytest.mark.skipif(
    not (PUBMED.is_dir() and ARXIV.is_file()),
    reason=f"sample files not found at {SAMPLES} (shared data folder absent)",
)

# file -> (records, deleted PMIDs, first batch day, last batch day); PubMed days are entrez
# dates (the legacy MedlineCitationSet has none: DateCreated), arXiv days v1 `created`
EXPECTED = {
    "pubmed26n1334.xml.gz": (30, 0, date(2026, 1, 23), date(2026, 1, 28)),
    "pubmed26n1335.xml.gz": (30, 6, date(2015, 8, 1), date(2026, 1, 31)),
    "pubmed20n1016.xml.gz": (26, 262, date(2000, 2, 5), date(2019, 6, 18)),
    "test_current_medline.xml.gz": (4, 0, date(1985, 8, 1), date(2022, 11, 18)),
    "pubmed-29768149.xml": (1, 0, date(2018, 5, 17), date(2018, 5, 17)),
    "medline16n0902.xml.gz": (604, 1, date(2007, 10, 18), date(2015, 12, 26)),
    "arxiv-metadata-oai-snapshot.json": (200, 0, date(2007, 3, 31), date(2007, 4, 2)),
}
STRUCTURED = {"pubmed26n1334.xml.gz": 9, "pubmed26n1335.xml.gz": 11, "pubmed20n1016.xml.gz": 9,
              "test_current_medline.xml.gz": 1, "pubmed-29768149.xml": 1,
              "medline16n0902.xml.gz": 215}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    home = tmp_path_factory.mktemp("samples") / "store"
    res = CliRunner().invoke(cli.app, ["ingest", str(SAMPLES), "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    counts = json.loads(res.stdout)
    assert counts == {
        "files_read": 7, "files_skipped": 0, "failed_files": {}, "documents": 895,
        "new_versions": 895, "deletions": 269, "days": 131, "quarantined": 0,
    }
    return Store(home)


def _name(path: str) -> str:
    return Path(path).name


def test_counts_and_batch_dates_per_file(store):
    con = store.connect()
    files = {
        _name(p): (records, deletions, rejects, error)
        for p, records, deletions, rejects, error in con.execute(
            "SELECT path, records, deletions, rejects, error FROM source_files").fetchall()
    }
    assert files == {f: (n, dels, 0, None) for f, (n, dels, _, _) in EXPECTED.items()}
    spans = {
        _name(f): (n, lo, hi)
        for f, n, lo, hi in con.execute(
            "SELECT source_file, count(*), min(published), max(published) FROM documents "
            "GROUP BY 1").fetchall()
    }
    assert spans == {f: (n, lo, hi) for f, (n, _, lo, hi) in EXPECTED.items()}
    assert con.execute("SELECT count(DISTINCT doc_id) FROM documents").fetchone()[0] == 895
    # a title-only record (no abstract) is stored: it is a document, it may get one later
    assert con.execute("SELECT count(*) FROM documents WHERE abstract = ''").fetchone()[0] == 86


def test_rescan_reads_nothing(store):
    res = CliRunner().invoke(cli.app, ["ingest", str(SAMPLES), "--home", str(store.home),
                                       "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["files_read"] == 0


def _articles(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
        root = etree.parse(fh, parser).getroot()
    for article in root.iter("Article"):
        yield article.getparent().findtext("PMID"), article


def _flat(elem) -> str:
    return re.sub(r"\s+", " ", "".join(elem.itertext())).strip()


def test_structured_abstracts_inline_markup_and_other_abstracts(store):
    stored = dict(store.connect().execute("SELECT doc_id, abstract FROM documents").fetchall())
    for name, expected in STRUCTURED.items():
        structured = 0
        for pmid, article in _articles(PUBMED / name):
            text = stored[f"pmid:{pmid}"]
            sections = article.findall("Abstract/AbstractText")
            labels = [s.get("Label").strip() for s in sections if s.get("Label")]
            if labels:
                structured += 1
                assert text.startswith(labels[0] + ": "), pmid
                assert all(f"{label}: " in text for label in labels), pmid
            if sections:  # inline <i>, <sup>... are read through: the last words are there
                assert _flat(sections[-1])[-30:] in text, pmid
            for other in article.getparent().iterfind("OtherAbstract/AbstractText"):
                if len(_flat(other)) > 40:
                    assert _flat(other)[:40] not in text, pmid
        assert structured == expected, name


def test_deletions_are_recorded_even_for_never_seen_pmids(store):
    con = store.connect()
    by_file = {
        (_name(f), d): n for f, d, n in con.execute(
            "SELECT source_file, deleted_on, count(*) FROM deletions GROUP BY 1, 2").fetchall()
    }
    # a file's deletions take its date: the newest entrez (legacy: DateCreated) date in it
    assert by_file == {
        ("pubmed20n1016.xml.gz", date(2019, 6, 18)): 262,
        ("pubmed26n1335.xml.gz", date(2026, 1, 31)): 6,
        ("medline16n0902.xml.gz", date(2015, 12, 26)): 1,
    }
    # none of the deleted PMIDs is in any sample file: on the real samples they retract nothing
    assert con.execute(
        "SELECT count(*) FROM deletions JOIN documents USING (doc_id)").fetchone()[0] == 0


def test_arxiv_latex_originals_and_dois(store):
    con = store.connect()
    n, with_orig, dollar_left = con.execute(
        "SELECT count(*), count(abstract_original), "
        "count(*) FILTER (abstract LIKE '%$%' AND abstract_original NOT LIKE '%\\$%') "
        "FROM documents WHERE source = 'arxiv'").fetchone()
    assert n == 200 and with_orig > 0 and dollar_left == 0
    assert con.execute(
        "SELECT count(*) FROM documents WHERE abstract_original LIKE '%$%' AND abstract LIKE '%$%'"
    ).fetchone()[0] == 0
    # every record's DOI is an alias of its paper; no paper appears in two sample sources
    dois = con.execute(
        "SELECT count(DISTINCT doc_id) FROM document_ids WHERE doc_id LIKE 'arxiv:%' "
        "AND alias_id LIKE 'doi:%'").fetchone()[0]
    assert dois == 117
    assert con.execute(
        "SELECT count(*) FROM (SELECT canonical_id FROM document_ids GROUP BY 1 "
        "HAVING count(DISTINCT doc_id) > 1)").fetchone()[0] == 0


class _NoClaims:
    name, version = "none", "1"

    def config_key(self) -> str:
        return "none:1"

    def extract(self, documents):  # noqa: ANN001, ANN201
        return ExtractionResult(assertions=empty_assertions())


def test_pipeline_over_the_2026_baseline_and_update_samples(tmp_path):
    store = Store(tmp_path / "store")
    files = [PUBMED / "pubmed26n1334.xml.gz", PUBMED / "pubmed26n1335.xml.gz"]
    summary = process_days(store, days_between(date(2026, 1, 23), date(2026, 1, 31)),
                           sources=files, extractor=_NoClaims())
    assert summary.failed_files == {} and summary.files == {"read": 2, "skipped": 0}
    con = store.connect()
    # the update file's re-issued old records (entrez 2015-2025) are outside the range
    in_range = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    assert in_range == 30 + 17
    snap = con.execute(
        "SELECT documents, retracted_edges FROM snapshots WHERE day = DATE '2026-01-31'"
    ).fetchone()
    assert snap == (in_range, 0)
    assert con.execute("SELECT count(*) FROM deletions").fetchone()[0] == 6
    row = con.execute("SELECT days, ingested_days FROM source_files WHERE path LIKE '%1335%'"
                      ).fetchone()
    assert len(row[1]) < len(row[0])  # coverage is per day: a later backfill reads it again
