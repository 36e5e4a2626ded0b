"""``generic build|check|evaluate``: the generic profile's word model (``analysis.generic``)."""

from __future__ import annotations

import argparse
import json
import sys

from ._common import EXIT_FINDINGS, EXIT_OK, SubParsers, shown, user_rules


def model_file() -> str:
    """The word model's file, as shown to the user."""
    from ..analysis.generic import model_path

    return shown(str(model_path()))


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    ge = sub.add_parser(
        "generic",
        help="the generic profile: rebuild its word model from the bundled catalogs and rules, "
        "or measure it leaving one venue out",
    )
    ge.add_argument("action", choices=["build", "check", "evaluate"])
    ge.add_argument("--json", action="store_true", help="print JSON (evaluate)")
    user_rules(ge)
    ge.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis import generic as g

    if args.action == "build":
        text = g.build()
        n = len(g.training_rows())
        print(
            f"wrote {model_file()} ({n} rows: catalog, rule examples and whys, "
            f"rule-test answers; {len(text)} bytes)"
        )
        return EXIT_OK
    if args.action == "check":
        fresh = g.build(write=False)
        path = g.model_path()
        stored = path.read_text(encoding="utf-8") if path.is_file() else ""
        if stored != fresh:
            print(
                f"{model_file()} is stale: run `exchange-normalizer generic build`",
                file=sys.stderr,
            )
            return EXIT_FINDINGS
        print(f"{model_file()} is up to date")
        return EXIT_OK
    scores = g.leave_one_venue_out()
    if args.json:
        print(json.dumps([s.as_dict() for s in scores], indent=2))
        return EXIT_OK
    print(
        "true leave-one-venue-out: each venue scored by a model trained without its family "
        "and by the generic rules that do not name it"
    )
    print(
        f"{'venue':<16}{'rows':>6}{'category':>10}{'write action':>14}{'UNKNOWN':>9}"
        f"{'by rule':>9}{'rules left out':>16}"
    )
    for sc in scores:
        print(
            f"{sc.venue:<16}{sc.rows:>6}{sc.category:>10.0%}{sc.write_action:>14.0%}"
            f"{sc.abstained:>9.0%}{sc.by_rule:>9.0%}{sc.rules_left_out:>16}"
        )
    n = len(scores)
    print(
        f"{'mean':<16}{sum(s.rows for s in scores):>6}"
        f"{sum(s.category for s in scores) / n:>10.0%}"
        f"{sum(s.write_action for s in scores) / n:>14.0%}"
    )
    pairs, same = g.same_text_agreement(g.training_rows(with_rules=False))
    if pairs:
        print(
            f"where two venue families use the very same text ({pairs} pairs of catalog rows), "
            f"they give it the same category {same / pairs:.0%} of the time"
        )
    return EXIT_OK
