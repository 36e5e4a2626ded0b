"""Policy tests as data, as OPA tests its policies.

Beside each policy ``NAME.yaml`` a file ``NAME.tests.yaml`` lists situations
with the recommendation expected, and escalation scenarios (streams of events)
with the supervisor's decisions expected:

    policy: default.yaml            # optional; default: NAME.yaml beside this file
    cases:
      - id: okx-rate-limit-backs-off-the-account
        given: {exchange: okx, error: RATE_LIMIT.REQUESTS, operation: place_order,
                idempotent: false, attempt: 1, retry_after_s: 2}
        expect: {action: RETRY, scope: account, rule: rate-limit}
    scenarios:
      - id: venue-rate-limit-storm
        events:
          - {at: 0, exchange: okx, error: RATE_LIMIT, account: a1, expect: {action: RETRY}}
          - {at: 1, success: true, exchange: okx, account: a1}
          - {at: 2, exchange: okx, error: RATE_LIMIT, account: a2,
             expect: {action: HALT, scope_key: okx, rule: venue-rate-limit-storm}}

``given``/an event: ``exchange``, ``error`` (a category or subcategory label),
``operation``, ``idempotent``, ``attempt``, ``retry_after_s``; an event also
``account``, ``symbol``, ``request_id`` and ``at`` (the supervisor's clock).
An event with ``success: true`` is ``observe_success()`` instead.

``expect`` of a case: any of ``action``, ``scope``, ``precondition`` (``null``
for none), ``rule`` (the policy rule that decided: ``rate-limit`` or
``default:rate-limit``), ``guard`` (``null`` for none), ``exhausted``,
``max_attempts``, ``hold_s``. ``expect`` of an event: ``action``, ``scope``,
``scope_key``, ``precondition``, ``rule`` (the escalation rule, ``null``: the
recommendation stood), ``hold_s``, ``until``.

``run_policy_tests()`` runs them and reports each failure with its file and
line, and the policy rules and escalation rules no test reaches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .._core.arguments import paths_of
from .._core.errors import ConfigError, PolicyError, Problem, SupervisorUnavailable
from .._core.frozen import frozen
from .._core.policy import Policy
from .._core.resources import data_dir
from .._core.vocabulary import Action, Operation, Precondition, Scope
from .._engine.recommend import recommend
from .._engine.results import NormalizedError
from .._formats.policy import load_policy
from .._formats.registry import ONTOLOGY
from .._formats.yaml import Located, load_file, validate

CaseId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,119}$")]
SUFFIX = ".tests.yaml"
_UNSET: Any = object()


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Given(_Strict):
    exchange: str = "okx"
    error: str
    operation: Operation = Operation.PLACE_ORDER
    idempotent: bool = False
    attempt: Annotated[int, Field(ge=1, le=1000)] = 1
    retry_after_s: Annotated[float, Field(ge=0)] | None = None

    def error_object(self) -> NormalizedError:
        cat, sub = ONTOLOGY.parse_label(self.error)
        return NormalizedError(
            exchange=self.exchange,
            category=cat,
            subcategory=sub,
            operation=self.operation,
            retry_after_s=self.retry_after_s,
        )


class CaseExpect(_Strict):
    action: Action | None = None
    scope: Scope | None = None
    precondition: Precondition | None = _UNSET
    rule: str | None = None
    guard: str | None = _UNSET
    exhausted: bool | None = None
    max_attempts: int | None = None
    hold_s: float | None = _UNSET


class Case(_Strict):
    id: CaseId
    why: str | None = None
    given: Given
    expect: CaseExpect


class EventExpect(_Strict):
    action: Action | None = None
    scope: Scope | None = None
    scope_key: str | None = None
    precondition: Precondition | None = _UNSET
    rule: str | None = _UNSET
    hold_s: float | None = _UNSET
    until: float | None = _UNSET


class Event(_Strict):
    at: float = 0.0
    success: bool = False
    exchange: str = "okx"
    error: str | None = None
    operation: Operation = Operation.PLACE_ORDER
    idempotent: bool = False
    attempt: Annotated[int, Field(ge=1, le=1000)] | None = None
    retry_after_s: Annotated[float, Field(ge=0)] | None = None
    account: str | None = None
    symbol: str | None = None
    request_id: str | None = None
    expect: EventExpect | None = None


class Scenario(_Strict):
    id: CaseId
    why: str | None = None
    events: Annotated[list[Event], Field(min_length=1)]


class PolicyTestsFile(_Strict):
    policy: str | None = None
    cases: list[Case] = Field(default_factory=list)
    scenarios: list[Scenario] = Field(default_factory=list)


# ------------------------------------------------------------------ results


@frozen
class CaseResult:
    """One case or scenario: where it is written and what did not hold."""

    path: str
    line: int | None
    id: str
    kind: Literal["case", "scenario", "rule-test"]
    failures: tuple[str, ...] = ()
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        if self.skipped:
            return f"{where}: skipped {self.kind} {self.id}: {self.skipped}"
        if self.passed:
            return f"{where}: ok {self.kind} {self.id}"
        return f"{where}: FAIL {self.kind} {self.id}: " + "; ".join(self.failures)


@frozen
class Unreached:
    """A policy or escalation rule that no test reaches."""

    policy: str
    rule_id: str
    kind: Literal["policy rule", "escalation rule", "rule"]

    def __str__(self) -> str:
        return f"{self.policy}: {self.kind} {self.rule_id} is reached by no test"


@dataclass
class TestReport:
    """The outcome of a test run: every case, and what no test reaches."""

    __test__ = False  # not a pytest class

    results: list[CaseResult] = field(default_factory=list)
    unreached: list[Unreached] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def ok(self) -> bool:
        return not self.failed

    def extend(self, other: TestReport) -> None:
        self.results += other.results
        self.unreached += other.unreached
        self.files += other.files


# ------------------------------------------------------------------ running


def policy_test_files(paths: str | Path | Sequence[str | Path] | None = None) -> list[Path]:
    """The ``*.tests.yaml`` files under ``paths`` (one path or a list; default:
    the bundled policies); ``PathNotFoundError`` for one that does not exist."""
    targets = paths_of("paths", paths, must_exist=True) or [data_dir("policies")]
    out: list[Path] = []
    for p in targets:
        if p.is_dir():
            out += sorted(p.glob(f"*{SUFFIX}"))
        elif p.name.endswith(SUFFIX):
            out.append(p)
        elif p.suffix in (".yaml", ".yml") and p.with_name(p.stem + SUFFIX).is_file():
            out.append(p.with_name(p.stem + SUFFIX))  # a policy: the tests beside it
    return out


def load_policy_tests(path: str | Path) -> tuple[PolicyTestsFile, Located]:
    """A policy tests file, or ``PolicyError`` with the file, the line and the field."""
    located = load_file(path, PolicyError)
    return validate(PolicyTestsFile, located, PolicyError), located


def run_policy_tests(paths: str | Path | Sequence[str | Path] | None = None) -> TestReport:
    """Run every policy tests file under ``paths`` (default: the bundled policies).

    A file that cannot be loaded (or whose policy cannot) is one failing
    result naming its problems; it does not stop the others.
    """
    report = TestReport()
    for path in policy_test_files(paths):
        report.extend(run_file(path))
    return report


def run_file(path: str | Path) -> TestReport:
    """The results of one policy tests file."""
    p = Path(path)
    report = TestReport(files=[str(p)])
    try:
        spec, located = load_policy_tests(p)
        policy_path = p.parent / (spec.policy or p.name.removesuffix(SUFFIX) + ".yaml")
        policy = load_policy(policy_path)
    except ConfigError as exc:
        report.results.append(
            CaseResult(str(p), exc.line, "(file)", "case", tuple(str(x) for x in exc.problems))
        )
        return report
    reached: set[str] = set()
    escalated: set[str] = set()
    for i, case in enumerate(spec.cases):
        line = located.line_of(("cases", i))
        report.results.append(_run_case(str(p), line, case, policy, reached))
    for i, scenario in enumerate(spec.scenarios):
        line = located.line_of(("scenarios", i))
        report.results.append(
            _run_scenario(str(p), line, located, i, scenario, policy, reached, escalated)
        )
    own = policy.layers[0] if policy.layers else ()
    for rule in own:
        if f"{policy.name}:{rule.id}" not in reached:
            report.unreached.append(Unreached(str(policy_path), rule.id, "policy rule"))
    scenarios_ran = any(r.kind == "scenario" and not r.skipped for r in report.results)
    if scenarios_ran or not spec.scenarios:
        for esc in policy.escalations.rules:
            if esc.id not in escalated:
                report.unreached.append(Unreached(str(policy_path), esc.id, "escalation rule"))
    return report


def _rule_id(policy: Policy, rule: str) -> str:
    return rule if ":" in rule else f"{policy.name}:{rule}"


def _compare(name: str, want: Any, got: Any) -> str | None:
    if want is _UNSET or (want is None and name in ("action", "scope", "scope_key")):
        return None
    if want != got:
        shown = getattr(got, "value", got)
        wanted = getattr(want, "value", want)
        return f"{name}: expected {wanted!r}, got {shown!r}"
    return None


def _run_case(
    path: str, line: int | None, case: Case, policy: Policy, reached: set[str]
) -> CaseResult:
    g = case.given
    rec = recommend(
        g.error_object(),
        operation=g.operation,
        idempotent=g.idempotent,
        attempt=g.attempt,
        policy=policy,
        rand=lambda: 0.0,
    )
    reached.add(rec.policy_rule_id)
    e = case.expect
    checks = [
        ("action", e.action, rec.action),
        ("scope", e.scope, rec.scope),
        ("precondition", e.precondition, rec.precondition),
        ("guard", e.guard, rec.guard),
        ("hold_s", e.hold_s, rec.hold_s),
    ]
    if e.rule is not None:
        checks.append(("rule", _rule_id(policy, e.rule), rec.policy_rule_id))
    if e.exhausted is not None:
        checks.append(("exhausted", e.exhausted, rec.retries_exhausted))
    if e.max_attempts is not None:
        checks.append(("max_attempts", e.max_attempts, rec.max_attempts))
    failures = tuple(f for f in (_compare(*c) for c in checks) if f)
    return CaseResult(path, line, case.id, "case", failures)


def _run_scenario(
    path: str,
    line: int | None,
    located: Located,
    index: int,
    scenario: Scenario,
    policy: Policy,
    reached: set[str],
    escalated: set[str],
) -> CaseResult:
    from ..supervisor import Supervisor

    now = [0.0]
    try:
        sup = Supervisor(policy, clock=lambda: now[0])
    except SupervisorUnavailable as exc:
        return CaseResult(path, line, scenario.id, "scenario", skipped=str(exc))
    failures: list[str] = []
    try:
        for j, ev in enumerate(scenario.events):
            now[0] = ev.at
            where = f"event {j + 1} (line {located.line_of(('scenarios', index, 'events', j))})"
            if ev.success:
                sup.observe_success(
                    ev.exchange, account=ev.account, symbol=ev.symbol, request_id=ev.request_id
                )
                continue
            if ev.error is None:
                failures.append(f"{where}: an event needs error: LABEL or success: true")
                continue
            cat, sub = ONTOLOGY.parse_label(ev.error)
            err = NormalizedError(
                exchange=ev.exchange,
                category=cat,
                subcategory=sub,
                operation=ev.operation,
                retry_after_s=ev.retry_after_s,
            )
            d = sup.observe(
                err,
                operation=ev.operation,
                account=ev.account,
                symbol=ev.symbol,
                request_id=ev.request_id,
                idempotent=ev.idempotent,
                attempt=ev.attempt,
            )
            reached.add(d.recommendation.policy_rule_id)
            if d.escalation_rule_id:
                escalated.add(d.escalation_rule_id)
            x = ev.expect
            if x is None:
                continue
            checks = [
                ("action", x.action, d.action),
                ("scope", x.scope, d.scope),
                ("scope_key", x.scope_key, d.scope_key),
                ("precondition", x.precondition, d.precondition),
                ("rule", x.rule, d.escalation_rule_id),
                ("hold_s", x.hold_s, d.hold_s),
                ("until", x.until, d.until),
            ]
            failures += [f"{where}: {f}" for f in (_compare(*c) for c in checks) if f]
    finally:
        sup.close()
    return CaseResult(path, line, scenario.id, "scenario", tuple(failures))


def problems_of(path: str | Path) -> list[Problem]:
    """The problems of a policy tests file (for ``lint``): none when it loads."""
    try:
        load_policy_tests(path)
    except ConfigError as exc:
        return list(exc.problems)
    return []
