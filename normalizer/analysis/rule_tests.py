"""The venues' rule tests (``rules/*/tests.yaml``) in the analysis report's terms,
and the bar their coverage must clear.

The engine runs each case through the public ``normalize()``
(``normalizer._engine.ruletests``); this adapter turns its report into the
``TestReport`` that the policy tests use, so that ``exchange-normalizer test``
prints both the same way and fails on either.

Coverage, as OPA's ``opa test --threshold``: for each venue, the share of its
own rules that some case reaches (the rule that decided a case, or one of its
items) must be at least the threshold of ``test-coverage.yaml`` at the top of
the rules folder; a rule can be left out of the count only by name (or an
``fnmatch`` pattern), with the reason it has no test::

    threshold: 0.8
    exempt:
      - rules: ["okx.ws.*"]
        why: WebSocket frames are not in tests.yaml yet.

A folder without that file is held to ``DEFAULT_THRESHOLD`` with nothing
exempt. An exemption naming a rule a case now reaches is reported, so that the
list only shrinks.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._core.arguments import paths_of
from .._core.errors import Problem, RuleFileError
from .._core.frozen import frozen
from .._engine.ruletests import RuleTestReport
from .._engine.ruletests import run_rule_tests as _run_engine
from .._formats.registry import (
    current_registry,
    load_rules,
    registry,
    restore_registry,
)
from .._formats.yaml import load_file
from .policy_tests import CaseResult, TestReport, Unreached

#: the file at the top of a rules folder that sets its bar
BAR_FILE = "test-coverage.yaml"
#: the share of a venue's own rules its tests must reach when the folder sets no bar
DEFAULT_THRESHOLD = 0.8


@frozen
class Exemption:
    """Rules (ids or ``fnmatch`` patterns) left out of the coverage count, and why."""

    patterns: tuple[str, ...]
    why: str

    def covers(self, rule_id: str) -> bool:
        return any(fnmatch.fnmatchcase(rule_id, p) for p in self.patterns)


@frozen
class Bar:
    """What a rules folder's tests must reach: a threshold and the exemptions."""

    threshold: float = DEFAULT_THRESHOLD
    exempt: tuple[Exemption, ...] = ()
    path: str | None = None

    def why_exempt(self, rule_id: str) -> str | None:
        for e in self.exempt:
            if e.covers(rule_id):
                return e.why
        return None


def load_bar(root: Path) -> Bar:
    """The bar of the rules folder ``root`` (its ``test-coverage.yaml``, else the default)."""
    path = root / BAR_FILE
    if not path.is_file():
        return Bar()
    located = load_file(path, RuleFileError)
    data = located.data
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise RuleFileError([Problem(str(path), 1, "", "must be a mapping")])
    threshold = data.get("threshold", DEFAULT_THRESHOLD)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0 <= threshold <= 1
    ):
        problems.append(
            Problem(str(path), located.line_of(("threshold",)), "threshold", "a share, 0 to 1")
        )
    exempt: list[Exemption] = []
    for i, raw in enumerate(data.get("exempt") or ()):
        line = located.line_of(("exempt", i))
        rules = raw.get("rules") if isinstance(raw, dict) else None
        why = raw.get("why") if isinstance(raw, dict) else None
        if isinstance(rules, str):
            rules = [rules]
        if not isinstance(rules, list) or not rules or not all(isinstance(r, str) for r in rules):
            problems.append(Problem(str(path), line, f"exempt[{i}].rules", "a list of rule ids"))
            continue
        if not isinstance(why, str) or len(why.strip()) < 8:
            problems.append(
                Problem(str(path), line, f"exempt[{i}].why", "say why these rules have no test")
            )
            continue
        exempt.append(Exemption(tuple(rules), why.strip()))
    if problems:
        raise RuleFileError(problems)
    return Bar(float(threshold), tuple(exempt), str(path))


@frozen
class VenueCoverage:
    """How much of one venue's own rules its tests reach, against the bar."""

    exchange: str
    rules: int
    reached: int
    exempt: int
    threshold: float
    where: str

    @property
    def counted(self) -> int:
        return self.rules - self.exempt

    @property
    def share(self) -> float:
        return self.reached / self.counted if self.counted else 1.0

    @property
    def ok(self) -> bool:
        return self.share + 1e-9 >= self.threshold

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"FAIL, below {self.threshold:.0%}"
        return (
            f"{self.where}: {self.reached} of {self.counted} rules reached by a test "
            f"({self.share:.0%}; {self.exempt} exempt): {verdict}"
        )


@dataclass
class RuleTestsReport(TestReport):
    """The rule tests' cases, the rules no case reaches, and each venue's coverage."""

    coverage: list[VenueCoverage] = field(default_factory=list)
    #: exemptions naming rules a case now reaches (remove them)
    stale: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and all(c.ok for c in self.coverage)

    def extend(self, other: TestReport) -> None:
        super().extend(other)
        if isinstance(other, RuleTestsReport):
            self.coverage += other.coverage
            self.stale += other.stale


def _reached(engine: RuleTestReport) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in engine.results:
        if r.result is not None:
            for e in (r.result, *r.result.items):
                if e.rule_id:
                    out.setdefault(r.case.exchange, set()).add(e.rule_id)
    return out


def _under(path: str, root: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(root)
    except OSError:  # pragma: no cover
        return False


def _run_one(root: Path | None, report: RuleTestsReport) -> None:
    reg = registry()
    base = (root or reg.root).resolve()
    engine = _run_engine(root)
    for r in engine.results:
        case = r.case
        report.results.append(CaseResult(case.path, case.line, case.id, "rule-test", r.mismatches))
        if case.path not in report.files:
            report.files.append(case.path)
    reached = _reached(engine)
    bar = load_bar(base)
    where_root = "rules" if root is None else str(root)
    overlays = [o.resolve() for o in reg.overlays]
    for name in reg.names:
        own = [
            r
            for r in reg.get(name).rules
            if r.exchange == name
            and (
                _under(r.path, base)
                if root is not None
                else not any(_under(r.path, o) for o in overlays)
            )
        ]
        if not own:
            continue
        hit = reached.get(name, set())
        exempt = 0
        for rule in own:
            why = bar.why_exempt(rule.id)
            if rule.id in hit:
                if why is not None:
                    report.stale.append(
                        f"{bar.path}: {rule.id} is exempt ({why}) but a case reaches it now: "
                        "remove it from the exemptions"
                    )
                continue
            if why is not None:
                exempt += 1
                continue
            report.unreached.append(Unreached(f"{where_root}/{name}", rule.id, "rule"))
        report.coverage.append(
            VenueCoverage(
                name,
                len(own),
                sum(1 for r in own if r.id in hit),
                exempt,
                bar.threshold,
                f"{where_root}/{name}",
            )
        )


def run_rule_tests(paths: str | Path | Sequence[str | Path] | None = None) -> RuleTestsReport:
    """Every rule test under each rules folder in ``paths`` (one folder or a list;
    default: the bundled rules), each venue's coverage against its folder's bar;
    ``PathNotFoundError`` for a folder that does not exist.

    A folder not yet added with ``load_rules`` is added for the run (its venues and
    rules are what its tests exercise) and taken away after.
    """
    report = RuleTestsReport()
    given = paths_of("paths", paths, must_exist=True)
    roots: list[Path | None] = list(given) if given else [None]  # None: the bundled rules
    for root in roots:
        if root is None:
            _run_one(None, report)
            continue
        saved = current_registry()
        loaded = {o.resolve() for o in registry().overlays}
        try:
            if root.resolve() not in loaded and root.resolve() != registry().root.resolve():
                load_rules(root)
            _run_one(root, report)
        finally:
            restore_registry(saved)
    return report
