"""ccxt's exceptions as an input adapter: what the exchange said, recovered.

``normalize(exchange, error=exc)`` hands a ccxt exception to ``recover``,
which returns the inputs it finds (it never calls ``normalize`` back). ccxt is
never imported: its exceptions are recognised by the modules of the classes in
their MRO (``ccxt.base.errors.RateLimitExceeded``), as ``transport``
recognises HTTP clients' exceptions.

What the exchange said is recovered, best source first:

1. the HTTP client's exception ccxt raised from (``__context__``/``__cause__``),
   which still carries the response: status, headers (``Retry-After``), body;
2. the exception text, where ccxt embeds the body: ``okx {"code":"58102",...}``
   or ``mexc POST https://... 400 Bad Request {"code":10101,...}``;
3. a transport failure ccxt wrapped (``RequestTimeout`` from requests'
   ``ReadTimeout``), classified as any transport failure is.

Then the exchange's rules decide, as for any body. Only when they find nothing
(UNKNOWN) does ccxt's class decide (``class_fallback``), through
``rules/common/ccxt.yaml``: the result then names the rule ``ccxt.<ClassName>``.
"""

from __future__ import annotations

import json
import re

from .._core.frozen import frozen
from .._core.vocabulary import Category
from .._formats.registry import ONTOLOGY, bundled
from .results import NormalizedError
from .transport import response_of, transport_kind

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

#: The exception text is searched this far for an embedded body.
MAX_TEXT = 256 * 1024
_MAX_DEPTH = 6
_STATUS_LINE = re.compile(
    r"^\S+ (?:GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) \S+ ([1-5][0-9]{2})(?: |$)(.*)$", re.DOTALL
)


# ------------------------------------------------------------ recognising


def _is_ccxt_class(cls: type) -> bool:
    module = getattr(cls, "__module__", "") or ""
    return module == "ccxt" or module.startswith("ccxt.")


def is_ccxt_error(exc: object) -> bool:
    """Whether ``exc`` is an exception of ccxt's (without importing ccxt)."""
    return isinstance(exc, BaseException) and _is_ccxt_exception_class(type(exc))


_SEEN_CLASSES: dict[type, bool] = {}


def is_ccxt_error_class(exc_class: type[BaseException]) -> bool:
    """Whether ``exc_class`` is one of ccxt's exception classes."""
    return _is_ccxt_exception_class(exc_class)


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
    return ccxt_class_names(type(exc))


def ccxt_class_names(cls: type) -> list[str]:
    """The names of the ccxt classes in the MRO of ``cls``, most specific first."""
    return [c.__name__ for c in cls.__mro__ if _is_ccxt_class(c)]


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


@frozen
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


def class_fallback(result: NormalizedError, classes: tuple[str, ...]) -> NormalizedError:
    """``result`` decided by ccxt's class when the exchange's rules found nothing."""
    if result.category is not Category.UNKNOWN or result.subcategory == "UNKNOWN.NO_ERROR":
        return result
    table = bundled("ccxt")["classes"]
    for name in classes:
        entry = table.get(name)
        if entry is None:
            continue
        label, why, url = entry
        category, sub = ONTOLOGY.parse_label(label)
        values = list(result)
        f = NormalizedError._fields
        values[f.index("category")] = category
        values[f.index("subcategory")] = sub
        values[f.index("outcome")] = ONTOLOGY.outcome_of(category, sub)
        values[f.index("rule_id")] = f"ccxt.{name}"
        values[f.index("rationale")] = why
        values[f.index("source_url")] = url
        return NormalizedError._make(tuple(values))
    return result
