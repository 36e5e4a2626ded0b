"""BingX, Upbit, Bitvavo and Poloniex, as the nine bundled venues are.

Every documented code of each lands on a specific subcategory; every class
ccxt raises for their codes is in the class table (or is plain ExchangeError);
ccxt's own client, pointed at a local HTTP server on 127.0.0.1 that answers
the venue's recorded bodies, raises its class and normalize() recovers the
venue's code, message and status from it; the venues' wait hints are read;
and no documented code of theirs is answered with a plain RETRY on a write
when it is AUTH (but the clock), KYC or an unknown outcome. Nothing reaches
the internet.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from recorded_venue import point_at

import normalizer
from normalizer import Action, Category

VENUES = ("bingx", "upbit", "bitvavo", "poloniex")


# ------------------------------------------------------------ documented codes


@pytest.mark.parametrize("venue", VENUES)
def test_every_documented_code_lands_on_a_specific_subcategory(venue: str) -> None:
    from normalizer.analysis import coverage

    report = coverage(exchanges=[venue])[0]
    assert report.codes > 0
    assert report.specific == report.codes, (venue, report.generic_codes, report.unmapped_codes)


@pytest.mark.parametrize("venue", VENUES)
def test_no_documented_code_is_a_blind_retry_on_a_write(venue: str) -> None:
    """On a first-attempt place_order, an AUTH (but the clock), KYC or
    unknown-outcome answer of any documented code is never plain RETRY, and a
    rate limit always waits."""
    from normalizer._engine.normalize import registry

    catalog = registry().get(venue).catalog
    assert catalog is not None
    for entry in catalog.entries:
        err = normalizer.normalize(venue, code=entry.code, message=entry.message)
        rec = normalizer.recommend(err, operation="place_order", attempt=1)
        unsafe = err.category in (Category.KYC, Category.UNKNOWN_STATE) or (
            err.category is Category.AUTH and err.subcategory != "AUTH.TIMESTAMP"
        )
        if unsafe:
            assert rec.action is not Action.RETRY, (venue, entry.code, err.label)
        if err.category is Category.RATE_LIMIT:
            assert rec.action is Action.RETRY, (venue, entry.code)
            assert rec.delay_s > 0, (venue, entry.code)


def test_a_busy_answer_is_an_unknown_outcome_on_a_write_and_unavailable_on_a_read() -> None:
    body = '{"code":100400,"msg":"The current system is busy, please try again later"}'
    write = normalizer.normalize("bingx", body=body, operation="place_order")
    read = normalizer.normalize("bingx", body=body, operation="query")
    assert write.category is Category.UNKNOWN_STATE
    assert normalizer.recommend(write, operation="place_order").action is Action.QUERY_THEN_RETRY
    assert read.subcategory == "UNAVAILABLE.SERVICE"


def test_a_receive_window_timestamp_is_retried_and_a_malformed_one_is_not() -> None:
    clock = normalizer.normalize(
        "bingx", body='{"code":100421,"msg":"Null timestamp or timestamp mismatch, try again"}'
    )
    malformed = normalizer.normalize("bingx", body='{"code":80014,"msg":"timestamp is invalid"}')
    assert clock.subcategory == "AUTH.TIMESTAMP"
    assert malformed.category is Category.INVALID_REQUEST
    assert normalizer.recommend(malformed, operation="place_order").action is Action.HALT


def test_upbit_korean_text_alone_finds_its_code() -> None:
    err = normalizer.normalize("upbit", message="매수/매도 가능 잔고가 부족합니다.")
    assert err.subcategory == "INSUFFICIENT_FUNDS.BALANCE"
    assert err.documented_code in ("insufficient_funds_ask", "insufficient_funds_bid")


def test_poloniex_batch_keeps_each_failed_order() -> None:
    body = json.dumps(
        [
            {"code": 21709, "message": "Low available balance", "index": 0},
            {"id": "1", "clientOrderId": ""},
            {"code": 21322, "message": "Amount less than minAmount", "index": 2},
        ]
    )
    err = normalizer.normalize("poloniex", body=body, operation="place_order")
    assert [i.code for i in err.items] == ["21709", "21322"]
    assert [i.subcategory for i in err.items] == [
        "INSUFFICIENT_FUNDS.BALANCE",
        "INVALID_REQUEST.MIN_AMOUNT",
    ]


@pytest.mark.parametrize(
    "msg",
    [
        "code:100410:The endpoint trigger frequency limit rule is currently in the disabled period "
        "and will be unblocked after {ms}",
        "over 20 error code:100202 requests within 480000 ms for this api, please verify and fix "
        "it ,can retry after time: {ms}",
    ],
)
def test_bingx_block_waits_until_the_time_it_names(msg: str) -> None:
    until = int((time.time() + 40) * 1000)
    body = json.dumps({"code": 100410, "msg": msg.format(ms=until)})
    err = normalizer.normalize("bingx", body=body, operation="place_order")
    assert err.subcategory == "RATE_LIMIT.BLOCKED"
    assert err.retry_after_s is not None
    assert 30 < err.retry_after_s <= 41


def test_bitvavo_429_waits_for_the_reset_header() -> None:
    until = int((time.time() + 20) * 1000)
    err = normalizer.normalize(
        "bitvavo",
        body='{"errorCode":110,"error":"Rate limit exceeded."}',
        http_status=429,
        headers={"bitvavo-ratelimit-resetat": str(until)},
    )
    assert err.subcategory == "RATE_LIMIT.BLOCKED"
    assert err.retry_after_s is not None
    assert 10 < err.retry_after_s <= 21


# --------------------------------------------------------------- through ccxt


@pytest.fixture
def ccxt() -> Any:
    return pytest.importorskip("ccxt")


def _pointed(ccxt: Any, server: Any, exchange: str) -> Any:
    """A ccxt client whose every API base URL is the local server (paths kept)."""
    client = getattr(ccxt, exchange)({"apiKey": "k" * 64, "secret": "czNjcmV0", "timeout": 5000})

    point_at(client, server.base)
    return client


_BINGX_ORDER = ("spot_v1_private_post_trade_order", {"symbol": "BTC-USDT", "side": "BUY"})
_BINGX_SWAP = ("swap_v2_private_post_trade_order", {"symbol": "BTC-USDT", "side": "BUY"})
_UPBIT_ORDER = ("private_post_orders", {"market": "KRW-BTC", "side": "bid"})
_BITVAVO_ORDER = ("private_post_order", {"market": "BTC-EUR", "side": "buy"})
_POLONIEX_ORDER = ("private_post_orders", {"symbol": "BTC_USDT", "side": "BUY"})

# (exchange, (method, params), status, body, headers, operation, ccxt class, code, label)
CASES = [
    pytest.param(
        "bingx",
        _BINGX_SWAP,
        200,
        {"code": 101204, "msg": "Insufficient margin", "data": {}},
        {},
        "place_order",
        "InsufficientFunds",
        "101204",
        "INSUFFICIENT_FUNDS.MARGIN",
        id="bingx-101204-insufficient-margin",
    ),
    pytest.param(
        "bingx",
        _BINGX_ORDER,
        200,
        {"code": 100413, "msg": "Incorrect apiKey", "data": {}},
        {},
        "place_order",
        "AuthenticationError",
        "100413",
        "AUTH.API_KEY",
        id="bingx-100413-api-key",
    ),
    pytest.param(
        "bingx",
        _BINGX_ORDER,
        200,
        {"code": 100500, "msg": "We had a problem with our server"},
        {},
        "place_order",
        "OperationFailed",
        "100500",
        "UNKNOWN_STATE.SERVER_ERROR",
        id="bingx-100500-server-error-on-write",
    ),
    pytest.param(
        "upbit",
        _UPBIT_ORDER,
        400,
        {"error": {"name": "insufficient_funds_bid", "message": "주문가능한 금액이 부족합니다."}},
        {},
        "place_order",
        "InsufficientFunds",
        "insufficient_funds_bid",
        "INSUFFICIENT_FUNDS.BALANCE",
        id="upbit-insufficient-funds-bid",
    ),
    pytest.param(
        "upbit",
        _UPBIT_ORDER,
        401,
        {"error": {"name": "jwt_verification", "message": "jwt_verification"}},
        {},
        "place_order",
        "AuthenticationError",
        "jwt_verification",
        "AUTH.SIGNATURE",
        id="upbit-jwt-verification",
    ),
    pytest.param(
        "upbit",
        _UPBIT_ORDER,
        400,
        {"error": {"name": "under_min_total_bid", "message": "최소주문금액 이상으로 주문해주세요"}},
        {},
        "place_order",
        "ExchangeError",
        "under_min_total_bid",
        "INVALID_REQUEST.MIN_AMOUNT",
        id="upbit-under-min-total-ccxt-says-nothing",
    ),
    pytest.param(
        "bitvavo",
        _BITVAVO_ORDER,
        400,
        {"errorCode": 216, "error": "Insufficient balance to perform this operation."},
        {},
        "place_order",
        "InsufficientFunds",
        "216",
        "INSUFFICIENT_FUNDS.BALANCE",
        id="bitvavo-216-insufficient-balance",
    ),
    pytest.param(
        "bitvavo",
        _BITVAVO_ORDER,
        500,
        {"errorCode": 101, "error": "Unknown error. Operation may or may not have succeeded."},
        {},
        "place_order",
        "ExchangeError",
        "101",
        "UNKNOWN_STATE.SERVER_ERROR",
        id="bitvavo-101-outcome-unknown",
    ),
    pytest.param(
        "bitvavo",
        _BITVAVO_ORDER,
        429,
        {"errorCode": 110, "error": "Rate limit exceeded."},
        {},
        "place_order",
        "BadRequest",
        "110",
        "RATE_LIMIT.BLOCKED",
        id="bitvavo-110-rate-limit-ccxt-calls-it-bad-request",
    ),
    pytest.param(
        "poloniex",
        _POLONIEX_ORDER,
        400,
        {"code": 21709, "message": "Low available balance"},
        {},
        "place_order",
        "InsufficientFunds",
        "21709",
        "INSUFFICIENT_FUNDS.BALANCE",
        id="poloniex-21709-low-balance",
    ),
    pytest.param(
        "poloniex",
        _POLONIEX_ORDER,
        400,
        {"code": 21351, "message": "User trade freeze"},
        {},
        "place_order",
        "AccountSuspended",
        "21351",
        "ACCOUNT_RESTRICTED.FROZEN",
        id="poloniex-21351-trade-freeze",
    ),
    pytest.param(
        "poloniex",
        _POLONIEX_ORDER,
        400,
        {"code": 21340, "message": "maintenance"},
        {},
        "place_order",
        "OnMaintenance",
        "21340",
        "UNAVAILABLE.MAINTENANCE",
        id="poloniex-21340-maintenance",
    ),
]


@pytest.mark.parametrize(
    ("exchange", "call", "status", "body", "headers", "operation", "ccxt_class", "code", "label"),
    CASES,
)
def test_venue_error_through_a_real_ccxt_client(
    ccxt: Any,
    server: Any,
    exchange: str,
    call: tuple[str, dict[str, Any]],
    status: int,
    body: Any,
    headers: dict[str, str],
    operation: str,
    ccxt_class: str,
    code: str,
    label: str,
) -> None:
    """ccxt's client raises its class for the recorded answer; normalize()
    reads the venue's own code and message out of that exception, and the
    venue's rules decide as they do for the body itself."""
    server.answer = (status, body, dict(headers))
    method, params = call
    with pytest.raises(Exception) as info:  # noqa: PT011 - whatever ccxt raises is the subject
        getattr(_pointed(ccxt, server, exchange), method)(params)
    exc = info.value
    assert type(exc).__name__ == ccxt_class
    assert server.requests, "the request reached the local server"
    err = normalizer.normalize(exchange, error=exc, operation=operation)
    direct = normalizer.normalize(exchange, body=body, http_status=status, operation=operation)
    assert (err.code, err.label) == (code, label)
    assert (err.code, err.message, err.label) == (direct.code, direct.message, direct.label)
    assert err.raw.error is exc
    rec = normalizer.recommend(err, operation=operation, attempt=1)
    if err.category is Category.UNKNOWN_STATE:
        assert rec.action is Action.QUERY_THEN_RETRY


def test_ccxt_classes_of_the_four_venues_are_in_the_class_table_or_say_nothing(ccxt: Any) -> None:
    """Every class ccxt's tables raise for these venues' codes has an entry in
    rules/common/ccxt.yaml, or is plain ExchangeError (which says nothing)."""
    from normalizer._engine.ccxt import ccxt_classes
    from normalizer._formats.ccxt_table import load_class_table
    from normalizer.analysis.ccxt_compare import _exception_tables

    table = load_class_table()
    seen = set()
    for exchange in VENUES:
        exact, broad = _exception_tables(getattr(ccxt, exchange)().exceptions)
        for cls in {c for cs in (*exact.values(), *broad.values()) for c in cs}:
            names = ccxt_classes(cls())
            seen.add(names[0])
            assert names[0] == "ExchangeError" or table.lookup(names)[0] == names[0], (
                exchange,
                names,
            )
    assert {"InsufficientFunds", "AuthenticationError", "OnMaintenance"} <= seen
