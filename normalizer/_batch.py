"""Batch classification for analysis: months of logs, each distinct error decided once.

A log of millions of failed requests holds a few thousand distinct errors. Both
entry points here find the distinct *signatures* (exchange, code, message,
HTTP status, operation), classify each one with the public ``normalize()`` and
``recommend()``, and hand every row the result of its signature. So every row
gets exactly what ``normalize()``/``recommend()`` return for it, at the cost of
one call per distinct error.

- ``normalize_many(records)``: an iterable of dicts in, a list of
  ``NormalizedError`` out. Rows with equal inputs share one (frozen) result.
- ``classify_frame(df)``: a pandas DataFrame in (columns ``exchange``, and any
  of ``code``, ``message``, ``http_status``, ``operation``), the same frame out
  with ``category``, ``subcategory``, ``rule_id`` and ``action`` added as
  categorical columns. The signatures are found with pandas' vectorised
  factorize, so the Python work is per distinct error, not per row. pandas is
  optional: it is imported when this function is called.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ._core.policy import Policy
from ._core.vocabulary import Operation
from ._engine.generic import UnknownExchange
from ._engine.normalize import normalize
from ._engine.recommend import recommend
from ._engine.results import NormalizedError

# pandas and numpy are optional and imported when classify_frame() runs, so their
# objects are typed Any here: a DataFrame, a Series, an ndarray.
DataFrame = Any
Series = Any
Array = Any

#: The fields of a record that ``normalize_many`` passes to ``normalize()``.
FIELDS = ("code", "message", "http_status", "body", "headers", "error", "operation")


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
    exchange or operation), and ``KeyError`` for a record without an exchange;
    ``unknown_exchange="generic"`` answers unknown venue names by the generic
    profile instead (as ``normalize()`` does).
    """
    out: list[NormalizedError] = []
    memo: dict[tuple[Any, ...], NormalizedError] = {}
    for record in records:
        exchange = record["exchange"]
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
    exchange: Any, record: Mapping[str, Any], op: Any, unknown: UnknownExchange | None
) -> NormalizedError:
    fields = {f: record.get(f) for f in FIELDS}
    fields["operation"] = op
    return normalize(exchange, **fields, unknown_exchange=unknown)


# ----------------------------------------------------------------- pandas

#: The columns ``classify_frame`` adds.
OUTPUT_COLUMNS = ("category", "subcategory", "outcome", "rule_id", "action")
#: The columns it reads (``exchange`` is required, the others optional).
INPUT_COLUMNS = ("exchange", "code", "message", "http_status", "operation")
_INT64_SAFE = 2**62


def classify_frame(
    df: DataFrame,
    *,
    operation: Operation | str | None = None,
    idempotent: bool = False,
    attempt: int = 1,
    policy: Policy | str | Path | None = None,
    rand: Callable[[], float] | None = None,
) -> DataFrame:
    """Classify every row of a log: ``df`` with the ontology and the action added.

    ``df`` has an ``exchange`` column and any of ``code``, ``message``,
    ``http_status`` and ``operation`` (a column left out counts as empty).
    ``operation`` applies to every row, else the ``operation`` column does.
    Each cell is read as Python reads it, except that a missing value (None,
    NaN, NA) is None, a numpy scalar is its Python value, and a whole float
    in ``code`` or ``http_status`` (pandas stores integers with gaps as
    floats) is an int.

    Returns a new frame: ``df``'s columns and index, plus ``category``,
    ``subcategory``, ``rule_id`` (what ``normalize()`` returns for the row)
    and ``action`` (what ``recommend(err, operation, idempotent, attempt,
    policy, rand=rand)`` returns), as categorical columns, missing where the
    result is None. Each distinct row is classified once, so ``rand`` (the
    jitter of a delay, which the action does not depend on) is drawn once per
    distinct error, not per row.
    """
    pd = _pandas()
    np = _numpy()
    if "exchange" not in df.columns:
        raise ValueError(f"classify_frame() needs an 'exchange' column; the frame has {list(df)}")
    names = [c for c in INPUT_COLUMNS if c in df.columns]
    if operation is not None and "operation" in names:
        names.remove("operation")  # the argument applies to every row
    n = len(df)
    signature, first_rows = _signatures(pd, np, [df[c] for c in names], n)
    # the Python values of each distinct signature, read from one of its rows
    values = {c: [_cell(pd, np, v, c) for v in df[c].iloc[first_rows].tolist()] for c in names}
    labels: dict[str, list[str | None]] = {c: [] for c in OUTPUT_COLUMNS}
    for i in range(len(first_rows)):
        row = {c: values[c][i] for c in names}
        op = operation if operation is not None else row.get("operation")
        err = normalize(
            row["exchange"],
            code=row.get("code"),
            message=row.get("message"),
            http_status=row.get("http_status"),
            operation=op,
        )
        rec = recommend(err, op, idempotent, attempt, policy, rand=rand)
        labels["category"].append(err.category.value)
        labels["subcategory"].append(err.subcategory)
        labels["outcome"].append(err.outcome.value)
        labels["rule_id"].append(err.rule_id)
        labels["action"].append(rec.action.value)
    added = {c: _spread(pd, np, labels[c], signature) for c in OUTPUT_COLUMNS}
    return df.assign(**added)


def _signatures(pd: Any, np: Any, columns: list[Series], n: int) -> tuple[Array, Array]:
    """Per row, the number of its distinct signature; per signature, one of its rows."""
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for column in columns:
        codes, count = _factorize(pd, np, column)
        if size * (count + 1) >= _INT64_SAFE:  # renumber before the key could overflow
            key, uniques = pd.factorize(key)
            size = len(uniques)
        # key = key * (count + 1) + codes + 1, in place (+1: a missing value, -1, counts)
        key *= count + 1
        key += codes
        key += 1
        size *= count + 1
    signature, uniques = pd.factorize(key)
    first_rows = np.zeros(len(uniques), dtype=np.int64)
    first_rows[signature] = np.arange(n, dtype=np.int64)  # any row of each will do
    return signature, first_rows


def _factorize(pd: Any, np: Any, column: Series) -> tuple[Array, int]:
    """Integer codes of a column's values (-1 for missing), and how many there are.

    pandas takes values that compare equal for one value (``True == 1 == 1.0``)
    but normalize() does not (``True`` is no code), so in a column of Python
    objects of several types the type is part of the value.
    """
    codes, uniques = pd.factorize(column)
    count = len(uniques)
    if column.dtype == object and count:
        types = np.fromiter(map(type, column.to_numpy()), dtype=object, count=len(column))
        kinds, seen = pd.factorize(types)
        if len(seen) > 1:
            codes, uniques = pd.factorize((codes + 1) * len(seen) + kinds)
            count = len(uniques)
    return codes.astype(np.int64, copy=False), count


def _cell(pd: Any, np: Any, value: Any, column: str) -> Any:
    """A cell as ``classify_frame`` reads it (see its docstring)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if column in ("code", "http_status") and value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


def _spread(pd: Any, np: Any, per_signature: list[str | None], signature: Array) -> Any:
    """A categorical column: each row gets its signature's value."""
    codes, categories = pd.factorize(pd.Series(per_signature, dtype=object))
    if len(per_signature) < 2**15:
        codes = codes.astype(np.int16)
    row_codes = codes[signature] if len(signature) else codes[:0]
    return pd.Categorical.from_codes(row_codes, categories=pd.Index(categories, dtype=object))


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
