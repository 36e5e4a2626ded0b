"""``test``: the policy tests and the venues' rule tests, as data (``normalizer.analysis``).

The rule tests of the bundled rules run, or, given ``--rules-dir``, those of
each folder given (loaded over the bundled rules for the whole command). Each venue's
share of rules reached by some case must clear its folder's bar
(``test-coverage.yaml``; ``normalizer.analysis.rule_tests`` describes it):
below it, the command fails, as on a failing case.
"""

from __future__ import annotations

import argparse
import json

from ._common import EXIT_FINDINGS, EXIT_OK, SubParsers, Usage, shown, user_rules


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    te = sub.add_parser(
        "test",
        help="run the policy tests (policies/*.tests.yaml) and the venues' rule tests "
        "(rules/*/tests.yaml, or those of each --rules-dir folder); fail on a failing case or "
        "a venue whose tests reach too few of its rules",
    )
    te.add_argument(
        "policies",
        nargs="*",
        metavar="PATH",
        help="policy tests files, policies or folders (default: the bundled policies)",
    )
    user_rules(te)
    # the spelling of earlier versions, kept working (every command says --rules-dir)
    te.add_argument("--rules", dest="user_rules", action="append", help=argparse.SUPPRESS)
    only = te.add_mutually_exclusive_group()
    only.add_argument("--policies-only", action="store_true", help="skip the rule tests")
    only.add_argument("--rules-only", action="store_true", help="skip the policy tests")
    te.add_argument("--verbose", "-v", action="store_true", help="list passing cases too")
    te.add_argument("--json", action="store_true", help="print JSON")
    te.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis import run_policy_tests, run_rule_tests
    from ..analysis.rule_tests import RuleTestsReport

    report = RuleTestsReport()
    if not args.rules_only:
        try:
            report.extend(run_policy_tests(args.policies or None))
        except FileNotFoundError as exc:
            raise Usage(
                f"{exc}; give policy tests files (NAME.tests.yaml), policies or folders of them"
            ) from None
    if not args.policies_only:
        # the folders given, else the bundled rules, each against its own bar
        report.extend(run_rule_tests(args.user_rules or None))
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "files": [shown(f) for f in report.files],
                    "failed": [str(r) for r in report.failed],
                    "passed": sum(1 for r in report.results if r.passed and not r.skipped),
                    "skipped": [str(r) for r in report.results if r.skipped],
                    "unreached": [str(u) for u in report.unreached],
                    "coverage": [
                        {
                            "where": c.where,
                            "exchange": c.exchange,
                            "rules": c.rules,
                            "reached": c.reached,
                            "exempt": c.exempt,
                            "share": round(c.share, 4),
                            "threshold": c.threshold,
                            "ok": c.ok,
                        }
                        for c in report.coverage
                    ],
                    "stale_exemptions": report.stale,
                    "rule_tests": not args.policies_only,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK if report.ok else EXIT_FINDINGS
    for r in report.results:
        if not r.passed or r.skipped or args.verbose:
            print(r)
    for u in report.unreached:
        print(f"not reached: {u}")
    for s in report.stale:
        print(f"stale exemption: {s}")
    for c in report.coverage:
        if not c.ok or args.verbose:
            print(f"coverage: {c}")
    passed = sum(1 for r in report.results if r.passed and not r.skipped)
    skipped = sum(1 for r in report.results if r.skipped)
    below = [c for c in report.coverage if not c.ok]
    exempt = sum(c.exempt for c in report.coverage)
    print(
        f"test: {len(report.files)} files, {passed} passed, {len(report.failed)} failed"
        + (f", {skipped} skipped" if skipped else "")
        + f", {len(report.unreached)} rules reached by no test"
        + (f" ({exempt} more exempt)" if exempt else "")
        + (f", {len(below)} venue{'s' * (len(below) != 1)} below the coverage bar" if below else "")
    )
    return EXIT_OK if report.ok else EXIT_FINDINGS
