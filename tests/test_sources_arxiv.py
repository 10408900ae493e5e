"""Tests for the arXiv snapshot reader (litkg.sources.arxiv) and LaTeX normalisation."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date
from pathlib import Path

import pytest

from litkg.sources import pubmed
from litkg.sources.arxiv import (
    iter_arxiv,
    matches_categories,
    normalise_latex,
    parse_arxiv_id,
    parse_arxiv_record,
    sniff,
)
from litkg.sources.records import Rejected, SourceRecord

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
SMALL = FIXTURES / "arxiv_small.jsonl"
SAMPLES = Path(__file__).parents[2] / "shared" / "data" / "samples"
SNAPSHOT = SAMPLES / "arxiv" / "arxiv-metadata-oai-snapshot.json"

needs_snapshot = pytest.mark.skipif(
    not SNAPSHOT.is_file(),
    reason=f"arXiv sample snapshot not found at {SNAPSHOT} (shared data folder absent)",
)


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0704.0001", ("0704.0001", None)),
        ("0704.0001v1", ("0704.0001", 1)),
        ("2101.11408", ("2101.11408", None)),
        ("2101.11408v2", ("2101.11408", 2)),
        ("2101.11408v12", ("2101.11408", 12)),
        ("arXiv:2101.11408v2", ("2101.11408", 2)),
        ("https://arxiv.org/abs/2101.11408v3", ("2101.11408", 3)),
        ("http://arxiv.org/pdf/2101.11408.pdf", ("2101.11408", None)),
        (" hep-th/9901001 ", ("hep-th/9901001", None)),
        ("hep-th/9901001v1", ("hep-th/9901001", 1)),
        ("cond-mat/0601001v3", ("cond-mat/0601001", 3)),
        ("math.GT/0309136", ("math.GT/0309136", None)),
        ("astro-ph/0001001", ("astro-ph/0001001", None)),
    ],
)
def test_parse_arxiv_id_valid(raw, expected):
    assert parse_arxiv_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not an id",
        "2101.1140",  # too short
        "1412.12345",  # five digits before 2015
        "1501.1234",  # four digits from 2015
        "2113.11408",  # month 13
        "2101.11408v0",
        "2101.11408v",
        "hep-th/990100",
        "hep-th/9913001",  # month 13
        "HEP-TH/9901001",
        "10.1103/PhysRevD.76.013009",
        None,
        42,
    ],
)
def test_parse_arxiv_id_invalid(raw):
    with pytest.raises(ValueError):
        parse_arxiv_id(raw)


def test_matches_categories():
    assert matches_categories("cs.CL cs.LG", {"cs.LG"})
    assert matches_categories("cs.CL stat.ML", {"cs"})
    assert matches_categories(["astro-ph.CO"], {"astro-ph"})
    assert matches_categories("astro-ph", {"astro-ph"})
    assert not matches_categories("math-ph", {"math"})
    assert not matches_categories("cs.CLX", {"cs.CL"})
    assert not matches_categories("physics.gen-ph", {"cs", "math"})
    assert not matches_categories(None, {"cs"})
    assert not matches_categories("", {"cs"})


# --------------------------------------------------------------------------- LaTeX


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (r"$\alpha$-particles", "α-particles"),
        (r"$\Lambda_{\alpha}$ hyperons", "Λα hyperons"),
        (r"$\nu_e$ burst and $\Xi_{cc}^{++}$", "νe burst and Ξcc++"),
        (r"$H_2O$ at $10^{-3}$ M and $^{13}$C", "H2O at 10-3 M and 13C"),
        (r"\emph{very} \textbf{bold} \textit{in vitro}", "very bold in vitro"),
        (r"{\em x} {\bf y} {\it z} $T_{\rm N}$", "x y z TN"),
        (r"as shown~\cite{a,b}. See \ref{fig1} and \citep[p.~3]{c}", "as shown. See and"),
        (r"pages 1--2 --- yes", "pages 1–2 — yes"),
        ("non~breaking", "non breaking"),
        (
            r"Bal\'azs, Erd\H{o}s, {\"o}zg\"ur, \v{S}koda, \c{c}a, \'{\i}",
            "Balázs, Erdős, özgür, Škoda, ça, í",
        ),
        (r"50\% of \$5 \& more \#1 snake\_case", "50% of $5 & more #1 snake_case"),
        (r"$30^\circ$ and $T = 5^{\circ}$", "30° and T = 5°"),
        (r"\frac{1}{2} and $\sqrt{2}$", "1/2 and √2"),
        (r"$\sim 10$, $\le 5$, $\geq 3$, $\pm 1$, $\infty$", "∼ 10, ≤ 5, ≥ 3, ± 1, ∞"),
        (r"$(k,\ell)$-pebble game", "(k,ℓ)-pebble game"),
        (r"\href{http://x.org}{our code} at \url{http://y.org}", "our code at http://y.org"),
        (r"``quoted'' text", '"quoted" text'),
        ("  hard\n  wrapped\nabstract  \n", "hard wrapped abstract"),
        ("a long-\nterm study", "a long-term study"),
        (r"$$E = mc^2$$ and \[x^2\] and \(y_1\)", "E = mc2 and x2 and y1"),
        (r"$\mathcal{O}(N^2)$ and $\mathbb{Z}$", "O(N2) and Z"),
        (r"\msun and \LaTeX", "msun and LaTeX"),
        (r"a \\ b \, c", "a b c"),
        ("plain text stays", "plain text stays"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalise_latex(raw, expected):
    assert normalise_latex(raw) == expected


def test_normalise_latex_is_total_on_junk():
    for junk in ["$", "{", "}", "\\", "\\\\", "$$", "\\frac{", "^_^", "\\'", "{\\", "$a^{b$"]:
        out = normalise_latex(junk)
        assert isinstance(out, str) and "\\" not in out


# --------------------------------------------------------------------------- fixture file


def _items(path=SMALL, **kw):
    return list(iter_arxiv(path, **kw))


def test_small_fixture_records_and_rejects():
    items = _items()
    recs = [i for i in items if isinstance(i, SourceRecord)]
    rejs = [i for i in items if isinstance(i, Rejected)]
    assert [r.doc_id for r in recs] == [
        "arxiv:hep-th/9901001",
        "arxiv:2101.11408",
        "arxiv:2101.11409",
        "arxiv:2102.00001",
        "arxiv:2103.00002",
    ]
    assert [r.line for r in recs] == [1, 2, 4, 7, 9]
    assert [(r.line, r.reason.split(":")[0]) for r in rejs] == [
        (3, "malformed JSON"),
        (5, "missing id"),
        (8, "invalid arXiv id 'not an id'"),
    ]
    assert rejs[0].raw.startswith('{"id":"2101.99999"')

    old = recs[0]
    assert old.title == "Old-style id with α in the title"
    assert old.abstract == "An abstract with emphasis, a citation and Λα hard wraps."
    assert old.authors == ["A. Einstein", "N. Bohr"]  # affiliation element ignored
    assert old.other_ids == ["doi:10.1016/s0370-2693(99)00001-x"]
    assert old.url == "https://arxiv.org/abs/hep-th/9901001"
    assert old.venue == "arXiv" and old.source == "arxiv"
    assert old.published == date(1999, 1, 1)

    assert recs[1].authors == ["G. Grad Jr"]
    assert recs[1].other_ids == []
    assert recs[2].other_ids == ["doi:10.1/a", "doi:10.2/b"]
    assert recs[2].authors == ["Balázs C.", "D. Doe"]  # no authors_parsed: from the string
    assert recs[3].abstract is None  # whitespace-only abstract
    assert recs[4].authors == [] and recs[4].abstract == "Undated."


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # hep-th/9901001, 2101.11408, 2101.11409v3, 2102.00001, 2103.00002
        ("v1", [date(1999, 1, 1), date(2021, 1, 27), date(2021, 1, 28), date(2021, 1, 31),
                date(2021, 3, 1)]),
        ("latest", [date(1999, 3, 16), date(2021, 1, 27), date(2021, 3, 3), date(2021, 1, 31),
                    date(2021, 3, 1)]),
        ("update_date", [date(2008, 11, 26), date(2021, 1, 28), date(2021, 3, 4),
                         date(2021, 2, 2), date(2021, 3, 9)]),
    ],
)  # fmt: skip
def test_date_policies(policy, expected):
    # v1 is found by version number, not list order; "created" is converted to UTC
    # (-0500 pushes 15 Mar 23:30 to 16 Mar, +0200 pulls 1 Feb 00:30 to 31 Jan); without
    # versions the month in the id is the fallback
    recs = [i for i in _items(date_policy=policy) if isinstance(i, SourceRecord)]
    assert [r.published for r in recs] == expected


def test_unknown_policy_raises_at_call():
    with pytest.raises(ValueError, match="date_policy"):
        iter_arxiv(SMALL, date_policy="v2")


def test_category_filter():
    def kept(cats):
        return [i.doc_id for i in _items(categories=cats) if isinstance(i, SourceRecord)]

    assert kept({"cs.CL"}) == ["arxiv:2101.11408"]
    assert kept({"cs"}) == ["arxiv:2101.11408"]
    assert kept({"math"}) == ["arxiv:2101.11409"]  # math.GT, not math-ph
    assert kept({"math-ph"}) == ["arxiv:hep-th/9901001"]
    assert kept({"astro-ph", "q-bio"}) == ["arxiv:2102.00001", "arxiv:2103.00002"]
    # lines that are not JSON objects cannot be filtered and are still rejected
    rejs = [i for i in _items(categories={"cs.CL"}) if isinstance(i, Rejected)]
    assert [r.line for r in rejs] == [3, 5]  # malformed line; the id-less cs.CL record


def test_normalise_false_keeps_snapshot_text():
    rec = next(i for i in _items(normalise=False) if isinstance(i, SourceRecord))
    assert rec.title == "Old-style id with\n  $\\alpha$ in the title"
    assert "\\emph{emphasis}" in rec.abstract and "\\cite{x}" in rec.abstract


def test_gzip_invalid_utf8_and_truncation(tmp_path):
    data = SMALL.read_bytes()
    gz = tmp_path / "small.jsonl.gz"
    gz.write_bytes(gzip.compress(data))
    strip = lambda items: [(type(i).__name__, i.line, getattr(i, "doc_id", None)) for i in items]  # noqa: E731
    assert strip(_items(gz)) == strip(_items())
    assert sniff(gz) == "arxiv"

    bad = tmp_path / "bad_utf8.jsonl"
    lines = data.split(b"\n")
    lines.insert(1, b'{"id":"2101.00003","title":"caf\xe9"}')
    bad.write_bytes(b"\n".join(lines))
    items = _items(bad)
    assert isinstance(items[1], Rejected) and items[1].line == 2
    assert "UTF-8" in items[1].reason
    assert sum(isinstance(i, SourceRecord) for i in items) == 5

    many = b"".join(
        json.dumps({"id": f"2101.{i:05d}", "title": "t", "abstract": "a " * 200}).encode() + b"\n"
        for i in range(1, 3001)
    )
    cut = gzip.compress(many)
    trunc = tmp_path / "truncated.jsonl.gz"
    trunc.write_bytes(cut[: len(cut) // 2])
    items = _items(trunc)
    recs = [i for i in items if isinstance(i, SourceRecord)]
    assert 100 < len(recs) < 3000
    assert isinstance(items[-1], Rejected) and "truncated" in items[-1].reason
    assert items[-1].line == len(recs) + 1 or items[-1].line == len(recs) + 2


def test_missing_file_and_sniff(tmp_path):
    (rej,) = _items(tmp_path / "nope.jsonl")
    assert isinstance(rej, Rejected) and "cannot open" in rej.reason
    assert sniff(tmp_path / "nope.jsonl") is None
    assert sniff(SMALL) == "arxiv"
    assert sniff(FIXTURES / "pubmed_legacy.xml") is None
    assert pubmed.sniff(SMALL) is None
    other = tmp_path / "other.jsonl"
    other.write_text('{"name": "x"}\n')
    assert sniff(other) is None
    generic = tmp_path / "generic.jsonl"
    generic.write_text('{"id": "doc-1", "title": "t", "abstract": "a", "categories": "x"}\n')
    assert sniff(generic) is None  # not an arXiv id
    plain = tmp_path / "plain.jsonl"
    plain.write_text('{"id": "2101.11408", "title": "t", "abstract": "a"}\n')
    assert sniff(plain) is None  # no snapshot-only key


def test_parse_arxiv_record_directly():
    rec = parse_arxiv_record({"id": "2101.11408v2", "title": "T", "abstract": "A"}, "f", 7)
    assert isinstance(rec, SourceRecord)
    assert rec.doc_id == "arxiv:2101.11408" and rec.line == 7
    assert rec.published == date(2021, 1, 1)  # only the id gives a date
    assert isinstance(parse_arxiv_record(["not", "a", "dict"], "f", 1), Rejected)
    weird = {"id": "2101.11408", "title": 5, "abstract": None, "versions": "x", "doi": 3,
             "authors_parsed": [None, ["OnlyLast"]], "update_date": "garbage"}  # fmt: skip
    rec = parse_arxiv_record(weird, "f", 1)
    assert isinstance(rec, SourceRecord)
    assert rec.title is None and rec.abstract is None and rec.other_ids == []
    assert rec.authors == ["OnlyLast"]


# --------------------------------------------------------------------------- real sample


@needs_snapshot
def test_snapshot_sample():
    raw = [json.loads(line) for line in SNAPSHOT.read_text().splitlines()]
    items = _items(SNAPSHOT)
    recs = [i for i in items if isinstance(i, SourceRecord)]
    assert len(items) == len(recs) == 200
    assert [r.doc_id for r in recs] == [f"arxiv:0704.{i:04d}" for i in range(1, 201)]
    assert [r.line for r in recs] == list(range(1, 201))
    assert min(r.published for r in recs) == date(2007, 3, 31)
    assert max(r.published for r in recs) == date(2007, 4, 2)
    latest = [i.published for i in _items(SNAPSHOT, date_policy="latest")]
    assert max(latest) == date(2022, 3, 29)
    updated = [i.published for i in _items(SNAPSHOT, date_policy="update_date")]
    assert (min(updated), max(updated)) == (date(2007, 5, 23), date(2022, 3, 31))
    for rec, obj in zip(recs, raw, strict=True):
        assert rec.title and rec.abstract
        for text in (rec.title, rec.abstract):
            assert "\n" not in text and "  " not in text and text == text.strip()
            assert "$" not in text and "\\" not in text
        assert len(rec.authors) == len(obj["authors_parsed"])
        assert bool(rec.other_ids) == bool(obj["doi"])
        assert all(o.startswith("doi:10.") and o == o.lower() for o in rec.other_ids)
    assert sum(bool(r.other_ids) for r in recs) == 200 - 83
    assert recs[0].authors[0] == "C. Balázs"
    assert sniff(SNAPSHOT) == "arxiv" and pubmed.sniff(SNAPSHOT) is None


@needs_snapshot
@pytest.mark.parametrize("wanted", [{"hep-ph"}, {"math"}, {"cs"}, {"astro-ph", "gr-qc"}])
def test_snapshot_category_filter_matches_reference(wanted):
    expected = []
    for obj in map(json.loads, SNAPSHOT.read_text().splitlines()):
        cats = obj["categories"].split()
        if any(c == w or re.match(re.escape(w) + r"\.", c) for c in cats for w in wanted):
            expected.append("arxiv:" + obj["id"])
    got = [i.doc_id for i in _items(SNAPSHOT, categories=wanted)]
    assert got == expected and got
