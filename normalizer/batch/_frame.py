"""Batch classification for analysis: months of logs, each distinct error decided once.

A log of millions of failed requests holds a few thousand distinct errors. Every
entry point here finds the distinct *signatures* (exchange, code, message, HTTP
status, body, error type, operation, idempotent, attempt), classifies each one
with ``normalize()`` and ``recommend()``, and hands every row the result of its
signature. So every row gets exactly what ``normalize()``/``recommend()`` return
for it, at the cost of one call per distinct error.

- ``normalize_many(records)``: an iterable of dicts in, a list of
  ``NormalizedError`` out. Rows with equal inputs share one (frozen) result.
- ``classify_partition(df, spec)``: THE partition function. A pandas frame in,
  the same frame with the added columns out. It is a module-level function of
  its two arguments only; ``spec`` (a ``FrameSpec``) is plain, picklable data:
  a custom policy travels as its YAML text and a user rules folder as the bytes
  of its YAML files, which each worker process loads once. So the same function
  runs unchanged in this process (``classify_frame``), in the file batch
  (``exchange-normalizer batch``), on Dask workers and in Spark's Python workers.
- ``classify_frame(df, ...)``: ``classify_partition`` on one pandas frame.

Beside it: ``_spec`` (the caller's arguments, checked, as ``FrameSpec``),
``_shipping`` (a policy and rules folder as data, loaded once per worker),
``_signatures`` (the distinct signatures of a frame, with numpy and Arrow) and
``_logged`` (a logged exception's class name as the exception).

pandas is optional: it is imported when a frame function is called.

(Over 500 lines: the one partition function and its two entry points share
the signature, the row checks and the output columns; split, each would
need the others' private helpers.)
"""

from __future__ import annotations

import importlib
import itertools
import math
import operator
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from .._core.arguments import (
    attempt_cell,
    code_cell,
    flag_cell,
    rand_of,
    status_of,
)
from .._core.errors import (
    ArgumentTypeError,
    ArgumentValueError,
    NormalizerError,
)
from .._core.policy import Policy
from .._core.vocabulary import Operation, operation_of
from .._engine.generic import UnknownExchange
from .._engine.normalize import normalize
from .._engine.recommend import recommend
from .._engine.results import NormalizedError
from .._formats.registry import Registry, on_change
from ._logged import logged_exception
from ._shipping import MAX_RULES_BYTES, PolicySource, RulesSource
from ._signatures import signatures, spread
from ._spec import FrameSpec, _policy_of, _registry_of, engine_spec, make_spec

__all__ = [
    "MAX_RULES_BYTES",
    "FrameSpec",
    "PolicySource",
    "RulesSource",
    "as_http_status",
    "classify_frame",
    "classify_partition",
    "engine_spec",
    "logged_exception",
    "make_spec",
    "normalize_many",
    "output_columns",
    "row_error",
]

# pandas and numpy are optional and imported when a frame function runs, so their
# objects are typed Any here: a DataFrame, a Series, an ndarray.
DataFrame = Any
Series = Any
Array = Any

#: The fields of a record that ``normalize_many`` passes to ``normalize()``.
FIELDS = ("code", "message", "http_status", "body", "headers", "error", "operation")

#: The columns the partition function reads (``exchange`` is required, the
#: others optional; a column left out counts as empty).
INPUT_COLUMNS = (
    "exchange",
    "code",
    "message",
    "http_status",
    "body",
    "error_type",
    "operation",
    "idempotent",
    "attempt",
)
#: The text columns it adds (``outcome`` only where results carry one).
LABEL_COLUMNS = ("category", "subcategory", "outcome", "rule_id", "action")
#: The recommendation's columns after them; ``delay_s`` is a float, the rest text.
ACTION_COLUMNS = ("delay_s", "scope", "precondition", "policy_rule_id")
#: The last column: why a row could not be classified (None when it was), as
#: ``"<field>: <message>"``, the words the batch CLI writes for a bad row; the
#: row's other added columns are then empty.
ERROR_COLUMN = "row_error"


# ------------------------------------------------------------ http_status


def as_http_status(value: Any) -> Any:
    """An HTTP status as ``normalize()`` reads it, from what logs store.

    ``429``, ``429.0`` (pandas stores integers with gaps as floats), ``"429"``,
    ``" 429 "`` and ``numpy.int64(429)`` all become ``429``, through the
    engine's own reading (``normalize()`` reads them the same); missing values
    (None, NaN, NA) become None; anything else is passed on as it is, for
    ``normalize()`` to judge (it ignores what is no status, with a note).
    """
    if value is None:
        return None
    status, _ = status_of(value)
    if status is not None:
        return status
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and value.strip().endswith(".0"):
        return as_http_status(value.strip()[:-2])  # a CSV written from a float column
    return value


# ------------------------------------------------------------ normalize_many


def normalize_many(
    records: Iterable[Mapping[str, Any]],
    *,
    operation: Operation | str | None = None,
    unknown_exchange: UnknownExchange | None = None,
) -> list[NormalizedError]:
    """``normalize()`` over many records, each distinct record classified once.

    Each record is a mapping with an ``exchange`` and any of ``code``,
    ``message``, ``http_status``, ``body``, ``headers``, ``error`` and
    ``operation`` (other keys are ignored); ``operation`` here is the default
    for records without one. The i-th result equals
    ``normalize(record["exchange"], **fields)``; records with equal inputs (of
    the same types) share one result object, whose ``raw`` is the first such
    record's. Records with ``headers`` or an ``error`` are classified one by
    one, as are records whose values cannot be hashed (a dict body).

    Raises what ``normalize()`` raises for a caller's mistake (an unknown
    exchange or operation), and ``ArgumentValueError`` for a record without an
    exchange (all ``NormalizerError``; it has no column to put a row's error in);
    ``unknown_exchange="generic"`` answers venue names no rules know by the
    generic profile instead, as ``normalize()`` does.
    """
    if isinstance(records, str | bytes | Mapping) or not isinstance(records, Iterable):
        raise ArgumentTypeError("records", "an iterable of mappings (one per record)", records)
    out: list[NormalizedError] = []
    memo: dict[tuple[Any, ...], NormalizedError] = {}
    for record in records:
        try:
            exchange = record["exchange"]
        except (KeyError, TypeError):
            raise ArgumentValueError(
                "records", "each record must be a mapping with an 'exchange'", record
            ) from None
        code = record.get("code")
        message = record.get("message")
        status = record.get("http_status")
        body = record.get("body")
        op = record.get("operation")
        if op is None:
            op = operation
        if record.get("headers") is not None or record.get("error") is not None:
            out.append(_one(exchange, record, op, unknown_exchange))
            continue
        # types are part of the key: True == 1 == 1.0, but not as a code
        key = (
            exchange,
            type(code),
            code,
            type(message),
            message,
            type(status),
            status,
            type(body),
            body,
            op,
        )
        try:
            hit = memo.get(key)
        except TypeError:  # an unhashable value (a dict body): classify it alone
            out.append(_one(exchange, record, op, unknown_exchange))
            continue
        if hit is None:
            hit = memo[key] = normalize(
                exchange,
                code=code,
                message=message,
                http_status=status,
                body=body,
                operation=op,
                unknown_exchange=unknown_exchange,
            )
        out.append(hit)
    return out


def _one(
    exchange: Any, record: Mapping[str, Any], op: Any, unknown_exchange: UnknownExchange | None
) -> NormalizedError:
    fields = {f: record.get(f) for f in FIELDS}
    fields["operation"] = op
    return normalize(exchange, **fields, unknown_exchange=unknown_exchange)


# ------------------------------------------------------------ one signature


def _normalize_in(
    rules: Registry | None,
    exchange: Any,
    *,
    code: Any,
    message: Any,
    http_status: Any,
    body: Any,
    error: BaseException | None,
    operation: Any,
    unknown_exchange: UnknownExchange | None = None,
) -> NormalizedError:
    """``normalize()``, against the shipped rules when there are any."""
    if rules is None:
        return normalize(
            exchange,
            code=code,
            message=message,
            http_status=http_status,
            body=body,
            error=error,
            operation=operation,
            unknown_exchange=unknown_exchange,
        )
    from .._engine import normalize as engine

    return engine.normalize_with(
        rules,
        exchange,
        code=code,
        message=message,
        http_status=http_status,
        body=body,
        error=error,
        operation=operation,
        unknown_exchange=unknown_exchange,
    )


@cache
def _has_outcome() -> bool:
    return hasattr(normalize("okx", code="58102"), "outcome")


def output_columns() -> tuple[str, ...]:
    """The columns the partition function adds, in order."""
    labels = tuple(c for c in LABEL_COLUMNS if c != "outcome" or _has_outcome())
    return (*labels, *ACTION_COLUMNS, ERROR_COLUMN)


def row_error(exc: NormalizerError) -> str:
    """A row's ``row_error``: the field and the refusal, as the batch CLI reports it."""
    argument = getattr(exc, "argument", None)
    return f"{argument}: {exc}" if argument else str(exc)


#: Results of rows without a body, by the cells that decide them (exchange,
#: code, message, HTTP status, error type; each with its type) and the
#: rules, kept across calls: a notebook classifies the same log again and
#: again. Cleared when the rules change; at most this many are kept.
MAX_DECIDED = 1 << 17
_decided: dict[tuple[Any, ...], NormalizedError] = {}
_decided_lock = threading.Lock()
on_change(_decided.clear)


def _classify_one(
    cells: tuple[Any, ...],
    spec: FrameSpec,
    policy: Policy | None,
    rules: Registry | None,
    rand: Callable[[], float] | None,
) -> tuple[Any, ...]:
    """The added columns for one signature: its cells in ``INPUT_COLUMNS`` order
    (None for a column the frame lacks or an argument overrides)."""
    try:
        return _classified_one(cells, spec, policy, rules, rand)
    except NormalizerError as exc:  # a row that cannot be classified (never a bug of ours)
        if spec.unknown_exchange == "raise":
            raise
        return (*([None] * (len(output_columns()) - 1)), row_error(exc))


def _classified_one(
    cells: tuple[Any, ...],
    spec: FrameSpec,
    policy: Policy | None,
    rules: Registry | None,
    rand: Callable[[], float] | None,
) -> tuple[Any, ...]:
    exchange, code, logged, status, body, error_type, operation, yes_no, number = cells
    op = spec.operation if spec.operation is not None else operation
    if op is not None:
        op = operation_of(op).value
    idempotent = spec.idempotent
    if idempotent is None:
        idempotent = bool(flag_cell(yes_no, "idempotent"))
    attempt = spec.attempt if spec.attempt is not None else attempt_cell(number) or 1
    if exchange is None:
        raise ArgumentValueError(
            "exchange", "no exchange: the row's exchange cell is empty", None, whole=True
        )
    if not isinstance(exchange, str):
        raise ArgumentTypeError("exchange", "a venue name (text)", exchange)
    unknown: UnknownExchange = "generic" if spec.unknown_exchange == "generic" else "raise"
    message, error = logged, None
    if error_type is not None and str(error_type).strip():
        error, message = logged_exception(str(error_type), message), None
    key: tuple[Any, ...] | None = None
    err: NormalizedError | None = None
    if body is None:  # without a body, nothing in the result depends on the time
        key = (rules, unknown, op, type(exchange), exchange, type(code), code)
        key += (type(logged), logged, type(status), status, type(error_type), error_type)
        try:
            err = _decided.get(key)
        except TypeError:  # an unhashable cell: decided afresh
            key = None
    if err is None:
        err = _normalize_in(
            rules,
            exchange,
            code=code,
            message=message,
            http_status=status,
            body=body,
            error=error,
            operation=op,
            unknown_exchange=unknown,
        )
        if key is not None:
            with _decided_lock:
                if len(_decided) >= MAX_DECIDED:
                    _decided.clear()
                _decided[key] = err
    # an enum member's ``_value_`` is its text, read without enum's descriptor
    labels: tuple[Any, ...] = (err.category._value_, err.subcategory)
    if _has_outcome():
        outcome = getattr(err, "outcome", None)
        labels += (None if outcome is None else outcome._value_,)
    if rand is None and spec.seed is not None:
        key = (spec.seed, *cells, op, idempotent, attempt)
        rand = random.Random(repr(key)).random  # noqa: S311 - jitter, not secrets
    rec = recommend(err, op, idempotent, attempt, policy, rand=rand)
    precondition = rec.precondition
    return (
        *labels,
        err.rule_id,
        rec.action._value_,
        round(float(rec.delay_s), 3),
        rec.scope._value_,
        None if precondition is None else precondition._value_,
        rec.policy_rule_id,
        None,
    )


# ------------------------------------------------------------ the partition function


def classify_partition(
    df: DataFrame, spec: FrameSpec, rand: Callable[[], float] | None = None
) -> DataFrame:
    """Classify every row of one partition: ``df`` with ``output_columns()`` added.

    Pure: its result depends on ``df`` and ``spec`` only (and on ``rand``, or
    the random jitter when neither ``rand`` nor ``spec.seed`` is given), it
    keeps no state between calls but the rules and policy it loaded from
    ``spec``, and it is picklable (a module-level function), so engines ship
    it to their workers as it is. ``rand`` is for callers in this process only.

    ``df`` has an ``exchange`` column and any of ``INPUT_COLUMNS``. Each cell
    is read as Python reads it, except that a missing value (None, NaN, NA) is
    None, a numpy scalar is its Python value, ``code`` is read by
    ``code_cell`` (``58102``, ``58102.0`` and ``"58102.0"`` are one code),
    ``idempotent`` by ``flag_cell``, ``attempt`` by ``attempt_cell``,
    ``operation`` by ``operation_of`` and ``http_status`` by
    ``as_http_status`` (``normalizer._core.arguments``: the readers of every
    entry point). A row with an ``error_type`` (a logged exception's class
    name, ``ReadTimeout``) is classified as ``normalize(error=...)``
    classifies that exception with the row's message as its text.

    A row that cannot be classified (an unknown venue, operation, a yes/no or
    attempt cell that is neither) gets its reason in ``row_error`` and empty
    added columns, and the other rows go on; under
    ``spec.unknown_exchange == "raise"`` its ``NormalizerError`` is raised
    instead. A frame without an ``exchange`` column is refused
    (``ArgumentValueError``).
    """
    pd = _pandas()
    np = _numpy()
    if not isinstance(df, pd.DataFrame):
        raise ArgumentTypeError("df", "a pandas DataFrame", df)
    if "exchange" not in df.columns:
        raise ArgumentValueError(
            "df",
            f"classify_frame() needs an 'exchange' column; the frame has {list(df)}",
            list(df),
            whole=True,
        )
    names = [c for c in INPUT_COLUMNS if c in df.columns]
    for column, value in (
        ("operation", spec.operation),
        ("idempotent", spec.idempotent),
        ("attempt", spec.attempt),
    ):
        if value is not None and column in names:
            names.remove(column)  # the argument applies to every row
    policy = _policy_of(spec)
    rules = _registry_of(spec)
    signature, codes, distinct = signatures(pd, np, [df[c] for c in names])
    values: list[list[Any]] = []  # per column, its cell in each signature
    for name, in_signature, seen in zip(names, codes, distinct, strict=True):
        read = [*(_cell(pd, np, v, name) for v in seen), None]  # code -1 picks the None
        values.append([read[i] for i in in_signature.tolist()])
    columns = output_columns()
    # each signature's cells in INPUT_COLUMNS order; a column not read is None
    pick = operator.itemgetter(*(names.index(c) if c in names else -1 for c in INPUT_COLUMNS))
    results = [
        _classify_one(pick(cells), spec, policy, rules, rand)
        for cells in zip(*values, itertools.repeat(None))
    ]
    per_column = list(zip(*results, strict=True)) if results else [() for _ in columns]
    by_name = dict(zip(columns, per_column, strict=True))
    delays = np.asarray(by_name.pop("delay_s"), dtype=np.float64)
    added: dict[str, Any] = {}
    if spec.categorical:  # Series, so the frame takes them as they are (an array it copies)
        for name, column in spread(pd, np, by_name, signature).items():
            added[name] = pd.Series(column, index=df.index, copy=False)
    else:  # plain objects, None where missing (pandas 3 would infer str, None -> NaN)
        for name, per_signature in by_name.items():
            array = np.asarray(list(per_signature), dtype=object)
            added[name] = pd.Series(np.take(array, signature), index=df.index, dtype=object)
    added["delay_s"] = pd.Series(np.take(delays, signature), index=df.index, copy=False)
    added = {name: added[name] for name in columns}  # in the documented order
    return df.assign(**added)


def _cell(pd: Any, np: Any, value: Any, column: str) -> Any:
    """A cell as ``classify_partition`` reads it (see its docstring)."""
    if column == "http_status":
        return as_http_status(None if value is pd.NA or value is pd.NaT else value)
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if column == "code":
        return code_cell(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if column == "attempt" and value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


# ------------------------------------------------------------ one frame


def classify_frame(
    df: DataFrame,
    *,
    operation: Operation | str | None = None,
    idempotent: bool | None = None,
    attempt: int | None = None,
    policy: Policy | str | Path | None = None,
    rules_dir: str | Path | None = None,
    seed: int | None = None,
    rand: Callable[[], float] | None = None,
    unknown_exchange: str | None = None,
) -> DataFrame:
    """Classify every row of a log: ``df`` with the ontology and the action added.

    ``df`` has an ``exchange`` column and any of ``code``, ``message``,
    ``http_status``, ``body``, ``error_type``, ``operation``, ``idempotent``
    and ``attempt`` (a column left out counts as empty). ``operation``,
    ``idempotent`` and ``attempt`` apply to every row when given, else the
    row's column does. ``policy`` is a policy file (or a loaded ``Policy``),
    ``rules_dir`` a rules folder to classify with instead of the bundled one.
    Cells are read as ``classify_partition`` says.

    Returns a new frame: ``df``'s columns and index, plus ``category``,
    ``subcategory``, ``rule_id`` (what ``normalize()`` returns for the row),
    ``outcome`` (where results carry one), ``action``, ``delay_s``, ``scope``,
    ``precondition`` and ``policy_rule_id`` (what ``recommend()`` returns), and
    ``row_error``, the text ones as categorical columns, missing where the
    result is None. Each distinct row is classified once, so the jittered
    delay is drawn once per distinct error: from ``rand`` when given, from
    ``seed`` reproducibly (the same on Dask and Spark), else at random.

    The arguments are read as ``recommend()`` reads them: ``idempotent=2`` or
    ``"maybe"`` is refused (a ``NormalizerError``). A row that cannot be
    classified (a venue no rules know, an unknown operation, a yes/no or
    attempt cell that is neither) gets the reason in ``row_error`` (the
    words the batch CLI writes for a bad row) and empty added columns; the
    other rows go on. ``unknown_exchange="generic"`` classifies venues no rules
    know by the generic profile instead, ``"raise"`` raises at the first row
    that cannot be classified; ``"error"`` is the default (and the default of
    the batch CLI, Dask and Spark).
    """
    _pandas()  # says what to install, before anything else
    rand = rand_of(rand)
    spec = make_spec(
        operation=operation,
        idempotent=idempotent,
        attempt=attempt,
        policy=policy,
        rules_dir=rules_dir,
        seed=seed,
        unknown_exchange=unknown_exchange,
    )
    return classify_partition(df, spec, rand)


def _pandas() -> Any:
    try:
        return importlib.import_module("pandas")
    except ImportError:
        raise ImportError(
            "classify_frame() needs pandas: pip install 'exchange-error-normalizer[batch]'"
        ) from None


@cache
def _numpy() -> Any:
    return importlib.import_module("numpy")  # comes with pandas
