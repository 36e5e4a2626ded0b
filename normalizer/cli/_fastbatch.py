"""The batch command's fast path: a CSV or Parquet file read by Arrow in chunks, each
chunk classified by the partition function ``classify_frame`` runs.

``normalizer.batch.run_batch`` reads a log row by row in Python (any input: JSON
Lines, standard input, ``--strict``), which costs more than classifying. For a
CSV, TSV or Parquet file this path reads each chunk in C, checks in bulk what
the general path checks per row (a field too long, text that is not Unicode, no
exchange, a status that is no number: those few rows are judged by the general
path's own checks, so their reports say the same), classifies the chunk's distinct
rows not seen before (``_distinct``) and writes it with the same columns, the same
errors file and the same summary; the log's own columns are written from the Arrow
columns read, as they were. The next chunk is read and the last one written on
threads of their own (``_overlap``). Anything it does not handle (a line of CSV
Arrow cannot split) sends the whole file, from the start, to the general path.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

from ..batch import _frame, _signatures, _stream
from . import _distinct, _overlap

#: input formats this path reads (the others go to ``run_batch``)
FAST_FORMATS = ("csv", "tsv", "parquet")
#: rows per chunk unless --chunk-rows says: each distinct error is classified once per
#: chunk, so larger chunks repeat less work (a chunk of 500,000 log rows is ~100 MB)
FAST_CHUNK_ROWS = 500_000


_SURROGATE = re.compile("[\ud800-\udfff]")


class _Fallback(Exception):
    """Something this path does not handle: the general path runs the file instead."""


def eligible(args: argparse.Namespace) -> bool:
    """Whether the fast path can run this command (a CSV/TSV/Parquet file, not --strict)."""
    if args.input == "-" or args.strict or not os.path.isfile(args.input):
        return False
    if importlib.util.find_spec("pandas") is None or importlib.util.find_spec("pyarrow") is None:
        return False  # the general path says which extra to install
    try:
        with open(args.input, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return _stream._input_format(args.input, head) in FAST_FORMATS


def run(args: argparse.Namespace) -> _stream.BatchSummary:
    """The command on the fast path, or on the general path when this one cannot."""
    try:
        return _run(args)
    except _Fallback:
        return _general(args)


def _general(args: argparse.Namespace) -> _stream.BatchSummary:
    return _stream.run_batch(
        args.input,
        args.output,
        out_format=args.format,
        exchange=args.exchange,
        policy=args.policy,
        rules_dir=None,
        seed=args.seed,
        strict=args.strict,
        chunk_rows=args.chunk_rows if args.chunk_rows is not None else _stream.CHUNK_ROWS,
        errors=args.errors,
        progress=args.progress,
        unknown=args.unknown_exchange,
    )


def _chunks(source: str, fmt: str, rows: int) -> Iterator[tuple[Any, Any, Any]]:
    """(chunk as a DataFrame of the cells as read, the Parquet schema or None, the
    chunk as Arrow read it: the output's own columns are taken from it as they are).

    Arrow reads the file and encodes each text column as its distinct values and
    each row's number among them (pandas categoricals): a log repeats few distinct
    cells, and every check below looks at each distinct cell once."""
    pa = _stream._pyarrow()
    pc = _stream._pyarrow("compute")
    if fmt == "parquet":
        pq = _stream._pyarrow("parquet")
        try:
            parquet = pq.ParquetFile(source)
        except Exception as exc:
            raise _stream.BatchInputError(f"{source}: not a Parquet file: {exc}") from None
        if any(pa.types.is_nested(f.type) for f in parquet.schema_arrow):
            # lists, structs, maps: the general path writes them as JSON text, and
            # neither the checks here nor Arrow's encoding take them
            raise _Fallback("a column of lists, structs or maps")
        for batch in parquet.iter_batches(batch_size=rows):
            yield _encoded(pa, pc, batch), parquet.schema_arrow, batch
        return
    pa_csv = _stream._pyarrow("csv")
    import csv as _csv

    try:
        with open(source, encoding="utf-8-sig", newline="") as f:
            header = next(_csv.reader(f, delimiter="\t" if fmt == "tsv" else ","))
    except (OSError, UnicodeError, StopIteration, _csv.Error) as exc:
        raise _Fallback(str(exc)) from None
    if len(set(header)) != len(header) or not all(header):
        raise _Fallback("a header the general path reads (repeated or empty names)")
    try:
        reader = pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(block_size=max(1 << 20, min(rows * 96, 1 << 30))),
            parse_options=pa_csv.ParseOptions(
                delimiter="\t" if fmt == "tsv" else ",", newlines_in_values=True
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=True
            ),
        )
        for batch in reader:
            yield _encoded(pa, pc, batch), None, batch
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeError, ValueError) as exc:
        raise _Fallback(str(exc)) from None


def _encoded(pa: Any, pc: Any, batch: Any) -> Any:
    """A record batch as pandas, each text column dictionary-encoded (a categorical)."""
    columns = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.dictionary_encode(column)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=batch.schema.names).to_pandas()


def _suspect(chunk: Any, textual: list[str]) -> tuple[Any, Any]:
    """Rows the general path's per-row checks must judge (a cell too long or not valid
    Unicode), and each row's line breaks inside quoted cells. Each distinct cell is
    looked at once: a log repeats few distinct errors many times."""
    import numpy as np

    pd = _frame._pandas()
    n = len(chunk)
    flag = np.zeros(n, dtype=bool)
    breaks = np.zeros(n, dtype=np.int64)
    for column in textual:
        codes, distinct = _signatures.factorize(pd, np, chunk[column])
        bad = np.zeros(len(distinct) + 1, dtype=bool)  # the last: a missing cell
        lines = np.zeros(len(distinct) + 1, dtype=np.int64)
        for i, u in enumerate(distinct):
            if isinstance(u, str):
                bad[i] = len(u) > _stream.MAX_FIELD_CHARS or bool(_SURROGATE.search(u))
                lines[i] = u.count("\n")
        flag |= bad[codes]  # code -1 (missing) reads the last entry
        breaks += lines[codes]
    return pd.Series(flag, index=chunk.index), pd.Series(breaks, index=chunk.index)


def _canonical(chunk: Any, exchange: str | None) -> Any:
    """The fields the classification reads, from their first column (``ALIASES``);
    a field from one column keeps that column's encoding."""
    import numpy as np

    pd = _frame._pandas()
    out = {}
    for name, columns in _stream.ALIASES.items():
        present = [c for c in columns if c in chunk.columns]
        if not present:
            value = pd.Series(np.full(len(chunk), None), index=chunk.index, dtype=object)
        elif len(present) == 1:
            value = chunk[present[0]]
        else:
            value = chunk[present[0]].astype(object)
            for c in present[1:]:
                value = value.where(value.notna(), chunk[c].astype(object))
            value = value.where(value.notna(), None)
        if name == "exchange" and exchange is not None and value.isna().any():
            if isinstance(value.dtype, pd.CategoricalDtype):
                if exchange not in value.cat.categories:
                    value = value.cat.add_categories([exchange])
                value = value.fillna(exchange)
            else:
                value = value.astype(object).where(value.notna(), exchange)
        out[name] = value
    return pd.DataFrame(out, index=chunk.index)


class _Coded:
    """A column given as each row's distinct-row number and the distinct rows' values."""

    def __init__(self, codes: Any, values: Any) -> None:
        self.codes = codes
        self.values = values


def _not_statuses(cells: Any) -> Any:
    """Which cells are no HTTP status as ``normalize()`` reads them (the general path
    refuses those rows); each distinct cell is read once. The cells themselves go to
    the partition function as they are: it reads them with the same reader."""
    import numpy as np

    pd = _frame._pandas()
    codes, distinct = _signatures.factorize(pd, np, cells)
    read = [*(_frame.as_http_status(v) for v in distinct), None]  # the last: a missing cell
    wrong = np.array(
        [s is not None and (isinstance(s, bool) or not isinstance(s, int)) for s in read],
        dtype=bool,
    )
    return pd.Series(wrong[codes], index=cells.index, dtype=bool)


def _row(batch: Any, i: int) -> dict[str, Any]:
    """Row ``i`` of a chunk as the general path reads it, from Arrow (missing cells None)."""
    row: dict[str, Any] = batch.slice(i, 1).to_pylist()[0]
    return row


def _run(args: argparse.Namespace) -> _stream.BatchSummary:
    import numpy as np

    pd = _frame._pandas()
    pa = _stream._pyarrow()
    fmt = _stream.output_format(args.output, args.format)
    if args.chunk_rows is not None and args.chunk_rows < 1:
        raise _stream.BatchInputError(f"chunk_rows must be at least 1, not {args.chunk_rows}")
    choice = _stream.UNKNOWN_CHOICES[args.unknown_exchange]
    spec = _frame.make_spec(
        policy=args.policy,
        seed=args.seed,
        categorical=False,
        unknown_exchange="generic" if choice == "generic" else "error",
    )
    if args.exchange is not None and choice != "generic":
        from .._core.errors import UnknownExchangeError
        from .._formats.registry import registry

        try:
            registry().get(args.exchange)
        except UnknownExchangeError as exc:
            raise _stream.BatchInputError(f"--exchange: {exc}") from None
    with open(args.input, "rb") as f:
        in_format = _stream._input_format(args.input, f.read(8))
    summary = _stream.BatchSummary(args.input, args.output, fmt)
    errors_to = args.errors if args.errors is not None else _stream.errors_path(args.output)
    summary.errors_file = errors_to
    partial = None if args.output == "-" else f"{args.output}.partial"
    added = [c for c in _frame.output_columns() if c != _frame.ERROR_COLUMN]
    bar = _stream._bar(args.progress, sys.stderr)
    err_file = open(errors_to, "w", encoding="utf-8") if errors_to else None  # noqa: SIM115
    out_file: Any = None
    writer: Any = None
    schema: Any = None
    columns: list[str] = []
    line = 2 if in_format != "parquet" else 1  # the first row's line (CSV: after the header)
    ok = False
    memo: _distinct.Answers | None = None
    rows = args.chunk_rows if args.chunk_rows is not None else FAST_CHUNK_ROWS
    chunks = _overlap.read_ahead(_chunks(args.input, in_format, rows))
    behind = _overlap.WriteBehind()
    try:
        for chunk, given, batch in chunks:
            n = len(chunk)
            textual = [
                c
                for c in chunk.columns
                if chunk[c].dtype == object or isinstance(chunk[c].dtype, pd.CategoricalDtype)
            ]
            suspect, breaks = _suspect(chunk, textual)
            numbers = pd.RangeIndex(n) + line
            if in_format != "parquet":  # a quoted cell holding line breaks spans lines
                numbers = numbers + breaks.cumsum().to_numpy()  # a record's last line, as csv's
                line += int(breaks.sum())
            line += n
            numbers = np.asarray(numbers, dtype=np.int64)
            problems: list[_stream.Problem] = []
            fields = _canonical(chunk, args.exchange)
            if memo is None:  # the fields no column of the log gives are left out of its keys
                given_names = {str(c) for c in chunk.columns}
                absent = {
                    name
                    for name, aliases in _stream.ALIASES.items()
                    if not given_names & set(aliases)
                    and not (name == "exchange" and args.exchange is not None)
                }
                memo = _distinct.Answers(spec, absent)
            judged = suspect | fields["exchange"].isna()
            not_status = _not_statuses(fields["http_status"])
            judged |= not_status
            refused = np.zeros(n, dtype=bool)
            for i in judged.to_numpy().nonzero()[0]:
                row = _row(batch, int(i))
                try:
                    _stream._record(row, args.exchange)
                except _stream._BadRow as bad:
                    refused[i] = True
                    problems.append(
                        _stream.Problem(
                            int(numbers[i]), bad.field, bad.problem, False, _stream._row_text(row)
                        )
                    )
            keep = ~refused
            if refused.any():
                fields, kept_numbers, kept_rows = fields[keep], numbers[keep], np.flatnonzero(keep)
            else:  # the common case: no copy
                kept_numbers, kept_rows = numbers, np.arange(n)
            codes, table = memo.classify(fields)
            errors = table[_frame.ERROR_COLUMN]
            failed = pd.notna(errors)[codes] if len(codes) else np.zeros(0, dtype=bool)
            for i in failed.nonzero()[0]:
                field, _, problem = str(errors[codes[i]]).partition(": ")
                row = _row(batch, int(kept_rows[i]))
                problems.append(
                    _stream.Problem(
                        int(kept_numbers[i]), field, problem, False, _stream._row_text(row)
                    )
                )
            for p in sorted(problems, key=lambda p: p.line):
                if choice == "raise" and p.field == "exchange" and p.problem.startswith("unknown"):
                    raise _stream.BatchInputError(
                        f"{args.input}:{p.line}: exchange: {p.problem} (--unknown-exchange fail)"
                    )
                summary.bad_rows += 1
                if err_file is not None:
                    err_file.write(p.as_json() + "\n")
                else:
                    where = f"{p.field}: " if p.field else ""
                    print(f"{args.input}:{p.line}: {where}{p.problem}", file=sys.stderr)
            written = ~failed
            every = not failed.any()
            kept = codes if every else codes[written]
            if every and not refused.any():
                source = batch
            else:  # the rows written, of all the chunk's rows
                mask = keep.copy()
                mask[kept_rows[failed]] = False
                source = batch.filter(pa.array(mask))
            out: dict[str, Any] = dict(zip(source.schema.names, source.columns, strict=True))
            for c in [*added, "delay_text"]:
                out[c] = _Coded(kept, table[c])
            per_row = np.bincount(kept, minlength=len(errors))
            for action, count_ in zip(table["action"], per_row, strict=True):
                if count_:
                    summary.actions[str(action)] += int(count_)
            if writer is None:
                own = [str(c) for c in chunk.columns]
                if given is not None:  # a Parquet input keeps its own column order
                    own = [*dict.fromkeys([*given.names, *own])]
                # an input that is an earlier output: its added columns are written anew
                own = [c for c in own if c not in added and c != _frame.ERROR_COLUMN]
                columns = [str(c) for c in [*own, *added]]
                if fmt == "parquet":
                    assert partial is not None
                    schema = _schema(pa, columns, given)
                    writer = _stream._pyarrow("parquet").ParquetWriter(partial, schema)
                else:
                    # Arrow's own file: it writes without the GIL (standard output is a
                    # Python file, which Arrow calls back into for every 1,024 rows)
                    if partial:
                        with open(partial, "wb"):  # refused as any file is (a missing folder)
                            pass
                        out_file = pa.OSFile(partial, "wb")
                    else:
                        out_file = sys.stdout.buffer
                    out_file.write((",".join(_quoted(c) for c in columns) + "\n").encode())
                    writer = out_file
            count = int(written.sum())
            if fmt == "parquet":
                behind.put(functools.partial(_write_parquet, pa, writer, out, schema, count))
            else:
                sys.stdout.flush()
                behind.put(functools.partial(_write_csv, pa, out, columns, count, out_file))
            summary.rows += count
            if bar is not None:
                bar.update(n)
        if writer is None:  # an empty input: the general path writes its header
            raise _Fallback("no rows")
        behind.finish()
        ok = True
    except _Fallback as exc:
        if partial is None and writer is not None:  # standard output cannot be taken back
            raise _stream.BatchInputError(
                f"{args.input}: {exc}; the rows before it are already written to standard "
                "output: give -o FILE, and the command reads such a file again row by row"
            ) from None
        raise
    finally:
        chunks.close()  # the reader stops now, not when this frame is collected
        behind.stop()
        if bar is not None:
            bar.close()
        if fmt == "parquet" and writer is not None:
            writer.close()
        if out_file is not None and out_file is not sys.stdout.buffer:
            out_file.close()
        elif out_file is not None:
            out_file.flush()
        if err_file is not None:
            err_file.close()
        if partial is not None:
            if ok:
                os.replace(partial, args.output)
            elif os.path.exists(partial):
                os.remove(partial)
    return summary


def _write_parquet(pa: Any, writer: Any, out: dict[str, Any], schema: Any, count: int) -> None:
    writer.write_table(_table(pa, out, schema, count))


def _write_csv(pa: Any, out: dict[str, Any], columns: list[str], count: int, stream: Any) -> None:
    """The rows as CSV, written by Arrow's C++ writer: every text cell quoted, numbers as
    Python writes them (``1.0``, ``1e-07``), missing cells empty. Written to the file
    as Arrow makes it: made whole in memory first, a chunk's text would land on fresh
    pages the system must clear, which costs more than making it."""
    pa_csv = _stream._pyarrow("csv")
    arrays = [
        _text(pa, out["delay_text"] if c == "delay_s" else out.get(c), count) for c in columns
    ]
    table = pa.Table.from_arrays(arrays, names=columns)
    pa_csv.write_csv(table, stream, pa_csv.WriteOptions(include_header=False))


def _text(pa: Any, values: Any, count: int) -> Any:
    """A column as Arrow text: as it is when it is text already (no Python per cell)."""
    if values is None:
        return pa.nulls(count, type=pa.string())
    if isinstance(values, _Coded):  # the distinct values once, taken per row in C++
        return _text(pa, values.values, len(values.values)).take(pa.array(values.codes))
    if isinstance(values, pa.Array):  # a column of the input, as Arrow read it
        return _input_text(pa, values)
    try:
        return pa.array(values, from_pandas=True).cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array(_distinct.python_texts(list(values)), type=pa.string())


def _input_text(pa: Any, values: Any) -> Any:
    """A column of the input as text: text as it is, anything else as Python writes
    each distinct value (``2.0``, ``True``, ``2026-01-01 00:00:00+09:00``), as the
    general path writes it, where Arrow's own cast would write ``2``, ``true``. (No
    column is nested: a file with one goes to the general path, ``_chunks``.)"""
    kind = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return values if values.type == pa.string() else values.cast(pa.string())
    encoded = _stream._pyarrow("compute").dictionary_encode(values)
    distinct = encoded.dictionary.to_pylist()
    text = pa.array(_distinct.python_texts(distinct), type=pa.string())
    return text.take(encoded.indices)


def _quoted(name: str) -> str:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([name])
    return buffer.getvalue()


def _schema(pa: Any, columns: list[str], given: Any) -> Any:
    """The output's schema, fixed by the first chunk as the general path fixes it."""
    fields = []
    for c in columns:
        if c == "delay_s":
            t = pa.float64()
        elif given is not None and c in given.names and c not in _frame.output_columns():
            t = given.field(c).type
        else:
            t = pa.string()
        fields.append(pa.field(c, t))
    return pa.schema(fields)


def _table(pa: Any, out: dict[str, Any], schema: Any, count: int) -> Any:
    arrays = []
    for f in schema:
        values = out.get(f.name)
        if pa.types.is_string(f.type):
            arrays.append(_text(pa, values, count))
        elif values is None:
            arrays.append(pa.nulls(count, type=f.type))
        elif isinstance(values, _Coded):
            distinct = pa.array(values.values, type=f.type, from_pandas=True)
            arrays.append(distinct.take(pa.array(values.codes)))
        elif isinstance(values, pa.Array):  # a column of the input, of the type it had
            arrays.append(values if values.type == f.type else values.cast(f.type))
        else:
            arrays.append(pa.array(values, type=f.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)
