"""The decisions a supervisor builds (its second half), the same whatever the store.

The per-error recommendation is the starting point (a completed sequence
replaces it); a rule that fires adds its own action; a halt in force on the
error's exchange, account, symbol or request adds a HALT for the time that
remains. ``strongest`` picks: ESCALATE over HALT over QUERY_THEN_RETRY over
RETRY, then the wider scope, then the longer hold.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from .._core.errors import SupervisorArgumentError
from .._core.vocabulary import Action, Scope
from .._engine.results import Recommendation
from .._formats.escalation import EscalationRule
from ._types import RANK, WIDTH, Decision, Halt, Keys, finite_time, trusted_decision

__all__ = [
    "STORE_RETRY_S",
    "escalate",
    "from_recommendation",
    "halt_strength",
    "halted",
    "may_replace",
    "store_down",
    "strongest",
    "unreachable_halt",
]

#: How long a decision taken without the store (``on_store_error="halt"``) holds.
STORE_RETRY_S = 1.0


def from_recommendation(
    rec: Recommendation, keys: Keys, now: float, event_id: str | None, duplicate: bool
) -> Decision:
    return trusted_decision(
        action=rec.action,
        scope=rec.scope,
        scope_key=keys.of(rec.scope),
        reason=rec.reason,
        recommendation=rec,
        at=now,
        hold_s=rec.hold_s,
        until=now + rec.hold_s if rec.hold_s is not None else None,
        delay_s=rec.delay_s,
        precondition=rec.precondition,
        event_id=event_id,
        duplicate=duplicate,
    )


def escalate(
    rule: EscalationRule,
    note: str,
    keys: Keys,
    rec: Recommendation,
    now: float,
    event_id: str | None,
) -> tuple[Decision, Halt | None]:
    """The decision of a rule that fired, and the halt it holds (if it holds one)."""
    then = rule.then
    key = keys.of(then.scope)
    hold = then.hold_s
    halt = None
    if hold is not None and (then.scope is not Scope.REQUEST or keys.has_request):
        halt = Halt(
            scope=then.scope,
            scope_key=key,
            action=then.action,
            since=now,
            until=now + hold,
            reason=f"{rule.id}: {rule.why}",
            escalation_rule_id=rule.id,
            lifted_by_success=then.lifted_by_success,
        )
    group = keys.of(rule.group_scope) if rule.sequence is None else keys.request
    d = trusted_decision(
        action=then.action,
        scope=then.scope,
        scope_key=key,
        reason=f"{rule.id} ({note} on {group}): {rule.why}",
        recommendation=rec,
        at=now,
        hold_s=hold,
        until=now + hold if hold is not None else None,
        escalation_rule_id=rule.id,
        event_id=event_id,
    )
    return d, halt


def halted(halt: Halt, rec: Recommendation, now: float, event_id: str | None) -> Decision:
    """A HALT for the time that remains of a halt in force."""
    return trusted_decision(
        action=Action.HALT,
        scope=halt.scope,
        scope_key=halt.scope_key,
        reason=f"{halt.scope_key} is halted until {halt.until:g} ({halt.source}): {halt.reason}",
        recommendation=rec,
        at=now,
        hold_s=halt.until - now,
        until=halt.until,
        escalation_rule_id=halt.escalation_rule_id,
        event_id=event_id,
    )


def store_down(
    keys: Keys, rec: Recommendation, now: float | None, event_id: str | None, why: str
) -> Decision:
    """The store failed (``on_store_error="halt"``): a HALT of the exchange, never a RETRY."""
    at = now if now is not None else time.time()
    return trusted_decision(
        action=Action.HALT,
        scope=Scope.EXCHANGE,
        scope_key=keys.exchange,
        reason=f"the supervisor's state store failed ({why}), so the fleet's halts are "
        f"unknown: nothing is sent to {keys.exchange} meanwhile (try again in "
        f"{STORE_RETRY_S:g}s)",
        recommendation=rec,
        at=at,
        hold_s=STORE_RETRY_S,
        until=at + STORE_RETRY_S,
        event_id=event_id,
    )


def unreachable_halt(scope_key: str, now: float | None, why: str) -> Halt:
    """What ``halted()`` and ``status()`` report when the store failed."""
    at = now if now is not None else time.time()
    return Halt(
        scope=Scope.EXCHANGE,
        scope_key=scope_key,
        action=Action.HALT,
        since=at,
        until=at + STORE_RETRY_S,
        reason=f"the supervisor's state store failed ({why}), so the fleet's halts are unknown",
        policy_rule_id="store-unreachable",
    )


def strongest(candidates: list[tuple[int, Decision]]) -> Decision:
    """Stronger action, then wider scope, then later end, then fired > stated > held."""
    return max(candidates, key=_strength)[1]


def _strength(candidate: tuple[int, Decision]) -> tuple[int, int, float, int]:
    preference, d = candidate
    until = d.until if d.until is not None else float("-inf")
    return (RANK[d.action], WIDTH[d.scope], until, preference)


def halt_strength(halt: Halt) -> tuple[int, float]:
    return (WIDTH[halt.scope], halt.until)


def may_replace(
    rule: EscalationRule | None, sent_at: float, not_found_at: Sequence[float], now: float
) -> bool:
    """``Supervisor.may_replace``: the re-placing sequence's rule on the caller's times."""
    for name, value in (("sent_at", sent_at), ("now", now)):
        if finite_time(value) is None:
            raise SupervisorArgumentError(f"{name} must be a finite number, not {value!r}")
    if isinstance(not_found_at, (str, bytes)) or not isinstance(not_found_at, Sequence):
        raise SupervisorArgumentError(
            f"not_found_at must be a sequence of times, not {not_found_at!r}"
        )
    times = [finite_time(t) for t in not_found_at]
    if any(t is None for t in times):
        raise SupervisorArgumentError(f"not_found_at must hold finite numbers: {not_found_at!r}")
    if rule is None or rule.sequence is None:
        return False
    window = rule.within_s or 0.0
    seen = sorted(t for t in times if t is not None and sent_at <= t <= now)
    seen = [t for t in seen if t - sent_at <= window]
    needed = len(rule.sequence) - 1
    return len(seen) >= needed and seen[-1] - sent_at >= rule.replace_min_age_s
