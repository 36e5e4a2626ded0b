"""Catalogs: every code an exchange documents, parsed from its docs page.

A catalog is generated, never edited by hand: ``normalizer ingest EXCHANGE
DOC_FILE`` parses a docs page and writes ``rules/EXCHANGE/catalog.yaml``.

The docs format (as in ``shared/seeds/``) is optional YAML front matter between
``---`` lines, then markdown sections. A section holds either a table

    Error Code | HTTP Status Code | Error Message
    ---|---|---
    58102 | 429 | Rate limit reached. ...

whose rows may wrap onto following lines, or lines of the form

    10101 Insufficient balance | guidance text |

The language of a section is Chinese when its heading or table header is
written in Chinese, otherwise the front matter's ``language`` (default
English).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .._core.errors import CatalogError, Problem
from .yaml import load_file, validate

Code = Annotated[str, StringConstraints(pattern=r"^-?[0-9A-Za-z_.]{1,32}$")]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]


class CatalogEntry(BaseModel):
    """One documented error: a code, its message in one language, where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Code
    message: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$")] = "en"
    http_status: Annotated[int, Field(ge=100, le=599)] | None = None
    section: str | None = None
    guidance: str | None = None
    source_url: Url


class Catalog(BaseModel):
    """The documented codes of one exchange."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    source_url: Url
    updated_at: str | None = None
    entries: tuple[CatalogEntry, ...]

    def codes(self) -> list[str]:
        """Distinct codes, in documentation order."""
        return list(dict.fromkeys(e.code for e in self.entries))

    def languages(self) -> list[str]:
        return list(dict.fromkeys(e.language for e in self.entries))


def load_catalog(path: str | Path) -> Catalog:
    """Load and validate a catalog file; mistakes are refused with file, line, field."""
    located = load_file(path, CatalogError)
    return validate(Catalog, located, CatalogError)


# ------------------------------------------------------------------ parsing

_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_TABLE3 = re.compile(r"^\s*(-?\d+)\s*\|\s*(\d{3})?\s*\|\s*(.*?)\s*\|?\s*$")
_CODE_MSG_GUIDE = re.compile(r"^\s*(-?\d+)\s+([^|]*?)\s*\|\s*(.*?)\s*\|?\s*$")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.*)$")


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
    lines = text.splitlines()
    meta: dict[str, Any] = {}
    start = 0
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                try:
                    loaded = yaml.safe_load("\n".join(lines[1:i])) or {}
                except yaml.YAMLError as exc:
                    raise CatalogError(
                        [Problem(path, 1, "front matter", f"not valid YAML: {exc}")]
                    ) from None
                if not isinstance(loaded, dict):
                    raise CatalogError([Problem(path, 1, "front matter", "must be a mapping")])
                meta = loaded
                start = i + 1
                break
    url = source_url or meta.get("source_url")
    if not url:
        raise CatalogError(
            [Problem(path, 1, "source_url", "the page has no source_url; pass one explicitly")]
        )
    default_lang = language or str(meta.get("language") or "en")
    section: str | None = None
    section_lang = default_lang
    rows: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    problems: list[Problem] = []
    for number, line in enumerate(lines[start:], start=start + 1):
        stripped = line.strip()
        if not stripped:
            continue
        heading = _HEADING.match(line)
        if heading:
            section = heading.group(1).strip()
            section_lang = "zh" if _CJK.search(section) else default_lang
            last = None
            continue
        if stripped == "---" or _SEPARATOR.match(stripped):
            last = None if stripped == "---" else last
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
            rows.append(last)
            continue
        m = _CODE_MSG_GUIDE.match(line)
        if m and "|" in line:
            code, message, guidance = m.groups()
            last = {
                "code": code,
                "message": message,
                "guidance": guidance or None,
                "language": "zh" if _CJK.search(message) else section_lang,
                "section": section,
                "line": number,
            }
            rows.append(last)
            continue
        if "|" in stripped and not re.search(r"\d", stripped.split("|")[0]):
            # a table header: its language is the section's
            if _CJK.search(stripped):
                section_lang = "zh"
            last = None
            continue
        if last is not None:
            last["message"] = _join(last["message"], stripped)
            continue
        # prose between sections ("Error Code from 58000 to 58999")
    entries = []
    for row in rows:
        line = row.pop("line")
        try:
            entries.append(CatalogEntry(source_url=url, **row))
        except Exception as exc:  # pydantic ValidationError
            problems.append(
                Problem(path, line, f"code {row.get('code')}", str(exc).splitlines()[-1])
            )
    if problems:
        raise CatalogError(problems)
    if not entries:
        raise CatalogError([Problem(path, None, "", "no error codes found in the page")])
    return ParsedDoc(meta=meta, entries=tuple(entries))


def build_catalog(exchange: str, doc: ParsedDoc, source_url: str) -> Catalog:
    updated = doc.meta.get("updated_at")
    return Catalog(
        exchange=exchange,
        source_url=source_url,
        updated_at=str(updated) if updated is not None else None,
        entries=doc.entries,
    )


def dump_catalog(catalog: Catalog, origin: str) -> str:
    """The YAML text of a catalog, one entry a line, in documentation order."""
    head = (
        f"# Generated by `normalizer ingest {catalog.exchange} {origin}`.\n"
        "# Do not edit by hand: refresh it from a newer docs page with the same command.\n"
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
        n = seen.get((e.code, e.language), 0)
        seen[(e.code, e.language)] = n + 1
        out[(e.code, e.language, n)] = e
    return out


def diff_catalogs(old: Catalog | None, new: Catalog) -> Drift:
    """Docs drift: entries added, removed, or with a changed message or status."""
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
