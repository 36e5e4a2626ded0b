"""The batch command's fast path on CSV and Parquet files: it reads the next chunk and
writes the last one on threads of their own while it classifies, keeps a log's own
columns as they were, and fails as the command always failed.

``test_cli.py`` holds the command's other tests (the general path, the summary line,
the progress bar); these are about what the threads and the Arrow columns changed.
"""

from __future__ import annotations

import csv
import functools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from normalizer.cli import main

pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")


def _log(rows: int) -> Any:
    """A Parquet-able log with columns of every kind a log carries, and a row without
    an exchange every fourth row (reported aside, not written)."""
    import numpy as np

    return pd.DataFrame(
        {
            "exchange": (["okx", "binance", None, "bybit"] * rows)[:rows],
            "code": (["58102", "-2010", "1", "10006"] * rows)[:rows],
            "ts": pd.date_range("2026-01-01", periods=rows, freq="h", tz="Asia/Tokyo"),
            "qty": pd.array(([1, None, 3, 4] * rows)[:rows], dtype="Int64"),
            "price": ([1.5, np.nan, 1e-7, 2.0] * rows)[:rows],
            "desk": pd.Categorical((["a", "b", "a", None] * rows)[:rows]),
            "flag": ([True, False, True, False] * rows)[:rows],
        }
    )


def _general_path(source: Path, target: Path) -> None:
    from normalizer.batch import run_batch

    run_batch(str(source), str(target), seed=1, chunk_rows=5)


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("batch-")}


def test_a_parquet_log_keeps_its_own_columns_with_their_types_and_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invariant: Parquet in, Parquet out, the log's own columns (timestamps with their
    zone, integers with gaps, floats, categories, booleans) are written with the type
    and the values they were read with, row for row, over chunk boundaries and around
    the rows reported aside."""
    source, target = tmp_path / "log.parquet", tmp_path / "out.parquet"
    _log(40).to_parquet(source, index=False)
    assert main(["batch", str(source), "-o", str(target), "--chunk-rows", "7"]) == 1
    capsys.readouterr()
    given = pq.read_table(source)
    given = given.filter(given.column("exchange").is_valid())
    out = pq.read_table(target)
    own = given.schema.names
    assert out.num_rows == given.num_rows == 30
    assert out.select(own).schema == given.select(own).schema
    assert out.select(own).to_pylist() == given.select(own).to_pylist()


def test_a_parquet_log_written_as_csv_reads_as_the_general_path_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invariant: Parquet in, CSV out, every cell reads back as the general path writes
    it: Python's text for numbers, booleans and timestamps (``2.0``, ``True``,
    ``2026-01-01 00:00:00+09:00``), not Arrow's (``2``, ``true``); the same rows aside."""
    source = tmp_path / "log.parquet"
    _log(40).to_parquet(source, index=False)
    _general_path(source, tmp_path / "slow.csv")
    fast = tmp_path / "fast.csv"
    assert main(["batch", str(source), "-o", str(fast), "--chunk-rows", "7", "--seed", "1"]) == 1
    capsys.readouterr()
    with (tmp_path / "slow.csv").open(newline="") as a, fast.open(newline="") as b:
        slow_rows, fast_rows = list(csv.reader(a)), list(csv.reader(b))
    assert len(fast_rows) == 31
    assert fast_rows == slow_rows
    assert (tmp_path / "slow.errors.jsonl").read_text() == (
        tmp_path / "fast.errors.jsonl"
    ).read_text()


def test_a_chunk_that_cannot_be_written_fails_the_command_and_leaves_no_thread(
    tmp_path: Path,
) -> None:
    """A write that fails on the writing thread (a full disk: ``/dev/full``) fails the
    command with the system's reason and exit 2, as a write in the command's own thread
    did; it neither hangs nor reports success."""
    source = tmp_path / "log.csv"
    source.write_text("exchange,code,message\n" + "okx,58102,Too frequent\n" * 2000)
    with open("/dev/full", "wb") as full:
        done = subprocess.run(  # noqa: S603 - this interpreter, the command under test
            [
                *(sys.executable, "-m", "normalizer", "batch", str(source), "-o", "-"),
                *("--chunk-rows", "100", "--no-progress"),
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert "No space left on device" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_command_stopped_mid_file_stops_its_reader_and_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command that stops at a bad row in its third chunk (``--unknown-exchange
    fail``) ends the threads that read ahead and write behind, and leaves no output,
    not even the partial file."""
    source, target = tmp_path / "log.csv", tmp_path / "out.csv"
    rows = ["okx,58102,Too frequent"] * 250 + ["nosuch,1,x"] + ["okx,58102,Too frequent"] * 250
    source.write_text("exchange,code,message\n" + "\n".join(rows) + "\n")
    before = _threads()
    code = main(
        [
            *("batch", str(source), "-o", str(target)),
            *("--chunk-rows", "100", "--unknown-exchange", "fail"),
        ]
    )
    _, err = capsys.readouterr()
    assert code == 2
    assert f"{source}:252: exchange:" in err
    assert _threads() == before == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv", "out.errors.jsonl"]


def test_the_memo_of_distinct_rows_starting_afresh_changes_no_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: the fast path's memo of distinct rows is bounded; when a chunk would
    overflow it, it starts afresh, and the file written is still the general path's."""
    from normalizer.cli import _distinct

    source = tmp_path / "log.csv"
    codes = ["58102", "50011", "51008", "-2010", "10006", "1", "", "58102.0"]
    lines = [f"okx,{c},msg {i % 5},{400 + i % 3}" for i, c in enumerate(codes * 6)]
    source.write_text("exchange,code,message,http_status\n" + "\n".join(lines) + "\n")
    _general_path(source, tmp_path / "slow.csv")
    monkeypatch.setattr(_distinct, "MEMO_ROWS", 4)
    fast = tmp_path / "fast.csv"
    assert main(["batch", str(source), "-o", str(fast), "--chunk-rows", "3", "--seed", "1"]) == 0
    capsys.readouterr()
    with (tmp_path / "slow.csv").open(newline="") as a, fast.open(newline="") as b:
        assert list(csv.reader(b)) == list(csv.reader(a))


def test_reading_ahead_keeps_the_order_and_raises_where_the_chunk_would_come() -> None:
    """Invariant: the chunks read on the reader's thread come in their order, and what
    reading raised is raised in the command's thread in the place of the chunk that
    failed, after every chunk before it."""
    from normalizer.cli._overlap import read_ahead

    def source() -> Iterator[int]:
        yield from range(5)
        raise ValueError("line 6: cannot split")

    chunks = read_ahead(source())
    assert [next(chunks) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="line 6"):
        next(chunks)


def test_a_reader_closed_early_closes_its_source_and_ends_its_thread() -> None:
    """A command that stops after the first chunk closes the reader: the source is
    closed (its file with it) and the reading thread ends, though more chunks wait."""
    from normalizer.cli._overlap import read_ahead

    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed.set()

    chunks = read_ahead(source())
    assert next(chunks) == 0
    chunks.close()
    assert closed.is_set()
    assert _threads() == set()


def _second_write_fails() -> tuple[Any, list[int]]:
    """A writer given chunks 0, 1 and 2, whose chunk 1 fails (a full disk) while chunk 2
    waits behind it; and the list of the chunks written."""
    from normalizer.cli._overlap import WriteBehind

    written: list[int] = []
    gate = threading.Event()

    def write(i: int) -> None:
        if i == 0:
            gate.wait(10)  # chunks 1 and 2 are queued behind this one
        if i == 1:
            raise OSError(28, "No space left on device")
        written.append(i)

    behind = WriteBehind()
    for i in range(3):
        behind.put(functools.partial(write, i))
    gate.set()
    return behind, written


def test_a_failed_write_is_raised_in_the_command_and_drops_what_waits() -> None:
    """A chunk that cannot be written fails the command with the writer's own error
    (here when it waits for the end); the chunks queued behind it are not written."""
    behind, written = _second_write_fails()
    with pytest.raises(OSError, match="No space"):
        behind.finish()
    behind.stop()
    assert written == [0]
    assert _threads() == set()


@pytest.mark.parametrize(
    ("log", "exchange"),
    [
        ("foo\n1\n2\n", None),  # no field the classification reads, no exchange
        ("foo\n1\n2\n", "okx"),  # the exchange from the command line only
        ("exchange\nokx\nbinance\n", None),  # an exchange and nothing else
        ("exchange,code\n,1\n,2\n", None),  # every row reported aside
        ("exchange,code,msg\nokx,58102,Too frequent\nnosuch,1,x\n", None),
        ("code,message\n58102,Too frequent\n,\n", "okx"),
    ],
)
def test_the_fast_path_writes_what_the_general_path_writes_for_sparse_logs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    log: str,
    exchange: str | None,
) -> None:
    """Invariant: on logs with few of the fields (none at all, the exchange from the
    command line only, every row bad), the fast path writes the general path's rows,
    errors file and summary, and does take the fast path."""
    from normalizer.batch import _stream

    source = tmp_path / "log.csv"
    source.write_text(log)
    slow = tmp_path / "slow.csv"
    summary = _stream.run_batch(str(source), str(slow), seed=1, exchange=exchange)

    def general_path_not_taken(*args: object, **kwargs: object) -> None:
        raise AssertionError("the command took the general path")

    monkeypatch.setattr(_stream, "run_batch", general_path_not_taken)
    fast = tmp_path / "fast.csv"
    argv = ["batch", str(source), "-o", str(fast), "--seed", "1"]
    code = main([*argv, *(("--exchange", exchange) if exchange else ())])
    _, err = capsys.readouterr()
    assert code == (1 if summary.bad_rows else 0), err
    assert err.strip() == summary.line().replace(str(slow), str(fast)).replace(
        "slow.errors", "fast.errors"
    )
    with slow.open(newline="") as a, fast.open(newline="") as b:
        assert list(csv.reader(b)) == list(csv.reader(a))
    slow_errors, fast_errors = tmp_path / "slow.errors.jsonl", tmp_path / "fast.errors.jsonl"
    assert fast_errors.exists() == slow_errors.exists()
    if slow_errors.exists():
        assert fast_errors.read_text() == slow_errors.read_text()


def test_a_csv_whose_first_chunk_is_all_bad_keeps_its_columns(tmp_path: Path) -> None:
    """The general path fixes the output's columns at its first chunk: a CSV whose first
    chunk holds only bad rows keeps its own columns (from its header) for the rows that
    follow; they were dropped, each row with a note, when only the rows written counted."""
    from normalizer.batch import run_batch

    source, target = tmp_path / "log.csv", tmp_path / "out.csv"
    source.write_text("exchange,code,desk\n,1,a\n,2,b\nokx,58102,c\nbybit,10006,d\n")
    summary = run_batch(str(source), str(target), seed=1, chunk_rows=2)
    with target.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["desk"] for r in rows] == ["c", "d"]
    assert [r["category"] for r in rows] == ["RATE_LIMIT", "RATE_LIMIT"]
    assert summary.bad_rows == 2
    notes = (tmp_path / "out.errors.jsonl").read_text()
    assert "first seen after the first chunk" not in notes


def test_a_row_arrow_cannot_split_far_into_a_file_is_never_written_twice(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A CSV row Arrow's reader cannot split (more values than columns), past the rows
    already written: to a file, the command reads the file again row by row and writes
    every row once, the bad one aside; to standard output, which cannot be taken back,
    it stops with exit 2 and says how to get the whole file, rather than writing the
    rows before it a second time."""
    source = tmp_path / "log.csv"
    good = "okx,58102,Too frequent\n"
    source.write_text("exchange,code,message\n" + good * 100_000 + "okx,1,a,b\n" + good * 5)
    target = tmp_path / "out.csv"
    argv = ["--chunk-rows", "1000", "--no-progress"]
    assert main(["batch", str(source), "-o", str(target), *argv]) == 1
    with target.open(newline="") as f:
        assert sum(1 for _ in csv.reader(f)) == 1 + 100_005
    assert '"problem": "4 values for 3 columns"' in (tmp_path / "out.errors.jsonl").read_text()
    capsysbinary.readouterr()
    assert main(["batch", str(source), "-o", "-", *argv]) == 2
    out, err = capsysbinary.readouterr()
    assert b"give -o FILE" in err
    assert 0 < out.count(b"\n") <= 1 + 100_000


def test_a_failed_write_stays_failed_after_it_is_raised() -> None:
    """Invariant: once a chunk failed to be written, no chunk after it is written, even
    after the failure was raised in the command once (standard output would get a gap
    in its rows); every later call raises it again."""
    behind, written = _second_write_fails()
    deadline = time.monotonic() + 10
    raised = False
    while not raised and time.monotonic() < deadline:  # the command's next chunks
        try:
            behind.put(functools.partial(written.append, 99))
        except OSError:
            raised = True
    assert raised
    with pytest.raises(OSError, match="No space"):
        behind.finish()
    behind.stop()
    assert written == [0]


def test_a_parquet_log_with_nested_columns_is_written_as_the_general_path_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Parquet column of lists or structs (the general path writes each cell as JSON
    text) sends the file to the general path; before, the fast path failed on it with
    an unexpected ``TypeError`` (unhashable ``ndarray``)."""
    source = tmp_path / "log.parquet"
    pd.DataFrame(
        {
            "exchange": ["okx", "binance", "okx", "bybit"],
            "code": ["58102", "-2010", "1", "10006"],
            "tags": [["a"], [], None, ["b", "c"]],
            "meta": [{"k": 1}, {"k": 2}, None, {"k": 3}],
        }
    ).to_parquet(source, index=False)
    _general_path(source, tmp_path / "slow.csv")
    fast = tmp_path / "fast.csv"
    assert main(["batch", str(source), "-o", str(fast), "--seed", "1"]) == 0
    capsys.readouterr()
    with (tmp_path / "slow.csv").open(newline="") as a, fast.open(newline="") as b:
        slow_rows, fast_rows = list(csv.reader(a)), list(csv.reader(b))
    assert fast_rows == slow_rows
    assert fast_rows[1][2:4] == ['["a"]', '{"k": 1}']
