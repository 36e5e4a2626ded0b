"""One runner for every test written as data: policy tests and rule tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .policy_tests import TestReport, run_policy_tests
from .rule_tests import RuleTestsReport, run_rule_tests


def run_tests(
    policy_paths: str | Path | Sequence[str | Path] | None = None,
    rule_paths: str | Path | Sequence[str | Path] | None = None,
) -> TestReport:
    """Policy tests and the venues' rule tests together, in one report (which fails on a
    failing case or a venue below its rule-test coverage bar)."""
    report = RuleTestsReport()
    report.extend(run_policy_tests(policy_paths))
    report.extend(run_rule_tests(rule_paths))
    return report


__all__ = ["run_rule_tests", "run_tests"]
