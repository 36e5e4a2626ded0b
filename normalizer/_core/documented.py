"""The documented errors of an exchange (its catalog, compiled): ``Entry`` and ``CompiledCatalog``.

Each entry is one code and message as the venue's docs list it; the engine
recognises a message by its template (``Template``) when the input carries no
(known) code. Read from the compiled rules file, the entries are made when first
asked for: a first call with a known code needs only the set of codes.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Sequence

from .text import Template

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any


class Entry:
    """One documented error of a catalog (compiled form).

    ``code`` is the code as the API returns it; ``doc_code`` the id the docs
    list it under when that differs (OKX's ``51008_1000`` arrives as
    ``51008``); ``name`` and ``description`` the docs' symbolic name and
    explanation, when they give them.
    """

    __slots__ = (
        "_plain_template",
        "code",
        "description",
        "doc_code",
        "guidance",
        "http_status",
        "language",
        "message",
        "name",
        "section",
        "source_url",
        "template",
    )

    def __init__(
        self,
        code: str,
        message: str,
        language: str = "en",
        http_status: int | None = None,
        section: str | None = None,
        guidance: str | None = None,
        source_url: str = "",
        doc_code: str | None = None,
        name: str | None = None,
        description: str | None = None,
        template: Template | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.language = language
        self.http_status = http_status
        self.section = section
        self.guidance = guidance
        self.source_url = source_url
        self.doc_code = doc_code
        self.name = name
        self.description = description
        #: the message compiled for matching (made when first needed if not given)
        self.template = template
        #: its compiled form from the compiled file, turned into ``template`` when first needed
        self._plain_template: Sequence[Any] | None = None

    def compiled(self) -> Template:
        t = self.template
        if t is None:
            plain = self._plain_template
            t = Template.from_plain(plain) if plain is not None else Template(self.message)
            self.template = t
        return t

    @property
    def documented_as(self) -> str:
        """The id the docs list this entry under."""
        return self.doc_code or self.code

    def to_plain(self) -> tuple[Any, ...]:
        return (
            self.code,
            self.message,
            self.language,
            self.http_status,
            self.section,
            self.guidance,
            self.source_url,
            self.doc_code,
            self.name,
            self.description,
            self.compiled().to_plain(),
        )

    def __repr__(self) -> str:
        return f"Entry({self.code!r}, {self.message!r})"


def _entry(e: Sequence[Any]) -> Entry:
    code, message, language, status, section, guidance, url, doc_code, name, description = e[:10]
    entry = Entry(
        code, message, language, status, section, guidance, url, doc_code, name, description
    )
    entry._plain_template = e[10]  # compiled when a message is first looked up
    return entry


class CompiledCatalog:
    """The documented codes of one exchange (compiled form).

    Read from the compiled file, its entries are made when first asked for: a first
    call with a known code needs only the set of documented codes.
    """

    __slots__ = ("_codes", "_entries", "_packed", "_plain", "exchange", "source_url", "updated_at")

    def __init__(
        self, exchange: str, source_url: str, updated_at: str | None, entries: tuple[Entry, ...]
    ) -> None:
        self.exchange = exchange
        self.source_url = source_url
        self.updated_at = updated_at
        self._entries: tuple[Entry, ...] | None = entries
        self._plain: Sequence[Sequence[Any]] = ()
        #: the compiled file's form: the entries' plain rows as one marshal blob (or what
        #: reads it from the file when first needed), and their codes
        self._packed: bytes | Callable[[], bytes] | None = None
        self._codes: Sequence[str] = ()

    @property
    def entries(self) -> tuple[Entry, ...]:
        entries = self._entries
        if entries is None:
            packed = self._packed
            if packed is not None:
                raw = packed if isinstance(packed, bytes) else packed()
                self._plain = marshal.loads(raw)  # noqa: S302 - our own compiled file (_formats/compiled.py)
                self._packed = None
            entries = tuple(_entry(e) for e in self._plain)
            self._entries = entries
        return entries

    def documented_codes(self) -> frozenset[str]:
        """The codes of the entries (without making the entries)."""
        if self._entries is not None:
            return frozenset(e.code for e in self._entries)
        if self._packed is not None:
            return frozenset(self._codes)
        return frozenset(e[0] for e in self._plain)

    def codes(self) -> list[str]:
        """Distinct codes, in documentation order."""
        return list(dict.fromkeys(e.code for e in self.entries))

    def languages(self) -> list[str]:
        return list(dict.fromkeys(e.language for e in self.entries))

    def sections(self) -> list[str]:
        """Distinct sections, in documentation order (entries without one: "")."""
        return list(dict.fromkeys(e.section or "" for e in self.entries))

    def to_plain(self) -> tuple[Any, ...]:
        return (
            self.exchange,
            self.source_url,
            self.updated_at,
            tuple(e.to_plain() for e in self.entries),
        )

    @classmethod
    def from_plain(
        cls, data: Sequence[Any], entries: Callable[[], bytes] | None = None
    ) -> CompiledCatalog:
        """``data`` as ``to_plain`` made it, or in the compiled file's form (the
        codes, the entries packed, or apart: then ``entries`` reads them)."""
        catalog = cls(data[0], data[1], data[2], ())
        catalog._entries = None
        if len(data) == 5:  # the compiled file's form
            if data[3] is None and entries is None:
                raise ValueError("a catalog whose entries are apart needs what reads them")
            catalog._packed = data[3] if data[3] is not None else entries
            catalog._codes = data[4]
        else:
            catalog._plain = data[3]
        return catalog
