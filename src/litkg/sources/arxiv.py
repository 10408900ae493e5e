"""Reader for the arXiv metadata snapshot (Kaggle/Cornell `arxiv-metadata-oai-snapshot.json`).

The snapshot is JSON Lines (plain or gzip): one object per line with `id, submitter, authors,
title, comments, journal-ref, doi, report-no, categories, license, abstract, versions,
update_date, authors_parsed`. `iter_arxiv(path)` yields one `SourceRecord` per line, and a
`Rejected` (with the 1-based line number and the raw line) for a line that is not a JSON object,
has no usable id, or is not valid UTF-8. A record without abstract is still yielded with
`abstract=None` (the ingest layer decides). Nothing raises: a file-level failure (truncated gzip,
unreadable file) ends the file with one `Rejected` after the records already read.

Records: `doc_id` is `arxiv:<id without version>` (`arxiv:0704.0001`, `arxiv:hep-th/9901001`);
the DOI goes to `other_ids` as `doi:<lowercased doi>`; authors come from `authors_parsed`
("First Last Suffix"; the optional 4th affiliation element is ignored), else from the `authors`
string; venue is "arXiv"; url `https://arxiv.org/abs/<id>`. Title and abstract are passed through
`normalise_latex` (plain Unicode, line wraps collapsed); the snapshot text (stripped) is kept in
`title_original` / `abstract_original` when normalisation changed more than whitespace (None
otherwise), and the ingest layer stores it next to the normalised text. With `normalise=False`
the snapshot text is kept verbatim (only stripped). `revised` is the latest version's `created`.

Date policy (`date_policy`, the batch key in `SourceRecord.published`, all dates UTC):

- ``"v1"`` (default): `created` of version v1, the first public appearance of the paper;
- ``"latest"``: `created` of the highest version;
- ``"update_date"``: the snapshot's `update_date` (last metadata change, not a content date).

Missing dates fall back v1 -> latest -> the month encoded in the id (`0704.0001` -> 2007-04-01)
-> update_date (for "update_date": update_date first). The snapshot holds only the latest
version's abstract, so one record per paper is emitted. When a later snapshot carries a changed
abstract, the same `doc_id` comes back with another content hash and becomes a revision
downstream; with ``date_policy="latest"`` that record's `published` is the new version's
`created` date, which puts the revision in the batch of that version.

`categories` filters papers: a paper is kept if any of its categories equals a wanted one or lies
under a wanted archive (`"cs"` matches `cs.CL`; `"astro-ph"` matches `astro-ph` and
`astro-ph.CO`, not `math-ph`). Filtered-out lines are skipped silently.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from litkg.sources.latex import normalise_latex
from litkg.sources.pubmed import open_binary
from litkg.sources.records import Rejected, SourceItem, SourceRecord

__all__ = [
    "DATE_POLICIES",
    "iter_arxiv",
    "matches_categories",
    "normalise_latex",
    "parse_arxiv_id",
    "parse_arxiv_record",
    "sniff",
]

SOURCE = "arxiv"
DATE_POLICIES = ("v1", "latest", "update_date")
_RAW_LIMIT = 500
_MAX_LINE = 8 << 20  # 8 MiB: far beyond any real record

_PREFIX_RE = re.compile(r"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)", re.I)
_NEW_ID_RE = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})(?:v(\d+))?$")
_OLD_ID_RE = re.compile(
    r"^([a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]{2}(?:-[a-z]+)?)?)/(\d{2})(\d{2})(\d{3})(?:v(\d+))?$"
)
_VERSION_RE = re.compile(r"^v?(\d+)$")
_DOI_SPLIT_RE = re.compile(r"[\s,;]+")
_WS_RE = re.compile(r"\s+")


def parse_arxiv_id(s: str) -> tuple[str, int | None]:
    """Split an arXiv id into (base id, version or None); raise ValueError if it is not one.

    Accepts new-style (`0704.0001`, `2101.11408v2`) and old-style (`hep-th/9901001v1`,
    `math.GT/0309136`) ids, optionally prefixed by `arXiv:` or an arxiv.org abs/pdf URL.
    """
    if not isinstance(s, str):
        raise ValueError(f"not an arXiv id: {s!r}")
    text = _PREFIX_RE.sub("", s.strip())
    if text.endswith(".pdf"):
        text = text[:-4]
    m = _NEW_ID_RE.match(text)
    if m:
        yy, mm, num, ver = m.groups()
        # four-digit numbers until 2014-12, five-digit from 2015-01 (1501.xxxxx)
        five = int(yy + mm) >= 1501
        if 1 <= int(mm) <= 12 and len(num) == (5 if five else 4):
            return f"{yy}{mm}.{num}", _version(ver)
    m = _OLD_ID_RE.match(text)
    if m:
        archive, yy, mm, num, ver = m.groups()
        if 1 <= int(mm) <= 12:
            return f"{archive}/{yy}{mm}{num}", _version(ver)
    raise ValueError(f"not an arXiv id: {s!r}")


def _version(ver: str | None) -> int | None:
    if ver is None:
        return None
    n = int(ver)
    if n < 1:
        raise ValueError(f"arXiv version must be >= 1, not {n}")
    return n


def _id_month(base_id: str) -> date | None:
    """First day of the month encoded in an id (0704.0001 -> 2007-04-01, hep-th/9901001 -> 1999)."""
    digits = base_id.split("/")[-1]
    yy, mm = int(digits[:2]), int(digits[2:4])
    year = 1900 + yy if yy >= 91 else 2000 + yy
    return date(year, mm, 1)


def matches_categories(record_categories: str | list[str] | None, wanted: set[str]) -> bool:
    """True if any category equals a wanted one or lies under a wanted archive ("cs" -> cs.*)."""
    if isinstance(record_categories, str):
        cats = record_categories.split()
    else:
        cats = [c for c in record_categories or [] if isinstance(c, str)]
    return any(c == w or c.startswith(w + ".") for c in cats for w in wanted)


def _created(entry: Any) -> date | None:
    if not isinstance(entry, dict):
        return None
    raw = entry.get("created")
    if not isinstance(raw, str):
        return None
    try:
        dt = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.date()


def _version_dates(versions: Any) -> tuple[date | None, date | None]:
    """(v1 created, latest created) from the `versions` list, ordered by version number."""
    if not isinstance(versions, list):
        return None, None
    numbered: list[tuple[int, date]] = []
    for i, entry in enumerate(versions):
        d = _created(entry)
        if d is None:
            continue
        label = entry.get("version") if isinstance(entry, dict) else None
        m = _VERSION_RE.match(label.strip()) if isinstance(label, str) else None
        numbered.append((int(m.group(1)) if m else i + 1, d))
    if not numbered:
        return None, None
    numbered.sort()
    return numbered[0][1], numbered[-1][1]


def _update_date(raw: Any) -> date | None:
    if not isinstance(raw, str):
        return None
    try:
        return date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return None


def _authors(obj: dict[str, Any], normalise: bool) -> list[str]:
    clean = normalise_latex if normalise else (lambda t: _WS_RE.sub(" ", t or "").strip())
    names: list[str] = []
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        for entry in parsed:
            if not isinstance(entry, list):
                continue
            last, first, suffix = (list(entry) + ["", "", ""])[:3]
            parts = [p for p in (first, last, suffix) if isinstance(p, str) and p.strip()]
            name = clean(" ".join(parts))
            if name:
                names.append(name)
        if names:
            return names
    raw = obj.get("authors")
    if isinstance(raw, str) and raw.strip():
        for part in re.split(r",\s*|\s+and\s+", clean(raw)):
            if part.strip():
                names.append(part.strip())
    return names


def _dois(raw: Any) -> list[str]:
    out: list[str] = []
    if not isinstance(raw, str):
        return out
    for tok in _DOI_SPLIT_RE.split(raw.strip()):
        tok = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", "", tok, flags=re.I).lower()
        if tok.startswith("10.") and "/" in tok and f"doi:{tok}" not in out:
            out.append(f"doi:{tok}")
    return out


def _text(raw: Any, normalise: bool) -> str | None:
    if not isinstance(raw, str):
        return None
    text = normalise_latex(raw) if normalise else raw.strip()
    return text or None


def parse_arxiv_record(
    obj: Any,
    source_file: str,
    line: int,
    *,
    date_policy: str = "v1",
    normalise: bool = True,
    raw: str | None = None,
) -> SourceRecord | Rejected:
    """One decoded snapshot object -> SourceRecord, or Rejected when it has no usable id."""
    if not isinstance(obj, dict):
        return Rejected(source_file, line, "not a JSON object", raw)
    raw_id = obj.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        return Rejected(source_file, line, "missing id", raw)
    try:
        base_id, _ = parse_arxiv_id(raw_id)
    except ValueError:
        return Rejected(source_file, line, f"invalid arXiv id {raw_id[:60]!r}", raw)

    v1, latest = _version_dates(obj.get("versions"))
    updated = _update_date(obj.get("update_date"))
    from_id = _id_month(base_id)
    if date_policy == "latest":
        chain = (latest, v1, from_id, updated)
    elif date_policy == "update_date":
        chain = (updated, latest, v1, from_id)
    else:
        chain = (v1, latest, from_id, updated)
    published = next((d for d in chain if d is not None), None)
    title = _text(obj.get("title"), normalise)
    abstract = _text(obj.get("abstract"), normalise)

    return SourceRecord(
        doc_id=f"arxiv:{base_id}",
        title=title,
        abstract=abstract,
        published=published,
        source=SOURCE,
        source_file=source_file,
        line=line,
        authors=_authors(obj, normalise),
        venue="arXiv",
        url=f"https://arxiv.org/abs/{base_id}",
        other_ids=_dois(obj.get("doi")),
        revised=latest,
        title_original=_original(obj.get("title"), title) if normalise else None,
        abstract_original=_original(obj.get("abstract"), abstract) if normalise else None,
    )


def _original(raw: Any, normalised: str | None) -> str | None:
    """The snapshot text (stripped) when normalisation changed more than its whitespace."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if _WS_RE.sub(" ", text) == (normalised or ""):
        return None
    return text


def iter_arxiv(
    path: str | Path,
    *,
    categories: set[str] | None = None,
    date_policy: str = "v1",
    normalise: bool = True,
) -> Iterator[SourceItem]:
    """Stream an arXiv metadata snapshot (JSON Lines, plain or gzip) as records and rejects.

    `categories` keeps papers with any matching category (prefix "cs" matches "cs.*");
    `date_policy` is "v1" (default), "latest" or "update_date" (see the module docstring);
    `normalise=False` keeps title/abstract LaTeX as in the snapshot. An unknown `date_policy`
    raises ValueError at once; bad content never raises.
    """
    if date_policy not in DATE_POLICIES:
        raise ValueError(f"date_policy must be one of {DATE_POLICIES}, not {date_policy!r}")
    wanted = {c.strip() for c in categories if c.strip()} if categories else None
    return _iter_arxiv(Path(path), wanted, date_policy, normalise)


def _iter_arxiv(
    path: Path, wanted: set[str] | None, policy: str, normalise: bool
) -> Iterator[SourceItem]:
    source_file = str(path)
    lineno = 0
    try:
        stream = _open_lines(path)
    except OSError as exc:
        yield Rejected(source_file, 0, f"cannot open file: {exc}", file_level=True)
        return
    try:
        while True:
            try:
                raw_bytes = stream.readline(_MAX_LINE)
            except (OSError, EOFError, ValueError, zlib.error) as exc:
                reason = f"truncated or unreadable file after line {lineno}; rest not read: {exc}"
                yield Rejected(source_file, lineno + 1, reason, file_level=True)
                return
            if not raw_bytes:
                return
            lineno += 1
            if len(raw_bytes) >= _MAX_LINE and not raw_bytes.endswith(b"\n"):
                while True:  # skip the rest of the over-long line
                    more = stream.readline(_MAX_LINE)
                    if not more or more.endswith(b"\n"):
                        break
                yield Rejected(source_file, lineno, "line too long", _snip(raw_bytes))
                continue
            try:
                text = raw_bytes.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Rejected(source_file, lineno, f"invalid UTF-8: {exc}", _snip(raw_bytes))
                continue
            text = text.lstrip("\ufeff").strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                yield Rejected(source_file, lineno, f"malformed JSON: {exc}", text[:_RAW_LIMIT])
                continue
            if (
                wanted is not None
                and isinstance(obj, dict)
                and not matches_categories(obj.get("categories"), wanted)
            ):
                continue
            try:
                yield parse_arxiv_record(
                    obj,
                    source_file,
                    lineno,
                    date_policy=policy,
                    normalise=normalise,
                    raw=text[:_RAW_LIMIT],
                )
            except Exception as exc:  # noqa: BLE001 - one bad record never stops the file
                yield Rejected(
                    source_file, lineno, f"cannot parse record: {exc!r}", text[:_RAW_LIMIT]
                )
    finally:
        stream.close()


def _open_lines(path: Path) -> io.BufferedIOBase:
    stream = open_binary(path)
    if isinstance(stream, io.BufferedIOBase):
        return stream
    return io.BufferedReader(stream)  # type: ignore[arg-type]


def _snip(raw: bytes) -> str:
    return raw[:_RAW_LIMIT].decode("utf-8", "replace")


_HEAD_RE = re.compile(r'^\s*\{\s*"id"\s*:')
_SNAPSHOT_KEYS = {"versions", "categories", "authors_parsed", "update_date"}


def sniff(path: str | Path) -> str | None:
    """Return "arxiv" if the first line is an arXiv snapshot object (gzip or plain), else None.

    The object must carry an arXiv id and a snapshot-only key (`versions`, `categories`,
    `authors_parsed` or `update_date`), so generic JSON Lines with `id`/`abstract` are not claimed.
    """
    try:
        with _open_lines(Path(path)) as fh:
            first = fh.readline(1 << 16)
    except (OSError, EOFError, ValueError, zlib.error):
        return None
    text = first.decode("utf-8", "replace").lstrip("\ufeff")
    try:
        obj = json.loads(text)
    except ValueError:
        return "arxiv" if _HEAD_RE.match(text) and not text.endswith("\n") else None
    if not isinstance(obj, dict) or not _SNAPSHOT_KEYS & obj.keys():
        return None
    try:
        parse_arxiv_id(obj.get("id"))
    except ValueError:
        return None
    return "arxiv"
