"""The batch path (issue #4): ``normalize_many`` and ``classify_frame``.

The contract: each row gets exactly what ``normalize()`` and ``recommend()``
return for it, however the rows repeat. Speed is measured by ``python -m
bench``, never here.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import normalizer
from normalizer import (
    ArgumentValueError,
    Category,
    NormalizerError,
    UnknownExchangeError,
    classify_frame,
    normalize,
    normalize_many,
)
from normalizer._engine.normalize import registry
from normalizer.batch import as_http_status, output_columns

ENTRIES = [(ex, e) for ex in ("okx", "mexc") for e in registry().get(ex).catalog.entries]  # type: ignore[union-attr]
CODES = sorted({e.code for _, e in ENTRIES})
MESSAGES = sorted({e.message for _, e in ENTRIES})
EXCHANGES = list(normalizer.exchanges())
OPERATIONS = [None, *(o.value for o in normalizer.Operation)]


def half() -> float:
    return 0.5


# ------------------------------------------------------------ strategies

exchanges = st.sampled_from(["okx", "mexc", "OKX"])
codes = st.one_of(
    st.none(),
    st.sampled_from(CODES),
    st.sampled_from(CODES).map(lambda c: int(c) if c.lstrip("-").isdigit() else c),
    st.integers(-5, 5),
    st.booleans(),
    st.sampled_from(["", " 58102 ", "59999", "x" * 40]),
)
messages = st.one_of(
    st.none(),
    st.sampled_from(MESSAGES),
    st.sampled_from(["Too Many Requests", "Oversold", "", "Rate limit exceeded", "账户冻结"]),
    st.text(max_size=20),
)
statuses = st.one_of(
    st.none(), st.sampled_from([200, 400, 401, 403, 429, 500, 503, 504, 99, 600, "429", True])
)


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 6))
    code, message = draw(codes), draw(messages)
    if kind == 0:
        return None
    if kind == 1:
        return json.dumps({"code": code, "msg": message, "data": []})
    if kind == 2:
        items = [
            {"sCode": draw(codes), "sMsg": draw(messages)} for _ in range(draw(st.integers(0, 3)))
        ]
        return json.dumps({"code": draw(st.sampled_from(["0", "1", "2"])), "data": items}).encode()
    if kind == 3:
        return {"code": code, "msg": message}  # a parsed body: unhashable
    if kind == 4:
        return "<html><title>502 Bad Gateway</title></html>"
    if kind == 5:
        return "{not json"
    return json.dumps({"success": False, "code": code, "message": message})


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {"exchange": draw(exchanges)}
    for field, strategy in (
        ("code", codes),
        ("message", messages),
        ("http_status", statuses),
        ("body", bodies()),
        ("operation", st.sampled_from(OPERATIONS)),
    ):
        if draw(st.booleans()):
            record[field] = draw(strategy)
    if draw(st.integers(0, 9)) == 0:
        record["headers"] = {"Retry-After": "3"}
    if draw(st.integers(0, 9)) == 0:
        record["error"] = TimeoutError("timed out")
    record["note"] = "an unrelated column"
    return record


def logs(rows: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A log: a few distinct records, each repeated in any order."""
    return st.lists(rows, min_size=1, max_size=8).flatmap(
        lambda pool: st.lists(st.sampled_from(pool), min_size=1, max_size=40)
    )


def per_row(record: dict[str, Any], operation: Any = None) -> normalizer.NormalizedError:
    fields = {
        f: record.get(f) for f in ("code", "message", "http_status", "body", "headers", "error")
    }
    op = record.get("operation")
    return normalize(record["exchange"], **fields, operation=op if op is not None else operation)


# ------------------------------------------------------------ normalize_many


@given(logs(records()), st.sampled_from(OPERATIONS))
def test_normalize_many_equals_normalize_per_row(log: list[dict[str, Any]], operation: Any) -> None:
    """normalize_many(records)[i] == normalize(**records[i]), raw input included."""
    got = normalize_many(log, operation=operation)
    assert len(got) == len(log)
    for record, result in zip(log, got, strict=True):
        assert result == per_row(record, operation)
        assert result.raw == per_row(record, operation).raw


def test_normalize_many_classifies_each_distinct_record_once() -> None:
    log = [{"exchange": "okx", "code": "58102", "http_status": 429}] * 1000
    out = normalize_many(log)
    assert len(out) == 1000
    assert len({id(r) for r in out}) == 1
    assert out[0].subcategory == "RATE_LIMIT.REQUESTS"


def test_normalize_many_keeps_types_apart() -> None:
    """True == 1 == 1.0 in Python, but not as an exchange's code."""
    log = [
        {"exchange": "mexc", "code": 1},
        {"exchange": "mexc", "code": True},
        {"exchange": "mexc", "code": 1.0},
    ]
    got = normalize_many(log)
    assert [r.code for r in got] == ["1", None, "1"]
    assert got == [per_row(r) for r in log]


def test_normalize_many_takes_any_iterable_and_refuses_caller_mistakes() -> None:
    gen = ({"exchange": "okx", "code": str(58000 + i % 3)} for i in range(10))
    assert [r.code for r in normalize_many(gen)] == [str(58000 + i % 3) for i in range(10)]
    with pytest.raises(UnknownExchangeError):
        normalize_many([{"exchange": "nope"}])
    with pytest.raises(ValueError, match="unknown operation"):
        normalize_many([{"exchange": "okx", "operation": "fly"}])
    with pytest.raises(NormalizerError, match="'exchange'"):
        normalize_many([{"code": "58102"}])


# ------------------------------------------------------------ classify_frame

frame_codes = st.one_of(
    st.none(),
    st.sampled_from(CODES),
    st.sampled_from(CODES).map(lambda c: int(c) if c.lstrip("-").isdigit() else c),
    st.integers(-3, 3),
    st.booleans(),
)


@st.composite
def frame_rows(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "exchange": draw(st.sampled_from(EXCHANGES)),
        "code": draw(frame_codes),
        "message": draw(messages),
        "http_status": draw(st.one_of(st.none(), st.sampled_from([200, 400, 429, 503, 504]))),
        "operation": draw(st.sampled_from(OPERATIONS)),
    }


def as_read(value: Any, column: str) -> Any:
    """A cell as classify_frame's docstring says it is read."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # a numpy scalar
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if column in ("code", "http_status") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def expected(row: dict[str, Any], kw: dict[str, Any]) -> tuple[Any, ...]:
    op = kw["operation"] if kw["operation"] is not None else row.get("operation")
    err = normalize(
        row["exchange"],
        code=row.get("code"),
        message=row.get("message"),
        http_status=row.get("http_status"),
        operation=op,
    )
    rec = normalizer.recommend(
        err, op, kw["idempotent"] or False, kw["attempt"] or 1, kw["policy"], rand=kw["rand"]
    )
    return result_row(err, rec)


def text(value: Any) -> Any:
    return None if value is None else str(getattr(value, "value", value))


def result_row(err: Any, rec: Any) -> tuple[Any, ...]:
    """The added columns, as per-row normalize() and recommend() say (attributes only);
    without a recommendation, the labels alone."""
    labels = [text(err.category), err.subcategory]
    if "outcome" in output_columns():
        labels.append(text(err.outcome))
    if rec is None:
        return tuple(labels)
    return (
        *labels,
        err.rule_id,
        text(rec.action),
        round(rec.delay_s, 3),
        text(rec.scope),
        text(rec.precondition),
        rec.policy_rule_id,
        None,  # row_error
    )


def got_rows(out: Any) -> list[tuple[Any, ...]]:
    cols = [out[c].astype(object).tolist() for c in output_columns()]
    return [
        tuple(None if v is None or v != v else v for v in row) for row in zip(*cols, strict=True)
    ]


@given(
    logs(frame_rows()),
    st.sampled_from([None, "query", "place_order"]),
    st.booleans(),
    st.integers(1, 7),
)
def test_classify_frame_equals_normalize_and_recommend_per_row(
    log: list[dict[str, Any]], operation: Any, idempotent: bool, attempt: int
) -> None:
    """Each row gets what normalize()/recommend() return for it, however the rows repeat."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(log)
    kw = {
        "operation": operation,
        "idempotent": idempotent,
        "attempt": attempt,
        "policy": None,
        "rand": half,
    }
    out = classify_frame(df, **kw)
    assert list(out.columns) == [*df.columns, *output_columns()]
    assert out.index.equals(df.index)
    read = [{c: as_read(v, c) for c, v in row.items()} for row in df.to_dict("records")]
    assert got_rows(out) == [expected(row, kw) for row in read]


def test_classify_frame_on_a_log_with_gaps() -> None:
    """Integers with gaps are stored as floats by pandas; they are read as ints."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "exchange": ["okx", "okx", "mexc", "mexc"],
            "code": ["58102", None, 10101, None],
            "message": [None, "Insufficient balance.", None, "Oversold"],
            "http_status": [429, None, 400, 400],
        },
        index=[10, 11, 12, 13],
    )
    assert df["http_status"].dtype == float
    out = classify_frame(df)
    assert out["category"].tolist() == [
        "RATE_LIMIT",
        "INSUFFICIENT_FUNDS",
        "INSUFFICIENT_FUNDS",
        "INSUFFICIENT_FUNDS",
    ]
    assert out["action"].tolist()[0] == "RETRY"
    assert isinstance(out["category"].dtype, pd.CategoricalDtype)
    assert list(out.index) == [10, 11, 12, 13]
    assert "category" not in df.columns  # the input is left as it was


def test_classify_frame_keeps_bools_apart_from_numbers() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"exchange": ["mexc"] * 4, "code": [1, True, 0, False]})
    out = classify_frame(df, rand=half)
    kw = {"operation": None, "idempotent": False, "attempt": 1, "policy": None, "rand": half}
    assert got_rows(out) == [expected(row, kw) for row in df.to_dict("records")]


def test_classify_frame_operation_argument_wins_over_the_column() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {"exchange": ["okx", "okx"], "http_status": [503, 503], "operation": ["query", None]}
    )
    by_column = classify_frame(df)["subcategory"].tolist()
    assert by_column == ["UNAVAILABLE.SERVICE", "UNKNOWN_STATE.SERVER_ERROR"]
    by_argument = classify_frame(df, operation="query")["subcategory"].tolist()
    assert by_argument == ["UNAVAILABLE.SERVICE", "UNAVAILABLE.SERVICE"]


def test_classify_frame_edges() -> None:
    pd = pytest.importorskip("pandas")
    empty = classify_frame(pd.DataFrame({"exchange": pd.Series([], dtype=object)}))
    assert len(empty) == 0
    assert "action" in empty.columns
    only_exchange = classify_frame(pd.DataFrame({"exchange": ["okx"]}))
    assert only_exchange["category"].tolist() == [Category.UNKNOWN.value]
    with pytest.raises(ArgumentValueError, match="'exchange' column"):
        classify_frame(pd.DataFrame({"code": ["1"]}))
    with pytest.raises(UnknownExchangeError):
        classify_frame(pd.DataFrame({"exchange": ["nope"]}), unknown_exchange="raise")
    kept = classify_frame(pd.DataFrame({"exchange": ["nope", "okx"], "code": ["1", "58102"]}))
    assert kept["row_error"].tolist()[1] != kept["row_error"].tolist()[1]  # NaN: classified
    assert str(kept["row_error"].tolist()[0]).startswith("exchange: unknown exchange 'nope'")


def test_classify_frame_says_what_to_install_without_pandas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match="needs pandas"):
        classify_frame(object())  # type: ignore[arg-type]


def test_http_status_is_read_the_same_whatever_the_log_stored() -> None:
    """429, 429.0, "429", " 429 " and numpy.int64(429) are one status, as for normalize()."""
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    stored = [429, 429.0, "429", " 429 ", np.int64(429), "429.0"]
    assert {as_http_status(v) for v in stored} == {429}
    assert as_http_status(float("nan")) is None
    assert as_http_status(True) is True  # no status; normalize() ignores it
    df = pd.DataFrame(
        {"exchange": ["okx"] * len(stored), "http_status": pd.Series(stored, dtype=object)}
    )
    out = classify_frame(df, rand=half)
    want = normalize("okx", http_status=429)
    assert set(out["subcategory"].astype(object)) == {want.subcategory}


def _mixed_log(pd: Any) -> Any:
    """A log whose columns come in every storage classify_frame reads differently."""
    rows = [
        {"exchange": ex, "code": code, "message": msg, "http_status": status}
        for ex in ("okx", "mexc", "kraken")
        for code in (None, "58102", "10101", "-1")
        for msg in (None, "Insufficient balance.", "EGeneral:Too many requests")
        for status in (None, 200, 429, 503)
    ]
    df = pd.DataFrame(rows)
    df["message"] = df["message"].astype("string[pyarrow]")  # Arrow-backed text
    df["code"] = df["code"].astype(object)  # Python objects
    df["exchange"] = df["exchange"].astype("category")
    return df  # http_status: float64 with NaN


@pytest.mark.parametrize(("int32_limit", "int64_limit"), [(2**31 - 1, 2**62), (5, 2**62), (5, 40)])
def test_classify_frame_signatures_survive_a_key_too_wide_for_its_integers(
    monkeypatch: pytest.MonkeyPatch, int32_limit: int, int64_limit: int
) -> None:
    """Rows are told apart as exactly when the combined key widens to 64 bits or is renumbered."""
    pd = pytest.importorskip("pandas")
    from normalizer.batch import _signatures

    monkeypatch.setattr(_signatures, "_INT32_SAFE", int32_limit)
    monkeypatch.setattr(_signatures, "_INT64_SAFE", int64_limit)
    df = _mixed_log(pd)
    df = pd.concat([df, df.iloc[::-1]], ignore_index=True)  # every signature twice
    out = classify_frame(df, rand=half)
    kw = {"operation": None, "idempotent": False, "attempt": 1, "policy": None, "rand": half}
    read = [{c: as_read(v, c) for c, v in row.items()} for row in df.to_dict("records")]
    assert got_rows(out) == [expected(row, kw) for row in read]


def test_classify_frame_without_arrow_hashing_says_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Arrow encodes text and numbers when it can; pandas' factorize must agree when it cannot."""
    pd = pytest.importorskip("pandas")
    from normalizer.batch import _signatures

    df = _mixed_log(pd)
    with_arrow = got_rows(classify_frame(df, rand=half))
    monkeypatch.setattr(_signatures, "_dictionary", lambda np, data: None)
    assert got_rows(classify_frame(df, rand=half)) == with_arrow


def test_classify_frame_columns_behave_as_ordinary_categoricals() -> None:
    """The added columns share one gathered array; pandas must not notice."""
    pd = pytest.importorskip("pandas")
    df = _mixed_log(pd)
    out = classify_frame(df, rand=half)
    plain = pd.DataFrame({c: list(out[c].astype(object)) for c in output_columns()})
    for c in ("category", "subcategory", "rule_id", "action"):
        assert isinstance(out[c].dtype, pd.CategoricalDtype)
        assert out[c].value_counts().to_dict() == plain[c].value_counts().to_dict()
        assert (
            out[c].isin(["RATE_LIMIT", "RETRY"]).tolist()
            == plain[c].isin(["RATE_LIMIT", "RETRY"]).tolist()
        )
    by = out.groupby(["category", "action"], observed=True).size().to_dict()
    assert by == plain.groupby(["category", "action"]).size().to_dict()
    for c in output_columns():
        if c != "delay_s":
            kept = out[c].cat.categories
            want = pd.Categorical(plain[c], categories=kept).codes
            assert out[c].cat.codes.tolist() == want.tolist()
    copied = out.copy()
    other = next(c for c in out["category"].cat.categories if c != out["category"].iloc[0])
    copied.loc[copied.index[0], "category"] = other
    assert copied["category"].iloc[0] == other
    assert out["category"].iloc[0] == plain["category"].iloc[0]  # the copy is its own
    out.loc[out.index[0], "category"] = other  # writing one column in place touches no other
    assert out["category"].iloc[0] == other

    def cells(column: Any) -> list[Any]:
        return [None if v is None or v != v else v for v in column.astype(object).tolist()]

    for c in output_columns():
        if c != "category":
            assert cells(out[c]) == cells(plain[c]), c


def test_classify_frame_reads_every_nan_as_missing() -> None:
    """NaNs with other bit patterns (negative, with a payload) are missing values too."""
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    payload = np.frombuffer(np.uint64(0x7FF8000000000123).tobytes(), dtype=np.float64)[0]
    nans = [float("nan"), -float("nan"), payload]
    assert all(math.isnan(v) for v in nans)
    df = pd.DataFrame(
        {
            "exchange": ["okx"] * 6,
            "code": [58102.0, *nans, 58102.0, 50011.0],
            "http_status": np.array([*nans, 429.0, 200.0, 200.0]),
        }
    )
    out = classify_frame(df, rand=half)
    kw = {"operation": None, "idempotent": False, "attempt": 1, "policy": None, "rand": half}
    read = [{c: as_read(v, c) for c, v in row.items()} for row in df.to_dict("records")]
    assert [r["http_status"] for r in read[:3]] == [None, None, None]
    assert got_rows(out) == [expected(row, kw) for row in read]
    assert got_rows(out)[1] == got_rows(out)[2]  # no code, no status, however the NaN is spelled


# ------------------------------------------- one argument vocabulary (issue 22)


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("idempotent", 2),
        ("idempotent", "maybe"),
        ("idempotent", "true"),
        ("idempotent", 1),
        ("attempt", 0),
        ("attempt", True),
        ("attempt", 1.5),
        ("attempt", "2"),
        ("operation", "levitate"),
    ],
)
def test_classify_frame_refuses_the_arguments_recommend_refuses(argument: str, value: Any) -> None:
    """One reading for every entry point: what recommend() refuses, classify_frame refuses,
    as the same NormalizerError class."""
    pd = pytest.importorskip("pandas")
    err = normalize("okx", code="58102")
    with pytest.raises(NormalizerError) as by_recommend:
        normalizer.recommend(err, **{argument: value})
    with pytest.raises(NormalizerError) as by_frame:
        classify_frame(pd.DataFrame({"exchange": ["okx"], "code": ["58102"]}), **{argument: value})
    assert type(by_frame.value) is type(by_recommend.value)


@pytest.mark.parametrize("value", ["skip", "fail", 3])
def test_classify_frame_refuses_an_unknown_exchange_choice_as_a_normalizer_error(
    value: Any,
) -> None:
    pd = pytest.importorskip("pandas")
    with pytest.raises(NormalizerError, match="unknown_exchange"):
        classify_frame(pd.DataFrame({"exchange": ["okx"]}), unknown_exchange=value)


def test_cells_of_a_log_are_read_by_one_reader() -> None:
    """A yes/no cell: True/1/"yes"/" TRUE " and False/0/"no"/missing are read, 2 and
    "maybe" are refused per row (row_error), never read as true or false; so is an
    attempt cell that is no whole number from 1."""
    pd = pytest.importorskip("pandas")
    from normalizer._core.arguments import flag_cell

    cells: list[Any] = [True, 1, "yes", " TRUE ", False, 0, "no", None, 2, "maybe"]
    assert [flag_cell(c) for c in cells[:8]] == [True] * 4 + [False] * 3 + [None]
    df = pd.DataFrame(
        {
            "exchange": ["okx"] * len(cells),
            "error_type": ["ReadTimeout"] * len(cells),
            "operation": ["place_order"] * len(cells),
            "idempotent": pd.Series(cells, dtype=object),
            "attempt": pd.Series([1, 2.0, "3", " 4 ", None, 1, 1, 1, 1, 1], dtype=object),
        }
    )
    out = classify_frame(df, rand=half)
    errors = out["row_error"].astype(object).tolist()
    assert [str(e).startswith("idempotent: ") for e in errors] == [False] * 8 + [True] * 2
    assert out["action"].isna().tolist() == [False] * 8 + [True] * 2
    bad_attempts = df.assign(attempt=pd.Series([0, "two", 1.5, True, -1] * 2, dtype=object))
    refused = classify_frame(bad_attempts.iloc[:5], rand=half)["row_error"].astype(object)
    assert all(str(e).startswith("attempt: ") for e in refused.tolist())


def test_one_bad_row_gets_an_error_column_and_the_others_go_on() -> None:
    """The default for a venue no rules know (and any row that cannot be classified) is a
    row_error with the words the batch CLI writes; "raise" is the explicit opt-in to fail."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "exchange": ["okx", "deribit", "okx", "okx", "OKX "],
            "code": ["58102", "1", "58102", "58102", "58102"],
            "operation": [None, None, "levitate", None, None],
            "attempt": [1, 1, 1, "two", 1],
        }
    )
    out = classify_frame(df, rand=half)
    errors = out["row_error"].astype(object).tolist()
    assert errors[0] != errors[0]  # NaN: classified
    assert errors[4] != errors[4]
    assert out["category"].astype(object).tolist()[4] == "RATE_LIMIT"
    assert errors[1].startswith("exchange: unknown exchange 'deribit'")
    assert 'unknown_exchange="generic"' in errors[1]
    assert errors[2].startswith("operation: unknown operation 'levitate'")
    assert errors[3].startswith("attempt: ")
    assert out["action"].astype(object).tolist()[1] != out["action"].astype(object).tolist()[1]
    generic = classify_frame(df.iloc[:2], unknown_exchange="generic", rand=half)
    assert (
        generic["rule_id"].astype(object).tolist()[1] is None
        or generic["row_error"].astype(object).tolist()[1] != "x"
    )
    assert generic["row_error"].isna().all()
    with pytest.raises(UnknownExchangeError):
        classify_frame(df, unknown_exchange="raise")


def test_the_batch_cli_reports_a_bad_row_in_the_words_of_row_error(tmp_path: Any) -> None:
    """The CLI's errors file and classify_frame's row_error say the same thing."""
    pd = pytest.importorskip("pandas")
    from normalizer.batch import run_batch

    rows = [
        {"exchange": "deribit", "code": "1"},
        {"exchange": "okx", "operation": "levitate"},
        {"exchange": "okx", "idempotent": "maybe"},
        {"exchange": "OKX ", "code": "58102"},
    ]
    src = tmp_path / "log.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = run_batch(str(src), str(tmp_path / "out.csv"), progress=False)
    assert (summary.rows, summary.bad_rows) == (1, 3)
    reported = [json.loads(x) for x in (tmp_path / "out.errors.jsonl").read_text().splitlines()]
    frame = classify_frame(pd.DataFrame(rows), rand=half)
    words = frame["row_error"].astype(object).tolist()[:3]
    assert [f"{p['field']}: {p['problem']}" for p in reported] == words


@pytest.mark.parametrize("code", [58102, 58102.0, "58102.0", "58102", " 58102 "])
def test_a_code_reads_the_same_whatever_the_column_made_of_it(code: Any) -> None:
    """58102, 58102.0 (a float column) and "58102.0" (its text) are code 58102."""
    pd = pytest.importorskip("pandas")
    out = classify_frame(pd.DataFrame({"exchange": ["okx"], "code": [code]}), rand=half)
    assert out["rule_id"].astype(object).tolist() == [normalize("okx", code="58102").rule_id]


_hostile_arguments = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["maybe", "skip", "fail", "generic", "RAISE ", " error", "/nonexistent"]),
    st.lists(st.integers(), max_size=2),
)


@given(
    argument=st.sampled_from(
        ["operation", "idempotent", "attempt", "policy", "rules_dir", "seed", "unknown_exchange"]
    ),
    value=_hostile_arguments,
)
def test_every_caller_mistake_to_classify_frame_is_a_normalizer_error(
    argument: str, value: Any
) -> None:
    """Invariant: classify_frame with any value of any argument either classifies the
    frame or raises a NormalizerError (never a bare TypeError, ValueError or KeyError)."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"exchange": ["okx", "mexc"], "code": ["58102", "10101"]})
    try:
        out = classify_frame(df, **{argument: value}, rand=half)
    except NormalizerError:
        return
    assert len(out) == 2


@pytest.mark.parametrize("df", ["x", None, [{"exchange": "okx"}], {"exchange": ["okx"]}])
def test_classify_frame_refuses_what_is_no_frame(df: Any) -> None:
    with pytest.raises(normalizer.ArgumentTypeError, match="DataFrame"):
        classify_frame(df)


# ------------------------------------------------------ the caller's arguments


@pytest.mark.parametrize(
    ("call", "error"),
    [
        # an int given as the errors file opened that file descriptor
        (lambda src: _run(src, errors=2), normalizer.ArgumentTypeError),
        (lambda src: _run(src, errors=""), normalizer.ArgumentValueError),
        (lambda src: _run(src, output=None), normalizer.ArgumentTypeError),
        (lambda src: _run(None), normalizer.ArgumentTypeError),
        (lambda src: _run(src, chunk_rows=1.5), normalizer.ArgumentTypeError),
        (lambda src: _run(src, chunk_rows=True), normalizer.ArgumentTypeError),
        (lambda src: _run(src, chunk_rows=0), normalizer.BatchInputError),
        (lambda src: _run(src, strict="yes"), normalizer.ArgumentTypeError),
        (lambda src: _run(src, progress=1), normalizer.ArgumentTypeError),
        (lambda src: normalizer.normalize_many(7), normalizer.ArgumentTypeError),
        (lambda src: normalizer.normalize_many({"exchange": "okx"}), normalizer.ArgumentTypeError),
        (lambda src: normalizer.normalize_many("okx"), normalizer.ArgumentTypeError),
    ],
)
def test_batch_argument_mistakes_are_refused_before_any_row(
    call: Any, error: type, tmp_path: Any
) -> None:
    """Each mistake is a NormalizerError at once (a TypeError, an OSError or a
    silently wrong reading escaped before), and no output file is written."""
    pytest.importorskip("pandas")
    src = tmp_path / "log.csv"
    src.write_text("exchange,code\nokx,58102\n", encoding="utf-8")
    with pytest.raises(error):
        call(src)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]


def _run(source: Any, **kw: Any) -> Any:
    import io

    from normalizer.batch import run_batch

    kw.setdefault("output", str(source) + ".out.csv" if source is not None else "-")
    return run_batch(source, stdout=io.StringIO(), stderr=io.StringIO(), **kw)


@pytest.mark.parametrize("rand", ["", [], 0.5, "random"])
def test_rand_must_be_callable_wherever_it_is_taken(rand: Any) -> None:
    """``rand`` is the jitter's source: an empty string or list was read as "not
    given" and a number failed only when a delay was drawn; now each is refused."""
    pd = pytest.importorskip("pandas")
    err = normalizer.normalize("okx", code="58102")
    with pytest.raises(normalizer.ArgumentTypeError, match="rand"):
        normalizer.recommend(err, rand=rand)
    frame = pd.DataFrame({"exchange": ["okx"], "code": ["58102"]})
    with pytest.raises(normalizer.ArgumentTypeError, match="rand"):
        normalizer.classify_frame(frame, rand=rand)
