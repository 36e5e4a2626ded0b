"""The safety guards: what no policy may make ``recommend()`` answer.

Each guard is one object with an ``id``, a one-line ``why``, and two
functions over a situation (what failed, during what) and a proposal (the
action, scope and precondition a policy asks for):

- ``applies(situation, proposal)``: the proposal is one this guard overrides;
- ``apply(situation, proposal)``: the proposal it answers instead.

The same objects serve twice, so a guard is defined once:

- at run time, ``recommend()`` passes the policy's resolved proposal through
  ``GUARDS`` in order, and ``Recommendation.guard`` names the last guard that
  changed it;
- at load time, a policy rule is refused when a guard that ``forbids`` would
  apply to what the rule asks, in any situation its ``when`` names
  (``refusal()``): such a rule could never take effect as written.

A rule leaves the guards nothing to check when it names no category (it asks
nothing of a particular kind of error) or sets neither an action nor a
precondition. Settings that cascade from several rules are held by the
run-time guards alone.

The guards read the category, not only the subcategory: ``AUTH`` without a
subcategory is never retried, ``AUTH.TIMESTAMP`` may be. They also read the
request's own evidence (``Situation.unknown``, ``dedupe_all``, ``auth_words``),
so that a rule, bundled or a user's, that names another category cannot
switch them off: a write whose outcome the evidence says is unknown is never
answered plain RETRY.

Delays: ``delay_bounds()`` is the delay guard (``guard.delay-bounds``): a rate
limit waits at least ``RATE_LIMIT_MIN_DELAY_S`` (or the cap, if lower), and no
delay exceeds the cap, or a longer Retry-After. That a delay never decreases
with the attempt is held by the backoff itself (``Backoff``, whose multiplier
must be at least ``1 + jitter``), refused at load otherwise.

The guards read the vocabulary's facts (which categories are never retried,
which operations write, each operation's status query) from the loaded
ontology they are bound to (``GuardSet``); the bundled one is bound once, in
``normalizer._formats.compiled`` (``GUARDS``), and re-exported by
``normalizer._engine.guards``. Pure: no pydantic, no YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from .frozen import field, frozen, replace
from .vocabulary import Action, Category, Operation, Precondition, Scope, wider

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "RATE_LIMIT_MIN_DELAY_S",
    "Guard",
    "GuardSet",
    "Proposal",
    "Situation",
    "wider",
]

RATE_LIMIT_MIN_DELAY_S = 1.0
_RETRYING = (Action.RETRY, Action.QUERY_THEN_RETRY)


@frozen
class Situation:
    """What failed, and what the request was doing.

    The last three are the request's own evidence, read by ``recommend()``
    whatever rule decided the category (``normalizer._engine.recommend``):

    - ``unknown``: the request may have taken effect: a transport failure after
      sending, a code the bundled rules declare unknown-outcome, a 5xx status
      or a busy/unavailable answer (unless the deciding rule declares that
      nothing was done);
    - ``dedupe_all``: the venue refuses a repeated client order id for every
      order it ever had, so resending with the same id cannot place twice;
    - ``auth_words``: an error no rule knows whose text speaks of signatures,
      API keys, passphrases or permissions.
    """

    category: Category
    subcategory: str | None
    operation: Operation
    idempotent: bool
    unknown: bool = False
    dedupe_all: bool = False
    auth_words: bool = False


@frozen
class Proposal:
    """What a policy asks for; ``None`` is "not said" (only in a rule at load)."""

    action: Action | None
    scope: Scope | None = None
    precondition: Precondition | None = None


@frozen
class Guard:
    """A safety guard; subclasses define ``applies`` and ``apply``.

    ``onto`` is the loaded ontology (``normalizer._core.vocabulary.Ontology``)
    whose facts the guard reads.
    """

    id: str
    why: str
    #: a policy rule that asks for what this guard overrides is refused at load
    forbids: bool = True
    onto: Any = field(default=None, repr=False, compare=False)

    def applies(self, s: Situation, p: Proposal) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, s: Situation, p: Proposal) -> Proposal:  # pragma: no cover - abstract
        raise NotImplementedError

    def note(self, s: Situation) -> str:
        """What the guard changed, for ``Recommendation.reason``."""
        return self.why

    def writes_unknown(self, s: Situation) -> bool:
        """A non-idempotent write whose outcome is not known."""
        return unknown_outcome(s) and s.operation in self.onto.writes and not s.idempotent

    def not_a_status_query(self, p: Proposal) -> bool:
        """RETRY, or a QUERY_THEN_RETRY that queries something else than the
        request's status (a clock, credentials): neither says whether it took effect."""
        if p.action is Action.RETRY:
            return True
        return (
            p.action is Action.QUERY_THEN_RETRY
            and p.precondition is not None
            and p.precondition not in self.onto.status_query.values()
        )

    def query_first(self, s: Situation, p: Proposal) -> Proposal:
        """QUERY_THEN_RETRY after the operation's status query, else ESCALATE."""
        query = self.onto.status_query.get(s.operation)
        if query is None:
            return replace(p, action=Action.ESCALATE, precondition=None)
        return replace(p, action=Action.QUERY_THEN_RETRY, precondition=query)


def unknown_outcome(s: Situation) -> bool:
    """Whether the request may have taken effect, by its category or its evidence."""
    return s.unknown or s.category in (Category.UNKNOWN_STATE, Category.UNKNOWN)


#: the operations a client order id names (a cancel sent twice cannot place an order)
_ORDER_PLACING = (Operation.PLACE_ORDER, Operation.AMEND_ORDER)


class _NeverRetry(Guard):
    __slots__ = ()  # no fields of its own: Guard's, and no per-instance dict

    def applies(self, s: Situation, p: Proposal) -> bool:
        return (
            s.category in self.onto.never_retry
            and s.subcategory not in self.onto.retry_allowed
            and p.action in _RETRYING
        )

    def apply(self, s: Situation, p: Proposal) -> Proposal:
        return Proposal(Action.ESCALATE, wider(p.scope or Scope.REQUEST, Scope.ACCOUNT), None)

    def note(self, s: Situation) -> str:
        return f"{s.category.value} errors are never retried"


class _UnknownOutcomeWrite(Guard):
    __slots__ = ()

    def applies(self, s: Situation, p: Proposal) -> bool:
        # a query first, but of the wrong thing (resyncing a clock, refreshing
        # credentials) says nothing about whether the write took effect
        return self.writes_unknown(s) and self.not_a_status_query(p)

    def apply(self, s: Situation, p: Proposal) -> Proposal:
        return self.query_first(s, p)

    def note(self, s: Situation) -> str:
        if self.onto.status_query.get(s.operation) is None:
            return (
                "the earlier attempt may have taken effect and a "
                f"{s.operation.value} cannot be queried, so a person must check"
            )
        return (
            "the earlier attempt may have taken effect, so its status is queried before resending"
        )


class _ResendNeedsDedupe(Guard):
    __slots__ = ()

    """An order of unknown fate sent again with the same client order id is
    safe only where the venue refuses that id for every order it ever had."""

    def applies(self, s: Situation, p: Proposal) -> bool:
        return (
            s.idempotent
            and not s.dedupe_all
            and s.operation in _ORDER_PLACING
            and unknown_outcome(s)
            and self.not_a_status_query(p)
        )

    def apply(self, s: Situation, p: Proposal) -> Proposal:
        return self.query_first(s, p)

    def note(self, s: Situation) -> str:
        return (
            "the venue does not refuse a repeated client order id once the first order is "
            "closed (or at all), so the order is queried before it is sent again"
        )


class _AuthWords(Guard):
    __slots__ = ()

    def applies(self, s: Situation, p: Proposal) -> bool:
        return s.auth_words and s.category is Category.UNKNOWN and p.action in _RETRYING

    def apply(self, s: Situation, p: Proposal) -> Proposal:
        return Proposal(Action.ESCALATE, wider(p.scope or Scope.REQUEST, Scope.ACCOUNT), None)

    def note(self, s: Situation) -> str:
        return (
            "the error's text speaks of credentials or permissions; repeated failed "
            "authentication can lock the key, so a person checks"
        )


class _RateLimitBackoff(Guard):
    __slots__ = ()

    def applies(self, s: Situation, p: Proposal) -> bool:
        # before the unknown-outcome guards: a write whose evidence says it may
        # have taken effect (a rate limit on a 5xx page) is then queried first
        return s.category is Category.RATE_LIMIT and p.action not in (None, Action.RETRY)

    def apply(self, s: Situation, p: Proposal) -> Proposal:
        return replace(p, action=Action.RETRY, precondition=None)

    def note(self, s: Situation) -> str:
        return "rate limits are retried with backoff until the attempts are used up"


class _QueryNeedsPrecondition(Guard):
    __slots__ = ()

    def applies(self, s: Situation, p: Proposal) -> bool:
        return p.action is Action.QUERY_THEN_RETRY and p.precondition is None

    def apply(self, s: Situation, p: Proposal) -> Proposal:
        query = self.onto.status_query.get(s.operation)
        if query is None:
            return replace(p, action=Action.ESCALATE)
        return replace(p, precondition=query)

    def note(self, s: Situation) -> str:
        query = self.onto.status_query.get(s.operation)
        if query is None:
            return f"a {s.operation.value} cannot be queried, so a person must check its outcome"
        return f"the {s.operation.value}'s status is queried first ({query.value})"


class GuardSet:
    """The guards, bound to one loaded ontology, in the order ``recommend()`` applies them."""

    def __init__(self, onto: Any) -> None:
        self.onto = onto
        self.status_queries: frozenset[Precondition] = frozenset(onto.status_query.values())
        self.never_retry = _NeverRetry(
            "guard.never-retry",
            "AUTH (but AUTH.TIMESTAMP) and KYC errors are never retried: the request cannot "
            "succeed until a person acts",
            onto=onto,
        )
        self.unknown_outcome_write = _UnknownOutcomeWrite(
            "guard.unknown-outcome-write",
            "an UNKNOWN_STATE or UNKNOWN error on a non-idempotent write is never plain RETRY, "
            "and is retried only after querying the order's or transfer's status: the earlier "
            "attempt may have taken effect",
            onto=onto,
        )
        self.resend_needs_dedupe = _ResendNeedsDedupe(
            "guard.resend-needs-dedupe",
            "an order whose outcome is unknown is sent again with the same client order id "
            "only where the venue refuses a repeated id for every order it ever had "
            "(client_order_id_dedupe: all_orders); elsewhere its status is queried first",
            forbids=False,  # a fact of the venue, known when recommend() is asked
            onto=onto,
        )
        self.auth_words = _AuthWords(
            "guard.auth-words",
            "an error no rule knows whose text speaks of signatures, API keys, passphrases or "
            "permissions is never retried: failed authentication repeated can lock the key",
            forbids=False,  # read from the error's text, known when recommend() is asked
            onto=onto,
        )
        self.rate_limit_backoff = _RateLimitBackoff(
            "guard.rate-limit-backoff",
            "rate limits are retried with a positive, growing delay until max_attempts; lower "
            "max_attempts to stop sooner",
            onto=onto,
        )
        self.query_needs_precondition = _QueryNeedsPrecondition(
            "guard.query-needs-precondition",
            "QUERY_THEN_RETRY names what to query: the operation's status query, or a person "
            "checks",
            forbids=False,  # a rule may leave the precondition to the operation
            onto=onto,
        )
        self.guards: tuple[Guard, ...] = (
            self.never_retry,
            self.auth_words,
            self.rate_limit_backoff,
            self.unknown_outcome_write,
            self.resend_needs_dedupe,
            self.query_needs_precondition,
        )
        self._refusal: Callable[..., str | None] = lru_cache(maxsize=4096)(self._refuse)

    def guard(self, s: Situation, p: Proposal) -> tuple[Proposal, Guard | None, list[str]]:
        """``p`` after every guard: the result, the last guard that changed it, their notes."""
        last: Guard | None = None
        notes: list[str] = []
        for g in self.guards:
            if g.applies(s, p):
                notes.append(g.note(s))
                p = g.apply(s, p)
                last = g
        return p, last, notes

    @staticmethod
    def delay_bounds(s: Situation, max_s: float) -> float | None:
        """The least delay a retry in ``s`` may have (``guard.delay-bounds``), or None."""
        if s.category is Category.RATE_LIMIT:
            return min(RATE_LIMIT_MIN_DELAY_S, max_s)
        return None

    def refusal(
        self,
        labels: tuple[str, ...] | None,
        operations: tuple[Operation, ...] | None,
        idempotent: bool | None,
        proposal: Proposal,
    ) -> str | None:
        """Why a policy rule asking ``proposal`` when these match is refused, or None.

        Every situation the rule names is tried: each label (a category stands
        for itself and each of its subcategories), each operation (all when none
        is named), each idempotent value (both when not named).
        """
        if not labels or (proposal.action is None and proposal.precondition is None):
            return None
        return self._refusal(labels, operations, idempotent, proposal)

    def _refuse(
        self,
        labels: tuple[str, ...],
        operations: tuple[Operation, ...] | None,
        idempotent: bool | None,
        proposal: Proposal,
    ) -> str | None:
        onto = self.onto
        ops = operations or tuple(Operation)
        idems = (False, True) if idempotent is None else (idempotent,)
        for label in labels:
            cat, sub = onto.parse_label(label)
            subs = (
                (sub,) if sub else (None, *(s for s, c in onto.subcategories.items() if c is cat))
            )
            for one in subs:
                for op in ops:
                    for idem in idems:
                        s = Situation(cat, one, op, idem)
                        for g in self.guards:
                            if g.forbids and g.applies(s, proposal):
                                return _refused(
                                    g,
                                    proposal,
                                    one or cat.value,
                                    op,
                                    g is self.unknown_outcome_write,
                                )
        return None


def _refused(g: Guard, proposal: Proposal, label: str, op: Operation, write: bool) -> str:
    asked = proposal.action.value if proposal.action else "-"
    if proposal.precondition is not None:
        asked += f" after {proposal.precondition.value}"
    during = f" during {op.value}" if write else ""
    idem_note = " (not idempotent)" if write else ""
    return f"then.action {asked} for {label}{during}{idem_note} is what {g.id} forbids: {g.why}"
