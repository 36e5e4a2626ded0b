# ruff: noqa: E501  (recorded bodies are kept on one line, as the venues send them)
"""Envelopes: recorded error bodies of every venue and channel (REST, batch,
WebSocket, 418/429/5xx) -> the code, message, failed items and wait the
engine reads from them. Bodies are real answers from public bug reports where
one was found (``source``), otherwise the shapes the venues' docs give."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from typing import Any

import pytest

import normalizer
from normalizer import Action, Category, Scope
from normalizer._engine.envelope import extract
from normalizer._engine.waits import MAX_RETRY_S, header_hint, read_envelope, wait_of
from normalizer._formats.registry import registry


def norm(
    exchange: str, body: Any, status: int | None = 200, **kw: Any
) -> normalizer.NormalizedError:
    text = body if isinstance(body, str) else json.dumps(body)
    return normalizer.normalize(exchange, body=text, http_status=status, **kw)


# ------------------------------------------------------------------ OKX


def test_okx_rest_error() -> None:
    err = norm(
        "okx",
        {"code": "51008", "msg": "Order failed. Insufficient USDT balance in account", "data": []},
    )
    assert (err.code, err.message, err.items) == (
        "51008",
        "Order failed. Insufficient USDT balance in account",
        (),
    )


def test_okx_batch_partial_failure_is_its_failed_items() -> None:
    body = {
        "code": "2",
        "msg": "",
        "data": [
            {"clOrdId": "a", "ordId": "1", "sCode": "0", "sMsg": "Order placed"},
            {
                "clOrdId": "b",
                "ordId": "",
                "sCode": "51008",
                "sMsg": "Order failed. Insufficient USDT margin in account ",
            },
            {"clOrdId": "c", "ordId": "", "sCode": "51000", "sMsg": "Parameter sz error"},
        ],
    }
    err = norm("okx", body)
    assert (err.code, err.message) == (
        "51008",
        "Order failed. Insufficient USDT margin in account ",
    )
    assert [(i.item_index, i.code) for i in err.items] == [(1, "51008"), (2, "51000")]
    assert err.category is err.items[0].category


def test_okx_websocket_error_and_order_operation_reply() -> None:
    ws = norm(
        "okx",
        {
            "event": "error",
            "code": "60012",
            "msg": 'Invalid request: {"op": "subscribe"}',
            "connId": "a4d3ae55",
        },
        None,
    )
    assert ws.code == "60012"
    op = norm(
        "okx",
        {
            "id": "1512",
            "op": "order",
            "code": "1",
            "msg": "",
            "data": [
                {
                    "clOrdId": "",
                    "ordId": "",
                    "sCode": "51008",
                    "sMsg": "Order failed. Insufficient BTC balance in account",
                }
            ],
            "inTime": "1",
            "outTime": "2",
        },
        None,
    )
    assert (op.code, len(op.items)) == ("51008", 1)


def test_okx_documented_sub_codes_arrive_as_their_code() -> None:
    catalog = registry().get("okx").catalog
    assert catalog is not None
    sub = [e for e in catalog.entries if e.doc_code == "51008_1000"]
    assert [e.code for e in sub] == ["51008"]
    assert "51008" in registry().get("okx").documented_codes
    assert "51008_1000" not in registry().get("okx").documented_codes


# -------------------------------------------------------------- Binance


def test_binance_rest_error() -> None:
    err = norm(
        "binance",
        {"code": -2010, "msg": "Account has insufficient balance for requested action."},
        400,
    )
    assert (err.code, err.retry_after_s) == ("-2010", None)


def test_binance_429_retry_after_seconds() -> None:
    err = norm(
        "binance",
        {
            "code": -1003,
            "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.",
        },
        429,
        headers={"Retry-After": "7"},
    )
    assert err.retry_after_s == pytest.approx(7.0)


def test_binance_418_ip_ban_holds_the_whole_venue_until_it_ends() -> None:
    # shape of knowm/XChange#4011 and sammchardy/python-binance reports, with a ban ending in 10 min
    until = int((time.time() + 600) * 1000)
    msg = f"Way too much request weight used; IP banned until {until}. Please use the websocket for live updates to avoid bans."
    err = norm("binance", {"code": -1003, "msg": msg}, 418)
    assert err.retry_after_s == pytest.approx(600, abs=5)
    assert err.subcategory == "RATE_LIMIT.BLOCKED"
    rec = normalizer.recommend(err, operation="place_order")
    assert rec.scope is Scope.EXCHANGE
    assert rec.delay_s >= 590


def test_binance_ban_in_the_distant_past_or_future_is_dropped() -> None:
    for until in (1544570770441, 10**15, 99999999999999999):  # 2018 (knowm #165), absurd, absurd
        err = norm(
            "binance",
            {"code": -1003, "msg": f"Way too many requests; IP banned until {until}."},
            418,
        )
        assert err.retry_after_s is None


def test_binance_5xx_unknown_execution_status() -> None:
    err = norm(
        "binance",
        {
            "code": -1007,
            "msg": "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        },
        503,
    )
    assert err.code == "-1007"
    assert err.category is Category.UNKNOWN_STATE


def test_binance_websocket_api_error_with_retry_after() -> None:
    retry = int((time.time() + 30) * 1000)
    body = {
        "id": "9ca10f",
        "status": 418,
        "error": {
            "code": -1003,
            "msg": "Way too much request weight used; IP banned until 1659146400000.",
            "data": {"serverTime": 1659142907531, "retryAfter": retry},
        },
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
                "count": 12011,
            }
        ],
    }
    err = norm("binance", body, None)
    assert err.code == "-1003"
    assert err.retry_after_s == pytest.approx(30, abs=3)


# ---------------------------------------------------------------- Bybit


def test_bybit_rest_error() -> None:
    err = norm(
        "bybit",
        {
            "retCode": 110007,
            "retMsg": "ab not enough for new order",
            "result": {},
            "retExtInfo": {},
            "time": 1,
        },
    )
    assert (err.code, err.message) == ("110007", "ab not enough for new order")


def test_bybit_batch_retcode_0_with_failed_items_is_not_a_success() -> None:
    body = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "list": [
                {"category": "linear", "symbol": "BTCUSDT", "orderId": "", "orderLinkId": "x"},
                {"category": "linear", "symbol": "BTCUSDT", "orderId": "b2", "orderLinkId": "y"},
            ]
        },
        "retExtInfo": {
            "list": [
                {"code": 110007, "msg": "Insufficient available balance"},
                {"code": 0, "msg": "OK"},
            ]
        },
        "time": 1713434299047,
    }
    err = norm("bybit", body)
    assert err.subcategory != "UNKNOWN.NO_ERROR"
    assert (err.code, [i.item_index for i in err.items]) == ("110007", [0])


def test_bybit_batch_all_ok_is_a_success() -> None:
    body = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"list": []},
        "retExtInfo": {"list": [{"code": 0, "msg": "OK"}]},
    }
    assert norm("bybit", body).subcategory == "UNKNOWN.NO_ERROR"


def test_bybit_websocket_failures() -> None:
    ws = norm(
        "bybit",
        {
            "success": False,
            "ret_msg": "error:handler not found",
            "conn_id": "2324",
            "op": "subscribe",
        },
        None,
    )
    assert (ws.code, ws.message) == (None, "error:handler not found")
    assert ws.subcategory != "UNKNOWN.NO_ERROR"
    ok = norm("bybit", {"success": True, "ret_msg": "", "op": "auth", "conn_id": "1"}, None)
    assert ok.subcategory == "UNKNOWN.NO_ERROR"
    entry = norm(
        "bybit",
        {
            "reqId": "1",
            "retCode": 10404,
            "retMsg": "op not found",
            "op": "order.create",
            "data": {},
            "header": {},
            "connId": "c",
        },
        None,
    )
    assert entry.code == "10404"


def test_bybit_rate_limit_reset_header_only_on_rate_limits() -> None:
    reset = str(int((time.time() + 2) * 1000))
    limited = norm(
        "bybit",
        {"retCode": 10006, "retMsg": "Too many visits!", "result": {}},
        headers={"X-Bapi-Limit-Reset-Timestamp": reset},
    )
    assert limited.retry_after_s == pytest.approx(2, abs=2)
    other = norm(
        "bybit",
        {"retCode": 110007, "retMsg": "ab not enough for new order"},
        headers={"X-Bapi-Limit-Reset-Timestamp": reset},
    )
    assert other.retry_after_s is None


# --------------------------------------------------------------- KuCoin


def test_kucoin_error_and_success() -> None:
    err = norm("kucoin", {"code": "200004", "msg": "Balance insufficient!"}, 200)
    assert err.code == "200004"
    limited = norm(
        "kucoin",
        {
            "code": "429000",
            "msg": "Too many requests in a short period of time, please retry later.",
        },
        429,
    )
    assert limited.category is Category.RATE_LIMIT
    assert norm("kucoin", {"code": "200000", "data": {}}).subcategory == "UNKNOWN.NO_ERROR"


# ----------------------------------------------------------------- Gate


def test_gate_label_is_the_code() -> None:
    err = norm("gate", {"label": "BALANCE_NOT_ENOUGH", "message": "Not enough balance"}, 400)
    assert (err.code, err.message) == ("BALANCE_NOT_ENOUGH", "Not enough balance")


def test_gate_batch_list_of_items() -> None:
    body = [
        {"succeeded": True, "id": "12332324", "text": "t-1", "status": "open"},
        {
            "succeeded": False,
            "label": "BALANCE_NOT_ENOUGH",
            "message": "Not enough balance",
            "text": "t-2",
        },
    ]
    err = norm("gate", body)
    assert (err.code, [i.item_index for i in err.items]) == ("BALANCE_NOT_ENOUGH", [1])
    assert norm("gate", [{"succeeded": True, "id": "1"}]).subcategory == "UNKNOWN.NO_ERROR"


# --------------------------------------------------------------- Bitget


def test_bitget_rest_batch_and_websocket() -> None:
    err = norm(
        "bitget",
        {
            "code": "43012",
            "msg": "Insufficient balance",
            "requestTime": 1695808949356,
            "data": None,
        },
        400,
    )
    assert err.code == "43012"
    batch = {
        "code": "00000",
        "msg": "success",
        "requestTime": 1695808949356,
        "data": {
            "successList": [{"orderId": "1", "clientOid": "a"}],
            "failureList": [
                {
                    "orderId": "",
                    "clientOid": "b",
                    "errorMsg": "Insufficient balance",
                    "errorCode": "43012",
                }
            ],
        },
    }
    b = norm("bitget", batch)
    assert (b.code, b.message, len(b.items)) == ("43012", "Insufficient balance", 1)
    ws = norm(
        "bitget",
        {
            "event": "error",
            "code": 30001,
            "msg": "instType:sp,channel:ticker,instId:BTC-USDT doesn't exist",
        },
        None,
    )
    assert ws.code == "30001"
    assert (
        norm("bitget", {"code": "00000", "msg": "success", "data": {}}).subcategory
        == "UNKNOWN.NO_ERROR"
    )


# --------------------------------------------------------------- Kraken


def test_kraken_error_strings() -> None:
    err = norm("kraken", {"error": ["EOrder:Insufficient funds"], "result": {}})
    assert (err.code, err.message) == ("EOrder:Insufficient funds", "EOrder:Insufficient funds")
    # one error in the list is one item, as one failed entry of a batch is
    assert [(i.item_index, i.code, i.category) for i in err.items] == [
        (0, "EOrder:Insufficient funds", Category.INSUFFICIENT_FUNDS)
    ]
    detail = norm("kraken", {"error": ["EGeneral:Invalid arguments:volume"]})
    assert detail.code == "EGeneral:Invalid arguments"
    documented = norm("kraken", {"error": ["EGeneral:Invalid arguments:Index unavailable"]})
    assert documented.code == "EGeneral:Invalid arguments:Index unavailable"
    internal = norm("kraken", {"error": ["EGeneral:Internal error:7a1f"]})
    assert internal.code == "EGeneral:Internal error"


def test_kraken_warnings_are_not_errors_and_several_errors_are_kept() -> None:
    warned = norm("kraken", {"error": ["WGeneral:Danger"], "result": {"txid": ["O1"]}})
    assert warned.subcategory == "UNKNOWN.NO_ERROR"
    assert norm("kraken", {"error": [], "result": {}}).subcategory == "UNKNOWN.NO_ERROR"
    two = norm(
        "kraken", {"error": ["WGeneral:Danger", "EOrder:Insufficient funds", "EAPI:Invalid nonce"]}
    )
    assert two.code == "EOrder:Insufficient funds"
    assert [i.code for i in two.items] == ["EOrder:Insufficient funds", "EAPI:Invalid nonce"]


def test_kraken_throttled_timestamp_is_a_retry_hint() -> None:
    err = norm("kraken", {"error": [f"EService: Throttled: {int(time.time()) + 20}"]})
    assert err.code == "EService: Throttled"
    assert err.retry_after_s == pytest.approx(20, abs=5)
    stale = norm(
        "kraken", {"error": ["EService: Throttled: 1767225600"]}
    )  # the docs' era, long past
    assert stale.retry_after_s is None


def test_kraken_websocket_v2() -> None:
    err = norm(
        "kraken",
        {
            "method": "add_order",
            "success": False,
            "error": "EOrder:Insufficient funds",
            "req_id": 7,
            "time_in": "a",
            "time_out": "b",
        },
        None,
    )
    assert err.code == "EOrder:Insufficient funds"
    assert err.items == ()  # a lone string, not a list of errors


def test_items_are_filled_alike_for_one_error_in_a_list_on_every_venue() -> None:
    """A venue's list of errors or failed entries holding one error yields one
    item, whatever the venue (Kraken error strings, Coinbase v2 errors, OKX,
    Bybit and Gate batch answers); a single error object yields none."""
    one = {
        "kraken": {"error": ["EOrder:Insufficient funds"], "result": {}},
        "coinbase": {"errors": [{"id": "not_found", "message": "Not found"}]},
        "okx": {"code": "1", "msg": "", "data": [{"sCode": "51008", "sMsg": "Insufficient"}]},
        "gate": [{"succeeded": False, "label": "BALANCE_NOT_ENOUGH", "message": "Not enough"}],
        "bybit": {
            "retCode": 0,
            "retMsg": "OK",
            "result": {"list": [{"orderId": ""}]},
            "retExtInfo": {"list": [{"code": 170131, "msg": "Insufficient balance."}]},
        },
    }
    for venue, body in one.items():
        err = norm(venue, body)
        assert len(err.items) == 1, venue
        assert (err.items[0].code, err.items[0].category) == (err.code, err.category), venue
    assert norm("okx", {"code": "51008", "msg": "Insufficient", "data": []}).items == ()
    assert norm("kraken", {"error": "EOrder:Insufficient funds", "success": False}).items == ()


# ------------------------------------------------------------- Coinbase


def test_coinbase_failed_order_http_200_the_catalog_enum_decides() -> None:
    # ccxt/ccxt#20419 (a real answer)
    body = (
        '{"success":false,"failure_reason":"UNKNOWN_FAILURE_REASON","order_id":"","error_response":'
        '{"error":"INSUFFICIENT_FUND","message":"Insufficient balance in source account","error_details":"",'
        '"preview_failure_reason":"PREVIEW_INSUFFICIENT_FUND"},"order_configuration":{"market_market_ioc":{"quote_size":"10"}}}'
    )
    err = norm("coinbase", body)
    assert err.code in {"INSUFFICIENT_FUND", "PREVIEW_INSUFFICIENT_FUND"}
    assert err.message == "Insufficient balance in source account"
    assert err.category is Category.INSUFFICIENT_FUNDS
    unknown_first = {
        "success": False,
        "error_response": {
            "error": "UNKNOWN_FAILURE_REASON",
            "message": "",
            "preview_failure_reason": "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
        },
    }
    assert norm("coinbase", unknown_first).code == "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"


def test_coinbase_http_errors_and_v2() -> None:
    err = norm(
        "coinbase",
        {
            "error": "NOT_FOUND",
            "error_details": "order with this orderID was not found",
            "message": "order with this orderID was not found",
        },
        404,
    )
    assert (err.code, err.message) == ("NOT_FOUND", "order with this orderID was not found")
    v2 = norm("coinbase", {"errors": [{"id": "not_found", "message": "Not found"}]}, 404)
    assert (v2.code, v2.message) == ("not_found", "Not found")
    assert (
        norm("coinbase", {"success": True, "success_response": {"order_id": "1"}}).subcategory
        == "UNKNOWN.NO_ERROR"
    )


def test_coinbase_curly_apostrophes_match_straight_ones() -> None:
    rs = registry().get("coinbase")
    curly = [e for e in rs.catalog.entries if "\u2019" in e.message] if rs.catalog else []
    assert curly
    e = curly[0]
    assert rs.documented(e.message.replace("\u2019", "'")) is not None


# ------------------------------------------------------- common: hints


def test_retry_after_http_date() -> None:
    date = formatdate(time.time() + 120, usegmt=True)
    err = norm(
        "okx", {"code": "50011", "msg": "Rate limit reached."}, 429, headers={"retry-after": date}
    )
    assert err.retry_after_s == pytest.approx(120, abs=5)


@pytest.mark.parametrize(
    "bad",
    ["-5", "nan", "inf", "1e400", "9" * 40, "soon", "", b"\xff", 10**20, float("nan"), [], {}],
)
def test_absurd_waits_are_dropped_never_raised(bad: Any) -> None:
    assert (
        header_hint(None, {"Retry-After": bad}) is None
        or 0 <= header_hint(None, {"Retry-After": bad}) <= MAX_RETRY_S
    )  # type: ignore[operator]
    for unit in ("seconds", "milliseconds", "epoch_s", "epoch_ms", "retry_after"):
        w = wait_of(bad, unit, time.time())  # type: ignore[arg-type]
        assert w is None or 0 <= w <= MAX_RETRY_S


def test_read_envelope_all_at_once() -> None:
    shape = registry().get("binance").spec.response
    env = read_envelope(
        shape,
        {"code": -1003, "msg": "Too many requests."},
        {"Retry-After": "3"},
        429,
        now=time.time(),
    )
    assert (env.code, env.retry_after_s, env.success) == ("-1003", 3.0, False)
    assert extract(shape, ["not", "an", "object"]).malformed


# ------------------------------------------------- OKX WebSocket close frames


@pytest.mark.parametrize(
    ("close_code", "reason", "operation", "subcategory", "action"),
    [
        (4001, "Login Failed", None, "AUTH.API_KEY", Action.ESCALATE),
        (4002, "Invalid Request", None, "INVALID_REQUEST.PARAMETER", Action.HALT),
        (
            4003,
            "APIKey subscription amount exceeds the limit 100",
            None,
            "LIMIT_EXCEEDED.RESOURCE",
            Action.HALT,
        ),
        (4004, "No data received in 30s", None, "UNAVAILABLE.CONNECTION", Action.RETRY),
        (
            4005,
            "Buffer is full, cannot write data",
            "place_order",
            "UNKNOWN_STATE.CONNECTION_LOST",
            Action.QUERY_THEN_RETRY,
        ),
        (
            4006,
            "Abnormal disconnection",
            "place_order",
            "UNKNOWN_STATE.CONNECTION_LOST",
            Action.QUERY_THEN_RETRY,
        ),
        (4006, "Abnormal disconnection", "query", "UNKNOWN_STATE.CONNECTION_LOST", Action.RETRY),
        (
            4007,
            "API key has been updated or deleted. Please reconnect.",
            None,
            "AUTH.API_KEY",
            Action.ESCALATE,
        ),
        (
            4008,
            "The number of subscribed channels exceeds the maximum limit.",
            None,
            "LIMIT_EXCEEDED.RESOURCE",
            Action.HALT,
        ),
        (
            4009,
            "The number of subscription channels for this connection exceeds the limit",
            None,
            "LIMIT_EXCEEDED.RESOURCE",
            Action.HALT,
        ),
    ],
)
def test_okx_websocket_close_frame_is_its_code_and_reason(
    close_code: int, reason: str, operation: str | None, subcategory: str, action: Action
) -> None:
    """A close frame carries no body: its code and reason (as a WebSocket
    client reports them, the code an int) are the code and message, and the
    code decides, with or without the reason."""
    err = normalizer.normalize("okx", code=close_code, message=reason, operation=operation)
    assert (err.code, err.message, err.subcategory) == (str(close_code), reason, subcategory)
    assert err.rule_id is not None
    assert err.rule_id.startswith("okx.ws-close.")
    assert normalizer.normalize("okx", code=close_code).subcategory == subcategory
    assert normalizer.recommend(err, operation=operation or "other").action is action


def test_okx_reconnect_notice_answers_no_request() -> None:
    """64008 is a notice: alone (or on a read) it says reconnect; taken for a
    write's answer it never makes that write a plain resend."""
    notice = {
        "event": "notice",
        "code": "64008",
        "msg": "The connection will soon be closed for a service upgrade. Please reconnect.",
        "connId": "a4d3ae55",
    }
    alone = norm("okx", notice, None)
    assert (alone.subcategory, alone.rule_id) == (
        "UNAVAILABLE.CONNECTION",
        "okx.ws.reconnect-notice",
    )
    assert normalizer.recommend(alone, operation="query").action is Action.RETRY
    for op in ("place_order", "cancel_order", "amend_order", "transfer", "withdraw"):
        during = norm("okx", notice, None, operation=op)
        assert during.subcategory == "UNKNOWN_STATE.CONNECTION_LOST", op
        assert normalizer.recommend(during).action is not Action.RETRY, op
