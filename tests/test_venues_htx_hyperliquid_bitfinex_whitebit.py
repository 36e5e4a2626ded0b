"""HTX, Hyperliquid, Bitfinex and WhiteBIT through a real ccxt client.

Each venue's own ccxt client (ids ``htx``, ``hyperliquid``, ``bitfinex``,
``whitebit``) is pointed at a local HTTP server on 127.0.0.1 that answers a
recorded or documented error body; ccxt raises its class for it, and
``normalize(venue, error=exc)`` must recover the venue's code, message and
status from that exception and decide exactly as for the body itself. Nothing
reaches the internet. The rest holds what ccxt's tables say about the four
venues against ``rules/common/ccxt.yaml`` and this project's rules.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from recorded_venue import point_at

import normalizer
from normalizer import Action, Category
from normalizer._engine.ccxt import ccxt_classes
from normalizer._formats.ccxt_table import load_class_table

VENUES = ("htx", "hyperliquid", "bitfinex", "whitebit")


@pytest.fixture(scope="module")
def ccxt() -> Any:
    return pytest.importorskip("ccxt")


def _pointed(ccxt: Any, server: Any, exchange: str) -> Any:
    """A ccxt client of ``exchange`` whose every API base URL is the local server
    (``{hostname}`` placeholders included; the path part of each is kept)."""
    client = getattr(ccxt, exchange)(
        {
            "apiKey": "k",
            "secret": "s",
            "walletAddress": "0x" + "1" * 40,
            "privateKey": "0x" + "2" * 64,
            "timeout": 5000,
        }
    )

    point_at(client, server.base)
    return client


def _raised(call: Any, *args: Any) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: PT011 - whatever ccxt raises is the subject
        call(*args)
    return info.value


# (exchange, ccxt method, its params, HTTP status, body, operation,
#  ccxt's class, the path the request reached, code, category label, rule id)
VENUE_CASES = [
    pytest.param(
        "hyperliquid",
        "private_post_exchange",
        {"action": {"type": "order"}},
        200,
        {
            "status": "ok",
            "response": {
                "type": "order",
                "data": {"statuses": [{"error": "Insufficient margin to place order. asset=15"}]},
            },
        },
        "place_order",
        "InsufficientFunds",
        "/exchange",
        "Insufficient margin to place order. asset=15",
        "INSUFFICIENT_FUNDS.MARGIN",
        "hyperliquid.order.insufficient-margin",
        id="hyperliquid-batch-status-insufficient-margin",
    ),
    pytest.param(
        "hyperliquid",
        "private_post_exchange",
        {"action": {"type": "order"}},
        200,
        {
            "status": "err",
            "response": "User or API Wallet 0x72ebabb73e2c5483bb9a08478833dcc0e37ce2f0"
            " does not exist.",
        },
        "place_order",
        "InvalidOrder",
        "/exchange",
        "User or API Wallet 0x72ebabb73e2c5483bb9a08478833dcc0e37ce2f0 does not exist.",
        "AUTH.SIGNATURE",
        "hyperliquid.action.unknown-signer",
        id="hyperliquid-unknown-signer-is-auth-not-a-bad-order",
    ),
    pytest.param(
        "hyperliquid",
        "private_post_exchange",
        {"action": {"type": "cancel"}},
        200,
        {
            "status": "ok",
            "response": {
                "type": "cancel",
                "data": {
                    "statuses": [{"error": "Order was never placed, already canceled, or filled."}]
                },
            },
        },
        "cancel_order",
        "OrderNotFound",
        "/exchange",
        "Order was never placed, already canceled, or filled.",
        "NOT_FOUND.ORDER",
        "hyperliquid.cancel.missing-order",
        id="hyperliquid-cancel-missing-order",
    ),
    pytest.param(
        "hyperliquid",
        "public_post_info",
        {"type": "orderStatus", "user": "0x" + "1" * 40, "oid": 1},
        200,
        {"status": "unknownOid"},
        "query",
        "OrderNotFound",
        "/info",
        "unknownOid",
        "NOT_FOUND.ORDER",
        "hyperliquid.status.unknown-oid",
        id="hyperliquid-order-status-unknown-oid",
    ),
    pytest.param(
        "bitfinex",
        "private_post_auth_w_order_submit",
        {"type": "EXCHANGE LIMIT", "symbol": "tBTCUSD"},
        500,
        [
            "error",
            10001,
            "Invalid order: not enough exchange balance for 0.00235071 BTCUSD at 9122.2",
        ],
        "place_order",
        "InsufficientFunds",
        "/v2/auth/w/order/submit",
        "10001",
        "INSUFFICIENT_FUNDS.BALANCE",
        "bitfinex.reason.insufficient-balance",
        id="bitfinex-500-array-generic-code-with-balance-reason",
    ),
    pytest.param(
        "bitfinex",
        "private_post_auth_r_orders",
        {},
        500,
        ["error", 10114, "nonce: small"],
        "query",
        "InvalidNonce",
        "/v2/auth/r/orders",
        "10114",
        "AUTH.TIMESTAMP",
        "bitfinex.reason.nonce",
        id="bitfinex-500-array-nonce",
    ),
    pytest.param(
        "bitfinex",
        "private_post_auth_w_order_submit",
        {"type": "EXCHANGE LIMIT", "symbol": "tBTCUSD"},
        429,
        ["error", 11010, "ratelimit: error"],
        "place_order",
        "RateLimitExceeded",
        "/v2/auth/w/order/submit",
        "11010",
        "RATE_LIMIT.BLOCKED",
        "bitfinex.reason.rate-limit",
        id="bitfinex-429-array-rate-limit",
    ),
    pytest.param(
        "whitebit",
        "v4_private_post_order_new",
        {"market": "BTC_USDT"},
        422,
        {
            "code": 10,
            "message": "Inner validation failed",
            "errors": {"amount": ["Not enough balance."]},
        },
        "place_order",
        "InsufficientFunds",
        "/api/v4/order/new",
        "10",
        "INSUFFICIENT_FUNDS.BALANCE",
        "whitebit.funds.balance",
        id="whitebit-422-field-text-decides-over-the-coarse-code",
    ),
    pytest.param(
        "whitebit",
        "v4_private_post_order_new",
        {"market": "BTC_USDT"},
        422,
        {
            "code": 32,
            "errors": {"amount": ["Should be a multiple of 100000."]},
            "message": "Validation failed",
        },
        "place_order",
        "ExchangeError",
        "/api/v4/order/new",
        "32",
        "INVALID_REQUEST.PRECISION",
        "whitebit.amount.precision",
        id="whitebit-422-amount-step-ccxt-says-nothing",
    ),
    pytest.param(
        "whitebit",
        "v4_private_post_order_new",
        {"market": "BTC_USDT"},
        401,
        {"code": 0, "message": "Too many requests."},
        "place_order",
        "ExchangeError",
        "/api/v4/order/new",
        "0",
        "AUTH.TIMESTAMP",
        "whitebit.auth.nonce-not-increasing",
        id="whitebit-nonce-too-many-requests-is-auth-not-a-rate-limit",
    ),
    pytest.param(
        "htx",
        "spot_private_post_v1_order_orders_place",
        {"symbol": "btcusdt"},
        200,
        {
            "status": "error",
            "err-code": "account-frozen-balance-insufficient-error",
            "err-msg": "trade account balance is not enough, left: `0`",
            "data": None,
        },
        "place_order",
        "InsufficientFunds",
        "/v1/order/orders/place",
        "account-frozen-balance-insufficient-error",
        "INSUFFICIENT_FUNDS.BALANCE",
        "htx.undocumented.balance",
        id="htx-spot-string-code-balance",
    ),
    pytest.param(
        "htx",
        "contract_private_post_swap_api_v1_swap_order",
        {"contract_code": "BTC-USDT"},
        200,
        {"status": "error", "err_code": 1047, "err_msg": "Insufficient margin available.", "ts": 1},
        "place_order",
        "InsufficientFunds",
        "/swap-api/v1/swap_order",
        "1047",
        "INSUFFICIENT_FUNDS.MARGIN",
        "htx.funds.margin",
        id="htx-futures-integer-code-margin",
    ),
    pytest.param(
        "htx",
        "spot_private_post_v1_order_orders_place",
        {"symbol": "btcusdt"},
        200,
        {
            "status": "error",
            "err-code": "api-signature-not-valid",
            "err-msg": "Signature not valid: Incorrect IP address [IP地址错误]:104.128.67.45",
            "data": None,
        },
        "place_order",
        "AuthenticationError",
        "/v1/order/orders/place",
        "api-signature-not-valid",
        "AUTH.IP_NOT_ALLOWED",
        "htx.undocumented.signature-ip",
        id="htx-signature-error-worded-as-ip",
    ),
]


@pytest.mark.parametrize(
    (
        "exchange",
        "method",
        "params",
        "status",
        "body",
        "operation",
        "ccxt_class",
        "path",
        "code",
        "label",
        "rule_id",
    ),
    VENUE_CASES,
)
def test_venue_error_through_a_real_ccxt_client(
    ccxt: Any,
    server: Any,
    exchange: str,
    method: str,
    params: dict[str, Any],
    status: int,
    body: Any,
    operation: str,
    ccxt_class: str,
    path: str,
    code: str,
    label: str,
    rule_id: str,
) -> None:
    """ccxt's own client, pointed at 127.0.0.1, raises its class for the
    venue's answer; normalize() recovers the venue's code, message and status
    from that exception, and the venue's rule decides as for the body."""
    server.answer = (status, body, {})
    exc = _raised(getattr(_pointed(ccxt, server, exchange), method), params)
    assert type(exc).__name__ == ccxt_class
    assert server.requests[-1][1].split("?")[0] == path  # it did reach the local server
    err = normalizer.normalize(exchange, error=exc, operation=operation)
    direct = normalizer.normalize(exchange, body=body, http_status=status, operation=operation)
    assert (err.code, err.label, err.rule_id) == (code, label, rule_id)
    assert (err.code, err.message, err.label) == (direct.code, direct.message, direct.label)
    assert err.raw.error is exc


def test_hyperliquid_batch_through_ccxt_keeps_each_failed_order_and_its_index(
    ccxt: Any, server: Any
) -> None:
    """One status per order: the placed orders are not errors, each failed one is
    an item with its index in the batch, and its order was not placed (REJECTED):
    a router re-sends only those, never the whole batch."""
    statuses = [
        {"resting": {"oid": 77738308}},
        {"error": "Order must have minimum value of $10. asset=0"},
        {"filled": {"totalSz": "0.02", "avgPx": "1891.4", "oid": 77747314}},
        {"error": "Price must be divisible by tick size. asset=0"},
    ]
    body = {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}
    server.answer = (200, body, {})
    client = _pointed(ccxt, server, "hyperliquid")
    exc = _raised(client.private_post_exchange, {"action": {"type": "order"}})
    err = normalizer.normalize("hyperliquid", error=exc, operation="place_order")
    assert [(i.item_index, i.label) for i in err.items] == [
        (1, "INVALID_REQUEST.MIN_AMOUNT"),
        (3, "INVALID_REQUEST.PRECISION"),
    ]
    assert {i.outcome.value for i in err.items} == {"REJECTED"}
    assert normalizer.recommend(err).action is Action.HALT


# ------------------------------------------------- ccxt's tables for the venues


@pytest.mark.parametrize("exchange", VENUES)
def test_every_class_ccxt_raises_for_the_venue_is_mapped_or_says_nothing(
    ccxt: Any, exchange: str
) -> None:
    """Every class in ccxt's exact and broad tables of the venue has an entry in
    rules/common/ccxt.yaml, or is plain ExchangeError (which says nothing, so
    an error no rule of ours knows stays UNKNOWN)."""
    from normalizer.analysis.ccxt_compare import _exception_tables

    table = load_class_table()
    exact, broad = _exception_tables(getattr(ccxt, exchange)().exceptions)
    classes = {c for cs in (*exact.values(), *broad.values()) for c in cs}
    assert classes, exchange
    for cls in classes:
        names = ccxt_classes(cls())
        assert names[0] == "ExchangeError" or table.lookup(names)[0] == names[0], names


@pytest.mark.parametrize("exchange", VENUES)
def test_every_documented_code_is_specific_and_compared_with_ccxt(ccxt: Any, exchange: str) -> None:
    """Every documented code of the venue has a rule with a subcategory, and
    where ccxt's class for it disagrees on the category, the disagreement is
    never one that would retry what must not be retried: never AUTH or KYC
    (ESCALATE) answered by a class whose category retries."""
    from normalizer._formats.registry import registry
    from normalizer.analysis import compare_with_ccxt
    from normalizer.analysis.verdicts import code_verdicts

    rs = registry().get(exchange)
    assert {v.level for v in code_verdicts(rs)} == {"specific"}
    rows = compare_with_ccxt(exchange, ccxt)
    assert [r.code for r in rows] == rs.catalog.codes()
    for r in rows:
        if r.verdict == "disagree" and r.our_category in {"AUTH", "KYC"}:
            assert r.ccxt_category is not None
            assert not r.ccxt_category.startswith(("RATE_LIMIT", "UNAVAILABLE")), r


# ------------------------- ccxt's classes beside ours, on each venue's own bodies


def _venue_body(exchange: str, code: str, message: str, status: int | None) -> tuple[int, Any]:
    """A documented code and message in the venue's real envelope (what its ccxt
    client's handle_errors reads): HTX string and integer codes, Bitfinex's
    array with HTTP 500, Hyperliquid's per-order status, WhiteBIT's field text."""
    if exchange == "htx":
        if code.lstrip("-").isdigit():
            return 200, {"status": "error", "err_code": int(code), "err_msg": message, "ts": 1}
        return 200, {"status": "error", "err-code": code, "err-msg": message, "data": None}
    if exchange == "bitfinex":
        return 500, ["error", int(code) if code.isdigit() else code, message]
    if exchange == "hyperliquid":
        statuses = [{"error": message}]
        return 200, {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}
    field = {"code": int(code) if code.isdigit() else 0, "message": "Validation failed"}
    return status or 422, {**field, "errors": {"amount": [message]}}


#: Where ccxt's class and our category part, on purpose (the rubric decides):
DELIBERATE = {
    "htx": {
        "base-record-invalid": "'Failed to get data' mid-order is an unknown outcome",
        "base-symbol-trade-disabled": "a symbol disabled for trading is a market state",
        "order-holding-limit-failed": "a holding limit is a standing quota, not a bad order",
        "order-update-error": "an update failure without a reason leaves a write's outcome unknown",
        "bad-request": "its market-closed, rate-limit and timeout wordings are not bad requests",
        "1003": "'Redis error' is a server failure, not an authentication failure",
        "1010": "a missing account is NOT_FOUND; ccxt calls it AccountNotEnabled",
        "1051": "no order to cancel is a missing order (a cancel may have lost a race)",
        "1461": "the position limit is a standing quota",
        "403": "'invalid ID' is a parameter, not a credential",
    },
    "hyperliquid": {
        "Order could not immediately match against any resting orders.": "no liquidity now",
        "No liquidity available for market order.": "no liquidity now, the book may change",
    },
    "bitfinex": {
        "10001": "ERR_GENERIC without a reason on a write is an unknown outcome",
        "20060": "a resync with writes in flight leaves their outcome unknown",
    },
    "whitebit": {},
}


@pytest.mark.parametrize("exchange", VENUES)
def test_ccxt_disagrees_with_our_category_only_where_we_chose_to(ccxt: Any, exchange: str) -> None:
    """Every documented entry, in the venue's real envelope, through ccxt's own
    handle_errors: where ccxt's class says something specific, our category
    agrees with it except on the codes listed in DELIBERATE, each with its reason."""
    from normalizer._formats.registry import registry

    client = getattr(ccxt, exchange)()
    table = load_class_table()
    agree, parted = 0, set()
    for entry in registry().get(exchange).catalog.entries:
        status, body = _venue_body(exchange, entry.code, entry.message, entry.http_status)
        text = json.dumps(body)
        try:
            client.handle_errors(status, "", "https://x/", "POST", {}, text, body, {}, "")
            continue  # ccxt raises nothing for it
        except Exception as exc:  # what ccxt raises is the subject
            hit = table.lookup(ccxt_classes(exc))
        if hit is None:
            continue  # plain ExchangeError and the like: ccxt says nothing specific
        ours = normalizer.normalize(
            exchange, body=text, http_status=status, operation="place_order"
        )
        if hit[1].category.split(".")[0] == ours.category.value:
            agree += 1
        else:
            parted.add(entry.code)
    assert parted == set(DELIBERATE[exchange])
    assert agree >= len(parted)  # ccxt's specific answers mostly agree with ours


def test_htx_rate_limit_through_ccxt_waits_for_the_reset_header(ccxt: Any, server: Any) -> None:
    """HTX answers 1032 with HTTP 200; ccxt raises plain ExchangeError from its
    error handler, so the headers (ratelimit-reset, epoch ms) come from the
    client and are passed in: the code says rate limit, the wait is the venue's."""
    import time

    reset = int((time.time() + 5) * 1000)
    body = {
        "status": "error",
        "err_code": 1032,
        "err_msg": "The number of access exceeded the limit.",
    }
    server.answer = (200, body, {"ratelimit-reset": str(reset)})
    client = _pointed(ccxt, server, "htx")
    exc = _raised(client.contract_private_post_swap_api_v1_swap_order, {"contract_code": "X"})
    assert type(exc).__name__ == "ExchangeError"  # ccxt's table does not know 1032
    err = normalizer.normalize(
        "htx", error=exc, headers=client.last_response_headers, operation="place_order"
    )
    assert (err.code, err.subcategory, err.rule_id) == (
        "1032",
        "RATE_LIMIT.REQUESTS",
        "htx.rate.requests",
    )
    assert err.retry_after_s is not None
    assert 0 < err.retry_after_s <= 5
    rec = normalizer.recommend(err)
    assert rec.action is Action.RETRY
    assert rec.delay_s >= err.retry_after_s


def test_htx_spot_expire_header_is_read_only_for_rate_limits() -> None:
    """X-HB-RateLimit-Requests-Expire (epoch ms) comes on every spot answer: it
    is the wait only when the answer is a rate limit."""
    import time

    expire = {"X-HB-RateLimit-Requests-Expire": str(int((time.time() + 4) * 1000))}
    limited = '{"status":"error","err-code":"frequent-invoke","err-msg":"Operates too frequently"}'
    err = normalizer.normalize("htx", body=limited, headers=expire, operation="place_order")
    assert err.subcategory == "RATE_LIMIT.REQUESTS"
    assert err.retry_after_s is not None
    assert 0 < err.retry_after_s <= 4
    other = '{"status":"error","err-code":"order-accountbalance-error","err-msg":"x"}'
    plain = normalizer.normalize("htx", body=other, headers=expire, operation="place_order")
    assert (plain.subcategory, plain.retry_after_s) == ("INSUFFICIENT_FUNDS.BALANCE", None)


def test_htx_system_error_on_an_order_through_ccxt_is_checked_not_resent(
    ccxt: Any, server: Any
) -> None:
    """base-system-error on an order leaves its outcome unknown: query first."""
    body = {
        "status": "error",
        "err-code": "base-system-error",
        "err-msg": "System internel error. For placing or canceling order, it is mostly"
        " due to cache issue, please try again later.",
        "data": None,
    }
    server.answer = (200, body, {})
    exc = _raised(_pointed(ccxt, server, "htx").spot_private_post_v1_order_orders_place, {})
    err = normalizer.normalize("htx", error=exc, operation="place_order")
    assert (err.category, err.rule_id) == (Category.UNKNOWN_STATE, "htx.unknown.server-error")
    assert normalizer.recommend(err).action is Action.QUERY_THEN_RETRY
    read = normalizer.normalize("htx", error=exc, operation="query")
    assert read.subcategory == "UNAVAILABLE.SERVICE"


#: (venue, HTTP status, body, what the same answer to a read is)
UNKNOWN_OUTCOME = [
    ("htx", 200, '{"status":"error","err-code":"base-system-error","err-msg":"x"}', "UNAVAILABLE"),
    (
        "htx",
        200,
        '{"status":"error","err_code":1004,"err_msg":"System busy.","ts":1}',
        "UNAVAILABLE",
    ),
    (
        "htx",
        200,
        '{"status":"error","err_code":1003,"err_msg":"Redis error.","ts":1}',
        "UNAVAILABLE",
    ),
    ("bitfinex", 500, '["error",10001,"Generic error"]', "UNKNOWN"),
    ("bitfinex", 500, '["error",10008,"Concurrency error"]', "UNAVAILABLE"),
    ("bitfinex", 503, '{"code":503,"error":"temporarily_unavailable"}', "UNAVAILABLE"),
    ("whitebit", 500, '{"code":500,"message":"Internal server error"}', "UNAVAILABLE"),
    (
        "whitebit",
        200,
        '{"id":2,"result":null,"error":{"code":2,"message":"internal error"}}',
        "UNAVAILABLE",
    ),
    ("whitebit", 400, '{"code":0,"message":"Some error"}', "UNKNOWN"),
]


@pytest.mark.parametrize(("exchange", "status", "body", "on_read"), UNKNOWN_OUTCOME)
def test_unknown_outcome_write_is_checked_never_resent(
    exchange: str, status: int, body: str, on_read: str
) -> None:
    """The promise on the four venues: a server failure, busy answer or failure
    without a reason on an order or transfer leaves its fate unknown, so it is
    checked first (QUERY_THEN_RETRY), never resent blindly. The same answer to a
    read is UNAVAILABLE (retried after a delay) or, with no reason at all,
    UNKNOWN, as the rubric says."""
    for operation in ("place_order", "transfer"):
        err = normalizer.normalize(exchange, body=body, http_status=status, operation=operation)
        assert err.category is Category.UNKNOWN_STATE, (operation, err.rule_id)
        assert normalizer.recommend(err).action is Action.QUERY_THEN_RETRY
    read = normalizer.normalize(exchange, body=body, http_status=status, operation="query")
    assert read.category.value == on_read, read.rule_id
    if on_read == "UNAVAILABLE":  # (UNKNOWN on a read: the policy decides)
        assert normalizer.recommend(read).action is Action.RETRY


# ------------------------------------- the envelope: a top-level array by position


def test_bitfinex_array_is_read_by_position_and_other_venues_arrays_stay_malformed() -> None:
    """A code path starting with an index reads a top-level JSON array
    (``["error", code, text]``); a venue whose paths name no index still
    calls an array it cannot read malformed, as before."""
    from normalizer._engine.envelope import extract
    from normalizer._formats.registry import registry

    bitfinex = registry().get("bitfinex").spec.response
    env = extract(bitfinex, ["error", 10020, "price: invalid"])
    assert (env.code, env.message, env.malformed) == ("10020", "price: invalid", False)
    wrapped = [0, "n", [1, "on-req", None, None, [], None, "ERROR", "Invalid order: x"]]
    assert (extract(bitfinex, wrapped).code, extract(bitfinex, wrapped).message) == (
        "ERROR",
        "Invalid order: x",
    )
    ok = [1, "on-req", None, None, [], None, "SUCCESS", "Submitting 1 orders."]
    assert extract(bitfinex, ok).success
    okx = registry().get("okx").spec.response
    assert extract(okx, ["error", 10020, "price: invalid"]).malformed
