"""Benchmark: streaming PubMed parse (`iter_pubmed`) against a naive whole-tree `etree.parse`.

Generates a synthetic PubMed XML file (gzip, written article by article, never held in memory)
into a temporary folder, then measures in separate child processes, so each peak RSS is clean:

- `iter_pubmed` over all `--n` articles (default 200,000): articles/s and peak RSS;
- `iter_pubmed` over a `--subsample` file (default 20,000 articles, same generator and seed);
- the naive baseline on that subsample: `lxml.etree.parse` of the whole tree, then the same
  per-article extraction over the loaded tree;

and prints the ratios (speed, peak RSS above the bare interpreter's). Usage:

    .venv/bin/python bench/parse_pubmed.py            # 200k articles
    .venv/bin/python bench/parse_pubmed.py --n 20000 --subsample 5000
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WORDS = (
    "protein cell expression patients treatment analysis cancer gene clinical study risk "
    "association model response mice levels disease therapy tumor receptor signaling pathway "
    "cohort outcome mortality inflammation infection dose trial significant increased reduced "
    "compared observed using measured data results suggest novel mechanism role function"
).split()
_LABELS = ("BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(n)]
    i = rng.randrange(n)
    words[i] = f"<i>{words[i]}</i>"
    if rng.random() < 0.3:
        words.append("10<sup>-3</sup>")
    return " ".join(words).capitalize() + "."


def _article(rng: random.Random, pmid: int) -> str:
    year = rng.randint(2020, 2024)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    if rng.random() < 0.35:
        abstract = "".join(
            f'<AbstractText Label="{label}" NlmCategory="{label}">'
            + " ".join(_sentence(rng, rng.randint(12, 24)) for _ in range(2))
            + "</AbstractText>"
            for label in _LABELS
        )
    else:
        abstract = (
            "<AbstractText>"
            + " ".join(_sentence(rng, rng.randint(12, 24)) for _ in range(8))
            + "</AbstractText>"
        )
    authors = "".join(
        f'<Author ValidYN="Y"><LastName>Author{rng.randint(1, 99999)}</LastName>'
        f"<ForeName>Name{i}</ForeName><Initials>N</Initials><AffiliationInfo><Affiliation>"
        f"Department {i}, University {rng.randint(1, 500)}, City, Country.</Affiliation>"
        "</AffiliationInfo></Author>"
        for i in range(rng.randint(2, 8))
    )
    mesh = "".join(
        f'<MeshHeading><DescriptorName UI="D{rng.randint(1, 999999):06d}" MajorTopicYN="N">'
        f"{rng.choice(_WORDS).capitalize()}</DescriptorName></MeshHeading>"
        for _ in range(rng.randint(3, 10))
    )
    refs = "".join(
        f"<Reference><Citation>Ref {j}. J Synth. {year - 1};{j}:1-9.</Citation><ArticleIdList>"
        f'<ArticleId IdType="pubmed">{rng.randint(1, 30000000)}</ArticleId></ArticleIdList>'
        "</Reference>"
        for j in range(rng.randint(0, 12))
    )
    return (
        '<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
        f'<PMID Version="1">{pmid}</PMID><DateRevised><Year>{year + 1}</Year><Month>01</Month>'
        f'<Day>05</Day></DateRevised><Article PubModel="Print-Electronic"><Journal>'
        f'<ISSN IssnType="Electronic">1234-5678</ISSN><JournalIssue CitedMedium="Internet">'
        f"<Volume>{rng.randint(1, 300)}</Volume><PubDate><Year>{year}</Year>"
        f"<Month>{_MONTHS[month - 1]}</Month></PubDate></JournalIssue>"
        f"<Title>Journal of synthetic studies {pmid % 97}</Title></Journal>"
        f"<ArticleTitle>{_sentence(rng, rng.randint(8, 16))}</ArticleTitle>"
        f'<ELocationID EIdType="doi" ValidYN="Y">10.5555/synth.{pmid}</ELocationID>'
        f"<Abstract>{abstract}</Abstract>"
        f'<AuthorList CompleteYN="Y">{authors}</AuthorList><Language>eng</Language>'
        f'<ArticleDate DateType="Electronic"><Year>{year}</Year><Month>{month:02d}</Month>'
        f"<Day>{day:02d}</Day></ArticleDate></Article><MeshHeadingList>{mesh}</MeshHeadingList>"
        "</MedlineCitation><PubmedData><History>"
        f'<PubMedPubDate PubStatus="entrez"><Year>{year}</Year><Month>{month}</Month>'
        f"<Day>{day}</Day><Hour>6</Hour><Minute>0</Minute></PubMedPubDate></History>"
        "<PublicationStatus>ppublish</PublicationStatus><ArticleIdList>"
        f'<ArticleId IdType="pubmed">{pmid}</ArticleId>'
        f'<ArticleId IdType="doi">10.5555/synth.{pmid}</ArticleId></ArticleIdList>'
        f"<ReferenceList>{refs}</ReferenceList></PubmedData></PubmedArticle>\n"
    )


def generate(path: Path, n: int, seed: int = 1) -> int:
    """Write `n` synthetic articles (plus a DeleteCitation) to a gzip file; return raw bytes."""
    rng = random.Random(seed)
    raw = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as fh:
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE PubmedArticleSet PUBLIC '
            '"-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
            '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n'
        )
        fh.write(head)
        raw += len(head)
        for i in range(n):
            art = _article(rng, 30_000_000 + i)
            fh.write(art)
            raw += len(art.encode())
        tail = '<DeleteCitation><PMID Version="1">1</PMID></DeleteCitation>\n</PubmedArticleSet>\n'
        fh.write(tail)
        raw += len(tail)
    return raw


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024


def _worker(mode: str, path: str) -> dict[str, float | int | str]:
    """Run one measurement in this (child) process and return its figures."""
    from lxml import etree

    from litkg.sources import pubmed
    from litkg.sources.records import SourceRecord

    base = _peak_rss_mb()
    t0 = time.perf_counter()
    records = 0
    if mode == "stream":
        for item in pubmed.iter_pubmed(path):
            records += isinstance(item, SourceRecord)
    elif mode == "naive":
        with gzip.open(path, "rb") as fh:
            tree = etree.parse(fh, etree.XMLParser(resolve_entities=False, no_network=True))
        for pos, elem in enumerate(tree.getroot().iterfind("PubmedArticle"), 1):
            item, _ = pubmed._parse_article(elem, path, pos, "entrez")
            records += isinstance(item, SourceRecord)
    elif mode == "idle":
        pass
    else:
        raise SystemExit(f"unknown mode {mode}")
    secs = time.perf_counter() - t0
    return {"mode": mode, "records": records, "seconds": secs, "peak_rss_mb": _peak_rss_mb(),
            "import_rss_mb": base}  # fmt: skip


def _measure(mode: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="articles in the big file")
    ap.add_argument("--subsample", type=int, default=20_000, help="articles for the naive baseline")
    ap.add_argument("--worker", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(_worker(*args.worker)))
        return

    sub_n = min(args.subsample, args.n)
    with tempfile.TemporaryDirectory(prefix="litkg-bench-") as tmp:
        big, small = Path(tmp) / "pubmed_big.xml.gz", Path(tmp) / "pubmed_sub.xml.gz"
        t0 = time.perf_counter()
        raw_big = generate(big, args.n)
        gen_s = time.perf_counter() - t0
        raw_small = generate(small, sub_n)
        print(f"generated {args.n:,} articles in {gen_s:.1f}s: "
              f"{big.stat().st_size / 2**20:.1f} MiB gz, {raw_big / 2**20:.1f} MiB XML; "
              f"subsample {sub_n:,} articles, {raw_small / 2**20:.1f} MiB XML")  # fmt: skip

        idle = _measure("idle", small)
        stream_big = _measure("stream", big)
        stream_sub = _measure("stream", small)
        naive_sub = _measure("naive", small)

    floor = idle["peak_rss_mb"]
    for name, r in (
        (f"iter_pubmed, {args.n:,} articles", stream_big),
        (f"iter_pubmed, {sub_n:,} articles", stream_sub),
        (f"naive etree.parse, {sub_n:,} articles", naive_sub),
    ):
        rate = r["records"] / r["seconds"] if r["seconds"] else float("inf")
        print(f"{name:<38} {r['records']:>9,} records {r['seconds']:8.2f}s "
              f"{rate:>10,.0f} articles/s  peak RSS {r['peak_rss_mb']:7.1f} MiB "
              f"(+{r['peak_rss_mb'] - floor:.1f} over idle {floor:.1f})")  # fmt: skip
    speed = (stream_sub["records"] / stream_sub["seconds"]) / (
        naive_sub["records"] / naive_sub["seconds"]
    )
    rss_stream = max(stream_sub["peak_rss_mb"] - floor, 0.1)
    rss_naive = naive_sub["peak_rss_mb"] - floor
    per_article_kib = rss_naive * 1024 / max(sub_n, 1)
    print(f"ratio on the {sub_n:,}-article subsample: streaming speed {speed:.2f}x naive; "
          f"naive peak RSS above idle {rss_naive / rss_stream:.1f}x streaming")  # fmt: skip
    print(f"naive whole-tree cost ~{per_article_kib:.1f} KiB/article -> ~"
          f"{per_article_kib * args.n / 2**20:.2f} GiB for {args.n:,} articles; streaming "
          f"peak at {args.n:,}: +{stream_big['peak_rss_mb'] - floor:.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
