"""``recommend()``: from a normalized error and what was being done, the next action.

The policy (``policies/default.yaml`` unless you pass your own) decides. Then
the safety guards of ``normalizer/_core/guards.py`` hold whatever the policy says
(the same objects refuse, at load, a policy rule that asks for what they
forbid); ``Recommendation.guard`` names the guard that changed the outcome:

- ``guard.never-retry``: AUTH (except AUTH.TIMESTAMP) and KYC errors are
  never answered with RETRY or QUERY_THEN_RETRY: they become ESCALATE.
- ``guard.unknown-outcome-write``: an UNKNOWN_STATE or UNKNOWN error on a
  non-idempotent write is never answered with RETRY, nor with a
  QUERY_THEN_RETRY whose precondition is not the status query
  (``query_order_status``, ``query_transfer_status``): the earlier attempt may
  have taken effect. It becomes QUERY_THEN_RETRY with the operation's status
  query, or ESCALATE when the operation has none.
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

import random
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._core.arguments import attempt_of, flag
from .._core.errors import ArgumentTypeError
from .._core.guards import RATE_LIMIT_MIN_DELAY_S, Proposal, Situation
from .._core.policy import Backoff, Policy
from .._core.vocabulary import Action, Category, Operation, Precondition, operation_of
from .._formats.registry import default_policy
from .guards import delay_bounds, guard
from .results import NormalizedError, Recommendation

__all__ = ["MAX_POLICIES", "RATE_LIMIT_MIN_DELAY_S", "recommend"]

_make = Recommendation._make
_DELAY = Recommendation._fields.index("delay_s")
_REASON = Recommendation._fields.index("reason")

#: policies loaded from paths: resolved path -> ((mtime, size), policy), least
#: recently used first. A rewritten file replaces its older version; at most
#: ``MAX_POLICIES`` paths are kept.
_policies: OrderedDict[str, tuple[tuple[int, int], Policy]] = OrderedDict()
MAX_POLICIES = 16
_POLICIES_LOCK = threading.Lock()


def _policy(policy: Policy | str | Path | None) -> Policy:
    if policy is None:
        return default_policy()
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, (str, Path)):
        path = Path(policy)
        try:
            st = path.stat()
            name, stamp = str(path.resolve()), (st.st_mtime_ns, st.st_size)
        except OSError:
            return _load_policy(path)  # refused with a clear PolicyError
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


def _load_policy(path: Path) -> Policy:
    from .._formats.policy import load_policy  # pydantic and YAML: only for a custom file

    return load_policy(path)


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
    op = (err.operation or Operation.OTHER) if operation is None else operation_of(operation)
    if type(attempt) is not int or attempt < 1:
        attempt = attempt_of(attempt)
    idem = (
        idempotent if idempotent is True or idempotent is False else flag("idempotent", idempotent)
    )
    pol = _policy(policy)
    key = (id(pol), err.exchange, err.category, err.subcategory, op, idem, attempt)
    hit = _plans.get(key)
    if hit is None or hit[0] is not pol:
        hit = (pol, _plan(pol, err.exchange, err.category, err.subcategory, op, idem, attempt))
        if len(_plans) >= MAX_PLANS:
            _plans.clear()
        _plans[key] = hit
    plan = hit[1]
    if plan.fixed is not None:
        return plan.fixed
    # a retry: the jittered delay, and the exchange's Retry-After, differ per call
    assert plan.backoff is not None
    delay = plan.backoff.delay(attempt, rand or random.random)
    if plan.min_delay is not None:
        delay = max(delay, plan.min_delay)
    reason = plan.reason
    if err.retry_after_s is not None and err.retry_after_s > delay:
        delay = err.retry_after_s
        reason += f"; the exchange asked to wait {err.retry_after_s:g}s (Retry-After)"
    values = list(plan.values)
    values[_DELAY] = delay
    values[_REASON] = reason
    return _make(tuple(values))


@dataclass(frozen=True)
class _Plan:
    """What recommend() decides for one situation, before the per-call delay.

    ``fixed`` is the whole answer when there is no delay to draw; otherwise
    ``values`` are the answer's fields but ``delay_s`` and ``reason``.
    """

    values: tuple[Any, ...]
    reason: str
    backoff: Backoff | None = None
    min_delay: float | None = None
    fixed: Recommendation | None = None


#: (id(policy), exchange, category, subcategory, operation, idempotent, attempt)
#: -> (policy, plan). Deciding a situation (policy cascade, guards, the reason's
#: text) was most of recommend()'s cost; see bench/.
_plans: dict[tuple[Any, ...], tuple[Policy, _Plan]] = {}
MAX_PLANS = 8192


def _plan(
    pol: Policy,
    exchange: str,
    cat: Category,
    subcategory: str | None,
    op: Operation,
    idem: bool,
    attempt: int,
) -> _Plan:
    r = pol.resolve(exchange, cat, subcategory, op, idem)
    action = r.action
    scope = r.scope
    precondition = r.precondition
    proposal, last, notes = guard(
        Situation(cat, subcategory, op, idem), Proposal(action, scope, precondition)
    )
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
    min_delay = delay_bounds(Situation(cat, subcategory, op, idem), r.backoff.max_s)
    return _Plan(values, reason, backoff=r.backoff, min_delay=min_delay)


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
