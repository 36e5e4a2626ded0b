"""A policy, compiled: plain objects the recommender reads (no pydantic).

The policy file format, its checks and its loading are in
``normalizer._formats.policy``; the cascade is explained there. This module
holds what a validated policy compiles to, and the cascade's resolution.

Backoff reads like tenacity's waits: ``Backoff.exponential(0.5, multiplier=2)
.capped(30).jittered(0.2)``. Attempt n waits ``initial_s * multiplier**(n-1)``,
times a random factor in ``[1, 1 + jitter)``, at most ``max_s``. Because a
policy must never make a later attempt wait less than an earlier one,
``multiplier`` must be at least ``1 + jitter``.

(Over 500 lines: what a validated policy compiles to, the backoff, a rule's
condition and action, the defaults, and the cascade that resolves them, read
as one; each part is a few dozen lines and none is used without the others.)
"""

from __future__ import annotations

import _thread  # not threading: its import costs a millisecond at start-up
import math
import random
from collections.abc import Callable, Sequence

from .errors import ArgumentTypeError, ArgumentValueError
from .vocabulary import Action, Category, Operation, Precondition, Scope

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

MAX_EXPONENT = 64
_LIMITS = {
    "initial_s": (0.0, 3600.0, True),
    "multiplier": (1.0, 10.0, True),
    "max_s": (0.0, 86400.0, False),  # max_s > 0
    "jitter": (0.0, 1.0, None),  # 0 <= jitter < 1
}


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(name, "a number", value)
    v = float(value)
    lo, hi, closed_low = _LIMITS[name]
    ok = math.isfinite(v) and v <= hi
    if closed_low is True:
        ok = ok and v >= lo
    elif closed_low is False:
        ok = ok and v > lo
    else:
        ok = ok and lo <= v < hi
    if not ok:
        raise ArgumentValueError(name, f"must lie in the range allowed ({lo} .. {hi})", value)
    return v


class Backoff:
    """Exponential backoff with proportional jitter and a cap (immutable)."""

    __slots__ = ("_raw", "initial_s", "jitter", "max_s", "multiplier")

    _raw: tuple[float, ...]
    initial_s: float
    multiplier: float
    max_s: float
    jitter: float

    def __init__(
        self,
        initial_s: float = 0.5,
        multiplier: float = 2.0,
        max_s: float = 30.0,
        jitter: float = 0.2,
    ) -> None:
        values = {
            "initial_s": _number("initial_s", initial_s),
            "multiplier": _number("multiplier", multiplier),
            "max_s": _number("max_s", max_s),
            "jitter": _number("jitter", jitter),
        }
        i, m, cap, j = values.values()
        if i > 0 and m < 1 + j:
            raise ArgumentValueError(
                "multiplier",
                f"must be at least 1 + jitter ({1 + j}) so that no attempt waits less than the "
                "one before",
                multiplier,
            )
        if i > cap:
            raise ArgumentValueError("initial_s", f"is above the cap max_s {cap}", initial_s)
        for k, v in values.items():
            object.__setattr__(self, k, v)
        # the un-jittered delay of every attempt, worked out once
        object.__setattr__(self, "_raw", tuple(i * m**e for e in range(MAX_EXPONENT + 1)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Backoff is immutable; use capped()/jittered() for {name}")

    def _key(self) -> tuple[float, float, float, float]:
        return (self.initial_s, self.multiplier, self.max_s, self.jitter)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Backoff) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Backoff(initial_s={self.initial_s}, multiplier={self.multiplier}, "
            f"max_s={self.max_s}, jitter={self.jitter})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (Backoff, self._key())

    def as_dict(self) -> dict[str, float]:
        return dict(zip(("initial_s", "multiplier", "max_s", "jitter"), self._key(), strict=True))

    # tenacity-style builders
    @classmethod
    def exponential(cls, initial_s: float = 0.5, *, multiplier: float = 2.0) -> Backoff:
        return cls(initial_s, multiplier, max(30.0, initial_s), 0.0)

    @classmethod
    def fixed(cls, delay_s: float) -> Backoff:
        return cls(delay_s, 1.0, max(delay_s, 1e-3), 0.0)

    def capped(self, max_s: float) -> Backoff:
        return Backoff(self.initial_s, self.multiplier, max_s, self.jitter)

    def jittered(self, fraction: float) -> Backoff:
        return Backoff(self.initial_s, self.multiplier, self.max_s, fraction)

    def base(self, attempt: int) -> float:
        """The delay before attempt ``attempt + 1`` without jitter, capped."""
        e = attempt - 1
        raw = self._raw[e if 0 <= e <= MAX_EXPONENT else (0 if e < 0 else MAX_EXPONENT)]
        return raw if raw < self.max_s else self.max_s

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The delay after failed attempt ``attempt`` (1-based), with jitter, capped."""
        e = attempt - 1
        raw = self._raw[e if 0 <= e <= MAX_EXPONENT else (0 if e < 0 else MAX_EXPONENT)]
        if self.jitter:
            raw *= 1.0 + self.jitter * rand()
        return raw if raw < self.max_s else self.max_s


class Then:
    """What a policy rule sets; None cascades."""

    __slots__ = (
        "action",
        "backoff",
        "exhausted",
        "hold_s",
        "max_attempts",
        "precondition",
        "scope",
    )

    def __init__(
        self,
        action: Action | None = None,
        scope: Scope | None = None,
        precondition: Precondition | None = None,
        max_attempts: int | None = None,
        backoff: dict[str, float] | None = None,
        hold_s: float | None = None,
        exhausted: str | None = None,
    ) -> None:
        self.action = action
        self.scope = scope
        self.precondition = precondition
        self.max_attempts = max_attempts
        #: the backoff fields this rule sets (a partial backoff)
        self.backoff = backoff
        self.hold_s = hold_s
        self.exhausted = exhausted


def when_specificity(when: Any) -> int:
    """How specific a policy rule's situation is: a subcategory 16, a category 8,
    an exchange 4, an operation 2, idempotency 1 (one definition, for the file
    schema and the compiled policy)."""
    score = 0
    if when.category is not None:
        score += 16 if any("." in c for c in when.category) else 8
    if when.exchange is not None:
        score += 4
    if when.operation is not None:
        score += 2
    if when.idempotent is not None:
        score += 1
    return score


class PolicyWhen:
    """A policy rule's condition: every field given must hold (None: any)."""

    __slots__ = ("category", "exchange", "idempotent", "operation")

    def __init__(
        self,
        exchange: Sequence[str] | None = None,
        category: Sequence[str] | None = None,
        operation: Sequence[Operation] | None = None,
        idempotent: bool | None = None,
    ) -> None:
        self.exchange = tuple(exchange) if exchange is not None else None
        self.category = tuple(category) if category is not None else None
        self.operation = tuple(operation) if operation is not None else None
        self.idempotent = idempotent

    def specificity(self) -> int:
        return when_specificity(self)

    def applies(
        self,
        exchange: str | None,
        category: Category,
        subcategory: str | None,
        operation: Operation,
        idempotent: bool,
    ) -> bool:
        if self.exchange is not None and exchange not in self.exchange:
            return False
        if self.category is not None and not any(
            lb == category.value or lb == subcategory for lb in self.category
        ):
            return False
        if self.operation is not None and operation not in self.operation:
            return False
        return not (self.idempotent is not None and self.idempotent != idempotent)


class PolicyRule:
    """One compiled policy rule."""

    __slots__ = ("id", "then", "when", "why")

    def __init__(self, id: str, why: str, when: PolicyWhen, then: Then) -> None:
        self.id = id
        self.why = why
        self.when = when
        self.then = then

    def __repr__(self) -> str:
        return f"PolicyRule({self.id!r})"


class Defaults:
    """The settings that apply where no rule says otherwise."""

    __slots__ = ("action", "backoff", "exhausted", "hold_s", "max_attempts", "scope")

    def __init__(
        self,
        action: Action = Action.ESCALATE,
        scope: Scope = Scope.REQUEST,
        max_attempts: int = 3,
        backoff: Backoff | None = None,
        exhausted: str = "HALT",
        hold_s: float | None = None,
    ) -> None:
        self.action = action
        self.scope = scope
        self.max_attempts = max_attempts
        self.backoff = backoff if backoff is not None else Backoff()
        self.exhausted = exhausted
        self.hold_s = hold_s


class Resolved:
    """The settings one situation resolves to, before attempt-dependent parts."""

    __slots__ = (
        "action",
        "backoff",
        "exhausted",
        "hold_s",
        "max_attempts",
        "precondition",
        "rule_id",
        "scope",
        "why",
    )

    def __init__(self, **values: Any) -> None:
        for k, v in values.items():
            setattr(self, k, v)

    action: Action
    scope: Scope
    precondition: Precondition | None
    max_attempts: int
    backoff: Backoff
    exhausted: str
    hold_s: float | None
    rule_id: str
    why: str


_LOCK = _thread.allocate_lock()


class Policy:
    """A loaded policy: its own rules layered over those of the policy it extends.

    Built by ``load_policy``/``parse_policy``/``default_policy``; read-only.
    ``escalations`` (the supervisor's rules) is worked out on first use.
    """

    def __init__(
        self,
        *,
        name: str,
        source: str,
        defaults: Defaults,
        layers: tuple[tuple[PolicyRule, ...], ...],
        layer_names: tuple[str, ...] = (),
        escalations: Any = None,
        escalations_loader: Callable[[], Any] | None = None,
    ) -> None:
        # built by the loaders; a hand-built one is checked as strictly (load time only)
        for field, text in (("name", name), ("source", source)):
            if not isinstance(text, str):
                raise ArgumentTypeError(field, "a str", text)
        if not isinstance(defaults, Defaults):
            raise ArgumentTypeError("defaults", "a Defaults", defaults)
        if not isinstance(layers, tuple) or not all(
            isinstance(layer, tuple) and all(isinstance(r, PolicyRule) for r in layer)
            for layer in layers
        ):
            raise ArgumentTypeError("layers", "a tuple of tuples of PolicyRule", layers)
        self.name = name
        self.source = source
        self.defaults = defaults
        self.layers = layers
        self.layer_names = layer_names
        self._escalations = escalations
        self._escalations_loader = escalations_loader
        self._cache: dict[tuple[Any, ...], Resolved] = {}

    def __repr__(self) -> str:
        return f"Policy({self.name!r}, source={self.source!r})"

    @property
    def escalations(self) -> Any:
        """The escalation rules in effect, inherited ones included."""
        if self._escalations is None and self._escalations_loader is not None:
            self._escalations = self._escalations_loader()
        return self._escalations

    def replace(self, **changes: Any) -> Policy:
        """A copy with some of ``name, source, defaults, layers, layer_names, escalations``."""
        values: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "defaults": self.defaults,
            "layers": self.layers,
            "layer_names": self.layer_names,
            "escalations": self._escalations,
            "escalations_loader": self._escalations_loader,
        }
        values.update(changes)
        return Policy(**values)

    def rules(self) -> list[PolicyRule]:
        return [r for layer in self.layers for r in layer]

    def owner(self, rule: PolicyRule) -> str:
        """The name of the policy that wrote ``rule``."""
        for name, layer in zip(self.layer_names, self.layers, strict=True):
            if any(r is rule for r in layer):
                return name
        return self.name

    def matching(
        self,
        exchange: str | None,
        category: Category,
        subcategory: str | None,
        operation: Operation,
        idempotent: bool,
    ) -> list[PolicyRule]:
        out = []
        for layer in self.layers:
            hits = [
                r
                for r in layer
                if r.when.applies(exchange, category, subcategory, operation, idempotent)
            ]
            hits.sort(key=lambda r: -r.when.specificity())
            out.extend(hits)
        return out

    def resolve(
        self,
        exchange: str | None,
        category: Category,
        subcategory: str | None,
        operation: Operation,
        idempotent: bool,
    ) -> Resolved:
        key = (exchange, category, subcategory, operation, idempotent)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        rules = self.matching(exchange, category, subcategory, operation, idempotent)
        d = self.defaults

        def pick(name: str, default: Any) -> Any:
            for r in rules:
                value = getattr(r.then, name)
                if value is not None:
                    return value
            return default

        backoff_fields = {}
        for f in ("initial_s", "multiplier", "max_s", "jitter"):
            value = next(
                (r.then.backoff[f] for r in rules if r.then.backoff and f in r.then.backoff),
                getattr(d.backoff, f),
            )
            backoff_fields[f] = value
        first = rules[0] if rules else None
        resolved = Resolved(
            action=pick("action", d.action),
            scope=pick("scope", d.scope),
            precondition=pick("precondition", None),
            max_attempts=pick("max_attempts", d.max_attempts),
            backoff=Backoff(**backoff_fields),
            exhausted=pick("exhausted", d.exhausted),
            hold_s=pick("hold_s", d.hold_s),
            rule_id=f"{self.owner(first)}:{first.id}" if first else f"{self.name}:defaults",
            why=first.why if first else "no policy rule matched; the policy's defaults apply",
        )
        with _LOCK:
            self._cache[key] = resolved
        return resolved

    # ------------------------------------------------------- plain data

    def to_plain(self) -> dict[str, Any]:
        def then(t: Then) -> tuple[Any, ...]:
            return (
                t.action.value if t.action else None,
                t.scope.value if t.scope else None,
                t.precondition.value if t.precondition else None,
                t.max_attempts,
                t.backoff,
                t.hold_s,
                t.exhausted,
            )

        def when(w: PolicyWhen) -> tuple[Any, ...]:
            ops = tuple(o.value for o in w.operation) if w.operation is not None else None
            return (w.exchange, w.category, ops, w.idempotent)

        d = self.defaults
        return {
            "name": self.name,
            "source": self.source,
            "defaults": (
                d.action.value,
                d.scope.value,
                d.max_attempts,
                d.backoff.as_dict(),
                d.exhausted,
                d.hold_s,
            ),
            "layers": tuple(
                tuple((r.id, r.why, when(r.when), then(r.then)) for r in layer)
                for layer in self.layers
            ),
            "layer_names": self.layer_names,
        }

    @classmethod
    def from_plain(
        cls, data: dict[str, Any], escalations_loader: Callable[[], Any] | None = None
    ) -> Policy:
        def then(t: Sequence[Any]) -> Then:
            action, scope, pre, max_attempts, backoff, hold_s, exhausted = t
            return Then(
                Action(action) if action else None,
                Scope(scope) if scope else None,
                Precondition(pre) if pre else None,
                max_attempts,
                backoff,
                hold_s,
                exhausted,
            )

        def when(w: Sequence[Any]) -> PolicyWhen:
            ex, cat, ops, idem = w
            return PolicyWhen(
                ex, cat, tuple(Operation(o) for o in ops) if ops is not None else None, idem
            )

        action, scope, max_attempts, backoff, exhausted, hold_s = data["defaults"]
        return cls(
            name=data["name"],
            source=data["source"],
            defaults=Defaults(
                Action(action), Scope(scope), max_attempts, Backoff(**backoff), exhausted, hold_s
            ),
            layers=tuple(
                tuple(PolicyRule(i, why, when(w), then(t)) for i, why, w, t in layer)
                for layer in data["layers"]
            ),
            layer_names=tuple(data["layer_names"]),
            escalations_loader=escalations_loader,
        )
