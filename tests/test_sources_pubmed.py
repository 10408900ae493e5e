"""Tests for the PubMed / MEDLINE XML reader (litkg.sources.pubmed)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from litkg.sources.pubmed import (
    iter_pubmed,
    open_binary,
    parse_medline_date,
    parse_pubmed_date,
    sniff,
)
from litkg.sources.records import Deletion, Rejected, SourceRecord

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
SAMPLES = Path(__file__).parents[2] / "shared" / "data" / "samples"
PUBMED_SAMPLES = SAMPLES / "pubmed"

needs_samples = pytest.mark.skipif(
    not PUBMED_SAMPLES.is_dir(),
    reason=f"PubMed sample files not found at {PUBMED_SAMPLES} (shared data folder absent)",
)


def _split(items):
    recs = [i for i in items if isinstance(i, SourceRecord)]
    dels = [i for i in items if isinstance(i, Deletion)]
    rejs = [i for i in items if isinstance(i, Rejected)]
    assert len(recs) + len(dels) + len(rejs) == len(items)
    return recs, dels, rejs


def _article(pmid: int, title: str = "T", abstract: str = "A", entrez=(2020, 1, 2)) -> str:
    y, m, d = entrez
    return (
        f"<PubmedArticle><MedlineCitation><PMID>{pmid}</PMID><Article><Journal><Title>J</Title>"
        f"</Journal><ArticleTitle>{title}</ArticleTitle><Abstract><AbstractText>{abstract}"
        "</AbstractText></Abstract></Article></MedlineCitation><PubmedData><History>"
        f'<PubMedPubDate PubStatus="entrez"><Year>{y}</Year><Month>{m}</Month><Day>{d}</Day>'
        "</PubMedPubDate></History></PubmedData></PubmedArticle>\n"
    )


def _doc(body: str, prolog: str = "") -> str:
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    return f"{head}{prolog}<PubmedArticleSet>\n{body}</PubmedArticleSet>\n"


def _all_text(items) -> str:
    return repr(items)


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1998 Dec-1999 Jan", date(1998, 12, 1)),
        ("2019 Jan-Feb", date(2019, 1, 1)),
        ("2015 Oct-Dec", date(2015, 10, 1)),
        ("Spring 2020", date(2020, 3, 1)),
        ("2000 Spring", date(2000, 3, 1)),
        ("Summer 1998", date(1998, 6, 1)),
        ("1999 Fall", date(1999, 9, 1)),
        ("Autumn 2001", date(2001, 9, 1)),
        ("Winter 2018", date(2018, 1, 1)),
        ("Winter 2017-2018", date(2017, 12, 1)),
        ("1975-1976", date(1975, 1, 1)),
        ("1977-78", date(1977, 1, 1)),
        ("1999 Dec 23-30", date(1999, 12, 23)),
        ("2008 Sept", date(2008, 9, 1)),
        ("", None),
        ("no date here", None),
        (None, None),
    ],
)
def test_parse_medline_date(text, expected):
    assert parse_medline_date(text) == expected


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<D><Year>2026</Year><Month>Jan</Month><Day>07</Day></D>", date(2026, 1, 7)),
        ("<D><Year>2026</Year><Month>1</Month><Day>7</Day></D>", date(2026, 1, 7)),
        ("<D><Year>2000</Year><Month>September</Month></D>", date(2000, 9, 1)),
        ("<D><Year>2010</Year></D>", date(2010, 1, 1)),
        ("<D><Year>2020</Year><Season>Spring</Season></D>", date(2020, 3, 1)),
        ("<D><Year>2022</Year><Season>May-Jun</Season></D>", date(2022, 5, 1)),
        ("<D><Year>2021</Year><Month>2</Month><Day>30</Day></D>", date(2021, 2, 28)),
        ("<D><MedlineDate>1998 Dec-1999 Jan</MedlineDate></D>", date(1998, 12, 1)),
        ("<D><Year>20x0</Year></D>", None),
        ("<D/>", None),
    ],
)
def test_parse_pubmed_date(xml, expected):
    from lxml import etree

    assert parse_pubmed_date(etree.fromstring(xml)) == expected
    assert parse_pubmed_date(None) is None


# --------------------------------------------------------------------------- hand-written fixtures


def test_features_fixture_fields():
    recs, dels, rejs = _split(list(iter_pubmed(FIXTURES / "pubmed_features.xml")))
    assert dels == []
    assert [r.doc_id for r in recs] == ["pmid:1001", "pmid:1002", "pmid:1003", "pmid:1004",
                                        "pmid:1006"]  # fmt: skip
    assert [r.line for r in recs] == [1, 2, 3, 4, 6]
    by = {r.doc_id: r for r in recs}

    inline = by["pmid:1001"]
    assert inline.title == "Role of BRCA1 in Ca2+ signalling."
    assert inline.abstract == "We studied Escherichia coli at 10-3 M with strong H2O effects."
    assert inline.authors == ["Jane A Smith", "John Doe Jr"]  # ValidYN="N" author dropped
    assert inline.venue == "Journal of Inline Markup"
    assert inline.url == "https://pubmed.ncbi.nlm.nih.gov/1001/"
    assert inline.other_ids == ["doi:10.1000/abc.123"]  # lowercased, deduplicated, no ref DOIs
    assert inline.source == "pubmed"
    assert inline.published == date(2021, 3, 4)  # entrez

    structured = by["pmid:1002"]
    assert structured.abstract == (
        "BACKGROUND: Background text.\nMethods: Methods with italics.\n"
        "RESULTS: Results text.\nUnlabelled closing text."
    )
    assert "francais" not in structured.abstract  # OtherAbstract kept out
    assert "Copyright" not in structured.abstract
    assert structured.authors == ["The Example Consortium", "Solo"]
    assert structured.published == date(1999, 1, 20)  # no entrez: History "pubmed" date

    no_abstract = by["pmid:1003"]
    assert no_abstract.abstract is None
    assert no_abstract.title == "A letter without abstract."
    assert no_abstract.published == date(2020, 3, 1)  # entrez/articledate absent: Spring 2020

    vernacular = by["pmid:1004"]
    assert vernacular.title == "Ein Titel nur in der Originalsprache."
    assert vernacular.published is None  # no usable date anywhere

    assert by["pmid:1006"].published == date(2018, 2, 28)  # Feb 30 clamped

    assert len(rejs) == 1
    assert rejs[0].line == 5 and rejs[0].reason == "missing PMID"
    assert "This article has no PMID" in rejs[0].raw


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("entrez", {"1001": date(2021, 3, 4), "1002": date(1999, 1, 20),
                    "1003": date(2020, 3, 1), "1006": date(2018, 2, 28)}),
        ("articledate", {"1001": date(2021, 2, 28), "1002": date(1999, 1, 20),
                         "1003": date(2020, 3, 1), "1006": date(2018, 2, 28)}),
        ("pubdate", {"1001": date(2021, 3, 15), "1002": date(1998, 12, 1),
                     "1003": date(2020, 3, 1), "1006": date(2017, 12, 1)}),
    ],
)  # fmt: skip
def test_date_policies_and_fallbacks(policy, expected):
    recs, _, _ = _split(list(iter_pubmed(FIXTURES / "pubmed_features.xml", date_policy=policy)))
    got = {r.doc_id.removeprefix("pmid:"): r.published for r in recs}
    for pmid, want in expected.items():
        assert got[pmid] == want, (policy, pmid)


def test_unknown_date_policy_raises_at_call():
    with pytest.raises(ValueError, match="date_policy"):
        iter_pubmed(FIXTURES / "pubmed_features.xml", date_policy="received")


def test_revision_duplicate_and_unknown_deletion():
    a = list(iter_pubmed(FIXTURES / "pubmed_update_a.xml"))
    b = list(iter_pubmed(FIXTURES / "pubmed_update_b.xml"))
    recs_a, dels_a, rejs_a = _split(a)
    recs_b, dels_b, rejs_b = _split(b)
    assert not rejs_a and not rejs_b and not dels_a
    ra = {r.doc_id: r for r in recs_a}
    rb = {r.doc_id: r for r in recs_b}
    # a revision: same PMID, other abstract, same batch key (entrez is kept)
    assert ra["pmid:2001"].abstract != rb["pmid:2001"].abstract
    assert ra["pmid:2001"].published == rb["pmid:2001"].published == date(2022, 6, 1)
    # the same record in two files is yielded twice, identical apart from the file
    assert (ra["pmid:2002"].title, ra["pmid:2002"].abstract) == (
        rb["pmid:2002"].title,
        rb["pmid:2002"].abstract,
    )
    # deletions come after the records, dated by the newest entrez date in the file,
    # including a PMID never seen anywhere
    assert isinstance(b[-1], Deletion) and isinstance(b[-2], Deletion)
    assert [(d.doc_id, d.deleted_on, d.line) for d in dels_b] == [
        ("pmid:2002", date(2023, 1, 10), 4),
        ("pmid:99999999", date(2023, 1, 10), 4),
    ]


def test_deletion_file_date_override_and_mtime(tmp_path):
    override = date(2024, 5, 6)
    dels = [
        i
        for i in iter_pubmed(FIXTURES / "pubmed_update_b.xml", file_date=override)
        if isinstance(i, Deletion)
    ]
    assert {d.deleted_on for d in dels} == {override}
    # no entrez date anywhere: fall back to the file's mtime
    path = tmp_path / "deletes_only.xml"
    path.write_text(_doc('<DeleteCitation><PMID Version="1">42</PMID></DeleteCitation>\n'))
    os.utime(path, (1_600_000_000, 1_600_000_000))  # 2020-09-13 UTC
    (only,) = list(iter_pubmed(path))
    assert isinstance(only, Deletion)
    assert only.doc_id == "pmid:42" and only.line == 1
    assert abs((only.deleted_on - date(2020, 9, 13)).days) <= 1


def test_legacy_medline_citation_set():
    recs, dels, rejs = _split(list(iter_pubmed(FIXTURES / "pubmed_legacy.xml")))
    assert not rejs
    assert [r.doc_id for r in recs] == ["pmid:3001", "pmid:3002"]
    first = recs[0]
    assert first.abstract == "PURPOSE: Purpose.\nMETHODS: Methods."
    assert first.published == date(2015, 7, 9)  # entrez policy: DateCreated
    assert first.authors == ["Ada Old"] and first.venue == "Legacy Journal"
    assert [d.doc_id for d in dels] == ["pmid:3999"]
    assert dels[0].deleted_on == date(2015, 12, 20)  # newest DateCreated
    pub = [r for r in iter_pubmed(FIXTURES / "pubmed_legacy.xml", date_policy="pubdate")]
    assert [r.published for r in pub if isinstance(r, SourceRecord)] == [
        date(2015, 7, 1),
        date(2016, 1, 1),
    ]


def test_gzip_and_plain_give_the_same_items(tmp_path):
    plain = FIXTURES / "pubmed_features.xml"
    gz = tmp_path / "pubmed_features.xml.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    strip = lambda items: [(type(i).__name__, i.line, getattr(i, "doc_id", None)) for i in items]  # noqa: E731
    assert strip(iter_pubmed(gz)) == strip(iter_pubmed(plain))
    assert sniff(gz) == sniff(plain) == "pubmed"


# --------------------------------------------------------------------------- hostile input


def test_xxe_fixture_is_quarantined_without_leaking():
    items = list(iter_pubmed(FIXTURES / "pubmed_xxe.xml"))
    assert len(items) == 1 and isinstance(items[0], Rejected)
    assert "entit" in items[0].reason and "XXE" in items[0].reason
    assert "root:" not in _all_text(items)


def test_xxe_with_local_secret_does_not_leak(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-5f1c\n")
    dtd = tmp_path / "secret.dtd"
    dtd.write_text('<!ENTITY sec "TOPSECRET-DTD-9a2b">')
    cases = {
        "general": (f'<!DOCTYPE PubmedArticleSet [<!ENTITY xxe SYSTEM "file://{secret}">]>\n',
                    "&xxe;"),
        "parameter": (f'<!DOCTYPE PubmedArticleSet [<!ENTITY % pe SYSTEM "file://{dtd}"> %pe;]>\n',
                      "&sec;"),
        "external_dtd": (f'<!DOCTYPE PubmedArticleSet SYSTEM "file://{dtd}">\n', "&sec;"),
    }  # fmt: skip
    for name, (prolog, ref) in cases.items():
        path = tmp_path / f"{name}.xml"
        path.write_text(_doc(_article(1) + _article(2, title=f"x {ref}", abstract=ref), prolog))
        items = list(iter_pubmed(path))
        text = _all_text(items)
        assert "TOPSECRET" not in text, name
        rejs = [i for i in items if isinstance(i, Rejected)]
        assert rejs, name
        assert all("entit" in r.reason for r in rejs), (name, rejs)
        # no record carries the unexpanded reference either
        assert not any(
            isinstance(i, SourceRecord) and "&" in (i.title or "") + (i.abstract or "")
            for i in items
        ), name
    # with an external (never loaded) DTD the clean first article survives
    items = list(iter_pubmed(tmp_path / "external_dtd.xml"))
    assert [type(i).__name__ for i in items] == ["SourceRecord", "Rejected"]
    assert items[1].doc_id == "pmid:2" and items[1].line == 2


def test_billion_laughs_is_rejected_fast():
    items = list(iter_pubmed(FIXTURES / "pubmed_billion_laughs.xml"))
    assert len(items) == 1 and isinstance(items[0], Rejected)
    assert "entit" in items[0].reason
    assert "lollol" not in _all_text(items)


def test_billion_laughs_after_good_records_keeps_them(tmp_path):
    # entity declarations are only legal in the prolog; a bomb there is caught before any record,
    # and an undeclared reference mid-file ends the file after the records read so far
    path = tmp_path / "undeclared.xml"
    path.write_text(_doc(_article(1) + _article(2, abstract="&lol9;") + _article(3)))
    recs, _, rejs = _split(list(iter_pubmed(path)))
    assert [r.doc_id for r in recs] == ["pmid:1"]
    assert len(rejs) == 1 and rejs[0].line == 2
    assert "lol9" in rejs[0].reason and "rest of file not read" in rejs[0].reason


def test_truncated_gzip_keeps_records_before_the_cut(tmp_path):
    body = "".join(_article(i, abstract="word " * 50) for i in range(1, 401))
    data = gzip.compress(_doc(body).encode())
    path = tmp_path / "truncated.xml.gz"
    path.write_bytes(data[: len(data) // 2])
    items = list(iter_pubmed(path))
    recs, dels, rejs = _split(items)
    assert 50 < len(recs) < 400
    assert [r.doc_id for r in recs] == [f"pmid:{i}" for i in range(1, len(recs) + 1)]
    assert len(rejs) == 1 and items[-1] is rejs[0]
    assert "gzip" in rejs[0].reason and rejs[0].line == len(recs) + 1


def test_corrupt_gzip_and_truncated_xml(tmp_path):
    corrupt = tmp_path / "corrupt.xml.gz"
    data = bytearray(gzip.compress(_doc(_article(1)).encode()))
    data[20:40] = b"\x00" * 20
    corrupt.write_bytes(bytes(data))
    items = list(iter_pubmed(corrupt))
    assert items and isinstance(items[-1], Rejected)

    cut = tmp_path / "cut.xml"
    cut.write_text(_doc(_article(1) + _article(2))[:-120])
    recs, _, rejs = _split(list(iter_pubmed(cut)))
    assert [r.doc_id for r in recs] == ["pmid:1"]
    assert len(rejs) == 1 and "XML syntax error" in rejs[0].reason and rejs[0].line == 2


def test_latin1_bytes_declared_as_utf8(tmp_path):
    path = tmp_path / "latin1.xml"
    text = _doc(_article(1) + _article(2, title="Caf\xe9 na\xefve") + _article(3))
    path.write_bytes(text.encode("latin-1"))
    recs, _, rejs = _split(list(iter_pubmed(path)))
    assert [r.doc_id for r in recs] == ["pmid:1"]
    assert len(rejs) == 1 and rejs[0].line == 2
    assert "encoding" in rejs[0].reason
    # the same bytes, honestly declared, parse fine
    honest = tmp_path / "honest.xml"
    honest.write_bytes(text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1"))
    recs, _, rejs = _split(list(iter_pubmed(honest)))
    assert not rejs and recs[1].title == "Café naïve"


def test_bad_article_does_not_stop_the_file(tmp_path):
    path = tmp_path / "bad_pmid.xml"
    bad = _article(2).replace("<PMID>2</PMID>", "<PMID>12ab</PMID>")
    path.write_text(_doc(_article(1) + bad + _article(3)))
    items = list(iter_pubmed(path))
    assert [type(i).__name__ for i in items] == ["SourceRecord", "Rejected", "SourceRecord"]
    assert "invalid PMID" in items[1].reason and items[1].line == 2


def test_missing_file_and_foreign_xml(tmp_path):
    (missing,) = list(iter_pubmed(tmp_path / "nope.xml.gz"))
    assert isinstance(missing, Rejected) and "cannot open" in missing.reason
    foreign = tmp_path / "foreign.xml"
    foreign.write_text('<?xml version="1.0"?><rss><item/></rss>')
    (rej,) = list(iter_pubmed(foreign))
    assert isinstance(rej, Rejected) and "not PubMed XML" in rej.reason
    assert sniff(foreign) is None
    assert sniff(tmp_path / "nope.xml.gz") is None
    assert sniff(FIXTURES / "pubmed_legacy.xml") == "pubmed"


def test_gzip_reader_handles_multi_member(tmp_path):
    path = tmp_path / "multi.xml.gz"
    doc = _doc(_article(1) + _article(2)).encode()
    half = len(doc) // 2
    path.write_bytes(gzip.compress(doc[:half]) + gzip.compress(doc[half:]))
    with open_binary(path) as fh:
        assert fh.read() == doc
    assert [i.doc_id for i in iter_pubmed(path)] == ["pmid:1", "pmid:2"]


def test_streaming_memory_stays_flat(tmp_path):
    """~60 MB of XML parsed with well under 60 MB of extra peak RSS (elements are freed)."""
    path = tmp_path / "big.xml.gz"
    filler = "lorem ipsum dolor sit amet " * 80
    with gzip.open(path, "wt", compresslevel=1) as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<PubmedArticleSet>\n')
        for i in range(1, 25_001):
            fh.write(_article(i, abstract=filler))
        fh.write("</PubmedArticleSet>\n")
    script = textwrap.dedent(
        f"""
        import resource
        from litkg.sources.pubmed import iter_pubmed
        from litkg.sources.records import SourceRecord
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        n = sum(isinstance(i, SourceRecord) for i in iter_pubmed({str(path)!r}))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(n, (after - before) // 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    n, growth_mb = map(int, out.stdout.split())
    assert n == 25_000
    assert growth_mb < 30, f"peak RSS grew by {growth_mb} MiB while streaming ~60 MiB of XML"


# --------------------------------------------------------------------------- real samples

# file -> (records, deletions, first PMID, last PMID, entrez min, entrez max)
SAMPLE_FACTS = {
    "pubmed26n1334.xml.gz": (30, 0, 41576520, 41605226, date(2026, 1, 23), date(2026, 1, 28)),
    "pubmed26n1335.xml.gz": (30, 6, None, None, date(2015, 8, 1), date(2026, 1, 31)),
    "pubmed20n1016.xml.gz": (26, 262, None, None, date(2000, 2, 5), date(2019, 6, 18)),
    "test_current_medline.xml.gz": (4, 0, None, None, date(1985, 8, 1), date(2022, 11, 18)),
    "pubmed-29768149.xml": (1, 0, 29768149, 29768149, date(2018, 5, 17), date(2018, 5, 17)),
    "medline16n0902.xml.gz": (604, 1, None, None, None, None),
}


def _reference_tree(path: Path) -> ET.Element:
    """The sample parsed independently with the stdlib (small files only)."""
    with open_binary(path) as fh:
        return ET.fromstring(fh.read())


def _citations(root: ET.Element) -> list[ET.Element]:
    if root.tag == "MedlineCitationSet":
        return root.findall("MedlineCitation")
    return [a.find("MedlineCitation") for a in root.findall("PubmedArticle")]


@needs_samples
def test_every_sample_file_is_covered():
    on_disk = {p.name for p in PUBMED_SAMPLES.iterdir() if p.name != "README.md"}
    assert on_disk == set(SAMPLE_FACTS), "a new sample file needs an entry in SAMPLE_FACTS"


@needs_samples
@pytest.mark.parametrize("name", sorted(SAMPLE_FACTS))
def test_sample_counts_ids_and_dates(name):
    path = PUBMED_SAMPLES / name
    n_rec, n_del, first, last, entrez_min, entrez_max = SAMPLE_FACTS[name]
    recs, dels, rejs = _split(list(iter_pubmed(path)))
    assert rejs == []
    assert len(recs) == n_rec and len(dels) == n_del
    pmids = [int(r.doc_id.removeprefix("pmid:")) for r in recs]
    assert len(set(pmids)) == len(pmids)
    if first is not None:
        assert (min(pmids), max(pmids)) == (first, last)
    assert all(r.published is not None for r in recs)
    assert all(r.title for r in recs)
    assert all(
        r.url == f"https://pubmed.ncbi.nlm.nih.gov/{p}/" for r, p in zip(recs, pmids, strict=True)
    )
    assert [r.line for r in recs] == sorted(r.line for r in recs)
    if entrez_min is not None:
        assert min(r.published for r in recs) == entrez_min
        assert max(r.published for r in recs) == entrez_max
    if dels:
        assert len({d.deleted_on for d in dels}) == 1
        assert all(d.line > max(r.line for r in recs) for d in dels)
    assert sniff(path) == "pubmed"

    # against an independent stdlib parse: PMIDs, DOIs, deletions
    root = _reference_tree(path)
    cits = _citations(root)
    assert pmids == [int(c.findtext("PMID")) for c in cits]
    ref_dels = [int(p.text) for dc in root.findall("DeleteCitation") for p in dc.findall("PMID")]
    assert [int(d.doc_id.removeprefix("pmid:")) for d in dels] == ref_dels
    for rec in recs:
        assert all(o.startswith("doi:10.") and o == o.lower() for o in rec.other_ids)


@needs_samples
@pytest.mark.parametrize(
    ("name", "structured"),
    [("pubmed26n1334.xml.gz", 9), ("pubmed26n1335.xml.gz", 11), ("pubmed20n1016.xml.gz", 9),
     ("test_current_medline.xml.gz", 1), ("pubmed-29768149.xml", 1),
     ("medline16n0902.xml.gz", 215)],
)  # fmt: skip
def test_sample_abstracts_structured_inline_and_other(name, structured):
    path = PUBMED_SAMPLES / name
    recs = {r.doc_id: r for r in iter_pubmed(path) if isinstance(r, SourceRecord)}
    n_structured = 0
    for cit in _citations(_reference_tree(path)):
        rec = recs["pmid:" + cit.findtext("PMID")]
        sections = cit.findall("Article/Abstract/AbstractText")
        if not any("".join(s.itertext()).strip() for s in sections):
            assert rec.abstract is None
            continue
        labels = [s.get("Label") for s in sections if s.get("Label")]
        if labels:
            n_structured += 1
            assert rec.abstract.startswith(labels[0] + ": ")
            for label in labels:
                assert f"{label}: " in rec.abstract
        for s in sections:
            full = " ".join("".join(s.itertext()).split())
            assert full in rec.abstract  # inline markup kept: .text alone would be shorter
        for other in cit.findall("OtherAbstract"):
            other_text = " ".join("".join(other.itertext()).split())
            if other_text:
                assert other_text[:60] not in rec.abstract
    assert n_structured == structured


@needs_samples
def test_sample_inline_markup_titles_and_german_record():
    path = PUBMED_SAMPLES / "pubmed26n1334.xml.gz"
    recs = {r.doc_id: r for r in iter_pubmed(path) if isinstance(r, SourceRecord)}
    no_abstract = [r for r in recs.values() if r.abstract is None]
    assert len(no_abstract) == 3
    n_markup_titles = 0
    for cit in _citations(_reference_tree(path)):
        title_el = cit.find("Article/ArticleTitle")
        if title_el is not None and len(title_el):
            n_markup_titles += 1
            rec = recs["pmid:" + cit.findtext("PMID")]
            assert len(rec.title) > len(title_el.text or "")
            assert rec.title == " ".join("".join(title_el.itertext()).split())
        if title_el is not None and not "".join(title_el.itertext()).strip():
            rec = recs["pmid:" + cit.findtext("PMID")]
            assert rec.title == " ".join(cit.findtext("Article/VernacularTitle").split())
    assert n_markup_titles == 3


@needs_samples
def test_sample_date_policies():
    def published(name, policy):
        items = iter_pubmed(PUBMED_SAMPLES / name, date_policy=policy)
        return [r.published for r in items if isinstance(r, SourceRecord)]

    art = published("pubmed26n1334.xml.gz", "articledate")
    assert (min(art), max(art)) == (date(2024, 11, 30), date(2026, 1, 28))
    pub = published("pubmed26n1334.xml.gz", "pubdate")
    assert {d.year for d in pub} <= {2024, 2025, 2026}
    # a single record without ArticleDate: articledate falls back to entrez
    assert published("pubmed-29768149.xml", "articledate") == [date(2018, 5, 17)]
    assert published("pubmed-29768149.xml", "pubdate") == [date(2018, 5, 17)]
    # the one MedlineDate in the 2020 file ("2019 Jan-Feb")
    root = _reference_tree(PUBMED_SAMPLES / "pubmed20n1016.xml.gz")
    medline_path = "Article/Journal/JournalIssue/PubDate/MedlineDate"
    medline = [c.findtext("PMID") for c in _citations(root) if c.find(medline_path) is not None]
    assert len(medline) == 1
    recs = iter_pubmed(PUBMED_SAMPLES / "pubmed20n1016.xml.gz", date_policy="pubdate")
    by = {r.doc_id: r for r in recs if isinstance(r, SourceRecord)}
    assert by["pmid:" + medline[0]].published == date(2019, 1, 1)


@needs_samples
def test_sample_season_month_range():
    path = PUBMED_SAMPLES / "test_current_medline.xml.gz"
    root = _reference_tree(path)
    seasonal = [c for c in _citations(root)
                if c.find("Article/Journal/JournalIssue/PubDate/Season") is not None]  # fmt: skip
    assert len(seasonal) == 1
    pub_el = seasonal[0].find("Article/Journal/JournalIssue/PubDate")
    recs = {r.doc_id: r for r in iter_pubmed(path, date_policy="pubdate")}
    rec = recs["pmid:" + seasonal[0].findtext("PMID")]
    assert rec.published == date(int(pub_el.findtext("Year")), 5, 1)  # "May-Jun"


@needs_samples
def test_sample_deletions():
    def deletions(name):
        return [i for i in iter_pubmed(PUBMED_SAMPLES / name) if isinstance(i, Deletion)]

    d1335 = deletions("pubmed26n1335.xml.gz")
    assert [d.doc_id for d in d1335] == [
        f"pmid:{p}" for p in (41456105, 41557076, 41616784, 41618748, 41618749, 41618779)
    ]
    assert {d.deleted_on for d in d1335} == {date(2026, 1, 31)}
    d2020 = deletions("pubmed20n1016.xml.gz")
    assert len(d2020) == 262 and len({d.doc_id for d in d2020}) == 262
    assert {d.deleted_on for d in d2020} == {date(2019, 6, 18)}
    legacy = deletions("medline16n0902.xml.gz")
    assert [d.doc_id for d in legacy] == ["pmid:26432306"]
    # none of the deleted PMIDs of the 2026 update is a record of either 2026 file
    seen = {
        r.doc_id
        for name in ("pubmed26n1334.xml.gz", "pubmed26n1335.xml.gz")
        for r in iter_pubmed(PUBMED_SAMPLES / name)
        if isinstance(r, SourceRecord)
    }
    assert not seen & {d.doc_id for d in d1335}


@needs_samples
def test_sample_legacy_format():
    path = PUBMED_SAMPLES / "medline16n0902.xml.gz"
    root = _reference_tree(path)
    assert root.tag == "MedlineCitationSet"
    recs = [r for r in iter_pubmed(path) if isinstance(r, SourceRecord)]
    cits = _citations(root)
    for rec, cit in zip(recs, cits, strict=True):
        created = cit.find("DateCreated")
        assert rec.published == date(*(int(created.findtext(k)) for k in ("Year", "Month", "Day")))
    pub = {r.doc_id: r.published for r in iter_pubmed(path, date_policy="pubdate")
           if isinstance(r, SourceRecord)}  # fmt: skip
    medline_dates = Counter()
    for cit in cits:
        text = cit.findtext("Article/Journal/JournalIssue/PubDate/MedlineDate")
        if text:
            medline_dates[text] += 1
            assert pub["pmid:" + cit.findtext("PMID")] == parse_medline_date(text)
    assert sum(medline_dates.values()) == 62
    assert parse_medline_date("2015 Oct-Dec") == date(2015, 10, 1)


@needs_samples
def test_sample_pretty_printed_single_record():
    (rec,) = list(iter_pubmed(PUBMED_SAMPLES / "pubmed-29768149.xml"))
    assert rec.doc_id == "pmid:29768149"
    assert rec.other_ids == ["doi:10.1056/nejmoa1715274"]
    labels = [line.split(":", 1)[0] for line in rec.abstract.split("\n")]
    assert labels == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert "\t" not in rec.abstract and "  " not in rec.abstract
    assert rec.venue and rec.authors
