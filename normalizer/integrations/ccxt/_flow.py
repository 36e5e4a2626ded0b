"""What the wrapper does with one call, written once for sync and async clients.

The flow is a generator that never touches the network: it yields the steps it
needs (``Send`` a request through the exchange client, ``Wait``, ``Consult`` the
supervisor) and receives their answers. The sync proxy runs it with plain
calls, the async one with ``await``: one definition of the behaviour, two
drivers (``_proxy.py``). Every decision is made here, in this order:

1. **The gate.** Nothing leaves while the venue's own wait runs (a 429's
   ``Retry-After``, a ban's end: every rate limit this wrapper saw, whatever
   call it came from); a halted scope (the supervisor's, shared by a fleet)
   refuses the send before it leaves, with ``SendRefused`` — except exits
   (cancels, reduce-only orders) under ``while_halted="allow_exits"``, and
   never when the whole venue is halted.
2. **The send.** A success is returned as ccxt returned it.
3. **The advice.** A failure is classified (``normalize()`` with the
   operation, and the client for the status and headers) and judged
   (``recommend()``, or the supervisor's ``observe()`` when one is given).
4. **The act.** RETRY waits the recommended delay (at least the venue's
   hint) and sends again, up to ``max_attempts``, but a placement whose
   outcome is unknown is never resent without reconciling first;
   QUERY_THEN_RETRY on a placement reconciles by client order id (below);
   HALT and ESCALATE raise ``RequestRejected`` (the outcome is settled) or
   ``OutcomeUnknown`` (it is not: reconcile later by the client order id).

Reconciling a placement: the order is looked up by its client order id (the
venue's recipe, ``_recipes.py``). Found: it is returned. Not found: it is
placed again, with the same client order id, only once the venue said "not
found" ``confirmations`` times and the latest send is at least
``replace_after_s`` old (an accepted order may take a moment to show in
queries). The supervisor's ``reconcile-then-retry`` rule states the same
condition for a fleet. Queries are reads: their failures are retried, and
their "not found" (the venue's ``NOT_FOUND.ORDER``, never a gateway's 404 page)
is the answer sought, not a failure. A placement answered with no order in it
(no id, or another client order id) is reconciled like a lost answer; a halt
that begins while reconciling ends the call as ``OutcomeUnknown``, not as
"not sent". Once an order was placed again, whatever ends the call says the
outcome is unknown: the first order may exist after all (a venue refusing the
second as a duplicate id says it does).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from ..._core.errors import ActionRequired, OutcomeUnknown, RequestRejected, SendRefused
from ..._core.frozen import frozen
from ..._core.vocabulary import Action, Category, Outcome, Scope
from ..._engine.normalize import normalize
from ..._engine.recommend import recommend
from ..._engine.results import NormalizedError
from ._recipes import Recipe

__all__ = ["Call", "Consult", "Gate", "Send", "Sent", "Settings", "Wait", "run"]

PLACE, CANCEL, AMEND, QUERY = "place_order", "cancel_order", "amend_order", "query"


# ------------------------------------------------------------------ steps


@frozen
class Send:
    """Call ``method`` of the exchange client; answered with a ``Sent``."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@frozen
class Sent:
    """What a ``Send`` gave: the value, or the exception it raised."""

    value: Any = None
    error: Exception | None = None


@frozen
class Wait:
    """Sleep this long (seconds) before the next step."""

    seconds: float


@frozen
class Consult:
    """Call the supervisor's ``name`` (``observe``, ``halted``, ``observe_success``);
    the async driver awaits its ``a``-prefixed twin."""

    name: str
    kwargs: dict[str, Any]


Step = Send | Wait | Consult
Flow = Generator[Step, Any, Any]


# ------------------------------------------------------------------ state


@dataclass(slots=True)
class Settings:
    """The wrapper's knobs, fixed at ``wrap()``."""

    venue: str
    recipe: Recipe
    client: Any
    supervisor: Any
    policy: Any
    account: str | None
    while_halted: str
    replace_after_s: float
    confirmations: int
    max_queries: int
    poll_s: float
    max_attempts: int
    clock: Callable[[], float]
    log: Callable[[str, dict[str, Any]], None]


@dataclass(slots=True)
class Gate:
    """What every call through one proxy shares: until when the venue asked for quiet
    (only ever moved later, under a lock: two threads never shorten a ban)."""

    quiet_until: float = -math.inf
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hold_until(self, until: float) -> None:
        with self.lock:
            if until > self.quiet_until:
                self.quiet_until = until


@dataclass(slots=True)
class Call:
    """One call through the proxy, carried through its attempts (the one state object
    the steps below share)."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    operation: str
    symbol: str | None = None
    client_order_id: str | None = None
    exit: bool = False
    attempt: int = 1
    #: when the latest request of this call was sent (an order is aged from it)
    sent_at: float | None = None
    #: a placement sent again after its absence was confirmed
    replaced: bool = False
    #: the latest exception a send raised (the cause of what ends the call)
    last_error: BaseException | None = None
    #: a conditional (trigger) order: venues keep them in a book of their own
    conditional: bool = False
    not_found_at: list[float] = field(default_factory=list)
    queries: int = 0
    errors: list[NormalizedError] = field(default_factory=list)


@frozen
class Advice:
    """The classification of one failure and what to do about it."""

    error: NormalizedError
    action: Action
    delay_s: float
    decision: Any = None


# ------------------------------------------------------------------ the flow


def run(settings: Settings, gate: Gate, call: Call) -> Flow:
    """Carry ``call`` out (see the module docstring); returns what ccxt returned."""
    while True:
        yield from _pass_gate(settings, gate, call)
        call.sent_at = settings.clock()
        answer: Sent = yield Send(call.method, call.args, call.kwargs)
        placed = answer.error is None and call.operation == PLACE
        if placed and not _is_order(answer.value, call.client_order_id):
            answer = Sent(error=UnreadableAnswer(call.method, answer.value))
        if answer.error is None:
            yield from _succeeded(settings, call, "sent")
            return answer.value
        call.last_error = answer.error
        advice = yield from _advise(settings, gate, call, answer.error, call.operation)
        unknown = _unsettled(advice.error)
        if call.operation == PLACE and (advice.action is Action.QUERY_THEN_RETRY or unknown):
            # never resent blindly: settle the outcome first
            found = yield from _reconcile(settings, gate, call, advice)
            if found is not None:
                return found
            if advice.action in (Action.HALT, Action.ESCALATE):
                raise _stop(settings, call, advice, settled="the venue confirmed it absent")
            if call.attempt >= settings.max_attempts:
                raise _stop(settings, call, advice, settled="confirmed absent; out of attempts")
            call.replaced = True
        elif advice.action in (Action.RETRY, Action.QUERY_THEN_RETRY) and not (
            unknown and call.operation == AMEND
        ):
            if call.attempt >= settings.max_attempts:
                raise _stop(settings, call, advice, note="out of attempts")
            yield Wait(advice.delay_s)
        else:
            raise _stop(settings, call, advice)
        call.attempt += 1
        _log(settings, "resend", call, advice)


def _pass_gate(settings: Settings, gate: Gate, call: Call) -> Flow:
    """Wait out the venue's requested quiet; refuse a send into a halted scope. The
    quiet is read again after the supervisor answers (another task may have met a
    rate limit meanwhile)."""
    while True:
        while (quiet := gate.quiet_until - settings.clock()) > 0:
            _log(settings, "wait", call, None, wait_s=quiet)
            yield Wait(quiet)
        if settings.supervisor is None:
            return
        held = yield Consult(
            "halted",
            {
                "exchange": settings.venue,
                "account": settings.account,
                "symbol": call.symbol,
                "request_id": call.client_order_id,
            },
        )
        if held is not None:
            break
        if gate.quiet_until <= settings.clock():
            return
    if settings.while_halted == "allow_exits" and call.exit and held.scope is not Scope.EXCHANGE:
        _log(settings, "exit-through-halt", call, None, halt=held.scope_key)
        return
    _log(settings, "refused", call, None, halt=held.scope_key)
    raise SendRefused(
        f"{settings.venue}: {held.scope_key} is halted until {held.until} "
        f"({held.escalation_rule_id or held.policy_rule_id}): {call.method} was not sent",
        action=held.action,
        client_order_id=call.client_order_id,
        decision=held,
    )


def _advise(settings: Settings, gate: Gate, call: Call, exc: Exception, operation: str) -> Flow:
    """Classify ``exc`` and judge it; remember the venue's wait for every later call."""
    err = normalize(
        settings.venue,
        error=exc,
        operation=operation,
        client=settings.client,
        unknown_exchange="generic",
    )
    call.errors.append(err)
    idempotent = operation in (QUERY, CANCEL)
    if settings.supervisor is not None:
        try:
            decision = yield Consult(
                "observe",
                {
                    "err": err,
                    "operation": operation,
                    "account": settings.account,
                    "symbol": call.symbol,
                    "request_id": call.client_order_id,
                    "idempotent": idempotent,
                    "attempt": call.attempt,
                },
            )
        except Exception as failed:  # the supervisor could not judge (its store, closed...)
            if call.operation != PLACE:
                raise
            # a placement was sent: whatever the supervisor says, the order may exist
            advice = Advice(err, Action.QUERY_THEN_RETRY, 0.0)
            raise _unknown(settings, call, advice, f"the supervisor failed: {failed}") from failed
        advice = Advice(err, decision.action, float(decision.delay_s or 0.0), decision)
    else:
        rec = recommend(
            err, operation=operation, idempotent=idempotent, attempt=call.attempt,
            policy=settings.policy,
        )  # fmt: skip
        advice = Advice(err, rec.action, float(rec.delay_s or 0.0))
    hint = err.retry_after_s or 0.0
    delay = max(advice.delay_s, hint)
    if err.category is Category.RATE_LIMIT or hint > 0:
        gate.hold_until(settings.clock() + delay)
    advice = Advice(err, advice.action, delay, advice.decision)
    _log(settings, "failed", call, advice)
    return advice


def _succeeded(settings: Settings, call: Call, event: str) -> Flow:
    _log(settings, event, call, None)
    if settings.supervisor is not None and call.errors:
        try:
            yield Consult(
                "observe_success",
                {
                    "exchange": settings.venue,
                    "account": settings.account,
                    "symbol": call.symbol,
                    "request_id": call.client_order_id,
                },
            )
        except Exception as failed:  # the order stands; only an early lift is lost
            _log(settings, "success-not-recorded", call, None, error=str(failed)[:200])


def _reconcile(settings: Settings, gate: Gate, call: Call, advice: Advice) -> Flow:
    """The order if the venue has it; None once its absence is confirmed (then the
    caller places it again); ``OutcomeUnknown`` when the venue cannot tell."""
    yield Wait(advice.delay_s)
    call.not_found_at.clear()
    while call.queries < settings.max_queries:
        call.queries += 1
        try:
            yield from _pass_gate(settings, gate, call)
        except SendRefused as refused:  # the order may exist: not "was not sent"
            raise _unknown(settings, call, advice, str(refused), refused.decision) from refused
        except Exception as failed:  # the supervisor could not say whether a halt holds
            raise _unknown(settings, call, advice, f"the supervisor failed: {failed}") from failed
        found, failure = yield from _look_up(settings, call)
        if failure is not None:
            call.last_error = failure
            query_advice = yield from _advise(settings, gate, call, failure, QUERY)
            if query_advice.action not in (Action.RETRY, Action.QUERY_THEN_RETRY):
                raise _unknown(settings, call, advice, "the status query failed")
            yield Wait(query_advice.delay_s)
            continue
        if found is not None:
            yield from _succeeded(settings, call, "reconciled-found")
            return found
        now = settings.clock()
        sent_at = call.sent_at if call.sent_at is not None else now
        call.not_found_at.append(now)
        age = now - sent_at
        _log(settings, "not-found", call, None, not_found=len(call.not_found_at), age_s=age)
        if (yield from _may_replace(settings, call, sent_at, now)):
            _log(settings, "reconciled-absent", call, None)
            return None
        yield Wait(max(settings.poll_s, settings.replace_after_s - age))
    raise _unknown(settings, call, advice, f"still unknown after {call.queries} queries")


def _may_replace(settings: Settings, call: Call, sent_at: float, now: float) -> Flow:
    """The safe re-place rule: the supervisor's (its policy's re-placing sequence) when
    there is one, else ``confirmations`` not-founds with the order ``replace_after_s`` old."""
    if settings.supervisor is not None:
        allowed = yield Consult(
            "may_replace",
            {"sent_at": sent_at, "not_found_at": tuple(call.not_found_at), "now": now},
        )
        return bool(allowed)
    enough = len(call.not_found_at) >= settings.confirmations
    return enough and now - sent_at >= settings.replace_after_s


def _look_up(settings: Settings, call: Call) -> Flow:
    """``(order, None)``, ``(None, None)`` when the venue says it has no such order, or
    ``(None, exc)`` when the query itself failed."""
    cid, recipe = call.client_order_id, settings.recipe
    book = {"trigger": True} if call.conditional else {}  # ccxt's unified switch
    if recipe.by_id:
        params = {recipe.param: cid, **book} if recipe.param else dict(book)
        order_id = None if recipe.param else cid
        answer: Sent = yield Send("fetch_order", (order_id, call.symbol), {"params": params})
        if answer.error is None:
            if _is_order(answer.value, cid):
                return answer.value, None
            return None, UnreadableAnswer("fetch_order", answer.value)
        err = normalize(settings.venue, error=answer.error, operation=QUERY,
                        client=settings.client, unknown_exchange="generic")  # fmt: skip
        if err.subcategory == _NO_SUCH_ORDER:  # the venue's word, not a gateway's 404 page
            return None, None
        return None, answer.error
    params = {recipe.scan_param: cid, **book} if recipe.scan_param else dict(book)
    for method in _scans(settings.client):
        answer = yield Send(method, (call.symbol,), {"params": params})
        if answer.error is not None:
            return None, answer.error
        for order in answer.value or ():
            if isinstance(order, dict) and order.get("clientOrderId") == cid:
                return order, None
    return None, None


def _scans(client: Any) -> tuple[str, ...]:
    """The lists an order may be in: open, then every ended one. Some venues' closed
    orders are only the filled ones (Bybit's, in ccxt): the cancelled ones too, where
    the client can list them (a partly filled order that was then cancelled exists)."""
    has = getattr(client, "has", None) or {}
    if has.get("fetchCanceledAndClosedOrders"):
        return ("fetch_open_orders", "fetch_canceled_and_closed_orders")
    if has.get("fetchCanceledOrders"):
        return ("fetch_open_orders", "fetch_closed_orders", "fetch_canceled_orders")
    return ("fetch_open_orders", "fetch_closed_orders")


def _stop(
    settings: Settings, call: Call, advice: Advice, *, note: str = "", settled: str = ""
) -> ActionRequired:
    """The exception that ends the call: ``OutcomeUnknown`` when a write may have
    taken effect, else ``RequestRejected`` (``settled`` says why it is known not to)."""
    err = advice.error
    placed_maybe = call.replaced or (
        not settled
        and call.operation != QUERY
        and (_unsettled(err) or advice.action is Action.QUERY_THEN_RETRY)
    )
    why = settled or note or f"advice {advice.action.value}"
    text = (
        f"{settings.venue} {call.method}: {why} after {err.subcategory} "
        f"({err.rule_id}); attempts {call.attempt}"
    )
    _log(settings, "unknown" if placed_maybe else advice.action.value.lower(), call, advice)
    if placed_maybe and call.client_order_id:
        text += f"; reconcile client order id {call.client_order_id}"
    kind = OutcomeUnknown if placed_maybe else RequestRejected
    stop = kind(
        text,
        action=advice.action,
        error=err,
        client_order_id=call.client_order_id,
        decision=advice.decision,
    )
    stop.__cause__ = call.last_error  # what ccxt raised, kept for the caller
    return stop


def _unknown(
    settings: Settings, call: Call, advice: Advice, why: str, decision: Any = None
) -> ActionRequired:
    """Reconciling could not settle it: the order may exist."""
    err = advice.error
    _log(settings, "unknown", call, advice, why=why)
    unknown = OutcomeUnknown(
        f"{settings.venue} {call.method}: {why} after {err.subcategory} ({err.rule_id}); "
        f"reconcile client order id {call.client_order_id}",
        action=Action.QUERY_THEN_RETRY,
        error=err,
        client_order_id=call.client_order_id,
        decision=decision if decision is not None else advice.decision,
    )
    unknown.__cause__ = call.last_error
    return unknown


_NO_SUCH_ORDER = "NOT_FOUND.ORDER"


def _unsettled(err: NormalizedError) -> bool:
    """Whether the request may have taken effect: an unknown outcome, or a failure
    nothing classifies (which says nothing of whether the order landed either)."""
    return err.outcome is Outcome.UNKNOWN or err.category is Category.UNKNOWN


class UnreadableAnswer(Exception):
    """An answer with no order in it where one was expected (a 200 page that is not
    the venue's JSON, an order without an id or with another client order id):
    whether the request took effect is not known from it."""

    def __init__(self, method: str, value: Any) -> None:
        super().__init__(f"{method} answered without the order: {value!r:.200}")


def _is_order(value: Any, client_order_id: str | None) -> bool:
    """An order structure that names an order: an id, and the client id sent (or none)."""
    if not isinstance(value, dict) or not value.get("id"):
        return False
    echoed = value.get("clientOrderId")
    return echoed is None or client_order_id is None or str(echoed) == client_order_id


def _log(settings: Settings, event: str, call: Call, advice: Advice | None, **extra: Any) -> None:
    record: dict[str, Any] = {
        "event": event,
        "venue": settings.venue,
        "method": call.method,
        "operation": call.operation,
        "client_order_id": call.client_order_id,
        "attempt": call.attempt,
        **extra,
    }
    if advice is not None:
        record.update(advice.error.to_flat())
        record["action"] = advice.action.value
        record["delay_s"] = advice.delay_s
    settings.log(event, record)
