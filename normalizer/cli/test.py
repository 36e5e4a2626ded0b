"""``test``: the policy tests and the venues' rule tests, as data (``normalizer.analysis``)."""

from __future__ import annotations

import argparse
import json

from ._common import EXIT_FINDINGS, EXIT_OK, SubParsers, Usage, shown


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    te = sub.add_parser(
        "test",
        help="run the policy tests (policies/*.tests.yaml) and the venues' rule tests "
        "(rules/*/tests.yaml); report rules no test reaches",
    )
    te.add_argument(
        "policies",
        nargs="*",
        metavar="PATH",
        help="policy tests files, policies or folders (default: the bundled policies)",
    )
    te.add_argument("--rules", action="append", help="a rules folder for the rule tests")
    te.add_argument("--policies-only", action="store_true", help="skip the rule tests")
    te.add_argument("--verbose", "-v", action="store_true", help="list passing cases too")
    te.add_argument("--json", action="store_true", help="print JSON")
    te.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis import run_policy_tests, run_rule_tests

    try:
        report = run_policy_tests(args.policies or None)
    except FileNotFoundError as exc:
        raise Usage(str(exc)) from None
    if not args.policies_only:
        report.extend(run_rule_tests(args.rules or None))
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
    passed = sum(1 for r in report.results if r.passed and not r.skipped)
    skipped = sum(1 for r in report.results if r.skipped)
    print(
        f"test: {len(report.files)} files, {passed} passed, {len(report.failed)} failed"
        + (f", {skipped} skipped" if skipped else "")
        + f", {len(report.unreached)} rules reached by no test"
    )
    return EXIT_OK if report.ok else EXIT_FINDINGS
