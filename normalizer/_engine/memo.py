"""The engine's one memo layer: what was decided for an input, kept for its next sight.

A router sees the same few errors over and over (a rate-limit storm is
thousands of identical answers), so ``normalize()`` keeps the result of an
input it has met twice, keyed by exactly what decides the result. An input is
admitted at its second sight: an input met once is only remembered by its
hash (an int, which the cyclic garbage collector never walks), so a stream of
bodies that are all new leaves no results behind for the collector to walk on
every pass, and costs nothing to forget.

Every ``Memo`` registers itself here; ``reset_caches()`` empties them all and
the lower caches (folded text, error strings' codes, exceptions' classes), as
in a fresh process with the rules loaded. Tests use it through
``normalizer.testing.forget_memos()``. Thread safety: a dict's own operations
are atomic; the lock keeps two threads from both starting a full table over.
"""

from __future__ import annotations

import _thread  # not threading: its import costs a millisecond at start-up

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Hashable
    from typing import Any

_memos: list[Memo] = []
_lower: list[Callable[[], None]] = []


class Memo:
    """At most ``size`` values and ``budget`` units of weight (the characters of
    the text a key holds), each kept from its key's second sight on."""

    __slots__ = ("_kept", "_lock", "_once", "_weight", "budget", "get", "name", "size")

    def __init__(self, name: str, size: int = 8192, budget: int = 64 * 1024 * 1024) -> None:
        self.name = name
        self.size = size
        self.budget = budget
        self._weight = 0
        self._kept: dict[Hashable, Any] = {}
        #: ``get(key)``: the value kept for ``key``, or None (the table's own
        #: ``get``: the table is only ever cleared in place, never replaced)
        self.get: Callable[[Hashable], Any] = self._kept.get
        self._once: set[int] = set()  # hashes of keys met once: ints, never walked by gc
        self._lock = _thread.allocate_lock()
        _memos.append(self)

    def put(self, key: Hashable, value: Any, weight: int = 0) -> None:
        """Keep ``value`` if ``key`` was met before (a full table starts over)."""
        h = hash(key)
        once = self._once
        if h not in once:
            if len(once) >= self.size * 8:
                with self._lock:
                    once.clear()
            once.add(h)
            return
        kept = self._kept
        if len(kept) >= self.size or self._weight + weight > self.budget:
            with self._lock:
                kept.clear()
                self._weight = 0
        if weight <= self.budget:
            kept[key] = value
            self._weight += weight

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._once.clear()
            self._weight = 0

    def __len__(self) -> int:
        return len(self._kept)


def also_reset(clear: Callable[[], None]) -> None:
    """Have ``reset_caches()`` call ``clear`` too (a cache below the results)."""
    _lower.append(clear)


def clear_results() -> None:
    """Forget every kept decision (the rules or the generic model changed)."""
    for memo in _memos:
        memo.clear()


def reset_caches() -> None:
    """Forget everything the engine keeps: results, decisions and the caches
    below them. Every input is then seen for the first time."""
    clear_results()
    for clear in _lower:
        clear()
