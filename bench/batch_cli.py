"""The batch command end to end against ``classify_frame`` on the same rows, in one run.

``exchange-normalizer batch LOG -o OUT`` reads a file, classifies it and writes
the result; ``classify_frame`` classifies a DataFrame already in memory. Both
get the same generated log (``throughput.make_log``: the catalogs' documented
errors, Zipf-distributed), the command as a CSV file and as a Parquet file.
The command's rate counts everything a user waits for (reading, classifying,
writing); the target (issue 26) is at least half of ``classify_frame``'s rows/s.
Both are timed on the wall clock, the time a user waits: the command reads the next
chunk and writes the last one on threads of their own while it classifies, so on
two cores its wall time is less than its CPU time (``classify_frame`` runs on one
thread: for it the two are the same). Rows per second of this process's CPU time
are shown beside, for both, as in ``throughput``.

Run alone: ``python -m bench.batch_cli --rows 1000000`` (default 10,000,000).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the batch command's rows/s over classify_frame's, at least (issue 26)
TARGET_RATIO = 0.5


@dataclass
class CliRate:
    what: str
    rows: int
    rows_s: float  # per second of wall-clock time
    ratio: float  # over classify_frame's rows/s in the same run
    cpu_rows_s: float  # per second of this process's CPU time
    cpu_ratio: float


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall-clock seconds, this process's CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _command(source: Path, output: Path) -> None:
    from normalizer.cli import main

    status = main(["batch", str(source), "-o", str(output), "--no-progress", "--seed", "1"])
    if status not in (0, 1):  # 1: some rows reported aside, as a real log has
        raise AssertionError(f"exchange-normalizer batch {source} exited {status}")


def run(rows: int) -> list[CliRate]:
    import pandas as pd

    import normalizer

    from .throughput import make_log

    log, _ = make_log(rows)
    out: list[CliRate] = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-cli-") as tmp:
        folder = Path(tmp)
        csv_in, parquet_in = folder / "log.csv", folder / "log.parquet"
        log.to_csv(csv_in, index=False)
        log.to_parquet(parquet_in, index=False)
        frame_s, frame_cpu = _timed(lambda: normalizer.classify_frame(log, seed=1))
        frame_rate, frame_cpu_rate = rows / frame_s, rows / frame_cpu
        out.append(
            CliRate("classify_frame (in memory)", rows, frame_rate, 1.0, frame_cpu_rate, 1.0)
        )
        for name, source, target in (
            ("batch CSV -> CSV", csv_in, folder / "out.csv"),
            ("batch Parquet -> Parquet", parquet_in, folder / "out.parquet"),
        ):
            seconds, cpu = _timed(lambda s=source, t=target: _command(s, t))  # type: ignore[misc]
            rate, cpu_rate = rows / seconds, rows / cpu
            out.append(
                CliRate(name, rows, rate, rate / frame_rate, cpu_rate, cpu_rate / frame_cpu_rate)
            )
            if target.suffix == ".csv":  # the command wrote every row it read
                written = sum(1 for _ in target.open(encoding="utf-8")) - 1
                errors = folder / "out.csv.errors.jsonl"
                aside = sum(1 for _ in errors.open()) if errors.exists() else 0
                if written + aside < rows:
                    raise AssertionError(f"{name}: {written} rows written, {aside} aside")
            os.remove(target)
        del pd
    return out


def table(rates: list[CliRate]) -> str:
    lines = [
        "| path | rows | rows/s | vs classify_frame | rows/s of CPU | vs classify_frame (CPU) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rates:
        lines.append(
            f"| {r.what} | {r.rows:,} | {r.rows_s:,.0f} | {r.ratio:.2f} "
            f"| {r.cpu_rows_s:,.0f} | {r.cpu_ratio:.2f} |"
        )
    return "\n".join(lines)


def verdicts(rates: list[CliRate]) -> list[str]:
    return [
        f"{r.what}: {r.ratio:.2f} x classify_frame's rows/s (target >= {TARGET_RATIO:g}): "
        + ("met" if r.ratio >= TARGET_RATIO else "MISSED")
        + f" ({r.cpu_ratio:.2f} x in CPU time)"
        for r in rates
        if r.what.startswith("batch")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batch_cli", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    rates = run(args.rows)
    print(table(rates))
    for v in verdicts(rates):
        print(f"- {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
