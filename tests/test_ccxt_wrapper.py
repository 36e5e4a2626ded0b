"""``normalizer.ccxt.wrap``: real ccxt clients (sync and async) against a misbehaving
venue on 127.0.0.1 (``fake_venue.py``), and the chaos run (``chaos.py``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import normalizer
import normalizer.ccxt as nc
from normalizer import Action

ccxt = pytest.importorskip("ccxt")

from chaos import run  # noqa: E402 - after the importorskip: it imports ccxt
from fake_venue import FakeVenue, VirtualClock, point  # noqa: E402

FLAVOURS = ("binance", "okx", "bybit")


def _venue(flavour: str, faults: dict[int, str], **kw: Any) -> tuple[FakeVenue, VirtualClock]:
    clock = VirtualClock()
    venue = FakeVenue(flavour, clock, faults=lambda n: faults.get(n), **kw).start()
    return venue, clock


def _sync(flavour: str, venue: FakeVenue, timeout_ms: int = 150) -> Any:
    client = getattr(ccxt, flavour)(
        {"apiKey": "k", "secret": "czNjcmV0", "password": "p", "timeout": timeout_ms}
    )
    return point(client, venue)


# ------------------------------------------------------------ the chaos run


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_every_intent_ends_with_one_order_or_a_settling_exception_and_none_is_duplicated(
    flavour: str, mode: str
) -> None:
    """Invariant (the chaos run): over hundreds of intended orders, about a quarter of
    their placements faulted (answers lost after acceptance, 502/503 pages after
    acceptance, 429 and 418 refusals, late visibility), every intent ends with exactly
    one order on the venue, or with ``RequestRejected``/``SendRefused`` and no order,
    or with ``OutcomeUnknown`` naming the client order id of the at most one order;
    no order is duplicated, and no request reaches the venue inside a wait it asked for."""
    report = run(flavour, mode, 350, seed=11)
    assert report.faults >= 60  # the venue really misbehaved
    assert report.lost == []
    assert report.duplicates == 0
    assert report.early == 0
    assert report.placed_once + report.settled_not_placed + report.to_reconcile == 350
    assert report.placed_once >= 300


def test_the_naive_retry_loop_duplicates_orders_on_the_same_faults() -> None:
    """The comparison the README quotes: retrying every ccxt NetworkError up to three
    times, on the same fault schedule, places some intents twice."""
    naive = run("okx", "sync", 150, seed=11, naive=True)
    ours = run("okx", "sync", 150, seed=11)
    assert naive.duplicates > 0
    assert ours.duplicates == 0


# ------------------------------------------------------------ one behaviour each


def test_a_lost_answer_is_reconciled_by_client_order_id_not_resent() -> None:
    venue, clock = _venue("binance", {0: "lost"})
    try:
        wrapped = nc.wrap(_sync("binance", venue), clock=clock, sleep=clock.sleep)
        order = wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)
        assert len(venue.orders) == 1
        assert order["clientOrderId"] == venue.orders[0].client_order_id
        assert venue.placements == 1  # found by the query: never placed again
    finally:
        venue.stop()


def test_the_callers_client_order_id_is_kept_and_one_is_made_otherwise() -> None:
    venue, clock = _venue("okx", {})
    try:
        wrapped = nc.wrap(_sync("okx", venue), clock=clock, sleep=clock.sleep)
        mine = wrapped.create_order(
            "BTC/USDT", "limit", "buy", 0.01, 30000.0, {"clientOrderId": "desk42x"}
        )
        made = wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30001.0)
        assert mine["clientOrderId"] == "desk42x" == venue.orders[0].client_order_id
        assert made["clientOrderId"] == venue.orders[1].client_order_id
        assert len(made["clientOrderId"]) == 32
        assert made["clientOrderId"].isalnum()
    finally:
        venue.stop()


def test_an_order_absent_after_two_not_founds_past_the_minimum_age_is_placed_again() -> None:
    """The accepted order never shows (visibility beyond the run): the wrapper asks twice,
    waits out the minimum age, then places it again with the same client order id."""
    venue, clock = _venue("binance", {0: "lost"}, visibility_s=10_000.0)
    try:
        start = clock()
        wrapped = nc.wrap(
            _sync("binance", venue), clock=clock, sleep=clock.sleep, replace_after_s=5.0
        )
        order = wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)
        assert venue.placements == 2
        assert clock() - start >= 5.0
        assert {o.client_order_id for o in venue.orders} == {order["clientOrderId"]}
    finally:
        venue.stop()


def test_a_429_is_waited_out_before_anything_else_is_sent() -> None:
    venue, clock = _venue("okx", {0: "limit429"}, wait_s=3)
    try:
        wrapped = nc.wrap(_sync("okx", venue), clock=clock, sleep=clock.sleep)
        start = clock()
        wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)
        assert clock() - start >= 3.0
        assert venue.early == 0
        assert len(venue.orders) == 1
    finally:
        venue.stop()


def test_an_ip_ban_is_honoured_by_every_later_call() -> None:
    """A 418 ban: the call ends (RequestRejected, nothing placed) or waits it out; either
    way no later request reaches the venue before the ban ends."""
    venue, clock = _venue("binance", {0: "ban418"}, wait_s=30)
    try:
        wrapped = nc.wrap(_sync("binance", venue), clock=clock, sleep=clock.sleep)
        start = clock()
        outcome: Any
        try:
            outcome = wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)
        except nc.RequestRejected as exc:
            outcome = exc
        if isinstance(outcome, nc.RequestRejected):
            assert isinstance(outcome, normalizer.NormalizerError)
            assert outcome.error.category is normalizer.Category.RATE_LIMIT
            assert not venue.orders
            wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30001.0)
        assert clock() - start >= 30.0
        assert len(venue.orders) == 1
        assert venue.early == 0
    finally:
        venue.stop()


def test_each_decision_is_one_structured_log_record(caplog: pytest.LogCaptureFixture) -> None:
    venue, clock = _venue("okx", {0: "limit429"})
    try:
        wrapped = nc.wrap(_sync("okx", venue), clock=clock, sleep=clock.sleep)
        with caplog.at_level(logging.INFO, logger="normalizer.ccxt"):
            wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)
        events = [r.normalizer["event"] for r in caplog.records]  # type: ignore[attr-defined]
        assert events[0] == "failed"
        assert "sent" in events
        failed = caplog.records[0].normalizer  # type: ignore[attr-defined]
        assert failed["category"] == "RATE_LIMIT"
        assert failed["action"] == "RETRY"
        assert failed["delay_s"] >= 2.0
        assert failed["client_order_id"]
    finally:
        venue.stop()


def test_async_clients_get_the_same_flow() -> None:
    import ccxt.async_support as accxt

    venue, clock = _venue("bybit", {0: "lost", 1: "limit429"})

    async def main() -> Any:
        client = point(accxt.bybit({"apiKey": "k", "secret": "czNjcmV0", "timeout": 150}), venue)
        wrapped = nc.wrap(client, clock=clock, sleep=clock.asleep)
        assert isinstance(wrapped, nc.AsyncExchange)
        try:
            first = await wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)
            second = await wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30001.0)
            return first, second
        finally:
            await wrapped.close()

    try:
        first, second = asyncio.run(main())
        assert [o.client_order_id for o in venue.orders] == [
            first["clientOrderId"],
            second["clientOrderId"],
        ]
        assert venue.early == 0
    finally:
        venue.stop()


class _HaltedAccount:
    """A supervisor's halt of one account (the real Supervisor's Halt record)."""

    def __init__(self, scope: normalizer.Scope) -> None:
        from normalizer.supervisor import Halt

        key = "okx" if scope is normalizer.Scope.EXCHANGE else "okx:acct1"
        self.halt = Halt(
            scope=scope,
            scope_key=key,
            action=Action.HALT,
            since=0.0,
            until=60.0,
            reason="test halt",
            escalation_rule_id="auth-halts-account",
            policy_rule_id=None,
            lifted_by_success=False,
        )

    def halted(self, **_: Any) -> Any:
        return self.halt


@pytest.mark.parametrize("while_halted", ["refuse", "allow_exits"])
def test_a_halted_scope_refuses_entries_and_lets_exits_through_only_when_asked(
    while_halted: str,
) -> None:
    venue, clock = _venue("okx", {})
    sup = _HaltedAccount(normalizer.Scope.ACCOUNT)
    try:
        wrapped = nc.wrap(
            _sync("okx", venue), supervisor=sup, account="acct1", while_halted=while_halted,
            clock=clock, sleep=clock.sleep,
        )  # fmt: skip
        with pytest.raises(nc.SendRefused) as refused:
            wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)
        assert refused.value.decision is sup.halt
        reduce = {"reduceOnly": True}
        if while_halted == "refuse":
            with pytest.raises(nc.SendRefused):
                wrapped.create_order("BTC/USDT", "limit", "sell", 0.01, 30001.0, reduce)
            assert venue.requests == 0
        else:
            wrapped.create_order("BTC/USDT", "limit", "sell", 0.01, 30001.0, reduce)
            assert [o.price for o in venue.orders] == ["30001"]
    finally:
        venue.stop()


def test_a_venue_wide_halt_refuses_exits_too() -> None:
    venue, clock = _venue("okx", {})
    sup = _HaltedAccount(normalizer.Scope.EXCHANGE)
    try:
        wrapped = nc.wrap(
            _sync("okx", venue), supervisor=sup, while_halted="allow_exits",
            clock=clock, sleep=clock.sleep,
        )  # fmt: skip
        with pytest.raises(nc.SendRefused):
            wrapped.create_order("BTC/USDT", "limit", "sell", 0.01, 1.0, {"reduceOnly": True})
        assert venue.requests == 0
    finally:
        venue.stop()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"while_halted": "sometimes"}, normalizer.ArgumentValueError),
        ({"replace_after_s": -1}, normalizer.ArgumentValueError),
        ({"replace_after_s": float("nan")}, normalizer.ArgumentValueError),
        ({"poll_s": float("inf")}, normalizer.ArgumentValueError),
        ({"poll_s": "1"}, normalizer.ArgumentTypeError),
        ({"confirmations": 0}, normalizer.ArgumentValueError),
        # counts are whole numbers read as attempt= is everywhere: a bool or a
        # float is the wrong type (1.5 was read as 1, inf raised OverflowError)
        ({"max_attempts": True}, normalizer.ArgumentTypeError),
        ({"confirmations": 1.5}, normalizer.ArgumentTypeError),
        ({"max_queries": float("inf")}, normalizer.ArgumentTypeError),
        ({"venue": float("inf")}, normalizer.ArgumentTypeError),  # was AttributeError
        ({"account": ["a"]}, normalizer.ArgumentTypeError),
        ({"logger": "normalizer"}, normalizer.ArgumentTypeError),
        ({"clock": 0.0}, normalizer.ArgumentTypeError),
        ({"sleep": "later"}, normalizer.ArgumentTypeError),
        # a policy is read when wrapped: a mistake never waits for the first failure
        ({"policy": "no-such-policy.yaml"}, normalizer.PolicyError),
        ({"policy": {"rules": []}}, normalizer.ArgumentTypeError),
    ],
)
def test_caller_mistakes_are_normalizer_errors(kwargs: dict[str, Any], error: type) -> None:
    """Every argument of wrap() is checked when wrapping, so a mistake is a
    NormalizerError at once, never an error on the first failed order."""
    client = ccxt.okx()
    with pytest.raises(error):
        nc.wrap(client, **kwargs)
    with pytest.raises(normalizer.ArgumentTypeError):
        nc.wrap(object())


# ------------------------------------------------------------ with a real Supervisor


def test_with_a_supervisor_the_re_place_follows_its_policys_rule() -> None:
    """The accepted order never shows: the wrapper re-places only when the supervisor's
    ``may_replace`` (the bundled re-placing sequence: two not-founds, the last at least
    5 s after the send) allows it, with the same client order id."""
    venue, clock = _venue("okx", {0: "lost"}, visibility_s=10_000.0)
    sup = normalizer.Supervisor()
    try:
        start = clock()
        wrapped = nc.wrap(_sync("okx", venue), supervisor=sup, clock=clock, sleep=clock.sleep)
        order = wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)
        assert venue.placements == 2
        assert clock() - start >= 5.0
        assert {o.client_order_id for o in venue.orders} == {order["clientOrderId"]}
    finally:
        sup.close()
        venue.stop()


def test_a_supervisor_halt_of_the_venue_refuses_every_send_before_it_leaves() -> None:
    """Five rate limits from the fleet halt the venue (``venue-rate-limit-storm``): the
    proxy then refuses a create_order and a cancel alike, and nothing reaches the venue."""
    venue, clock = _venue("okx", {})
    sup = normalizer.Supervisor()
    try:
        err = normalizer.normalize(
            "okx", body={"code": "50011", "msg": "Rate limit reached"}, http_status=429
        )
        for n in range(5):
            sup.observe(err, operation="place_order", account=f"acct{n}")
        wrapped = nc.wrap(
            _sync("okx", venue), supervisor=sup, while_halted="allow_exits",
            clock=clock, sleep=clock.sleep,
        )  # fmt: skip
        with pytest.raises(nc.SendRefused) as refused:
            wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)
        assert refused.value.decision.scope is normalizer.Scope.EXCHANGE
        with pytest.raises(nc.SendRefused):
            wrapped.cancel_order("1001", "BTC/USDT")
        assert venue.requests == 0
    finally:
        sup.close()
        venue.stop()
