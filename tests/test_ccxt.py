"""ccxt interoperability: normalize(exchange, error=ccxt_exception).

The first tests need no ccxt: they build classes that look like ccxt's (same
module, same names), which is all ``_ccxt`` looks at. The rest drive a real
ccxt client against a local HTTP server on 127.0.0.1 that answers recorded
OKX and MEXC error bodies; nothing reaches the internet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import normalizer
from normalizer import Action, Category
from normalizer._ccxt import ccxt_classes, is_ccxt_error, load_class_table, recover
from normalizer._core.errors import RuleFileError

OKX_429 = "Rate limit reached. Please refer to API docs and throttle requests accordingly."
REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------ look-alike classes


def _fake(name: str, base: type = Exception) -> type:
    return type(name, (base,), {"__module__": "ccxt.base.errors"})


FakeBase = _fake("BaseError")
FakeExchangeError = _fake("ExchangeError", FakeBase)
FakeInsufficientFunds = _fake("InsufficientFunds", FakeExchangeError)
FakeOperationFailed = _fake("OperationFailed", FakeBase)
FakeNetworkError = _fake("NetworkError", FakeOperationFailed)
FakeRateLimit = _fake("RateLimitExceeded", FakeNetworkError)
FakeRequestTimeout = _fake("RequestTimeout", FakeNetworkError)


def test_recognised_by_module_and_mro_without_importing_ccxt() -> None:
    exc = FakeRateLimit("okx")
    assert is_ccxt_error(exc)
    assert ccxt_classes(exc) == [
        "RateLimitExceeded",
        "NetworkError",
        "OperationFailed",
        "BaseError",
    ]
    assert not is_ccxt_error(ValueError("okx"))
    assert not is_ccxt_error("RateLimitExceeded")


def test_importing_normalizer_does_not_import_ccxt() -> None:
    code = "import sys, normalizer; print('ccxt' in sys.modules)"
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO)},
    )
    assert out.stdout.strip() == "False"


def test_body_embedded_in_the_text_decides_by_the_exchange_rules() -> None:
    body = {"code": "58102", "msg": OKX_429, "data": []}
    exc = FakeRateLimit("okx " + json.dumps(body))
    err = normalizer.normalize("okx", error=exc)
    assert (err.code, err.message, err.rule_id) == ("58102", OKX_429, "okx.transfer-rate-limit")
    assert err.subcategory == "RATE_LIMIT.REQUESTS"
    assert err.raw.error is exc


def test_status_line_and_body_of_an_http_error_text() -> None:
    text = (
        'mexc POST https://api.mexc.com/api/v3/order 400 Bad Request {"code":10101,'
        '"msg":"Insufficient balance"}'
    )
    got = recover(FakeInsufficientFunds(text))
    assert got.http_status == 400
    assert got.body == {"code": 10101, "msg": "Insufficient balance"}
    err = normalizer.normalize("mexc", error=FakeInsufficientFunds(text))
    assert (err.code, err.http_status, err.subcategory) == (
        "10101",
        400,
        "INSUFFICIENT_FUNDS.BALANCE",
    )


def test_html_page_in_the_text_is_read_by_its_title() -> None:
    text = (
        "okx GET https://www.okx.com/api/v5/x 502 Bad Gateway <html><title>502 Bad Gateway</title>"
    )
    err = normalizer.normalize("okx", error=FakeExchangeError(text), operation="place_order")
    assert err.http_status == 502
    assert err.category is Category.UNKNOWN_STATE  # a write's outcome is unknown


def test_falls_back_on_the_class_when_nothing_is_recoverable() -> None:
    err = normalizer.normalize("okx", error=FakeInsufficientFunds("okx requires more money"))
    assert err.category is Category.INSUFFICIENT_FUNDS
    assert err.rule_id == "ccxt.InsufficientFunds"
    assert str(err.source_url).startswith("https://docs.ccxt.com/")
    assert "InsufficientFunds" in (err.rationale or "")


def test_fallback_walks_the_mro_to_the_nearest_known_class() -> None:
    Custom = _fake("MyVenueThrottled", FakeRateLimit)
    err = normalizer.normalize("mexc", error=Custom("mexc slow down there"))
    assert err.rule_id == "ccxt.RateLimitExceeded"
    assert err.subcategory == "RATE_LIMIT.REQUESTS"


def test_plain_exchange_error_with_nothing_recognisable_stays_unknown() -> None:
    err = normalizer.normalize("okx", error=FakeExchangeError("okx something odd"))
    assert err.category is Category.UNKNOWN
    assert err.rule_id is None


def test_rules_win_over_the_class_when_the_body_is_known() -> None:
    # ccxt would say InsufficientFunds, but the body's code is OKX's rate limit
    exc = FakeInsufficientFunds('okx {"code":"58102","msg":"x","data":[]}')
    assert normalizer.normalize("okx", error=exc).category is Category.RATE_LIMIT


def test_explicit_arguments_win_over_what_the_exception_says() -> None:
    exc = FakeRateLimit('okx {"code":"58102","msg":"x","data":[]}')
    err = normalizer.normalize("okx", error=exc, code="58350")
    assert err.code == "58350"
    assert err.category is Category.INSUFFICIENT_FUNDS


def test_wrapped_transport_failure_is_classified_as_one() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as inner:
            raise FakeRequestTimeout("okx POST https://www.okx.com/api/v5/x") from inner
    except FakeRequestTimeout as exc:
        err = normalizer.normalize("okx", error=exc, operation="place_order")
    assert err.subcategory == "UNAVAILABLE.CONNECTION"  # never sent: refused
    assert normalizer.recommend(err).action is Action.RETRY


def test_a_huge_or_hostile_text_never_raises() -> None:
    exc = FakeExchangeError("okx " + "{" * 100_000 + '"code": 1}')
    err = normalizer.normalize("okx", error=exc)
    assert err.category is Category.UNKNOWN


def test_class_table_is_valid_and_covers_the_retry_relevant_classes() -> None:
    table = load_class_table()
    for name in ("RateLimitExceeded", "RequestTimeout", "InsufficientFunds", "OrderNotFound"):
        assert name in table.classes
    assert "ExchangeError" not in table.classes  # says nothing specific


def test_a_broken_class_table_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "ccxt.yaml"
    bad.write_text(
        "source_url: https://docs.ccxt.com/\nclasses:\n  RateLimitExceeded:\n"
        "    category: RATE_LIMIT.NOPE\n    why: a reason long enough.\n"
    )
    with pytest.raises(RuleFileError) as info:
        load_class_table(bad)
    assert info.value.line == 4
    assert "category" in info.value.field


# ------------------------------------------------- a real ccxt, locally


class _Recorded(BaseHTTPRequestHandler):
    """Answers every request with the server's current recorded answer."""

    def _answer(self) -> None:
        server: Any = self.server
        status, body, headers = server.answer
        server.requests.append((self.command, self.path))
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    srv: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    srv.requests = []
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def ccxt() -> Any:
    return pytest.importorskip("ccxt")


def _okx(ccxt: Any, server: Any) -> Any:
    client = ccxt.okx({"apiKey": "k", "secret": "s", "password": "p", "timeout": 5000})
    client.urls["api"]["rest"] = server.base
    return client


def _mexc(ccxt: Any, server: Any) -> Any:
    client = ccxt.mexc({"apiKey": "k", "secret": "s", "timeout": 5000})
    for section in client.urls["api"].values():
        for key in section:
            section[key] = server.base
    return client


def _raised(call: Any, *args: Any) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: PT011 - whatever ccxt raises is the subject
        call(*args)
    return info.value


def test_okx_rate_limit_429_through_ccxt(ccxt: Any, server: Any) -> None:
    server.answer = (429, {"code": "58102", "msg": OKX_429, "data": []}, {"Retry-After": "3"})
    exc = _raised(
        _okx(ccxt, server).private_post_asset_transfer,
        {"ccy": "USDT", "amt": "1", "from": "6", "to": "18"},
    )
    assert isinstance(exc, ccxt.RateLimitExceeded)
    assert server.requests[-1] == ("POST", "/api/v5/asset/transfer")
    err = normalizer.normalize("okx", error=exc, operation="transfer")
    assert (err.code, err.http_status, err.retry_after_s) == ("58102", 429, 3.0)
    assert err.rule_id == "okx.transfer-rate-limit"
    rec = normalizer.recommend(err)
    assert rec.action is Action.RETRY
    assert rec.delay_s >= 3.0  # honours the Retry-After the server sent


def test_okx_http_200_error_body_through_ccxt(ccxt: Any, server: Any) -> None:
    server.answer = (200, {"code": "58350", "msg": "Insufficient balance.", "data": []}, {})
    exc = _raised(_okx(ccxt, server).private_post_asset_withdrawal, {"ccy": "USDT"})
    assert isinstance(exc, ccxt.InsufficientFunds)
    err = normalizer.normalize("okx", error=exc, operation="withdraw")
    assert (err.code, err.http_status) == ("58350", None)
    assert err.category is Category.INSUFFICIENT_FUNDS
    assert normalizer.recommend(err).action is Action.HALT


def test_mexc_insufficient_balance_400_through_ccxt(ccxt: Any, server: Any) -> None:
    server.answer = (400, {"code": 10101, "msg": "Insufficient balance"}, {})
    exc = _raised(
        _mexc(ccxt, server).spot_private_post_order,
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "1"},
    )
    assert isinstance(exc, ccxt.InsufficientFunds)
    assert server.requests[-1][1].startswith("/api/v3/order?")
    err = normalizer.normalize("mexc", error=exc, operation="place_order")
    assert (err.code, err.http_status, err.rule_id) == ("10101", 400, "mexc.insufficient-balance")
    assert err.subcategory == "INSUFFICIENT_FUNDS.BALANCE"
    assert normalizer.recommend(err).action is Action.HALT


def test_mexc_signature_error_through_ccxt_halts_the_account(ccxt: Any, server: Any) -> None:
    server.answer = (400, {"code": 700002, "msg": "Signature for this request is not valid."}, {})
    exc = _raised(_mexc(ccxt, server).spot_private_get_account)
    err = normalizer.normalize("mexc", error=exc, operation="query")
    assert err.subcategory == "AUTH.SIGNATURE"
    rec = normalizer.recommend(err)
    assert (rec.action, rec.scope.value) == (Action.ESCALATE, "account")


def test_code_only_ccxt_knows_falls_back_on_its_class(ccxt: Any, server: Any) -> None:
    # 58001 is a code ccxt maps but no longer in OKX's docs: no rule of ours knows it
    msg = "Incorrect trade password"
    server.answer = (200, {"code": "58001", "msg": msg, "data": []}, {})
    exc = _raised(_okx(ccxt, server).private_post_trade_order, {"instId": "BTC-USDT"})
    assert type(exc).__name__ == "AuthenticationError"
    err = normalizer.normalize("okx", error=exc, operation="place_order")
    assert (err.code, err.message) == ("58001", msg)  # recovered from the text
    assert (err.category, err.rule_id) == (Category.AUTH, "ccxt.AuthenticationError")


def test_gateway_page_through_ccxt(ccxt: Any, server: Any) -> None:
    page = b"<html><head><title>503 Service Temporarily Unavailable</title></head></html>"
    server.answer = (503, page, {"Content-Type": "text/html"})
    exc = _raised(_okx(ccxt, server).private_post_trade_order, {"instId": "BTC-USDT"})
    assert isinstance(exc, ccxt.ExchangeNotAvailable)
    err = normalizer.normalize("okx", error=exc, operation="place_order")
    assert err.http_status == 503
    assert err.subcategory == "UNAVAILABLE.SERVICE"
    assert normalizer.recommend(err, operation="place_order").action is Action.RETRY


class socket_closed_port:
    """A port on 127.0.0.1 that nothing listens on."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])  # bound, never listening: refused

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_connection_refused_through_ccxt_is_safe_to_resend(ccxt: Any) -> None:
    with socket_closed_port() as port:
        client = ccxt.okx({"apiKey": "k", "secret": "s", "password": "p", "timeout": 2000})
        client.urls["api"]["rest"] = f"http://127.0.0.1:{port}"
        exc = _raised(client.private_post_trade_order, {"instId": "BTC-USDT"})
    assert isinstance(exc, ccxt.NetworkError)
    err = normalizer.normalize("okx", error=exc, operation="place_order")
    assert err.subcategory == "UNAVAILABLE.CONNECTION"
    assert normalizer.recommend(err).action is Action.RETRY


def test_comparison_with_ccxt_counts_and_names_disagreements(ccxt: Any) -> None:
    from normalizer._ccxt import compare_with_ccxt
    from normalizer._engine.normalize import registry

    for exchange in ("okx", "mexc"):
        rows = compare_with_ccxt(exchange, ccxt)
        assert [r.code for r in rows] == registry().get(exchange).catalog.codes()
        for r in rows:
            assert r.verdict in {"agree", "disagree", "generic", "unmapped"}
            if r.verdict in {"agree", "disagree"}:
                assert (r.ccxt_category.split(".")[0] == r.our_category) is (r.verdict == "agree")
    mexc = {r.code: r for r in compare_with_ccxt("mexc", ccxt)}
    # MEXC documents 10101 as insufficient balance and ccxt agrees
    assert (mexc["10101"].ccxt_class, mexc["10101"].verdict) == ("InsufficientFunds", "agree")
    # ccxt calls an IP missing from the key's allow-list a bad request; we call it AUTH
    assert mexc["700006"].verdict == "disagree"
    assert mexc["700006"].our_category == "AUTH"
