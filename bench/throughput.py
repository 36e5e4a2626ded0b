"""Batch throughput on a generated log: the batch path against a naive per-row loop.

The log is what a notebook loads from months of router logs: one row per failed
request with exchange, code, message and HTTP status (pandas' default string
columns; a float status column, since transport failures have none). Its few
thousand distinct errors are the catalogs' documented errors (by code with the
documented message, by code alone, by message alone, placeholders filled with
several values), undocumented codes, and transport failures, drawn with a
heavy-tailed (Zipf) frequency as real error logs are.

Rates are rows per second of this process's CPU time (all its threads), as the
latency figures are thread CPU time: on a shared machine, wall time measures
the other jobs too.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

SEED = 4
FILLS = ["BTC", "ETH", "USDT", "100", "0.001", "SOL-USDT"]


@dataclass
class Throughput:
    rows: int
    distinct: int
    frame_rows_s: float  # classify_frame
    frame_categorical_rows_s: float  # classify_frame, input columns categorical
    many_rows: int
    many_rows_s: float  # normalize_many over dicts
    naive_rows: int
    naive_rows_s: float  # per-row normalize + recommend
    checked_rows: int


def signatures() -> Any:
    """The distinct errors of the generated log, as a DataFrame."""
    import pandas as pd

    # Internals on purpose: the log is generated from the compiled catalogs and
    # message templates, which the public API does not expose.
    from normalizer._core.text import Template
    from normalizer._engine.normalize import registry

    rows: list[tuple[Any, ...]] = []
    for name in registry().names:
        rs = registry().get(name)
        statuses = [200] if name == "okx" else [400, 429, 503]
        for entry in rs.catalog.entries if rs.catalog else ():
            template = Template(entry.message)
            fills = [template.fill([f] * len(template.source)) for f in FILLS]
            variants = list(dict.fromkeys(fills)) if "{" in entry.message else [entry.message]
            for status in statuses:
                for message in variants:
                    rows.append((name, entry.code, message, status))
                    rows.append((name, None, message, status))  # the message alone
                rows.append((name, entry.code, None, status))  # the code alone
        for i in range(150):  # codes nobody documents
            rows.append((name, str(90000 + i), f"Unexpected failure #{i}", statuses[0]))
        for status in (500, 502, 504):
            rows.append((name, None, "Bad Gateway", status))
        for text in ("ReadTimeout: Read timed out.", "ConnectTimeout: timed out", None):
            rows.append((name, None, text, None))
    frame = pd.DataFrame(rows, columns=["exchange", "code", "message", "http_status"])
    return frame.drop_duplicates(ignore_index=True)


def make_log(rows: int, seed: int = SEED) -> tuple[Any, int]:
    """A log of ``rows`` failed requests drawn from ``signatures()``, and how many distinct."""
    import numpy as np

    distinct = signatures()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(distinct))  # which errors are the common ones
    draws = np.minimum(rng.zipf(1.2, rows) - 1, len(distinct) - 1)
    return distinct.take(order[draws]).reset_index(drop=True), len(np.unique(draws))


def _median_rate(fn: Any, rows: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()  # CPU time of this process: a busy machine does not count
        fn()
        times.append(time.process_time() - start)
    return rows / statistics.median(times)


def naive(frame: Any, rand: Any) -> list[Any]:
    """What one would write without the batch path: normalize + recommend per row."""
    import normalizer

    out = []
    for exchange, code, message, status in frame.itertuples(index=False, name=None):
        err = normalizer.normalize(
            exchange,
            code=None if code != code else code,  # NaN is missing
            message=None if message != message else message,
            http_status=None if status != status else int(status),
        )
        out.append(
            (
                err.category.value,
                err.subcategory,
                err.rule_id,
                normalizer.recommend(err, rand=rand).action.value,
            )
        )
    return out


def run(rows: int = 10_000_000, many_rows: int = 1_000_000, naive_rows: int = 50_000) -> Throughput:
    import normalizer

    log, distinct = make_log(rows)

    def rand() -> float:
        return 0.5

    # five calls each (the median): 10 M-row arrays make this figure the noisiest
    frame_rate = _median_rate(lambda: normalizer.classify_frame(log, rand=rand), rows, 5)
    as_categories = log.astype("category")
    categorical_rate = _median_rate(
        lambda: normalizer.classify_frame(as_categories, rand=rand), rows, 5
    )

    records = log.head(many_rows).to_dict("records")
    for r in records:  # NaN is missing; a float status is an int
        for k in ("code", "message"):
            if r[k] != r[k]:
                r[k] = None
        r["http_status"] = None if r["http_status"] != r["http_status"] else int(r["http_status"])
    many_rate = _median_rate(lambda: normalizer.normalize_many(records), len(records), 3)

    sample = log.head(naive_rows)
    start = time.process_time()
    expected = naive(sample, rand)
    naive_rate = len(sample) / (time.process_time() - start)

    # the batch path must say what the per-row calls say
    got = normalizer.classify_frame(sample, rand=rand)
    columns = [got[c].astype(object).tolist() for c in ("category", "subcategory", "rule_id")]
    actions = got["action"].astype(object).tolist()
    for i, want in enumerate(expected):
        have = tuple(None if v != v else v for v in (*(c[i] for c in columns), actions[i]))
        if have != want:
            raise AssertionError(f"row {i}: classify_frame says {have}, per-row says {want}")

    return Throughput(
        rows=rows,
        distinct=distinct,
        frame_rows_s=frame_rate,
        frame_categorical_rows_s=categorical_rate,
        many_rows=len(records),
        many_rows_s=many_rate,
        naive_rows=len(sample),
        naive_rows_s=naive_rate,
        checked_rows=len(sample),
    )
