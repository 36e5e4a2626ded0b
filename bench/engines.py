"""Rows per second of the batch path per engine: pandas, Dask, Spark, on the same log.

The log is ``throughput.make_log`` (the same generator as the batch table). pandas
(``classify_frame``) runs in this process; Dask on a distributed ``LocalCluster``
of two worker processes; Spark in local mode with two cores (``local[2]``). Each
cluster's start-up is timed apart and left out of the rate; every engine's
output is checked against ``classify_frame`` on the same rows. The cluster
engines get a smaller log by default (their per-row cost is transport: Arrow or
pickle to the workers and back), which the table says.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from .throughput import make_log

COLUMNS = ["category", "subcategory", "rule_id", "action"]


@dataclass
class EngineRate:
    engine: str
    rows: int
    partitions: int
    rows_s: float | None
    startup_s: float | None
    note: str = ""


def _same(got: Any, want: Any) -> None:
    for c in COLUMNS:
        g = [None if v is None or v != v else v for v in got[c].astype(object).tolist()]
        w = [None if v is None or v != v else v for v in want[c].astype(object).tolist()]
        if g != w:
            raise AssertionError(f"{c}: the engine disagrees with classify_frame")


def _timed(fn: Any, repeats: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run(rows: int = 10_000_000, cluster_rows: int = 2_000_000) -> list[EngineRate]:
    import normalizer

    out: list[EngineRate] = []
    log, _ = make_log(rows)
    log["request_id"] = range(len(log))
    t, _ = _timed(lambda: normalizer.classify_frame(log, seed=1))
    out.append(EngineRate("pandas: classify_frame", rows, 1, rows / t, 0.0))
    small = log.head(cluster_rows)
    want = normalizer.classify_frame(small, seed=1)
    out.append(_dask(small, want))
    out.append(_spark(small, want))
    return out


def _dask(frame: Any, want: Any) -> EngineRate:
    try:
        import dask.dataframe as dd
        import distributed
    except ImportError as exc:
        return EngineRate("Dask", len(frame), 0, None, None, f"not installed ({exc})")
    from normalizer.batch import dask as nd

    start = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    )
    client = distributed.Client(cluster)
    startup = time.perf_counter() - start
    try:
        parts = 8
        ddf = dd.from_pandas(frame, npartitions=parts).persist()  # the log already on the workers
        distributed.wait(ddf)
        t, got = _timed(lambda: nd.classify(ddf, seed=1).compute())
        _same(got.sort_values("request_id"), want)
        return EngineRate(
            "Dask: LocalCluster, 2 worker processes", len(frame), parts, len(frame) / t, startup
        )
    finally:
        client.close()
        cluster.close()


def _spark(frame: Any, want: Any) -> EngineRate:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        return EngineRate("Spark", len(frame), 0, None, None, f"not installed ({exc})")
    from normalizer.batch import spark as ns

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    start = time.perf_counter()
    session = (
        SparkSession.builder.master("local[2]")
        .appName("normalizer-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - start
    try:
        parts = 8
        sdf = session.createDataFrame(frame).repartition(parts).cache()
        sdf.count()  # the log already in Spark's memory

        def go() -> Any:
            return ns.classify(sdf, seed=1).toPandas()

        t, got = _timed(go)
        _same(got.sort_values("request_id"), want)
        return EngineRate("Spark: local[2]", len(frame), parts, len(frame) / t, startup)
    finally:
        session.stop()


def table(rates: list[EngineRate]) -> str:
    lines = [
        "| engine | rows | partitions | rows/s | cluster start-up |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rates:
        rate = f"{r.rows_s:,.0f}" if r.rows_s else r.note
        up = f"{r.startup_s:.1f} s" if r.startup_s else "-"
        lines.append(f"| {r.engine} | {r.rows:,} | {r.partitions} | {rate} | {up} |")
    return "\n".join(lines)


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    cluster_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
    print(table(run(rows, cluster_rows)))
