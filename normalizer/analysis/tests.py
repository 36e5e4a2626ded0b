"""One runner for every test written as data: policy tests and rule tests."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .policy_tests import TestReport, run_policy_tests

#: Where the venues' rule-test runner (``rules/*/tests.yaml``) lives, and its
#: function: ``run(paths) -> TestReport``-like (``results``, ``unreached``,
#: ``files``). Written beside the rules' loader by the rules' owners; until it
#: exists in this build, ``run_rule_tests`` reports that and runs nothing.
RULE_TESTS_RUNNERS = (
    ("normalizer.analysis.rule_tests", "run_rule_tests"),
    ("normalizer._rule_tests", "run_rule_tests"),
)


def _rule_runner() -> Callable[..., Any] | None:
    for module, name in RULE_TESTS_RUNNERS:
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if callable(found):
            return found  # type: ignore[no-any-return]
    return None


def run_rule_tests(paths: Sequence[str | Path] | None = None) -> TestReport | None:
    """The venues' rule tests, or None when this build has no rule-test runner."""
    runner = _rule_runner()
    if runner is None:
        return None
    out = runner(list(paths) if paths else None)
    if isinstance(out, TestReport):
        return out
    report = TestReport()  # another runner's report: its parts, as far as they go
    report.results += list(getattr(out, "results", ()))
    report.unreached += list(getattr(out, "unreached", ()))
    report.files += list(getattr(out, "files", ()))
    return report


def run_tests(
    policy_paths: Sequence[str | Path] | None = None,
    rule_paths: Sequence[str | Path] | None = None,
) -> tuple[TestReport, bool]:
    """Policy tests and rule tests together; the flag says whether rule tests ran."""
    report = run_policy_tests(list(policy_paths) if policy_paths else None)
    rules = run_rule_tests(rule_paths)
    if rules is not None:
        report.extend(rules)
    return report, rules is not None
