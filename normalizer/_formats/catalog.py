r"""Catalogs: every code an exchange documents, parsed from its docs pages.

A catalog is generated, never edited by hand: ``exchange-normalizer ingest EXCHANGE
PAGE...`` parses the docs pages (kept in ``rules/EXCHANGE/docs/``) and writes
``rules/EXCHANGE/catalog.yaml``.

A docs page (as in ``shared/catalogs/`` and ``shared/seeds/``) is optional
YAML front matter between ``---`` lines (``exchange``, ``source_url``,
``section``, ``api_type``, ``updated_at``), then markdown sections. A section
holds a table whose header names its columns

    Error Code | HTTP Status Code | Error Message | Name | Description
    ---|---|---|---|---
    58102 | 429 | Rate limit reached. ... | | |

(``Name`` and ``Description`` optional, ``\|`` a pipe inside a cell, an empty
status cell for "not documented"); rows may wrap onto following lines. Codes
are any single-line text: ``51008_1000``, ``EOrder:Insufficient funds``,
``BALANCE_NOT_ENOUGH``; one code may have several rows. Older pages also have
header-less rows ``58102 | 429 | text`` and lines of the form

    10101 Insufficient balance | guidance text |

The language of a section is Chinese when its heading or table header is
written in Chinese, otherwise the front matter's ``language`` (default
English). The section is the front matter's ``section``, else the heading.

(Over 500 lines: a docs page's catalog from reading its tables to the
YAML written and the drift between two versions, one format in one place.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .._core.errors import ArgumentTypeError, ArgumentValueError, CatalogError, Problem
from .fields import VENUE_NAME, Code, Url, VenueName
from .yaml import load_file, load_text, validate

MAX_DOC_MESSAGE = 8000


class CatalogEntry(BaseModel):
    """One documented error: a code, its message in one language, where it came from.

    ``code`` is the code as the API returns it; ``doc_code`` the id the docs
    list it under when that differs (OKX's sub-code ``51008_1000`` arrives as
    ``51008``; Kraken's ``EGeneral:Internal error[:<code>]`` as
    ``EGeneral:Internal error``). ``name`` and ``description`` are the docs'
    symbolic name and explanation, when they give them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Code
    message: Annotated[str, StringConstraints(min_length=1, max_length=MAX_DOC_MESSAGE)]
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$")] = "en"
    http_status: Annotated[int, Field(ge=100, le=599)] | None = None
    section: str | None = None
    doc_code: Code | None = None
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    description: Annotated[str, StringConstraints(max_length=MAX_DOC_MESSAGE)] | None = None
    guidance: str | None = None
    source_url: Url

    @property
    def documented_as(self) -> str:
        """The id the docs list this entry under."""
        return self.doc_code or self.code


class Catalog(BaseModel):
    """The documented codes of one exchange."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: VenueName
    source_url: Url
    updated_at: str | None = None
    entries: tuple[CatalogEntry, ...]

    def codes(self) -> list[str]:
        """Distinct codes, in documentation order."""
        return list(dict.fromkeys(e.code for e in self.entries))

    def languages(self) -> list[str]:
        return list(dict.fromkeys(e.language for e in self.entries))

    def sections(self) -> list[str]:
        """Distinct sections, in documentation order (entries without one: "")."""
        return list(dict.fromkeys(e.section or "" for e in self.entries))


def load_catalog(path: str | Path) -> Catalog:
    """Load and validate a catalog file; mistakes are refused with file, line, field."""
    located = load_file(path, CatalogError)
    return validate(Catalog, located, CatalogError)


# ------------------------------------------------------------------ parsing

_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# rows of a table without a header line (older pages): an integer code first
_TABLE3 = re.compile(r"^\s*(-?\d+)\s*\|\s*(\d{3})?\s*\|\s*(.*?)\s*\|?\s*$")
_CODE_MSG_GUIDE = re.compile(r"^\s*(-?\d+)\s+([^|]*?)\s*\|\s*(.*?)\s*\|?\s*$")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.*)$")
_STATUS = re.compile(r"^\d{3}$")
#: Lines longer than this are refused: no docs row is that long.
MAX_LINE = 20_000

#: header cell (folded) -> the field it holds
_COLUMNS: dict[str, str] = {
    "error code": "code",
    "code": "code",
    "错误码": "code",
    "http status code": "http_status",
    "http status": "http_status",
    "http 状态码": "http_status",
    "error message": "message",
    "message": "message",
    "错误提示": "message",
    "name": "name",
    "description": "description",
}


class ParsedDoc(BaseModel):
    """What a docs page says: its front matter and its rows."""

    model_config = ConfigDict(frozen=True)
    meta: dict[str, Any]
    entries: tuple[CatalogEntry, ...]


def _join(left: str, right: str) -> str:
    left, right = left.rstrip(), right.strip()
    if not left:
        return right
    if not right:
        return left
    if _CJK.match(left[-1]) or _CJK.match(right[0]):
        return left + right
    return f"{left} {right}"


def split_cells(line: str) -> list[str]:
    """The cells of a Markdown table row; ``\\|`` is a pipe inside a cell."""
    cells: list[str] = []
    cur: list[str] = []
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == "\\" and i + 1 < n and line[i + 1] == "|":
            cur.append("|")
            i += 2
            continue
        if ch == "|":
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    cells.append("".join(cur).strip())
    stripped = line.strip()
    if stripped.startswith("|") and cells and cells[0] == "":
        cells = cells[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|") and cells and cells[-1] == "":
        cells = cells[:-1]
    return cells


def _has_pipe(line: str) -> bool:
    return "|" in line.replace("\\|", "")


def _header(cells: list[str]) -> list[str] | None:
    """The fields of a table header line, or None when it is not one."""
    fields = [_COLUMNS.get(" ".join(c.casefold().split())) for c in cells]
    if len(fields) < 2 or fields[0] != "code" or "message" not in fields:
        return None
    return [f or f"_{i}" for i, f in enumerate(fields)]


def _front_matter(lines: list[str], path: str) -> tuple[dict[str, Any], int]:
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for i in range(1, min(len(lines), 200)):
        if lines[i].strip() == "---":
            # the front matter is YAML: the same bounded, safe loader as every file
            front = "\n" + "\n".join(lines[1:i])  # keeps the page's line numbers
            loaded = load_text(front, path, CatalogError).data or {}
            if not isinstance(loaded, dict):
                raise CatalogError([Problem(path, 1, "front matter", "must be a mapping")])
            return loaded, i + 1
    raise CatalogError([Problem(path, 1, "front matter", "no closing '---' line")])


def parse_doc(
    text: str,
    *,
    path: str = "<doc>",
    source_url: str | None = None,
    language: str | None = None,
) -> ParsedDoc:
    """Parse a docs page in the format described in the module docstring.

    ``source_url`` overrides (or supplies, when the page has no front matter)
    the documentation URL every entry carries.
    """
    if not isinstance(text, str):
        raise ArgumentTypeError("text", "the page's text (str)", text)
    lines = text.splitlines()
    meta, start = _front_matter(lines, path)
    url = source_url or meta.get("source_url")
    if not url:
        raise CatalogError(
            [Problem(path, 1, "source_url", "the page has no source_url; pass one explicitly")]
        )
    default_lang = language or str(meta.get("language") or "en")
    fixed_section = meta.get("section")
    section: str | None = str(fixed_section) if fixed_section else None
    section_lang = default_lang
    columns: list[str] | None = None
    rows: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    last_field = "message"
    problems: list[Problem] = []
    for number, line in enumerate(lines[start:], start=start + 1):
        if len(line) > MAX_LINE:
            problems.append(Problem(path, number, "", f"line longer than {MAX_LINE} characters"))
            continue
        stripped = line.strip()
        if not stripped:
            continue
        heading = _HEADING.match(line)
        if heading:
            title = heading.group(1).strip()
            if not fixed_section or _CJK.search(title):
                section = title
            section_lang = "zh" if _CJK.search(title) else default_lang
            columns, last = None, None
            continue
        if stripped == "---" or _SEPARATOR.match(stripped):
            last = None if stripped == "---" else last
            continue
        if _has_pipe(stripped):
            cells = split_cells(stripped)
            header = _header(cells)
            if header is not None:
                columns, last = header, None
                if _CJK.search(stripped):
                    section_lang = "zh"
                continue
            if columns is not None and cells and cells[0]:
                row = _table_row(cells, columns, path, number, problems)
                if row is None:
                    continue
                row.update(language=section_lang, section=section, line=number)
                rows.append(row)
                last = row
                last_field = next((f for f in reversed(columns) if row.get(f)), "message")
                continue
            m = _TABLE3.match(line)
            if m:
                code, status, message = m.groups()
                last = {
                    "code": code,
                    "http_status": int(status) if status else None,
                    "message": message,
                    "language": section_lang,
                    "section": section,
                    "line": number,
                }
                last_field = "message"
                rows.append(last)
                continue
            m = _CODE_MSG_GUIDE.match(line)
            if m:
                code, message, guidance = m.groups()
                last = {
                    "code": code,
                    "message": message,
                    "guidance": guidance or None,
                    "language": "zh" if _CJK.search(message) else section_lang,
                    "section": section,
                    "line": number,
                }
                last_field = "message"
                rows.append(last)
                continue
            last = None  # some other table: not ours
            continue
        if last is not None:  # a row wrapped onto the next line
            last[last_field] = _join(last.get(last_field) or "", stripped)
            continue
        # prose between sections ("Error Code from 58000 to 58999")
    entries = []
    for row in rows:
        line_no = row.pop("line")
        if not row.get("message"):
            # the docs give no text (OKX's success code 0): the name, else the code stands in
            row["message"] = row.get("name") or row["code"]
        try:
            entries.append(CatalogEntry(source_url=url, **row))
        except Exception as exc:  # pydantic ValidationError
            problems.append(
                Problem(path, line_no, f"code {row.get('code')}", str(exc).splitlines()[-1])
            )
    if problems:
        raise CatalogError(problems)
    if not entries:
        raise CatalogError([Problem(path, None, "", "no error codes found in the page")])
    return ParsedDoc(meta=meta, entries=tuple(entries))


def _table_row(
    cells: list[str], columns: list[str], path: str, number: int, problems: list[Problem]
) -> dict[str, Any] | None:
    if len(cells) > len(columns):  # an unescaped pipe in the last cell: keep the text
        cells = [*cells[: len(columns) - 1], " | ".join(cells[len(columns) - 1 :])]
    row: dict[str, Any] = {}
    for field, cell in zip(columns, cells, strict=False):
        if field.startswith("_") or not cell:
            continue
        if field == "http_status":
            if not _STATUS.match(cell):
                problems.append(Problem(path, number, "HTTP status", f"{cell!r} is not a status"))
                return None
            row[field] = int(cell)
        else:
            row[field] = " ".join(cell.split()) if field == "code" else cell.strip()
    name = row.get("name")
    if name and name.startswith(row["code"] + " "):  # Binance: "-1000 UNKNOWN"
        row["name"] = name[len(row["code"]) + 1 :].strip()
    return row


# ------------------------------------------------------------ documented ids

#: A placeholder at the end of a documented code: ``[:<code>]``, ``: [UNIX timestamp]``.
_CODE_TAIL = re.compile(r"\s*(?:\[[^\[\]]{1,40}\]|\{[^{}]{1,40}\}|<[^<>]{1,40}>)\s*$")


def api_code(doc_code: str, subcode_separator: str | None = None) -> str:
    """The code the API returns for an entry the docs list as ``doc_code``.

    A trailing placeholder (and the separator before it) is not part of the
    code (``EService: Throttled: [UNIX timestamp]`` -> ``EService: Throttled``);
    with a sub-code separator, neither is what follows it
    (``51008_1000`` -> ``51008``).
    """
    code = doc_code
    for _ in range(3):
        stripped = _CODE_TAIL.sub("", code).rstrip(" :")
        if stripped == code or not stripped:
            break
        code = stripped
    if subcode_separator and subcode_separator in code:
        head = code.split(subcode_separator, 1)[0]
        if head:
            code = head
    return code


def build_catalog(
    exchange: str,
    doc: ParsedDoc | Sequence[ParsedDoc],
    source_url: str,
    *,
    subcode_separator: str | None = None,
    skip_codes: Iterable[str] = (),
) -> Catalog:
    """One catalog from one or several parsed pages, in the order given.

    Entries keep their section and source URL; each code is the code as the
    API returns it (``api_code``), the documented id kept in ``doc_code``.
    A row repeated exactly (same code, language, message, status) within one
    section is kept once; so is a row of a legacy seed page (one without
    ``section`` in its front matter, such as OKX's bilingual Funding seed)
    that a sectioned page already lists. Codes in ``skip_codes`` (success
    codes) are left out.
    """
    for name, text in (("exchange", exchange), ("source_url", source_url)):
        if not isinstance(text, str):
            raise ArgumentTypeError(name, "a str", text)
    if not re.match(VENUE_NAME, exchange):
        raise ArgumentValueError(
            "exchange", "must be a venue's folder name (a-z, 0-9 and _, one -)", exchange
        )
    docs = [doc] if isinstance(doc, ParsedDoc) else doc
    if not isinstance(docs, (list, tuple)) or not all(isinstance(d, ParsedDoc) for d in docs):
        raise ArgumentTypeError("doc", "a ParsedDoc (parse_doc's) or a list of them", doc)
    skip = set(skip_codes)
    entries: list[CatalogEntry] = []
    seen: set[tuple[str | None, str, str, str, int | None]] = set()
    for d in docs:
        legacy = not d.meta.get("section")
        for e in d.entries:
            code = api_code(e.code, subcode_separator)
            if code in skip:
                continue
            key = (code, e.language, e.message, e.http_status)
            if (e.section, *key) in seen or (legacy and (None, *key) in seen):
                continue
            seen.add((e.section, *key))
            seen.add((None, *key))
            if code != e.code:
                e = e.model_copy(update={"code": code, "doc_code": e.code})
            entries.append(e)
    dates = [str(d.meta["updated_at"]) for d in docs if d.meta.get("updated_at") is not None]
    return Catalog(
        exchange=exchange,
        source_url=source_url,
        updated_at=max(dates) if dates else None,
        entries=tuple(entries),
    )


def merge_sections(old: Catalog | None, new: Catalog, *, drop_others: bool = False) -> Catalog:
    """``old`` with the sections ``new`` has replaced by ``new``'s entries.

    Docs pages are ingested a section at a time: a section the pages given do
    not list keeps its entries (unless ``drop_others``, the whole catalog then
    being the pages'). Sections keep their place; new ones come last. Rows
    without a section (a legacy seed page) that another section lists are
    kept once, as ``build_catalog`` does.
    """
    if old is None or drop_others:
        return new
    given = {e.section or "" for e in new.entries}
    by_section: dict[str, list[CatalogEntry]] = {}
    for e in new.entries:
        by_section.setdefault(e.section or "", []).append(e)
    entries: list[CatalogEntry] = []
    placed: set[str] = set()
    for e in old.entries:
        section = e.section or ""
        if section not in given:
            entries.append(e)
        elif section not in placed:
            entries += by_section[section]
            placed.add(section)
    for section, fresh in by_section.items():
        if section not in placed:
            entries += fresh
    sectioned = {
        (e.code, e.language, e.message, e.http_status) for e in entries if e.section is not None
    }
    entries = [
        e
        for e in entries
        if e.section is not None or (e.code, e.language, e.message, e.http_status) not in sectioned
    ]
    dates = [d for d in (old.updated_at, new.updated_at) if d is not None]
    return Catalog(
        exchange=new.exchange,
        source_url=old.source_url,
        updated_at=max(dates) if dates else None,
        entries=tuple(entries),
    )


#: the first line of a generated catalog names the command and the pages it was built from
GENERATED_BY = "# Generated by `exchange-normalizer ingest "


def catalog_origin(text: str) -> list[str]:
    """The pages a generated catalog's first line says it was built from."""
    first = text.split("\n", 1)[0]
    for prefix in (GENERATED_BY, GENERATED_BY.replace("exchange-", "")):  # now, and before
        if first.startswith(prefix):
            words = first[len(prefix) :].rstrip().removesuffix("`.").split()
            return words[1:]  # after the exchange's name
    return []


def dump_catalog(catalog: Catalog, origin: str) -> str:
    """The YAML text of a catalog, one entry a line, in documentation order."""
    head = (
        f"{GENERATED_BY}{catalog.exchange} {origin}`.\n"
        "# Do not edit by hand: refresh it from newer docs pages with the same command.\n"
    )
    body: dict[str, Any] = {
        "exchange": catalog.exchange,
        "source_url": catalog.source_url,
        "updated_at": catalog.updated_at,
    }
    out = head + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=1000)
    out += "entries:\n"
    for entry in catalog.entries:
        data = entry.model_dump(exclude_none=True)
        out += (
            "- "
            + yaml.safe_dump(
                data, sort_keys=False, allow_unicode=True, default_flow_style=True, width=100000
            ).strip()
            + "\n"
        )
    return out


class Drift(BaseModel):
    """What changed between the current catalog and a newer docs page."""

    model_config = ConfigDict(frozen=True)
    added: tuple[CatalogEntry, ...] = ()
    removed: tuple[CatalogEntry, ...] = ()
    changed_message: tuple[tuple[CatalogEntry, CatalogEntry], ...] = ()
    changed_status: tuple[tuple[CatalogEntry, CatalogEntry], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed_message or self.changed_status)


def _keyed(entries: Iterable[CatalogEntry]) -> dict[tuple[str, str, int], CatalogEntry]:
    out: dict[tuple[str, str, int], CatalogEntry] = {}
    seen: dict[tuple[str, str], int] = {}
    for e in entries:
        key = (e.documented_as, e.language)
        n = seen.get(key, 0)
        seen[key] = n + 1
        out[(*key, n)] = e
    return out


def diff_catalogs(old: Catalog | None, new: Catalog) -> Drift:
    """Docs drift: entries added, removed, or with a changed message or status."""
    if old is not None and not isinstance(old, Catalog):
        raise ArgumentTypeError("old", "a Catalog or None", old)
    if not isinstance(new, Catalog):
        raise ArgumentTypeError("new", "a Catalog", new)
    before = _keyed(old.entries if old else ())
    after = _keyed(new.entries)
    added = tuple(e for k, e in after.items() if k not in before)
    removed = tuple(e for k, e in before.items() if k not in after)
    msg = tuple(
        (before[k], e) for k, e in after.items() if k in before and before[k].message != e.message
    )
    status = tuple(
        (before[k], e)
        for k, e in after.items()
        if k in before and before[k].http_status != e.http_status
    )
    return Drift(added=added, removed=removed, changed_message=msg, changed_status=status)


# ------------------------------------------------------------------ ingest


class PageReport(BaseModel):
    """What one docs page gave."""

    model_config = ConfigDict(frozen=True)
    path: str
    rows: int
    source_url: str
    url_from: Literal["page", "option", "exchange.yaml"]


class Ingested(BaseModel):
    """A catalog built from docs pages, with what was left out and why."""

    model_config = ConfigDict(frozen=True)
    catalog: Catalog
    pages: tuple[PageReport, ...]
    skipped_success: int = 0
    duplicates: int = 0


def ingest_pages(
    exchange: str,
    pages: Sequence[tuple[str, str]],
    *,
    docs_url: str,
    subcode_separator: str | None = None,
    success_codes: Iterable[str] = (),
    source_url: str | None = None,
) -> Ingested:
    """Build one catalog from several docs pages, given as ``(path, text)``.

    Each page's URL is its front matter's ``source_url``, else ``source_url``,
    else the exchange's ``docs_url``. A page whose front matter names another
    exchange is refused (``CatalogError``), as is any mistake in a page.
    """
    docs: list[ParsedDoc] = []
    reports: list[PageReport] = []
    problems: list[Problem] = []
    for path, text in pages:
        try:
            meta, _ = _front_matter(text.splitlines(), path)
            own = meta.get("source_url")
            url = source_url or (str(own) if own else docs_url)
            doc = parse_doc(text, path=path, source_url=url)
        except CatalogError as exc:
            problems += exc.problems
            continue
        named = doc.meta.get("exchange")
        if named is not None and str(named).strip().lower() != exchange:
            problems.append(
                Problem(path, 2, "exchange", f"the page is about {named!r}, not {exchange!r}")
            )
            continue
        url_from: Literal["page", "option", "exchange.yaml"] = (
            "option" if source_url else "page" if own else "exchange.yaml"
        )
        docs.append(doc)
        reports.append(
            PageReport(path=path, rows=len(doc.entries), source_url=url, url_from=url_from)
        )
    if problems:
        raise CatalogError(problems)
    skip = set(success_codes)
    catalog = build_catalog(
        exchange, docs, docs_url, subcode_separator=subcode_separator, skip_codes=skip
    )
    total = sum(len(d.entries) for d in docs)
    skipped = sum(1 for d in docs for e in d.entries if api_code(e.code, subcode_separator) in skip)
    return Ingested(
        catalog=catalog,
        pages=tuple(reports),
        skipped_success=skipped,
        duplicates=total - skipped - len(catalog.entries),
    )


def section_drift(drift: Drift) -> dict[str, Drift]:
    """The drift split by docs section (entries without one under "")."""
    out: dict[str, dict[str, list[Any]]] = {}

    def bucket(section: str | None) -> dict[str, list[Any]]:
        return out.setdefault(
            section or "",
            {"added": [], "removed": [], "changed_message": [], "changed_status": []},
        )

    for e in drift.added:
        bucket(e.section)["added"].append(e)
    for e in drift.removed:
        bucket(e.section)["removed"].append(e)
    for a, b in drift.changed_message:
        bucket(b.section)["changed_message"].append((a, b))
    for a, b in drift.changed_status:
        bucket(b.section)["changed_status"].append((a, b))
    return {
        s: Drift(
            added=tuple(v["added"]),
            removed=tuple(v["removed"]),
            changed_message=tuple(v["changed_message"]),
            changed_status=tuple(v["changed_status"]),
        )
        for s, v in out.items()
    }
