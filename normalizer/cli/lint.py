"""``lint [PATH...]``: check rule, catalog and policy files (``normalizer.analysis.lint``)."""

from __future__ import annotations

import argparse
import json

from ._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, SubParsers, Usage, shown, user_rules


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    li = sub.add_parser(
        "lint",
        help="check rule, catalog and policy files: overlaps, shadowed and unreachable rules, "
        "missing sources, undocumented coverage",
    )
    li.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="rules folders, exchange folders or YAML files (default: the bundled rules and "
        "policies)",
    )
    li.add_argument("--strict", action="store_true", help="fail on warnings too")
    li.add_argument(
        "--select",
        action="append",
        metavar="IDS",
        help="report only these checks (comma-separated ids; repeatable)",
    )
    li.add_argument(
        "--ignore",
        action="append",
        metavar="IDS",
        help="do not report these checks (comma-separated ids; repeatable)",
    )
    li.add_argument(
        "--explain",
        metavar="ID",
        nargs="?",
        const="",
        help="say what a check is for, with an example (without ID: every check), and exit",
    )
    li.add_argument("--json", action="store_true", help="print JSON")
    user_rules(li)
    li.set_defaults(func=run)


def explain(which: str) -> int:
    """``lint --explain [ID]``: each check's id, severity, why and example."""
    from ..analysis.lint_checks import CHECKS, check_ids

    try:
        ids = check_ids(which) if which else list(CHECKS)
    except ValueError as exc:
        raise Usage(str(exc)) from None
    print("\n\n".join(CHECKS[i].explain() for i in ids))
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from ..analysis import lint

    if args.explain is not None:
        return explain(args.explain)
    try:
        paths = list(args.paths or ())
        if args.user_rules:  # the bundled data and the user's folders, checked together
            from ..analysis.lint_paths import default_paths

            paths = [*(paths or default_paths()), *args.user_rules]
        report = lint(
            paths or None,
            select=",".join(args.select).split(",") if args.select else None,
            ignore=",".join(args.ignore or ()).split(",") if args.ignore else (),
        )
    except FileNotFoundError as exc:
        raise Usage(f"{exc}; give rule folders, exchange folders or YAML files") from None
    except ValueError as exc:  # an unknown check id
        raise Usage(str(exc)) from None
    failed = bool(report.errors or (args.strict and report.warnings))
    # a file that cannot be used at all (not YAML, not text, hostile) is exit 2
    status = (
        EXIT_USAGE
        if any(f.check == "unusable" for f in report.findings)
        else EXIT_FINDINGS
        if failed
        else EXIT_OK
    )
    if args.json:
        print(
            json.dumps(
                {
                    "clean": not failed,
                    "files": [shown(f) for f in report.files],
                    "findings": [{**f.as_dict(), "path": shown(f.path)} for f in report.findings],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return status
    for f in report.findings:
        where = f"{shown(f.path)}:{f.line}" if f.line is not None else shown(f.path)
        print(f"{where}: {f.severity}: {f.message} [{f.check}]")
    n_err, n_warn = len(report.errors), len(report.warnings)
    verdict = "not clean" if failed else "clean"
    print(
        f"lint: {len(report.files)} files, {n_err} error{'s' * (n_err != 1)}, "
        f"{n_warn} warning{'s' * (n_warn != 1)}: {verdict}"
    )
    return status
