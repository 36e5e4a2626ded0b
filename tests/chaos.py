"""The chaos run: thousands of intended orders through a misbehaving venue.

One intent is one order a router means to have on the venue (told apart by its
price). About a quarter of the placements are faulted (``fake_venue.py``:
lost answers, 502/503 pages after acceptance, 429 and 418 refusals), and
accepted orders show in queries only some hundreds of milliseconds later.
``run()`` drives the intents either through ``normalizer.ccxt.wrap`` or
through a naive loop (retry any ccxt ``NetworkError`` up to three times) and
says how each intent ended. The tests hold the wrapper to: one order per
intent, or an exception that settles or names the order to reconcile; no
duplicate; no request inside a wait the venue asked for. ``python -m bench``
reports the same run's figures for both.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from fake_venue import FakeVenue, VirtualClock, point

FAULTS = {
    "binance": ("lost", "html502", "html503", "limit429", "ban418"),
    "okx": ("lost", "html502", "html503", "limit429"),
    "bybit": ("lost", "html502", "html503", "limit429"),
}


def schedule(flavour: str, seed: int, share: float = 0.25) -> Any:
    """Placement n's fault: the same for the same seed, ``share`` of them faulted."""
    rng = random.Random(seed)  # noqa: S311 - a fault schedule, not a secret
    memo: dict[int, str | None] = {}
    kinds = FAULTS[flavour]

    def fault(n: int) -> str | None:
        while len(memo) <= n:
            memo[len(memo)] = rng.choice(kinds) if rng.random() < share else None
        return memo[n]

    return fault


@dataclass
class Report:
    flavour: str
    mode: str
    intents: int
    faults: int = 0
    placed_once: int = 0
    settled_not_placed: int = 0
    to_reconcile: int = 0
    lost: list[str] = field(default_factory=list)
    duplicates: int = 0
    early: int = 0
    requests: int = 0


def _client(flavour: str, mode: str, venue: FakeVenue, timeout_ms: int) -> Any:
    import ccxt
    import ccxt.async_support as accxt

    module = accxt if mode == "async" else ccxt
    client = getattr(module, flavour)(
        {"apiKey": "k", "secret": "czNjcmV0", "password": "p", "timeout": timeout_ms}
    )
    return point(client, venue)


def run(
    flavour: str, mode: str, intents: int, *, seed: int = 7, naive: bool = False,
    timeout_ms: int = 100,
) -> Report:  # fmt: skip
    """Drive ``intents`` orders through the wrapper (or the naive loop)."""
    import normalizer.ccxt

    clock = VirtualClock()
    venue = FakeVenue(flavour, clock, faults=schedule(flavour, seed), hang_s=timeout_ms / 600)
    venue.start()
    report = Report(flavour, "naive" if naive else mode, intents)
    client = _client(flavour, mode, venue, timeout_ms)
    quiet = logging.getLogger("normalizer.chaos")
    quiet.disabled = True
    wrapped = normalizer.ccxt.wrap(
        client, clock=clock, sleep=clock.asleep if mode == "async" else clock.sleep, logger=quiet
    )
    try:
        if mode == "async":
            asyncio.run(_drive_async(wrapped, client, venue, report, naive))
        else:
            for i in range(intents):
                price = f"{30000 + i}"
                outcome = _naive(client, price) if naive else _wrapped(wrapped, price)
                _tally(report, venue, price, outcome)
    finally:
        venue.stop()
    report.faults = sum(1 for n in range(venue.placements) if venue.faults(n))
    report.duplicates = venue.duplicates()
    report.early = venue.early
    report.requests = venue.requests
    return report


async def _drive_async(
    wrapped: Any, client: Any, venue: FakeVenue, report: Report, naive: bool
) -> None:
    try:
        for i in range(report.intents):
            price = f"{30000 + i}"
            outcome = await (_anaive(client, price) if naive else _awrapped(wrapped, price))
            _tally(report, venue, price, outcome)
    finally:
        await client.close()


def _wrapped(wrapped: Any, price: str) -> tuple[str, Any]:
    import normalizer.ccxt as nc

    try:
        return "order", wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, float(price))
    except nc.OutcomeUnknown as exc:
        return "unknown", exc
    except nc.ActionRequired as exc:
        return "settled", exc


async def _awrapped(wrapped: Any, price: str) -> tuple[str, Any]:
    import normalizer.ccxt as nc

    try:
        return "order", await wrapped.create_order("BTC/USDT", "limit", "buy", 0.01, float(price))
    except nc.OutcomeUnknown as exc:
        return "unknown", exc
    except nc.ActionRequired as exc:
        return "settled", exc


def _naive(client: Any, price: str) -> tuple[str, Any]:
    import ccxt

    for _ in range(3):
        try:
            return "order", client.create_order("BTC/USDT", "limit", "buy", 0.01, float(price))
        except ccxt.NetworkError as exc:
            last: Any = exc
        except ccxt.BaseError as exc:
            return "settled", exc
    return "unknown", last


async def _anaive(client: Any, price: str) -> tuple[str, Any]:
    import ccxt

    for _ in range(3):
        try:
            order = await client.create_order("BTC/USDT", "limit", "buy", 0.01, float(price))
            return "order", order
        except ccxt.NetworkError as exc:
            last: Any = exc
        except ccxt.BaseError as exc:
            return "settled", exc
    return "unknown", last


def _tally(report: Report, venue: FakeVenue, price: str, outcome: tuple[str, Any]) -> None:
    kind, value = outcome
    placed = venue.placed(price)
    if kind == "order" and len(placed) == 1:
        report.placed_once += 1
    elif kind == "settled" and not placed:
        report.settled_not_placed += 1
    elif (
        kind == "unknown"
        and len(placed) <= 1
        and getattr(value, "client_order_id", None)
        and (not placed or placed[0].client_order_id == value.client_order_id)
    ):
        report.to_reconcile += 1
    else:
        report.lost.append(f"{price}: {kind} with {len(placed)} orders ({value!r:.200})")
