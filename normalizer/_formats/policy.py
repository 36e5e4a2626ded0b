"""Policies: what to do about each kind of error, as data users write.

A policy file says, per situation (exchange, category or subcategory,
operation, idempotent), which action to take, in what scope, after what
precondition, with what backoff and how many attempts. It is YAML:

    version: 1
    name: my-router
    extends: default            # layer over the bundled policy (or: none)
    defaults:
      backoff: {initial_s: 0.5, multiplier: 2, max_s: 30, jitter: 0.2}
      max_attempts: 4
    rules:
      - id: okx-rate-limit
        why: OKX rate limits are per account; back off longer.
        when: {exchange: [okx], category: [RATE_LIMIT]}
        then: {scope: account, backoff: {initial_s: 2, max_s: 120}}

Rules cascade like style sheets: every rule that matches a situation is
ordered (the file's own rules before the policy it extends, then the more
specific first) and each setting comes from the first rule that gives it, then
from ``defaults``. ``policy_rule_id`` names the first. Specificity weights:
subcategory 16, category 8, exchange 4, operation 2, idempotent 1.

Backoff reads like tenacity's waits: ``Backoff.exponential(0.5, multiplier=2)
.capped(30).jittered(0.2)`` is ``{initial_s: 0.5, multiplier: 2, max_s: 30,
jitter: 0.2}``. Attempt n waits ``initial_s * multiplier**(n-1)``, times a
random factor in ``[1, 1 + jitter)``, at most ``max_s``. Because a policy must
never make a later attempt wait less than an earlier one, ``multiplier`` must
be at least ``1 + jitter``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from .._core.errors import PolicyError, Problem
from .._core.guards import Proposal
from .._core.policy import (
    Backoff,
    Defaults,
    Policy,
    PolicyRule,
    PolicyWhen,
    Then,
    when_specificity,
)
from .._core.resources import data_dir
from .._core.vocabulary import Action, Precondition, Scope
from .compiled import GUARDS
from .conditions import Situation
from .escalation import EscalationSection, resolve_escalations
from .fields import OneLine
from .yaml import Located, load_file, load_text, problems_from_validation

PolicyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")]
MAX_EXPONENT = 64


class BackoffSpec(BaseModel):
    """A backoff as written in a policy file (compiled to ``Backoff``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_s: Annotated[float, Field(ge=0, le=3600)] = 0.5
    multiplier: Annotated[float, Field(ge=1, le=10)] = 2.0
    max_s: Annotated[float, Field(gt=0, le=86400)] = 30.0
    jitter: Annotated[float, Field(ge=0, lt=1)] = 0.2

    @model_validator(mode="after")
    def _monotone(self) -> BackoffSpec:
        if self.initial_s > 0 and self.multiplier < 1 + self.jitter:
            raise ValueError(
                f"multiplier {self.multiplier} must be at least 1 + jitter ({1 + self.jitter}) "
                "so that no attempt waits less than the one before"
            )
        if self.initial_s > self.max_s:
            raise ValueError(f"initial_s {self.initial_s} is above the cap max_s {self.max_s}")
        return self


class PartialBackoff(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    initial_s: Annotated[float, Field(ge=0, le=3600)] | None = None
    multiplier: Annotated[float, Field(ge=1, le=10)] | None = None
    max_s: Annotated[float, Field(gt=0, le=86400)] | None = None
    jitter: Annotated[float, Field(ge=0, lt=1)] | None = None


Exhausted = Literal["HALT", "ESCALATE"]


class ThenSpec(BaseModel):
    """What a policy rule sets; anything left out cascades."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action | None = None
    scope: Scope | None = None
    precondition: Precondition | None = None
    max_attempts: Annotated[int, Field(ge=1, le=100)] | None = None
    backoff: PartialBackoff | None = None
    hold_s: Annotated[float, Field(gt=0, le=7 * 86400)] | None = None
    exhausted: Exhausted | None = None


class PolicyWhenSpec(Situation):
    """A policy rule's situation: the shared conditions (``conditions.py``) and ``idempotent``."""

    idempotent: bool | None = None

    def specificity(self) -> int:
        return when_specificity(self)


class PolicyRuleSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: PolicyId
    why: OneLine
    when: PolicyWhenSpec = Field(default_factory=PolicyWhenSpec)
    then: ThenSpec

    @model_validator(mode="after")
    def _not_unsafe(self) -> PolicyRuleSpec:
        """Refuse a rule that asks for what a safety guard forbids (normalizer/_core/guards.py)."""
        why = GUARDS.refusal(
            tuple(self.when.category) if self.when.category else None,
            tuple(self.when.operation) if self.when.operation else None,
            self.when.idempotent,
            Proposal(self.then.action, self.then.scope, self.then.precondition),
        )
        if why is not None:
            raise ValueError(why)
        return self


class DefaultsSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action = Action.ESCALATE
    scope: Scope = Scope.REQUEST
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    backoff: BackoffSpec = Field(default_factory=BackoffSpec)
    exhausted: Exhausted = "HALT"
    hold_s: Annotated[float, Field(gt=0, le=7 * 86400)] | None = None


class PartialDefaultsSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action | None = None
    scope: Scope | None = None
    max_attempts: Annotated[int, Field(ge=1, le=100)] | None = None
    backoff: PartialBackoff | None = None
    exhausted: Exhausted | None = None
    hold_s: Annotated[float, Field(gt=0, le=7 * 86400)] | None = None


class PolicyFile(BaseModel):
    """A policy file as written (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    name: PolicyId = "custom"
    extends: Literal["default", "none"] = "default"
    defaults: PartialDefaultsSpec = Field(default_factory=PartialDefaultsSpec)
    rules: list[PolicyRuleSpec] = Field(default_factory=list)
    #: the supervisor's escalation rules (normalizer/_formats/escalation.py)
    escalations: EscalationSection | None = None


# ------------------------------------------------------------------ loading


def _merge_defaults(base: DefaultsSpec, over: PartialDefaultsSpec) -> DefaultsSpec:
    data = base.model_dump()
    for k, v in over.model_dump(exclude_none=True).items():
        if k == "backoff":
            data["backoff"] = {**data["backoff"], **v}
        else:
            data[k] = v
    return DefaultsSpec.model_validate(data)


def _check_layer(parsed: PolicyFile, located: Located, defaults: DefaultsSpec) -> None:
    """Refuse conflicts and backoffs that are invalid once cascaded."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, rule in enumerate(parsed.rules):
        loc = ("rules", i)
        if rule.id in seen:
            problems.append(
                Problem(
                    located.path,
                    located.line_of((*loc, "id")),
                    f"rules[{i}].id",
                    f"{rule.id!r} is also rules[{seen[rule.id]}]",
                )
            )
        seen[rule.id] = i
        if rule.then.backoff is not None:
            merged = {
                **defaults.backoff.model_dump(),
                **rule.then.backoff.model_dump(exclude_none=True),
            }
            try:
                BackoffSpec(**merged)
            except ValidationError as exc:
                problems.append(
                    Problem(
                        located.path,
                        located.line_of((*loc, "then", "backoff")),
                        f"rules[{i}].then.backoff",
                        exc.errors()[0]["msg"].removeprefix("Value error, "),
                    )
                )
    problems += _conflicts(parsed.rules, located)
    if problems:
        raise PolicyError(problems)


_THEN_FIELDS = ("action", "scope", "precondition", "max_attempts", "exhausted", "hold_s")
#: conflicts reported per file at most (a file with more has a systematic mistake)
MAX_CONFLICTS = 50


def _conflicts(rules: list[PolicyRuleSpec], located: Located) -> list[Problem]:
    """Pairs of rules that tie (equal specificity, overlapping situations) and disagree.

    Near-linear: rules are bucketed by what any two overlapping rules of
    equal specificity must share (the top-level category, an exchange, an
    operation, the idempotent flag), rules with the same ``when`` and the same
    settings are compared once, and only pairs within a bucket are compared.
    """
    buckets: dict[tuple[Any, ...], dict[tuple[Any, ...], int]] = {}
    reported: set[tuple[int, int]] = set()
    problems: list[Problem] = []
    for j, b in enumerate(rules):
        w = b.when
        settings = tuple(getattr(b.then, f) for f in _THEN_FIELDS)
        signature = (
            tuple(w.category or ()),
            tuple(w.exchange or ()),
            tuple(w.operation or ()),
            w.idempotent,
            settings,
        )
        tops: list[Any] = sorted({c.split(".")[0] for c in w.category}) if w.category else [None]
        exchanges: list[Any] = list(w.exchange) if w.exchange else [None]
        operations: list[Any] = list(w.operation) if w.operation else [None]
        for top in tops:
            for exchange in exchanges:
                for operation in operations:
                    key = (w.specificity(), top, exchange, operation, w.idempotent)
                    bucket = buckets.setdefault(key, {})
                    if signature in bucket:
                        continue  # the same rule again: compared once, below
                    for other_sig, i in bucket.items():
                        if (i, j) in reported or other_sig[4] == settings:
                            continue
                        a = rules[i]
                        if not _when_overlap(a.when, w):
                            continue
                        clash = [
                            f
                            for f, x, y in zip(_THEN_FIELDS, other_sig[4], settings, strict=True)
                            if x is not None and y is not None and x != y
                        ]
                        if clash:
                            reported.add((i, j))
                            problems.append(_conflict(located, i, j, a, b, clash))
                            if len(problems) >= MAX_CONFLICTS:
                                return problems
                    bucket[signature] = j
    return problems


def _conflict(
    located: Located, i: int, j: int, a: PolicyRuleSpec, b: PolicyRuleSpec, clash: list[str]
) -> Problem:
    return Problem(
        located.path,
        located.line_of(("rules", j, "when")),
        f"rules[{j}].when",
        f"rule {b.id!r} and rule {a.id!r} (line {located.line_of(('rules', i))}) match "
        f"the same situations with equal specificity but set {', '.join(clash)} "
        "differently; make one more specific",
    )


def _when_overlap(a: PolicyWhenSpec, b: PolicyWhenSpec) -> bool:
    def meet(x: list[Any] | None, y: list[Any] | None) -> bool:
        return x is None or y is None or bool(set(x) & set(y))

    if (
        a.category is not None
        and b.category is not None
        and not any(_labels_meet(x, y) for x in a.category for y in b.category)
    ):
        return False
    if a.idempotent is not None and b.idempotent is not None and a.idempotent != b.idempotent:
        return False
    return meet(a.exchange, b.exchange) and meet(a.operation, b.operation)


def _labels_meet(x: str, y: str) -> bool:
    """Whether two category labels select a common situation."""
    return x == y or y.startswith(x + ".") or x.startswith(y + ".")


def _compile_rule(rule: PolicyRuleSpec) -> PolicyRule:
    w, t = rule.when, rule.then
    return PolicyRule(
        rule.id,
        rule.why,
        PolicyWhen(w.exchange, w.category, w.operation, w.idempotent),
        Then(
            t.action,
            t.scope,
            t.precondition,
            t.max_attempts,
            t.backoff.model_dump(exclude_none=True) if t.backoff is not None else None,
            t.hold_s,
            t.exhausted,
        ),
    )


def _defaults_spec(d: Defaults) -> DefaultsSpec:
    return DefaultsSpec(
        action=d.action,
        scope=d.scope,
        max_attempts=d.max_attempts,
        backoff=BackoffSpec(**d.backoff.as_dict()),
        exhausted=d.exhausted,
        hold_s=d.hold_s,
    )


def _from_located(located: Located) -> Policy:
    try:
        parsed = PolicyFile.model_validate(located.data if located.data is not None else {})
    except ValidationError as exc:
        raise PolicyError(problems_from_validation(exc, located)) from None
    if located.data is None:
        raise PolicyError([Problem(located.path, None, "", "the file is empty")])
    base = _default() if parsed.extends == "default" else None
    try:
        defaults = _merge_defaults(
            _defaults_spec(base.defaults) if base else DefaultsSpec(), parsed.defaults
        )
    except ValidationError as exc:
        raise PolicyError(problems_from_validation(exc, located, ("defaults",))) from None
    layers = (tuple(_compile_rule(r) for r in parsed.rules), *(base.layers if base else ()))
    names = (parsed.name, *(base.layer_names if base else ()))
    _check_layer(parsed, located, defaults)
    escalations = resolve_escalations(
        parsed.escalations, base.escalations if base else None, located
    )
    return Policy(
        name=parsed.name,
        source=located.path,
        defaults=Defaults(
            defaults.action,
            defaults.scope,
            defaults.max_attempts,
            Backoff(**defaults.backoff.model_dump()),
            defaults.exhausted,
            defaults.hold_s,
        ),
        layers=layers,
        layer_names=names,
        escalations=escalations,
    )


def load_policy(path: str | Path) -> Policy:
    """Load a policy file; a mistake is refused with the file, the line and the field."""
    return _from_located(load_file(path, PolicyError))


def parse_policy(text: str, path: str = "<policy>") -> Policy:
    """A policy from YAML text (for tests and notebooks)."""
    return _from_located(load_text(text, path, PolicyError))


def _load_default() -> Policy:
    return _from_located(load_file(data_dir("policies") / "default.yaml", PolicyError))


_default_lock = threading.Lock()
_defaults: list[Policy] = []


def _default() -> Policy:
    """The bundled default policy, loaded from its file (the base of ``extends: default``)."""
    if not _defaults:
        with _default_lock:
            if not _defaults:
                _defaults.append(_load_default())
    return _defaults[0]


def compile_default_policy() -> dict[str, Any]:
    """The bundled default policy, checked, as plain data (for the registry)."""
    return _load_default().to_plain()


def default_escalations() -> Any:
    """The bundled default policy's escalation rules (read when the supervisor needs them)."""
    return _load_default().escalations
