"""The in-process state store (the default): one process's view of the stream.

Every table is an insertion-ordered dict of at most ``max_tracked`` keys (the
oldest forgotten first) and what no window can count any more is swept every
``SWEEP_EVERY`` events, so memory stays flat however long the stream. Halts,
windows and streaks have one table per scope width, so a flood of narrow
keys (symbol names a venue or a client controls) never pushes out a wider
one. A halt pushed out for room is never lifted: its live halts are folded
into one halt of the next wider scope (``policy_rule_id`` ``table-full``,
the longest ``until``), so a full table answers HALT one scope wider.
Exchange halts are never pushed out (there are as many as the exchange names
the caller passes). One lock guards the tables; ``status()`` copies the halts under it
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

from .._types import WIDTH, Halt, tables_setting
from ._plan import RESET, STREAK, Applied, Plan, applies, exhausted

__all__ = ["MemoryStore"]

SWEEP_EVERY = 1024


_SCOPES = ("request", "symbol", "account", "exchange")


def _bound(table: OrderedDict[Any, Any], limit: int) -> None:
    while len(table) > limit:
        table.popitem(last=False)


def width_of(scope_key: str) -> int:
    """The width of a scope key: 3 exchange, 2 account, 1 symbol, 0 request (``:`` only
    separates parts, see ``_types.key_part``)."""
    return max(0, 3 - scope_key.count(":"))


class MemoryStore:
    """Counts, windows, streaks, attempts and halts in this process."""

    #: not shared by processes: the supervisor's own clock is allowed
    shared = False

    def __init__(self, max_tracked: int = 100_000) -> None:
        self.max_tracked = tables_setting(max_tracked)
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._n = 0
        self._events: OrderedDict[str, tuple[int, tuple[tuple[str, str], ...]]] = OrderedDict()
        self._attempts: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._windows_by: list[OrderedDict[str, tuple[float, deque[float]]]] = [
            OrderedDict() for _ in range(4)
        ]
        self._streaks_by: list[OrderedDict[str, tuple[str, float, deque[float]]]] = [
            OrderedDict() for _ in range(4)
        ]
        self._halts_by: list[OrderedDict[str, dict[str, Halt]]] = [OrderedDict() for _ in range(4)]
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
        streaks = self._streaks_by[op.width]
        if op.mode == RESET:
            streaks.pop(key, None)
            return None
        window = op.window_s
        if op.mode == STREAK:
            kept = streaks.pop(key, None)
            times = kept[2] if kept is not None and kept[0] == op.ident else deque()
            times.append(now)
            while now - times[0] > window:
                times.popleft()
            if len(times) >= op.count:
                return f"{op.count} in a row within {window:g}s"
            streaks[key] = (op.ident, window, times)
            _bound(streaks, self.max_tracked)
            return None
        if op.ident:
            key = f"{key}|{op.ident}"
        windows = self._windows_by[op.width]
        entry = windows.pop(key, None)
        times = entry[1] if entry is not None else deque(maxlen=op.count)
        times.append(now)
        while now - times[0] > window:
            times.popleft()
        if len(times) >= op.count:
            return f"{op.count} within {window:g}s" if op.count > 1 else "at once"
        windows[key] = (window, times)
        _bound(windows, self.max_tracked)
        return None

    # ------------------------------------------------------------ halts

    def _hold(self, halt: Halt, now: float) -> None:
        table = self._halts_by[width_of(halt.scope_key)]
        held = table.pop(halt.scope_key, None) or {}
        current = held.get(halt.source)
        if current is None or current.until <= now or halt.until > current.until:
            held = {**held, halt.source: halt}  # replaced, never changed in place
        table[halt.scope_key] = held
        if table is not self._halts_by[3]:
            while len(table) > self.max_tracked:
                self._widen(*table.popitem(last=False), now)

    def _widen(self, key: str, held: dict[str, Halt], now: float) -> None:
        """``key``'s halts were pushed out for room: they hold the next wider scope."""
        live = [h for h in held.values() if h.until > now]
        parent = key.rpartition(":")[0]
        if not live or not parent:
            return
        width = width_of(key)
        self._hold(
            Halt(
                scope=_SCOPES[width + 1],
                scope_key=parent,
                action="ESCALATE" if any(h.action.value == "ESCALATE" for h in live) else "HALT",
                since=now,
                until=max(h.until for h in live),
                reason=f"the table of {_SCOPES[width]} halts is full: the halts it could not "
                "keep hold their wider scope",
                policy_rule_id="table-full",
            ),
            now,
        )

    def _holding(self, chain: list[str], now: float) -> tuple[Halt, ...]:
        out: list[Halt] = []
        for key in chain:
            held = self._halts_by[width_of(key)].get(key)
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
                table = self._halts_by[width_of(key)]
                held = table.get(key)
                if not held:
                    continue
                kept = {s: h for s, h in held.items() if h.until > t and not h.lifted_by_success}
                if any(h.until > t and h.lifted_by_success for h in held.values()):
                    lifted.append(key)
                if kept:
                    table[key] = kept
                else:
                    del table[key]
            for key in streaks:
                for streak_table in self._streaks_by:
                    streak_table.pop(key, None)
            for key in attempt_keys:
                self._attempts.pop(key, None)
        return t, tuple(lifted)

    def lift(self, scope_key: str, now: float | None) -> int:
        with self._lock:
            t = self._now(now)
            held = self._halts_by[width_of(scope_key)].pop(scope_key, None) or {}
        return sum(1 for h in held.values() if h.until > t)

    def status(self, now: float | None) -> tuple[Halt, ...]:
        with self._lock:
            t = self._now(now)
            maps = [held for table in self._halts_by for held in table.values()]
        halts = [h for held in maps for h in held.values() if h.until > t]
        return tuple(sorted(halts, key=lambda h: (-WIDTH[h.scope], h.scope_key, h.until)))

    def tracked(self) -> dict[str, int]:
        """How many keys each table holds (for tests and the memory bench)."""
        with self._lock:
            return {
                "events": len(self._events),
                "attempts": len(self._attempts),
                "windows": sum(map(len, self._windows_by)),
                "streaks": sum(map(len, self._streaks_by)),
                "halts": sum(map(len, self._halts_by)),
            }

    # ------------------------------------------------------------ sweep

    def _sweep(self, now: float) -> None:
        """Forget what no window can count any more (amortised over many events)."""
        for table in self._halts_by:
            for key in [
                k for k, held in table.items() if all(h.until <= now for h in held.values())
            ]:
                del table[key]
        # (oldest first: each table is ordered by its last write)
        for windows in self._windows_by:
            while windows:
                window, times = next(iter(windows.values()))
                if now - times[-1] <= window:
                    break
                windows.popitem(last=False)
        for streaks in self._streaks_by:
            while streaks:
                _, window, times = next(iter(streaks.values()))
                if now - times[-1] <= window:
                    break
                streaks.popitem(last=False)
        while self._attempts:
            _, last = next(iter(self._attempts.values()))
            if now - last <= self._memory_s:
                break
            self._attempts.popitem(last=False)
