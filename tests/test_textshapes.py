"""Text as people log it (``normalizer/_engine/textshapes.py``): Python-repr
bodies, SDK message formats, Kraken error strings outside their envelope,
bodies inside log lines, legacy envelopes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from normalizer import exchanges, normalize
from normalizer._engine.given import Inputs
from normalizer._engine.textshapes import MAX_SHAPE_TEXT, body_shape, reshape

_SAME = ("category", "subcategory", "code", "rule_id", "retry_after_s", "message")


def _decision(r: Any) -> tuple[Any, ...]:
    return tuple(getattr(r, f) for f in _SAME)


# ------------------------------------------------------------ examples


def test_python_repr_body_reads_as_its_json_twin() -> None:
    """The issue's example: Bybit's Server Timeout logged with print(resp.json())."""
    repr_body = "{'retCode': 10000, 'retMsg': 'Server Timeout'}"
    json_body = '{"retCode": 10000, "retMsg": "Server Timeout"}'
    a = normalize("bybit", body=repr_body, operation="place_order")
    b = normalize("bybit", body=json_body, operation="place_order")
    assert _decision(a) == _decision(b)
    assert a.subcategory == "UNKNOWN_STATE.TIMEOUT"


def test_python_repr_with_true_false_none() -> None:
    body = "{'code': '51008', 'msg': 'Order failed', 'data': None, 'ok': False}"
    assert body_shape(body) == {"code": "51008", "msg": "Order failed", "data": None, "ok": False}


@pytest.mark.parametrize(
    ("venue", "message", "code", "category"),
    [
        ("binance", "APIError(code=-2019): Margin is insufficient.", "-2019", "INSUFFICIENT_FUNDS"),
        ("binance", "BinanceAPIException: APIError(code=-1003): Too many requests.", None, None),
        (
            "okx",
            "API Request Error(code=51008): Order failed. Insufficient USDT balance in account.",
            "51008",
            "INSUFFICIENT_FUNDS",
        ),
        (
            "bybit",
            "Insufficient balance (ErrCode: 110007) (ErrTime: 09:12:44).\n"
            "Request → POST /v5/order/create",
            "110007",
            "INSUFFICIENT_FUNDS",
        ),
        (
            "kucoin",
            "KucoinAPIException 200004: Balance insufficient!",
            "200004",
            "INSUFFICIENT_FUNDS",
        ),
        (
            "kucoin",
            "request error, server code: 200004, server msg: Balance insufficient!, context msg: ",
            "200004",
            "INSUFFICIENT_FUNDS",
        ),
    ],
)
def test_sdk_message_formats(
    venue: str, message: str, code: str | None, category: str | None
) -> None:
    """An SDK's message format gives the venue's code and message."""
    r = normalize(venue, message=message, operation="place_order")
    if code is None:  # a prefix before the format: not read as one (no guess)
        assert r.code is None
        return
    assert r.code == code
    assert r.category.name == category


def test_sdk_message_with_the_binance_futures_url() -> None:
    r = normalize(
        "binance",
        message="APIError(code=-2019): Margin is insufficient.",
        url="https://fapi.binance.com/fapi/v1/order",
    )
    assert r.subcategory == "INSUFFICIENT_FUNDS.MARGIN"
    assert r.message == "Margin is insufficient."


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ({"message": "EGeneral:Invalid arguments:volume"}, "EGeneral:Invalid arguments"),
        ({"body": "EGeneral:Invalid arguments:volume"}, "EGeneral:Invalid arguments"),
        ({"body": '["EOrder:Insufficient funds"]'}, "EOrder:Insufficient funds"),
        ({"body": "['EOrder:Insufficient funds']"}, "EOrder:Insufficient funds"),
        (
            {"message": "['EOrder:Insufficient funds', 'WGeneral:Warn']"},
            "EOrder:Insufficient funds",
        ),
        ({"message": "Order:Insufficient funds"}, "EOrder:Insufficient funds"),
        ({"body": b"EAPI:Rate limit exceeded"}, "EAPI:Rate limit exceeded"),
    ],
)
def test_kraken_strings_outside_their_envelope(given: dict[str, Any], code: str) -> None:
    """A bare string, a list, a three-part string and a dropped ``E``."""
    r = normalize("kraken", operation="place_order", **given)
    assert r.code == code
    assert r.category.name != "UNKNOWN"


def test_body_in_an_exception_text_with_its_status() -> None:
    """python-kraken-sdk's non-200 failure: ``Exception("429 - {...}")``."""
    exc = Exception('429 - {"error":["EAPI:Rate limit exceeded"]}')
    r = normalize("kraken", error=exc, operation="query")
    assert r.http_status == 429
    assert r.code == "EAPI:Rate limit exceeded"


def test_gate_api_text_logged() -> None:
    """gate-api's ApiException as its str() logs it: status and body read."""
    text = (
        "(400)\nReason: Bad Request\nHTTP response headers: HTTPHeaderDict({'Date': 'x'})\n"
        'HTTP response body: {"label":"BALANCE_NOT_ENOUGH","message":"Not enough balance"}\n'
    )
    r = normalize("gate", message=text, operation="place_order")
    assert (r.http_status, r.code, r.category.name) == (
        400,
        "BALANCE_NOT_ENOUGH",
        "INSUFFICIENT_FUNDS",
    )


@pytest.mark.parametrize(
    ("venue", "body", "code"),
    [
        ("binance", {"error_code": -2019, "error_message": "Margin is insufficient."}, "-2019"),
        ("okx", {"error_code": "50011", "error_message": "Too Many Requests"}, "50011"),
        (
            "gate",
            {"result": "false", "code": 21, "message": "Error: Your order size is too small"},
            "21",
        ),
        ("bybit", {"result": False, "code": 10006, "msg": "Too many visits!"}, "10006"),
    ],
)
def test_legacy_envelopes(venue: str, body: dict[str, Any], code: str) -> None:
    """``{"error_code", "error_message"}`` and ``{"result": false, ...}``: their
    code and message read, as JSON text, bytes or a dict."""
    for sent in (json.dumps(body), json.dumps(body).encode(), body):
        r = normalize(venue, body=sent, operation="place_order")
        assert r.code == code
        assert r.message == body.get("error_message", body.get("message", body.get("msg")))


def test_explicit_code_still_wins() -> None:
    r = normalize("binance", code=-1013, message="APIError(code=-2019): Margin is insufficient.")
    assert r.code == "-1013"


def test_over_long_text_is_not_reshaped() -> None:
    body = "{'retCode': 10000, 'retMsg': '" + "x" * MAX_SHAPE_TEXT + "'}"
    r = normalize("bybit", body=body)
    assert r.code is None
    assert r.category.name == "UNKNOWN"


# ------------------------------------------------------------ properties

_keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**18), max_value=10**18)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)
_envelope_keys = st.sampled_from(
    ["code", "msg", "message", "retCode", "retMsg", "label", "error", "data", "success", "result"]
)
_bodies = st.dictionaries(_envelope_keys | _keys, _json_values, min_size=1, max_size=6)
_venues = st.sampled_from(sorted(set(exchanges()) - {"generic"}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(venue=_venues, body=_bodies)
def test_property_a_json_body_and_its_python_repr_twin_decide_alike(
    venue: str, body: dict[str, Any]
) -> None:
    """Invariant: a JSON body and the same value written by Python's repr() give
    the same category, subcategory, code, rule, wait and message."""
    a = normalize(venue, body=json.dumps(body, ensure_ascii=False), operation="place_order")
    b = normalize(venue, body=repr(body), operation="place_order")
    assert _decision(a) == _decision(b)


_hostile = st.one_of(
    st.text(max_size=300),
    st.text(st.sampled_from("{}[]'\"\\:,() E0123-=\n"), max_size=400),
    st.builds(lambda n: "{'a': " * n + "1" + "}" * n, st.integers(0, 400)),
    st.builds(lambda n: "[" * n, st.integers(0, 5000)),
    st.builds(lambda s: f"APIError(code={s}): {s}", st.text(max_size=60)),
    st.builds(lambda s: f"{s} (ErrCode: {s}) (ErrTime: x)", st.text(max_size=60)),
    st.builds(lambda s: "EGeneral:" + s, st.text(max_size=300)),
    st.builds(lambda s: "429 - {" + s, st.text(max_size=200)),
    st.builds(lambda n: "{'x': 1" + "9" * n + "}", st.integers(0, 6000)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(venue=_venues, text=_hostile, where=st.sampled_from(["body", "message", "bytes", "error"]))
def test_property_any_text_stays_total(venue: str, text: str, where: str) -> None:
    """Invariant: any text, in a body, a message or an exception, gives a result
    and never raises (deep nesting, huge numbers, unbalanced braces, crafted
    SDK formats)."""
    if where == "bytes":
        r = normalize(venue, body=text.encode("utf-8", "replace"))
    elif where == "error":
        r = normalize(venue, error=RuntimeError(text))
    else:
        r = normalize(venue, **{where: text})
    assert r.exchange == venue


@settings(max_examples=100, deadline=None)
@given(text=_hostile)
def test_property_reshape_never_raises_and_keeps_explicit_code(text: str) -> None:
    """Invariant: reshape() leaves a caller's code untouched and never raises."""
    got = Inputs("CALLER", text, text, None)
    reshape(got)
    assert got.code == "CALLER"


class _Recorder:
    """A compiled pattern that records the length of every text it is shown."""

    def __init__(self, pattern: Any, seen: list[int]) -> None:
        self.pattern = pattern
        self.seen = seen

    def match(self, text: str, *args: Any) -> Any:
        self.seen.append(len(text))
        return self.pattern.match(text, *args)

    def fullmatch(self, text: str, *args: Any) -> Any:
        self.seen.append(len(text))
        return self.pattern.fullmatch(text, *args)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    head=st.sampled_from(
        ["APIError(code=-1): ", "EGeneral:", "429 - {", "(400)\nReason: x", "x (ErrCode: 1)"]
    ),
    filler=st.sampled_from(["a", "{", "'", ":", " ", "9"]),
    size=st.integers(5_000, 200_000),
)
def test_property_no_regular_expression_sees_unbounded_text(
    head: str, filler: str, size: int
) -> None:
    """Invariant: whatever the length of a body or message, every regular
    expression of textshapes is shown at most 4096 characters."""
    import normalizer._engine.textshapes as ts

    seen: list[int] = []
    with pytest.MonkeyPatch.context() as mp:
        for name in ("_kraken_pattern", "_sdk_code_pattern", "_status_head_pattern"):
            recorder = _Recorder(getattr(ts, name)(), seen)
            mp.setattr(ts, name, lambda recorder=recorder: recorder)
        text = head + filler * size
        for got in (Inputs(None, text, None, None), Inputs(None, None, text, None)):
            reshape(got)
    assert all(n <= 4096 for n in seen), max(seen)


def test_over_cap_text_is_returned_as_given() -> None:
    """Text over MAX_SHAPE_TEXT is not read as a shape: the body stays the caller's."""
    huge = "{'a': '" + "{" * (MAX_SHAPE_TEXT + 10) + "'}"
    got = Inputs(None, None, huge, None)
    reshape(got)
    assert got.body is huge
    assert body_shape("{'a': 1}") == {"a": 1}  # the same shape under the cap is read


@pytest.mark.parametrize(
    "body",
    [
        '{"id":0,"code":0,"msg":"Not Subscribed successfully! [spot@private.orders.v3.api]. '
        'Reason: Blocked!"}',
        b'{"id":0,"code":0,"msg":"Not Subscribed successfully! [spot@x]. Reason: Blocked!"}',
        {"id": 0, "code": 0, "msg": "Not Subscribed successfully! [spot@x]. Reason: Blocked!"},
        "{'id': 0, 'code': 0, 'msg': 'Not Subscribed successfully! [spot@x]. Reason: Blocked!'}",
    ],
)
def test_a_refusal_sent_with_code_zero_is_an_error(body: Any) -> None:
    """MEXC's WebSocket refuses a subscription with code 0: its message decides."""
    r = normalize("mexc", body=body, operation="query")
    assert r.is_error
    assert r.rule_id == "mexc.ws.subscription-blocked"


def test_a_subscription_answered_with_code_zero_is_no_error() -> None:
    r = normalize("mexc", body='{"id":0,"code":0,"msg":"spot@public.deals.v3.api@BTCUSDT"}')
    assert not r.is_error


@pytest.mark.parametrize("text", ["{'code': 1or 2}", "{'msg': '\\d+'}", "['EOrder:x', 0x1for]"])
def test_reading_a_repr_shaped_text_warns_nothing(text: str) -> None:
    """A log line shaped like a Python literal but not one ("1or 2", an invalid escape)
    is read without a SyntaxWarning or DeprecationWarning reaching the caller."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        err = normalize("bybit", body=text)
    assert [str(w.message) for w in caught] == []
    assert err.raw.body == text
