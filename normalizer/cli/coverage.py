"""``coverage``: per exchange, documented codes by level (``normalizer.analysis.coverage``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._formats.registry import registry
from ._common import EXIT_FINDINGS, EXIT_OK, PROG, SubParsers, user_rules


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    co = sub.add_parser(
        "coverage",
        help="per exchange, how many documented codes map to a specific category, a generic "
        "one, or nothing",
    )
    co.add_argument("--exchange", "-e", action="append", help="only this exchange (repeatable)")
    user_rules(co)
    co.add_argument("--json", action="store_true", help="print JSON")
    co.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis import coverage

    only = args.exchange
    if not only and args.user_rules:  # measure the user's venues (seen with the bundled rules)
        only = sorted(
            {
                p.name
                for d in args.user_rules
                for p in Path(d).iterdir()
                if p.name in registry().names
            }
        )
    rows = coverage(None, only or None) if only or not args.user_rules else []
    if not rows:
        print(
            f"{PROG[0]}: no exchanges under {', '.join(args.user_rules or ['the bundled rules'])}"
            ": a rules folder holds one folder per "
            "exchange, each with an exchange.yaml",
            file=sys.stderr,
        )
        return EXIT_FINDINGS
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2))
        return EXIT_OK

    def pct(n: int, total: int) -> str:
        return f"{n} ({100 * n / total:.0f}%)" if total else "0"

    head = f"{'exchange':<12}{'codes':>7}{'specific':>13}{'generic':>13}{'none':>13}"
    print(head)
    total = [0, 0, 0, 0]
    for r in rows:
        print(
            f"{r.exchange:<12}{r.codes:>7}{pct(r.specific, r.codes):>13}"
            f"{pct(r.generic, r.codes):>13}{pct(r.none, r.codes):>13}"
        )
        if len(r.sections) > 1 or (r.sections and r.sections[0].section):
            for sec in r.sections:
                print(
                    f"{'':<12}{sec.codes:>7}{pct(sec.specific, sec.codes):>13}"
                    f"{pct(sec.generic, sec.codes):>13}{pct(sec.none, sec.codes):>13}"
                    f"  {sec.section or '(no section)'}"
                )
        for i, n in enumerate((r.codes, r.specific, r.generic, r.none)):
            total[i] += n
    if len(rows) > 1:
        c, sp, g, no = total
        print(f"{'total':<12}{c:>7}{pct(sp, c):>13}{pct(g, c):>13}{pct(no, c):>13}")
    for r in rows:
        for v in r.generic_codes:
            print(f"  generic  {r.exchange} {v.code}: {v.label} by {v.rule_id}  {v.message[:70]!r}")
        for v in r.unmapped_codes:
            print(f"  none     {r.exchange} {v.code}: {v.message[:70]!r}")
    return EXIT_OK
