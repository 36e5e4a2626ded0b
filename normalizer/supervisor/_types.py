"""The supervisor's results (``Decision``, ``Halt``) and its scope keys.

``Decision`` and ``Halt`` are immutable records like every result of the
package (``normalizer._core.record``): typed, hashable, JSON both ways
(``to_json``/``from_json``, ``to_dict``/``from_dict``), a flat dict for logs
(``to_flat``), validated when built by keyword.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from .._core.arguments import flag
from .._core.errors import ArgumentTypeError, InvalidResultError, SupervisorArgumentError
from .._core.record import Record, finite
from .._core.vocabulary import Action, Precondition, Scope
from .._engine.results import Recommendation, _enum, _text

__all__ = [
    "RANK",
    "WIDTH",
    "Decision",
    "Halt",
    "Keys",
    "fold_exchange",
    "key_part",
    "seconds_setting",
    "tables_setting",
]

RANK = {Action.RETRY: 0, Action.QUERY_THEN_RETRY: 1, Action.HALT: 2, Action.ESCALATE: 3}
WIDTH = {Scope.REQUEST: 0, Scope.SYMBOL: 1, Scope.ACCOUNT: 2, Scope.EXCHANGE: 3}

#: Identifiers longer than this are replaced by a hash in scope keys.
MAX_ID_CHARS = 200
#: The longest scope key (four parts) and reason a Halt or Decision may carry.
MAX_KEY_CHARS = 4 * (3 * MAX_ID_CHARS + 1)
MAX_REASON_CHARS = 10_000


def _check_key(scope: Scope, scope_key: str) -> None:
    """A scope key has as many parts as its scope is narrow (``*``: every exchange)."""
    if not scope_key or len(scope_key) > MAX_KEY_CHARS:
        raise InvalidResultError("scope_key", f"must be 1-{MAX_KEY_CHARS} characters", scope_key)
    if scope_key.count(":") != 3 - WIDTH[scope]:
        raise InvalidResultError(
            "scope_key", f"does not name a {scope.value} scope (parts joined by ':')", scope_key
        )


_MISSING = "-"
_ESCAPES = str.maketrans({"%": "%25", ":": "%3A", "~": "%7E"})


class Halt(Record):
    """A scope on which nothing should be sent until ``until`` (clock time).

    ``action`` is HALT, or ESCALATE when a person was called and the scope is
    held meanwhile. ``escalation_rule_id`` names the escalation rule that set
    it; None for a per-error HALT (``policy_rule_id`` names its policy rule)
    or a halt the supervisor reports because its state store is unreachable
    (``policy_rule_id`` is then ``"store-unreachable"``).
    ``lifted_by_success``: a success in the scope lifts it early.
    """

    __slots__ = ()
    _fields = (
        "scope",
        "scope_key",
        "action",
        "since",
        "until",
        "reason",
        "escalation_rule_id",
        "policy_rule_id",
        "lifted_by_success",
    )

    scope: Scope
    scope_key: str
    action: Action
    since: float
    until: float
    reason: str
    escalation_rule_id: str | None
    policy_rule_id: str | None
    lifted_by_success: bool

    def __new__(
        cls,
        *,
        scope: Scope | str,
        scope_key: str,
        action: Action | str,
        since: float,
        until: float,
        reason: str,
        escalation_rule_id: str | None = None,
        policy_rule_id: str | None = None,
        lifted_by_success: bool = False,
    ) -> Halt:
        values = (
            _enum("scope", Scope, scope),
            _text("scope_key", scope_key, optional=False),
            _enum("action", Action, action),
            finite("since", since, optional=False),
            finite("until", until, optional=False),
            _text("reason", reason, optional=False),
            _text("escalation_rule_id", escalation_rule_id),
            _text("policy_rule_id", policy_rule_id),
            flag("lifted_by_success", lifted_by_success),
        )
        if values[2] not in (Action.HALT, Action.ESCALATE):
            raise InvalidResultError(
                "action", "of a Halt must be HALT or ESCALATE (a halt holds its scope)", action
            )
        start, end, key, why = values[3], values[4], values[1], values[5]
        assert start is not None
        assert end is not None
        assert key is not None
        assert why is not None
        if end < start:
            raise InvalidResultError("until", f"must not be before since ({since!r})", until)
        _check_key(values[0], key)
        if len(why) > MAX_REASON_CHARS:
            raise InvalidResultError("reason", f"is over {MAX_REASON_CHARS} characters", "...")
        return tuple.__new__(cls, values)

    @property
    def source(self) -> str:
        return self.escalation_rule_id or f"policy:{self.policy_rule_id}"

    def to_row(self) -> list[Any]:
        """The halt as a JSON-able list (the form the stores keep)."""
        return [
            self.scope.value,
            self.scope_key,
            self.action.value,
            self.since,
            self.until,
            self.reason,
            self.escalation_rule_id,
            self.policy_rule_id,
            self.lifted_by_success,
        ]

    @classmethod
    def from_row(cls, row: list[Any]) -> Halt:
        return cls._make(
            (
                Scope(row[0]),
                str(row[1]),
                Action(row[2]),
                float(row[3]),
                float(row[4]),
                str(row[5]),
                row[6] or None,
                row[7] or None,
                bool(row[8]),
            )
        )


class Decision(Record):
    """What to do about one observed error, the stream considered.

    ``action`` uses the vocabulary of ``Recommendation``; ``scope`` and
    ``scope_key`` say what it applies to (``Keys`` describes the keys).
    ``hold_s`` is how long it holds from ``at`` and ``until`` the clock time it
    ends (None: no hold). ``delay_s`` and ``precondition`` come from the
    recommendation when it stands. ``escalation_rule_id`` names the escalation
    rule that decided, None when the per-error recommendation stands or a
    per-error halt holds. ``replace`` is True only when the decision is to
    place the original order AGAIN (a completed re-placing sequence such as
    ``reconcile-then-retry``); a RETRY with ``replace`` False retries the
    request that failed (for a query: the query). ``recommendation`` is what
    ``recommend()`` said about the error alone; ``event_id`` the id the event
    was observed under, and ``duplicate`` whether that id had been seen
    before (a redelivery: nothing was counted again).
    """

    __slots__ = ()
    _fields = (
        "action",
        "scope",
        "scope_key",
        "hold_s",
        "until",
        "delay_s",
        "precondition",
        "reason",
        "escalation_rule_id",
        "recommendation",
        "at",
        "replace",
        "event_id",
        "duplicate",
    )

    action: Action
    scope: Scope
    scope_key: str
    hold_s: float | None
    until: float | None
    delay_s: float
    precondition: Precondition | None
    reason: str
    escalation_rule_id: str | None
    recommendation: Recommendation
    at: float
    replace: bool  # type: ignore[assignment]  # the field shadows Record.replace
    event_id: str | None
    duplicate: bool

    def __new__(
        cls,
        *,
        action: Action | str,
        scope: Scope | str,
        scope_key: str,
        reason: str,
        recommendation: Recommendation | Mapping[str, Any],
        at: float,
        hold_s: float | None = None,
        until: float | None = None,
        delay_s: float = 0.0,
        precondition: Precondition | str | None = None,
        escalation_rule_id: str | None = None,
        replace: bool = False,
        event_id: str | None = None,
        duplicate: bool = False,
    ) -> Decision:
        if isinstance(recommendation, Mapping):
            recommendation = Recommendation.from_dict(recommendation)
        elif not isinstance(recommendation, Recommendation):
            raise ArgumentTypeError("recommendation", "a Recommendation", recommendation)
        delay = finite("delay_s", delay_s, optional=False)
        assert delay is not None
        act = _enum("action", Action, action)
        sc = _enum("scope", Scope, scope)
        key = _text("scope_key", scope_key, optional=False)
        _check_key(sc, key)  # type: ignore[arg-type]
        hold, end, t = (
            finite("hold_s", hold_s),
            finite("until", until),
            finite("at", at, optional=False),
        )
        if delay < 0 or (hold is not None and hold < 0):
            raise InvalidResultError("delay_s", "and hold_s must not be negative", (delay, hold))
        if (hold is None) != (end is None):
            raise InvalidResultError("until", "is given exactly when hold_s is", (hold, end))
        if end is not None and t is not None and end < t:
            raise InvalidResultError("until", f"must not be before at ({at!r})", until)
        if flag("replace", replace) and (act is not Action.RETRY or sc is not Scope.REQUEST):
            raise InvalidResultError(
                "replace", "is only a RETRY of the request (placing the order again)", replace
            )
        if flag("duplicate", duplicate) and event_id is None:
            raise InvalidResultError("duplicate", "needs the event_id seen before", duplicate)
        # every field checked, then built as the supervisor builds its own
        return trusted_decision(
            action=act,
            scope=sc,
            scope_key=key,  # type: ignore[arg-type]
            hold_s=hold_s,
            until=until,
            delay_s=delay,
            precondition=_enum("precondition", Precondition, precondition, optional=True),
            reason=_text("reason", reason, optional=False),  # type: ignore[arg-type]
            escalation_rule_id=_text("escalation_rule_id", escalation_rule_id),
            recommendation=recommendation,
            at=at,
            replace=flag("replace", replace),
            event_id=_text("event_id", event_id),
            duplicate=flag("duplicate", duplicate),
        )

    @property
    def overridden(self) -> bool:
        """Whether the stream changed what the recommendation alone said."""
        rec = self.recommendation
        return (
            self.escalation_rule_id is not None
            or self.action is not rec.action
            or self.scope is not rec.scope
            or self.replace
        )


def trusted_decision(
    *,
    action: Action,
    scope: Scope,
    scope_key: str,
    reason: str,
    recommendation: Recommendation,
    at: float,
    hold_s: float | None = None,
    until: float | None = None,
    delay_s: float = 0.0,
    precondition: Precondition | None = None,
    escalation_rule_id: str | None = None,
    replace: bool = False,
    event_id: str | None = None,
    duplicate: bool = False,
) -> Decision:
    """A ``Decision`` the supervisor builds from what it already holds valid
    (the policy's and the recommendation's enums, the keys it made): only the
    times, computed from its clock, are checked. ``Decision(...)`` checks every
    field of a caller's own, then builds it here (the one place that knows the
    record's field order)."""
    return tuple.__new__(
        Decision,
        (
            action,
            scope,
            scope_key,
            finite("hold_s", hold_s),
            finite("until", until),
            delay_s,
            precondition,
            reason,
            escalation_rule_id,
            recommendation,
            finite("at", at, optional=False),
            replace,
            event_id,
            duplicate,
        ),
    )


def fold_exchange(exchange: object) -> str:
    """An exchange name as ``normalize()`` keys it (``"OKX"`` -> ``"okx"``)."""
    if not isinstance(exchange, str) or not exchange.strip():
        raise SupervisorArgumentError(f"exchange must be a non-empty str, not {exchange!r}")
    return exchange.strip().lower()


def key_part(value: object, name: str) -> str:
    """One identifier as a part of a scope key, unambiguously.

    None is ``-``; a string has ``%``, ``:`` and ``~`` percent-escaped and a
    lone ``-`` written ``%2D``; one longer than ``MAX_ID_CHARS`` becomes ``~``
    and 32 hex digits of its SHA-256. So no two different identifiers share a
    part, and ``:`` only ever separates parts.
    """
    if value is None:
        return _MISSING
    if not isinstance(value, str):
        raise SupervisorArgumentError(f"{name} must be a str or None, not {value!r}")
    if len(value) > MAX_ID_CHARS:
        return "~" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    if value == _MISSING:
        return "%2D"
    return value.translate(_ESCAPES)


class Keys:
    """The scope keys of one event, from the exchange down to the request.

    ``"okx"``, ``"okx:acct1"``, ``"okx:acct1:BTC-USDT"``,
    ``"okx:acct1:BTC-USDT:req-1"``: each identifier is a ``key_part``.
    """

    __slots__ = ("account", "exchange", "has_request", "request", "symbol")

    def __init__(self, exchange: str, account: object, symbol: object, request_id: object) -> None:
        self.exchange = exchange
        self.account = f"{exchange}:{key_part(account, 'account')}"
        self.symbol = f"{self.account}:{key_part(symbol, 'symbol')}"
        self.has_request = request_id is not None
        self.request = f"{self.symbol}:{key_part(request_id, 'request_id')}"

    def of(self, scope: Scope) -> str:
        if scope is Scope.EXCHANGE:
            return self.exchange
        if scope is Scope.ACCOUNT:
            return self.account
        if scope is Scope.SYMBOL:
            return self.symbol
        return self.request

    def chain(self) -> list[str]:
        out = [self.exchange, self.account, self.symbol]
        if self.has_request:
            out.append(self.request)
        return out


def finite_time(value: object) -> float | None:
    """A clock reading as a float, or None when it is NaN, infinite or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


# ------------------------------------------------------- settings of a store


def tables_setting(value: object, name: str = "max_tracked") -> int:
    """A table bound: an int >= 1 (a bool, a float or a string is refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SupervisorArgumentError(f"{name} must be an int >= 1, not {value!r}")
    return value


def seconds_setting(value: object, name: str, *, positive: bool = False) -> float:
    """A duration in seconds: a finite number >= 0 (> 0 when ``positive``), below 10**7."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SupervisorArgumentError(f"{name} must be a number of seconds, not {value!r}")
    if not (value > 0 if positive else value >= 0) or not value < 10**7:
        bound = "> 0" if positive else ">= 0"
        raise SupervisorArgumentError(f"{name} must be {bound} and below 10**7 s, not {value!r}")
    return float(value)
