"""``normalizer.ccxt.wrap``: the guards against a second order and against sends into a
wait, each against a real ccxt client and a venue on 127.0.0.1 that misbehaves in one
more way (``fake_venue_faults.py``). Each test failed on the wrapper before its guard."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import pytest

import normalizer
import normalizer.ccxt as nc
from normalizer import Action

ccxt = pytest.importorskip("ccxt")

from fake_venue import VirtualClock  # noqa: E402
from fake_venue_faults import AlgoVenue, async_client, sync_client, venue  # noqa: E402

from normalizer.integrations.ccxt._flow import Gate  # noqa: E402


def _place(proxy: Any, price: float = 30000.0, params: dict[str, Any] | None = None) -> Any:
    try:
        return proxy.create_order("BTC/USDT", "limit", "buy", 0.01, price, params or {})
    except nc.ActionRequired as exc:
        return exc


async def _place_async(v: Any, clock: Any) -> Any:
    """``_place`` through an async OKX client, closed afterwards."""
    w = nc.wrap(async_client("okx", v), clock=clock, sleep=clock.asleep)
    try:
        return await w.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)
    except nc.ActionRequired as exc:
        return exc
    finally:
        await w.close()


def _halt(key: str, until: float = 1e12) -> Any:
    from normalizer.supervisor import Halt

    return Halt(
        scope=normalizer.Scope.EXCHANGE,
        scope_key=key,
        action=Action.HALT,
        since=0.0,
        until=until,
        reason="a halt of the fleet",
        policy_rule_id="store-unreachable",
    )


# ----------------------------------------------- (a) never a second order


@pytest.mark.parametrize("flavour", ["okx", "binance"])
@pytest.mark.parametrize(
    "page",
    [(404, "<html><body>404 Not Found</body></html>"), (404, '{"code":404,"msg":"Not Found"}')],
    ids=["html", "json"],
)
def test_a_gateways_404_while_reconciling_is_not_the_venue_saying_no_such_order(
    flavour: str, page: tuple[int, str]
) -> None:
    """Only the venue's own "no such order" confirms an absence: status queries answered
    by a gateway's 404 page (a redeploy) leave the lost placement unknown, never placed
    again."""
    v, clock = venue(flavour, {0: "lost"})
    v.query_pages = [page] * 12
    try:
        out = _place(nc.wrap(sync_client(flavour, v), clock=clock, sleep=clock.sleep))
        assert v.duplicates() == 0
        assert isinstance(out, nc.OutcomeUnknown), out
        assert out.client_order_id == v.orders[0].client_order_id
    finally:
        v.stop()


@pytest.mark.parametrize("faults", [{0: "limit429", 1: "lost"}, {0: "dropped", 1: "lost"}])
def test_a_an_order_is_aged_from_the_send_that_may_have_landed_not_from_the_first(
    faults: dict[int, str],
) -> None:
    """The re-place rule's minimum age counts from the latest send: a placement that
    waited out a 429 (or was placed again once) and then lost its answer is not placed
    again before it had time to show in queries (4.5 s here, under the 5 s rule)."""
    v, clock = venue("okx", faults, wait_s=10, visibility_s=4.5)
    try:
        out = _place(nc.wrap(sync_client("okx", v), clock=clock, sleep=clock.sleep))
        assert v.duplicates() == 0
        assert isinstance(out, dict)
        assert out["clientOrderId"] == v.orders[0].client_order_id
    finally:
        v.stop()


def test_a_async_an_order_is_aged_from_the_send_that_may_have_landed() -> None:
    """The same rule, awaited: 429, then an accepted order whose answer is lost."""
    v, clock = venue("okx", {0: "limit429", 1: "lost"}, wait_s=10, visibility_s=4.5)

    try:
        out = asyncio.run(_place_async(v, clock))
        assert v.duplicates() == 0
        assert isinstance(out, dict), out
    finally:
        v.stop()


@pytest.mark.parametrize(
    ("flavour", "key"),
    [("okx", "clOrdId"), ("binance", "newClientOrderId"), ("bybit", "orderLinkId")],
)
def test_a_a_client_id_under_the_venues_own_key_is_the_one_reconciled(
    flavour: str, key: str
) -> None:
    """ccxt sends an id given under the venue's own key (OKX ``clOrdId``...) before
    ``clientOrderId``: the wrapper reconciles by that id, so a lost answer finds the order."""
    v, clock = venue(flavour, {0: "lost"}, visibility_s=0.4)
    try:
        out = _place(
            nc.wrap(sync_client(flavour, v), clock=clock, sleep=clock.sleep),
            params={key: "desk42abc"},
        )
        assert v.duplicates() == 0
        assert [o.client_order_id for o in v.orders] == ["desk42abc"]
        assert isinstance(out, dict), out
    finally:
        v.stop()


@pytest.mark.parametrize("status", ["Cancelled", "PartiallyFilledCanceled"])
def test_a_an_order_that_ended_cancelled_is_found_not_placed_again(status: str) -> None:
    """An accepted order that is no longer open and did not fill (an IOC partly filled
    then cancelled) exists: the scan reads the cancelled orders too (ccxt's Bybit lists
    only filled ones as closed), so it is found, not placed again."""
    v, clock = venue("bybit", {0: "lost"}, bybit_status=status)
    try:
        out = _place(
            nc.wrap(sync_client("bybit", v), clock=clock, sleep=clock.sleep),
            params={"timeInForce": "IOC"},
        )
        assert v.duplicates() == 0
        assert isinstance(out, dict), out
        assert out["clientOrderId"] == v.orders[0].client_order_id
    finally:
        v.stop()


def test_a_a_conditional_order_is_looked_up_in_the_book_it_was_placed_in() -> None:
    """ccxt places an OKX trigger order in the venue's book of conditional orders; a
    lost answer is looked up there (ccxt's ``trigger=True``), so it is found, not
    placed again."""
    clock = VirtualClock()
    v = AlgoVenue("okx", clock, faults=lambda n: {0: "lost"}.get(n)).start()
    v.algo = []
    try:
        out = _place(
            nc.wrap(sync_client("okx", v), clock=clock, sleep=clock.sleep),
            params={"triggerPrice": 29500.0},
        )
        assert len(v.algo) == 1
        assert isinstance(out, dict), out
    finally:
        v.stop()


def test_a_two_different_client_ids_in_one_call_are_a_caller_mistake() -> None:
    """``clientOrderId`` and the venue's own key naming two ids: refused before sending."""
    v, clock = venue("okx", {})
    try:
        w = nc.wrap(sync_client("okx", v), clock=clock, sleep=clock.sleep)
        with pytest.raises(normalizer.ArgumentValueError, match="one client order id"):
            w.create_order(
                "BTC/USDT", "limit", "buy", 0.01, 1.0, {"clOrdId": "a", "clientOrderId": "b"}
            )
        assert v.requests == 0
    finally:
        v.stop()


def test_a_gate_and_coinbase_ids_are_sent_as_ccxt_sends_them() -> None:
    """Gate's ccxt puts ``t-`` before an id that does not start with ``t``, and the
    wrapper looks that id up; Coinbase's ccxt makes its own id unless one is given as
    ``client_order_id``, so the wrapper gives it there."""
    from normalizer.integrations.ccxt._proxy import _Proxy

    for venue_id, params, key, sent in (
        ("gate", {"clientOrderId": "desk42"}, "clientOrderId", "t-desk42"),
        ("gate", {"text": "t-mine"}, "text", "t-mine"),
        ("coinbase", {}, "client_order_id", None),
    ):
        proxy = nc.wrap(getattr(ccxt, venue_id)())
        assert isinstance(proxy, _Proxy)
        call = proxy._order_call(("BTC/USDT", "limit", "buy", 1, 1.0), {"params": params})
        assert call.kwargs["params"][key] == call.client_order_id
        if sent is not None:
            assert call.client_order_id == sent


# --------------------------------- (c) the caller can tell whether an order exists


@pytest.mark.parametrize("flavour", ["okx", "binance"])
def test_c_a_second_placement_refused_as_a_duplicate_id_ends_as_unknown(flavour: str) -> None:
    """Once an order was placed again, its refusal (a duplicate client id: the first
    order exists after all) ends the call as ``OutcomeUnknown``, never as settled."""
    v, clock = venue(flavour, {0: "lost"}, visibility_s=6.0, reject_dup=True)
    try:
        out = _place(nc.wrap(sync_client(flavour, v), clock=clock, sleep=clock.sleep))
        assert len(v.orders) == 1
        assert isinstance(out, nc.OutcomeUnknown | dict), out
        if isinstance(out, nc.OutcomeUnknown):
            assert out.client_order_id == v.orders[0].client_order_id
    finally:
        v.stop()


class _HaltsAfterTheFirstSend:
    """The real supervisor's judgement, and a venue halt of the fleet that begins right
    after the first send (another process, or the store becoming unreachable)."""

    def __init__(self) -> None:
        self.real = normalizer.Supervisor()
        self.asked = 0

    def halted(self, **_: Any) -> Any:
        self.asked += 1
        return None if self.asked == 1 else _halt("okx")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_c_a_halt_that_begins_while_reconciling_ends_as_unknown_not_as_not_sent() -> None:
    """``SendRefused`` means "not sent": a placement whose answer was lost was sent, so a
    halt met while reconciling it ends the call as ``OutcomeUnknown`` with the halt."""
    v, clock = venue("okx", {0: "lost"})
    sup = _HaltsAfterTheFirstSend()
    try:
        out = _place(nc.wrap(sync_client("okx", v), supervisor=sup, clock=clock, sleep=clock.sleep))
        assert len(v.orders) == 1
        assert isinstance(out, nc.OutcomeUnknown), out
        assert out.decision is not None
        assert out.decision.scope_key == "okx"
    finally:
        sup.real.close()
        v.stop()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "fault",
    [
        "accept:524:<html><head><title>524: A timeout occurred</title></head></html>",
        "accept:200:<html><body>OK</body></html>",
    ],
    ids=["cloudflare-524", "200-not-json"],
)
def test_c_an_answer_without_the_order_is_reconciled_not_taken_as_placed_or_rejected(
    mode: str, fault: str
) -> None:
    """The order was accepted, then the answer carried no order (a 524 page, a 200 that
    is not the venue's JSON): the call reconciles and returns the order found."""
    v, clock = venue("okx", {0: fault})

    try:
        if mode == "async":
            out = asyncio.run(_place_async(v, clock))
        else:
            out = _place(nc.wrap(sync_client("okx", v), clock=clock, sleep=clock.sleep))
        assert len(v.orders) == 1
        assert v.placements == 1
        assert isinstance(out, dict), out
        assert out["clientOrderId"] == v.orders[0].client_order_id
    finally:
        v.stop()


def test_c_a_status_page_that_is_not_an_order_is_not_the_order_found() -> None:
    """A status query answered by a 200 maintenance page (no order in it) is a failed
    query, not the order: the placement (not accepted) is neither returned as placed
    nor placed again; the call ends as ``OutcomeUnknown`` with the id to reconcile."""
    v, clock = venue("okx", {0: "dropped"})
    v.query_pages = [(200, "<html><body>Service under maintenance</body></html>")]
    try:
        out = _place(nc.wrap(sync_client("okx", v), clock=clock, sleep=clock.sleep))
        assert v.orders == []
        assert isinstance(out, nc.OutcomeUnknown), out
        assert "status query failed" in str(out)
    finally:
        v.stop()


# --------------------------------------------- (b) no send into a wait


def test_b_ccxts_other_spellings_go_through_the_gate_or_are_refused() -> None:
    """``createOrder`` and ``fetchOrder`` take the wrapped path (no send inside a ban);
    ``create_limit_buy_order`` and ``create_orders`` would leave unguarded, so they are
    refused with an ``ArgumentValueError`` naming the way to bypass on purpose."""
    v, clock = venue("binance", {0: "ban418"}, wait_s=30)
    try:
        w = nc.wrap(sync_client("binance", v), clock=clock, sleep=clock.sleep, max_attempts=1)
        assert isinstance(_place(w), nc.ActionRequired)
        start = clock()
        w.createOrder("BTC/USDT", "limit", "buy", 0.01, 30001.0)
        assert clock() - start >= 29  # waited the ban out
        assert v.early == 0
        for name in ("create_limit_buy_order", "createOrders", "cancel_orders"):
            with pytest.raises(normalizer.ArgumentValueError, match=r"proxy\.exchange\."):
                getattr(w, name)
        assert callable(w.fetchOrder)
        assert w.fetchOrder.__name__ == "fetchOrder"
    finally:
        v.stop()


def test_b_every_proxy_of_one_client_waits_out_the_venues_ban() -> None:
    """The quiet a venue asked for is kept per exchange client: a second proxy of the
    same client (a reader beside the router) does not send inside the first one's ban."""
    v, clock = venue("binance", {0: "ban418"}, wait_s=30)
    try:
        client = sync_client("binance", v)
        router = nc.wrap(client, clock=clock, sleep=clock.sleep, max_attempts=1)
        reader = nc.wrap(client, clock=clock, sleep=clock.sleep)
        assert isinstance(_place(router), nc.ActionRequired)
        start = clock()
        with contextlib.suppress(nc.ActionRequired):
            reader.fetch_order("1000", "BTC/USDT")
        assert clock() - start >= 29
        assert v.early == 0
    finally:
        v.stop()


def test_b_a_wait_is_only_ever_made_longer_whatever_threads_race() -> None:
    """``Gate.hold_until`` keeps the latest end of every wait asked for: threads that
    record a 35 s ban and 1 s waits in any order leave the ban in force."""
    for _ in range(20):
        gate = Gate()
        ends = [1.0] * 50 + [35.0] + [1.0] * 50
        threads = [threading.Thread(target=gate.hold_until, args=(end,)) for end in ends]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert gate.quiet_until == 35.0
    gate = Gate()
    gate.hold_until(10.0)
    gate.hold_until(2.0)
    assert gate.quiet_until == 10.0


class _ObserveFails:
    """The real supervisor, whose ``observe`` fails (a store down under
    ``on_store_error="raise"``, a supervisor closed at shutdown)."""

    def __init__(self, exc: Exception) -> None:
        self.real = normalizer.Supervisor()
        self.exc = exc

    def observe(self, **_: Any) -> Any:
        raise self.exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize(
    "exc",
    [
        normalizer.SupervisorUnavailable("redis://10.0.0.5:6379: Connection refused"),
        RuntimeError("the supervisor was closed"),
    ],
    ids=["store", "closed"],
)
def test_c_a_supervisor_failing_after_a_lost_answer_ends_as_unknown_with_the_id(
    exc: Exception,
) -> None:
    """Whatever the supervisor raises while a sent placement is judged, the caller gets
    ``OutcomeUnknown`` with the client order id, the supervisor's error as its cause."""
    v, clock = venue("okx", {0: "lost"})
    sup = _ObserveFails(exc)
    try:
        out = _place(nc.wrap(sync_client("okx", v), supervisor=sup, clock=clock, sleep=clock.sleep))
        assert len(v.orders) == 1
        assert isinstance(out, nc.OutcomeUnknown), out
        assert out.client_order_id == v.orders[0].client_order_id
        assert out.__cause__ is exc
    finally:
        sup.real.close()
        v.stop()


def test_c_a_placement_cancelled_in_flight_still_names_its_client_order_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A caller's ``asyncio.wait_for`` cancels a placement in flight: the order may have
    landed, so its client order id is in an ``interrupted`` log record (and, from
    Python 3.11, in a note on the exception)."""
    import logging

    v, clock = venue("okx", {0: "lost"}, hang_s=0.5)

    async def main() -> BaseException | Any:
        w = nc.wrap(async_client("okx", v, timeout_ms=400), clock=clock, sleep=clock.asleep)
        try:
            return await asyncio.wait_for(
                w.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0), 0.1
            )
        except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
            return exc
        finally:
            await w.close()

    try:
        with caplog.at_level(logging.INFO, logger="normalizer.ccxt"):
            out = asyncio.run(main())
        assert isinstance(out, asyncio.TimeoutError | asyncio.CancelledError)
        cid = v.orders[0].client_order_id
        interrupted = [
            r.normalizer  # type: ignore[attr-defined]
            for r in caplog.records
            if getattr(r, "normalizer", {}).get("event") == "interrupted"
        ]
        assert [r["client_order_id"] for r in interrupted] == [cid]
    finally:
        v.stop()


def test_c_what_ccxt_raised_is_the_cause_of_what_the_wrapper_raises() -> None:
    """The exception ccxt raised stays reachable as ``__cause__``."""

    class Client:
        id = "binance"

        def __init__(self, exc: Exception) -> None:
            self.exc = exc

        def create_order(self, *_: Any, **__: Any) -> Any:
            raise self.exc

    original = ccxt.InsufficientFunds(
        'binance {"code":-2010,"msg":"Account has insufficient balance for requested action."}'
    )
    out = _place(nc.wrap(Client(original), sleep=lambda s: None))
    assert isinstance(out, nc.RequestRejected), out
    assert out.__cause__ is original
