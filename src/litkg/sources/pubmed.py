"""Streaming reader for PubMed / MEDLINE XML (baseline and daily update files, gzip or plain).

`iter_pubmed(path)` yields one `SourceRecord` per `PubmedArticle` (also `PubmedBookArticle` and the
bare `MedlineCitation` of the pre-2017 `MedlineCitationSet` format), one `Deletion` per PMID listed
in a `DeleteCitation` block, and a `Rejected` for anything it cannot read. It never raises: a bad
article becomes a `Rejected` and parsing goes on; a file-level failure (XML syntax error, invalid
UTF-8, truncated gzip, entity declarations) ends the file with one `Rejected` for the rest of it,
after everything already read.

Memory is constant: lxml `iterparse` with end events on the top-level elements only; each element
is cleared after use and its previous siblings are deleted, so a 1 GB file needs a few MB.

Safety: entities are never resolved (`resolve_entities=False`), no DTD is loaded, nothing is
fetched from the network and the libxml2 size limits stay on (`huge_tree=False`). NLM files never
declare entities, so a file whose internal DTD subset declares any (XXE, billion laughs) is
rejected as a whole before any of its records is yielded; libxml2 itself aborts an entity bomb
("Maximum entity amplification factor exceeded"), which also ends the file with a `Rejected`. An
article that still holds an unresolved entity reference is rejected on its own.

Text: title and abstract are read with `itertext()` so inline markup (`<i>`, `<sup>`, `<sub>`,
`<b>`, MathML) keeps its text, then whitespace is collapsed (markup is flattened: `10<sup>-3</sup>`
reads `10-3`). Structured abstracts give one "LABEL: text" paragraph per labelled `AbstractText`,
joined by newlines; labels are kept as written (`METHODS`, `Methods`). `OtherAbstract`
(translations, plain-language summaries) is never part of the abstract. An empty
`ArticleTitle` falls back to `VernacularTitle`. An article without abstract is still yielded,
with `abstract=None`: the ingest layer decides (validation quarantines it).

Date policy (`date_policy`, the batch key put in `SourceRecord.published`):

- ``"entrez"`` (default): the date the record entered PubMed, `PubMedPubDate[@PubStatus="entrez"]`
  in `PubmedData/History` (else the `"pubmed"` status date; in the legacy format, which has no
  History, `DateCreated`). Set once and kept by later revisions, so a revision keeps its batch.
- ``"articledate"``: `Article/ArticleDate` (the electronic publication date).
- ``"pubdate"``: `Journal/JournalIssue/PubDate`: Year/Month/Day with month names or numbers;
  `Season` ("Spring" = March, "Summer" = June, "Fall"/"Autumn" = September, "Winter" = January,
  but December of the first year in "Winter 2017-2018"; or a month range such as "May-Jun");
  free-text `MedlineDate` ("1998 Dec-1999 Jan", "2019 Jan-Feb", "Spring 2020", "1975-1976"),
  taking the earliest date the text names. A missing month or day counts as 1.

When the chosen date is absent, the others are tried in the order entrez -> articledate ->
pubdate, then `DateCompleted`; `published=None` only if none is usable.

Deletions: `deleted_on` is the file's date: `file_date` if given, else the newest entrez date
(or legacy `DateCreated`) in the file, else the file's mtime. Deletions are therefore yielded at
the end of the file, after all its records (NLM puts `DeleteCitation` at the end anyway).

`SourceRecord.line` and `Rejected.line` are 1-based positions of the top-level element in the
file (articles and `DeleteCitation` blocks counted together), not text lines.
"""

from __future__ import annotations

import calendar
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from lxml import etree

from litkg.sources.records import Deletion, Rejected, SourceItem, SourceRecord

__all__ = [
    "DATE_POLICIES",
    "iter_pubmed",
    "open_binary",
    "parse_medline_date",
    "parse_pubmed_date",
    "sniff",
]

SOURCE = "pubmed"
DATE_POLICIES = ("entrez", "articledate", "pubdate")
_TOP_TAGS = ("PubmedArticle", "PubmedBookArticle", "MedlineCitation", "DeleteCitation")
_ROOT_TAGS = ("PubmedArticleSet", "MedlineCitationSet", "PubmedBookArticleSet")
_RAW_LIMIT = 500
_GZIP_WBITS = 16 + zlib.MAX_WBITS

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_name) if name})
_MONTHS["sept"] = 9
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 1}
_WORD_RE = re.compile(r"[A-Za-z]+|\d+")
_YEAR_RE = re.compile(r"^(1[6-9]\d\d|2[01]\d\d)$")
_WS_RE = re.compile(r"\s+")
_DOI_PREFIX_RE = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.I)


# --------------------------------------------------------------------------- dates


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() else None


def _month(text: str | None) -> int | None:
    """A month from "3", "03", "Mar", "March", "Sept", or a season / month range ("May-Jun")."""
    if not text:
        return None
    text = text.strip()
    if text.isdigit():
        m = int(text)
        return m if 1 <= m <= 12 else None
    for word in _WORD_RE.findall(text):
        w = word.lower()
        if w in _MONTHS:
            return _MONTHS[w]
        if w in _SEASONS:
            return _SEASONS[w]
    return None


def _make_date(year: int | None, month: int | None, day: int | None) -> date | None:
    """A date with month/day defaulting to 1 and an out-of-range day clamped to the month's end."""
    if year is None or not 1000 <= year <= 9999:
        return None
    month = month if month and 1 <= month <= 12 else 1
    day = day if day and day >= 1 else 1
    try:
        return date(year, month, day)
    except ValueError:
        return date(year, month, calendar.monthrange(year, month)[1])


def parse_medline_date(text: str | None) -> date | None:
    """Earliest date named by a free-text `MedlineDate` ("1998 Dec-1999 Jan", "Spring 2020").

    The first four-digit year, the first month or season word, and a day number right after that
    month; missing parts default to 1.
    """
    if not text:
        return None
    tokens = _WORD_RE.findall(text)
    year = month = day = None
    for i, tok in enumerate(tokens):
        if year is None and _YEAR_RE.match(tok):
            year = int(tok)
        elif month is None and not tok.isdigit():
            m = _MONTHS.get(tok.lower()) or _SEASONS.get(tok.lower())
            if m:
                month = m
                nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
                if nxt.isdigit() and len(nxt) <= 2 and 1 <= int(nxt) <= 31:
                    day = int(nxt)
        if year is not None and month is not None:
            break
    if month == _SEASONS["winter"] and len({t for t in tokens if _YEAR_RE.match(t)}) > 1:
        month = 12  # "Winter 2017-2018" starts in December of the first year
    return _make_date(year, month, day)


def parse_pubmed_date(elem: Any) -> date | None:
    """Date of a PubDate / ArticleDate / PubMedPubDate / DateCreated-style element, or None."""
    if elem is None:
        return None
    parts = {child.tag: child.text for child in elem}
    year = _int(parts.get("Year"))
    if year is None:
        medline = parts.get("MedlineDate")
        return parse_medline_date(medline) if medline else None
    month = _month(parts.get("Month")) or _month(parts.get("Season"))
    return _make_date(year, month, _int(parts.get("Day")))


# --------------------------------------------------------------------------- text helpers


def _text(elem: Any) -> str:
    """All text under `elem`, inline markup included, whitespace collapsed."""
    if elem is None:
        return ""
    return _WS_RE.sub(" ", "".join(elem.itertext())).strip()


def _abstract(abstract_elem: Any) -> str | None:
    """Main abstract: "LABEL: text" paragraphs for labelled sections, joined by newlines."""
    if abstract_elem is None:
        return None
    parts: list[str] = []
    for section in abstract_elem.iterfind("AbstractText"):
        body = _text(section)
        label = (section.get("Label") or "").strip()
        if label and body:
            parts.append(f"{label}: {body}")
        elif body:
            parts.append(body)
    return "\n".join(parts) or None


def _authors(author_list: Any) -> list[str]:
    names: list[str] = []
    if author_list is None:
        return names
    for author in author_list.iterfind("Author"):
        if author.get("ValidYN") == "N":
            continue
        parts = {child.tag: child for child in author}
        collective = parts.get("CollectiveName")
        if collective is not None:
            name = _text(collective)
        else:
            fore = parts.get("ForeName")
            if fore is None:
                fore = parts.get("FirstName")
            if fore is None:
                fore = parts.get("Initials")
            words = [
                el.text
                for el in (fore, parts.get("LastName"), parts.get("Suffix"))
                if el is not None and el.text
            ]
            name = _WS_RE.sub(" ", " ".join(words)).strip()
        if name:
            names.append(name)
    return names


def _norm_doi(raw: str | None) -> str | None:
    if not raw:
        return None
    doi = _DOI_PREFIX_RE.sub("", raw.strip()).strip().lower()
    return doi if doi.startswith("10.") and "/" in doi else None


def _add_doi(out: list[str], raw: str | None) -> None:
    doi = _norm_doi(raw)
    if doi and f"doi:{doi}" not in out:
        out.append(f"doi:{doi}")


def _snippet(elem: Any) -> str | None:
    try:
        raw = etree.tostring(elem, encoding="unicode")
    except Exception:  # noqa: BLE001 - a snippet is best effort
        return None
    return raw[:_RAW_LIMIT]


# --------------------------------------------------------------------------- one article


def _choose_date(
    policy: str, entrez: date | None, article: date | None, pub: date | None, completed: date | None
) -> date | None:
    by_name = {"entrez": entrez, "articledate": article, "pubdate": pub}
    first = by_name[policy]
    if first is not None:
        return first
    return entrez or article or pub or completed


def _history_entrez(history: Any) -> date | None:
    if history is None:
        return None
    found: dict[str, date | None] = {}
    for pd in history.iterfind("PubMedPubDate"):
        status = pd.get("PubStatus")
        if status in ("entrez", "pubmed") and status not in found:
            found[status] = parse_pubmed_date(pd)
    return found.get("entrez") or found.get("pubmed")


def _article_date(article: Any) -> date | None:
    if article is None:
        return None
    dates = article.findall("ArticleDate")
    dates.sort(key=lambda d: d.get("DateType") != "Electronic")
    for d in dates:
        parsed = parse_pubmed_date(d)
        if parsed:
            return parsed
    return None


def _check_entities(elem: Any) -> str | None:
    for ent in elem.iter(etree.Entity):
        return f"unresolved entity reference {ent.text} (entities are never expanded)"
    return None


def _parse_article(
    elem: Any, source_file: str, pos: int, policy: str
) -> tuple[SourceItem, date | None]:
    """One top-level article element -> (SourceRecord or Rejected, its entrez-like date)."""
    tag = elem.tag
    if tag == "PubmedBookArticle":
        return _parse_book(elem, source_file, pos, policy)
    citation = elem.find("MedlineCitation") if tag == "PubmedArticle" else elem
    pmid = (citation.findtext("PMID") or "").strip() if citation is not None else ""
    if not pmid.isdigit():
        reason = "missing PMID" if not pmid else f"invalid PMID {pmid[:40]!r}"
        return Rejected(source_file, pos, reason, _snippet(elem)), None
    doc_id = f"pmid:{pmid}"
    bad = _check_entities(elem)
    if bad:
        return Rejected(source_file, pos, bad, _snippet(elem), doc_id), None

    article = citation.find("Article")
    title = _text(article.find("ArticleTitle")) if article is not None else ""
    if not title and article is not None:
        title = _text(article.find("VernacularTitle"))
    abstract = _abstract(article.find("Abstract")) if article is not None else None
    authors = _authors(article.find("AuthorList")) if article is not None else []
    journal = article.find("Journal") if article is not None else None
    venue = None
    pub = None
    if journal is not None:
        venue = _text(journal.find("Title")) or _text(journal.find("ISOAbbreviation")) or None
        pub = parse_pubmed_date(journal.find("JournalIssue/PubDate"))
    if venue is None:
        venue = _text(citation.find("MedlineJournalInfo/MedlineTA")) or None

    other_ids: list[str] = []
    if article is not None:
        for loc in article.iterfind("ELocationID"):
            if loc.get("EIdType") == "doi" and loc.get("ValidYN") != "N":
                _add_doi(other_ids, loc.text)
    pubmed_data = elem.find("PubmedData") if tag == "PubmedArticle" else None
    if pubmed_data is not None:
        for aid in pubmed_data.iterfind("ArticleIdList/ArticleId"):
            if aid.get("IdType") == "doi":
                _add_doi(other_ids, aid.text)

    entrez = _history_entrez(pubmed_data.find("History")) if pubmed_data is not None else None
    if entrez is None:
        entrez = parse_pubmed_date(citation.find("DateCreated"))
    completed = parse_pubmed_date(citation.find("DateCompleted"))
    published = _choose_date(policy, entrez, _article_date(article), pub, completed)
    revised = parse_pubmed_date(citation.find("DateRevised"))

    record = SourceRecord(
        doc_id=doc_id,
        title=title or None,
        abstract=abstract,
        published=published,
        source=SOURCE,
        source_file=source_file,
        line=pos,
        authors=authors,
        venue=venue,
        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        other_ids=other_ids,
        revised=revised,
    )
    return record, entrez


def _parse_book(
    elem: Any, source_file: str, pos: int, policy: str
) -> tuple[SourceItem, date | None]:
    """A `PubmedBookArticle` (NCBI Bookshelf chapter): same fields from `BookDocument`."""
    doc = elem.find("BookDocument")
    pmid = (doc.findtext("PMID") or "").strip() if doc is not None else ""
    if not pmid.isdigit():
        return Rejected(source_file, pos, "missing PMID", _snippet(elem)), None
    doc_id = f"pmid:{pmid}"
    bad = _check_entities(elem)
    if bad:
        return Rejected(source_file, pos, bad, _snippet(elem), doc_id), None
    book = doc.find("Book")
    title = _text(doc.find("ArticleTitle")) or (
        _text(book.find("BookTitle")) if book is not None else ""
    )
    authors = _authors(doc.find("AuthorList"))
    if not authors and book is not None:
        authors = _authors(book.find("AuthorList"))
    venue = _text(book.find("BookTitle")) if book is not None else ""
    pub = parse_pubmed_date(book.find("PubDate")) if book is not None else None
    other_ids: list[str] = []
    for aid in doc.iterfind("ArticleIdList/ArticleId"):
        if aid.get("IdType") == "doi":
            _add_doi(other_ids, aid.text)
    book_data = elem.find("PubmedBookData")
    entrez = _history_entrez(book_data.find("History")) if book_data is not None else None
    record = SourceRecord(
        doc_id=doc_id,
        title=title or None,
        abstract=_abstract(doc.find("Abstract")),
        published=_choose_date(policy, entrez, None, pub, None),
        source=SOURCE,
        source_file=source_file,
        line=pos,
        authors=authors,
        venue=venue or None,
        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        other_ids=other_ids,
    )
    return record, entrez


# --------------------------------------------------------------------------- files


class _GunzipStream(io.RawIOBase):
    """Incremental gunzip that hands out every byte it could decompress before failing.

    `gzip.GzipFile.read` drops a chunk's data when the file turns out truncated; this reader
    returns it first and raises `EOFError` only when nothing else is left, so the articles before
    the cut are still parsed. Output per step is bounded (a gzip bomb cannot balloon memory) and
    multi-member files (concatenated gzip members, zero padding after the last) are read through.
    """

    _CHUNK = 1 << 16
    _MAX_OUT = 1 << 20

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._dec = zlib.decompressobj(_GZIP_WBITS)
        self._out = b""
        self._pos = 0
        self._end = False

    def readable(self) -> bool:
        return True

    def _more(self) -> bytes:
        """Next piece of output; b"" at a clean end; EOFError when the last member is cut off."""
        while True:
            if self._dec.unconsumed_tail:
                data = self._dec.unconsumed_tail
            elif self._dec.eof:
                data = self._dec.unused_data or self._fh.read(self._CHUNK)
                if not data.strip(b"\0"):
                    return b""
                self._dec = zlib.decompressobj(_GZIP_WBITS)
            else:
                data = self._fh.read(self._CHUNK)
                if not data:
                    raise EOFError(
                        "compressed file ended before the end-of-stream marker was reached"
                    )
            out = self._dec.decompress(data, self._MAX_OUT)
            if out:
                return out

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(self._MAX_OUT), b""))
        while self._pos >= len(self._out):
            if self._end:
                return b""
            chunk = self._more()
            if not chunk:
                self._end = True
                return b""
            self._out, self._pos = chunk, 0
        piece = self._out[self._pos : self._pos + size]
        self._pos += len(piece)
        return piece

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_binary(path: str | Path) -> IO[bytes]:
    """Binary stream of a file's content, gunzipped when it starts with the gzip magic.

    A truncated gzip yields all it can before raising `EOFError` (see `_GunzipStream`).
    """
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return _GunzipStream(path)  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 - closed by the caller


def _mtime_date(path: Path) -> date | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).date()
    except OSError:
        return None


def _error_reason(exc: BaseException, pos: int) -> str:
    if isinstance(exc, etree.XMLSyntaxError):
        msg = str(getattr(exc, "msg", "") or exc)
        last = exc.error_log.last_error if exc.error_log else None
        if (not msg or msg.startswith("no element found")) and last is not None:
            # lxml's iterparse reports the generic "no element found"; the log has the cause
            msg = f"{last.message} (text line {last.line}, column {last.column})"
        low = msg.lower()
        if "encoding" in low or "utf-8" in low:
            kind = "encoding error (invalid bytes for the declared encoding)"
        elif "amplification" in low or "entity" in low:
            kind = "entity error (entity declarations and references are not allowed)"
        else:
            kind = "XML syntax error"
    elif isinstance(exc, EOFError | gzip.BadGzipFile | zlib.error):
        kind = "truncated or corrupt gzip"
        msg = str(exc) or type(exc).__name__
    elif isinstance(exc, OSError):
        kind = "I/O error"
        msg = str(exc)
    else:
        kind = f"unexpected {type(exc).__name__}"
        msg = str(exc)
    return f"{kind} at or after element {pos}; rest of file not read: {msg}"


def _declared_entities(elem: Any) -> list[str]:
    try:
        dtd = elem.getroottree().docinfo.internalDTD
    except Exception:  # noqa: BLE001 - no docinfo means no DTD
        return []
    if dtd is None:
        return []
    return [str(ent.name) for ent in dtd.iterentities()]


def iter_pubmed(
    path: str | Path,
    *,
    date_policy: str = "entrez",
    file_date: date | None = None,
) -> Iterator[SourceItem]:
    """Stream a PubMed/MEDLINE XML file (gzip or plain) as records, deletions and rejects.

    `date_policy` is "entrez" (default), "articledate" or "pubdate" (see the module docstring);
    `file_date` overrides the date given to `Deletion.deleted_on`. Never raises for bad content;
    an unknown `date_policy` raises ValueError at once.
    """
    if date_policy not in DATE_POLICIES:
        raise ValueError(f"date_policy must be one of {DATE_POLICIES}, not {date_policy!r}")
    return _iter_pubmed(Path(path), date_policy, file_date)


def _iter_pubmed(path: Path, policy: str, file_date: date | None) -> Iterator[SourceItem]:
    source_file = str(path)
    pos = 0
    newest_entrez: date | None = None
    deleted: list[tuple[str, int]] = []
    failure: Rejected | None = None
    try:
        stream = open_binary(path)
    except OSError as exc:
        yield Rejected(source_file, 0, f"cannot open file: {exc}", file_level=True)
        return
    try:
        context = etree.iterparse(
            stream,
            events=("end",),
            tag=_TOP_TAGS,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        checked_dtd = False
        for _event, elem in context:
            parent = elem.getparent()
            if parent is not None and parent.tag not in _ROOT_TAGS:
                continue  # e.g. the MedlineCitation inside a PubmedArticle: read with its article
            if not checked_dtd:
                checked_dtd = True
                entities = _declared_entities(elem)
                if entities:
                    failure = Rejected(
                        source_file,
                        0,
                        "internal DTD subset declares entities "
                        f"({', '.join(entities[:5])}): possible XXE or entity-expansion attack; "
                        "file not read",
                        file_level=True,
                    )
                    break
            pos += 1
            if elem.tag == "DeleteCitation":
                for pmid_el in elem.iterfind("PMID"):
                    pmid = (pmid_el.text or "").strip()
                    if pmid.isdigit():
                        deleted.append((pmid, pos))
                    else:
                        yield Rejected(
                            source_file, pos, f"invalid PMID in DeleteCitation: {pmid[:40]!r}"
                        )
            else:
                try:
                    item, entrez = _parse_article(elem, source_file, pos, policy)
                except Exception as exc:  # noqa: BLE001 - one bad article never stops the file
                    item = Rejected(
                        source_file, pos, f"cannot parse article: {exc!r}", _snippet(elem)
                    )
                    entrez = None
                if entrez is not None and (newest_entrez is None or entrez > newest_entrez):
                    newest_entrez = entrez
                yield item
            elem.clear(keep_tail=True)
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
        root = getattr(context, "root", None)
        if failure is None and pos == 0 and root is not None and root.tag not in _ROOT_TAGS:
            failure = Rejected(
                source_file, 0, f"not PubMed XML: root element <{root.tag}> holds no articles",
                file_level=True,
            )
    except Exception as exc:  # noqa: BLE001 - a file-level failure ends the file, never raises
        failure = Rejected(
            source_file, pos + 1, _error_reason(exc, pos + 1), str(exc)[:_RAW_LIMIT],
            file_level=True,
        )
    finally:
        stream.close()

    if deleted:
        on = file_date or newest_entrez or _mtime_date(path) or date.today()
        for pmid, at in deleted:
            yield Deletion(doc_id=f"pmid:{pmid}", deleted_on=on, source_file=source_file, line=at)
    if failure is not None:
        yield failure


def _head(path: str | Path, size: int = 8192) -> bytes:
    with open_binary(Path(path)) as fh:
        return fh.read(size)


_ROOT_RE = re.compile(rb"<(PubmedArticleSet|MedlineCitationSet|PubmedBookArticleSet)[\s>/]")


def sniff(path: str | Path) -> str | None:
    """Return "pubmed" if the file (gzip or plain) starts like PubMed/MEDLINE XML, else None."""
    try:
        head = _head(path)
    except (OSError, EOFError, zlib.error):
        return None
    return "pubmed" if _ROOT_RE.search(head) else None
