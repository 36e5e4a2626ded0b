"""``normalize()``: any failed request in, a classified error out, never an exception.

Only caller mistakes raise (an unknown exchange or operation), each a subclass
of ``NormalizerError``. Whatever the exchange sent, however malformed, and
whatever object the caller's client library raised, yields a
``NormalizedError``; when nothing can be made of it the category is UNKNOWN,
``raw`` keeps the input and ``notes`` says what could not be used (an absurd
Retry-After, a number too long to parse, a body over the size cap, an
exception whose attributes raise, no input at all).

One pipeline, in three stages:

1. **inputs** (``inputs.read_inputs``): the caller's arguments, and what an
   exception or a ccxt client carries, as plain values;
2. **decide** (``_decide``): the body read by the exchange's envelope
   (``envelope.extract``), then the rules (``RuleSet.select``, or the generic
   profile's ``generic.decide``), then the wait the venue asked for;
3. **memo** (``memo.Memo``): identical inputs get one shared, immutable
   result, kept from an input's second sight on. For an exception, each call
   gets a copy whose ``raw`` is the caller's own exception (another caller's
   traceback is never kept alive).

``reset_caches()`` forgets everything the engine keeps (tests reach it as
``normalizer.testing.forget_memos()``).
"""

from __future__ import annotations

from .._core.errors import UnknownExchangeError
from .._core.table import RuleSet
from .._core.vocabulary import Operation, operation_of
from .._formats import products as _products
from .._formats.registry import GENERIC, Registry, exchanges, on_change, registry
from . import generic
from .decide import NO_ERROR, decide, retry_after, with_raw
from .inputs import MAX_BODY_BYTES, MAX_KEPT_MESSAGE, MAX_NUMBER_DIGITS, read_inputs
from .memo import Memo, also_reset, clear_results, reset_caches
from .results import NO_RAW, NormalizedError, RawInput
from .transport import decides_alone
from .waits import MAX_RETRY_S

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_KEPT_MESSAGE",
    "MAX_NUMBER_DIGITS",
    "NO_ERROR",
    "Registry",
    "exchanges",
    "normalize",
    "registry",
    "reset_caches",
    "retry_after",
    "ruleset_for",
]

#: The longest wait accepted from a venue (``normalizer._engine.waits``).
MAX_RETRY_AFTER_S = MAX_RETRY_S
#: Inputs whose text (body, message) is longer than this are decided afresh
#: every time; up to it, the memo keeps them (at most 64 MiB of text in all).
MAX_MEMO_TEXT = MAX_BODY_BYTES

#: identical inputs -> their shared result (the one memo layer, ``memo.py``)
_results = Memo("results", 8192)
#: a venue's name as given -> its rule set and the name its results carry
#: (known venues only: the generic profile's answer depends on the caller's choice)
_venues: dict[str, tuple[RuleSet, str]] = {}
also_reset(_venues.clear)
on_change(_venues.clear)
#: a RawInput's fields before ``error`` (its last), all None
_ERROR_ONLY = (None,) * RawInput._fields.index("error")
assert len(_ERROR_ONLY) == len(RawInput._fields) - 1


# ------------------------------------------------------------- the pipeline


def normalize(
    exchange: str,
    *,
    code: Any = None,
    message: Any = None,
    http_status: Any = None,
    body: Any = None,
    headers: Any = None,
    error: object = None,
    operation: Operation | str | None = None,
    unknown_exchange: generic.UnknownExchange | None = None,
    client: object = None,
    product: str | None = None,
    url: str | None = None,
) -> NormalizedError:
    """Classify one failed request of ``exchange``.

    Give whatever you have: the exchange's ``code`` and ``message``, the
    ``http_status`` (an int, ``429.0``, ``"429"`` or a numpy integer), the
    response ``body`` (bytes, str or parsed dict) and ``headers``, or the
    ``error`` you caught (a transport failure, an HTTP client's error with its
    response, or a ccxt exception). With async ccxt, whose exceptions keep no
    response, pass the exchange object as ``client``: its last response's
    headers (``Retry-After``) and body are read when they are this error's.
    ``operation`` (what the request was doing) lets rules tell a failed query
    from a failed write. Explicit ``code``/``message`` win over what the body
    says. A body that reports success gives ``is_error`` False (subcategory
    ``UNKNOWN.NO_ERROR``).

    Never raises on exchange input or on the object given as ``error``;
    raises ``UnknownExchangeError`` or ``UnknownOperationError`` (both
    ``NormalizerError``) for a caller mistake. With
    ``unknown_exchange="generic"`` (or after ``use_generic_for_unknown()``) a
    name no rule folder knows is answered by the generic profile instead: the
    result keeps the name given, and its ``rule_id`` starts with ``generic.``.
    A venue's product line (``binance-usdm``) is named by ``product``
    (``"usdm"``, ``"future"``), the request's ``url`` (``https://fapi.binance.com/...``),
    a ccxt ``client`` (``binanceusdm``, ``options["defaultType"]``) or a ccxt id.
    """
    venue: object = exchange
    if product is not None or url is not None or client is not None:
        venue = _products.resolve(registry(), exchange, product, url, client)
    found = _venues.get(venue) if unknown_exchange is None and type(venue) is str else None
    if found is None:
        found = _ruleset(venue, unknown_exchange)
        if type(venue) is str and found[0].name != GENERIC and len(_venues) < 256:
            _venues[venue] = found
    rs, name = found
    op = None if operation is None else operation_of(operation)
    key = _memo_key(name, op, code, message, http_status, body, headers, error, client)
    if key is not None:
        kept = _results.get(key)
        if kept is not None:
            return kept if error is None else with_raw(kept, RawInput._make((*_ERROR_ONLY, error)))
    raw = _raw(body, http_status, headers, code, message, error)
    inputs = read_inputs(code, message, http_status, body, headers, error, client)
    result, volatile = decide(rs, name, inputs, op, raw)
    if key is not None and not volatile:
        weight = len(body or "") + len(message or "") if error is None else 0
        _results.put(key, result if error is None else with_raw(result, NO_RAW), weight)
    return result


def ruleset_for(
    exchange: object, unknown_exchange: object = None, rules: Registry | None = None
) -> tuple[RuleSet, str | None]:
    """The rule set answering for ``exchange`` in ``rules`` (default: the
    registry in use), and the caller's name when the generic profile answers
    for a name no rule folder has (else None)."""
    rs, name = _ruleset(exchange, unknown_exchange, rules)
    return rs, (name if rs.name == GENERIC else None)


def _ruleset(
    exchange: object, unknown_exchange: object = None, rules: Registry | None = None
) -> tuple[RuleSet, str]:
    """The rule set answering for ``exchange``, and the name its results carry:
    the rule set's, or the caller's when the generic profile answers for it."""
    reg = rules if rules is not None else registry()
    try:
        rs = reg.get(exchange)
    except UnknownExchangeError:
        choice = generic.unknown_choice(unknown_exchange)
        if choice != "generic" or not isinstance(exchange, str) or not exchange.strip():
            raise
        return reg.get(GENERIC), exchange
    if unknown_exchange is not None:
        generic.unknown_choice(unknown_exchange)  # a wrong value is refused even when unused
    return rs, rs.name


def normalize_with(
    rules: Registry,
    exchange: str,
    *,
    code: Any = None,
    message: Any = None,
    http_status: Any = None,
    body: Any = None,
    error: object = None,
    operation: Operation | str | None = None,
    unknown_exchange: generic.UnknownExchange | None = None,
) -> NormalizedError:
    """``normalize()`` against the given rules (the batch path's registry),
    with no memo: a registry other than the process's own changes nothing kept."""
    rs, name = _ruleset(exchange, unknown_exchange, rules)
    op = None if operation is None else operation_of(operation)
    raw = RawInput(body, http_status, None, code, message, error)
    inputs = read_inputs(code, message, http_status, body, None, error, None)
    return decide(rs, name, inputs, op, raw)[0]


# ------------------------------------------------------------- the memo key


def _raw(
    body: Any, http_status: Any, headers: Any, code: Any, message: Any, error: object
) -> RawInput:
    """The caller's input as given (``RawInput``'s fields, in its order)."""
    return RawInput._make((body, http_status, headers, code, message, error))


_NONE = type(None)
_KEY_CODE = (_NONE, str, int)  # exact types: no bool, whose True == 1
_KEY_TEXT = (_NONE, str, bytes)
#: an exception's chain is read this deep for its key
_MAX_CHAIN = 24


def _memo_key(
    name: str,
    op: Operation | None,
    code: Any,
    message: Any,
    http_status: Any,
    body: Any,
    headers: Any,
    error: object,
    client: object,
) -> tuple[Any, ...] | None:
    """Exactly what decides the result, or None when the input is not kept
    (headers, a client, inputs of other types, text over ``MAX_MEMO_TEXT``)."""
    if headers is not None or client is not None:
        return None
    if error is None:
        if (
            type(code) in _KEY_CODE
            and type(message) in _KEY_TEXT
            and type(body) in _KEY_TEXT
            and type(http_status) in _KEY_CODE
            and (message is None or len(message) <= MAX_MEMO_TEXT)
            and (body is None or len(body) <= MAX_MEMO_TEXT)
        ):
            return (name, op, code, message, http_status, body)
        return None
    if code is None and message is None and http_status is None and body is None:
        try:  # the caller's exception: any of its attributes may raise
            if (
                isinstance(error, BaseException)
                and decides_alone(type(error))
                and getattr(error, "response", None) is None
                and getattr(error, "status", None) is None
            ):  # its class names the transport failure: its text is all that varies
                text = str(error)
                return (name, op, type(error), text) if len(text) <= MAX_KEPT_MESSAGE else None
            chain = _error_chain(error)
            if chain is not None:
                key = (name, op, chain)
                hash(key)  # a class whose metaclass refuses to hash
                return key
        except Exception:  # noqa: S110 - not kept; read_inputs says what failed
            pass
    return None


def _error_chain(error: object) -> tuple[Any, ...] | None:
    """What decides the result of an exception: its text and every class it
    wraps; None when it (or what it wraps) carries a response, or its text is long."""
    if not isinstance(error, BaseException):
        return None
    out: list[Any] = []
    todo = [error]
    seen: set[int] = set()
    while todo and len(out) < _MAX_CHAIN:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if getattr(e, "response", None) is not None or getattr(e, "status", None) is not None:
            return None
        text = str(e)
        if len(text) > MAX_KEPT_MESSAGE:
            return None
        out.append((type(e), text))
        for attr in ("__cause__", "__context__", "reason", "os_error"):
            inner = getattr(e, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)
        args = getattr(e, "args", ())
        if isinstance(args, tuple):
            todo.extend(a for a in args[:3] if isinstance(a, BaseException))
    return tuple(out) if not todo else None


def clear_caches() -> None:
    """Forget every kept decision (the rules or the generic model changed)."""
    clear_results()


on_change(clear_caches)
