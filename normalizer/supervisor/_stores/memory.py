"""The in-process state store (the default): one process's view of the stream.

Every table is an insertion-ordered dict of at most ``max_tracked`` keys (the
oldest forgotten first, halts included) and what no window can count any
more is swept every ``SWEEP_EVERY`` events, so memory stays flat however long
the stream. One lock guards the tables; ``status()`` copies the halts under it
(the per-key maps are replaced, never changed in place) and sorts them outside.

Time: the supervisor's clock, never going back. A reading earlier than the
latest one seen is taken as the latest (windows never see a negative
interval, a halt never lasts longer because the clock stepped back); a
reading that is not a finite number (``None`` here) is replaced by the latest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Any

from .._types import WIDTH, Halt
from ._plan import RESET, STREAK, Applied, Plan, applies, exhausted

__all__ = ["MemoryStore"]

SWEEP_EVERY = 1024


def _bound(table: OrderedDict[Any, Any], limit: int) -> None:
    while len(table) > limit:
        table.popitem(last=False)


class MemoryStore:
    """Counts, windows, streaks, attempts and halts in this process."""

    def __init__(self, max_tracked: int = 100_000) -> None:
        self.max_tracked = int(max_tracked)
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._n = 0
        self._events: OrderedDict[str, tuple[int, tuple[tuple[str, str], ...]]] = OrderedDict()
        self._attempts: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._windows: OrderedDict[str, tuple[float, deque[float]]] = OrderedDict()
        self._streaks: OrderedDict[str, tuple[str, float, deque[float]]] = OrderedDict()
        self._halts: OrderedDict[str, dict[str, Halt]] = OrderedDict()
        self._memory_s = 900.0

    def __repr__(self) -> str:
        return f"<MemoryStore max_tracked={self.max_tracked}>"

    def close(self) -> None:
        return None

    # ------------------------------------------------------------ time

    def _now(self, now: float | None) -> float:
        if now is not None and now > self._last:
            self._last = now
        return self._last if self._last != float("-inf") else 0.0

    # ----------------------------------------------------------- events

    def apply(self, plan: Plan) -> Applied:
        with self._lock:
            now = self._now(plan.now)
            self._memory_s = plan.memory_s
            self._n += 1
            if self._n % SWEEP_EVERY == 0:
                self._sweep(now)
            if plan.event_id is not None and plan.event_id in self._events:
                attempt, seen = self._events[plan.event_id]
                return Applied(now, attempt, True, seen, self._holding(plan.chain, now))
            attempt = plan.attempt if plan.attempt is not None else self._number(plan, now)
            is_exhausted = exhausted(plan, attempt)
            fired: list[tuple[str, str]] = []
            for op in plan.ops:
                if not applies(op.variant, is_exhausted):
                    continue
                note = self._count(op, now)
                if note is not None:
                    fired.append((op.rule, note))
                    if op.hold_s > 0:
                        self._hold(
                            Halt.from_row(
                                [
                                    op.scope,
                                    op.scope_key,
                                    op.action,
                                    now,
                                    now + op.hold_s,
                                    op.reason,
                                    op.rule,
                                    None,
                                    op.lifted_by_success,
                                ]
                            ),
                            now,
                        )
            for h in plan.holds:
                if applies(h.variant, is_exhausted):
                    halt = Halt.from_row(
                        [
                            h.halt_scope,
                            h.scope_key,
                            "HALT",
                            now,
                            now + h.hold_s,
                            h.reason,
                            None,
                            h.policy_rule_id,
                            False,
                        ]
                    )
                    self._hold(halt, now)
            result = tuple(fired)
            if plan.event_id is not None:
                self._events[plan.event_id] = (attempt, result)
                _bound(self._events, self.max_tracked)
            return Applied(now, attempt, False, result, self._holding(plan.chain, now))

    def _number(self, plan: Plan, now: float) -> int:
        key = plan.attempt_key
        if key is None:
            return 1
        failures, last = self._attempts.pop(key, (0, now))
        if now - last > plan.memory_s:
            failures = 0
        self._attempts[key] = (failures + 1, now)
        _bound(self._attempts, self.max_tracked)
        return failures + 1

    def _count(self, op: Any, now: float) -> str | None:
        key = f"{op.rule}|{op.group}"
        if op.mode == RESET:
            self._streaks.pop(key, None)
            return None
        window = op.window_s
        if op.mode == STREAK:
            kept = self._streaks.pop(key, None)
            times = kept[2] if kept is not None and kept[0] == op.ident else deque()
            times.append(now)
            while now - times[0] > window:
                times.popleft()
            if len(times) >= op.count:
                return f"{op.count} in a row within {window:g}s"
            self._streaks[key] = (op.ident, window, times)
            _bound(self._streaks, self.max_tracked)
            return None
        if op.ident:
            key = f"{key}|{op.ident}"
        entry = self._windows.pop(key, None)
        times = entry[1] if entry is not None else deque(maxlen=op.count)
        times.append(now)
        while now - times[0] > window:
            times.popleft()
        if len(times) >= op.count:
            return f"{op.count} within {window:g}s" if op.count > 1 else "at once"
        self._windows[key] = (window, times)
        _bound(self._windows, self.max_tracked)
        return None

    # ------------------------------------------------------------ halts

    def _hold(self, halt: Halt, now: float) -> None:
        held = self._halts.pop(halt.scope_key, None) or {}
        current = held.get(halt.source)
        if current is None or current.until <= now or halt.until > current.until:
            held = {**held, halt.source: halt}  # replaced, never changed in place
        self._halts[halt.scope_key] = held
        _bound(self._halts, self.max_tracked)

    def _holding(self, chain: list[str], now: float) -> tuple[Halt, ...]:
        out: list[Halt] = []
        for key in chain:
            held = self._halts.get(key)
            if held:
                out.extend(h for h in held.values() if h.until > now)
        return tuple(out)

    def hold(self, halt: Halt, now: float | None) -> None:
        with self._lock:
            self._hold(halt, self._now(now))

    def halts_on(self, chain: list[str], now: float | None) -> tuple[float, tuple[Halt, ...]]:
        with self._lock:
            t = self._now(now)
            return t, self._holding(chain, t)

    def success(
        self, chain: list[str], streaks: list[str], attempt_keys: list[str], now: float | None
    ) -> tuple[float, tuple[str, ...]]:
        lifted: list[str] = []
        with self._lock:
            t = self._now(now)
            for key in chain:
                held = self._halts.get(key)
                if not held:
                    continue
                kept = {s: h for s, h in held.items() if h.until > t and not h.lifted_by_success}
                if any(h.until > t and h.lifted_by_success for h in held.values()):
                    lifted.append(key)
                if kept:
                    self._halts[key] = kept
                else:
                    del self._halts[key]
            for key in streaks:
                self._streaks.pop(key, None)
            for key in attempt_keys:
                self._attempts.pop(key, None)
        return t, tuple(lifted)

    def lift(self, scope_key: str, now: float | None) -> int:
        with self._lock:
            t = self._now(now)
            held = self._halts.pop(scope_key, None) or {}
        return sum(1 for h in held.values() if h.until > t)

    def status(self, now: float | None) -> tuple[Halt, ...]:
        with self._lock:
            t = self._now(now)
            maps = list(self._halts.values())
        halts = [h for held in maps for h in held.values() if h.until > t]
        return tuple(sorted(halts, key=lambda h: (-WIDTH[h.scope], h.scope_key, h.until)))

    def tracked(self) -> dict[str, int]:
        """How many keys each table holds (for tests and the memory bench)."""
        with self._lock:
            return {
                "events": len(self._events),
                "attempts": len(self._attempts),
                "windows": len(self._windows),
                "streaks": len(self._streaks),
                "halts": len(self._halts),
            }

    # ------------------------------------------------------------ sweep

    def _sweep(self, now: float) -> None:
        """Forget what no window can count any more (amortised over many events)."""
        for key in [
            k for k, held in self._halts.items() if all(h.until <= now for h in held.values())
        ]:
            del self._halts[key]
        # (oldest first: each table is ordered by its last write)
        while self._windows:
            window, times = next(iter(self._windows.values()))
            if now - times[-1] <= window:
                break
            self._windows.popitem(last=False)
        while self._streaks:
            _, window, times = next(iter(self._streaks.values()))
            if now - times[-1] <= window:
                break
            self._streaks.popitem(last=False)
        while self._attempts:
            _, last = next(iter(self._attempts.values()))
            if now - last <= self._memory_s:
                break
            self._attempts.popitem(last=False)
