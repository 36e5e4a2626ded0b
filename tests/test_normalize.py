"""normalize(): the contract routers rely on, one behaviour per test."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import ClassVar

import pytest

import normalizer
from normalizer import Category, NormalizedError, UnknownExchangeError

OKX_429 = "Rate limit reached. Please refer to API docs and throttle requests accordingly."


def test_okx_code_with_status() -> None:
    err = normalizer.normalize("okx", code="58102", message=OKX_429, http_status=429)
    assert err.category is Category.RATE_LIMIT
    assert err.category == "RATE_LIMIT"  # a str enum: compares to its name
    assert err.subcategory == "RATE_LIMIT.REQUESTS"
    assert (err.code, err.http_status, err.message) == ("58102", 429, OKX_429)
    assert err.rule_id == "okx.transfer-rate-limit"
    assert err.source_url == "https://www.okx.com/docs-v5/en/#error-code-rest-api-funding"
    assert err.rationale


def test_okx_body_bytes_http_200_with_headers() -> None:
    body = json.dumps({"code": "58102", "msg": OKX_429, "data": []}).encode()
    err = normalizer.normalize("okx", body=body, http_status=200, headers={"Retry-After": "2"})
    assert (err.category, err.code, err.retry_after_s) == (Category.RATE_LIMIT, "58102", 2.0)
    assert err.raw.body is body


def test_mexc_integer_code_in_a_4xx_body() -> None:
    err = normalizer.normalize(
        "mexc", body='{"code":10101,"msg":"Insufficient balance"}', http_status=400
    )
    assert err.subcategory == "INSUFFICIENT_FUNDS.BALANCE"
    assert err.code == "10101"
    assert err.rule_id == "mexc.insufficient-balance"


def test_dict_body_is_used_as_parsed_json() -> None:
    body = {"code": 10101, "msg": "Insufficient balance"}
    err = normalizer.normalize("mexc", body=body, http_status=400)
    assert err.subcategory == "INSUFFICIENT_FUNDS.BALANCE"
    assert err.raw.body is body


def test_message_only_in_chinese_is_recognised_as_its_documented_code() -> None:
    err = normalizer.normalize("okx", message="已达到速率限制。请参考相应的 API 文档与节流请求")
    assert err.category is Category.RATE_LIMIT
    assert err.code is None
    assert err.documented_code == "58102"


def test_message_with_filled_placeholders_and_other_spacing() -> None:
    err = normalizer.normalize("okx", message="Withdrawals suspended due to  TRC20   maintenance")
    assert err.documented_code == "58214"
    assert err.subcategory == "UNAVAILABLE.MAINTENANCE"
    cjk = normalizer.normalize(
        "okx", message="您每24小时最多可提取价值为 10000 USDT 的数字货币，当前还可提取 12.5 USDT。"
    )
    assert cjk.documented_code == "58258"


def test_mexc_reused_code_is_decided_by_the_message() -> None:
    pair = normalizer.normalize("mexc", code=730001, message="Pair not found")
    user = normalizer.normalize("mexc", code=730001, message="User information error")
    bare = normalizer.normalize("mexc", code=730001)
    assert pair.subcategory == "INVALID_REQUEST.SYMBOL"
    assert user.rule_id != pair.rule_id
    assert user.subcategory == "INVALID_REQUEST.PARAMETER"  # the message decides
    # the bare code: its first and common meaning, by a rule of its own
    assert (bare.subcategory, bare.rule_id) == ("INVALID_REQUEST.SYMBOL", "mexc.code-730001")


def test_mexc_value_after_a_colon_still_matches() -> None:
    err = normalizer.normalize(
        "mexc", message="The minimum transaction volume cannot be less than：5USDT"
    )
    assert err.subcategory == "INVALID_REQUEST.MIN_AMOUNT"


def test_okx_batch_answer_returns_per_item_results() -> None:
    body = {
        "code": "1",
        "msg": "All operations failed",
        "data": [
            {"sCode": "0", "sMsg": "", "ordId": "1"},
            {"sCode": "58350", "sMsg": "Insufficient balance.", "ordId": ""},
            {"sCode": "58102", "sMsg": OKX_429},
        ],
    }
    err = normalizer.normalize("okx", body=json.dumps(body), http_status=200)
    assert [i.item_index for i in err.items] == [1, 2]
    assert [i.category for i in err.items] == [Category.INSUFFICIENT_FUNDS, Category.RATE_LIMIT]
    # the answer as a whole is its first failed item: code, message and category
    # (not "1" and the batch's summary message)
    assert err.category is Category.INSUFFICIENT_FUNDS
    assert (err.code, err.message) == ("58350", "Insufficient balance.")


def test_success_body_is_not_an_error() -> None:
    err = normalizer.normalize("okx", body='{"code":"0","msg":"","data":[]}', http_status=200)
    assert err.subcategory == "UNKNOWN.NO_ERROR"


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            502,
            "UNKNOWN_STATE.SERVER_ERROR",
        ),
        ("", 503, "UNKNOWN_STATE.SERVER_ERROR"),
        (b"", 429, "RATE_LIMIT.REQUESTS"),
        (
            "<html><title>Access denied | api.mexc.com used Cloudflare to restrict access"
            "</title></html>",
            403,
            "RATE_LIMIT.BLOCKED",
        ),
    ],
)
def test_gateway_pages_and_empty_bodies(body: str | bytes, status: int, expected: str) -> None:
    assert normalizer.normalize("mexc", body=body, http_status=status).subcategory == expected


def test_5xx_on_a_query_is_unavailable_but_on_a_write_unknown_state() -> None:
    assert (
        normalizer.normalize("okx", http_status=500, operation="query").subcategory
        == "UNAVAILABLE.SERVICE"
    )
    write = normalizer.normalize("okx", http_status=500, operation="place_order")
    assert write.category is Category.UNKNOWN_STATE


@pytest.mark.parametrize(
    ("body", "subcategory"),
    [
        (b"\xff\xfe\x00garbage", "UNKNOWN.MALFORMED"),
        ('{"code": "58102", "msg": ', "UNKNOWN.MALFORMED"),  # truncated JSON
        ("[1, 2, 3]", "UNKNOWN.MALFORMED"),
        ('{"code": {"nested": true}}', "UNKNOWN.MALFORMED"),
        ("x" * 300_000, "UNKNOWN.MALFORMED"),
        ('{"code": "99999", "msg": "something new"}', "UNKNOWN.UNMAPPED"),
    ],
)
def test_unusable_bodies_are_unknown_with_raw_kept(body: str | bytes, subcategory: str) -> None:
    err = normalizer.normalize("okx", body=body, http_status=200)
    assert err.category is Category.UNKNOWN
    assert err.subcategory == subcategory
    assert err.raw.body is body


def test_deeply_nested_json_does_not_raise() -> None:
    body = "[" * 100_000 + "]" * 100_000
    assert normalizer.normalize("okx", body=body).category is Category.UNKNOWN


def test_huge_message_is_bounded_but_kept_raw() -> None:
    message = "Insufficient balance " + "x" * 10_000_000
    err = normalizer.normalize("mexc", message=message)
    assert err.message is not None
    assert len(err.message) <= 4096
    assert err.raw.message is message


def test_retry_after_as_http_date() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=120)
    err = normalizer.normalize(
        "okx", code="58102", headers={"retry-after": format_datetime(when, usegmt=True)}
    )
    assert err.retry_after_s is not None
    assert 100 < err.retry_after_s <= 120


@pytest.mark.parametrize("value", ["-5", "soon", "nan", "inf", "1e999", ""])
def test_retry_after_nonsense_is_ignored(value: str) -> None:
    assert (
        normalizer.normalize("okx", code="58102", headers={"Retry-After": value}).retry_after_s
        is None
    )


# ---------------------------------------------------------- transport


def _exc(
    qualname: str, *bases: type[BaseException], args: tuple[object, ...] = ()
) -> BaseException:
    """An exception whose class looks like a library's, without the library."""
    module, _, name = qualname.rpartition(".")
    cls = type(name, bases or (Exception,), {"__module__": module})
    return cls(*args)


@pytest.mark.parametrize(
    ("qualname", "subcategory"),
    [
        ("httpx._exceptions.ConnectTimeout", "UNAVAILABLE.CONNECTION"),
        ("httpx._exceptions.ConnectError", "UNAVAILABLE.CONNECTION"),
        ("httpx._exceptions.PoolTimeout", "UNAVAILABLE.CONNECTION"),
        ("httpx._exceptions.ReadTimeout", "UNKNOWN_STATE.TIMEOUT"),
        ("httpx._exceptions.RemoteProtocolError", "UNKNOWN_STATE.CONNECTION_LOST"),
        ("requests.exceptions.ConnectTimeout", "UNAVAILABLE.CONNECTION"),
        ("requests.exceptions.ReadTimeout", "UNKNOWN_STATE.TIMEOUT"),
        ("aiohttp.client_exceptions.ClientConnectorError", "UNAVAILABLE.CONNECTION"),
        ("aiohttp.client_exceptions.ServerTimeoutError", "UNKNOWN_STATE.TIMEOUT"),
        ("aiohttp.client_exceptions.ServerDisconnectedError", "UNKNOWN_STATE.CONNECTION_LOST"),
    ],
)
def test_library_transport_errors_without_importing_the_library(
    qualname: str, subcategory: str
) -> None:
    err = normalizer.normalize("okx", error=_exc(qualname))
    assert err.subcategory == subcategory
    assert err.raw.error is not None


def test_stdlib_transport_errors() -> None:
    assert normalizer.normalize(
        "okx", error=ConnectionRefusedError(111, "refused")
    ).subcategory == ("UNAVAILABLE.CONNECTION")
    assert normalizer.normalize("okx", error=ConnectionResetError(104, "reset")).subcategory == (
        "UNKNOWN_STATE.CONNECTION_LOST"
    )
    assert (
        normalizer.normalize("okx", error=TimeoutError("timed out")).category
        is Category.UNKNOWN_STATE
    )


def test_requests_connection_error_is_refined_by_what_it_wraps() -> None:
    base = _exc("requests.exceptions.ConnectionError").__class__
    new_conn = _exc("urllib3.exceptions.NewConnectionError", args=("refused",))
    max_retry = _exc("urllib3.exceptions.MaxRetryError", args=("pool", "/x"))
    max_retry.reason = new_conn  # type: ignore[attr-defined]
    never_sent = base(max_retry)
    assert normalizer.normalize("okx", error=never_sent).subcategory == "UNAVAILABLE.CONNECTION"
    aborted = base(_exc("urllib3.exceptions.ProtocolError", args=("Connection aborted.",)))
    assert normalizer.normalize("okx", error=aborted).subcategory == "UNKNOWN_STATE.CONNECTION_LOST"


def test_http_error_exception_carrying_a_response() -> None:
    class Response:
        status_code = 400
        content = b'{"code":10101,"msg":"Insufficient balance"}'
        headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}

    exc = _exc("requests.exceptions.HTTPError")
    exc.response = Response()  # type: ignore[attr-defined]
    err = normalizer.normalize("mexc", error=exc)
    assert (err.subcategory, err.http_status, err.retry_after_s) == (
        "INSUFFICIENT_FUNDS.BALANCE",
        400,
        1.0,
    )


def test_unrecognised_exception_is_unknown() -> None:
    err = normalizer.normalize("okx", error=ValueError("something odd"))
    assert err.category is Category.UNKNOWN
    assert err.message == "ValueError: something odd"


# ------------------------------------------------------ caller mistakes


def test_unknown_exchange_lists_the_known_ones() -> None:
    with pytest.raises(UnknownExchangeError, match=r"known exchanges: binance, .*bitget, .*okx"):
        normalizer.normalize("nosuch", code="-1003")
    with pytest.raises(ValueError, match="unknown exchange"):
        normalizer.normalize(None, code="1")  # type: ignore[arg-type]


def test_exchange_name_is_case_insensitive() -> None:
    assert normalizer.normalize("OKX", code="58102").exchange == "okx"


def test_unknown_operation_is_a_caller_mistake() -> None:
    with pytest.raises(ValueError, match="unknown operation 'sell'"):
        normalizer.normalize("okx", code="58102", operation="sell")


# ------------------------------------------------------------- results


def test_results_are_frozen_hashable_and_equal_by_value() -> None:
    a = normalizer.normalize("okx", code="58102", http_status=429)
    b = normalizer.normalize("okx", code="58102", http_status=429)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.category = Category.AUTH  # type: ignore[misc]
    with_dict = normalizer.normalize("mexc", body={"code": 10101, "msg": "x"})
    hash(with_dict)  # raw holds an unhashable dict; the hash ignores raw


def test_result_serialises_to_json() -> None:
    err = normalizer.normalize("okx", body='{"code":"58102","msg":"x"}')
    data = json.loads(err.to_json())
    assert data["category"] == "RATE_LIMIT"
    assert data["subcategory"] == "RATE_LIMIT.REQUESTS"


def test_hand_built_results_are_validated() -> None:
    with pytest.raises(normalizer.InvalidResultError, match="category"):
        NormalizedError(exchange="okx", category="NOPE")  # type: ignore[arg-type]


def test_every_result_keeps_at_most_the_documented_message_length() -> None:
    """``message`` keeps at most MAX_KEPT_MESSAGE characters whatever decided
    the result (a rule, no rule, a body that says success); ``raw`` keeps all."""
    from normalizer._engine.normalize import MAX_KEPT_MESSAGE

    text = "x" * (MAX_KEPT_MESSAGE * 3)
    for code in ("0", "59999", "58102"):  # success, unknown, a rule's code
        body = json.dumps({"code": code, "msg": text, "data": []})
        err = normalizer.normalize("okx", body=body, http_status=200)
        assert err.message == text[:MAX_KEPT_MESSAGE], code
        assert err.raw.body == body
    assert normalizer.normalize("okx", body=json.dumps({"code": "0", "msg": text})).label == (
        "UNKNOWN.NO_ERROR"
    )


# ------------------------------------------------------- what the caller gives


class _RefusesHash(type):
    """A metaclass whose classes refuse hashing while a test has it armed. Only then:
    tblib (which importing dask runs) hashes every exception class alive in the
    process, and a class that always refused would break every later test."""

    armed = False

    def __hash__(cls) -> int:
        if _RefusesHash.armed:
            raise TypeError("no hashing this class")
        return type.__hash__(cls)


class _Unhashable(Exception, metaclass=_RefusesHash):
    pass


class _NoModule(Exception):
    pass


_NoModule.__module__ = None  # type: ignore[assignment]


class _ResponseRaises(Exception):
    @property
    def response(self) -> object:
        raise RuntimeError("the response was closed")


class _CauseRaises(Exception):
    @property  # type: ignore[override]
    def __cause__(self) -> BaseException | None:
        raise RuntimeError("no cause for you")


class _StrRaises(Exception):
    def __str__(self) -> str:
        raise ValueError("unprintable")


@pytest.mark.parametrize(
    "error",
    [
        _Unhashable("okx said no"),
        _NoModule("connection reset"),
        _ResponseRaises("okx 429"),
        _CauseRaises("okx 500"),
        _StrRaises(),
        "Read timed out",
        b"Read timed out",
        42,
        {"code": "58102"},
    ],
    ids=[
        "metaclass-hash",
        "module-none",
        "response-raises",
        "cause-raises",
        "str-raises",
        "str",
        "bytes",
        "int",
        "dict",
    ],
)
def test_any_object_given_as_error_is_absorbed(error: object) -> None:
    """Invariant: whatever a client library raised (or the caller passed as
    ``error=``), normalize() returns a result, twice in a row (the memo path
    too), and recommend() answers it."""
    _RefusesHash.armed = True
    try:
        _absorbed_three_times(error)
    finally:
        _RefusesHash.armed = False


def _absorbed_three_times(error: object) -> None:
    for _ in range(3):
        err = normalizer.normalize("okx", error=error, operation="place_order")
        assert isinstance(err, NormalizedError)
        assert err.raw.error is error
    rec = normalizer.recommend(err, operation="place_order")
    assert rec.action in set(normalizer.Action)


def test_a_string_given_as_error_is_read_as_the_message_and_said_so() -> None:
    err = normalizer.normalize("okx", error="Rate limit reached.")
    assert err.message == "Rate limit reached."
    assert any("not an exception" in n for n in err.notes)


def test_an_exception_whose_attributes_raise_is_said_in_notes() -> None:
    err = normalizer.normalize("okx", error=_ResponseRaises("x"))
    assert any("could not be read" in n for n in err.notes), err.notes
    assert err.message is not None
    assert "_ResponseRaises" in err.message


def test_a_class_with_no_module_is_still_classified_by_its_text() -> None:
    err = normalizer.normalize("okx", error=_NoModule('okx {"code":"58102","msg":"x"}'))
    # no module, no ccxt: the body in its text is read (textshapes.py, issue 24)
    assert err.category is Category.RATE_LIMIT
    assert err.code == "58102"
    assert err.message is not None


def test_no_input_at_all_says_so_in_notes() -> None:
    err = normalizer.normalize("okx")
    assert err.subcategory == "UNKNOWN.MALFORMED"
    assert any("no input" in n for n in err.notes)
    assert not normalizer.normalize("okx", code="58102").notes


def test_a_body_over_the_size_cap_says_so_in_notes() -> None:
    from normalizer._engine.inputs import MAX_BODY_BYTES

    big = '{"code":"58102","msg":"' + "x" * MAX_BODY_BYTES + '"}'
    for body in (big, big.encode()):
        err = normalizer.normalize("okx", body=body)
        assert err.subcategory == "UNKNOWN.MALFORMED"
        assert any("size cap" in n for n in err.notes), err.notes
    under = '{"code":"58102","msg":"' + "x" * (MAX_BODY_BYTES // 2) + '"}'
    assert normalizer.normalize("okx", body=under).code == "58102"


# ------------------------------------------------------- success is no error

SUCCESS_BODIES = [
    ("okx", '{"code":"0","msg":"","data":[]}'),
    ("bybit", '{"retCode":0,"retMsg":"OK","result":{},"time":1}'),
    ("bybit", '{"success":true,"ret_msg":"","op":"subscribe"}'),
    ("binance", '{"id":"7","status":200,"result":{"orderId":1}}'),
    ("binance", '{"code":0,"msg":"success"}'),
    ("kucoin", '{"code":"200000","data":{}}'),
    ("bitget", '{"code":"00000","msg":"success","data":{}}'),
    ("mexc", '{"code":0,"msg":"success"}'),
    ("kraken", '{"error":[],"result":{}}'),
    ("coinbase", '{"success":true,"success_response":{"order_id":"1"}}'),
]


@pytest.mark.parametrize(("venue", "body"), SUCCESS_BODIES)
def test_a_success_envelope_is_no_error_and_is_never_escalated(venue: str, body: str) -> None:
    """A router that passes every frame through normalize() is told a success
    is no error (``is_error`` False), and recommend() never pages a person
    (ESCALATE) nor resends it: HALT of this request alone, held for no time."""
    err = normalizer.normalize(venue, body=body, http_status=200)
    assert err.is_error is False
    assert err.subcategory == "UNKNOWN.NO_ERROR"
    for op in ("place_order", "query", None):
        rec = normalizer.recommend(err, operation=op, attempt=3)
        assert rec.action is normalizer.Action.HALT
        assert rec.scope is normalizer.Scope.REQUEST
        assert (rec.hold_s, rec.delay_s) == (0.0, 0.0)
        assert "success" in rec.reason


def test_every_venue_with_a_success_code_reads_it_as_no_error() -> None:
    from normalizer._formats.registry import registry

    checked = 0
    for venue in normalizer.exchanges():
        shape = registry().get(venue).spec.response
        path = shape.code_fields[0] if shape.code_fields else ""
        for ok in shape.success_codes:
            if not path or "." in path:
                continue
            err = normalizer.normalize(venue, body=json.dumps({path: ok}), http_status=200)
            assert not err.is_error, (venue, ok, err.label)
            checked += 1
    assert checked >= 8


def test_a_binance_websocket_error_frame_is_still_read_by_its_code() -> None:
    body = '{"id":"7","status":400,"error":{"code":-1013,"msg":"Filter failure: LOT_SIZE"}}'
    err = normalizer.normalize("binance", body=body)
    assert err.is_error
    assert err.code == "-1013"
