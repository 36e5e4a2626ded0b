"""Escalation rules: what the supervisor does about the stream of errors.

``recommend()`` judges one error; a policy file's ``escalations:`` section says
what a run of errors means. A rule either counts the errors that match a
pattern, per scope, within a time window, or follows a sequence of patterns
for one request id:

    escalations:
      disable: [venue-rate-limit-storm]      # inherited rules to drop
      rules:
        - id: account-rate-limit-storm
          why: Three rate limits on one account within ten seconds mean the key is over its budget.
          when: {category: [RATE_LIMIT]}     # the pattern (all given conditions hold)
          count: 3                           # this many matching errors ...
          within_s: 10                       # ... within this many seconds ...
          per: account                       # ... counted per account (default: then.scope)
          then: {action: HALT, scope: account, hold_s: 20}
        - id: unknown-repeated
          why: The same unrecognised error three times in a row is not transient.
          when: {category: [UNKNOWN]}
          count: 3
          within_s: 300
          in_a_row: true                     # another error or a success in the scope resets it
          same_error: true                   # count each error (label, code, message) apart
          then: {action: ESCALATE, scope: account, hold_s: 300}
        - id: reconcile-then-retry
          why: A placement in an unknown state that two queries then cannot find was never placed.
          sequence:                          # in this order, for one request id
            - {category: [UNKNOWN_STATE], operation: [place_order]}
            - {category: [NOT_FOUND.ORDER], operation: [query]}
            - {category: [NOT_FOUND.ORDER], operation: [query]}
          within_s: 600
          min_age_s: 5                       # the last step counts only this long after the first
          then: {action: RETRY, scope: request, replace: true}

A pattern (``when`` or a ``sequence`` step) may give ``category`` (categories
or subcategories, as in policy rules), ``not_category``, ``exchange``,
``operation``, ``account`` and ``exhausted`` (the error used up the retries the
policy allows). ``then.action`` is HALT (``hold_s`` required: halts expire),
ESCALATE (a person must look; with ``hold_s`` the scope is also halted
meanwhile) or, for sequences only, RETRY at request scope.
``then.lifted_by_success: true`` lets a success in the halted scope lift the
halt before it expires.

Re-placing. ``then.replace: true`` (RETRY sequences only) says the decision is
to place the original order again (``Decision.replace``), not to retry the
last request. Such a sequence's last step counts only ``min_age_s`` (default
``DEFAULT_REPLACE_MIN_AGE_S``, at least ``MIN_REPLACE_AGE_S``) after its
first step, since a venue can take seconds to show a new order; and its
first step counts only for a placement observed with ``idempotent=True`` (a
client order id the venue deduplicates on) unless
``then.even_if_not_idempotent: true`` says the policy accepts the risk of a
duplicate order.

A policy that extends another inherits its escalation rules; a rule with the id
of an inherited one replaces it, and ``disable`` drops inherited ones.

Size limits: at most ``MAX_ESCALATION_RULES`` rules (own and inherited),
``MAX_VALUES_PER_CONDITION`` values per condition, ``MAX_SEQUENCE_STEPS``
steps per sequence. Single-error conditions are compiled to Python predicates
(``normalizer/supervisor/_matchers.py``); durable-rules only joins the steps of
a sequence on the request id, so no policy can reach its size limits.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from .._core.errors import PolicyError, Problem
from .._core.vocabulary import Action, Scope
from .conditions import MAX_VALUES_PER_CONDITION, Labels, Situation, one_or_many
from .fields import OneLine
from .yaml import Located, PathKey, field_name

#: At most this many escalation rules in one policy (its own plus inherited).
MAX_ESCALATION_RULES = 64
#: Steps of a sequence.
MAX_SEQUENCE_STEPS = 4
MAX_HOLD_S = 7 * 86400.0
MAX_WINDOW_S = 86400.0
#: A re-placing sequence's last step counts this long after its first by default.
DEFAULT_REPLACE_MIN_AGE_S = 5.0
#: ... and never sooner than this: order visibility is a matter of seconds.
MIN_REPLACE_AGE_S = 1.0

EscalationId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")]
_Why = OneLine
_Account = Annotated[str, StringConstraints(min_length=1, max_length=128)]


_Accounts = Annotated[list[_Account], Field(min_length=1, max_length=MAX_VALUES_PER_CONDITION)]


class Match(Situation):
    """A pattern one error either matches or not; every condition given must hold.

    ``category``, ``exchange`` and ``operation`` are the conditions policy
    rules use too (``normalizer/_formats/conditions.py``); an escalation
    pattern adds ``not_category``, ``account`` and ``exhausted``.
    """

    not_category: Labels | None = None
    account: Annotated[_Accounts, BeforeValidator(one_or_many)] | None = None
    exhausted: bool | None = None


class EscalationThen(BaseModel):
    """What a rule does when it fires."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action
    scope: Scope
    hold_s: Annotated[float, Field(gt=0, le=MAX_HOLD_S)] | None = None
    lifted_by_success: bool = False
    replace: bool = False
    even_if_not_idempotent: bool = False


class EscalationRule(BaseModel):
    """One escalation rule as written; ``check_rule`` holds the rules between fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: EscalationId
    why: _Why
    when: Match | None = None
    sequence: Annotated[list[Match], Field(min_length=2, max_length=MAX_SEQUENCE_STEPS)] | None = (
        None
    )
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    within_s: Annotated[float, Field(gt=0, le=MAX_WINDOW_S)] | None = None
    min_age_s: Annotated[float, Field(ge=0, le=MAX_WINDOW_S)] | None = None
    per: Scope | None = None
    in_a_row: bool = False
    same_error: bool = False
    then: EscalationThen

    @property
    def replace_min_age_s(self) -> float:
        """How long after its first step the last step of a sequence may count."""
        if self.min_age_s is not None:
            return self.min_age_s
        return DEFAULT_REPLACE_MIN_AGE_S if self.then.replace else 0.0

    @property
    def group_scope(self) -> Scope:
        """The scope errors are counted per."""
        return self.per or self.then.scope

    def patterns(self) -> list[tuple[str, Match]]:
        """The single-error patterns of this rule, each with its id in the rulesets."""
        if self.sequence is not None:
            return [(f"{self.id}#{i}", step) for i, step in enumerate(self.sequence)]
        return [(self.id, self.when or Match())]


def check_rule(rule: EscalationRule) -> list[tuple[PathKey, str]]:
    """What is wrong between the fields of ``rule``: (field path, message) pairs."""
    out: list[tuple[PathKey, str]] = []
    then = rule.then
    if rule.when is not None and rule.sequence is not None:
        out.append((("sequence",), "give either when (errors to count) or sequence, not both"))
    if rule.when is None and rule.sequence is None:
        out.append((("when",), "required field is missing (or give a sequence)"))
    if then.action is Action.QUERY_THEN_RETRY:
        out.append((("then", "action"), "an escalation halts, escalates or (sequences) retries"))
    if then.action is Action.HALT and then.hold_s is None:
        out.append((("then", "hold_s"), "a HALT must say how long it holds; halts expire"))
    if then.action is Action.RETRY:
        if rule.sequence is None:
            out.append(
                (("then", "action"), "RETRY is for sequences; more errors never make a retry safe")
            )
        if then.scope is not Scope.REQUEST:
            out.append((("then", "scope"), "a RETRY applies to the request (scope: request)"))
        if then.hold_s is not None or then.lifted_by_success:
            field = "hold_s" if then.hold_s is not None else "lifted_by_success"
            out.append((("then", field), "a RETRY does not hold anything"))
    if (then.replace or then.even_if_not_idempotent) and (
        then.action is not Action.RETRY or rule.sequence is None
    ):
        field = "replace" if then.replace else "even_if_not_idempotent"
        out.append((("then", field), "applies to a sequence whose action is RETRY"))
    if then.even_if_not_idempotent and not then.replace:
        out.append((("then", "even_if_not_idempotent"), "applies to re-placing (replace: true)"))
    if then.replace and rule.min_age_s is not None and rule.min_age_s < MIN_REPLACE_AGE_S:
        out.append(
            (
                ("min_age_s",),
                f"a re-placement waits at least {MIN_REPLACE_AGE_S:g}s (seconds, not "
                "milliseconds): a venue can take that long to show a new order",
            )
        )
    if rule.min_age_s is not None and rule.sequence is None:
        out.append((("min_age_s",), "applies to sequences"))
    if then.lifted_by_success and then.hold_s is None and then.action is not Action.RETRY:
        out.append((("then", "lifted_by_success"), "only a hold (hold_s) can be lifted"))
    if rule.sequence is not None:
        if rule.within_s is None:
            out.append((("within_s",), "a sequence must complete within a time (within_s)"))
        for name, default in (("count", 1), ("per", None), ("in_a_row", False)):
            if getattr(rule, name) != default:
                out.append(((name,), "applies to counted rules (when), not to sequences"))
        if rule.same_error:
            out.append((("same_error",), "applies to counted rules (when), not to sequences"))
    else:
        if rule.count > 1 and rule.within_s is None:
            out.append((("within_s",), f"count {rule.count} needs a time window (within_s)"))
        if rule.in_a_row and rule.count < 2:
            out.append((("in_a_row",), "needs a count of at least 2"))
    return out


class EscalationSection(BaseModel):
    """The ``escalations:`` section of a policy file, as written."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    disable: list[EscalationId] = Field(default_factory=list)
    rules: Annotated[list[EscalationRule], Field(max_length=MAX_ESCALATION_RULES)] = Field(
        default_factory=list
    )


class Escalations(BaseModel):
    """A policy's effective escalation rules (its own first, then the inherited ones)."""

    model_config = ConfigDict(frozen=True)

    rules: tuple[EscalationRule, ...] = ()

    def patterns(self) -> dict[str, Match]:
        return {pid: m for rule in self.rules for pid, m in rule.patterns()}


def resolve_escalations(
    section: EscalationSection | None, base: Escalations | None, located: Located
) -> Escalations:
    """Layer ``section`` over the inherited ``base``.

    Every mistake is reported with the file, the line and the field.
    """
    inherited = base.rules if base is not None else ()
    if section is None:
        return base if base is not None else Escalations()
    problems: list[Problem] = []

    def problem(loc: PathKey, message: str) -> None:
        full = ("escalations", *loc)
        problems.append(Problem(located.path, located.line_of(full), field_name(full), message))

    seen: dict[str, int] = {}
    for i, rule in enumerate(section.rules):
        if rule.id in seen:
            problem(("rules", i, "id"), f"{rule.id!r} is also rules[{seen[rule.id]}]")
        seen.setdefault(rule.id, i)
        for loc, message in check_rule(rule):
            problem(("rules", i, *loc), message)
    inherited_ids = {r.id for r in inherited}
    for i, rid in enumerate(section.disable):
        if rid not in inherited_ids:
            problem(("disable", i), f"no inherited escalation rule is called {rid!r}")
        elif rid in seen:
            problem(("disable", i), f"{rid!r} is both disabled and redefined in rules")
    if problems:
        raise PolicyError(problems)

    dropped = set(section.disable) | set(seen)
    rules = (*section.rules, *(r for r in inherited if r.id not in dropped))
    if len(rules) > MAX_ESCALATION_RULES:
        problem(
            ("rules",),
            f"{len(rules)} escalation rules with the inherited ones; at most "
            f"{MAX_ESCALATION_RULES} are allowed (disable some inherited ones)",
        )
        raise PolicyError(problems)
    return Escalations(rules=rules)
