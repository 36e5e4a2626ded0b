"""The safety guards as objects: one definition refuses a policy rule at load
and overrides a cascaded proposal at run time (normalizer/_guards.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import normalizer
from normalizer import Action, Category, Operation, PolicyError, Precondition, Scope
from normalizer._engine.guards import (
    GUARDS,
    STATUS_QUERIES,
    Proposal,
    Situation,
    guard,
    refusal,
    unknown_outcome_write,
)
from normalizer._formats.registry import ONTOLOGY

HEAD = "version: 1\nname: desk\nrules:\n"


def rule(when: str, then: str) -> str:
    return (
        HEAD + f"  - id: r\n    why: A rule under test here.\n    when: {when}\n    then: {then}\n"
    )


def refused(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        normalizer.parse_policy(text, "desk.yaml")
    return info.value


def test_every_guard_is_an_object_with_id_why_applies_apply() -> None:
    ids = [g.id for g in GUARDS]
    assert len(set(ids)) == len(ids)
    for g in GUARDS:
        assert g.id.startswith("guard.")
        assert len(g.why) > 20
        assert callable(g.applies)
        assert callable(g.apply)


@pytest.mark.parametrize("label", ["UNKNOWN_STATE", "UNKNOWN_STATE.TIMEOUT", "UNKNOWN"])
def test_retry_of_unknown_outcome_placements_is_refused_at_load(label: str) -> None:
    err = refused(rule(f"{{category: [{label}], operation: [place_order]}}", "{action: RETRY}"))
    assert err.line == 4
    assert "guard.unknown-outcome-write" in str(err)


def test_retry_of_unknown_state_for_every_operation_is_refused_too() -> None:
    """No operation named: the rule covers placements, so it asks what the guard forbids."""
    assert "guard.unknown-outcome-write" in str(
        refused(rule("{category: [UNKNOWN_STATE]}", "{action: RETRY}"))
    )


@pytest.mark.parametrize(
    "when",
    [
        "{category: [UNKNOWN_STATE], idempotent: true}",
        "{category: [UNKNOWN_STATE], operation: [query]}",
    ],
)
def test_retry_of_unknown_state_where_it_is_safe_loads(when: str) -> None:
    normalizer.parse_policy(rule(when, "{action: RETRY}"))


@pytest.mark.parametrize("pre", ["resync_clock", "refresh_credentials"])
def test_a_query_that_is_not_the_status_query_is_refused_at_load(pre: str) -> None:
    err = refused(
        rule("{category: [UNKNOWN_STATE]}", f"{{action: QUERY_THEN_RETRY, precondition: {pre}}}")
    )
    assert pre in str(err)
    assert "guard.unknown-outcome-write" in str(err)


@pytest.mark.parametrize("pre", ["query_order_status", "query_transfer_status"])
def test_the_status_queries_satisfy_the_guard(pre: str) -> None:
    normalizer.parse_policy(
        rule("{category: [UNKNOWN_STATE]}", f"{{action: QUERY_THEN_RETRY, precondition: {pre}}}")
    )


def test_a_cascaded_wrong_precondition_is_overridden_at_run_time() -> None:
    """The rule sets only the precondition (it loads); the action cascades from the default."""
    pol = normalizer.parse_policy(
        rule("{category: [UNKNOWN_STATE]}", "{precondition: resync_clock}")
    )
    err = normalizer.normalize("okx", error=TimeoutError("read timed out"), operation="place_order")
    rec = normalizer.recommend(err, policy=pol, rand=lambda: 0.5)
    assert rec.action is Action.QUERY_THEN_RETRY
    assert rec.precondition is Precondition.QUERY_ORDER_STATUS
    assert rec.guard == "guard.unknown-outcome-write"
    # a write that cannot be queried: a person checks
    err = normalizer.normalize("okx", error=TimeoutError("read timed out"), operation="account")
    rec = normalizer.recommend(err, policy=pol)
    assert rec.action is Action.ESCALATE


def test_guards_read_the_category_not_only_the_subcategory() -> None:
    assert "guard.never-retry" in str(refused(rule("{category: [AUTH]}", "{action: RETRY}")))
    assert "guard.never-retry" in str(refused(rule("{category: [KYC]}", "{action: RETRY}")))
    normalizer.parse_policy(rule("{category: [AUTH.TIMESTAMP]}", "{action: RETRY}"))
    s = Situation(Category.AUTH, None, Operation.PLACE_ORDER, True)
    out, last, _ = guard(s, Proposal(Action.RETRY, Scope.REQUEST))
    assert (out.action, last and last.id) == (Action.ESCALATE, "guard.never-retry")


def test_rate_limits_are_never_halted_by_a_rule() -> None:
    assert "guard.rate-limit-backoff" in str(
        refused(rule("{category: [RATE_LIMIT.REQUESTS]}", "{action: HALT}"))
    )


def test_lint_reports_a_rule_asking_retry_for_unknown_state_placements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from normalizer.cli import main

    path = tmp_path / "desk.yaml"
    path.write_text(
        rule("{category: [UNKNOWN_STATE], operation: [place_order]}", "{action: RETRY}")
    )
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:4: error:" in out
    assert "guard.unknown-outcome-write" in out


situations = st.builds(
    Situation,
    category=st.sampled_from(list(Category)),
    subcategory=st.none(),
    operation=st.sampled_from(list(Operation)),
    idempotent=st.booleans(),
).flatmap(
    lambda s: st.sampled_from(
        [None, *(sub for sub, c in ONTOLOGY.subcategories.items() if c is s.category)]
    ).map(lambda sub: Situation(s.category, sub, s.operation, s.idempotent))
)
proposals = st.builds(
    Proposal,
    action=st.sampled_from(list(Action)),
    scope=st.sampled_from(list(Scope)),
    precondition=st.none() | st.sampled_from(list(Precondition)),
)


@given(situations, proposals)
def test_guarded_proposals_are_always_safe(s: Situation, p: Proposal) -> None:
    """Invariant: whatever the policy proposes, the guarded answer keeps every promise."""
    out, _, _ = guard(s, p)
    if unknown_outcome_write(s):
        assert out.action is not Action.RETRY
        if out.action is Action.QUERY_THEN_RETRY:
            assert out.precondition in STATUS_QUERIES
    if s.category in ONTOLOGY.never_retry and s.subcategory not in ONTOLOGY.retry_allowed:
        assert out.action not in (Action.RETRY, Action.QUERY_THEN_RETRY)
    if s.category is Category.RATE_LIMIT:
        assert out.action is Action.RETRY
    if out.action is Action.QUERY_THEN_RETRY:
        assert out.precondition is not None


@given(situations, proposals)
def test_a_rule_loads_only_if_no_forbidding_guard_would_override_it(
    s: Situation, p: Proposal
) -> None:
    """Invariant: load-time refusal and run-time override are the same definition."""
    label = s.subcategory or s.category.value
    why = refusal((label,), (s.operation,), s.idempotent, p)
    if why is None and s.subcategory is not None:
        assert not any(g.forbids and g.applies(s, p) for g in GUARDS)
    if any(g.forbids and g.applies(s, p) for g in GUARDS):
        assert why is not None


@pytest.mark.parametrize(
    ("operation", "action", "said"),
    [
        ("place_order", Action.QUERY_THEN_RETRY, "status is queried first (query_order_status)"),
        ("transfer", Action.QUERY_THEN_RETRY, "status is queried first (query_transfer_status)"),
        ("account", Action.ESCALATE, "cannot be queried, so a person must check"),
    ],
)
def test_the_reason_of_a_filled_in_precondition_says_what_was_done(
    operation: str, action: Action, said: str
) -> None:
    """The default policy's QUERY_THEN_RETRY for UNKNOWN_STATE names no precondition: the
    guard fills in the operation's status query, and the reason says that (not that a
    person must check) unless the operation has none and the action became ESCALATE."""
    err = normalizer.normalize("okx", error=TimeoutError("read timed out"), operation=operation)
    rec = normalizer.recommend(err, rand=lambda: 0.5)
    assert rec.action is action
    assert rec.guard == "guard.query-needs-precondition"
    assert said in rec.reason
    other = "cannot be queried" if action is Action.QUERY_THEN_RETRY else "queried first"
    assert other not in rec.reason
