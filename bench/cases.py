"""The error bodies both sides classify: raw JSON text, as it comes off the wire.

Each case is one failed request of one of the nine venues, written the way the
exchange answers it (OKX: HTTP 200 and ``{"code", "msg", "data"}``; MEXC spot
v3: a 4xx status and ``{"code", "msg"}`` with a numeric code; Bybit's
``retCode``/``retMsg``; Gate's ``label``; Kraken's list of error strings;
Coinbase Advanced Trade's ``success: false`` with an ``error_response``); the
bodies are those of the venues' rule tests (``rules/<venue>/tests.yaml``).
``operation`` is what the request was doing; it is passed to ``recommend()``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    exchange: str  # one of the nine venues
    http_status: int | None
    body: str | None  # raw JSON text; None for a transport failure
    operation: str
    note: str


CASES: tuple[Case, ...] = (
    Case(
        "okx exact code",
        "okx",
        200,
        '{"code":"58102","msg":"Rate limit reached. Please refer to API docs and throttle '
        'requests accordingly.","data":[]}',
        "transfer",
        "OKX funding rate limit, code 58102",
    ),
    Case(
        "mexc exact code",
        "mexc",
        400,
        '{"code":10101,"msg":"Insufficient balance"}',
        "withdraw",
        "MEXC insufficient balance, numeric code 10101",
    ),
    Case(
        "mexc message only",
        "mexc",
        400,
        '{"success":false,"code":123456,"message":"Oversold"}',
        "place_order",
        "a code nobody documents; the message decides (ours: catalog template; ccxt: broad)",
    ),
    Case(
        "okx unknown code",
        "okx",
        200,
        '{"code":"59999","msg":"Something new went wrong","data":[]}',
        "query",
        "a code neither side knows",
    ),
    Case(
        "okx batch answer",
        "okx",
        200,
        '{"code":"1","msg":"All operations failed","data":['
        '{"clientId":"a1","sCode":"58350","sMsg":"Insufficient balance."},'
        '{"clientId":"a2","sCode":"58102","sMsg":"Rate limit reached."}]}',
        "transfer",
        "a batch endpoint's answer: per-item sCode/sMsg",
    ),
    Case(
        "binance exact code",
        "binance",
        400,
        '{"code":-2010,"msg":"Account has insufficient balance for requested action."}',
        "place_order",
        "Binance spot: a new order refused for the balance",
    ),
    Case(
        "bybit exact code",
        "bybit",
        200,
        '{"retCode":10006,"retMsg":"Too many visits","result":{},"retExtInfo":{},'
        '"time":1693924869139}',
        "place_order",
        "Bybit v5 rate limit, HTTP 200 with retCode",
    ),
    Case(
        "kucoin exact code",
        "kucoin",
        200,
        '{"code":"200004","msg":"Balance insufficient!"}',
        "place_order",
        "KuCoin insufficient balance, code as text",
    ),
    Case(
        "gate label",
        "gate",
        400,
        '{"label":"BALANCE_NOT_ENOUGH","message":"Not enough balance"}',
        "place_order",
        "Gate v4: the label is the code",
    ),
    Case(
        "bitget exact code",
        "bitget",
        400,
        '{"code":"40762","msg":"The order amount exceeds the balance",'
        '"requestTime":1695806875837,"data":null}',
        "place_order",
        "Bitget v2 order amount above the balance",
    ),
    Case(
        "kraken error string",
        "kraken",
        200,
        '{"error":["EOrder:Insufficient funds"],"result":{}}',
        "place_order",
        "Kraken: HTTP 200 and a list of error strings",
    ),
    Case(
        "coinbase failure reason",
        "coinbase",
        200,
        '{"success":false,"failure_reason":"UNKNOWN_FAILURE_REASON","order_id":"",'
        '"error_response":{"error":"INSUFFICIENT_FUND","message":"Insufficient balance in '
        'source account","error_details":"","preview_failure_reason":"PREVIEW_INSUFFICIENT_FUND"},'
        '"order_configuration":{"market_market_ioc":{"quote_size":"10"}}}',
        "place_order",
        "Coinbase Advanced Trade create order: success false, the enum in error_response",
    ),
    Case(
        "okx read timeout",
        "okx",
        None,
        None,
        "place_order",
        "requests' ReadTimeout: no body at all",
    ),
)

URL = "https://www.okx.com/api/v5/asset/transfer"  # OKX's cases; the others use their client's
METHOD = "POST"
