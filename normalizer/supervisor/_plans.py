"""From one observed error to the ``Plan`` a store applies (the supervisor's first half).

The plan says, for every counted rule of the policy, what to count in which
group and what to hold when the count is reached, and which per-error halts
to hold; for rules whose answer depends on the attempt number (which the
store assigns) it carries both variants (``_stores._plan``).

Reconciliation is not failure: a status query that answers NOT_FOUND (a
router checking whether an order it could not confirm exists) is never an
exhausted retry, so it never counts toward ``when: {exhausted: true}`` rules
such as the bundled ``retries-exhausted`` and never halts the account; the
request's own recommendation still stops its queries.
"""

from __future__ import annotations

import hashlib

from .._core.policy import Policy
from .._core.vocabulary import Action, Category, Operation, Scope
from .._engine.recommend import recommend
from .._engine.results import NormalizedError, Recommendation
from .._formats.escalation import EscalationRule
from ._matchers import Features, compile_match
from ._stores._plan import ALWAYS, EXHAUSTED, FRESH, RESET, STREAK, WINDOW, CountOp, HoldOp, Plan
from ._types import WIDTH, Keys

__all__ = ["Counted", "build_plan", "is_reconciliation"]

_RETRYING = (Action.RETRY, Action.QUERY_THEN_RETRY)


class Counted:
    """A counted rule with what each event needs of it, read once."""

    __slots__ = (
        "action",
        "count",
        "hold",
        "id",
        "lifted",
        "match",
        "mode",
        "on_exhausted",
        "reason",
        "rule",
        "same_error",
        "scope",
        "scope_value",
        "width",
        "window",
    )

    def __init__(self, rule: EscalationRule) -> None:
        self.rule = rule
        self.id = rule.id
        self.match = compile_match(rule.when) if rule.when is not None else (lambda f: True)
        self.on_exhausted = rule.when is not None and rule.when.exhausted is not None
        self.width = rule.group_scope
        self.mode = STREAK if rule.in_a_row else WINDOW
        self.same_error = rule.same_error
        self.count = rule.count
        self.window = rule.within_s or 0.0
        then = rule.then
        self.scope = then.scope
        self.scope_value = then.scope.value
        self.action = then.action.value
        self.hold = then.hold_s if then.hold_s is not None else 0.0
        self.lifted = then.lifted_by_success
        self.reason = f"{rule.id}: {rule.why}"


def is_reconciliation(err: NormalizedError, op: Operation) -> bool:
    """A status query answering "not found": information, not a failed retry."""
    return op is Operation.QUERY and err.category is Category.NOT_FOUND


def build_plan(
    counted: list[Counted],
    policy: Policy,
    memory_s: float,
    now: float | None,
    err: NormalizedError,
    op: Operation,
    keys: Keys,
    account: str | None,
    idempotent: bool,
    attempt: int | None,
    event_id: str | None,
) -> tuple[Plan, tuple[Features, Features], Recommendation]:
    """The plan of one event, the features its conditions test (not exhausted,
    exhausted) and the recommendation at attempt 1."""
    first = recommend(err, operation=op, idempotent=idempotent, attempt=1, policy=policy)
    reconciling = is_reconciliation(err, op)
    if reconciling:
        xfrom = 0
    elif first.retries_exhausted:
        xfrom = 1
    elif first.action in _RETRYING:
        xfrom = first.max_attempts
    else:
        xfrom = 0
    numbered = attempt is None and keys.has_request
    cat, sub = err.category.value, err.subcategory or ""
    features = (
        Features(cat, sub, keys.exchange, op.value, account, False),
        Features(cat, sub, keys.exchange, op.value, account, not reconciling),
    )
    plan = Plan(
        event_id=event_id,
        now=now,
        attempt_key=f"{keys.request}|{op.value}" if numbered else None,
        attempt=None if numbered else (attempt or 1),
        exhausted_from=xfrom,
        memory_s=memory_s,
        chain=keys.chain(),
    )
    known_exhausted = xfrom > 0 and (plan.attempt or 1) >= xfrom
    _count(plan, counted, features, keys, err, numbered, known_exhausted)
    _holds(plan, policy, err, op, keys, idempotent, first, xfrom, numbered)
    return plan, features, first


def _count(
    plan: Plan,
    counted: list[Counted],
    features: tuple[Features, Features],
    keys: Keys,
    err: NormalizedError,
    numbered: bool,
    known_exhausted: bool,
) -> None:
    """What each counted rule counts for this event."""
    has_request = keys.has_request
    ident = ""
    ops = plan.ops
    for c in counted:
        if c.width is Scope.REQUEST and not has_request:
            continue
        tries: tuple[tuple[int, bool], ...]
        if c.on_exhausted and numbered:  # the answer depends on the attempt
            tries = ((FRESH, c.match(features[0])), (EXHAUSTED, c.match(features[1])))
        else:
            tries = ((ALWAYS, c.match(features[known_exhausted])),)
        group = keys.of(c.width)
        width = WIDTH[c.width]
        for variant, matched in tries:
            if not matched:
                if c.mode == STREAK:
                    ops.append(CountOp(variant, c.id, group, RESET, width=width))
                continue
            if c.same_error and not ident:
                raw = f"{err.label}|{err.code}|{(err.message or '')[:200]}"
                ident = hashlib.blake2b(
                    raw.encode("utf-8", "surrogatepass"), digest_size=8
                ).hexdigest()
            hold = c.hold if (c.scope is not Scope.REQUEST or has_request) else 0.0
            ops.append(
                CountOp(
                    variant,
                    c.id,
                    group,
                    c.mode,
                    c.count,
                    c.window,
                    ident if c.same_error else "",
                    c.scope_value,
                    keys.of(c.scope),
                    c.action,
                    hold,
                    c.lifted,
                    c.reason,
                    width,
                )
            )


def _holds(
    plan: Plan,
    policy: Policy,
    err: NormalizedError,
    op: Operation,
    keys: Keys,
    idempotent: bool,
    first: Recommendation,
    xfrom: int,
    numbered: bool,
) -> None:
    """Per-error HALTs that say for how long hold their scope."""
    recs = (
        [first]
        if not numbered or xfrom == 0
        else [
            first,
            recommend(
                err, operation=op, idempotent=idempotent, attempt=max(xfrom, 1), policy=policy
            ),
        ]
    )
    if not numbered and plan.attempt != 1:
        recs = [
            recommend(
                err, operation=op, idempotent=idempotent, attempt=plan.attempt or 1, policy=policy
            )
        ]
    for i, rec in enumerate(recs):
        if rec.action is Action.HALT and rec.hold_s and rec.scope is not Scope.REQUEST:
            variant = ALWAYS if len(recs) == 1 else (FRESH if i == 0 else EXHAUSTED)
            plan.holds.append(
                HoldOp(
                    variant,
                    rec.scope.value,
                    keys.of(rec.scope),
                    rec.hold_s,
                    rec.reason,
                    rec.policy_rule_id,
                )
            )
