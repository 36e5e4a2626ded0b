"""The supervisor: scripted streams through the default escalation rules, the
escalation section of policy files, size limits, threads, and the engine's absence."""

from __future__ import annotations

import asyncio
import math
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import normalizer
from normalizer import (
    Action,
    Category,
    NormalizedError,
    PolicyError,
    Scope,
    Supervisor,
    SupervisorUnavailable,
)
from normalizer._formats import escalation as esc
from normalizer.supervisor import (
    MemoryStore,
    RedisStore,
    SupervisorArgumentError,
    SupervisorClosed,
    _sequences,
)

REPO = Path(__file__).resolve().parents[1]


class Clock:
    """The time the tests control."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def error(
    label: str, exchange: str = "okx", code: str | None = None, message: str | None = None
) -> NormalizedError:
    category = Category(label.split(".", 1)[0])
    return NormalizedError(
        exchange=exchange,
        category=category,
        subcategory=label if "." in label else None,
        code=code,
        message=message,
    )


@pytest.fixture(params=["python", "durable-rules"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every scenario runs on both sequence correlators where both import: the same
    decisions (durable-rules does not import on Python 3.13: skipped there, visibly)."""
    if not _sequences.engine_available(request.param):
        pytest.skip(f"the {request.param} sequence engine cannot run on this Python")
    monkeypatch.setenv("NORMALIZER_SEQUENCE_ENGINE", request.param)
    return str(request.param)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sup(engine: None, clock: Clock):  # type: ignore[no-untyped-def]
    with Supervisor(clock=clock) as s:
        yield s


def halted_keys(s: Supervisor) -> dict[str, float]:
    return {h.scope_key: h.until for h in s.status()}


# ------------------------------------------------------ rate-limit storms


def test_five_rate_limits_from_one_venue_in_ten_seconds_pause_the_venue(
    sup: Supervisor, clock: Clock
) -> None:
    rate_limited = error("RATE_LIMIT.REQUESTS")
    for i in range(4):  # four accounts, so no account storm
        d = sup.observe(rate_limited, operation="place_order", account=f"a{i}")
        assert d.action is Action.RETRY
        assert d.escalation_rule_id is None
        clock.advance(1)
    d = sup.observe(rate_limited, operation="place_order", account="a4")
    assert (d.action, d.scope, d.scope_key) == (Action.HALT, Scope.EXCHANGE, "okx")
    assert d.escalation_rule_id == "venue-rate-limit-storm"
    assert (d.hold_s, d.until) == (30, 34.0)
    assert halted_keys(sup) == {"okx": 34.0}

    clock.advance(6)  # t=10: any request to the venue waits out the rest of the hold
    d = sup.observe(error("UNAVAILABLE.SERVICE"), operation="query", account="a9")
    assert d.recommendation.action is Action.RETRY
    assert (d.action, d.scope_key, d.hold_s, d.until) == (Action.HALT, "okx", 24.0, 34.0)
    assert d.escalation_rule_id == "venue-rate-limit-storm"
    other_venue = sup.observe(error("RATE_LIMIT.REQUESTS", "mexc"), operation="query")
    assert other_venue.action is Action.RETRY

    clock.now = 34.0  # the halt expires
    assert sup.status() == ()
    assert sup.observe(rate_limited, operation="query", account="a9").action is Action.RETRY


def test_rate_limits_spread_wider_than_the_window_do_not_pause_the_venue(
    sup: Supervisor, clock: Clock
) -> None:
    for i in range(5):  # t = 0, 3, 6, 9, 12: never five within ten seconds
        d = sup.observe(error("RATE_LIMIT.REQUESTS"), operation="query", account=f"a{i}")
        assert d.action is Action.RETRY, i
        clock.advance(3)
    assert sup.status() == ()


def test_three_rate_limits_on_one_account_pause_that_account_only(
    sup: Supervisor, clock: Clock
) -> None:
    for _ in range(2):
        assert sup.observe(error("RATE_LIMIT.REQUESTS"), account="a").action is Action.RETRY
        clock.advance(1)
    d = sup.observe(error("RATE_LIMIT.REQUESTS"), account="a", symbol="BTC-USDT")
    assert (d.action, d.scope, d.scope_key, d.until) == (Action.HALT, Scope.ACCOUNT, "okx:a", 17.0)
    assert d.escalation_rule_id == "account-rate-limit-storm"
    assert sup.observe(error("RATE_LIMIT.REQUESTS"), account="b").action is Action.RETRY
    assert sup.halted("okx", account="a", symbol="ETH-USDT") is not None
    assert sup.halted("okx", account="b") is None
    # the policy does not let a success lift a rate-limit halt: it is waited out
    assert sup.observe_success("okx", account="a") == ()
    assert "okx:a" in halted_keys(sup)
    clock.now = 17.0
    assert "okx:a" not in halted_keys(sup)


# -------------------------------------------------------------------- AUTH


def test_one_auth_failure_halts_the_account_until_a_success_lifts_it(
    sup: Supervisor, clock: Clock
) -> None:
    d = sup.observe(error("AUTH.API_KEY"), operation="place_order", account="a")
    assert (d.action, d.scope_key, d.until) == (Action.ESCALATE, "okx:a", 900.0)
    assert d.escalation_rule_id == "auth-halts-account"
    clock.advance(5)
    # a retryable error on the halted account is still a HALT, never a RETRY
    d = sup.observe(error("RATE_LIMIT.REQUESTS"), operation="query", account="a")
    assert d.recommendation.action is Action.RETRY
    assert (d.action, d.scope_key, d.hold_s) == (Action.HALT, "okx:a", 895.0)
    # a timestamp refusal is cured by resynchronising the clock: no halt
    d = sup.observe(error("AUTH.TIMESTAMP"), operation="query", account="b")
    assert d.action is Action.RETRY
    assert d.escalation_rule_id is None
    assert halted_keys(sup) == {"okx:a": 900.0}
    # fixed credentials: a request on the account succeeds and lifts the halt
    assert sup.observe_success("okx", account="a", symbol="BTC-USDT") == ("okx:a",)
    assert sup.status() == ()
    assert sup.observe(error("RATE_LIMIT.REQUESTS"), account="a").action is Action.RETRY


# ----------------------------------------------------------- UNKNOWN runs


def test_the_same_unknown_error_three_times_in_a_row_calls_a_person(
    sup: Supervisor, clock: Clock
) -> None:
    unknown = error("UNKNOWN.UNMAPPED", code="99999", message="weird")
    for _ in range(2):
        d = sup.observe(unknown, operation="place_order", account="a")
        assert (d.action, d.scope, d.escalation_rule_id) == (Action.ESCALATE, Scope.REQUEST, None)
        clock.advance(10)
    d = sup.observe(unknown, operation="place_order", account="a")
    assert (d.action, d.scope, d.scope_key) == (Action.ESCALATE, Scope.ACCOUNT, "okx:a")
    assert d.escalation_rule_id == "unknown-repeated"
    assert (d.hold_s, d.until) == (300, 320.0)
    # meanwhile the account is held: its next request is halted
    d = sup.observe(error("RATE_LIMIT.REQUESTS"), operation="query", account="a")
    assert (d.action, d.scope_key, d.escalation_rule_id) == (
        Action.HALT,
        "okx:a",
        "unknown-repeated",
    )
    # the person has looked
    assert sup.lift("okx:a") == 1
    assert sup.status() == ()


@pytest.mark.parametrize(
    "between",
    ["another unknown error", "another kind of error", "a success", "another account"],
)
def test_an_interrupted_run_of_unknown_errors_does_not_escalate(
    sup: Supervisor, clock: Clock, between: str
) -> None:
    unknown = error("UNKNOWN.UNMAPPED", code="99999", message="weird")
    account = "a"
    for i in range(4):
        if i == 2:
            if between == "another unknown error":
                sup.observe(error("UNKNOWN.UNMAPPED", code="1", message="other"), account="a")
            elif between == "another kind of error":
                sup.observe(error("INVALID_REQUEST.PRICE"), account="a")
            elif between == "a success":
                sup.observe_success("okx", account="a")
            else:
                account = "b"
        d = sup.observe(unknown, operation="place_order", account=account)
        assert d.escalation_rule_id is None, i
        clock.advance(1)
    assert sup.status() == ()


def test_unknown_errors_too_far_apart_are_not_a_run(sup: Supervisor, clock: Clock) -> None:
    unknown = error("UNKNOWN.UNMAPPED", message="weird")
    for _ in range(3):  # t = 0, 200, 400; the window is 300 s
        assert sup.observe(unknown, account="a").escalation_rule_id is None
        clock.advance(200)


def test_three_unknown_outcomes_in_a_row_call_a_person_until_a_success(
    sup: Supervisor, clock: Clock
) -> None:
    timeout = error("UNKNOWN_STATE.TIMEOUT")
    for n in range(2):
        d = sup.observe(timeout, operation="place_order", account="a", request_id=f"r{n}")
        assert d.action is Action.QUERY_THEN_RETRY
        assert d.escalation_rule_id is None
        clock.advance(5)
    d = sup.observe(timeout, operation="place_order", account="a", request_id="r2")
    assert (d.action, d.scope_key, d.until) == (Action.ESCALATE, "okx:a", 130.0)
    assert d.escalation_rule_id == "unknown-state-repeated"
    held = sup.halted("okx", account="a")
    assert held is not None
    assert held.action is Action.ESCALATE
    assert held.lifted_by_success
    assert sup.observe_success("okx", account="a", request_id="r0") == ("okx:a",)
    assert sup.status() == ()


# -------------------------------------------------------- retries exhausted


def test_three_requests_that_use_up_their_retries_halt_the_account(
    sup: Supervisor, clock: Clock
) -> None:
    skewed = error("AUTH.TIMESTAMP")  # retried once after a clock sync: 2 attempts
    decisions = []
    for request in ("r1", "r2", "r3"):
        for _ in range(2):  # the supervisor numbers the attempts of each request
            decisions.append(
                sup.observe(skewed, operation="account", account="a", request_id=request)
            )
            clock.advance(2)
    assert [d.recommendation.attempt for d in decisions] == [1, 2] * 3
    assert [d.recommendation.retries_exhausted for d in decisions] == [False, True] * 3
    assert all(d.escalation_rule_id is None for d in decisions[:5])
    last = decisions[-1]
    assert (last.action, last.scope_key, last.until) == (Action.HALT, "okx:a", 10.0 + 60)
    assert last.escalation_rule_id == "retries-exhausted"


def test_reconciling_queries_that_answer_not_found_never_halt_the_account(
    sup: Supervisor, clock: Clock
) -> None:
    """Issue 27: the status queries a router sends while reconciling, answered "not
    found", counted toward retries-exhausted and halted the account for 60 s (three
    requests of three queries each). Reconciliation is not failure."""
    not_yet_visible = error("NOT_FOUND.ORDER")
    decisions = []
    for request in ("r1", "r2", "r3", "r4"):
        for _ in range(3):
            decisions.append(
                sup.observe(not_yet_visible, operation="query", account="a", request_id=request)
            )
            clock.advance(2)
    assert [d.recommendation.attempt for d in decisions] == [1, 2, 3] * 4
    assert all(d.escalation_rule_id is None for d in decisions)
    assert all(d.scope is Scope.REQUEST for d in decisions)  # each request stops its own queries
    assert sup.halted("okx", account="a") is None
    assert sup.halted("okx", account="a", symbol="BTC-USDT") is None
    # the account still trades: a placement failing for another reason is judged alone
    d = sup.observe(error("UNAVAILABLE.SERVICE"), operation="query", account="a")
    assert d.action is Action.RETRY


RETRIED_OR_NOT = [
    "RATE_LIMIT.REQUESTS",
    "RATE_LIMIT.BLOCKED",
    "AUTH.TIMESTAMP",
    "AUTH.API_KEY",
    "UNKNOWN_STATE.TIMEOUT",
    "UNKNOWN.UNMAPPED",
    "NOT_FOUND.ORDER",
    "INVALID_REQUEST.DUPLICATE",
    "UNAVAILABLE.SERVICE",
    "UNAVAILABLE.MARKET",
]


def test_exhausted_means_the_policy_ran_out_of_retries() -> None:
    """The exhaustion the supervisor counts (``retries_exhausted``) agrees with
    what recommend() says it did."""
    checked = 0
    for label in RETRIED_OR_NOT:
        err = error(label)
        for op in normalizer.Operation:
            for idempotent in (False, True):
                for attempt in range(1, 8):
                    rec = normalizer.recommend(err, op, idempotent, attempt)
                    said = "no more retries" in rec.reason
                    assert rec.retries_exhausted is said, (label, op, idempotent, attempt)
                    checked += said
    assert checked > 50


# ------------------------------------------------------- reconcile, retry


def test_an_unknown_placement_that_two_queries_cannot_find_is_placed_again(
    sup: Supervisor, clock: Clock
) -> None:
    where = {"account": "a", "symbol": "BTC-USDT", "request_id": "r1"}
    d = sup.observe(
        error("UNKNOWN_STATE.TIMEOUT"), operation="place_order", idempotent=True, **where
    )
    assert d.action is d.recommendation.action  # alone: what recommend() says
    assert d.action in (Action.RETRY, Action.QUERY_THEN_RETRY)
    assert (d.replace, d.escalation_rule_id) == (False, None)
    clock.advance(0.3)  # the first NOT_FOUND: retry the QUERY, not the placement
    d = sup.observe(error("NOT_FOUND.ORDER"), operation="query", **where)
    assert (d.action, d.replace, d.escalation_rule_id) == (Action.RETRY, False, None)
    clock.advance(1)  # a second NOT_FOUND, but only 1.3 s after the placement: too soon
    d = sup.observe(error("NOT_FOUND.ORDER"), operation="query", **where)
    assert (d.replace, d.escalation_rule_id) == (False, None)
    clock.advance(4)  # 5.3 s after the placement
    d = sup.observe(error("NOT_FOUND.ORDER"), operation="query", **where)
    assert (d.action, d.scope, d.scope_key) == (Action.RETRY, Scope.REQUEST, "okx:a:BTC-USDT:r1")
    assert d.replace is True
    assert d.escalation_rule_id == "reconcile-then-retry"
    assert d.overridden
    # the sequence is consumed: another NOT_FOUND for r1 is an ordinary one again
    clock.advance(10)
    d = sup.observe(error("NOT_FOUND.ORDER"), operation="query", **where)
    assert d.escalation_rule_id is None
    assert d.replace is False


def test_red_team_the_first_not_found_right_after_a_timeout_never_re_places(
    sup: Supervisor, clock: Clock
) -> None:
    """The red-team case: NOT_FOUND 0.2-0.3 s after a timed-out placement."""
    for n, idempotent in enumerate((True, False)):
        where = {"account": "a", "request_id": f"r{n}"}
        sup.observe(
            error("UNKNOWN_STATE.TIMEOUT"), operation="place_order", idempotent=idempotent, **where
        )
        clock.advance(0.2)
        first = sup.observe(error("NOT_FOUND.ORDER"), operation="query", **where)
        clock.advance(0.1)
        second = sup.observe(error("NOT_FOUND.ORDER"), operation="query", **where)
        assert not first.replace
        assert not second.replace
        assert second.escalation_rule_id is None


def test_a_non_idempotent_placement_is_never_re_placed_unless_the_policy_says_so(
    clock: Clock, engine: None
) -> None:
    def story(sup: Supervisor) -> bool:
        where = {"account": "a", "request_id": "r1"}
        sup.observe(error("UNKNOWN_STATE.TIMEOUT"), operation="place_order", **where)
        replaced = False
        for _ in range(3):
            clock.advance(5)
            d = sup.observe(error("NOT_FOUND.ORDER"), operation="query", **where)
            replaced = replaced or d.replace
        return replaced

    with Supervisor(clock=clock) as bundled:
        assert story(bundled) is False
    risky = normalizer.parse_policy(
        textwrap.dedent(
            """\
            version: 1
            name: risky
            escalations:
              rules:
                - id: reconcile-then-retry
                  why: Our venue rejects duplicates itself, so a lost order may be placed again.
                  sequence:
                    - {category: [UNKNOWN_STATE], operation: [place_order]}
                    - {category: [NOT_FOUND.ORDER], operation: [query]}
                    - {category: [NOT_FOUND.ORDER], operation: [query]}
                  within_s: 600
                  then: {action: RETRY, scope: request, replace: true, even_if_not_idempotent: true}
            """
        )
    )
    with Supervisor(risky, clock=clock) as sup:
        assert story(sup) is True


def test_a_re_placement_waits_seconds_not_milliseconds() -> None:
    text = textwrap.dedent(
        """\
        version: 1
        name: hasty
        escalations:
          rules:
            - id: reconcile-then-retry
              why: A lost order is placed again as soon as possible.
              sequence:
                - {category: [UNKNOWN_STATE], operation: [place_order]}
                - {category: [NOT_FOUND.ORDER], operation: [query]}
              within_s: 600
              min_age_s: 0.25
              then: {action: RETRY, scope: request, replace: true}
        """
    )
    with pytest.raises(PolicyError) as caught:
        normalizer.parse_policy(text)
    assert caught.value.field == "escalations.rules[0].min_age_s"
    assert "seconds, not milliseconds" in str(caught.value)
    rule = normalizer.parse_policy(text.replace("      min_age_s: 0.25\n", "")).escalations.rules[0]
    assert rule.replace_min_age_s == esc.DEFAULT_REPLACE_MIN_AGE_S >= 1


@pytest.mark.parametrize(
    "variation", ["reversed", "other request", "too late", "found after all", "account halted"]
)
def test_reconcile_then_retry_needs_the_whole_sequence(
    sup: Supervisor, clock: Clock, variation: str
) -> None:
    place = (error("UNKNOWN_STATE.TIMEOUT"), "place_order")
    query = (error("NOT_FOUND.ORDER"), "query")
    steps = [place, query, query] if variation != "reversed" else [query, query, place]
    for n, (err, op) in enumerate(steps):
        request = "r2" if (variation == "other request" and n == 2) else "r1"
        if n >= 1:
            clock.advance(601 if variation == "too late" and n == 2 else 3)
            if variation == "found after all" and n == 2:
                sup.observe_success("okx", account="a", request_id="r1")
            if variation == "account halted" and n == 2:
                sup.observe(error("AUTH.API_KEY"), account="a")
        d = sup.observe(err, operation=op, account="a", request_id=request, idempotent=True)
    assert not d.replace
    assert d.escalation_rule_id != "reconcile-then-retry"
    if variation == "account halted":
        assert (d.action, d.scope_key) == (Action.HALT, "okx:a")


# ------------------------------------------------------- per-error halts


def test_a_per_error_halt_with_a_hold_is_held_for_the_scope(sup: Supervisor, clock: Clock) -> None:
    d = sup.observe(
        error("UNAVAILABLE.MARKET"), operation="place_order", account="a", symbol="BTC-USDT"
    )
    assert (d.action, d.scope_key, d.until, d.escalation_rule_id) == (
        Action.HALT,
        "okx:a:BTC-USDT",
        300.0,
        None,
    )
    [halt] = sup.status()
    assert halt.policy_rule_id == "default:market-halted"
    assert halt.escalation_rule_id is None
    clock.advance(100)
    d = sup.observe(error("RATE_LIMIT.REQUESTS"), account="a", symbol="BTC-USDT")
    assert (d.action, d.scope, d.hold_s) == (Action.HALT, Scope.SYMBOL, 200.0)
    assert d.overridden
    other = sup.observe(error("RATE_LIMIT.REQUESTS"), account="a", symbol="ETH-USDT")
    assert other.action is Action.RETRY
    assert not other.overridden


def test_observe_checks_its_arguments(sup: Supervisor) -> None:
    with pytest.raises(TypeError, match="NormalizedError"):
        sup.observe("AUTH")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown operation"):
        sup.observe(error("AUTH"), operation="fly")
    for bad in ("false", 0, 1, None):
        with pytest.raises(SupervisorArgumentError, match="idempotent must be a bool"):
            sup.observe(error("AUTH"), idempotent=bad)  # type: ignore[arg-type]
    for bad_attempt in (0, -1, True, 1.0, "2"):
        with pytest.raises(SupervisorArgumentError, match="attempt must be an int"):
            sup.observe(error("AUTH"), attempt=bad_attempt)  # type: ignore[arg-type]
    with pytest.raises(SupervisorArgumentError, match="account must be a str"):
        sup.observe(error("AUTH"), account=7)  # type: ignore[arg-type]
    with pytest.raises(SupervisorArgumentError, match="exchange"):
        sup.halted("")
    assert issubclass(SupervisorArgumentError, normalizer.NormalizerError)
    assert sup.status() == ()  # nothing was counted


@pytest.mark.parametrize(
    ("make", "match"),
    [
        # a store's table bound read as int(): -1 and True were kept, 1.5 became 1
        (lambda: MemoryStore(max_tracked=-1), "max_tracked must be an int >= 1"),
        (lambda: MemoryStore(max_tracked=True), "max_tracked must be an int >= 1"),
        (lambda: MemoryStore(max_tracked=1.5), "max_tracked must be an int >= 1"),
        (lambda: MemoryStore(max_tracked="10"), "max_tracked must be an int >= 1"),
        # a URL that is not Redis's failed only at the first call (a store error)
        (lambda: RedisStore("localhost:6379"), "url must be a str starting redis://"),
        (lambda: RedisStore("redis://x", socket_timeout=0), "socket_timeout must be > 0"),
        (lambda: RedisStore("redis://x", socket_timeout="1"), "socket_timeout must be a number"),
        (lambda: RedisStore("redis://x", cluster=1), "cluster must be True or False"),
        (lambda: RedisStore("redis://x", max_tracked=0), "max_tracked must be an int >= 1"),
        # read only by a Redis store, but a mistake is refused with any store
        (lambda: Supervisor(lost_grace_s="15m"), "lost_grace_s must be a number"),
        (lambda: Supervisor(lost_grace_s=-1), "lost_grace_s must be >= 0"),
        (lambda: Supervisor(request_memory_s=math.inf), "request_memory_s must be > 0"),
        (lambda: Supervisor(request_memory_s=0), "request_memory_s must be > 0"),
    ],
)
def test_store_settings_are_checked_when_made(make: Any, match: str) -> None:
    """A store's settings are refused when it is made (SupervisorArgumentError,
    a NormalizerError), never read loosely or found out at the first event."""
    pytest.importorskip("redis")
    with pytest.raises(SupervisorArgumentError, match=match):
        make()


def test_a_supervisor_starts_no_background_threads(engine: None) -> None:
    """durable-rules' host polls its rulesets from timer threads; the supervisor's does not."""
    before = threading.active_count()
    supervisors = [Supervisor() for _ in range(5)]
    for s in supervisors:
        s.observe(error("RATE_LIMIT.REQUESTS"), account="a")
    assert threading.active_count() == before
    for s in supervisors:
        s.close()


def test_a_closed_supervisor_refuses_work(engine: None) -> None:
    s = Supervisor()
    s.close()
    s.close()  # twice is fine
    with pytest.raises(SupervisorClosed, match="closed"):
        s.observe(error("AUTH"))
    with pytest.raises(RuntimeError, match="closed"):
        s.status()


# ----------------------------------------------------- policy files


def _policy_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "router.yaml"
    path.write_text("version: 1\nname: router\nextends: none\n" + textwrap.dedent(body))
    return path


RULE = """\
escalations:
  rules:
    - id: storm
      why: Rate limits in a burst mean the venue throttles us.
      when: {category: [RATE_LIMIT]}
"""


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        (
            RULE + "      coutn: 3\n      then: {action: HALT, scope: exchange, hold_s: 5}\n",
            9,
            "escalations.rules[0].coutn",
            "unknown field",
        ),
        (
            RULE + "      count: 3\n      then: {action: HALT, scope: exchange, hold_s: 5}\n",
            6,
            "escalations.rules[0].within_s",
            "needs a time window",
        ),
        (
            RULE + "      then: {action: HALT, scope: exchange}\n",
            9,
            "escalations.rules[0].then.hold_s",
            "how long it holds",
        ),
        (
            RULE + "      then: {action: RETRY, scope: request}\n",
            9,
            "escalations.rules[0].then.action",
            "RETRY is for sequences",
        ),
        (
            RULE + "      then: {action: HALT, scope: galaxy, hold_s: 5}\n",
            9,
            "escalations.rules[0].then.scope",
            "Input should be",
        ),
        (
            RULE.replace("[RATE_LIMIT]", "[RATE_LIMITS]")
            + "      then: {action: HALT, scope: exchange, hold_s: 5}\n",
            8,
            "escalations.rules[0].when.category",
            "not a category",
        ),
        (
            RULE + "      within_s: -1\n      then: {action: HALT, scope: exchange, hold_s: 5}\n",
            9,
            "escalations.rules[0].within_s",
            "greater than 0",
        ),
        (
            "escalations:\n  disable: [venue-rate-limit-storm]\n",
            5,
            "escalations.disable[0]",
            "no inherited escalation rule",
        ),
        (
            "escalations:\n  rules:\n    - id: s\n      why: Two steps of one request in a row.\n"
            "      sequence:\n        - {category: [UNKNOWN_STATE]}\n      within_s: 60\n"
            "      then: {action: RETRY, scope: request}\n",
            8,
            "escalations.rules[0].sequence",
            "at least 2",
        ),
        (
            "escalations:\n  rules:\n    - id: s\n      why: Two steps of one request in a row.\n"
            "      sequence:\n        - {category: [UNKNOWN_STATE]}\n"
            "        - {category: [NOT_FOUND]}\n"
            "      then: {action: RETRY, scope: account}\n",
            11,
            "escalations.rules[0].then.scope",
            "applies to the request",
        ),
    ],
)
def test_a_bad_escalation_section_is_refused_with_file_line_and_field(
    tmp_path: Path, body: str, line: int, field: str, message: str
) -> None:
    path = _policy_file(tmp_path, body)
    with pytest.raises(PolicyError) as caught:
        normalizer.load_policy(path)
    problem = caught.value.problems[0]
    assert (problem.path, problem.line, problem.field) == (str(path), line, field)
    assert message in problem.message
    assert f"{path}:{line}: {field}:" in str(caught.value)


def test_duplicate_escalation_ids_are_refused_at_the_second(tmp_path: Path) -> None:
    rule = RULE.split("  rules:\n")[1] + "      then: {action: HALT, scope: exchange, hold_s: 5}\n"
    path = _policy_file(tmp_path, "escalations:\n  rules:\n" + rule + rule)
    with pytest.raises(PolicyError) as caught:
        normalizer.load_policy(path)
    assert (caught.value.line, caught.value.field) == (10, "escalations.rules[1].id")


def test_a_policy_inherits_replaces_and_disables_escalation_rules() -> None:
    policy = normalizer.parse_policy(
        textwrap.dedent(
            """\
            version: 1
            name: router
            escalations:
              disable: [venue-rate-limit-storm]
              rules:
                - id: auth-halts-account
                  why: Our keys are rotated by a job; an AUTH refusal only needs a short pause.
                  when: {category: [AUTH]}
                  then: {action: HALT, scope: account, hold_s: 30, lifted_by_success: true}
            """
        )
    )
    rules = {r.id: r for r in policy.escalations.rules}
    assert "venue-rate-limit-storm" not in rules
    assert rules["auth-halts-account"].then.hold_s == 30
    assert "reconcile-then-retry" in rules
    assert len(rules) == 6
    assert normalizer.parse_policy("version: 1\nextends: none\n").escalations.rules == ()


# ------------------------------------------------------------ size limits


def _catch_all_rules(n: int) -> str:
    rules = "".join(
        f"    - id: any-{i}\n      why: Every error is worth a look here.\n"
        "      when: {}\n      then: {action: ESCALATE, scope: account}\n"
        for i in range(n)
    )
    return "version: 1\nextends: none\nescalations:\n  rules:\n" + rules


def test_too_many_escalation_rules_are_refused() -> None:
    with pytest.raises(PolicyError) as caught:
        normalizer.parse_policy(_catch_all_rules(esc.MAX_ESCALATION_RULES + 1))
    assert caught.value.field == "escalations.rules"
    assert "at most 64" in caught.value.problems[0].message


def test_the_largest_admissible_policy_answers_every_rule(engine: None) -> None:
    """64 catch-all rules (once more than durable-rules' rulesets could hold) all fire."""
    policy = normalizer.parse_policy(_catch_all_rules(esc.MAX_ESCALATION_RULES))
    with Supervisor(policy) as s:
        d = s.observe(error("AUTH.API_KEY"), account="a")
    assert d.action is Action.ESCALATE
    assert d.escalation_rule_id is not None


def test_an_account_of_65536_characters_is_not_a_short_account(clock: Clock) -> None:
    """Red team: durable-rules compared strings by a 16-bit length."""
    policy = normalizer.parse_policy(
        "version: 1\nextends: none\nescalations:\n  rules:\n"
        "    - id: acct1-watch\n      why: Every error of acct1 is looked at.\n"
        "      when: {account: [acct1]}\n      then: {action: ESCALATE, scope: account}\n"
    )
    with Supervisor(policy, clock=clock) as s:
        long = "acct1" + "x" * 65_536
        assert s.observe(error("AUTH.API_KEY"), account=long).escalation_rule_id is None
        assert s.observe(error("AUTH.API_KEY"), account="acct1").escalation_rule_id == "acct1-watch"


# ---------------------------------------------------- threads and asyncio


NO_AGE = normalizer.parse_policy(
    (REPO / "policies" / "default.yaml")
    .read_text(encoding="utf-8")
    .replace("min_age_s: 5", "min_age_s: 0")
    .replace("replace: true", "replace: false")
)


#: what recommend() answers alone for an idempotent placement whose outcome is unknown
#: (RETRY, or QUERY_THEN_RETRY where the policy does not trust the venue's dedupe)
UNKNOWN_PLACEMENT = normalizer.recommend(
    NormalizedError(
        exchange="okx", category=Category.UNKNOWN_STATE, subcategory="UNKNOWN_STATE.TIMEOUT"
    ),
    operation="place_order",
    idempotent=True,
).action


def _account_script(s: Supervisor, account: str, rounds: int) -> list[str]:
    """Drive one account through a fixed story; returns what went wrong."""
    wrong = []
    for k in range(rounds):
        placed = f"{account}-{k}"
        steps = [
            (s.observe, error("UNKNOWN_STATE.TIMEOUT"), "place_order", placed),
            (s.observe, error("NOT_FOUND.ORDER"), "query", placed),
            (s.observe, error("NOT_FOUND.ORDER"), "query", placed),
            (s.observe, error("AUTH.API_KEY"), "place_order", None),
            (s.observe, error("UNKNOWN_STATE.TIMEOUT"), "place_order", f"{placed}-b"),
        ]
        expected = [
            (UNKNOWN_PLACEMENT, None),
            (Action.RETRY, None),
            (Action.RETRY, "reconcile-then-retry"),
            (Action.ESCALATE, "auth-halts-account"),
            (Action.HALT, "auth-halts-account"),
        ]
        for (observe, err, op, request), want in zip(steps, expected, strict=True):
            d = observe(err, operation=op, account=account, request_id=request, idempotent=True)
            if (d.action, d.escalation_rule_id) != want:
                wrong.append(f"{account} round {k} {err.label}: {d.action} {d.escalation_rule_id}")
        if s.observe_success("okx", account=account) != (f"okx:{account}",):
            wrong.append(f"{account} round {k}: the success did not lift the halt")
    return wrong


def test_observe_from_eight_threads_at_once_gives_every_decision_right(engine: None) -> None:
    s = Supervisor(policy=NO_AGE, clock=lambda: 1000.0)
    rounds = 150
    wrong: list[str] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        barrier.wait()
        wrong.extend(_account_script(s, f"t{n}", rounds))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert wrong == []
    assert s.status() == ()
    s.close()


def test_observe_from_asyncio_tasks_and_worker_threads(engine: None) -> None:
    s = Supervisor(policy=NO_AGE, clock=lambda: 5.0)

    async def task(n: int) -> list[str]:
        if n % 2:
            return await asyncio.to_thread(_account_script, s, f"w{n}", 20)
        await asyncio.sleep(0)
        return _account_script(s, f"c{n}", 20)

    async def main() -> list[list[str]]:
        return await asyncio.gather(*(task(n) for n in range(8)))

    assert asyncio.run(main()) == [[]] * 8
    s.close()


# ------------------------------------------------ without durable-rules


def test_without_durable_rules_the_python_correlator_runs_the_sequences(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 22: on Python 3.13 durable-rules does not import and Supervisor() raised
    SupervisorUnavailable; now the pure-Python correlator takes over, same decisions."""
    monkeypatch.setattr(_sequences, "_hosts", {})
    monkeypatch.delenv("NORMALIZER_SEQUENCE_ENGINE", raising=False)
    monkeypatch.setitem(sys.modules, "durable", None)  # import durable -> ImportError
    monkeypatch.setitem(sys.modules, "durable.engine", None)
    clock = Clock()
    with Supervisor(clock=clock) as s:
        assert s._sequences.engine == "python"
        placed = error("UNKNOWN_STATE.TIMEOUT")
        s.observe(placed, operation="place_order", request_id="r", idempotent=True)
        clock.advance(6)
        s.observe(error("NOT_FOUND.ORDER"), operation="query", request_id="r", idempotent=True)
        d = s.observe(error("NOT_FOUND.ORDER"), operation="query", request_id="r", idempotent=True)
        assert (d.action, d.replace, d.escalation_rule_id) == (
            Action.RETRY,
            True,
            "reconcile-then-retry",
        )


def test_asking_for_durable_rules_where_it_cannot_import_says_how_to_do_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 26: the message said "use a policy without sequences" but not how."""
    monkeypatch.setattr(_sequences, "_hosts", {})
    monkeypatch.setitem(sys.modules, "durable", None)
    monkeypatch.setitem(sys.modules, "durable.engine", None)
    with pytest.raises(SupervisorUnavailable) as caught:
        Supervisor(sequence_engine="durable-rules")
    message = str(caught.value)
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in message
    assert "NORMALIZER_SEQUENCE_ENGINE" in message
    assert "delete each rule that has a 'sequence:' key" in message
    assert "Supervisor(policy='that-file.yaml')" in message
    err = normalizer.normalize("okx", code="58102", http_status=429)
    assert normalizer.recommend(err, operation="transfer").action is Action.RETRY
    with pytest.raises(SupervisorUnavailable, match="auto, python or durable-rules"):
        Supervisor(sequence_engine="drools")


# ----------------------------------------------------------------- memory


def test_memory_stays_flat_over_a_long_stream() -> None:
    result = subprocess.run(  # noqa: S603 - this interpreter, the repository's bench script
        [
            sys.executable,
            str(REPO / "bench" / "supervisor_memory.py"),
            "--events=50000",
            "--warmup=15000",
            "--every=5000",
            "--max-growth-mb=4",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    grew = re.search(r"rss grew ([-+0-9.]+) MB", result.stdout)
    assert grew is not None, result.stdout
    assert float(grew.group(1)) < 4


# ------------------------------------------------------------------- docs


def test_the_router_loop_in_the_docs_runs(engine: None, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's router loop runs and prints what the README says it does."""
    blocks = [
        block
        for block in re.findall(
            r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S
        )
        if "Supervisor(" in block and "store=" not in block
    ]
    assert blocks
    for block in blocks:
        exec(compile(block, "supervisor example", "exec"), {})  # noqa: S102
        out = capsys.readouterr().out
        assert "ord-4: HALT okx until 34.0 (venue-rate-limit-storm)" in out
        assert "ord-5: not sent, okx halted until 34" in out


def test_the_supervisors_own_decisions_equal_checked_ones() -> None:
    """The supervisor builds its decisions without re-checking what it holds
    valid; the record is the one ``Decision(...)`` builds, and a time from a
    broken clock is still refused."""
    from normalizer import InvalidResultError
    from normalizer.supervisor import Decision
    from normalizer.supervisor._types import Keys, trusted_decision

    err = normalizer.normalize("okx", body='{"code":"58102","msg":"Rate limit reached."}')
    rec = normalizer.recommend(err, operation="transfer")
    fields = {
        "action": rec.action,
        "scope": rec.scope,
        "scope_key": Keys("okx", None, None, None).of(rec.scope),
        "reason": rec.reason,
        "recommendation": rec,
        "at": 100.0,
        "hold_s": 5.0,
        "until": 105.0,
        "delay_s": rec.delay_s,
        "precondition": rec.precondition,
        "event_id": "e1",
    }
    fast = trusted_decision(**fields)
    assert fast == Decision(**fields)
    assert type(fast) is Decision
    assert Decision.from_json(fast.to_json()) == fast
    with pytest.raises(InvalidResultError):
        trusted_decision(**{**fields, "at": float("nan")})


def test_may_replace_needs_a_second_not_found_and_the_minimum_age() -> None:
    """Issue 27: the safe re-place rule a wrapper asks before placing an unconfirmed
    order again: two "not found" answers, the last >= min_age_s (5 s) after the send."""
    with Supervisor() as s:
        assert s.may_replace(sent_at=100.0, not_found_at=[100.4], now=106.0) is False  # one
        assert s.may_replace(sent_at=100.0, not_found_at=[100.4, 101.0], now=106.0) is False
        assert s.may_replace(sent_at=100.0, not_found_at=[100.4, 105.0], now=106.0) is True
        assert s.may_replace(sent_at=100.0, not_found_at=[105.0, 100.4], now=106.0) is True
        # an answer from before the send, or after "now", is not evidence
        assert s.may_replace(sent_at=100.0, not_found_at=[99.0, 105.0], now=106.0) is False
        assert s.may_replace(sent_at=100.0, not_found_at=[100.4, 107.0], now=106.0) is False
        # past the sequence's window (600 s) the answers are stale
        assert s.may_replace(sent_at=0.0, not_found_at=[700.0, 705.0], now=706.0) is False
        for bad in ({"sent_at": float("nan")}, {"not_found_at": "12"}, {"not_found_at": [None]}):
            kw: dict[str, object] = {"sent_at": 1.0, "not_found_at": [2.0], "now": 3.0, **bad}
            with pytest.raises(SupervisorArgumentError):
                s.may_replace(**kw)  # type: ignore[arg-type]
