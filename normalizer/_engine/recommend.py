"""``recommend()``: from a normalized error and what was being done, the next action.

The policy (``policies/default.yaml`` unless you pass your own) decides. Then
the safety guards of ``normalizer/_core/guards.py`` hold whatever the policy says
(the same objects refuse, at load, a policy rule that asks for what they
forbid); ``Recommendation.guard`` names the guard that changed the outcome:

- ``guard.never-retry``: AUTH (except AUTH.TIMESTAMP) and KYC errors are
  never answered with RETRY or QUERY_THEN_RETRY: they become ESCALATE.
- ``guard.auth-words``: an error no rule knows (UNKNOWN) whose text speaks of
  signatures, API keys, passphrases or permissions is never retried either.
- ``guard.unknown-outcome-write``: a non-idempotent write whose outcome is
  unknown is never answered with RETRY, nor with a QUERY_THEN_RETRY whose
  precondition is not the status query (``query_order_status``,
  ``query_transfer_status``): the earlier attempt may have taken effect. It
  becomes QUERY_THEN_RETRY with the operation's status query, or ESCALATE when
  the operation has none. Unknown means: the category (UNKNOWN_STATE, UNKNOWN),
  or the request's own evidence (``evidence()``), whatever rule decided the
  category: a code the bundled rules declare unknown-outcome, a transport
  failure after sending, a 5xx or busy answer the deciding rule does not
  declare refused.
- ``guard.resend-needs-dedupe``: the same for an order marked idempotent, unless
  its venue refuses a repeated client order id for every order it ever had
  (``client_order_id_dedupe: all_orders``).
- ``guard.rate-limit-backoff``: a RATE_LIMIT error is answered with RETRY and
  a delay of at least ``RATE_LIMIT_MIN_DELAY_S`` (or the cap, if lower) until
  the attempts are used up.
- ``guard.query-needs-precondition``: QUERY_THEN_RETRY always names what to
  query: the policy's precondition, else the operation's status query, else
  the action becomes ESCALATE.

Attempts: ``attempt`` is the number of the attempt that just failed (1 for the
first). When ``attempt >= max_attempts`` a RETRY or QUERY_THEN_RETRY becomes
the policy's ``exhausted`` action (HALT or ESCALATE).

Delay: the policy's backoff for this attempt (exponential, jittered, capped at
``max_s``), raised to the exchange's ``Retry-After`` when that is longer. So a
delay never decreases from one attempt to the next and never exceeds
``max(max_s, retry_after_s)``.
"""

from __future__ import annotations

import _thread  # not threading: its import costs a millisecond at start-up
import random
import sys
from collections import OrderedDict
from collections.abc import Callable

from .._core.arguments import attempt_of, flag, rand_of
from .._core.errors import ArgumentTypeError, ArgumentValueError, NormalizerError
from .._core.guards import RATE_LIMIT_MIN_DELAY_S, Proposal, Situation
from .._core.policy import MAX_EXPONENT, Backoff, Policy
from .._core.text import MAX_MESSAGE_CHARS
from .._core.vocabulary import (
    Action,
    Category,
    Operation,
    Outcome,
    Precondition,
    Scope,
    operation_of,
)
from .._formats import registry as _reg
from .._formats.registry import ONTOLOGY, default_policy
from .guards import delay_bounds, guard
from .memo import also_reset
from .results import NormalizedError, Recommendation

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from pathlib import Path  # not imported at start-up (see _is_path)
    from typing import Any

__all__ = ["MAX_POLICIES", "RATE_LIMIT_MIN_DELAY_S", "recommend"]

_make = Recommendation._make
_new = tuple.__new__
_RETRY_AFTER = NormalizedError._fields.index("retry_after_s")
#: operation arguments kept as they are in the fast path's keys (no subclasses,
#: whose hash or equality could differ)
_EXACT_OPS = (str, Operation)
#: operations as given whose write-ness is kept (``_WRITES``): those, and None
_WRITE_KEYS = (*_EXACT_OPS, type(None))

#: policies loaded from paths: resolved path -> ((mtime, size), policy), least
#: recently used first. A rewritten file replaces its older version; at most
#: ``MAX_POLICIES`` paths are kept.
_policies: OrderedDict[str, tuple[tuple[int, int], Policy]] = OrderedDict()
MAX_POLICIES = 16
_POLICIES_LOCK = _thread.allocate_lock()


def _policy(policy: Policy | str | Path | None) -> Policy:
    if policy is None:
        return default_policy()
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str) or _is_path(policy):
        from pathlib import Path

        path = Path(policy)
        try:
            st = path.stat()
            name, stamp = str(path.resolve()), (st.st_mtime_ns, st.st_size)
        except OSError:
            return _load_policy(path)  # refused with a clear PolicyError
        except ValueError:  # a NUL character: no file can have this name
            raise ArgumentValueError("policy", "must be a policy file's path", policy) from None
        with _POLICIES_LOCK:
            hit = _policies.get(name)
            if hit is not None and hit[0] == stamp:
                _policies.move_to_end(name)
                return hit[1]
        loaded = _load_policy(path)
        with _POLICIES_LOCK:
            _policies[name] = (stamp, loaded)
            _policies.move_to_end(name)
            while len(_policies) > MAX_POLICIES:
                _policies.popitem(last=False)
        return loaded
    raise ArgumentTypeError("policy", "a Policy, a path or None", policy)


def _is_path(value: object) -> bool:
    """A ``pathlib`` path, told without importing pathlib (whoever made one has)."""
    pathlib = sys.modules.get("pathlib")
    return pathlib is not None and isinstance(value, pathlib.PurePath)


def _load_policy(path: Path) -> Policy:
    from .._formats.policy import load_policy  # pydantic and YAML: only for a custom file

    return load_policy(path)


#: the answer to a result that reports success (``NormalizedError.is_error`` False):
#: the request is done, so it is not resent, and nobody is paged for it
_NO_ERROR = Recommendation(
    action=Action.HALT,
    scope=Scope.REQUEST,
    hold_s=0.0,
    reason="the response reports success: nothing to resend or escalate",
    policy_rule_id="no-error",
)


def recommend(
    err: NormalizedError,
    operation: Operation | str | None = None,
    idempotent: bool = False,
    attempt: int = 1,
    policy: Policy | str | Path | None = None,
    *,
    rand: Callable[[], float] | None = None,
) -> Recommendation:
    """The next action for ``err``, which happened while doing ``operation``.

    ``idempotent=True`` means the request carries a client id the exchange
    deduplicates on, so sending it twice cannot do it twice. ``attempt`` is
    the number of the attempt that failed (1-based). ``policy`` is a policy
    file path, a loaded ``Policy``, or None for the bundled default. ``rand``
    supplies the jitter's randomness (``random.random`` by default).
    """
    if type(err) is not NormalizedError:
        raise ArgumentTypeError("err", "a NormalizedError", err)
    if not err.is_error:  # a success frame: never resent, never escalated
        return _NO_ERROR
    plan = None
    if (
        policy is None
        and (idempotent is False or idempotent is True)
        and type(attempt) is int
        and (operation is None or type(operation) in _EXACT_OPS)
    ):
        # the common call: the bundled policy and plain arguments. The keys hold
        # only values of exact types, stored once they were proven valid.
        ikey = (id(err), operation, idempotent, attempt)
        again = _by_result.get(ikey)
        if again is not None and again[0] is err and again[1] is _reg._default:
            plan = again[2]  # the very result asked about before (see _by_result)
        else:
            fkey = (
                err[0],
                err[1],
                err[2],
                err[11] if operation is None else operation,
                idempotent,
                attempt,
                evidence(err, operation),
            )
            fast = _fast.get(fkey)
            if fast is not None and fast[0] is _reg._default:
                plan = fast[1]
            else:
                pol = default_policy()
                plan = _plan_of(err, operation, idempotent, attempt, pol)
                if len(_fast) >= MAX_PLANS:
                    _fast.clear()
                _fast[fkey] = (pol, plan)
            if err[16][5] is None:  # never keep a caller's exception (and its traceback) alive
                if len(_by_result) >= MAX_BY_RESULT:
                    _by_result.clear()
                _by_result[ikey] = (err, default_policy(), plan)
    if plan is None:
        plan = _plan_of(err, operation, idempotent, attempt, _policy(policy))
    fixed = plan.fixed
    if fixed is not None:
        return fixed
    # a retry: the jittered delay, and the exchange's Retry-After, differ per call
    # (Backoff.delay's arithmetic, one draw of ``rand`` per call)
    delay = plan.raw
    if plan.jitter:
        drawn = random.random() if rand is None else _drawn(rand)  # noqa: S311 - jitter
        delay *= 1.0 + plan.jitter * drawn
    if delay >= plan.cap:
        delay = plan.cap
    low = plan.min_delay
    if low is not None and low > delay:
        delay = low
    reason = plan.reason
    wait = err[_RETRY_AFTER]
    if wait is not None and wait > delay:
        delay = wait
        reason += f"; the exchange asked to wait {wait:g}s (Retry-After)"
    v = plan.values
    return _new(
        Recommendation, (v[0], delay, v[2], v[3], v[4], v[5], v[6], reason, v[8], v[9], v[10])
    )


def _drawn(rand: object) -> float:
    """One draw of the caller's ``rand`` (checked here, where it is used: the
    common call, without it, pays nothing for the check)."""
    value = rand_of(rand)()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentValueError("rand", "must return a number in [0, 1)", value)
    return float(value)


def _plan_of(
    err: NormalizedError, operation: object, idempotent: object, attempt: object, pol: Policy
) -> _Plan:
    """The plan for a situation, the caller's arguments checked (kept per situation)."""
    op = (err.operation or Operation.OTHER) if operation is None else operation_of(operation)
    if type(attempt) is not int or attempt < 1:
        attempt = attempt_of(attempt)
    assert isinstance(attempt, int)
    idem = (
        idempotent if idempotent is True or idempotent is False else flag("idempotent", idempotent)
    )
    ev = evidence(err, op)
    key = (id(pol), err.exchange, err.category, err.subcategory, op, idem, attempt, ev)
    hit = _plans.get(key)
    if hit is None or hit[0] is not pol:
        s = Situation(err.category, err.subcategory, op, idem, *ev)
        hit = (pol, _plan(pol, err.exchange, s, attempt))
        if len(_plans) >= MAX_PLANS:
            _plans.clear()
        _plans[key] = hit
    return hit[1]


class _Plan:
    """What recommend() decides for one situation, before the per-call delay.

    ``fixed`` is the whole answer when there is no delay to draw; otherwise
    ``values`` are the answer's fields but ``delay_s`` and ``reason``, and the
    delay is drawn per call from the backoff's un-jittered delay for this
    attempt (``Backoff.delay``, worked out once).
    """

    __slots__ = ("cap", "fixed", "jitter", "min_delay", "raw", "reason", "values")

    def __init__(
        self,
        values: tuple[Any, ...],
        reason: str,
        backoff: Backoff | None = None,
        attempt: int = 1,
        min_delay: float | None = None,
        fixed: Recommendation | None = None,
    ) -> None:
        self.values = values
        self.reason = reason
        self.min_delay = min_delay
        self.fixed = fixed
        self.raw = self.jitter = self.cap = 0.0
        if backoff is not None:
            e = attempt - 1
            self.raw = backoff._raw[e if 0 <= e <= MAX_EXPONENT else (0 if e < 0 else MAX_EXPONENT)]
            self.jitter = backoff.jitter
            self.cap = backoff.max_s


#: (id(policy), exchange, category, subcategory, operation, idempotent, attempt)
#: -> (policy, plan). Deciding a situation (policy cascade, guards, the reason's
#: text) was most of recommend()'s cost; see bench/.
_plans: dict[tuple[Any, ...], tuple[Policy, _Plan]] = {}
MAX_PLANS = 8192
#: the same for the bundled policy, keyed by the caller's arguments as given
#: (their exact types checked first): (exchange, category, subcategory,
#: operation, idempotent, attempt) -> (policy, plan); idempotent is a bool and
#: attempt an int, never True (type checked), so the two cannot be confused
_fast: dict[tuple[Any, ...], tuple[Policy, _Plan]] = {}
#: the same again for a result object asked about before (the one ``normalize()``
#: keeps for an input it met twice), so that the request's evidence is not
#: read again: (id(err), operation, idempotent, attempt) -> (err, policy, plan).
#: An entry holds its result, so the id cannot name another result while it is
#: kept. The table is small, so that a stream of new results keeps too few of
#: them alive to start the cyclic garbage collector (1,024 entries started
#: it: ~0.3 us per new body, measured; 256 did not).
_by_result: dict[tuple[Any, ...], tuple[NormalizedError, Policy, _Plan]] = {}
MAX_BY_RESULT = 128
_reg.on_change(_by_result.clear)  # the evidence of a result may change with the rules
also_reset(_by_result.clear)
also_reset(_fast.clear)  # forgotten with the memos: a test then decides anew
also_reset(_plans.clear)


def _plan(pol: Policy, exchange: str, s: Situation, attempt: int) -> _Plan:
    cat, subcategory, op, idem = s.category, s.subcategory, s.operation, s.idempotent
    r = pol.resolve(exchange, cat, subcategory, op, idem)
    action = r.action
    scope = r.scope
    precondition = r.precondition
    proposal, last, notes = guard(s, Proposal(action, scope, precondition))
    assert proposal.action is not None
    action, scope, precondition = proposal.action, proposal.scope or scope, proposal.precondition
    guard_id = last.id if last is not None else None

    retrying = False
    hold: float | None = None
    exhausted = False
    if action in (Action.RETRY, Action.QUERY_THEN_RETRY):
        if attempt >= r.max_attempts:
            exhausted = True
            action = Action.HALT if r.exhausted == "HALT" else Action.ESCALATE
            precondition = precondition if precondition is not Precondition.RESYNC_CLOCK else None
            hold = r.hold_s
        else:
            retrying = True
    elif action is Action.HALT:
        hold = r.hold_s

    label = subcategory or cat.value
    reason = _reason(label, op, idem, attempt, r.max_attempts, action, r.why, exhausted, notes)
    values = (
        action,
        0.0,
        r.max_attempts,
        attempt,
        scope,
        precondition,
        hold,
        reason,
        r.rule_id,
        guard_id,
        exhausted,
    )
    if not retrying:
        return _Plan(values, reason, fixed=_make(values))
    min_delay = delay_bounds(s, r.backoff.max_s)
    return _Plan(values, reason, backoff=r.backoff, attempt=attempt, min_delay=min_delay)


#: words of an error no rule knows that speak of credentials or permissions
_AUTH_WORDS = (
    "signature",
    "api key",
    "api-key",
    "apikey",
    "api_key",
    "passphrase",
    "permission",
    "unauthori",
    "credential",
    "access key",
    "secret key",
)
_UNKNOWN = Outcome.UNKNOWN
_SAID_DONE_NOTHING = ("REJECTED", "NOT_SENT")
_NO_EVIDENCE = (False, False, False)


def evidence(err: NormalizedError, operation: object = None) -> tuple[bool, bool, bool]:
    """What the request's own evidence says, whatever rule decided its category
    (``Situation.unknown``, ``dedupe_all``, ``auth_words``).

    The outcome is unknown when the result says so; when the venue's bundled
    rules declare its code an unknown outcome (a user's rule may have renamed
    it); when the caller's exception is a transport failure after sending (as
    the bundled common rules class it); and when the answer is a 5xx status or
    a busy/unavailable one (``UNAVAILABLE.SERVICE``), unless the rule that
    decided declares itself (``outcome: REJECTED`` or ``NOT_SENT``, with its
    documented reason) that nothing was done.

    Only a write needs the first two, and only an UNKNOWN error the third: a
    read of a known category costs one dictionary lookup.
    """
    op = err[11] if operation is None else operation
    write = _WRITES.get(op) if type(op) in _WRITE_KEYS else None
    if write is None:
        write = _is_write(op)
    category = err[1]
    if not write and category is not Category.UNKNOWN:
        return _NO_EVIDENCE
    # plain values, cheap to hash; the message only where the auth words are read
    message = err[6][:MAX_MESSAGE_CHARS] if category is Category.UNKNOWN and err[6] else None
    key = (err[0], err[2], err[4], err[5], err[7], message)
    known = _EVIDENCE.get(key)
    if known is None:
        known = _EVIDENCE[key] = (*_by_rules(err), _speaks_of_credentials(message))
        if len(_EVIDENCE) > MAX_PLANS:
            _EVIDENCE.clear()
    unknown, dedupe, auth = known
    unknown = unknown or err[3] is _UNKNOWN
    if not unknown:
        raw_error = err[16][5]
        if isinstance(raw_error, BaseException):
            from .transport import transport_kind

            reg = _reg.registry()
            reg.common_rules()
            unknown = transport_kind(raw_error) in reg.after_send
    return (unknown, dedupe, auth)


def _speaks_of_credentials(message: str | None) -> bool:
    lowered = message.lower() if message else ""
    return any(w in lowered for w in _AUTH_WORDS)


def _by_rules(err: NormalizedError) -> tuple[bool, bool]:
    """(unknown, dedupe_all) as the rules and the venue's data say (the
    exception and the result's own outcome aside), kept per (exchange,
    subcategory, code, status, rule)."""
    exchange, sub = err[0], err[2]
    try:
        reg = _reg.registry()
        unknown = False
        code = err[4]
        if not unknown and code is not None:
            unknown = reg.unknown_code(exchange, code)
        if not unknown:
            status = err[5]
            if (status is not None and status >= 500) or sub == "UNAVAILABLE.SERVICE":
                rule_id = err[7]
                said = reg.declared_outcome(exchange, rule_id) if rule_id else None
                unknown = said not in _SAID_DONE_NOTHING
        return unknown, reg.dedupes_all(exchange)
    except NormalizerError:  # a result built by hand, for a venue not loaded
        return False, False


def _is_write(op: object) -> bool:
    """Whether an operation as given writes (an unknown one counts as a write:
    ``recommend`` refuses it when it plans)."""
    try:
        write = (Operation.OTHER if op is None else operation_of(op)) in ONTOLOGY.writes
    except NormalizerError:
        return True
    if type(op) in _WRITE_KEYS and len(_WRITES) < 256:
        _WRITES[op] = write
    return write


#: operation as given -> whether it writes
_WRITES: dict[object, bool] = {}
#: see ``_by_rules`` (and the auth words of an UNKNOWN error's message); cleared
#: when the rules change
_EVIDENCE: dict[tuple[Any, ...], tuple[bool, bool, bool]] = {}
_reg.on_change(_EVIDENCE.clear)


def _reason(
    label: str,
    op: Operation,
    idem: bool,
    attempt: int,
    max_attempts: int,
    action: Action,
    why: str,
    exhausted: bool,
    notes: list[str],
) -> str:
    parts = [f"{label} during {op.value}{' (idempotent)' if idem else ''}: {why}"]
    if exhausted:
        parts.append(
            f"attempt {attempt} of {max_attempts} failed, so no more retries: {action.value}"
        )
    parts.extend(notes)
    return "; ".join(parts)
