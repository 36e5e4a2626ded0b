"""The venues' rule tests (``rules/*/tests.yaml``) in the analysis report's terms.

The engine runs each case through the public ``normalize()``
(``normalizer._engine.ruletests``); this adapter turns its report into the
``TestReport`` that the policy tests use, so that ``exchange-normalizer test``
prints both the same way and fails on either.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .._engine.ruletests import run_rule_tests as _run_engine
from .policy_tests import CaseResult, TestReport, Unreached


def run_rule_tests(paths: Sequence[str | Path] | None = None) -> TestReport:
    """Every rule test under each rules folder in ``paths`` (default: the bundled rules)."""
    report = TestReport()
    for root in list(paths) if paths else [None]:
        engine = _run_engine(root)
        for r in engine.results:
            case = r.case
            report.results.append(
                CaseResult(case.path, case.line, case.id, "rule-test", r.mismatches)
            )
            if case.path not in report.files:
                report.files.append(case.path)
        for exchange, ids in sorted(engine.unreached.items()):
            report.unreached += [Unreached(f"rules/{exchange}", i, "rule") for i in ids]
    return report
