"""The analysis API: tools for the people who keep the rules and policies.

The command line, the notebooks and the README use these functions; nothing
here is on a router's hot path.

- ``run_policy_tests(paths)``: policy tests as data (``policies/*.tests.yaml``),
  with the policy and escalation rules no test reaches;
- ``run_tests(paths)``: those and the venues' rule tests (``rules/*/tests.yaml``).
"""

from .policy_tests import (
    CaseResult,
    TestReport,
    Unreached,
    load_policy_tests,
    run_policy_tests,
)
from .tests import run_rule_tests, run_tests

__all__ = [
    "CaseResult",
    "TestReport",
    "Unreached",
    "load_policy_tests",
    "run_policy_tests",
    "run_rule_tests",
    "run_tests",
]
