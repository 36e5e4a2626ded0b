"""Per-error latency: ccxt's ``handle_errors`` against ``normalize()`` + ``recommend()``.

Both sides start from the same raw body text, as it comes off the wire, so
both parse it: ccxt's ``fetch`` runs ``json.loads`` before ``handle_errors``;
``normalize(exchange, body=text)`` parses it itself. Every call gets a fresh
copy of the text (a ring of equal, distinct string objects), as a router gets
a fresh response object each time, so nothing can lean on a string's cached
hash or identity.

For a transport timeout there is no body and ccxt's ``handle_errors`` is not
called: ``fetch`` turns requests' ``Timeout`` into ``RequestTimeout`` in an
``except`` clause. That clause (join the details, raise, catch) is what the
ccxt side times; ours is ``normalize(exchange, error=exc)`` + ``recommend``.

The sides are timed in alternating rounds (ccxt first in even rounds, ours in
odd ones), in thread CPU time (``time.thread_time``: what other processes on a
shared machine do is not counted), and each reports the median of its rounds.

Ours is timed two ways: seen before (the identical body or exception class
and message was normalized earlier: the shared result is returned) and never
seen (every call gets a body that no call of the whole run has had: the same
body with one more key, ``{"n": 12345, ...}``, which neither side reads; both
sides take their bodies from the same kind of stream, so both pay for fresh
objects alike). Nothing is cleared between calls: the memo keeps what it keeps
as it would in a router, and the garbage collector runs as it would.
"""

from __future__ import annotations

import gc
import itertools
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from .cases import CASES, METHOD, URL, Case

RING = 512  # distinct copies of each body


@dataclass
class Row:
    case: Case
    ccxt_handle_us: float | None  # handle_errors alone, on an already parsed body
    ccxt_us: float  # json.loads + handle_errors (the comparison)
    ours_us: float  # normalize + recommend, the body seen before
    ccxt_new_us: float | None  # ccxt on bodies new for the whole run
    ours_new_us: float | None  # ours on bodies new for the whole run

    @property
    def ratio(self) -> float:
        return self.ours_us / self.ccxt_us

    @property
    def ratio_new(self) -> float | None:
        if self.ours_new_us is None or self.ccxt_new_us is None:
            return None
        return self.ours_new_us / self.ccxt_new_us


def _fresh(text: str) -> str:
    return "".join(list(text))  # an equal string that is a new object


def renumbered(body: str, n: int) -> str:
    """``body`` with one more key that no reader reads: a body new to the run."""
    return f'{{"n":{n},' + body[1:]


class NewBodies:
    """An endless stream of bodies no call of the run has had, made a chunk at
    a time (both sides' streams alike, so both pay for it the same)."""

    CHUNK = 20_000

    def __init__(self, body: str, start: int) -> None:
        self.body = body
        self.next_n = start
        self.chunk: list[str] = []
        self.pos = 0

    def __call__(self) -> str:
        if self.pos == len(self.chunk):
            n = self.next_n
            self.chunk = [renumbered(self.body, i) for i in range(n, n + self.CHUNK)]
            self.next_n = n + self.CHUNK
            self.pos = 0
        body = self.chunk[self.pos]
        self.pos += 1
        return body


def _timeout_error() -> BaseException:
    """What requests raises on a read timeout, as it raises it (wrapping urllib3's)."""
    import requests
    import urllib3

    inner = urllib3.exceptions.ReadTimeoutError(None, URL, "Read timed out. (read timeout=10)")  # type: ignore[arg-type]
    return requests.exceptions.ReadTimeout(inner)


def sides(case: Case) -> dict[str, Callable[[], object]]:
    """The callables to time for one case."""
    import ccxt

    import normalizer

    # ccxt's side is given the same REST URL the ccxt comparison uses.
    from normalizer.analysis.ccxt_compare import _rest_url

    exchange = getattr(ccxt, case.exchange)()
    normalize, recommend = normalizer.normalize, normalizer.recommend
    name, status, op = case.exchange, case.http_status, case.operation
    base_error = ccxt.BaseError

    if case.body is None:
        error = _timeout_error()
        details = [exchange.id, METHOD, URL]

        def ccxt_side() -> object:
            try:
                raise ccxt.RequestTimeout(" ".join(details)) from error
            except base_error as exc:
                return exc

        def ours() -> object:
            return recommend(normalize(name, error=error), operation=op)

        return {"ccxt": ccxt_side, "ours": ours}

    # ccxt's own REST URL for the venue (Binance picks its table of codes by it)
    url = URL if case.exchange == "okx" else _rest_url(exchange)
    ring = itertools.cycle([_fresh(case.body) for _ in range(RING)])
    parsed = json.loads(case.body)
    reason = "OK" if status == 200 else "Bad Request"
    loads = json.loads
    handle = exchange.handle_errors

    def ccxt_handle() -> object:
        body = next(ring)
        try:
            return handle(status, reason, url, METHOD, {}, body, parsed, None, None)
        except base_error as exc:
            return exc

    def ccxt_side() -> object:
        body = next(ring)
        try:
            return handle(status, reason, url, METHOD, {}, body, loads(body), None, None)
        except base_error as exc:
            return exc

    def ours() -> object:
        return recommend(normalize(name, body=next(ring), http_status=status), operation=op)

    # each side its own stream of new bodies (numbered apart: none is met twice)
    theirs_new, ours_new_bodies = NewBodies(case.body, 0), NewBodies(case.body, 10**9)

    def ccxt_new() -> object:
        body = theirs_new()
        try:
            return handle(status, reason, url, METHOD, {}, body, loads(body), None, None)
        except base_error as exc:
            return exc

    def ours_new() -> object:
        body = ours_new_bodies()
        return recommend(normalize(name, body=body, http_status=status), operation=op)

    return {
        "ccxt_handle": ccxt_handle,
        "ccxt": ccxt_side,
        "ours": ours,
        "ccxt_new": ccxt_new,
        "ours_new": ours_new,
    }


def _per_call(fn: Callable[[], object], number: int) -> float:
    clock = time.thread_time
    start = clock()
    for _ in range(number):
        fn()
    return (clock() - start) / number


def _calibrate(fn: Callable[[], object], seconds: float) -> int:
    """How many calls make one sample of about ``seconds``."""
    number = 64
    while True:
        elapsed = _per_call(fn, number) * number
        if elapsed >= seconds / 4:
            return max(64, int(number * seconds / elapsed))
        number *= 4


def time_sides(
    fns: dict[str, Callable[[], object]], rounds: int, seconds: float
) -> dict[str, float]:
    """Median microseconds per call of each side, timed in alternating rounds."""
    for fn in fns.values():  # warm up: caches, branch predictors, lazy imports
        for _ in range(2000):
            fn()
    numbers = {k: _calibrate(fn, seconds) for k, fn in fns.items()}
    samples: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for k in order:
            gc.collect()
            samples[k].append(_per_call(fns[k], numbers[k]) * 1e6)
    return {k: statistics.median(v) for k, v in samples.items()}


def floor_us(rounds: int, seconds: float) -> float:
    """A bare dict lookup plus raising and catching an exception: the floor of this work."""
    table = {"58102": KeyError}

    def floor() -> object:
        try:
            raise table["58102"]("x")
        except KeyError as exc:
            return exc

    return time_sides({"floor": floor}, rounds, seconds)["floor"]


def run(rounds: int = 21, seconds: float = 0.02) -> list[Row]:
    rows = []
    for case in CASES:
        t = time_sides(sides(case), rounds, seconds)
        rows.append(
            Row(
                case,
                t.get("ccxt_handle"),
                t["ccxt"],
                t["ours"],
                t.get("ccxt_new"),
                t.get("ours_new"),
            )
        )
    return rows


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def check_same_answers() -> list[str]:
    """What each side says for each case (printed with the table, so it can be checked)."""
    import normalizer

    out = []
    for case in CASES:
        fns = sides(case)
        theirs = fns["ccxt"]()
        rec = fns["ours"]()
        kw = (
            {"body": case.body, "http_status": case.http_status}
            if case.body is not None
            else {"error": _timeout_error()}
        )
        err = normalizer.normalize(case.exchange, **kw)
        if case.body is not None:  # a renumbered body says what the body says
            again = normalizer.normalize(
                case.exchange, body=renumbered(case.body, 7), http_status=case.http_status
            )
            assert again.label == err.label, (case.name, again.label, err.label)
        out.append(
            f"{case.name}: ccxt {type(theirs).__name__}; ours {err.label} "
            f"({err.rule_id}) -> {rec.action.value}"  # type: ignore[attr-defined]
        )
    return out
