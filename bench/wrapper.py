"""The ccxt wrapper: its own cost per successful call, and the chaos run's figures.

**Cost.** The same ccxt client places orders on the fake venue (127.0.0.1,
``tests/fake_venue.py``) directly and through ``normalizer.ccxt.wrap``, in
alternating rounds, each call with a client order id of its own on both sides
(the wrapper makes one; the direct side is given one). The proxy's own cost is
the difference of the two medians per call, reported as a share of the direct
round trip (target: at most 5 %).

**Chaos.** ``tests/chaos.py``'s run, on each of the three venues the fake
speaks, synchronously: intents, faulted placements, how the intents ended,
duplicates and early requests; and the naive loop (retry any ccxt
``NetworkError`` up to three times) on the same fault schedule.
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1] / "tests"
TARGET_OVERHEAD = 0.05


def _tests_on_path() -> None:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))


def overhead(calls: int = 300, rounds: int = 7) -> dict[str, float]:
    """Median seconds per successful ``create_order``, direct and wrapped."""
    _tests_on_path()
    import ccxt
    from fake_venue import FakeVenue, VirtualClock, point

    import normalizer.ccxt

    clock = VirtualClock()
    venue = FakeVenue("okx", clock).start()
    try:
        client = point(ccxt.okx({"apiKey": "k", "secret": "s", "password": "p"}), venue)
        quiet = logging.getLogger("normalizer.bench")
        quiet.disabled = True
        wrapped = normalizer.ccxt.wrap(client, clock=clock, sleep=clock.sleep, logger=quiet)

        def direct() -> None:
            params = {"clientOrderId": uuid.uuid4().hex}
            client.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0, params)

        def proxied() -> None:
            wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0)

        per_call: dict[str, list[float]] = {"direct": [], "wrapped": []}
        for _ in range(rounds):
            for name, fn in (("direct", direct), ("wrapped", proxied)):
                start = time.perf_counter()
                for _ in range(calls):
                    fn()
                per_call[name].append((time.perf_counter() - start) / calls)
    finally:
        venue.stop()
    d = statistics.median(per_call["direct"])
    w = statistics.median(per_call["wrapped"])
    return {"direct_ms": d * 1e3, "wrapped_ms": w * 1e3, "overhead": (w - d) / d}


def chaos(intents: int = 1000) -> list[dict[str, Any]]:
    """The chaos run's figures per venue, ours and the naive loop's."""
    _tests_on_path()
    from chaos import run

    rows = []
    for flavour in ("binance", "okx", "bybit"):
        ours = run(flavour, "sync", intents, seed=11)
        naive = run(flavour, "sync", intents, seed=11, naive=True)
        rows.append(
            {
                "venue": flavour,
                "intents": intents,
                "faulted placements": ours.faults,
                "placed once": ours.placed_once,
                "settled, not placed": ours.settled_not_placed,
                "to reconcile": ours.to_reconcile,
                "lost or wrong": len(ours.lost),
                "duplicates": ours.duplicates,
                "early requests": ours.early,
                "naive duplicates": naive.duplicates,
                "naive early requests": naive.early,
            }
        )
    return rows


def report(quick: bool = False) -> tuple[str, dict[str, Any]]:
    """Markdown for the README, and the figures."""
    cost = overhead(calls=60 if quick else 300, rounds=3 if quick else 7)
    rows = chaos(intents=150 if quick else 1000)
    met = "met" if cost["overhead"] <= TARGET_OVERHEAD else "missed"
    lines = [
        "### The ccxt wrapper",
        "",
        f"Proxy cost per successful `create_order`: {cost['wrapped_ms']:.3f} ms wrapped vs "
        f"{cost['direct_ms']:.3f} ms direct (a loopback round trip through ccxt): "
        f"**{cost['overhead']:+.1%}** (target ≤ {TARGET_OVERHEAD:.0%}, {met}).",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
    ]
    lines += ["| " + " | ".join(str(v) for v in row.values()) + " |" for row in rows]
    return "\n".join(lines), {"overhead": cost, "chaos": rows}


def verdict(figures: dict[str, Any]) -> str:
    """The target's line for ``python -m bench``."""
    share = figures["overhead"]["overhead"]
    dups = sum(row["duplicates"] for row in figures["chaos"])
    return (
        f"ccxt wrapper: proxy cost {share:+.1%} of a loopback round trip (target <= "
        f"{TARGET_OVERHEAD:.0%}): "
        + ("met" if share <= TARGET_OVERHEAD else "MISSED")
        + f"; chaos run: {dups} duplicates (naive loop: "
        + f"{sum(row['naive duplicates'] for row in figures['chaos'])})"
    )


if __name__ == "__main__":
    text, _ = report(quick="--quick" in sys.argv)
    print(text)
