"""What the supervisor asks a store to apply for one event, and what it gets back.

Variants: whether an event used up its request's retries depends on the
attempt number, which the store assigns (it numbers the failures of a request
id). So the supervisor sends what to do in either case: an operation with
``variant`` 1 applies only when the attempt is not exhausted, 2 only when it
is, 0 always; ``exhausted_from`` is the first exhausted attempt (0: never).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .._types import Halt

ALWAYS, FRESH, EXHAUSTED = 0, 1, 2
#: CountOp modes
WINDOW, STREAK, RESET = 0, 1, 2


@dataclass(slots=True)
class CountOp:
    """Count one event for one rule in one group; fire and hold when the count is reached."""

    variant: int
    rule: str
    group: str
    mode: int
    count: int = 1
    window_s: float = 0.0
    ident: str = ""
    #: the halt to hold when it fires (hold_s 0: none)
    scope: str = ""
    scope_key: str = ""
    action: str = ""
    hold_s: float = 0.0
    lifted_by_success: bool = False
    reason: str = ""
    #: the width of ``group`` (0 request .. 3 exchange): tables are bounded per width
    width: int = 0


@dataclass(slots=True)
class HoldOp:
    """A per-error halt to hold."""

    variant: int
    halt_scope: str
    scope_key: str
    hold_s: float
    reason: str
    policy_rule_id: str


@dataclass(slots=True)
class Plan:
    event_id: str | None
    now: float | None
    attempt_key: str | None
    attempt: int | None
    exhausted_from: int
    memory_s: float
    ops: list[CountOp] = field(default_factory=list)
    holds: list[HoldOp] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Applied:
    now: float
    attempt: int
    duplicate: bool
    fired: tuple[tuple[str, str], ...]
    halts: tuple[Halt, ...]


def exhausted(plan: Plan, attempt: int) -> bool:
    return plan.exhausted_from > 0 and attempt >= plan.exhausted_from


def applies(variant: int, is_exhausted: bool) -> bool:
    return variant == ALWAYS or (variant == EXHAUSTED) is is_exhausted


class Store(Protocol):
    """What a supervisor needs from its state store (``MemoryStore``, ``RedisStore``, yours).

    A store keeps counts, windows, streaks, request attempts, event ids and
    halts, and applies one event as one atomic step. ``normalizer.supervisor.
    testing`` holds the contract a store must meet; any class with these
    methods that passes it can be given as ``Supervisor(store=...)``.

    - Time: ``now`` is the supervisor's reading or None (the store's own
      clock: the server's for a shared store). The store's time never goes
      back (an earlier reading counts as the latest seen); every method
      answers with the time it used.
    - Bounds: at most ``max_tracked`` keys per table. Halts are bounded per
      scope width; dropping a halt for room must never lift it: it is folded
      into a halt of the next wider scope (``policy_rule_id`` ``table-full``)
      and exchange halts are never dropped for room.
    - Failures: a store that cannot answer raises ``StoreUnavailable`` (never
      anything else), which the supervisor answers per ``on_store_error``.
      A shared store that lost its data raises it for a grace period.
    - Optional: ``aapply``, ``ahold``, ``asuccess``, ``ahalts_on``,
      ``astatus``, ``alift`` (awaitable forms; without them the synchronous
      ones are called from the event loop, fine for a store that never waits)
      and ``shared = True`` for a store shared by processes (then time must be
      the store's: a per-process ``clock=`` is refused).
    """

    max_tracked: int

    def apply(self, plan: Plan) -> Applied:
        """Apply one event; its attempt, what fired, the halts in force on ``plan.chain``."""
        ...

    def hold(self, halt: Halt, now: float | None) -> None:
        """Hold ``halt`` (a longer one of the same source on the same key wins)."""
        ...

    def success(
        self, chain: list[str], streaks: list[str], attempt_keys: list[str], now: float | None
    ) -> tuple[float, tuple[str, ...]]:
        """Lift the ``lifted_by_success`` halts on ``chain``; end streaks and attempts."""
        ...

    def halts_on(self, chain: list[str], now: float | None) -> tuple[float, tuple[Halt, ...]]:
        """The halts in force on these scope keys."""
        ...

    def lift(self, scope_key: str, now: float | None) -> int:
        """Remove every halt on ``scope_key``; how many were in force."""
        ...

    def status(self, now: float | None) -> tuple[Halt, ...]:
        """Every halt in force, widest scope first."""
        ...

    def close(self) -> None:
        """Release connections (idempotent)."""
        ...


class SyncAsAsync:
    """A store without awaitable methods, awaited (the memory store never waits)."""

    def __init__(self, store: Store) -> None:
        self._s = store

    async def aapply(self, plan: Plan) -> Applied:
        return self._s.apply(plan)

    async def ahold(self, halt: Halt, now: float | None) -> None:
        self._s.hold(halt, now)

    async def asuccess(
        self, chain: list[str], streaks: list[str], attempt_keys: list[str], now: float | None
    ) -> tuple[float, tuple[str, ...]]:
        return self._s.success(chain, streaks, attempt_keys, now)

    async def ahalts_on(
        self, chain: list[str], now: float | None
    ) -> tuple[float, tuple[Halt, ...]]:
        return self._s.halts_on(chain, now)

    async def astatus(self, now: float | None) -> tuple[Halt, ...]:
        return self._s.status(now)

    async def alift(self, key: str, now: float | None) -> int:
        return self._s.lift(key, now)
