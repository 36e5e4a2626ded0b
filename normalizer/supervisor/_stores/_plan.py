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
    """The operations a supervisor needs from its state store."""

    max_tracked: int

    def apply(self, plan: Plan) -> Applied: ...

    def hold(self, halt: Halt, now: float | None) -> None: ...

    def success(
        self, chain: list[str], streaks: list[str], attempt_keys: list[str], now: float | None
    ) -> tuple[float, tuple[str, ...]]: ...

    def halts_on(self, chain: list[str], now: float | None) -> tuple[float, tuple[Halt, ...]]: ...

    def lift(self, scope_key: str, now: float | None) -> int: ...

    def status(self, now: float | None) -> tuple[Halt, ...]: ...

    def close(self) -> None: ...
