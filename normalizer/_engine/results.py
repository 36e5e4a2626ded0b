"""The public result types: immutable, hashable, typed records (no pydantic).

They are built on the error path of every router, so the engine builds them
with ``_make``, which skips validation: every value it passes has already been
checked. Built by hand (keywords), they are validated: a subcategory outside
its category, an outcome against the category, a number that is not finite,
or a value of the wrong type is refused with an ``InvalidResultError`` or
``ArgumentTypeError`` naming the field.

Every result turns into JSON and back to an equal value (``to_json`` /
``from_json``, ``to_dict`` / ``from_dict``) and into a flat dict for a log line
(``to_flat``); see ``normalizer._core.record``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .._core.errors import ArgumentTypeError, InvalidResultError
from .._core.record import Record, decode_evidence, encode_evidence, finite
from .._core.vocabulary import Action, Category, Operation, Outcome, Precondition, Scope
from .._formats.registry import ONTOLOGY

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any, ClassVar

_new = tuple.__new__


def _enum(name: str, enum: type[Any], value: object, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
        if value in enum.__members__:
            return enum[value]
        raise InvalidResultError(name, f"must be one of {[m.value for m in enum]}", value) from None
    raise ArgumentTypeError(name, f"a {enum.__name__}", value)


def _text(name: str, value: object, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ArgumentTypeError(name, "a str" + (" or None" if optional else ""), value)
    return value


def _int(name: str, value: object, optional: bool = True, low: int = 0) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(name, "an int", value)
    if value < low:
        raise InvalidResultError(name, f"must be at least {low}", value)
    return int(value)


class RawInput(Record):
    """Exactly what the caller passed to ``normalize()``, kept for the record.

    The values are the caller's own objects (not copies) for the call that
    built the result; a result shared between identical inputs keeps an equal
    input. In JSON: text as text, bytes as ``{"$bytes": text}`` or
    ``{"$base64": ...}`` when not UTF-8, an exception as its type, module and
    message (``ExceptionInfo``).
    """

    __slots__ = ()
    _fields = ("body", "http_status", "headers", "code", "message", "error")

    body: Any
    http_status: Any
    headers: Any
    code: Any
    message: Any
    error: Any

    def __new__(
        cls,
        body: Any = None,
        http_status: Any = None,
        headers: Any = None,
        code: Any = None,
        message: Any = None,
        error: Any = None,
    ) -> RawInput:
        return _new(cls, (body, http_status, headers, code, message, error))

    def __eq__(self, other: object) -> bool:
        if type(other) is not RawInput:
            return NotImplemented
        try:
            return bool(tuple.__eq__(self, other))
        except Exception:  # a caller's object whose == raises (numpy arrays)
            return self is other

    def __hash__(self) -> int:
        return id(self)

    def to_dict(self) -> dict[str, Any]:
        return {n: encode_evidence(v) for n, v in zip(self._fields, self, strict=True)}

    @classmethod
    def _decode(cls, data: Mapping[str, Any]) -> RawInput:
        return cls(**{k: decode_evidence(v) for k, v in data.items() if k in cls._fields})


NO_RAW = RawInput()


class NormalizedError(Record):
    """One exchange error, placed in the ontology, with the evidence.

    ``category`` is the top-level category; ``subcategory`` the finer one
    (``"AUTH.SIGNATURE"``) or None. ``outcome`` says whether the request took
    effect: NOT_SENT, REJECTED or UNKNOWN (UNKNOWN if and only if the category
    is UNKNOWN_STATE). ``rule_id``, ``rationale`` and ``source_url`` say which
    rule decided and why; they are None when nothing matched (category
    UNKNOWN). ``documented_code`` is the catalog code a message was recognised
    as when the input carried no (known) code. ``items`` holds the per-item
    results of a batch answer, each with its ``item_index`` in the answer's
    list. ``notes`` says what of the input was dropped or converted (an absurd
    Retry-After, a numpy code, a UTF-16 body). ``raw`` keeps the input as given.

    Equal errors hash equally; ``raw`` takes no part in equality or the hash.
    """

    __slots__ = ()
    _fields = (
        "exchange",
        "category",
        "subcategory",
        "outcome",
        "code",
        "http_status",
        "message",
        "rule_id",
        "rationale",
        "source_url",
        "retry_after_s",
        "operation",
        "documented_code",
        "item_index",
        "items",
        "notes",
        "raw",
    )
    _ignored: ClassVar[frozenset[str]] = frozenset({"raw"})

    exchange: str
    category: Category
    subcategory: str | None
    outcome: Outcome
    code: str | None
    http_status: int | None
    message: str | None
    rule_id: str | None
    rationale: str | None
    source_url: str | None
    retry_after_s: float | None
    operation: Operation | None
    documented_code: str | None
    item_index: int | None
    items: tuple[NormalizedError, ...]
    notes: tuple[str, ...]
    raw: RawInput

    def __new__(
        cls,
        *,
        exchange: str,
        category: Category | str,
        subcategory: str | None = None,
        outcome: Outcome | str | None = None,
        code: str | None = None,
        http_status: int | None = None,
        message: str | None = None,
        rule_id: str | None = None,
        rationale: str | None = None,
        source_url: str | None = None,
        retry_after_s: float | None = None,
        operation: Operation | str | None = None,
        documented_code: str | None = None,
        item_index: int | None = None,
        items: tuple[NormalizedError, ...] | list[NormalizedError] = (),
        notes: tuple[str, ...] | list[str] = (),
        raw: RawInput | Mapping[str, Any] | None = None,
    ) -> NormalizedError:
        cat = _enum("category", Category, category)
        sub = _text("subcategory", subcategory)
        if sub is not None and ONTOLOGY.subcategories.get(sub) is not cat:
            raise InvalidResultError(
                "subcategory", f"is not a subcategory of {cat.value}", subcategory
            )
        out = (
            ONTOLOGY.outcome_of(cat, sub) if outcome is None else _enum("outcome", Outcome, outcome)
        )
        if (out is Outcome.UNKNOWN) != (cat is Category.UNKNOWN_STATE):
            raise InvalidResultError(
                "outcome",
                "is UNKNOWN if and only if the category is UNKNOWN_STATE",
                outcome,
            )
        status = _int("http_status", http_status, low=100)
        if status is not None and status > 599:
            raise InvalidResultError("http_status", "must lie in 100..599", http_status)
        kids = tuple(items)
        for kid in kids:
            if not isinstance(kid, NormalizedError):
                raise ArgumentTypeError("items", "a tuple of NormalizedError", kid)
        note_list = tuple(notes)
        for note in note_list:
            _text("notes", note, optional=False)
        if raw is None:
            the_raw = NO_RAW
        elif isinstance(raw, RawInput):
            the_raw = raw
        elif isinstance(raw, Mapping):
            the_raw = RawInput._decode(raw)
        else:
            raise ArgumentTypeError("raw", "a RawInput", raw)
        values = (
            _text("exchange", exchange, optional=False),
            cat,
            sub,
            out,
            _text("code", code),
            status,
            _text("message", message),
            _text("rule_id", rule_id),
            _text("rationale", rationale),
            _text("source_url", source_url),
            finite("retry_after_s", retry_after_s),
            _enum("operation", Operation, operation, optional=True),
            _text("documented_code", documented_code),
            _int("item_index", item_index),
            kids,
            note_list,
            the_raw,
        )
        return _new(cls, values)

    @property
    def label(self) -> str:
        """The most specific ontology name: the subcategory, else the category."""
        return self.subcategory or self.category.value

    @property
    def is_error(self) -> bool:
        """False when the input reports success (an OKX ``code "0"``, a Bybit
        ``retCode 0``, a WebSocket ack): subcategory ``UNKNOWN.NO_ERROR``, for
        which ``recommend()`` has no action to give."""
        return self.subcategory != "UNKNOWN.NO_ERROR"

    @property
    def rule_origin(self) -> str | None:
        """Which folder the deciding rule came from: ``"bundled"``, or the user's
        folder given to ``load_rules()`` (None when no rule decided)."""
        from .._formats.registry import rule_origin

        return rule_origin(self.exchange, self.rule_id)

    @classmethod
    def _decode(cls, data: Mapping[str, Any]) -> NormalizedError:
        values = {k: v for k, v in data.items() if k in cls._fields}
        for name in ("exchange", "category"):
            if name not in values:
                raise InvalidResultError(name, f"not a valid result: no {name!r}", data, whole=True)
        for name in ("items", "notes"):
            listed = values.get(name)
            if listed is not None and not isinstance(listed, (list, tuple)):
                raise InvalidResultError(name, "must be a list", listed)
        kids = values.get("items")
        if kids:
            for kid in kids:
                if not isinstance(kid, Mapping):
                    raise InvalidResultError("items", "must be a list of results", kid)
            values["items"] = tuple(cls._decode(kid) for kid in kids)
        else:
            values["items"] = ()
        values["notes"] = tuple(values.get("notes") or ())
        return cls(**values)


class Recommendation(Record):
    """What to do about one error, and why.

    ``delay_s`` is the wait before the next attempt (RETRY, QUERY_THEN_RETRY)
    and 0 for HALT and ESCALATE. ``hold_s`` is how long a HALT should hold its
    scope (None: until lifted). ``precondition`` names what to do first.
    ``policy_rule_id`` is the policy rule that decided; ``guard`` the safety
    guard that overrode it, if any. ``retries_exhausted`` says the action would
    have been a retry but the policy's attempts are used up.
    """

    __slots__ = ()
    _fields = (
        "action",
        "delay_s",
        "max_attempts",
        "attempt",
        "scope",
        "precondition",
        "hold_s",
        "reason",
        "policy_rule_id",
        "guard",
        "retries_exhausted",
    )

    action: Action
    delay_s: float
    max_attempts: int
    attempt: int
    scope: Scope
    precondition: Precondition | None
    hold_s: float | None
    reason: str
    policy_rule_id: str
    guard: str | None
    retries_exhausted: bool

    def __new__(
        cls,
        *,
        action: Action | str,
        reason: str,
        policy_rule_id: str,
        delay_s: float = 0.0,
        max_attempts: int = 1,
        attempt: int = 1,
        scope: Scope | str = Scope.REQUEST,
        precondition: Precondition | str | None = None,
        hold_s: float | None = None,
        guard: str | None = None,
        retries_exhausted: bool = False,
    ) -> Recommendation:
        if not isinstance(retries_exhausted, bool):
            raise ArgumentTypeError("retries_exhausted", "a bool", retries_exhausted)
        delay = finite("delay_s", delay_s, optional=False)
        values = (
            _enum("action", Action, action),
            delay,
            _int("max_attempts", max_attempts, optional=False, low=1),
            _int("attempt", attempt, optional=False, low=1),
            _enum("scope", Scope, scope),
            _enum("precondition", Precondition, precondition, optional=True),
            finite("hold_s", hold_s),
            _text("reason", reason, optional=False),
            _text("policy_rule_id", policy_rule_id, optional=False),
            _text("guard", guard),
            retries_exhausted,
        )
        return _new(cls, values)


def is_finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)
