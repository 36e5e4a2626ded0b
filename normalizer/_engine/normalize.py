"""``normalize()``: any failed request in, a classified error out, never an exception.

Only caller mistakes raise (an unknown exchange or operation, an ``error``
that is not an exception), each a subclass of ``NormalizerError``. Whatever
the exchange sent, however malformed, yields a ``NormalizedError``; when
nothing can be made of it the category is UNKNOWN and ``raw`` keeps the input.
One field that cannot be used (an absurd Retry-After, an unusable status, a
number too long to parse, a numpy integer, a body in UTF-16/32) is dropped or
converted and said so in ``notes``; the rest of the input still classifies.

Identical inputs get one shared, immutable result: a router sees the same few
error bodies over and over (a rate-limit storm is thousands of identical
answers). For a body, the shared result's ``raw`` holds an equal input; for an
exception, each call gets a copy whose ``raw`` is the caller's own exception
(another caller's traceback is never kept alive by the cache).

Two paths decide: the body text of a failed request and nothing else (the
call a router makes most) is read by the exchange's compiled reader in one
flat function (``_body_text``); every other input, and whatever that reader
leaves, takes the general path (``_guarded`` -> ``_decide``), which reads the
envelope as ``envelope.extract`` describes it. A rule's decision for an input
is kept once worked out (``_verdict``). ``tests/test_fast_paths.py`` holds the
two paths to the same results.
"""

from __future__ import annotations

import _thread  # not threading: its import costs a millisecond at start-up
import codecs
import json
import time
from collections.abc import Mapping
from functools import lru_cache
from json.scanner import make_scanner

from .._core.arguments import code_of, status_of
from .._core.errors import ArgumentTypeError, UnknownExchangeError
from .._core.table import RuleSet, make_probe
from .._core.text import MAX_MESSAGE_CHARS, _fold, html_title, strip_tags
from .._core.vocabulary import Category, Operation, operation_of
from .._formats import products as _products
from .._formats import registry as _registry_module
from .._formats.registry import GENERIC, ONTOLOGY, Registry, exchanges, on_change, registry
from . import generic
from .ccxt import class_fallback, is_ccxt_error, is_ccxt_error_class, recover
from .envelope import (
    MAX_RETRY_S,
    FailedItem,
    extract,
    header_hint,
    header_value,
    longest,
    resolve_code,
    wait_of,
)
from .envelope import body_hint as _body_hint
from .results import NO_RAW, NormalizedError, RawInput
from .transport import _REFINABLE, _kind_of_class, response_of, transport_kind

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_KEPT_MESSAGE",
    "Registry",
    "exchanges",
    "normalize",
    "registry",
    "ruleset_for",
]

#: Bodies longer than this are not parsed (an error body is small); raw keeps them.
MAX_BODY_BYTES = 256 * 1024
#: ``NormalizedError.message`` keeps at most this many characters; raw keeps all.
MAX_KEPT_MESSAGE = 4096
assert MAX_MESSAGE_CHARS <= MAX_KEPT_MESSAGE  # _result keeps what it matched
#: The longest wait accepted from a venue (``normalizer._engine.envelope``).
MAX_RETRY_AFTER_S = MAX_RETRY_S
#: Numbers in a body longer than this many digits are kept as text.
MAX_NUMBER_DIGITS = 100

_make = NormalizedError._make
#: ``_result`` and ``_body_text`` build records by position, in this order
_ORDER = (
    "exchange category subcategory outcome code http_status message rule_id rationale"
    " source_url retry_after_s operation documented_code item_index items notes raw"
)
assert NormalizedError._fields == tuple(_ORDER.split())
_new = tuple.__new__
_UNKNOWN_OUTCOME = ONTOLOGY.outcome_of(Category.UNKNOWN, None)
_UNMAPPED = "UNKNOWN.UNMAPPED"
_MALFORMED = "UNKNOWN.MALFORMED"


def _no_rule(code: Any, message: Any, status: Any, transport: Any = None) -> str:
    """What an input no rule decides is: malformed when it said nothing at all."""
    nothing = code is None and message is None and status is None and transport is None
    return _MALFORMED if nothing else _UNMAPPED


# ------------------------------------------------------------- the inputs

_scan = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # the C scanner, without json.loads' wrappers
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _message(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value[: MAX_KEPT_MESSAGE * 4].decode("utf-8", "replace")
    return None


def _text_message(text: str) -> str | None:
    """A message from a non-JSON body: an HTML page's title, else its text."""
    head = text[:8192]
    title = html_title(head)  # both linear: no backtracking over crafted pages
    if title is not None:
        return title
    plain = " ".join(strip_tags(head).split())
    return plain[:MAX_KEPT_MESSAGE] or None


def _bounded_int(text: str) -> int | str:
    return int(text) if len(text) <= MAX_NUMBER_DIGITS else text


def _decode(raw: bytes, notes: list[str]) -> str:
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            if codec != "utf-8-sig":
                notes.append(f"body decoded as {codec} (byte order mark)")
            return raw.decode(codec, "replace")
    return raw.decode("utf-8", "replace")


def _json(text: str, notes: list[str]) -> Any:
    """The JSON value of ``text``, or raises ValueError."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        raise ValueError("not JSON") from None
    except ValueError:  # e.g. a number past the interpreter's digit limit
        value = json.loads(text, parse_int=_bounded_int)
        notes.append(f"a number of more than {MAX_NUMBER_DIGITS} digits in the body kept as text")
        return value
    if end != len(text) and text[end:].strip():
        raise ValueError("extra data after the JSON value")
    return value


def _parse_body(body: Any, notes: list[str]) -> tuple[Any, str | None, bool]:
    """``(parsed JSON or None, text message or None, malformed?)``."""
    if body is None:
        return None, None, False
    if type(body) is str and 0 < len(body) <= MAX_BODY_BYTES and body[0] == "{":
        # the common case: a JSON object as text, no padding
        try:
            value, end = _scan(body, 0)
        except (StopIteration, ValueError, RecursionError):
            pass  # the full path below says what is wrong with it
        else:
            if end == len(body):
                return value, None, False
    if isinstance(body, Mapping):
        return body, None, False
    if isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body[: MAX_BODY_BYTES + 1])
        if len(raw) > MAX_BODY_BYTES:
            return None, None, True
        text = _decode(raw, notes)
    elif isinstance(body, str):
        if len(body) > MAX_BODY_BYTES:
            return None, None, True
        text = body
    elif isinstance(body, list):
        return body, None, True
    else:
        return None, None, True
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:  # an empty answer: only its HTTP status can tell anything
        return None, None, True
    if stripped[0] in "{[":
        try:
            return _json(stripped, notes), None, False
        except (ValueError, RecursionError):
            return None, _text_message(stripped), True
    return None, _text_message(stripped), True


def retry_after(
    headers: Any, now: float | None = None, notes: list[str] | None = None
) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date).

    A value that cannot be used (not finite, negative, unparsable, longer than
    ``MAX_RETRY_AFTER_S``) is dropped, and said in ``notes`` when given. The
    exchanges' own wait headers are read by ``normalize()`` (``header_hint``).
    """
    value = header_value(headers, "Retry-After")
    if value is None:
        return None
    seconds = wait_of(value, "retry_after", time.time() if now is None else now)
    if seconds is None and notes is not None:
        shown = _shown(value)
        notes.append(f"Retry-After {shown} is not a usable delay; ignored")
    return seconds


def _shown(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------- classifying


#: What a rule decided, without the input: category, subcategory, outcome,
#: rule id, why, source URL, and the documented code the message lent (or None).
#: The category is None when no rule matched.
_NO_RULE = (None, None, None, None, None, None, None)


@lru_cache(maxsize=16384)
def _verdict(
    rs: RuleSet,
    code: str | None,
    message: str | None,
    status: int | None,
    operation: Operation | None,
    transport: str | None,
) -> tuple[Any, ...]:
    """The rules' decision for one bounded input (kept: the same few errors recur)."""
    if rs.name == GENERIC:  # venue-free rules, then the word model (_engine/generic.py)
        d = generic.decide(rs, code, message, status, operation, transport)
        if d is None:
            return _NO_RULE
        return (d.category, d.subcategory, d.outcome, d.rule_id, d.why, d.source_url, None)
    rule, entry = rs.select(make_probe(code, message, status, operation, transport))
    documented = entry.code if entry is not None and entry.code != code else None
    if rule is None:
        return (*_NO_RULE[:6], documented)
    return (
        rule.category,
        rule.subcategory,
        rule.outcome,
        rule.id,
        rule.why,
        rule.source_url,
        documented,
    )


def _result(
    rs: RuleSet,
    code: str | None,
    message: str | None,
    status: int | None,
    op: Operation | None,
    transport: str | None,
    retry_s: float | None,
    raw: RawInput,
    no_match: str,
    notes: tuple[str, ...],
    item_index: int | None = None,
    items: tuple[NormalizedError, ...] = (),
    decided: tuple[Any, ...] | None = None,
) -> NormalizedError:
    """One result, its fields in the record's order (``_body_text`` builds its
    plain answers the same way, inline). ``decided`` is the rules' decision
    when the caller has it (``_NO_RULE``: the input is not asked about); else
    the code decides alone (``RuleSet.decided_by_code``; not for the generic
    profile, which ``generic.decide`` answers), or the rules (``_verdict``)."""
    if message is None or len(message) <= MAX_MESSAGE_CHARS:
        bounded = kept = message
    else:
        bounded = message[:MAX_MESSAGE_CHARS]
        kept = message if len(message) <= MAX_KEPT_MESSAGE else message[:MAX_KEPT_MESSAGE]
    if decided is None:
        decided = rs.decided_by_code.get(code) if rs.name != GENERIC else None
        if decided is None:
            decided = _verdict(rs, code, bounded, status, op, transport)
    category, sub, outcome, rule_id, why, url, documented = decided
    if category is None:
        category, sub, outcome = Category.UNKNOWN, no_match, _UNKNOWN_OUTCOME
    return _new(
        NormalizedError,
        (
            rs.name,
            category,
            sub,
            outcome,
            code,
            status,
            kept,
            rule_id,
            why,
            url,
            retry_s,
            op,
            documented,
            item_index,
            items,
            notes,
            raw,
        ),
    )


def clear_caches() -> None:
    """Forget every remembered decision (the rules or the generic model changed)."""
    _verdict.cache_clear()
    with _memo_lock:
        _seen.clear()
        _seen_errors.clear()


def forget_everything() -> None:
    """``clear_caches`` and the caches below it (folded text, error strings'
    codes): every message is then seen for the first time, as in a fresh
    process with the exchange's rules loaded (the bench's "first sight",
    ``bench/latency.py``, and tests of the cold path)."""
    clear_caches()
    _fold.cache_clear()
    resolve_code.cache_clear()


def _unknown(
    rs: RuleSet,
    sub: str,
    code: str | None,
    message: str | None,
    status: int | None,
    op: Operation | None,
    retry_s: float | None,
    raw: RawInput,
    notes: tuple[str, ...] = (),
) -> NormalizedError:
    """An UNKNOWN result (``sub`` says which) that no rule is asked about."""
    return _result(rs, code, message, status, op, None, retry_s, raw, sub, notes, decided=_NO_RULE)


# ------------------------------------------------------------ inputs seen before
#
# Keyed by exactly what decides the result; values are the shared results.
# Only inputs of exact, hashable types and bounded sizes are kept.

#: Bodies and messages longer than this are decided afresh every time.
MAX_MEMO_TEXT = 4096
MAX_MEMO = 8192
_seen: dict[tuple[Any, ...], NormalizedError] = {}
#: an exception's key -> the fields of its result but raw (each call adds its own)
_seen_errors: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_memo_lock = _thread.allocate_lock()
_NONE = type(None)
_KEY_CODE = (_NONE, str, int)  # exact types: no bool, whose True == 1
_KEY_TEXT = (_NONE, str, bytes)
_RAW = RawInput._make
_RAW_INDEX = NormalizedError._fields.index("raw")
assert len(NormalizedError._fields) - 1 == _RAW_INDEX


def _remember(table: dict[tuple[Any, ...], Any], key: Any, value: Any) -> None:
    """Keep ``value`` for the next identical input (a full table starts over;
    a dict's own operations are atomic, the lock keeps two threads from both
    clearing it)."""
    if len(table) >= MAX_MEMO:
        with _memo_lock:
            table.clear()
    table[key] = value


def normalize(
    exchange: str,
    *,
    code: Any = None,
    message: Any = None,
    http_status: Any = None,
    body: Any = None,
    headers: Any = None,
    error: BaseException | None = None,
    operation: Operation | str | None = None,
    unknown_exchange: generic.UnknownExchange | None = None,
    product: str | None = None,
    url: str | None = None,
) -> NormalizedError:
    """Classify one failed request of ``exchange``.

    Give whatever you have: the exchange's ``code`` and ``message``, the
    ``http_status`` (an int, ``429.0``, ``"429"`` or a numpy integer), the
    response ``body`` (bytes, str or parsed dict) and ``headers``, or the
    ``error`` you caught (a transport failure, an HTTP client's error with its
    response, or a ccxt exception). ``operation`` (what the request was
    doing) lets rules tell a failed query from a failed write. Explicit
    ``code``/``message`` win over what the body says.

    Never raises on exchange input; raises ``UnknownExchangeError``,
    ``UnknownOperationError`` or ``ArgumentTypeError`` (all ``NormalizerError``)
    for a caller mistake. With ``unknown_exchange="generic"`` (or after
    ``use_generic_for_unknown()``) a name no rule folder knows is answered by
    the generic profile instead: the result keeps the name given, and its
    ``rule_id`` starts with ``generic.``. A venue's product line (``binance-usdm``)
    is named by ``product`` (``"usdm"``, ``"future"``), the request's ``url``
    (``https://fapi.binance.com/...``) or a ccxt id given as ``exchange``.
    """
    if product is not None or url is not None:
        exchange = _products.resolve(exchange, product, url)  # type: ignore[assignment]
    reg = _registry_module._registry  # the loaded rule sets, without a call
    rs = reg._sets.get(exchange) if reg is not None and type(exchange) is str else None
    if rs is None:
        try:
            rs = registry().get(exchange)
        except UnknownExchangeError:
            if generic.unknown_choice(unknown_exchange) != "generic" or not isinstance(
                exchange, str
            ):
                raise
            if not exchange.strip():
                raise
            return _renamed(
                normalize(
                    GENERIC,
                    code=code,
                    message=message,
                    http_status=http_status,
                    body=body,
                    headers=headers,
                    error=error,
                    operation=operation,
                ),
                exchange,
            )
    if unknown_exchange is not None:
        generic.unknown_choice(unknown_exchange)  # a wrong value is refused even when unused
    op = None if operation is None else operation_of(operation)
    if error is None:
        if (
            code is None
            and message is None
            and headers is None
            and type(body) is str
            and (http_status is None or type(http_status) is int)
        ):
            try:
                hit = _body_text(rs, body, http_status, op)
            except Exception:  # a bug of ours: logged, and the general path decides
                import logging

                logging.getLogger("normalizer").exception(
                    "the compiled reader of %s failed; the general path decides", rs.name
                )
                hit = None
            if hit is not None:
                return hit
        if (
            headers is None
            and type(code) in _KEY_CODE
            and type(message) in _KEY_TEXT
            and type(body) in _KEY_TEXT
            and type(http_status) in _KEY_CODE
            and (message is None or len(message) <= MAX_MEMO_TEXT)
            and (body is None or len(body) <= MAX_MEMO_TEXT)
        ):
            key = (rs, code, message, http_status, body, op)
            hit = _seen.get(key)
            if hit is not None:
                return hit
            raw = _new(RawInput, (body, http_status, headers, code, message, None))
        else:
            key = None
        if key is not None:
            result, volatile = _guarded(
                rs, code, message, http_status, body, headers, None, op, raw
            )
            if not volatile:
                _remember(_seen, key, result)
            return result
    elif not isinstance(error, BaseException):
        raise ArgumentTypeError("error", "an exception or None", error)
    elif (
        code is None
        and message is None
        and http_status is None
        and body is None
        and (headers is None)
    ):
        # an exception alone: decided by its text and the classes it wraps
        cls = type(error)
        chain: Any = None
        if _CLASS_DECIDES.get(cls) or (cls not in _CLASS_DECIDES and _class_decides(cls)):
            # its own class names a definite transport kind: what it wraps is never read
            try:
                if (
                    getattr(error, "response", None) is None
                    and getattr(error, "status", None) is None
                ):
                    text = str(error)
                    if len(text) <= MAX_MEMO_TEXT:
                        chain = (cls, text)
            except Exception:  # noqa: S110 - a broken attribute or __str__: the full walk decides
                pass
        if chain is None:
            chain = _error_key(error)
        if chain is not None:
            ekey = (rs, chain, op)
            kept = _seen_errors.get(ekey)
            if kept is None:
                seen, volatile = _guarded(rs, None, None, None, None, None, error, op, NO_RAW)
                kept = seen[:_RAW_INDEX]
                if not volatile:
                    _remember(_seen_errors, ekey, kept)
            # the shared result's fields with the caller's own exception as raw (the last)
            return _new(
                NormalizedError, (*kept, _new(RawInput, (None, None, None, None, None, error)))
            )
    raw = _RAW((body, http_status, headers, code, message, error))
    return _guarded(rs, code, message, http_status, body, headers, error, op, raw)[0]


def ruleset_for(
    exchange: object, unknown_exchange: object = None, rules: Registry | None = None
) -> tuple[RuleSet, str | None]:
    """The rule set answering for ``exchange`` in ``rules`` (default: the
    registry in use), and the caller's name when the generic profile answers
    for a name no rule folder has. (``normalize()`` itself makes the same
    choice inline, on its hot path.)"""
    choice = generic.unknown_choice(unknown_exchange)
    reg = rules if rules is not None else registry()
    try:
        return reg.get(exchange), None
    except UnknownExchangeError:
        if choice != "generic" or not isinstance(exchange, str) or not exchange.strip():
            raise
        return reg.get(GENERIC), exchange


def _renamed(result: NormalizedError, name: str) -> NormalizedError:
    values = list(result)
    values[0] = name
    if result.items:
        values[_ITEMS_INDEX] = tuple(_renamed(i, name) for i in result.items)
    return _make(tuple(values))


#: exception class -> whether its own class decides the result (not ccxt's, and
#: its class names a transport kind that nothing it wraps refines)
_CLASS_DECIDES: dict[type, bool] = {}


def _class_decides(cls: type[BaseException]) -> bool:
    kind = _kind_of_class(cls)  # type: ignore[arg-type]  # (mypy: a class is hashable)
    decides = kind is not None and kind not in _REFINABLE and not is_ccxt_error_class(cls)
    if len(_CLASS_DECIDES) < 1024:
        _CLASS_DECIDES[cls] = decides
    return decides


def _error_key(error: BaseException) -> tuple[Any, ...] | None:
    """What decides the result for an exception: its text and every class it wraps.

    None when it cannot be kept: it (or what it wraps) carries a response, or
    its text is long or cannot be had.
    """
    out: list[Any] = []
    todo = [error]
    seen: set[int] = set()
    while todo and len(out) < 24:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if getattr(e, "response", None) is not None or getattr(e, "status", None) is not None:
            return None
        try:
            text = str(e)
        except Exception:
            return None
        if len(text) > MAX_MEMO_TEXT:
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


def _guarded(
    rs: RuleSet,
    code: Any,
    message: Any,
    http_status: Any,
    body: Any,
    headers: Any,
    error: BaseException | None,
    op: Operation | None,
    raw: RawInput,
) -> tuple[NormalizedError, bool]:
    """The result, and whether it depends on the time (a deadline in the body)."""
    try:
        return _normalize(rs, code, message, http_status, body, headers, error, op, raw)
    except Exception:  # a bug of ours must not break the caller's error path
        import logging

        logging.getLogger("normalizer").exception(
            "normalize() failed on %s input; returning UNKNOWN", rs.name
        )
        return _unknown(rs, _MALFORMED, None, None, None, op, None, raw), False


def _normalize(
    rs: RuleSet,
    code: Any,
    message: Any,
    http_status: Any,
    body: Any,
    headers: Any,
    error: BaseException | None,
    op: Operation | None,
    raw: RawInput,
) -> tuple[NormalizedError, bool]:
    transport = None
    classes: tuple[str, ...] = ()
    if error is not None:
        if is_ccxt_error(error):  # the input adapter: what ccxt's exception carries
            got = recover(error)
            classes = got.classes
            message = (
                message if message is not None else (None if got.transport_error else got.message)
            )
            http_status = http_status if http_status is not None else got.http_status
            body = body if body is not None else got.body
            headers = headers if headers is not None else got.headers
            error = got.transport_error
        if error is not None:
            carried = response_of(error)
            if carried is not None:
                c_status, c_body, c_headers = carried
                http_status = http_status if http_status is not None else c_status
                body = body if body is not None else c_body
                headers = headers if headers is not None else c_headers
            else:
                transport = transport_kind(error)
                if message is None:
                    text = str(error)
                    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    notes: list[str] = []
    status, note = status_of(http_status)
    if note is not None:
        notes.append(note)
    now = time.time()
    if headers is not None:
        retry_after(headers, now, notes)  # only for its note on an unusable value
    result, at = _decide(rs, code, message, status, body, op, transport, raw, notes, now)
    if headers is not None or at is not None:
        wait = longest(
            header_hint(rs.spec.response, headers, code=result.code, status=status, now=now)
            if headers is not None
            else None,
            result.retry_after_s,
            None if at is None else max(at - now, 0.0),
        )
        result = _with_wait(result, wait)
    return (class_fallback(result, classes) if classes else result), at is not None


def _with_wait(result: NormalizedError, wait: float | None) -> NormalizedError:
    """``result`` with ``retry_after_s`` set to ``wait``."""
    if wait == result.retry_after_s:
        return result
    values = list(result)
    values[_RETRY_INDEX] = wait
    return _make(tuple(values))


_F = NormalizedError._fields
_RETRY_INDEX = _F.index("retry_after_s")
_ITEM_INDEX = _F.index("item_index")
assert _F[_ITEM_INDEX:] == ("item_index", "items", "notes", "raw")  # _batch relies on it
_ITEMS_INDEX = _F.index("items")


def _batch(
    rs: RuleSet,
    found: tuple[FailedItem, ...],
    same: bool,
    code: str | None,
    message: str | None,
    status: int | None,
    op: Operation | None,
    retry_s: float | None,
    raw: RawInput,
    notes: list[str] | tuple[str, ...],
) -> NormalizedError:
    """A batch answer's result: every failed item decided, the whole decided by
    the first failed item's (``same``) or by the code and message given."""
    items: tuple[NormalizedError, ...]
    if len(found) == 1:
        i, c, m = found[0]
        items = (_result(rs, c, m, status, op, None, retry_s, raw, _UNMAPPED, (), i),)
    else:
        items = tuple(
            [
                _result(rs, c, m, status, op, None, retry_s, raw, _UNMAPPED, (), i)
                for i, c, m in found
            ]
        )
    if same:  # the first failed item's decision: its result, as the whole's
        head = items[0][:_ITEM_INDEX]
        return _new(NormalizedError, head + (None, items, tuple(notes), raw))  # noqa: RUF005
    return _result(
        rs, code, message, status, op, None, retry_s, raw, _UNMAPPED, tuple(notes), None, items
    )


# ------------------------------------------------------ a JSON object body
#
# The call a router makes most: the body text of a failed request, perhaps its
# status, nothing else. Read by the exchange's compiled reader
# (``reader.compile_reader``); whatever the reader leaves (a success, a
# malformed body, warnings, headers, ...) takes the general path (``_decide``),
# and a test holds both paths equal.

_readers: dict[RuleSet, tuple[Any, Any, Any]] = {}


#: what ``_reading_of`` answers for an exchange's first body (no reader yet)
_FIRST_BODY: tuple[Any, Any, Any] = (None, None, None)


def _reading_of(rs: RuleSet) -> tuple[Any, Any, Any]:
    """The exchange's compiled reader (None for the generic profile, whose
    fields are guesses), its shape, and what tells whether the body or
    message may hold a wait hint (``reader.compile_hint_check``).

    Made at the exchange's second body: the first is read by the general path
    (``_FIRST_BODY``), since compiling a reader costs about half a millisecond,
    more than reading one body the general way, and a process that meets one
    error of an exchange (a CLI call) never needs it.
    """
    if rs not in _readers:
        reading = _FIRST_BODY
    else:
        from .reader import compile_hint_check, compile_reader  # (not imported at start-up)

        shape = rs.spec.response
        reader = None if rs.name == GENERIC else compile_reader(shape, rs.name, rs.known_codes)
        reading = (reader, shape, compile_hint_check(shape, rs.name))
    if len(_readers) >= 64:
        _readers.clear()
    _readers[rs] = reading
    return reading


def _body_text(
    rs: RuleSet, body: str, status: int | None, op: Operation | None
) -> NormalizedError | None:
    """``normalize(exchange, body=text, http_status=status)``, the call a router
    makes most, for a body that is a JSON object: the result shared with an
    identical input, else the body read by the exchange's compiled reader;
    None when the general path must decide (a long body, not a JSON object,
    anything the reader leaves).

    Written flat on purpose: every call on this path costs a router time on its
    error path (bench/). A plain answer (no failed items, no wait in the body,
    a message within the matched bound) is built here in the record's field
    order, as ``_result`` builds it; ``tests/test_fast_paths.py`` holds this
    path equal to the general one on every venue's recorded bodies and on
    generated hostile ones.
    """
    if len(body) > MAX_MEMO_TEXT:
        return None
    key = (rs, None, None, status, body, op)
    hit = _seen.get(key)
    if hit is not None:
        return hit
    if body[:1] != "{" or (status is not None and not 100 <= status <= 599):
        return None
    reading = _readers.get(rs)
    if reading is None or reading is _FIRST_BODY:
        reading = _reading_of(rs)
    reader, shape, hints = reading
    if reader is None:
        return None
    try:
        parsed, end = _scan(body, 0)
    except (StopIteration, ValueError, RecursionError):
        return None
    if end != len(body) or type(parsed) is not dict:
        return None
    got = reader(parsed, rs.known_codes)
    if got is None:
        return None
    code, message, found = got
    raw = _new(RawInput, (body, status, None, None, None, None))
    if hints is not None and hints(parsed, message):
        result = _object_result(rs, parsed, code, message, found, status, op, raw, shape)
        if result[_RETRY_INDEX] is not None:
            return result  # a wait read from the body may be a deadline: not kept
    elif found:
        result = _batch(rs, found, True, code, message, status, op, None, raw, ())
    elif message is not None and len(message) > MAX_MESSAGE_CHARS:
        no_match = _UNMAPPED  # (a message: not malformed)
        result = _result(rs, code, message, status, op, None, None, raw, no_match, ())
    else:
        decided = rs.decided_by_code.get(code)  # (None: no hit) as _result asks, inline
        category, sub, outcome, rule_id, why, url, documented = (
            _verdict(rs, code, message, status, op, None) if decided is None else decided
        )
        if category is None:
            category, sub, outcome = (
                Category.UNKNOWN,
                _no_rule(code, message, status),
                (_UNKNOWN_OUTCOME),
            )
        result = _new(
            NormalizedError,
            (
                rs.name,
                category,
                sub,
                outcome,
                code,
                status,
                message,
                rule_id,
                why,
                url,
                None,
                op,
                documented,
                None,
                (),
                (),
                raw,
            ),
        )
    if len(_seen) >= MAX_MEMO:  # _remember(_seen, key, result), inline: the hot path
        with _memo_lock:
            _seen.clear()
    _seen[key] = result
    return result


def _object_result(
    rs: RuleSet,
    parsed: dict[str, Any],
    code: str | None,
    message: str | None,
    found: tuple[FailedItem, ...],
    status: int | None,
    op: Operation | None,
    raw: RawInput,
    shape: Any,
) -> NormalizedError:
    """``_body_text``'s answer when the body may hold a wait (its hint check)."""
    now = time.time()
    retry_s, at = _body_hint(shape, parsed, message, code=code, status=status, now=now)
    if found:
        result = _batch(rs, found, True, code, message, status, op, retry_s, raw, ())
    else:
        no_match = _no_rule(code, message, status)
        result = _result(rs, code, message, status, op, None, retry_s, raw, no_match, ())
    if at is not None:
        result = _with_wait(result, longest(result.retry_after_s, max(at - now, 0.0)))
    return result


def _decide(
    rs: RuleSet,
    code: Any,
    message: Any,
    status: int | None,
    body: Any,
    op: Operation | None,
    transport: str | None,
    raw: RawInput,
    notes: list[str],
    now: float,
) -> tuple[NormalizedError, float | None]:
    """The result once the caller's inputs are sorted out, and the absolute
    deadline (epoch seconds) the body named, if any.

    The body is read by the exchange's envelope (``envelope.extract``): a
    batch answer's result is its first failed item's (code, message,
    category), with every failed item in ``items``.
    """
    parsed, text_message, malformed = _parse_body(body, notes)
    shape = rs.spec.response
    the_code, note = code_of(code)
    if note is not None:
        notes.append(note)
    the_message = _message(message)
    retry_s: float | None = None
    at: float | None = None
    if parsed is not None:
        env = extract(shape, parsed, known_codes=rs.known_codes)
        malformed = env.malformed
        if the_code is None:
            the_code = env.code
        if the_message is None:
            the_message = env.message
        if shape.retry_hints:
            retry_s, at = _body_hint(
                shape, parsed, the_message, code=the_code, status=status, now=now
            )
        if env.items:
            same = the_code == env.code and the_message == env.message
            return _batch(
                rs, env.items, same, the_code, the_message, status, op, retry_s, raw, notes
            ), at
        said_ok = env.success or (the_code is not None and the_code in shape.success_codes)
        if said_ok and (status is None or status < 400):
            return _unknown(
                rs,
                "UNKNOWN.NO_ERROR",
                the_code,
                the_message,
                status,
                op,
                retry_s,
                raw,
                tuple(notes),
            ), at
    if the_message is None and text_message is not None:
        the_message = text_message
    return _result(
        rs,
        the_code,
        the_message,
        status,
        op,
        transport,
        retry_s,
        raw,
        _MALFORMED if malformed else _no_rule(the_code, the_message, status, transport),
        tuple(notes),
    ), at


on_change(clear_caches)
