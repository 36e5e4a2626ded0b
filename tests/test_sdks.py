"""Official exchange SDKs' exceptions, raised by the real clients from PyPI.

Each SDK's client sends its request to a local HTTP server on 127.0.0.1 that
answers a venue's error body (with ``Retry-After`` where the venue sends one);
the SDK raises (or returns the body) as it does in production, and
``normalize(venue, error=exc)`` must give the documented code, category and
wait. Nothing reaches the internet: every client's base URL points at the
local server. A package that cannot be installed on this Python is skipped by
``importorskip``, which names it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from normalizer import normalize
from normalizer._engine.sdks import is_sdk_error


class Answer:
    """What the local server answers next: status, body, headers."""

    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = b"{}"
        self.headers: dict[str, str] = {}
        self.paths: list[str] = []

    def set(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = headers or {}


@pytest.fixture
def venue() -> Iterator[tuple[str, Answer]]:
    """A local server on 127.0.0.1 answering every request with ``Answer``."""
    answer = Answer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            answer.paths.append(self.path)
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            for k, v in answer.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = do_DELETE = do_PUT = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answer
    finally:
        server.shutdown()
        server.server_close()


def _raised(call: Any) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: PT011 - each SDK raises its own class
        call()
    return info.value


KEY = "k" * 64
SECRET = "c2VjcmV0" * 8  # base64, as Kraken's secrets are


# ------------------------------------------------------------ Binance


def test_python_binance_futures_margin_insufficient(venue: tuple[str, Answer]) -> None:
    """python-binance's BinanceAPIException: code, message and status read; the
    USDⓈ-M meaning of -2019 (margin), not the spot fallback."""
    pytest.importorskip("binance.client", reason="python-binance not installable here")
    from binance.client import Client

    url, answer = venue
    client = Client(KEY, SECRET, ping=False)
    client.FUTURES_URL = f"{url}/fapi"
    answer.set(400, {"code": -2019, "msg": "Margin is insufficient."})
    exc = _raised(
        lambda: client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=1)
    )
    assert type(exc).__module__ == "binance.exceptions"
    assert is_sdk_error(exc)
    r = normalize("binance", error=exc, url="https://fapi.binance.com/fapi/v1/order")
    assert (r.code, r.http_status) == ("-2019", 400)
    assert r.subcategory == "INSUFFICIENT_FUNDS.MARGIN"
    assert answer.paths
    assert answer.paths[0].startswith("/fapi/v1/order")


def test_python_binance_rate_limit_waits_retry_after(venue: tuple[str, Answer]) -> None:
    """A 429 with Retry-After through python-binance keeps the venue's wait."""
    pytest.importorskip("binance.client", reason="python-binance not installable here")
    from binance.client import Client

    url, answer = venue
    client = Client(KEY, SECRET, ping=False)
    client.API_URL = f"{url}/api"
    answer.set(
        429,
        {
            "code": -1003,
            "msg": "Too many requests; current limit is 6000 request weight per 1 MINUTE.",
        },
        {"Retry-After": "17"},
    )
    exc = _raised(lambda: client.get_order(symbol="BTCUSDT", orderId=1))
    r = normalize("binance", error=exc, operation="query")
    assert r.category.name == "RATE_LIMIT"
    assert r.code == "-1003"
    assert r.retry_after_s == pytest.approx(17.0)


def test_python_binance_async_client_keeps_the_wait(venue: tuple[str, Answer]) -> None:
    """python-binance's AsyncClient raises BinanceAPIException over aiohttp's
    response (no readable body there): code and message from the exception's
    attributes, status and Retry-After from the response."""
    pytest.importorskip("binance.async_client", reason="python-binance not installable here")
    import asyncio

    from binance.async_client import AsyncClient

    url, answer = venue
    answer.set(429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "9"})

    async def place() -> BaseException:
        client = AsyncClient(KEY, SECRET)
        client.FUTURES_URL = f"{url}/fapi"
        try:
            await client.futures_create_order(
                symbol="BTCUSDT", side="BUY", type="MARKET", quantity=1
            )
        except Exception as exc:
            return exc
        finally:
            await client.close_connection()
        raise AssertionError("the SDK did not raise")

    exc = asyncio.run(place())
    assert type(exc).__name__ == "BinanceAPIException"
    r = normalize("binance", error=exc, product="usdm", operation="place_order")
    assert (r.code, r.http_status, r.category.name) == ("-1003", 429, "RATE_LIMIT")
    assert r.retry_after_s == pytest.approx(9.0)


def test_binance_connector_client_error_keeps_code_and_wait(venue: tuple[str, Answer]) -> None:
    """binance-connector's ClientError: status_code, error_code, error_message and
    header (Retry-After) read."""
    pytest.importorskip("binance.spot", reason="binance-connector not installable here")
    from binance.spot import Spot

    url, answer = venue
    client = Spot(api_key=KEY, api_secret=SECRET, base_url=url)
    answer.set(
        429,
        {
            "code": -1003,
            "msg": "Too much request weight used; current limit is 6000 request weight per "
            "1 MINUTE.",
        },
        {"Retry-After": "31"},
    )
    exc = _raised(lambda: client.new_order("BTCUSDT", "BUY", "MARKET", quantity=1))
    assert type(exc).__name__ == "ClientError"
    assert is_sdk_error(exc)
    r = normalize("binance", error=exc, operation="place_order")
    assert (r.code, r.http_status, r.category.name) == ("-1003", 429, "RATE_LIMIT")
    assert r.retry_after_s == pytest.approx(31.0)


def test_binance_futures_connector_reduce_only_rejected(venue: tuple[str, Answer]) -> None:
    """The futures connector (UMFutures) raises binance.error.ClientError; -2022 is
    the USDⓈ-M reduce-only refusal, not spot's cancel-replace failure."""
    pytest.importorskip("binance.um_futures", reason="binance-futures-connector not installable")
    from binance.um_futures import UMFutures

    url, answer = venue
    client = UMFutures(key=KEY, secret=SECRET, base_url=url)
    answer.set(400, {"code": -2022, "msg": "ReduceOnly Order is rejected."})
    exc = _raised(
        lambda: client.new_order(
            symbol="BTCUSDT", side="SELL", type="MARKET", quantity=1, reduceOnly="true"
        )
    )
    r = normalize(
        "binance", error=exc, url=url.replace("http://127.0.0.1", "https://fapi.binance.com")
    )
    assert r.code == "-2022"
    assert r.rule_id is not None
    assert r.rule_id.startswith("binance-usdm")
    assert r.category.name != "UNKNOWN_STATE"


def test_binance_futures_connector_server_error_is_unknown_on_a_write(
    venue: tuple[str, Answer],
) -> None:
    """ServerError (a 5xx) keeps its status and body: a write's outcome is unknown."""
    pytest.importorskip("binance.um_futures", reason="binance-futures-connector not installable")
    from binance.um_futures import UMFutures

    url, answer = venue
    client = UMFutures(key=KEY, secret=SECRET, base_url=url)
    answer.set(
        503,
        {
            "code": -1008,
            "msg": "Server is currently overloaded with other requests. Please try again in "
            "a few minutes.",
        },
    )
    exc = _raised(lambda: client.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=1))
    assert type(exc).__name__ == "ServerError"
    r = normalize("binance", error=exc, product="usdm", operation="place_order")
    assert (r.code, r.http_status) == ("-1008", 503)
    assert r.category.name == "UNKNOWN_STATE"


# ------------------------------------------------------------ Bybit (pybit)


def _pybit(url: str) -> Any:
    pytest.importorskip("pybit.unified_trading", reason="pybit not installable here")
    from pybit.unified_trading import HTTP

    session = HTTP(api_key=KEY, api_secret=SECRET, max_retries=1, retry_delay=0)
    session.endpoint = url
    return session


def test_pybit_invalid_request_reads_ret_code(venue: tuple[str, Answer]) -> None:
    """pybit's InvalidRequestError keeps Bybit's retCode in status_code: it is the
    code (10000 Server Timeout on a write: outcome unknown), not an HTTP status."""
    url, answer = venue
    session = _pybit(url)
    answer.set(
        200,
        {"retCode": 10000, "retMsg": "Server Timeout", "result": {}, "retExtInfo": {}, "time": 1},
    )
    exc = _raised(
        lambda: session.place_order(
            category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="1"
        )
    )
    assert type(exc).__name__ == "InvalidRequestError"
    r = normalize("bybit", error=exc, operation="place_order")
    assert r.code == "10000"
    assert r.http_status is None
    assert r.subcategory == "UNKNOWN_STATE.TIMEOUT"


def test_pybit_failed_request_keeps_status_and_wait(venue: tuple[str, Answer]) -> None:
    """pybit's FailedRequestError (HTTP not 200) keeps the status and headers: a
    Bybit rate limit with its reset timestamp waits until then."""
    import time

    url, answer = venue
    session = _pybit(url)
    reset_ms = int((time.time() + 20) * 1000)
    answer.set(
        429,
        {"retCode": 10006, "retMsg": "Too many visits!"},
        {"X-Bapi-Limit-Reset-Timestamp": str(reset_ms)},
    )
    exc = _raised(lambda: session.get_open_orders(category="linear", symbol="BTCUSDT"))
    assert type(exc).__name__ == "FailedRequestError"
    r = normalize("bybit", error=exc, operation="query")
    assert r.http_status == 429
    assert r.category.name == "RATE_LIMIT"
    assert r.retry_after_s is not None
    assert 10.0 < r.retry_after_s <= 20.0


def test_pybit_own_failure_has_no_venue_status() -> None:
    """A FailedRequestError pybit makes itself (retries exhausted, no response)
    carries a made-up 400: it is not read as the venue's answer."""
    pytest.importorskip("pybit.exceptions", reason="pybit not installable here")
    from pybit.exceptions import FailedRequestError

    exc = FailedRequestError(
        "POST /v5/order/create: {}", "Bad Request. Retries exceeded maximum.", 400, "00:00:00", None
    )
    r = normalize("bybit", error=exc, operation="place_order")
    assert r.http_status is None
    assert r.category.name != "INVALID_REQUEST"


# ------------------------------------------------------------ OKX (python-okx)


def test_python_okx_returns_the_error_body(venue: tuple[str, Answer]) -> None:
    """python-okx returns the venue's body rather than raising: it is read as a body."""
    pytest.importorskip("okx.Trade", reason="python-okx not installable here")
    from okx.Trade import TradeAPI

    url, answer = venue
    api = TradeAPI(KEY, SECRET, "pass", flag="0", domain=url)
    answer.set(
        200,
        {
            "code": "1",
            "msg": "All operations failed",
            "data": [
                {
                    "sCode": "51008",
                    "sMsg": "Order failed. Insufficient USDT balance in account.",
                    "ordId": "",
                    "clOrdId": "",
                }
            ],
        },
    )
    body = api.place_order(instId="BTC-USDT", tdMode="cash", side="buy", ordType="market", sz="1")
    r = normalize("okx", body=body, operation="place_order")
    assert r.code == "51008"
    assert r.category.name == "INSUFFICIENT_FUNDS"


def test_python_okx_api_exception_reads_code_and_status(venue: tuple[str, Answer]) -> None:
    """OkxAPIException (raised by python-okx's earlier clients on a non-2xx answer)
    built from a real response: code, message, status and headers read."""
    okx_exceptions = pytest.importorskip("okx.exceptions", reason="python-okx not installable")
    import httpx

    url, answer = venue
    answer.set(
        429,
        {
            "code": "50011",
            "msg": "Rate limit reached. Please refer to API documentation and throttle "
            "requests accordingly.",
            "data": [],
        },
        {"Retry-After": "3"},
    )
    response = httpx.get(f"{url}/api/v5/trade/order")
    exc = okx_exceptions.OkxAPIException(response)
    r = normalize("okx", error=exc, operation="query")
    assert (r.code, r.http_status, r.category.name) == ("50011", 429, "RATE_LIMIT")
    assert r.retry_after_s == pytest.approx(3.0)


# ------------------------------------------------------------ Gate (gate-api)


def _gate(url: str) -> Any:
    gate_api = pytest.importorskip("gate_api", reason="gate-api not installable here")
    config = gate_api.Configuration(host=f"{url}/api/v4", key=KEY, secret=SECRET)
    return gate_api, gate_api.SpotApi(gate_api.ApiClient(config))


def test_gate_api_label_and_message(venue: tuple[str, Answer]) -> None:
    """gate-api's GateApiException: label, message, status, headers read."""
    url, answer = venue
    gate_api, spot = _gate(url)
    answer.set(400, {"label": "BALANCE_NOT_ENOUGH", "message": "Not enough balance"})
    order = gate_api.Order(currency_pair="BTC_USDT", side="buy", amount="1", price="1")
    exc = _raised(lambda: spot.create_order(order))
    assert type(exc).__name__ == "GateApiException"
    r = normalize("gate", error=exc, operation="place_order")
    assert (r.code, r.http_status) == ("BALANCE_NOT_ENOUGH", 400)
    assert r.category.name == "INSUFFICIENT_FUNDS"


def test_gate_api_too_busy_on_a_write_is_unknown(venue: tuple[str, Answer]) -> None:
    """TOO_BUSY (HTTP 503) answering an order: its outcome is unknown."""
    url, answer = venue
    gate_api, spot = _gate(url)
    answer.set(503, {"label": "TOO_BUSY", "message": "Server is too busy, please try again later"})
    order = gate_api.Order(currency_pair="BTC_USDT", side="buy", amount="1", price="1")
    exc = _raised(lambda: spot.create_order(order))
    r = normalize("gate", error=exc, operation="place_order")
    assert r.code == "TOO_BUSY"
    assert r.category.name == "UNKNOWN_STATE"


# ------------------------------------------------------------ KuCoin


def test_python_kucoin_api_exception(venue: tuple[str, Answer]) -> None:
    """python-kucoin's KucoinAPIException: status and body from its response."""
    pytest.importorskip("kucoin.client", reason="python-kucoin not installable here")
    from kucoin.client import Client

    url, answer = venue
    client = Client(KEY, SECRET, "pass")
    client.API_URL = url
    answer.set(400, {"code": "200004", "msg": "Balance insufficient!"})
    exc = _raised(lambda: client.create_market_order("BTC-USDT", "buy", size="1"))
    assert type(exc).__name__ == "KucoinAPIException"
    r = normalize("kucoin", error=exc, operation="place_order")
    assert (r.code, r.http_status, r.category.name) == ("200004", 400, "INSUFFICIENT_FUNDS")


def _kucoin_universal(url: str) -> Any:
    pytest.importorskip("kucoin_universal_sdk", reason="kucoin-universal-sdk not installable here")
    from kucoin_universal_sdk.api.client import DefaultClient
    from kucoin_universal_sdk.model.client_option import ClientOptionBuilder
    from kucoin_universal_sdk.model.transport_option import TransportOptionBuilder

    option = (
        ClientOptionBuilder()
        .set_key(KEY)
        .set_secret(SECRET)
        .set_passphrase("pass")
        .set_spot_endpoint(url)
        .set_transport_option(TransportOptionBuilder().set_max_retries(0).build())
        .build()
    )
    return DefaultClient(option).rest_service().get_spot_service().get_order_api()


def _kucoin_order() -> Any:
    from kucoin_universal_sdk.generate.spot.order.model_add_order_req import (
        AddOrderReq,
        AddOrderReqBuilder,
    )

    return (
        AddOrderReqBuilder()
        .set_client_oid("c1")
        .set_side(AddOrderReq.SideEnum.BUY)
        .set_symbol("BTC-USDT")
        .set_type(AddOrderReq.TypeEnum.MARKET)
        .set_size("1")
        .build()
    )


def test_kucoin_universal_rest_error_with_a_response(venue: tuple[str, Answer]) -> None:
    """kucoin-universal-sdk's RestError after a 200 that says error: the code and
    message are in its ``response``."""
    url, answer = venue
    api = _kucoin_universal(url)
    answer.set(200, {"code": "200004", "msg": "Balance insufficient!"})
    exc = _raised(lambda: api.add_order(_kucoin_order()))
    assert type(exc).__name__ == "RestError"
    assert is_sdk_error(exc)
    r = normalize("kucoin", error=exc, operation="place_order")
    assert r.code == "200004"
    assert r.category.name == "INSUFFICIENT_FUNDS"


def test_kucoin_universal_rest_error_status_in_text(venue: tuple[str, Answer]) -> None:
    """After a non-200 the SDK keeps the status and body only in its text: both read."""
    url, answer = venue
    api = _kucoin_universal(url)
    answer.set(429, {"code": "429000", "msg": "Too Many Requests"})
    exc = _raised(lambda: api.add_order(_kucoin_order()))
    r = normalize("kucoin", error=exc, operation="place_order")
    assert (r.code, r.http_status, r.category.name) == ("429000", 429, "RATE_LIMIT")


def test_kucoin_universal_connection_refused_never_sent() -> None:
    """A refused connection wrapped in RestError is still a transport failure
    (what it was raised from is read)."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    api = _kucoin_universal(f"http://127.0.0.1:{port}")
    exc = _raised(lambda: api.add_order(_kucoin_order()))
    r = normalize("kucoin", error=exc, operation="place_order")
    assert r.subcategory == "UNAVAILABLE.CONNECTION"
    assert r.rule_id == "common.transport.never-sent"


# ------------------------------------------------------------ Coinbase


def _to_local(session: Any, url: str) -> None:
    """Send every https request of a requests session to the local server."""
    import requests

    class Local(requests.adapters.HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            path = request.url.split("/", 3)[3]
            request.url = f"{url}/{path}"
            return super().send(request, **kwargs)

    session.mount("https://", Local())


def test_coinbase_advanced_http_error(venue: tuple[str, Answer]) -> None:
    """coinbase-advanced-py raises requests' HTTPError with its response: status,
    body (error_response) and headers read as any HTTP client's error."""
    pytest.importorskip("coinbase.rest", reason="coinbase-advanced-py not installable here")
    from coinbase.rest import RESTClient
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )
    url, answer = venue
    client = RESTClient(api_key="organizations/o/apiKeys/k", api_secret=pem)
    _to_local(client.session, url)
    answer.set(
        429,
        {
            "error": "RESOURCE_EXHAUSTED",
            "error_details": "Too many requests",
            "message": "Too many requests",
        },
        {"Retry-After": "4"},
    )
    exc = _raised(
        lambda: client.market_order_buy(client_order_id="c1", product_id="BTC-USD", quote_size="10")
    )
    assert type(exc).__name__ == "HTTPError"
    r = normalize("coinbase", error=exc, operation="place_order")
    assert r.http_status == 429
    assert r.category.name == "RATE_LIMIT"
    assert r.retry_after_s == pytest.approx(4.0)


# ------------------------------------------------------------ Kraken


def test_python_kraken_sdk_error_class(venue: tuple[str, Answer]) -> None:
    """python-kraken-sdk raises one class per error string, the body written as
    Python after ``Details:``: the body is read back and Kraken's rules decide."""
    pytest.importorskip("kraken.spot", reason="python-kraken-sdk not installable here")
    from kraken.spot import Trade

    url, answer = venue
    trade = Trade(key=KEY, secret=SECRET, url=url)
    answer.set(200, {"error": ["EOrder:Insufficient funds"], "result": {}})
    exc = _raised(
        lambda: trade.create_order(ordertype="market", side="buy", pair="XBTUSD", volume="1")
    )
    assert type(exc).__name__ == "KrakenInsufficientFundsError"
    assert is_sdk_error(exc)
    r = normalize("kraken", error=exc, operation="place_order")
    assert r.code == "EOrder:Insufficient funds"
    assert r.category.name == "INSUFFICIENT_FUNDS"


def test_python_kraken_sdk_invalid_arguments_with_detail(venue: tuple[str, Answer]) -> None:
    """A three-part error string through the SDK keeps its documented code."""
    pytest.importorskip("kraken.spot", reason="python-kraken-sdk not installable here")
    from kraken.spot import Trade

    url, answer = venue
    trade = Trade(key=KEY, secret=SECRET, url=url)
    answer.set(200, {"error": ["EGeneral:Invalid arguments:volume"], "result": {}})
    exc = _raised(
        lambda: trade.create_order(ordertype="market", side="buy", pair="XBTUSD", volume="1")
    )
    r = normalize("kraken", error=exc, operation="place_order")
    assert r.code == "EGeneral:Invalid arguments"
    assert r.category.name == "INVALID_REQUEST"


def test_krakenex_returns_the_body_and_raises_http_errors(venue: tuple[str, Answer]) -> None:
    """krakenex returns the body of an error answer and raises requests' HTTPError
    (with its response) on a non-2xx status."""
    krakenex = pytest.importorskip("krakenex", reason="krakenex not installable here")
    url, answer = venue
    api = krakenex.API(key=KEY, secret=SECRET)
    api.uri = url
    answer.set(200, {"error": ["EAPI:Rate limit exceeded"], "result": {}})
    body = api.query_private(
        "AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "1"}
    )
    r = normalize("kraken", body=body, operation="place_order")
    assert r.code == "EAPI:Rate limit exceeded"
    assert r.category.name == "RATE_LIMIT"
    answer.set(503, b"<html><title>503 Service Unavailable</title></html>")
    exc = _raised(lambda: api.query_public("Time"))
    r = normalize("kraken", error=exc, operation="query")
    assert r.http_status == 503
    assert r.category.name in ("UNAVAILABLE", "SERVER")


def test_python_kraken_sdk_futures_send_status(venue: tuple[str, Answer]) -> None:
    """The SDK's Futures client raises on a sendStatus it knows; the body read back
    is Kraken Futures' (product="futures"): insufficient funds, not an unknown outcome."""
    pytest.importorskip("kraken.futures", reason="python-kraken-sdk not installable here")
    from kraken.futures import Trade

    url, answer = venue
    trade = Trade(key=KEY, secret=SECRET, url=url)
    answer.set(
        200,
        {
            "result": "success",
            "sendStatus": {"status": "insufficientAvailableFunds"},
            "serverTime": "2024-01-01T00:00:00.000Z",
        },
    )
    exc = _raised(
        lambda: trade.create_order(
            orderType="lmt", size=1, symbol="PF_XBTUSD", side="buy", limitPrice=1
        )
    )
    assert type(exc).__name__ == "KrakenInsufficientAvailableFundsError"
    r = normalize("kraken", error=exc, product="futures", operation="place_order")
    assert r.code == "insufficientAvailableFunds"
    assert r.category.name == "INSUFFICIENT_FUNDS"
