"""Memory of a Supervisor over a long stream: it must stay flat.

    python bench/supervisor_memory.py                    # one million events
    python bench/supervisor_memory.py --events 80000 --warmup 20000 --max-growth-mb 8

Drives a supervisor (bundled policy, injected clock) with a reproducible mix of
errors and successes over two exchanges, 300 accounts and fresh request ids,
the clock advancing ``--step-s`` per event, and prints the resident memory of
the process (which includes durable-rules' native memory) as it goes, and with
``--trace-heap`` the Python heap (tracemalloc, which slows Python down about
threefold). After the warm-up (once the time windows are full)
the resident memory must not grow by more than ``--max-growth-mb``; the exit
status is 1 when it does.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import normalizer
from normalizer import Category, NormalizedError

LABELS = [
    "RATE_LIMIT.REQUESTS",
    "UNKNOWN_STATE.TIMEOUT",
    "NOT_FOUND.ORDER",
    "AUTH.API_KEY",
    "AUTH.TIMESTAMP",
    "UNKNOWN.UNMAPPED",
    "UNAVAILABLE.SERVICE",
    "UNAVAILABLE.MARKET",
    "INVALID_REQUEST.PRICE",
    "INSUFFICIENT_FUNDS.BALANCE",
]
OPERATIONS = ["place_order", "query", "cancel_order", "transfer"]


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:  # pragma: no cover - not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def errors() -> list[NormalizedError]:
    out = []
    for exchange in ("okx", "mexc"):
        for label in LABELS:
            category = Category(label.split(".", 1)[0])
            for n in range(3):  # a few messages per label, for same_error groups
                out.append(
                    NormalizedError(
                        exchange=exchange,
                        category=category,
                        subcategory=label,
                        code=str(1000 + n),
                        message=f"{label} #{n}",
                    )
                )
    return out


def heap_mb(trace: bool) -> float:
    return tracemalloc.get_traced_memory()[0] / 1e6 if trace else float("nan")


def run(
    events: int, warmup: int, step_s: float, every: int, seed: int, trace: bool
) -> tuple[float, float]:
    """Observe ``events`` events; returns (RSS growth after warm-up, heap growth) in MB."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible stream, not a secret
    now = [0.0]
    sup = normalizer.Supervisor(clock=lambda: now[0], request_memory_s=120.0)
    pool = errors()
    by_exchange = {x: [e for e in pool if e.exchange == x] for x in ("okx", "mexc")}
    if trace:
        tracemalloc.start()
    base_rss = base_heap = 0.0
    request = 0
    started = time.perf_counter()
    for i in range(1, events + 1):
        now[0] += step_s
        account = f"acct{rng.randrange(300)}"
        exchange = "okx" if rng.random() < 0.6 else "mexc"
        if rng.random() < 0.4:  # a new request
            request += 1
        request_id = f"r{request}"
        if rng.random() < 0.1:
            sup.observe_success(exchange, account=account, request_id=request_id)
        else:
            err = rng.choice(by_exchange[exchange])
            sup.observe(
                err,
                operation=rng.choice(OPERATIONS),
                account=account,
                symbol=f"S{rng.randrange(20)}",
                request_id=request_id,
            )
        if i == warmup:
            gc.collect()
            base_rss, base_heap = rss_mb(), heap_mb(trace)
        if i % every == 0 or i == events:
            gc.collect()
            rss, heap = rss_mb(), heap_mb(trace)
            rate = (time.perf_counter() - started) / i * 1e6
            heap_note = f"  python heap {heap:7.2f} MB" if trace else ""
            print(
                f"{i:>9} events  rss {rss:8.1f} MB{heap_note}  "
                f"halts {len(sup.status()):>4}  {rate:6.1f} us/event",
                flush=True,
            )
    gc.collect()
    rss_growth = rss_mb() - base_rss
    heap_growth = heap_mb(trace) - base_heap
    if trace:
        tracemalloc.stop()
    sup.close()
    return rss_growth, heap_growth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--warmup", type=int, default=100_000)
    parser.add_argument("--step-s", type=float, default=0.05, help="clock advance per event")
    parser.add_argument("--every", type=int, default=100_000, help="print every N events")
    parser.add_argument("--max-growth-mb", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--trace-heap", action="store_true", help="also trace the Python heap")
    args = parser.parse_args()
    if not 0 < args.warmup < args.events:
        parser.error("--warmup must be between 0 and --events")
    rss_growth, heap_growth = run(
        args.events, args.warmup, args.step_s, args.every, args.seed, args.trace_heap
    )
    ok = rss_growth <= args.max_growth_mb
    heap_note = f", python heap {heap_growth:+.2f} MB" if args.trace_heap else ""
    print(
        f"after warm-up ({args.warmup} events): rss grew {rss_growth:+.2f} MB{heap_note}; "
        f"limit {args.max_growth_mb} MB: {'ok' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
