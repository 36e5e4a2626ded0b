"""recommend() and policy files: scenarios a router meets, and refused policies."""

from __future__ import annotations

from pathlib import Path

import pytest

import normalizer
from normalizer import Action, Backoff, PolicyError, Precondition, Scope
from normalizer._formats.registry import ONTOLOGY


def rec(
    exchange: str = "okx",
    *,
    attempt: int = 1,
    policy: object = None,
    operation: str = "place_order",
    idempotent: bool = False,
    **kw: object,
) -> normalizer.Recommendation:
    err = normalizer.normalize(exchange, operation=operation, **kw)  # type: ignore[arg-type]
    return normalizer.recommend(
        err,
        operation=operation,
        idempotent=idempotent,
        attempt=attempt,
        policy=policy,
        rand=lambda: 0.5,
    )  # type: ignore[arg-type]


def test_read_timeout_on_an_order_is_queried_before_resending() -> None:
    r = rec(error=TimeoutError("read timed out"))
    assert r.action is Action.QUERY_THEN_RETRY
    assert r.precondition is Precondition.QUERY_ORDER_STATUS
    assert r.delay_s > 0


def test_read_timeout_on_an_idempotent_okx_order_is_queried_before_it_is_resent() -> None:
    """Issue 27: OKX documents no refusal of a client order id once the first
    order is closed, so an idempotent order of unknown fate is queried first."""
    r = rec(error=TimeoutError("read timed out"), idempotent=True)
    assert (r.action, r.guard) == (Action.QUERY_THEN_RETRY, "guard.resend-needs-dedupe")


def test_timeout_on_a_transfer_queries_the_transfer() -> None:
    r = rec(error=TimeoutError("read timed out"), operation="transfer")
    assert r.precondition is Precondition.QUERY_TRANSFER_STATUS


def test_never_sent_is_safe_to_resend_even_when_not_idempotent() -> None:
    r = rec(error=ConnectionRefusedError(111, "refused"))
    assert (r.action, r.scope) == (Action.RETRY, Scope.EXCHANGE)


def test_rate_limit_backs_off_exponentially_then_halts() -> None:
    delays = [rec(code="58102", attempt=n).delay_s for n in range(1, 6)]
    assert delays == sorted(delays)
    assert delays[0] >= 1.0
    assert delays[1] == pytest.approx(2 * delays[0])
    assert rec(code="58102", attempt=6).action is Action.HALT


def test_retry_after_longer_than_the_backoff_is_honoured() -> None:
    r = rec(code="58102", headers={"Retry-After": "45"})
    assert r.delay_s == 45.0
    assert "Retry-After" in r.reason


def test_signature_error_halts_the_account_and_asks_for_credentials() -> None:
    r = rec("mexc", code="700002")
    assert (r.action, r.scope, r.precondition) == (
        Action.ESCALATE,
        Scope.ACCOUNT,
        Precondition.REFRESH_CREDENTIALS,
    )


def test_timestamp_error_resyncs_the_clock_and_retries_once() -> None:
    r = rec("mexc", code="700003")
    assert (r.action, r.precondition) == (Action.RETRY, Precondition.RESYNC_CLOCK)
    assert rec("mexc", code="700003", attempt=2).action is Action.HALT


def test_kyc_escalates() -> None:
    assert rec(code="58230", operation="withdraw").action is Action.ESCALATE


def test_transfer_in_progress_is_queried_not_resubmitted() -> None:
    r = rec(code="58124", operation="transfer")
    assert (r.action, r.precondition) == (
        Action.QUERY_THEN_RETRY,
        Precondition.QUERY_TRANSFER_STATUS,
    )


def test_cancel_of_an_unknown_order_queries_it() -> None:
    r = rec("mexc", code="-2011", operation="cancel_order")
    assert (r.action, r.precondition) == (Action.QUERY_THEN_RETRY, Precondition.QUERY_ORDER_STATUS)


def test_unknown_state_on_an_account_write_cannot_be_queried_so_escalates() -> None:
    r = rec(error=TimeoutError("t"), operation="account")
    assert (r.action, r.guard) == (Action.ESCALATE, "guard.query-needs-precondition")


def test_operation_defaults_to_the_one_given_to_normalize() -> None:
    err = normalizer.normalize("okx", error=TimeoutError("t"), operation="transfer")
    assert normalizer.recommend(err).precondition is Precondition.QUERY_TRANSFER_STATUS


@pytest.mark.parametrize("attempt", [0, -1, 1.5, True, "2"])
def test_bad_attempt_is_a_caller_mistake(attempt: object) -> None:
    err = normalizer.normalize("okx", code="58102")
    with pytest.raises((TypeError, ValueError), match="attempt") as caught:
        normalizer.recommend(err, attempt=attempt)  # type: ignore[arg-type]
    assert isinstance(caught.value, normalizer.NormalizerError)


# ------------------------------------------------------------- policies

USER = """\
version: 1
name: desk
defaults:
  max_attempts: 5
rules:
  - id: okx-rate-limit
    why: OKX funding limits are per account; wait longer there.
    when: {exchange: [okx], category: [RATE_LIMIT]}
    then: {backoff: {initial_s: 4.0, max_s: 120}}
"""


def test_user_policy_overrides_only_what_it_says(tmp_path: Path) -> None:
    path = tmp_path / "desk.yaml"
    path.write_text(USER)
    r = rec(code="58102", policy=str(path))
    assert r.policy_rule_id == "desk:okx-rate-limit"
    assert r.delay_s == pytest.approx(4.0 * 1.125)  # 4s, jitter 0.25 * 0.5
    assert (r.action, r.scope, r.max_attempts) == (
        Action.RETRY,
        Scope.ACCOUNT,
        6,
    )  # cascaded from default
    assert rec("mexc", code="429", policy=str(path)).policy_rule_id == "default:rate-limit"


def _refused(tmp_path: Path, text: str) -> PolicyError:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        normalizer.load_policy(path)
    assert info.value.path == str(path)
    return info.value


def test_policy_typo_is_refused_with_file_line_field(tmp_path: Path) -> None:
    err = _refused(tmp_path, USER.replace("then: {backoff", "than: {backoff"))
    assert {(p.line, p.field) for p in err.problems} >= {(9, "rules[0].than")}


def test_policy_unknown_category_is_refused(tmp_path: Path) -> None:
    err = _refused(tmp_path, USER.replace("category: [RATE_LIMIT]", "category: [RATE_LIMITS]"))
    assert (err.line, err.field) == (8, "rules[0].when.category")


def test_policy_retrying_auth_is_refused(tmp_path: Path) -> None:
    text = USER.replace("category: [RATE_LIMIT]", "category: [AUTH.SIGNATURE]").replace(
        "then: {backoff: {initial_s: 4.0, max_s: 120}}", "then: {action: RETRY}"
    )
    err = _refused(tmp_path, text)
    assert err.line == 6
    assert "never retried" in str(err)


def test_policy_jitter_that_could_shorten_a_later_wait_is_refused(tmp_path: Path) -> None:
    err = _refused(
        tmp_path,
        USER.replace("initial_s: 4.0, max_s: 120", "initial_s: 4.0, multiplier: 1.1, jitter: 0.5"),
    )
    assert (err.line, err.field) == (9, "rules[0].then.backoff")
    assert "at least 1 + jitter" in str(err)


def test_policy_rules_that_tie_and_disagree_are_refused(tmp_path: Path) -> None:
    text = (
        USER
        + """\
  - id: okx-rate-limit-2
    why: A second opinion on the same situation.
    when: {exchange: [okx], category: [RATE_LIMIT.REQUESTS, RATE_LIMIT]}
    then: {scope: exchange}
  - id: okx-rate-limit-3
    why: A third opinion on the same situation.
    when: {exchange: [okx], category: [RATE_LIMIT.REQUESTS]}
    then: {scope: symbol}
"""
    )
    err = _refused(tmp_path, text)
    assert err.line == 16
    assert "okx-rate-limit-3" in str(err)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        normalizer.load_policy(tmp_path / "nope.yaml")


def test_backoff_reads_like_tenacity() -> None:
    b = Backoff.exponential(1.0, multiplier=3).capped(20).jittered(0.5)
    assert [b.base(n) for n in (1, 2, 3, 4)] == [1.0, 3.0, 9.0, 20.0]
    assert b.delay(2, rand=lambda: 0.0) == 3.0
    assert b.delay(2, rand=lambda: 0.999) < 4.5
    assert Backoff.fixed(2.0).delay(10) == 2.0


def test_default_policy_covers_every_category_with_a_rule_of_its_own() -> None:
    pol = normalizer.default_policy()
    ids = {
        pol.resolve("okx", cat, None, normalizer.Operation.PLACE_ORDER, False).rule_id
        for cat in normalizer.Category
    }
    assert "default:defaults" not in ids
    assert len(ids) == len(normalizer.Category)
    assert ONTOLOGY.status_query  # operations that can be queried exist
