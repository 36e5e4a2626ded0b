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
``normalizer.testing.reset_caches``).
"""

from __future__ import annotations

import time

from .._core.arguments import code_of
from .._core.errors import UnknownExchangeError
from .._core.table import RuleSet, make_probe
from .._core.text import MAX_MESSAGE_CHARS, _fold
from .._core.vocabulary import Category, Operation, operation_of
from .._formats import products as _products
from .._formats.registry import GENERIC, ONTOLOGY, Registry, exchanges, on_change, registry
from . import generic
from .ccxt import class_fallback
from .envelope import FailedItem, Plan, plan_of, resolve_code
from .inputs import (
    MAX_BODY_BYTES,
    MAX_KEPT_MESSAGE,
    MAX_NUMBER_DIGITS,
    Inputs,
    as_message,
    parse_body,
    read_inputs,
)
from .memo import Memo, also_reset, clear_results, reset_caches
from .results import NO_RAW, NormalizedError, RawInput
from .waits import MAX_RETRY_S, body_hint, header_hint, header_value, longest, wait_of

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_KEPT_MESSAGE",
    "MAX_NUMBER_DIGITS",
    "Registry",
    "exchanges",
    "normalize",
    "registry",
    "reset_caches",
    "ruleset_for",
]

assert MAX_MESSAGE_CHARS <= MAX_KEPT_MESSAGE  # _result keeps what it matched
#: The longest wait accepted from a venue (``normalizer._engine.waits``).
MAX_RETRY_AFTER_S = MAX_RETRY_S
#: Inputs whose text (body, message) is longer than this are decided afresh
#: every time; up to it, the memo keeps them (at most 64 MiB of text in all).
MAX_MEMO_TEXT = MAX_BODY_BYTES

_UNKNOWN_OUTCOME = ONTOLOGY.outcome_of(Category.UNKNOWN, None)
_UNMAPPED = "UNKNOWN.UNMAPPED"
_MALFORMED = "UNKNOWN.MALFORMED"
#: A body that says the request succeeded: no error (``NormalizedError.is_error``).
NO_ERROR = "UNKNOWN.NO_ERROR"

#: a rule set -> the plan its envelope is read by (``envelope.plan_of``)
_plans: dict[RuleSet, Plan] = {}
also_reset(_plans.clear)
#: identical inputs -> their shared result (the one memo layer, ``memo.py``)
_results = Memo("results", 8192)
#: a bounded input -> what the rules decided for it, without the input
_verdicts = Memo("verdicts", 16384)
also_reset(_fold.cache_clear)
also_reset(resolve_code.cache_clear)


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
    if product is not None or url is not None or client is not None:
        exchange = _products.resolve(exchange, product, url, client)
    rs, name = _ruleset(exchange, unknown_exchange)
    op = None if operation is None else operation_of(operation)
    key = _memo_key(name, op, code, message, http_status, body, headers, error, client)
    if key is not None:
        kept = _results.get(key)
        if kept is not None:
            return kept if error is None else _with(kept, raw=RawInput(error=error))
    raw = _raw(body, http_status, headers, code, message, error)
    inputs = read_inputs(code, message, http_status, body, headers, error, client)
    result, volatile = _decide_logged(rs, name, inputs, op, raw)
    if key is not None and not volatile:
        weight = len(body or "") + len(message or "") if error is None else 0
        _results.put(key, result if error is None else _with(result, raw=NO_RAW), weight)
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
    return _decide_logged(rs, name, inputs, op, raw)[0]


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
    _plans.clear()


on_change(clear_caches)


# ------------------------------------------------------------- deciding


def _decide_logged(
    rs: RuleSet, name: str, inputs: Inputs, op: Operation | None, raw: RawInput
) -> tuple[NormalizedError, bool]:
    """``_decide``; a bug of ours is logged, said in ``notes``, and answered UNKNOWN
    (the caller is on its error path: it must get a result)."""
    try:
        return _decide(rs, name, inputs, op, raw)
    except Exception:
        import logging

        logging.getLogger("normalizer").exception(
            "normalize() failed on %s input; returning UNKNOWN", rs.name
        )
        notes = (*inputs.notes, "normalize() failed on this input (logged); nothing decided")
        return _unknown(rs, name, _MALFORMED, op, raw, notes), False


def _decide(
    rs: RuleSet, name: str, inputs: Inputs, op: Operation | None, raw: RawInput
) -> tuple[NormalizedError, bool]:
    """The result, and whether it depends on the time (a deadline in the body)."""
    notes = inputs.notes
    headers, status = inputs.headers, inputs.status
    shape = rs.spec.response
    now = time.time() if headers is not None or shape.retry_hints else 0.0
    if headers is not None:
        retry_after(headers, now, notes)  # only for its note on an unusable value
    parsed, text_message, malformed = parse_body(inputs.body, notes)
    code = None
    if inputs.code is not None:
        code, note = code_of(inputs.code)
        if note is not None:
            notes.append(note)
    message = None if inputs.message is None else as_message(inputs.message)
    retry_s: float | None = None
    at: float | None = None
    result: NormalizedError | None = None
    if parsed is not None:
        plan = _plans.get(rs)
        if plan is None:
            plan = _plans[rs] = plan_of(shape)
        env = plan.read(parsed, rs.known_codes)
        malformed = env.malformed
        same = code in (None, env.code) and message in (None, env.message)
        code = env.code if code is None else code
        message = env.message if message is None else message
        if shape.retry_hints:
            retry_s, at = body_hint(shape, parsed, message, code=code, status=status, now=now)
        said_ok = env.success or (code is not None and code in shape.success_codes)
        if env.items:
            result = _batch(rs, name, env.items, same, code, message, status, op, retry_s, raw)
            result = _with(result, notes=tuple(notes))
        elif said_ok and (status is None or status < 400):
            result = _record_of(rs, name, code, message, status, op, retry_s, raw, notes, NO_ERROR)
    if result is None:
        if message is None:
            message = text_message
        no_match = _MALFORMED if malformed else _no_rule(code, message, status, inputs.transport)
        decided = _verdict(rs, code, message, status, op, inputs.transport)
        result = _result(
            rs, name, code, message, status, op, retry_s, raw, notes, no_match, decided
        )
    if headers is not None or at is not None:
        wait = longest(
            None
            if headers is None
            else header_hint(shape, headers, code=result.code, status=status, now=now),
            result.retry_after_s,
            None if at is None else max(at - now, 0.0),
        )
        if wait != result.retry_after_s:
            result = _with(result, retry_after_s=wait)
    if inputs.classes:
        result = class_fallback(result, inputs.classes)
    return result, at is not None


def _no_rule(code: Any, message: Any, status: Any, transport: Any = None) -> str:
    """What an input no rule decides is: malformed when it said nothing at all."""
    nothing = code is None and message is None and status is None and transport is None
    return _MALFORMED if nothing else _UNMAPPED


#: What a rule decided, without the input: category, subcategory, outcome,
#: rule id, why, source URL, and the documented code the message lent (or None).
#: The category is None when no rule matched.
_NO_RULE = (None, None, None, None, None, None, None)


def _verdict(
    rs: RuleSet,
    code: str | None,
    message: str | None,
    status: int | None,
    op: Operation | None,
    transport: str | None,
) -> tuple[Any, ...]:
    """The rules' decision for one input, its message bounded to what rules read."""
    if rs.name != GENERIC:
        by_code = rs.decided_by_code.get(code)  # the code alone decides
        if by_code is not None:
            return by_code
    if message is not None and len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS]
    key = (rs, code, message, status, op, transport)
    decided = _verdicts.get(key)
    if decided is None:
        decided = _ask_rules(rs, code, message, status, op, transport)
        _verdicts.put(key, decided)
    return decided  # type: ignore[no-any-return]


def _ask_rules(
    rs: RuleSet,
    code: str | None,
    message: str | None,
    status: int | None,
    op: Operation | None,
    transport: str | None,
) -> tuple[Any, ...]:
    if rs.name == GENERIC:  # venue-free rules, then the word model (_engine/generic.py)
        d = generic.decide(rs, code, message, status, op, transport)
        if d is None:
            return _NO_RULE
        return (d.category, d.subcategory, d.outcome, d.rule_id, d.why, d.source_url, None)
    rule, entry = rs.select(make_probe(code, message, status, op, transport))
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


# ------------------------------------------------------------- building results


def _record(
    *,
    exchange: str,
    category: Category,
    subcategory: str | None,
    outcome: Any,
    code: str | None,
    http_status: int | None,
    message: str | None,
    rule_id: str | None,
    rationale: str | None,
    source_url: str | None,
    retry_after_s: float | None,
    operation: Operation | None,
    documented_code: str | None,
    item_index: int | None,
    items: tuple[NormalizedError, ...],
    notes: tuple[str, ...],
    raw: RawInput,
) -> NormalizedError:
    """A result from values already checked, every field by name."""
    return NormalizedError._make(
        (
            exchange,
            category,
            subcategory,
            outcome,
            code,
            http_status,
            message,
            rule_id,
            rationale,
            source_url,
            retry_after_s,
            operation,
            documented_code,
            item_index,
            items,
            notes,
            raw,
        )
    )


_FIELDS = NormalizedError._fields
_code = _record.__code__
assert _code.co_varnames[: _code.co_kwonlyargcount] == _FIELDS  # _record names every field


def _with(result: NormalizedError, **changes: Any) -> NormalizedError:
    """``result`` with some fields changed, by name."""
    values = dict(zip(_FIELDS, result, strict=True))
    values.update(changes)
    return _record(**values)


def _result(
    rs: RuleSet,
    name: str,
    code: str | None,
    message: str | None,
    status: int | None,
    op: Operation | None,
    retry_s: float | None,
    raw: RawInput,
    notes: list[str] | tuple[str, ...],
    no_match: str,
    decided: tuple[Any, ...],
    item_index: int | None = None,
    items: tuple[NormalizedError, ...] = (),
) -> NormalizedError:
    """One result from the rules' decision (``no_match`` when none matched)."""
    category, sub, outcome, rule_id, why, url, documented = decided
    if category is None:
        category, sub, outcome = Category.UNKNOWN, no_match, _UNKNOWN_OUTCOME
    if message is not None and len(message) > MAX_KEPT_MESSAGE:
        message = message[:MAX_KEPT_MESSAGE]
    return _record(
        exchange=name,
        category=category,
        subcategory=sub,
        outcome=outcome,
        code=code,
        http_status=status,
        message=message,
        rule_id=rule_id,
        rationale=why,
        source_url=url,
        retry_after_s=retry_s,
        operation=op,
        documented_code=documented,
        item_index=item_index,
        items=items,
        notes=tuple(notes) if notes else (),
        raw=raw,
    )


def _record_of(
    rs: RuleSet,
    name: str,
    code: str | None,
    message: str | None,
    status: int | None,
    op: Operation | None,
    retry_s: float | None,
    raw: RawInput,
    notes: list[str] | tuple[str, ...],
    sub: str,
) -> NormalizedError:
    """An UNKNOWN result (``sub`` says which) that no rule is asked about."""
    return _result(rs, name, code, message, status, op, retry_s, raw, notes, sub, _NO_RULE)


def _unknown(
    rs: RuleSet,
    name: str,
    sub: str,
    op: Operation | None,
    raw: RawInput,
    notes: tuple[str, ...],
) -> NormalizedError:
    return _record_of(rs, name, None, None, None, op, None, raw, notes, sub)


def _batch(
    rs: RuleSet,
    name: str,
    found: tuple[FailedItem, ...],
    same: bool,
    code: str | None,
    message: str | None,
    status: int | None,
    op: Operation | None,
    retry_s: float | None,
    raw: RawInput,
) -> NormalizedError:
    """A batch answer's result: every failed item decided, the whole decided by
    the first failed item's (``same``) or by the code and message given."""
    items = tuple(
        _result(
            rs,
            name,
            c,
            m,
            status,
            op,
            retry_s,
            raw,
            (),
            _UNMAPPED,
            _verdict(rs, c, m, status, op, None),
            i,
        )
        for i, c, m in found
    )
    if same:  # the first failed item's decision, as the whole's
        return _with(items[0], item_index=None, items=items)
    decided = _verdict(rs, code, message, status, op, None)
    return _result(
        rs, name, code, message, status, op, retry_s, raw, (), _UNMAPPED, decided, None, items
    )


# ------------------------------------------------------------- headers


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
        notes.append(f"Retry-After {_shown(value)} is not a usable delay; ignored")
    return seconds


def _shown(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."
