"""ccxt interoperability: normalize the exceptions ccxt raises.

``normalize(exchange, error=exc)`` hands a ccxt exception here. ccxt is never
imported: its exceptions are recognised by the modules of the classes in their
MRO (``ccxt.base.errors.RateLimitExceeded``), as ``_transport`` recognises
HTTP clients' exceptions.

What the exchange said is recovered, best source first:

1. the HTTP client's exception ccxt raised from (``__context__``/``__cause__``),
   which still carries the response: status, headers (``Retry-After``), body;
2. the exception text, where ccxt embeds the body: ``okx {"code":"58102",...}``
   or ``mexc POST https://... 400 Bad Request {"code":10101,...}``;
3. a transport failure ccxt wrapped (``RequestTimeout`` from requests'
   ``ReadTimeout``), classified as any transport failure is.

Then the exchange's rules decide, as for any body. Only when they find nothing
(UNKNOWN) does ccxt's class decide, through ``rules/common/ccxt.yaml``: the
result then names the rule ``ccxt.<ClassName>``.

``compare_with_ccxt(exchange)`` (which does import ccxt) sets this project's
category of every catalog code beside the class ccxt maps it to.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from ._core.errors import RuleFileError
from ._core.resources import data_dir
from ._engine.results import NormalizedError, _build
from ._engine.transport import response_of, transport_kind
from ._formats.ontology import ONTOLOGY, Category
from ._formats.yaml import load_file, validate

if TYPE_CHECKING:
    from ._engine.results import RawInput
    from ._formats.ontology import Operation
    from ._formats.rules import RuleSet

Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
ClassName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]{1,60}$")]
OneLine = Annotated[str, StringConstraints(min_length=8, max_length=240, pattern=r"^[^\n]+$")]

#: The exception text is searched this far for an embedded body.
MAX_TEXT = 256 * 1024
_MAX_DEPTH = 6
_STATUS_LINE = re.compile(
    r"^\S+ (?:GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) \S+ ([1-5][0-9]{2})(?: |$)(.*)$", re.DOTALL
)


class ClassEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    category: str
    why: OneLine
    source: Url | None = None

    @field_validator("category")
    @classmethod
    def _in_ontology(cls, v: str) -> str:
        ONTOLOGY.parse_label(v)
        return v


class ClassTable(BaseModel):
    """``rules/common/ccxt.yaml``: ccxt exception class -> category, as a fallback."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_url: Url
    classes: dict[ClassName, ClassEntry]

    def lookup(self, names: list[str]) -> tuple[str, ClassEntry] | None:
        """The entry of the most specific class in ``names`` that has one."""
        for name in names:
            entry = self.classes.get(name)
            if entry is not None:
                return name, entry
        return None


def load_class_table(path: str | Path | None = None) -> ClassTable:
    """Load a class table; a mistake is refused with file, line and field."""
    p = Path(path) if path is not None else data_dir("rules") / "common" / "ccxt.yaml"
    return validate(ClassTable, load_file(p, RuleFileError), RuleFileError)


@cache
def default_table() -> ClassTable:
    return load_class_table()


# ------------------------------------------------------------ recognising


def _is_ccxt_class(cls: type) -> bool:
    module = getattr(cls, "__module__", "") or ""
    return module == "ccxt" or module.startswith("ccxt.")


def is_ccxt_error(exc: object) -> bool:
    """Whether ``exc`` is an exception of ccxt's (without importing ccxt)."""
    return isinstance(exc, BaseException) and _is_ccxt_exception_class(type(exc))


_SEEN_CLASSES: dict[type, bool] = {}


def _is_ccxt_exception_class(exc_class: type[BaseException]) -> bool:
    # normalize() asks this of every exception it is given; the MRO walk is
    # done once per class (bench/), for at most 1024 classes.
    hit = _SEEN_CLASSES.get(exc_class)
    if hit is None:
        hit = any(_is_ccxt_class(c) for c in exc_class.__mro__)
        if len(_SEEN_CLASSES) < 1024:
            _SEEN_CLASSES[exc_class] = hit
    return hit


def ccxt_classes(exc: BaseException) -> list[str]:
    """The names of the ccxt classes in the MRO of ``exc``, most specific first."""
    return [c.__name__ for c in type(exc).__mro__ if _is_ccxt_class(c)]


def _chain(exc: BaseException) -> list[BaseException]:
    """What ``exc`` was raised from or during, nearest first."""
    out: list[BaseException] = []
    seen = {id(exc)}
    current: BaseException | None = exc
    for _ in range(_MAX_DEPTH):
        assert current is not None
        nxt = current.__cause__ or current.__context__
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        out.append(nxt)
        current = nxt
    return out


def _embedded(text: str) -> tuple[Any, int] | None:
    """The first JSON object in ``text`` and where it starts."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    tries = 0
    while start != -1 and tries < 8:
        try:
            value, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            return value, start
        tries += 1
        start = text.find("{", start + 1)
    return None


@dataclass(frozen=True)
class Recovered:
    """What could be recovered from a ccxt exception."""

    classes: tuple[str, ...]
    http_status: int | None = None
    body: Any = None
    headers: Any = None
    message: str | None = None
    transport_error: BaseException | None = None


def recover(exc: BaseException) -> Recovered:
    """The status, body, headers or transport failure behind a ccxt exception."""
    classes = tuple(ccxt_classes(exc))
    status: Any = None
    body: Any = None
    headers: Any = None
    transport: BaseException | None = None
    for inner in _chain(exc):
        if is_ccxt_error(inner):
            continue
        carried = response_of(inner)
        if carried is not None:
            status, body, headers = carried
            break
        if transport is None and transport_kind(inner) is not None:
            transport = inner
    text = str(exc)[:MAX_TEXT]
    message = None
    line = _STATUS_LINE.match(text)
    if line is not None and status is None:
        status = int(line.group(1))
    if body is None or (isinstance(body, (bytes, str)) and not body):
        found = _embedded(text)
        if found is not None:
            body = found[0]
        elif line is not None and line.group(2).lstrip().startswith("<"):
            body = line.group(2)  # an HTML page: normalize() reads its title
        else:  # no body: ccxt's own words (after "id METHOD URL STATUS", the reason)
            body = None
            message = (line.group(2).strip() if line is not None else text) or None
    if body is not None:
        transport = None  # the exchange answered
    return Recovered(classes, status, body, headers, message, transport)


# ------------------------------------------------------------ normalizing


def from_ccxt(
    rs: RuleSet,
    code: Any,
    message: Any,
    http_status: Any,
    body: Any,
    headers: Any,
    error: BaseException,
    op: Operation | None,
    raw: RawInput,
) -> NormalizedError:
    """``normalize()`` of a ccxt exception (explicit arguments win over recovered ones)."""
    from ._engine.normalize import _normalize

    got = recover(error)
    result: NormalizedError = _normalize(
        rs,
        code,
        message if message is not None else (None if got.transport_error else got.message),
        http_status if http_status is not None else got.http_status,
        body if body is not None else got.body,
        headers if headers is not None else got.headers,
        got.transport_error,
        op,
        raw,
    )
    if result.category is not Category.UNKNOWN or result.subcategory == "UNKNOWN.NO_ERROR":
        return result
    hit = default_table().lookup(list(got.classes))
    if hit is None:
        return result
    name, entry = hit
    category, sub = ONTOLOGY.parse_label(entry.category)
    return _build(  # type: ignore[no-any-return]
        NormalizedError,
        {
            **result.__dict__,
            "category": category,
            "subcategory": sub,
            "rule_id": f"ccxt.{name}",
            "rationale": entry.why,
            "source_url": entry.source or default_table().source_url,
        },
    )


# ------------------------------------------------------------ comparing


@dataclass(frozen=True)
class Comparison:
    """One catalog code: this project's category beside ccxt's class for it.

    ``verdict`` is ``agree`` or ``disagree`` (on the top-level category),
    ``generic`` (ccxt maps the code to a class that says nothing specific,
    such as plain ``ExchangeError``) or ``unmapped`` (ccxt does not know the
    code or message; it would raise plain ``ExchangeError``).
    """

    exchange: str
    code: str
    message: str
    ours: str | None
    our_category: str | None
    ccxt_class: str | None
    ccxt_category: str | None
    matched_by: str  # "code", "message" or "-"
    verdict: str


def _exception_tables(exceptions: Mapping[str, Any]) -> tuple[dict[str, type], dict[str, type]]:
    exact: dict[str, type] = {}
    broad: dict[str, type] = {}
    stack = [exceptions]
    while stack:
        node = stack.pop()
        for key, value in node.items():
            if key == "exact" and isinstance(value, Mapping):
                exact.update({str(k): v for k, v in value.items() if isinstance(v, type)})
            elif key == "broad" and isinstance(value, Mapping):
                broad.update({str(k): v for k, v in value.items() if isinstance(v, type)})
            elif isinstance(value, Mapping):
                stack.append(value)
    return exact, broad


def ccxt_class_for(client: Any, code: str, message: str, http_status: int | None) -> type | None:
    """The exception class ``client.handle_errors`` raises for a body with this code and message.

    The body is built in the exchange's own shape; None when ccxt raises nothing.
    """
    response = {"code": code, "msg": message, "message": message, "data": []}
    body = json.dumps(response, ensure_ascii=False)
    try:
        client.handle_errors(
            http_status or 200, "", "https://127.0.0.1/", "POST", {}, body, response, {}, ""
        )
    except Exception as exc:  # what ccxt raises is the answer
        return type(exc)
    return None


def compare_with_ccxt(exchange: str, ccxt_module: Any = None) -> list[Comparison]:
    """For every catalog code of ``exchange``, our category and ccxt's class.

    Imports ccxt (an optional dependency) unless ``ccxt_module`` is given.
    ccxt's class is what the installed ccxt's own ``handle_errors`` raises
    for the documented code and message, so its order of exact (by code) and
    broad (by message) matching is ccxt's. A code ccxt raises plain
    ``ExchangeError`` for is ``generic`` when ccxt's tables name it and
    ``unmapped`` when they do not (ccxt's fallback for an unknown error).
    """
    from ._engine.normalize import registry
    from ._lint import code_verdicts

    if ccxt_module is None:
        ccxt_module = importlib.import_module("ccxt")  # an optional dependency

    client = getattr(ccxt_module, exchange)()
    exact, broad = _exception_tables(client.exceptions)
    table = default_table()
    rs = registry().get(exchange)
    statuses = {e.code: e.http_status for e in rs.catalog.entries} if rs.catalog else {}
    out = []
    for v in code_verdicts(rs):
        cls = ccxt_class_for(client, v.code, v.message, statuses.get(v.code))
        by_code = exact.get(v.code)
        by_message = next((c for k, c in broad.items() if k in v.message), None)
        how = "code" if cls is not None and cls is by_code else "-"
        if how == "-" and cls is not None and cls is by_message:
            how = "message"
        if cls is None or how == "-":
            out.append(
                Comparison(
                    exchange,
                    v.code,
                    v.message,
                    v.label,
                    v.category,
                    cls.__name__ if cls is not None else None,
                    None,
                    "-",
                    "unmapped",
                )
            )
            continue
        names = [c.__name__ for c in cls.__mro__ if _is_ccxt_class(c)] or [cls.__name__]
        hit = table.lookup(names)
        if hit is None:  # ExchangeError and the like: ccxt says nothing specific
            out.append(
                Comparison(
                    exchange, v.code, v.message, v.label, v.category, names[0], None, how, "generic"
                )
            )
            continue
        theirs = hit[1].category
        verdict = "agree" if theirs.split(".", 1)[0] == v.category else "disagree"
        out.append(
            Comparison(
                exchange, v.code, v.message, v.label, v.category, names[0], theirs, how, verdict
            )
        )
    return out
