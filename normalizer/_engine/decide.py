"""The decide stage of ``normalize()``: from ``Inputs`` to a ``NormalizedError``.

The body is read by the exchange's envelope (``envelope.Plan``), the rules
decide (``RuleSet.select``, or the generic profile's ``generic.decide``), and
the wait the venue asked for (headers, body, message) is added
(``waits.py``). A batch answer's result is its first failed item's, with
every failed item in ``items``; a body that says success is no error
(``NO_ERROR``). What the rules decided for a bounded input is kept in a memo
(``memo.Memo``), as every memo of the engine is.
"""

from __future__ import annotations

import time

from .._core.arguments import code_of
from .._core.table import RuleSet, make_probe
from .._core.text import MAX_MESSAGE_CHARS, _fold
from .._core.vocabulary import Category, Operation
from .._formats.registry import GENERIC, ONTOLOGY, on_change
from . import generic
from .envelope import FailedItem, Plan, plan_of, resolve_code
from .given import Inputs
from .inputs import MAX_KEPT_MESSAGE, as_message, parse_body
from .memo import Memo, also_reset
from .results import NormalizedError, RawInput
from .waits import body_hint, header_hint, header_value, longest, wait_of

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

assert MAX_MESSAGE_CHARS <= MAX_KEPT_MESSAGE  # _result keeps what it matched

_UNKNOWN_OUTCOME = ONTOLOGY.outcome_of(Category.UNKNOWN, None)
_UNMAPPED = "UNKNOWN.UNMAPPED"
_MALFORMED = "UNKNOWN.MALFORMED"
#: A body that says the request succeeded: no error (``NormalizedError.is_error``).
NO_ERROR = "UNKNOWN.NO_ERROR"

#: a rule set -> the plan its envelope is read by (``envelope.plan_of``)
_plans: dict[RuleSet, Plan] = {}
also_reset(_plans.clear)
on_change(_plans.clear)
#: a bounded input -> what the rules decided for it, without the input
_verdicts = Memo("verdicts", 16384)
also_reset(_fold.cache_clear)
also_reset(resolve_code.cache_clear)


# ------------------------------------------------------------- deciding


def decide(
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
        if rs.name == GENERIC and inputs.transport is None:  # how sure it is: posterior, words
            notes.append(generic.confidence_note(code, message, decided[3]))
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
    if inputs.classes:  # a ccxt exception was read: its adapter is imported
        from .ccxt import class_fallback

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


#: ``raw`` is the record's last field: ``_with_raw`` replaces it alone
_RAW_FIELD = _FIELDS.index("raw")
assert len(_FIELDS) - 1 == _RAW_FIELD


def with_raw(result: NormalizedError, raw: RawInput) -> NormalizedError:
    """``result`` with another ``raw`` (each caller of a kept exception's result
    gets its own exception in it, never another caller's)."""
    return NormalizedError._make((*result[:_RAW_FIELD], raw))


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
