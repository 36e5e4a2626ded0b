"""A log's distinct signatures, found with numpy, pandas and Arrow: per row the
number of its signature, per column its distinct values.

A log of millions of rows holds a few thousand distinct errors; these functions
find them without a Python loop over the rows, and spread each signature's
answer back over its rows (``spread``). pandas, numpy and pyarrow are passed in
or imported when called: the module imports nothing optional.
"""

from __future__ import annotations

import importlib
from typing import Any

# pandas and numpy are optional and imported when a frame function runs, so their
# objects are typed Any here: a Series, an ndarray.
Series = Any
Array = Any

_INT64_SAFE = 2**62
_INT32_SAFE = 2**31 - 1


def signatures(
    pd: Any, np: Any, columns: list[Series]
) -> tuple[Array, list[Array], list[list[Any]]]:
    """Per row, the number of its distinct signature; per column, its code in each
    signature (-1: missing) and its distinct values, in code order.

    Each column is factorized (``factorize``) and the codes are combined, one
    column after another, into one integer key per row: a number written in
    mixed radix, one digit per column, so equal keys mean equal cells. The
    distinct keys are decoded back into each column's codes, so a signature's
    values come from the columns' own distinct values, not from a row.
    """
    stage: list[tuple[int, int]] = []  # (column, radix) of the digits in ``key``
    offset = 0  # ``key + offset`` has digits code + 1: codes start at -1 (missing)
    prefix: list[Array] | None = None  # per combination number: each earlier column's code
    factorized = [factorize(pd, np, column) for column in columns]
    key: Array = None  # set by the first column
    size = 1
    for i, (codes, values) in enumerate(factorized):
        radix = len(values) + 1
        if size * radix >= _INT64_SAFE:  # renumber before the key could overflow
            key, combos = _integers(pd, np, key)
            key = key.astype(np.int64)  # writable, and wide enough for the next digits
            prefix = _decode(np, combos, offset, stage, prefix, len(factorized))
            stage, offset, size = [], 0, len(combos)
        if i == 0:  # the first digit: no pass over zeros
            key = codes.astype(np.int32 if radix < _INT32_SAFE else np.int64)
        else:
            if key.dtype == np.int32 and size * radix >= _INT32_SAFE:
                key = key.astype(np.int64)  # 32 bits while they do: half the memory to pass
            key *= radix
            key += codes
        offset = offset * radix + 1
        stage.append((i, radix))
        size *= radix
    signature, keys = _integers(pd, np, key)
    return (
        signature,
        _decode(np, keys, offset, stage, prefix, len(factorized)),
        [values for _, values in factorized],
    )


def _decode(
    np: Any,
    keys: Array,
    offset: int,
    stage: list[tuple[int, int]],
    prefix: list[Array] | None,
    width: int,
) -> list[Array]:
    """Each column's code in each of ``keys`` (see ``_signatures``)."""
    number = np.asarray(keys, dtype=np.int64) + offset
    digits = []
    for column, radix in reversed(stage):
        number, digit = np.divmod(number, radix)
        digits.append((column, digit - 1))
    # what is left is the number of an earlier combination (none: 0)
    codes = [earlier[number] for earlier in prefix] if prefix is not None else []
    codes += [np.full(len(number), -1, dtype=np.int64)] * (width - len(codes))
    for column, code in digits:
        codes[column] = code
    return codes


def factorize(pd: Any, np: Any, column: Series) -> tuple[Array, list[Any]]:
    """Integer codes of a column's values (-1 where missing, or a code of its
    own), and the distinct values in code order.

    pandas takes values that compare equal for one value (``True == 1 == 1.0``)
    but normalize() does not (``True`` is no code), so in a column of Python
    objects of several types the type is part of the value. Arrow-backed text
    columns (pandas' default strings) are encoded by Arrow directly, and
    categorical columns give their own codes: both tell exactly the values
    ``pd.factorize`` tells apart, without its copies.
    """
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), dtype.categories.tolist()
    if getattr(dtype, "storage", None) == "pyarrow" or isinstance(dtype, pd.ArrowDtype):
        text = _arrow_codes(np, column)
        if text is not None:
            return text
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":  # numbers: Arrow hashes faster
        encoded = _dictionary(np, column.to_numpy())
        if encoded is not None:
            return encoded[0], encoded[1].to_pylist()
    codes, uniques = pd.factorize(column)
    if dtype == np.dtype("O") and len(uniques):
        types = np.fromiter(map(type, column.to_numpy()), dtype=object, count=len(column))
        kinds, seen = pd.factorize(types)
        if len(seen) > 1:  # codes in order of first appearance: each one's first row
            codes, _ = pd.factorize((codes + 1) * len(seen) + kinds)
            running = np.maximum.accumulate(codes)
            grows = np.flatnonzero(running[1:] != running[:-1])  # a compare: no 10 M-row difference
            first_rows = np.concatenate(([0], grows + 1))
            return codes, column.to_numpy()[first_rows].tolist()
    return codes, uniques.tolist()


def _arrow_codes(np: Any, column: Series) -> tuple[Array, list[Any]] | None:
    """Arrow's dictionary encoding of an Arrow-backed text column, or None."""
    try:
        pa = importlib.import_module("pyarrow")  # comes with pandas' Arrow strings
        data = column.array.__arrow_array__()
        if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
            return None
    except (ImportError, AttributeError, TypeError, ValueError, NotImplementedError):
        return None
    encoded = _dictionary(np, data)
    return None if encoded is None else (encoded[0], encoded[1].to_pylist())


def _dictionary(np: Any, data: Any) -> tuple[Array, Any] | None:
    """Arrow's dictionary encoding of an Arrow array or a numeric ndarray (nulls
    get a code of their own; NaN is a value, which ``_cell`` reads as missing),
    as codes and the Arrow array of the values; or None without pyarrow. Arrow
    hashes faster than pandas and reuses its memory (a 10 M-row pandas
    factorize maps fresh pages on every call)."""
    try:
        pa = importlib.import_module("pyarrow")
        pc = importlib.import_module("pyarrow.compute")

        if isinstance(data, np.ndarray):
            data = pa.array(data)  # no copy (NaN as null would cost a pass)
        if isinstance(data, pa.ChunkedArray):
            data = data.combine_chunks() if data.num_chunks != 1 else data.chunk(0)
        encoded = pc.dictionary_encode(data, null_encoding="encode")
    except (ImportError, AttributeError, TypeError, ValueError, NotImplementedError):
        return None
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary


def _integers(pd: Any, np: Any, key: Array) -> tuple[Array, Array]:
    """Codes of an integer array's values (read-only), and the values in code order."""
    encoded = _dictionary(np, key)
    if encoded is None:
        return pd.factorize(key)  # type: ignore[no-any-return]
    return encoded[0], encoded[1].to_numpy()


def spread(
    pd: Any, np: Any, per_signature: dict[str, tuple[str | None, ...]], signature: Array
) -> dict[str, Any]:
    """Categorical columns: each row gets its signature's values.

    The columns' codes are gathered for every row at once, as one array of
    records (a field per column), and each column's codes are a view of their
    field. Gathering them together costs about a third of gathering each
    column's codes on its own; the price is that the columns share that array's
    memory (a few bytes per row) for as long as any of them lives.
    """
    fields: list[tuple[str, Any]] = []
    categories: list[Any] = []
    table: list[Array] = []
    for name, values in per_signature.items():
        codes, distinct = pd.factorize(pd.Series(values, dtype=object))
        # the dtype pandas keeps for this many categories (else it converts every row's code)
        small = next(t for t in (np.int8, np.int16, np.int32) if len(distinct) < np.iinfo(t).max)
        fields.append((name, small))
        categories.append(pd.Index(distinct, dtype=object))
        table.append(codes)
    records = np.empty(len(table[0]) if table else 0, dtype=np.dtype(fields))
    for (name, _), codes in zip(fields, table, strict=True):
        records[name] = codes
    rows = np.take(records, signature)
    # the codes are in range by construction: pandas need not check ten million of them
    return {
        name: pd.Categorical.from_codes(rows[name], categories=kept, validate=False)
        for (name, _), kept in zip(fields, categories, strict=True)
    }
