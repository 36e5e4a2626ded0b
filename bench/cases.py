"""The error bodies both sides classify: raw JSON text, as it comes off the wire.

Each case is one failed request of OKX or MEXC, written the way the exchange
answers it (OKX: HTTP 200 and ``{"code", "msg", "data"}``; MEXC spot v3: a 4xx
status and ``{"code", "msg"}`` with a numeric code). ``operation`` is what the
request was doing; it is passed to ``recommend()``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    exchange: str  # "okx" or "mexc"
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
        "okx read timeout",
        "okx",
        None,
        None,
        "place_order",
        "requests' ReadTimeout: no body at all",
    ),
)

URL = "https://www.okx.com/api/v5/asset/transfer"
METHOD = "POST"
