"""The router's contract (issue 8): outcome, strict arguments, one bad field, JSON.

Property tests state their invariant in their name and docstring.
"""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import normalizer
from normalizer import (
    ArgumentTypeError,
    ArgumentValueError,
    Category,
    ExceptionInfo,
    InvalidResultError,
    NormalizedError,
    NormalizerError,
    Outcome,
    Recommendation,
    UnknownOperationError,
)
from normalizer._formats.registry import ONTOLOGY

REPO = Path(__file__).resolve().parents[1]
EXCHANGES = list(normalizer.exchanges())
RATE_LIMIT_BODY = '{"code":"50011","msg":"Rate limit reached. Please refer to API docs.","data":[]}'
LABELS = [c.value for c in Category] + list(ONTOLOGY.subcategories)


# ------------------------------------------------------------------ outcome


def test_outcome_follows_what_happened_to_the_request() -> None:
    assert normalizer.normalize("okx", error=ConnectionRefusedError()).outcome is Outcome.NOT_SENT
    assert normalizer.normalize("okx", error=TimeoutError("read")).outcome is Outcome.UNKNOWN
    assert normalizer.normalize("okx", code="58102").outcome is Outcome.REJECTED
    assert normalizer.normalize("okx", body="garbage").outcome is Outcome.REJECTED


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_every_rule_outcome_is_unknown_iff_its_category_is_unknown_state(exchange: str) -> None:
    """Invariant: outcome UNKNOWN if and only if category UNKNOWN_STATE, for every rule."""
    for rule in normalizer._engine.normalize.registry().get(exchange).rules:
        assert (rule.outcome is Outcome.UNKNOWN) == (rule.category is Category.UNKNOWN_STATE)


@given(label=st.sampled_from(LABELS))
def test_declared_outcome_is_unknown_iff_unknown_state(label: str) -> None:
    """Invariant: the ontology's declared outcome is UNKNOWN iff the category is UNKNOWN_STATE."""
    cat, sub = ONTOLOGY.parse_label(label)
    outcome = ONTOLOGY.outcome_of(cat, sub)
    assert (outcome is Outcome.UNKNOWN) == (cat is Category.UNKNOWN_STATE)


def test_a_rule_may_override_its_outcome_but_not_against_its_category(tmp_path: Path) -> None:
    from normalizer._formats.rules import RuleSpec

    spec = RuleSpec.model_validate(
        {
            "id": "x.y",
            "category": "UNAVAILABLE.SERVICE",
            "why": "A gateway that refuses before forwarding.",
            "when": {"code": ["1"]},
            "outcome": "NOT_SENT",
        }
    )
    assert spec.outcome is Outcome.NOT_SENT
    with pytest.raises(ValueError, match="if and only if"):
        RuleSpec.model_validate(
            {
                "id": "x.z",
                "category": "RATE_LIMIT",
                "why": "A rate limit cannot leave the outcome open.",
                "when": {"code": ["1"]},
                "outcome": "UNKNOWN",
            }
        )


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None, 1.0, "no"])
def test_idempotent_must_be_a_real_bool(value: object) -> None:
    err = normalizer.normalize("okx", error=TimeoutError("t"), operation="place_order")
    with pytest.raises(ArgumentTypeError, match="idempotent") as caught:
        normalizer.recommend(err, idempotent=value)  # type: ignore[arg-type]
    assert isinstance(caught.value, TypeError)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize("value", [True, False, 1.0, "1", 0, -3])
def test_attempt_must_be_an_int_from_one(value: object) -> None:
    err = normalizer.normalize("okx", code="58102")
    with pytest.raises((ArgumentTypeError, ArgumentValueError), match="attempt"):
        normalizer.recommend(err, attempt=value)  # type: ignore[arg-type]


def test_operation_must_be_one_of_the_ontology() -> None:
    with pytest.raises(UnknownOperationError, match="levitate"):
        normalizer.normalize("okx", code="1", operation="levitate")
    with pytest.raises(ArgumentTypeError, match="operation"):
        normalizer.normalize("okx", code="1", operation=3)  # type: ignore[arg-type]
    err = normalizer.normalize("okx", code="1")
    with pytest.raises(UnknownOperationError):
        normalizer.recommend(err, operation="levitate")


@given(
    idempotent=st.one_of(st.text(max_size=5), st.integers(), st.floats(), st.none()),
)
def test_hostile_idempotent_values_are_refused_never_read_as_truthy(idempotent: Any) -> None:
    """Invariant: anything but a real bool for ``idempotent`` raises a NormalizerError TypeError."""
    err = normalizer.normalize("okx", error=TimeoutError("t"), operation="place_order")
    with pytest.raises(ArgumentTypeError):
        normalizer.recommend(err, idempotent=idempotent)


@given(
    attempt=st.one_of(
        st.booleans(),
        st.floats(),
        st.text(max_size=4),
        st.integers(max_value=0),
        st.integers(min_value=10**30, max_value=10**40).map(float),
    )
)
def test_hostile_attempt_values_are_refused(attempt: Any) -> None:
    """Invariant: an attempt that is not an int >= 1 (bools included) raises a NormalizerError."""
    err = normalizer.normalize("okx", code="58102")
    with pytest.raises(NormalizerError):
        normalizer.recommend(err, attempt=attempt)


@given(attempt=st.integers(min_value=1, max_value=10**6))
def test_any_int_attempt_from_one_is_accepted(attempt: int) -> None:
    """Invariant: every int >= 1 is a valid attempt, however large."""
    err = normalizer.normalize("okx", code="58102")
    assert normalizer.recommend(err, attempt=attempt).attempt == attempt


def test_http_status_reads_the_same_on_every_path() -> None:
    np = pytest.importorskip("numpy")
    forms = [429, 429.0, "429", " 429 ", np.int64(429), np.float64(429.0)]
    got = {normalizer.normalize("okx", code="1", http_status=s).http_status for s in forms}
    assert got == {429}
    many = normalizer.normalize_many(
        [{"exchange": "okx", "code": "1", "http_status": s} for s in forms]
    )
    assert {e.http_status for e in many} == {429}


def test_a_str_given_as_error_is_absorbed_with_a_note() -> None:
    """Issue 23: normalize() absorbs any object given as error= (it says so in notes)."""
    err = normalizer.normalize("okx", error="timeout")  # type: ignore[arg-type]
    assert any("error=" in note for note in err.notes)


# ------------------------------------------------------------ one bad field


def _rate_limit(**extra: Any) -> NormalizedError:
    return normalizer.normalize("okx", body=RATE_LIMIT_BODY, http_status=429, **extra)


def test_an_absurd_retry_after_is_dropped_and_noted() -> None:
    err = _rate_limit(headers={"Retry-After": 10**400})
    assert err.category is Category.RATE_LIMIT
    assert err.retry_after_s is None
    assert any("Retry-After" in n for n in err.notes)
    # longer than any venue asks (MAX_RETRY_S, a week): dropped and noted too
    big = _rate_limit(headers={"Retry-After": "1e12"})
    assert big.retry_after_s is None
    assert big.notes
    ban = _rate_limit(headers={"Retry-After": str(3 * 86400)})  # a 3-day IP ban is kept
    assert ban.retry_after_s == 3 * 86400.0
    assert not ban.notes


def test_a_5000_digit_number_in_the_body_does_not_spoil_it() -> None:
    body = '{"code":"50011","msg":"Rate limit reached.","data":[{"n":' + "9" * 5000 + "}]}"
    err = normalizer.normalize("okx", body=body)
    assert err.category is Category.RATE_LIMIT
    assert any("digits" in n for n in err.notes)


def test_a_numpy_code_is_converted_and_noted() -> None:
    np = pytest.importorskip("numpy")
    err = normalizer.normalize("mexc", code=np.int64(10101), message="Insufficient balance")
    assert err.code == "10101"
    assert err.category is Category.INSUFFICIENT_FUNDS
    assert any("int64" in n for n in err.notes)


@pytest.mark.parametrize("codec", ["utf-16", "utf-32", "utf-8-sig"])
def test_a_body_with_a_byte_order_mark_is_decoded(codec: str) -> None:
    err = normalizer.normalize("okx", body=RATE_LIMIT_BODY.encode(codec))
    assert err.category is Category.RATE_LIMIT


def test_an_unusable_status_is_dropped_and_noted() -> None:
    err = normalizer.normalize("okx", code="58102", http_status="teapot")
    assert err.category is Category.RATE_LIMIT
    assert err.http_status is None
    assert any("http_status" in n for n in err.notes)


HOSTILE = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),
    st.text(max_size=50),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(value=HOSTILE, field=st.sampled_from(["extra", "ts", "data2"]))
def test_one_hostile_body_field_never_changes_the_category(value: Any, field: str) -> None:
    """Invariant: adding a field the rules do not read leaves the category as it was."""
    body = json.loads(RATE_LIMIT_BODY)
    body[field] = value
    try:
        text = json.dumps(body)
    except ValueError:
        return
    assert normalizer.normalize("okx", body=text).category is Category.RATE_LIMIT


@settings(max_examples=60)
@given(value=HOSTILE)
def test_one_hostile_retry_after_never_changes_the_category(value: Any) -> None:
    """Invariant: any Retry-After value leaves the category and leaves delays finite."""
    err = _rate_limit(headers={"Retry-After": value})
    assert err.category is Category.RATE_LIMIT
    assert err.retry_after_s is None or math.isfinite(err.retry_after_s)
    rec = normalizer.recommend(err, operation="query")
    assert math.isfinite(rec.delay_s)


# ---------------------------------------------------------- hand-built results


def test_a_subcategory_outside_its_category_is_refused() -> None:
    with pytest.raises(InvalidResultError, match="subcategory"):
        NormalizedError(exchange="x", category=Category.KYC, subcategory="AUTH.TIMESTAMP")


@pytest.mark.parametrize("value", [math.inf, -1.0, math.nan])
def test_non_finite_numbers_are_refused(value: float) -> None:
    with pytest.raises(InvalidResultError, match="retry_after_s"):
        NormalizedError(exchange="x", category="RATE_LIMIT", retry_after_s=value)
    with pytest.raises(InvalidResultError, match="delay_s"):
        Recommendation(action="RETRY", reason="r", policy_rule_id="p", delay_s=value)


def test_an_outcome_against_the_category_is_refused() -> None:
    with pytest.raises(InvalidResultError, match="outcome"):
        NormalizedError(exchange="x", category="RATE_LIMIT", outcome="UNKNOWN")
    ok = NormalizedError(exchange="x", category="UNKNOWN_STATE")
    assert ok.outcome is Outcome.UNKNOWN


def test_the_guards_read_the_category() -> None:
    err = NormalizedError(exchange="okx", category=Category.KYC)
    rec = normalizer.recommend(err, operation="withdraw")
    assert rec.action is normalizer.Action.ESCALATE


# ------------------------------------------------------------------- JSON


def test_results_with_exceptions_and_binary_bodies_serialise() -> None:
    exc = TimeoutError("x")
    err = normalizer.normalize("mexc", error=exc)
    back = NormalizedError.from_json(err.to_json())
    assert back == err
    assert back.raw.error == ExceptionInfo("TimeoutError", "builtins", "x")
    binary = normalizer.normalize("okx", body=b"\xff\xfe\x00garbage\x80")
    again = NormalizedError.from_json(binary.to_json())
    assert again == binary
    assert again.raw.body == b"\xff\xfe\x00garbage\x80"
    text = normalizer.normalize("okx", body=RATE_LIMIT_BODY)
    assert json.loads(text.to_json())["raw"]["body"] == RATE_LIMIT_BODY


def test_a_flat_dict_for_logging_has_only_scalars() -> None:
    body = (
        '{"code":"1","msg":"All operations failed","data":['
        '{"sCode":"58350","sMsg":"Insufficient balance."}]}'
    )
    flat = normalizer.normalize("okx", body=body).to_flat()
    assert all(v is None or isinstance(v, (str, int, float, bool)) for v in flat.values())
    assert flat["items"] == 1
    assert flat["category"] == "INSUFFICIENT_FUNDS"
    rec = normalizer.recommend(normalizer.normalize("okx", code="58102"))
    assert rec.to_flat()["action"] == "RETRY"


text_or_none = st.one_of(st.none(), st.text(max_size=30))


@st.composite
def results(draw: st.DrawFn) -> NormalizedError:
    label = draw(st.sampled_from(LABELS))
    cat, sub = ONTOLOGY.parse_label(label)
    raw = normalizer.RawInput(
        body=draw(st.one_of(st.none(), st.text(max_size=20), st.binary(max_size=20))),
        http_status=draw(st.one_of(st.none(), st.integers(-5, 700), st.text(max_size=4))),
        code=draw(text_or_none),
        error=draw(st.sampled_from([None, TimeoutError("t"), ValueError("v")])),
    )
    return NormalizedError(
        exchange=draw(st.sampled_from(EXCHANGES)),
        category=cat,
        subcategory=sub,
        code=draw(text_or_none),
        http_status=draw(st.one_of(st.none(), st.integers(100, 599))),
        message=draw(text_or_none),
        retry_after_s=draw(st.one_of(st.none(), st.floats(0, 1e9))),
        operation=draw(st.one_of(st.none(), st.sampled_from(list(normalizer.Operation)))),
        notes=tuple(draw(st.lists(st.text(max_size=10), max_size=2))),
        raw=raw,
    )


@given(err=results())
def test_every_result_round_trips_through_json_to_an_equal_value(err: NormalizedError) -> None:
    """Invariant: from_json(to_json(x)) == x, and raw's text and bytes come back equal."""
    back = NormalizedError.from_json(err.to_json())
    assert back == err
    assert hash(back) == hash(err)
    assert back.raw.body == err.raw.body
    assert back.raw.code == err.raw.code
    assert pickle.loads(pickle.dumps(err)) == err  # noqa: S301 - our own bytes


@given(err=results(), attempt=st.integers(1, 20), idem=st.booleans())
def test_every_recommendation_round_trips_through_json(
    err: NormalizedError, attempt: int, idem: bool
) -> None:
    """Invariant: a recommendation survives JSON to an equal, equally hashed value."""
    rec = normalizer.recommend(err, operation="place_order", idempotent=idem, attempt=attempt)
    back = Recommendation.from_json(rec.to_json())
    assert back == rec
    assert hash(back) == hash(rec)


def test_decisions_and_halts_round_trip_through_json() -> None:
    from normalizer import Decision, Halt

    rec = normalizer.recommend(normalizer.normalize("okx", code="58102"))
    d = Decision(
        action="HALT",
        scope="account",
        scope_key="okx:a",
        reason="r",
        recommendation=rec,
        at=1.0,
        hold_s=3.0,
        until=4.0,
    )
    assert Decision.from_json(d.to_json()) == d
    assert d.to_flat()["recommendation.action"] == "RETRY"
    h = Halt(scope="account", scope_key="okx:a", action="HALT", since=1.0, until=2.0, reason="r")
    assert Halt.from_json(h.to_json()) == h
    with pytest.raises(InvalidResultError):
        Halt(scope="account", scope_key="k", action="HALT", since=1.0, until=math.inf, reason="r")


# ------------------------------------------------- untrusted JSON (issue 23)

VALID = normalizer.normalize("okx", code="58102").to_dict()


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,  # RecursionError before
        '{"a":' * 200 + "1" + "}" * 200,  # deep, but within json's own limit
        json.dumps({**VALID, "items": "x"}),  # AttributeError before
        "{}",  # TypeError before
        "not json",  # JSONDecodeError before
        b"\xff\xfe\x00",  # not UTF-8
        json.dumps({**VALID, "notes": 5}),  # TypeError before
        json.dumps({**VALID, "raw": {"body": {"$base64": "!!"}}}),  # binascii.Error before
        json.dumps({**VALID, "raw": {"body": {"$float": "x"}}}),  # ValueError before
        json.dumps({**VALID, "raw": {"error": {"$exception": [1, 2, 3]}}}),
        json.dumps({**VALID, "raw": 5}),
        json.dumps({**VALID, "items": [{"exchange": "okx"}]}),
        json.dumps({**VALID, "http_status": 10**400}),
        "[]",
        "1e999999",
    ],
)
def test_malformed_result_json_raises_only_invalid_result_error(text: str | bytes) -> None:
    with pytest.raises(InvalidResultError) as caught:
        NormalizedError.from_json(text)
    assert isinstance(caught.value, NormalizerError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("data", [{}, {"action": "RETRY"}, {"action": 5}, [], "x", None])
def test_malformed_recommendation_data_raises_only_invalid_result_error(data: Any) -> None:
    with pytest.raises(InvalidResultError):
        Recommendation.from_dict(data)
    with pytest.raises(InvalidResultError):
        Recommendation.from_json(json.dumps(data))


def test_result_json_is_bounded_in_size_and_depth() -> None:
    from normalizer._core.record import MAX_JSON_CHARS, MAX_JSON_DEPTH

    with pytest.raises(InvalidResultError, match="characters"):
        NormalizedError.from_json(" " * (MAX_JSON_CHARS + 1))
    deep: Any = 1
    for _ in range(MAX_JSON_DEPTH + 1):
        deep = [deep]
    with pytest.raises(InvalidResultError, match="nested deeper"):
        NormalizedError.from_dict({**VALID, "raw": {"body": {"$json": deep}}})


def test_a_deeply_nested_body_still_round_trips_through_json() -> None:
    """A raw body too deep for ``$json`` is written as its repr, so to_json's text reads back."""
    deep: Any = {"code": "1"}
    for _ in range(200):
        deep = {"d": deep}
    err = normalizer.normalize("okx", body=deep)
    back = NormalizedError.from_json(err.to_json())
    assert back == err
    assert isinstance(back.raw.body, str)  # its repr (Unrepresentable)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["", "AUTH", "UNKNOWN_STATE", "RETRY", "$bytes", "$json", "x" * 5000]),
)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.one_of(
        st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=8), kids, max_size=3)
    ),
    max_leaves=12,
)
markers = st.sampled_from(["$bytes", "$base64", "$json", "$exception", "$repr", "$float"])
hostile_values = st.one_of(
    json_values,
    st.builds(lambda k, v: {k: v}, markers, json_values),
    st.integers(1, 3000).map(lambda n: json.loads("[" * min(n, 900) + "]" * min(n, 900))),
)
FIELDS = [*NormalizedError._fields]


@st.composite
def hostile_result_texts(draw: st.DrawFn) -> str | bytes:
    """A result's JSON with fields replaced by hostile values, or text that is no JSON."""
    kind = draw(st.sampled_from(["fields", "raw", "items", "text", "bytes", "deep"]))
    if kind == "text":
        return draw(st.text(max_size=60))
    if kind == "bytes":
        return draw(st.binary(max_size=60))
    if kind == "deep":
        n = draw(st.integers(1, 50_000))
        return draw(st.sampled_from(["[", '{"a":', '{"items":['])) * n
    data = dict(draw(results()).to_dict())
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4)):
        if kind == "raw":
            data["raw"] = {
                **data["raw"],
                draw(st.sampled_from(list(data["raw"]))): draw(hostile_values),
            }
        elif kind == "items":
            data["items"] = [{**data, name: draw(hostile_values)}]
        else:
            data[name] = draw(hostile_values)
    if draw(st.booleans()):
        del data[draw(st.sampled_from(sorted(data)))]
    return json.dumps(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile_result_texts())
def test_hostile_result_json_gives_invalid_result_error_or_a_valid_round_trip(
    text: str | bytes,
) -> None:
    """Invariant: from_json on any text raises only InvalidResultError, or returns a
    result that survives to_json/from_json to an equal value."""
    try:
        err = NormalizedError.from_json(text)
    except InvalidResultError:
        return
    assert NormalizedError.from_json(err.to_json()) == err


@settings(max_examples=200)
@given(
    data=st.dictionaries(
        st.sampled_from([*Recommendation._fields, "other"]), hostile_values, max_size=12
    )
)
def test_hostile_recommendation_data_gives_invalid_result_error_or_a_valid_round_trip(
    data: dict[str, Any],
) -> None:
    """Invariant: Recommendation.from_dict on any data raises only InvalidResultError,
    or returns a recommendation that survives JSON to an equal value."""
    try:
        rec = Recommendation.from_dict(data)
    except InvalidResultError:
        return
    assert Recommendation.from_json(rec.to_json()) == rec


# ------------------------------------------------------------------ sharing


def test_an_identical_body_gets_one_shared_result() -> None:
    """Equal inputs give equal results; once the memo holds one, the same object."""
    a = normalizer.normalize("okx", body=RATE_LIMIT_BODY, http_status=200)
    b = normalizer.normalize("okx", body="" + RATE_LIMIT_BODY, http_status=200)
    c = normalizer.normalize("okx", body=RATE_LIMIT_BODY, http_status=200)
    assert a == b == c
    assert b is c
    assert a.raw.body == RATE_LIMIT_BODY


def test_an_exception_result_keeps_the_callers_own_exception() -> None:
    first, second = TimeoutError("same"), TimeoutError("same")
    a = normalizer.normalize("okx", error=first)
    b = normalizer.normalize("okx", error=second)
    assert a == b
    assert a.raw.error is first
    assert b.raw.error is second


# ------------------------------------------------------------------ start-up


def test_the_hot_path_imports_neither_pydantic_nor_yaml() -> None:
    code = (
        "import sys, normalizer\n"
        "e = normalizer.normalize('okx', code='58102', http_status=429)\n"
        "normalizer.recommend(e, operation='transfer')\n"
        "normalizer.normalize('mexc', error=TimeoutError('x'))\n"
        "print(sorted(m for m in ('pydantic', 'yaml') if m in sys.modules))\n"
    )
    run = [sys.executable, "-c", code]
    subprocess.run(run, cwd=REPO, check=True, capture_output=True)  # noqa: S603 - builds the store
    out = subprocess.run(run, cwd=REPO, check=True, capture_output=True, text=True)  # noqa: S603
    assert out.stdout.strip() == "[]"


# ------------------------------------------- one argument vocabulary (issue 22)


@pytest.mark.parametrize("name", ["OKX", "OKX ", " okx", "Okx\t", "\nOKX\n"])
def test_venue_names_are_folded_the_same_way_everywhere(name: str) -> None:
    """Case and surrounding spaces do not matter, in normalize() and recommend() alike."""
    err = normalizer.normalize(name, code="58102")
    assert err == normalizer.normalize("okx", code="58102")
    assert normalizer.recommend(err).action is normalizer.Action.RETRY


@pytest.mark.parametrize("name", ["PLACE_ORDER", " place_order ", "Place_Order"])
def test_operation_names_are_folded_like_venue_names(name: str) -> None:
    err = normalizer.normalize("okx", code="58102", operation=name)
    assert err.operation is normalizer.Operation.PLACE_ORDER


def test_an_unknown_exchange_says_how_to_opt_in_to_the_generic_profile() -> None:
    with pytest.raises(normalizer.UnknownExchangeError) as caught:
        normalizer.normalize("deribit", code="1")
    assert 'unknown_exchange="generic"' in str(caught.value)
    assert "use_generic_for_unknown()" in str(caught.value)
    # ... and the opt-in it names works as written
    assert normalizer.normalize("deribit", code="1", unknown_exchange="generic").exchange


@pytest.mark.parametrize("value", ["skip", "fail", "", 1, True])
def test_a_wrong_unknown_exchange_choice_is_a_normalizer_error(value: object) -> None:
    with pytest.raises(NormalizerError, match="unknown_exchange"):
        normalizer.normalize("deribit", code="1", unknown_exchange=value)  # type: ignore[arg-type]


def test_every_caller_mistake_of_the_batch_layer_is_a_normalizer_error(tmp_path: Path) -> None:
    from normalizer import BatchInputError
    from normalizer.batch import run_batch

    assert issubclass(BatchInputError, NormalizerError)
    assert issubclass(BatchInputError, ValueError)
    log = tmp_path / "log.jsonl"
    log.write_text('{"exchange": "okx", "code": "58102"}\n')
    with pytest.raises(NormalizerError, match="unknown"):
        run_batch(str(log), str(tmp_path / "out.csv"), unknown="bogus", progress=False)
    with pytest.raises(NormalizerError, match="no such file"):
        run_batch(str(tmp_path / "missing.jsonl"), str(tmp_path / "out.csv"), progress=False)
    with pytest.raises(NormalizerError, match="records"):
        normalizer.normalize_many([{"code": "58102"}])


_request_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 4),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["query", " Query ", "PLACE_ORDER", "levitate", "true", "yes"]),
)


@given(operation=_request_values, idempotent=_request_values, attempt=_request_values)
def test_the_shared_request_reader_refuses_what_recommend_refuses(
    operation: Any, idempotent: Any, attempt: Any
) -> None:
    """Invariant: request_of (the reader the supervisor and the batch share) accepts a
    request's operation, idempotent and attempt exactly when recommend() does, reads
    them the same, and refuses only with a NormalizerError."""
    from normalizer._core.arguments import request_of

    err = normalizer.normalize("okx", code="58102")
    try:
        op, idem, number = request_of(operation, idempotent, attempt)
    except NormalizerError:
        with pytest.raises(NormalizerError):
            normalizer.recommend(err, operation, idempotent, 1 if attempt is None else attempt)
        return
    direct = normalizer.recommend(err, operation, idempotent, number or 1, rand=lambda: 0.5)
    read = normalizer.recommend(err, op, idem, number or 1, rand=lambda: 0.5)
    assert direct == read


# ------------------------------------------ the analysis functions' paths and names

_ANALYSIS_CALLS = {
    "lint": lambda v: normalizer.analysis.lint(v),
    "lint(select=)": lambda v: normalizer.analysis.lint(select=v),
    "run_tests": lambda v: normalizer.analysis.run_tests(v),
    "run_policy_tests": lambda v: normalizer.analysis.run_policy_tests(v),
    "run_rule_tests": lambda v: normalizer.analysis.run_rule_tests(v),
    "coverage": lambda v: normalizer.analysis.coverage(v),
    "coverage(exchanges=)": lambda v: normalizer.analysis.coverage(None, v),
    "exchanges": lambda v: normalizer.analysis.exchanges(v),
    "code_verdicts": lambda v: normalizer.analysis.code_verdicts(v),
    "uncovered(root=)": lambda v: normalizer.analysis.uncovered("okx", v),
    "load_catalog": lambda v: normalizer.analysis.load_catalog(v),
    "ingest(pages=)": lambda v: normalizer.analysis.ingest("kraken", v, dry_run=True),
    "ingest(exchange=)": lambda v: normalizer.analysis.ingest(v, [], dry_run=True),
    "load_policy_tests": lambda v: normalizer.analysis.load_policy_tests(v),
    "parse_doc": lambda v: normalizer.analysis.parse_doc(v),
    "build_catalog": lambda v: normalizer.analysis.build_catalog("kraken", v, "https://x"),
    "build_catalog(exchange=)": lambda v: normalizer.analysis.build_catalog(v, [], "https://x"),
    "diff_catalogs": lambda v: normalizer.analysis.diff_catalogs(None, v),
}
#: what a str that names nothing there raises, where it is not PathNotFoundError
_MISSING_STR = {
    "lint(select=)": ArgumentValueError,  # an unknown check id
    "coverage(exchanges=)": ArgumentValueError,  # an unknown venue
    "code_verdicts": ArgumentValueError,
    "load_catalog": normalizer.CatalogError,  # a file loader: refused with the file
    "ingest(pages=)": ArgumentValueError,  # "cannot read PAGE"
    "ingest(exchange=)": ArgumentValueError,  # no such venue folder
    "load_policy_tests": normalizer.PolicyError,
    "parse_doc": normalizer.CatalogError,  # a page without its source_url
    "build_catalog": ArgumentTypeError,  # text where parsed pages go
    "build_catalog(exchange=)": ArgumentValueError,  # not a venue's folder name
    "diff_catalogs": ArgumentTypeError,
}


@pytest.mark.parametrize("call", sorted(_ANALYSIS_CALLS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.one_of(
        st.integers(),
        st.floats(),
        st.booleans(),
        st.binary(max_size=8),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.builds(object),
        st.text(alphabet="xyz/", min_size=1, max_size=12).map(lambda t: f"no-such-{t}"),
        st.lists(st.integers(), min_size=1, max_size=2),
    )
)
def test_analysis_mistakes_are_normalizer_errors(call: str, value: Any) -> None:
    """Invariant: a wrong type, a path that is not there or a name no venue has,
    given to an analysis function, raises a NormalizerError (a missing path
    also a FileNotFoundError), never a bare TypeError or OSError."""
    import normalizer.analysis  # the submodule the calls use

    expected = _MISSING_STR.get(call, normalizer.PathNotFoundError)
    with pytest.raises(NormalizerError) as caught:
        _ANALYSIS_CALLS[call](value)
    if isinstance(value, str):  # a path that is not there, or a name nothing has
        assert isinstance(caught.value, expected), caught.value


def test_one_path_or_one_name_is_one_value_not_its_characters() -> None:
    """``lint("rules/okx")``, ``run_rule_tests("rules")`` and ``select="conflict"``
    take the one path or id they are given (they iterated its characters:
    ``FileNotFoundError: no such file or folder: r``)."""
    from normalizer import analysis

    root = Path(__file__).resolve().parents[1]
    one = analysis.lint(str(root / "rules" / "okx"))
    listed = analysis.lint([root / "rules" / "okx"])
    assert one.findings == listed.findings
    assert analysis.lint(select="conflict").findings == analysis.lint(select=["conflict"]).findings
    assert [v.exchange for v in analysis.coverage(exchanges="kraken")] == ["kraken"]
    assert analysis.code_verdicts("kraken") == analysis.code_verdicts(["kraken"])
    page = root / "rules" / "kraken" / "docs" / "01-spot-error-messages-some-common-examples.md"
    ingested = analysis.ingest("kraken", str(page), dry_run=True).catalog.entries
    assert ingested
    assert ingested == analysis.ingest("kraken", [page], dry_run=True).catalog.entries
    with pytest.raises(FileNotFoundError, match="paths: no such file or folder: nope"):
        analysis.lint("nope")


@pytest.mark.parametrize("loader", ["load_rules", "load_policy"])
@pytest.mark.parametrize("path", [None, 7, b"rules", ["rules"], ""])
def test_loaders_refuse_what_is_not_a_path(loader: str, path: Any) -> None:
    """``load_rules`` and ``load_policy`` take a str or os.PathLike: anything else
    is an ArgumentTypeError (a bare TypeError escaped), and "" an
    ArgumentValueError (``Path("")`` is the current folder, never what was meant)."""
    expected = normalizer.ArgumentValueError if path == "" else normalizer.ArgumentTypeError
    before = normalizer.exchanges()
    with pytest.raises(expected):
        getattr(normalizer, loader)(path)
    assert normalizer.exchanges() == before


def _every_error_class(cls: type = NormalizerError) -> set[type]:
    out = {cls}
    for sub in cls.__subclasses__():
        out |= _every_error_class(sub)
    return out


def test_every_normalizer_error_survives_pickling_whole() -> None:
    """Invariant: every NormalizerError crosses a process boundary (a Dask or Spark
    worker, a process pool) as the same class, message and fields; a field that
    cannot be pickled (a lambda given as an argument) travels as its repr. Before,
    unpickling called each class's own constructor with the message alone and
    raised TypeError: an UnknownExchangeError raised in a ProcessPoolExecutor
    worker broke the pool (BrokenProcessPool) instead of reaching the caller."""
    import pickle

    import normalizer.ccxt  # the wrapper's ActionRequired classes
    from normalizer._core import errors as e

    samples: dict[type, NormalizerError] = {
        e.NormalizerError: e.NormalizerError("m"),
        e.ConfigError: e.ConfigError([e.Problem("f.yaml", 3, "rules[0].code", "bad")]),
        e.RuleFileError: e.RuleFileError([e.Problem("f.yaml", 3, "code", "bad")]),
        e.CatalogError: e.CatalogError([e.Problem("c.yaml", None, "", "bad")]),
        e.PolicyError: e.PolicyError([e.Problem("p.yaml", 1, "rules", "bad")]),
        e.OntologyError: e.OntologyError([e.Problem("o.yaml", 1, "x", "bad")]),
        e.ArgumentTypeError: e.ArgumentTypeError("attempt", "an int >= 1", lambda: 1),
        e.ArgumentValueError: e.ArgumentValueError("attempt", "must be >= 1", 0),
        e.UnknownExchangeError: e.UnknownExchangeError("deribit", ["okx", "mexc"]),
        e.UnknownOperationError: e.UnknownOperationError("fly", ["query"]),
        e.InvalidResultError: e.InvalidResultError("subcategory", "is not one", "X.Y"),
        e.PathNotFoundError: e.PathNotFoundError("paths", "no-such-folder"),
        e.BatchInputError: e.BatchInputError("log.csv:3: bad row"),
        e.SupervisorUnavailable: e.SupervisorUnavailable("no engine"),
        e.SupervisorError: e.SupervisorError("refused"),
        e.SupervisorArgumentError: e.SupervisorArgumentError("max_tracked must be..."),
        e.SupervisorClosed: e.SupervisorClosed("closed"),
        e.StoreUnavailable: e.StoreUnavailable("redis down"),
        e.ActionRequired: e.ActionRequired("stop", action=normalizer.Action.HALT),
        e.SendRefused: e.SendRefused("halted", action=normalizer.Action.HALT),
        e.RequestRejected: e.RequestRejected(
            "rejected",
            action=normalizer.Action.HALT,
            error=normalizer.normalize("okx", code="51008"),
            client_order_id="c1",
        ),
        e.OutcomeUnknown: e.OutcomeUnknown("unknown", action="QUERY_THEN_RETRY"),
    }
    assert _every_error_class() == set(samples)  # a new error class needs a sample here
    for cls, error in samples.items():
        back = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert type(back) is cls
        assert str(back) == str(error)
        assert back.args == error.args
        for name, value in vars(error).items():
            expected = e._show(value) if callable(value) else value  # its repr, bounded
            assert getattr(back, name) == expected, (cls, name)
    missing = pickle.loads(pickle.dumps(samples[e.PathNotFoundError]))  # noqa: S301
    assert isinstance(missing, FileNotFoundError)


def test_a_hand_built_policy_is_checked_like_a_loaded_one() -> None:
    """``Policy`` is built by the loaders; one built by hand (or changed with
    ``replace``) with fields of the wrong type is an ArgumentTypeError at once,
    not an AttributeError at the first recommend()."""
    policy = normalizer.default_policy()
    good = policy.replace(name="desk")
    assert good.name == "desk"
    assert normalizer.recommend(normalizer.normalize("okx", code="58102"), policy=good)
    for changes in ({"name": None}, {"source": 7}, {"defaults": {}}, {"layers": [[]]}):
        with pytest.raises(normalizer.ArgumentTypeError, match=next(iter(changes))):
            policy.replace(**changes)
    with pytest.raises(normalizer.ArgumentTypeError):
        normalizer.Policy(name="x", source="x", defaults=None, layers=())  # type: ignore[arg-type]
