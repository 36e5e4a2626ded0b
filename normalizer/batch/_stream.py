"""The file batch behind ``exchange-normalizer batch``: a log file in, the classified log out.

The input (CSV, TSV, JSON Lines or Parquet; a file or standard input) is read
in chunks of ``chunk_rows`` rows; each chunk is checked row by row, classified
by the partition function (``classify_partition``, each distinct error once)
and written out before the next one is read, so memory stays flat whatever the
input's size.

A row that cannot be classified (not JSON, not UTF-8, a lone surrogate, a field
longer than ``MAX_FIELD_CHARS``, no or an unknown exchange, an unknown
operation, an ``attempt`` or ``http_status`` that is no number) is a *bad row*:
it is not written, it is reported with its line number (its row number for
Parquet) in the errors file beside the output, and counted in the summary. The
fields the partition function reads (exchange, operation, idempotent, attempt)
are judged by it, so a bad row's ``field: problem`` are the words of its
``row_error`` column in ``classify_frame``, Dask and Spark. A
row that is written but lost a value on the way (a value that does not fit its
Parquet column's type, a column first seen after the first chunk) is reported
there too, as a note. ``strict=True`` stops at the first bad row instead.

(Over 500 lines: the file batch's reading, row checks and writers in one place;
``normalizer/cli/_fastbatch.py`` reuses its readers and checks by name, so it
is split only together with that module.)
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .._core.arguments import flag, path_of
from .._core.errors import ArgumentTypeError, BatchInputError, UnknownExchangeError
from .._core.frozen import frozen
from ._frame import (
    ERROR_COLUMN,
    INPUT_COLUMNS,
    FrameSpec,
    _pandas,
    as_http_status,
    classify_partition,
    make_spec,
    output_columns,
)
from ._spec import _registry_of

#: A field longer than this many characters makes its row a bad row.
MAX_FIELD_CHARS = 65_536
#: Rows per chunk: the unit of reading, classifying and writing.
CHUNK_ROWS = 20_000
#: The errors file keeps at most this many characters of a bad row's text.
MAX_QUOTED = 300

INPUT_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

#: Where each field the classification reads may be found in a row, first first.
ALIASES = {
    "exchange": ("exchange",),
    "code": ("code", "error_code"),
    "message": ("message", "msg"),
    "http_status": ("http_status", "status"),
    "body": ("body",),
    "error_type": ("error_type",),
    "operation": ("operation",),
    "idempotent": ("idempotent",),
    "attempt": ("attempt",),
}


__all__ = ["BatchInputError", "BatchSummary", "Problem", "run_batch"]

#: ``unknown=`` of ``run_batch``: the CLI's words, and the batch vocabulary's
#: (``normalizer._core.arguments.BATCH_UNKNOWN_EXCHANGE``) for the same choices.
UNKNOWN_CHOICES = {
    "skip": "error",
    "error": "error",
    "generic": "generic",
    "fail": "raise",
    "raise": "raise",
}


@frozen
class Problem:
    """One entry of the errors file."""

    line: int  # the input's line (CSV, JSON Lines) or row (Parquet), from 1
    field: str | None
    problem: str
    written: bool  # False: a bad row, not in the output; True: written, with a note
    text: str | None = None  # the start of the row as read, for a bad row

    def as_json(self) -> str:
        record = {
            "line": self.line,
            "field": self.field,
            "problem": self.problem,
            "written": self.written,
            "text": self.text,
        }
        return json.dumps(record, ensure_ascii=True)


@dataclass
class BatchSummary:
    """What a batch run did."""

    input: str
    output: str
    format: str
    rows: int = 0  # written
    bad_rows: int = 0  # reported, not written
    notes: int = 0  # written, with a problem reported
    actions: Counter[str] = field(default_factory=Counter)
    errors_file: str | None = None

    def line(self) -> str:
        """The one-line summary ``exchange-normalizer batch`` prints."""
        actions = ", ".join(f"{a} {n}" for a, n in self.actions.most_common()) or "no rows"
        text = f"{self.rows} rows -> {self.output} ({self.format}): {actions}"
        if self.bad_rows or self.notes:
            where = self.errors_file or "standard error"
            text += f"; {self.bad_rows} bad rows not written, {self.notes} notes -> {where}"
        else:
            text += "; 0 bad rows"
        return text


class _BadRow(Exception):
    def __init__(self, field: str | None, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


# ------------------------------------------------------------------ reading

Item = tuple[int, "dict[str, Any] | _BadRow", str | None]  # line, row or problem, raw text


def _quote(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    return text[:MAX_QUOTED] + ("..." if len(text) > MAX_QUOTED else "")


def _jsonl_items(lines: Iterable[bytes]) -> Iterator[Item]:
    for number, raw in enumerate(lines, 1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        if len(raw) > 4 * MAX_FIELD_CHARS * 4:
            yield number, _BadRow(None, f"a line of {len(raw)} bytes; too long"), _quote(raw)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, _BadRow(None, f"not UTF-8 text ({exc.reason})"), _quote(raw)
            continue
        try:
            row = json.loads(text)
        except ValueError as exc:
            yield number, _BadRow(None, f"not valid JSON: {exc}"), _quote(text)
            continue
        if not isinstance(row, dict):
            yield number, _BadRow(None, "each line must be a JSON object"), _quote(text)
            continue
        yield number, row, None


def _columns(
    schema: Any, header: list[str], first: list[dict[str, Any]], added: list[str]
) -> list[str]:
    """The output's columns, fixed at the first chunk: a Parquet's or CSV's own columns
    (even when no row of that chunk is written), the keys of the rows written (JSON
    Lines), then the added columns."""
    own = list(schema.names) if schema is not None else header
    seen = dict.fromkeys([*own, *(k for r in first for k in r)])
    return [c for c in seen if c not in added and c != ERROR_COLUMN] + added


def _csv_items(
    stream: IO[str], delimiter: str, name: str, header_read: list[str]
) -> Iterator[Item]:
    """The rows of a CSV; ``header_read`` gets the column names once they are read."""
    reader = csv.reader(stream, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise BatchInputError(f"{name}: empty file; the first line must name the columns") from None
    except csv.Error as exc:
        raise BatchInputError(f"{name}:1: the header is not valid CSV: {exc}") from None
    if not header or not any(h.strip() for h in header):
        raise BatchInputError(f"{name}: the first line must name the columns")
    header_read.extend(header)
    width = len(header)
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field past the csv module's limit; it goes on after it
            yield reader.line_num, _BadRow(None, f"not valid CSV: {exc}"), None
            continue
        if not values:
            continue
        if len(values) > width:
            yield (
                reader.line_num,
                _BadRow(None, f"{len(values)} values for {width} columns"),
                _quote(delimiter.join(values)),
            )
            continue
        row = {h: (v if v != "" else None) for h, v in zip(header, values, strict=False)}
        for h in header[len(values) :]:
            row[h] = None
        yield reader.line_num, row, None


def _parquet_items(path: str, chunk_rows: int) -> tuple[Any, Iterator[Item]]:
    pq = _pyarrow("parquet")
    try:
        source = pq.ParquetFile(path)
    except Exception as exc:
        raise BatchInputError(f"{path}: not a Parquet file: {exc}") from None

    def items() -> Iterator[Item]:
        number = 0
        for batch in source.iter_batches(batch_size=chunk_rows):
            for row in batch.to_pylist():
                number += 1
                yield number, row, None

    return source.schema_arrow, items()


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ------------------------------------------------------------------ checking


def _first(row: dict[str, Any], name: str) -> Any:
    for key in ALIASES[name]:
        value = row.get(key)
        if value is not None:
            return value
    return None


def _check_text(row: dict[str, Any]) -> None:
    for key, value in row.items():
        values = [key, value] if isinstance(value, str) else [key]
        if isinstance(value, (dict, list)):
            values.append(json.dumps(value, ensure_ascii=False))
        for text in values:
            if not isinstance(text, str):
                continue
            if len(text) > MAX_FIELD_CHARS:
                raise _BadRow(
                    str(key)[:80],
                    f"a field of {len(text)} characters; at most {MAX_FIELD_CHARS} are read",
                )
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise _BadRow(
                    _quote(str(key))[:80], "a lone surrogate: the text is not valid Unicode"
                ) from None


def _record(row: dict[str, Any], default_exchange: str | None) -> dict[str, Any]:
    """The fields the classification reads; ``_BadRow`` for a row it cannot use.

    The exchange, operation, idempotent and attempt cells are passed on as they
    are: the partition function reads them (and reports what it refuses in
    ``row_error``), as it does for ``classify_frame``, Dask and Spark.
    """
    _check_text(row)
    exchange = _first(row, "exchange") or default_exchange
    if not exchange:
        raise _BadRow("exchange", "no exchange; add an 'exchange' column or pass --exchange")
    if not isinstance(exchange, str) or not exchange.strip():
        raise _BadRow("exchange", f"not an exchange name: {exchange!r}")
    record: dict[str, Any] = {"exchange": exchange}
    for name in ("code", "message"):
        value = _first(row, name)
        if isinstance(value, (dict, list)):
            raise _BadRow(name, f"a {type(value).__name__}, not a text or a number")
        record[name] = value
    status = as_http_status(_first(row, "http_status"))
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        raise _BadRow("http_status", f"not an HTTP status: {_quote(str(status))!r}")
    record["http_status"] = status
    body = _first(row, "body")
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False)  # normalize() parses the text the same
    record["body"] = body
    error_type = _first(row, "error_type")
    record["error_type"] = None if error_type is None else str(error_type)
    for name in ("operation", "idempotent", "attempt"):
        record[name] = _first(row, name)
    return record


# ------------------------------------------------------------------ writing


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


class _CsvOut:
    def __init__(self, stream: IO[str], columns: list[str]) -> None:
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow(columns)
        self.columns = columns

    def write(self, rows: list[dict[str, Any]], lines: list[int]) -> list[Problem]:
        self.writer.writerows([[_cell(r.get(c)) for c in self.columns] for r in rows])
        return []

    def close(self) -> None:
        pass


def _kind(values: Iterable[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "string"
    if kinds == {bool}:
        return "bool"
    if kinds == {int}:
        return "int"
    if kinds <= {int, float}:
        return "float"
    return "string"


class _ParquetOut:
    """Parquet, one row group per chunk, the schema fixed by the first chunk.

    Columns keep their types: a Parquet input's own schema, else what the first
    chunk's values are (bool, int, float; anything else is text). A later value
    that does not fit its column is written empty and reported.
    """

    def __init__(self, path: str, columns: list[str], first: list[dict[str, Any]], given: Any):
        self.pa = _pyarrow()
        self.columns = columns
        types = {
            "bool": self.pa.bool_(),
            "int": self.pa.int64(),
            "float": self.pa.float64(),
            "string": self.pa.string(),
        }
        fields = []
        for c in columns:
            if c == "delay_s":
                t = self.pa.float64()
            elif given is not None and c in given.names and c not in output_columns():
                t = given.field(c).type
            else:
                t = types[_kind(r.get(c) for r in first)]
            fields.append(self.pa.field(c, t))
        self.schema = self.pa.schema(fields)
        pq = _pyarrow("parquet")
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, rows: list[dict[str, Any]], lines: list[int]) -> list[Problem]:
        pa = self.pa
        notes: list[Problem] = []
        arrays = []
        for f in self.schema:
            values = [r.get(f.name) for r in rows]
            if pa.types.is_string(f.type):
                values = [None if v is None else str(_cell(v)) for v in values]
            try:
                arrays.append(pa.array(values, type=f.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                kept = []
                for v, line in zip(values, lines, strict=True):
                    try:
                        pa.array([v], type=f.type)
                        kept.append(v)
                    except (
                        pa.ArrowInvalid,
                        pa.ArrowTypeError,
                        TypeError,
                        ValueError,
                        OverflowError,
                    ):
                        kept.append(None)
                        notes.append(
                            Problem(
                                line,
                                f.name,
                                f"{_quote(repr(v))} does not fit the column's type {f.type} "
                                "(from the first chunk); written empty",
                                True,
                            )
                        )
                arrays.append(pa.array(kept, type=f.type))
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        return notes

    def close(self) -> None:
        self.writer.close()


def _pyarrow(sub: str | None = None) -> Any:
    try:
        return importlib.import_module("pyarrow" + (f".{sub}" if sub else ""))
    except ImportError:
        raise BatchInputError(
            "Parquet needs pyarrow: pip install 'exchange-error-normalizer[batch]', or use CSV"
        ) from None


# ------------------------------------------------------------------ the run


def _input_format(source: str, head: bytes) -> str:
    suffix = Path(source).suffix.lower() if source != "-" else ""
    if suffix in INPUT_FORMATS:
        return INPUT_FORMATS[suffix]
    if head.startswith(b"PAR1"):
        return "parquet"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" else "csv"


def output_format(output: str, given: str | None) -> str:
    """The output's format: ``given``, else from the output's name; refuses the unknown."""
    if given is not None:
        if given not in ("csv", "parquet"):
            raise BatchInputError(f"unknown output format {given!r}; choose csv or parquet")
        fmt = given
    elif output == "-":
        fmt = "csv"
    else:
        suffix = Path(output).suffix.lower()
        if suffix not in OUTPUT_FORMATS:
            raise BatchInputError(
                f"{output}: unknown output type {suffix or '(no suffix)'!r}; name the output "
                ".csv or .parquet, or give --format"
            )
        fmt = OUTPUT_FORMATS[suffix]
    if fmt == "parquet" and output == "-":
        raise BatchInputError("Parquet cannot go to standard output; give --output FILE.parquet")
    return fmt


def errors_path(output: str) -> str | None:
    """Where the errors file of ``output`` goes: ``out.csv`` -> ``out.errors.jsonl``."""
    if output == "-":
        return None
    p = Path(output)
    return str(p.with_name(p.stem + ".errors.jsonl"))


def _open_input(source: str, stdin: IO[Any] | None) -> tuple[IO[bytes], bytes]:
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin
        binary = getattr(stream, "buffer", None)
        if binary is None:  # a text stream (tests): encode it
            binary = io.BytesIO(stream.read().encode("utf-8", "surrogateescape"))
        buffered = io.BufferedReader(binary) if not hasattr(binary, "peek") else binary
        return buffered, buffered.peek(64)[:64]
    path = Path(source)
    if not path.exists():
        raise BatchInputError(f"no such file: {source}")
    if path.is_dir():
        raise BatchInputError(f"{source} is a folder; give a .jsonl, .csv or .parquet file")
    fh = path.open("rb")
    return fh, fh.peek(64)[:64]


def run_batch(
    source: str,
    output: str = "-",
    *,
    out_format: str | None = None,
    exchange: str | None = None,
    policy: str | Path | None = None,
    rules_dir: str | Path | None = None,
    seed: int | None = None,
    strict: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    errors: str | None = None,
    progress: bool | None = None,
    stdin: IO[Any] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    unknown: str = "skip",
) -> BatchSummary:
    """Classify the log ``source`` (a path, or ``-``) into ``output``; see the module doc.

    ``unknown`` says what a row of a venue no rules know becomes: ``"skip"``
    (the default; also spelled ``"error"``, as ``classify_frame`` says it)
    reports it as a bad row and goes on, ``"generic"`` classifies it by the
    generic profile, ``"fail"`` (or ``"raise"``) stops the run
    (``BatchInputError``).

    The output keeps every input column in order and adds ``output_columns()``.
    Bad rows go to ``errors`` (default: ``errors_path(output)``; standard error
    when the output is standard output), one JSON object a line with the
    ``line``, the ``field``, the ``problem``, ``written`` and the row's
    ``text``. Raises ``BatchInputError`` for a usage mistake (the message names
    the file, and the line under ``strict``), and what ``make_spec`` raises for
    a bad policy file or rules folder, before any row is read.
    """
    source = os.fspath(path_of("source", source))  # "-": standard input
    output = os.fspath(path_of("output", output))  # "-": standard output
    if errors is not None:
        errors = os.fspath(path_of("errors", errors))  # never a file descriptor
    strict = flag("strict", strict)
    if progress is not None:
        progress = flag("progress", progress)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int):
        raise ArgumentTypeError("chunk_rows", "an int >= 1", chunk_rows)
    fmt = output_format(output, out_format)
    if chunk_rows < 1:
        raise BatchInputError(f"chunk_rows must be at least 1, not {chunk_rows}")
    _pandas()
    choice = UNKNOWN_CHOICES.get(unknown.strip().lower()) if isinstance(unknown, str) else None
    if choice is None:
        raise BatchInputError(
            f"unknown must be one of {', '.join(UNKNOWN_CHOICES)}, not {unknown!r}"
        )
    spec = make_spec(
        policy=policy,
        rules_dir=rules_dir,
        seed=seed,
        categorical=False,
        unknown_exchange="generic" if choice == "generic" else "error",
    )
    if exchange is not None and choice != "generic":
        reg = _registry_of(spec)
        if reg is None:
            from .._formats.registry import registry

            reg = registry()
        try:
            reg.get(exchange)
        except UnknownExchangeError as exc:
            raise BatchInputError(f"--exchange: {exc}") from None
    name = "<stdin>" if source == "-" else source
    err_stream = stderr if stderr is not None else sys.stderr
    out_stream = stdout if stdout is not None else sys.stdout

    binary, head = _open_input(source, stdin)
    in_format = _input_format(source, head)
    given_schema = None
    header: list[str] = []  # a CSV's column names, which the output keeps as Parquet's
    text_stream: IO[str] | None = None
    if in_format == "parquet":
        if source == "-":
            raise BatchInputError("Parquet input must be a file, not standard input")
        binary.close()
        given_schema, items = _parquet_items(source, chunk_rows)
    elif in_format == "jsonl":
        items = _jsonl_items(binary)
    else:
        # undecodable bytes become lone surrogates, which the row check reports
        text_stream = io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        items = _csv_items(text_stream, "\t" if in_format == "tsv" else ",", name, header)

    summary = BatchSummary(name, output, fmt)
    errors_to = errors if errors is not None else errors_path(output)
    summary.errors_file = errors_to
    partial = None if output == "-" else f"{output}.partial"
    err_file = open(errors_to, "w", encoding="utf-8") if errors_to else None  # noqa: SIM115
    writer: _CsvOut | _ParquetOut | None = None
    out_file: IO[str] | None = None
    columns: list[str] = []
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, 4 * MAX_FIELD_CHARS))  # longer: reported, not read
    bar = _bar(progress, err_stream)
    ok = False
    try:

        def report(p: Problem) -> None:
            if p.written:
                summary.notes += 1
            else:
                summary.bad_rows += 1
                if strict:
                    where = f"{p.field}: " if p.field else ""
                    raise BatchInputError(f"{name}:{p.line}: {where}{p.problem} (--strict)")
            if err_file is not None:
                err_file.write(p.as_json() + "\n")
            else:
                where = f"{p.field}: " if p.field else ""
                print(f"{name}:{p.line}: {where}{p.problem}", file=err_stream)

        added = [c for c in output_columns() if c != ERROR_COLUMN]  # bad rows go aside
        for chunk in _chunks(items, chunk_rows):
            rows: list[dict[str, Any]] = []
            records: list[dict[str, Any]] = []
            lines: list[int] = []
            bad_rows: list[Problem] = []  # reported in line order, once the chunk is classified
            for line, row, raw in chunk:
                if isinstance(row, _BadRow):
                    bad_rows.append(Problem(line, row.field, row.problem, False, raw))
                    continue
                try:
                    records.append(_record(row, exchange))
                except _BadRow as bad:
                    bad_rows.append(Problem(line, bad.field, bad.problem, False, _row_text(row)))
                    continue
                rows.append(row)
                lines.append(line)
            done_rows, done_lines = [], []
            for r, line, error in zip(rows, lines, _classified(rows, records, spec), strict=True):
                if error is None:
                    done_rows.append(r)
                    done_lines.append(line)
                    continue
                field, _, problem = error.partition(": ")
                bad_rows.append(Problem(line, field, problem, False, _row_text(_without_added(r))))
            for p in sorted(bad_rows, key=lambda p: p.line):
                if choice == "raise" and p.field == "exchange" and p.problem.startswith("unknown"):
                    raise BatchInputError(
                        f"{name}:{p.line}: exchange: {p.problem} (--unknown-exchange fail)"
                    )
                report(p)
            lines = done_lines
            if writer is None:
                columns = _columns(given_schema, header, done_rows, added)
                if fmt == "parquet":
                    assert partial is not None
                    writer = _ParquetOut(partial, columns, done_rows, given_schema)
                else:
                    out_file = (
                        open(partial, "w", encoding="utf-8", newline="")  # noqa: SIM115
                        if partial
                        else out_stream
                    )
                    writer = _CsvOut(out_file, columns)
            known_columns = {*columns, ERROR_COLUMN}
            for r, line in zip(done_rows, lines, strict=True):
                for k in r:
                    if k not in known_columns:
                        report(
                            Problem(
                                line,
                                str(k),
                                "a column first seen after the first chunk; not written",
                                True,
                            )
                        )
            for note in writer.write(done_rows, lines):
                report(note)
            summary.rows += len(done_rows)
            summary.actions.update(str(r["action"]) for r in done_rows)
            if bar is not None:
                bar.update(len(chunk))
        if writer is None:  # an empty input
            columns = _columns(given_schema, header, [], added)
            if fmt == "parquet":
                assert partial is not None
                writer = _ParquetOut(partial, columns, [], given_schema)
            else:
                out_file = (
                    open(partial, "w", encoding="utf-8", newline="")  # noqa: SIM115
                    if partial
                    else out_stream
                )
                writer = _CsvOut(out_file, columns)
        ok = True
    finally:
        csv.field_size_limit(limit)
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        if out_file is not None and out_file is not out_stream:
            out_file.close()
        if err_file is not None:
            err_file.close()
        (text_stream or binary).close()
        if partial is not None:
            if ok:
                os.replace(partial, output)
            elif os.path.exists(partial):
                os.remove(partial)
    return summary


def _row_text(row: dict[str, Any]) -> str:
    try:
        return _quote(json.dumps(row, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return _quote(repr(row))


def _classified(
    rows: list[dict[str, Any]], records: list[dict[str, Any]], spec: FrameSpec
) -> list[str | None]:
    """Adds the added columns to each row, by the partition function; returns
    each row's ``row_error`` (None: classified)."""
    if not rows:
        return []
    pd = _pandas()
    frame = pd.DataFrame(
        {c: pd.Series([r[c] for r in records], dtype=object) for c in INPUT_COLUMNS}
    )
    out = classify_partition(frame, spec)
    added = [c for c in output_columns() if c != ERROR_COLUMN]
    values = [out[c].tolist() for c in added]
    for row, cells in zip(rows, zip(*values, strict=True), strict=True):
        row.update(zip(added, cells, strict=True))
    return out[ERROR_COLUMN].tolist()  # type: ignore[no-any-return]


def _without_added(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in output_columns()}


def _bar(enabled: bool | None, stream: IO[str]) -> Any:
    show = stream.isatty() if enabled is None else enabled
    if not show:
        return None
    try:
        tqdm: Callable[..., Any] = importlib.import_module("tqdm").tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return None
    return tqdm(desc="normalizing", unit="row", file=stream)
