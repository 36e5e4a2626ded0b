"""``explain EXCHANGE CODE``: how a code is classified, by which rule and why, and what to do."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Literal

from .._core.text import Template, fold
from .._core.vocabulary import Operation
from .._engine.generic import MODEL_ID
from .._engine.normalize import exchanges, normalize, ruleset_for
from .._engine.recommend import recommend
from .._formats.registry import ONTOLOGY, registry
from .._formats.rules import RuleSet
from ..analysis.locations import rule_location
from ._common import EXIT_OK, EXIT_USAGE, SubParsers, user_rules
from .generic import model_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .._core.table import Entry

_OUTCOME_MEANING = {
    "NOT_SENT": "the request never reached the exchange",
    "REJECTED": "the exchange answered and did not act",
    "UNKNOWN": "the request may have taken effect",
}


def _http_status(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 100 <= value <= 599:
        raise argparse.ArgumentTypeError(f"{value} is not an HTTP status (100-599)")
    return value


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    ex = sub.add_parser(
        "explain", help="show how a code is classified, by which rule and why, and what to do"
    )
    ex.add_argument("exchange", help=f"one of: {', '.join(exchanges())}")
    ex.add_argument("code", nargs="?", help="the exchange's error code")
    ex.add_argument("--message", "-m", help="the exchange's error message")
    ex.add_argument(
        "--http-status", type=_http_status, help="the HTTP status of the answer (100-599)"
    )
    ex.add_argument(
        "--operation", "-o", choices=[o.value for o in Operation], help="what the request was doing"
    )
    ex.add_argument(
        "--idempotent",
        action="store_true",
        help="the request carries a client id the exchange deduplicates on",
    )
    ex.add_argument("--attempt", type=int, default=1, help="which attempt failed (default 1)")
    ex.add_argument("--policy", help="a policy file (default: the bundled policy)")
    ex.add_argument(
        "--documented",
        "-d",
        action="store_true",
        help="also print the catalog's documented messages for the code (after the verdict)",
    )
    ex.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    ex.add_argument(
        "--unknown-exchange",
        choices=["raise", "generic"],
        default="raise",
        help="an exchange no rules know: an error (raise, the default) or the generic profile",
    )
    user_rules(ex)
    ex.set_defaults(func=run, check=check)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int | None:
    """A usage mistake argparse cannot see: explain needs something to explain."""
    if not args.code and not args.message and not args.http_status:
        print(
            f"{parser.prog} explain: error: explain needs a CODE, --message or --http-status",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return None


def _location(rule_id: str | None, rs: RuleSet) -> str | None:
    """Where the rule that decided is written, relative to its rules root."""
    if not rule_id or rule_id == MODEL_ID:
        return None
    rule = rs.by_id.get(rule_id) or rs.by_id.get(rule_id.removeprefix("generic."))
    if rule is None:
        return None
    return rule_location(rule, registry().overlays)


def _documented(rs: RuleSet, code: str | None, message: str | None) -> list[Entry]:
    """The catalog's entries for the code; with a message, only those the message is
    (a reused code such as MEXC 730001 has several)."""
    entries = [e for e in (rs.catalog.entries if rs.catalog else ()) if e.code == code]
    if message:
        folded = fold(message)
        entries = [e for e in entries if Template(e.message).matches(folded)]
    return entries


def run(args: argparse.Namespace) -> int:
    generic: Literal["generic"] | None = "generic" if args.unknown_exchange == "generic" else None
    err = normalize(
        args.exchange,
        code=args.code,
        message=args.message,
        http_status=args.http_status,
        operation=args.operation,
        unknown_exchange=generic,
    )
    rec = recommend(
        err,
        operation=args.operation,
        idempotent=args.idempotent,
        attempt=args.attempt,
        policy=args.policy,
    )
    rs, alias = ruleset_for(args.exchange, generic)
    where = _location(err.rule_id, rs)
    entries = _documented(rs, err.documented_code or err.code, args.message)
    if args.json:
        print(
            json.dumps(
                {
                    "error": {k: v for k, v in err.to_dict().items() if k != "raw"},
                    "rule_location": where,
                    "recommendation": rec.to_dict(),
                    "documented": [
                        {
                            "code": e.code,
                            "message": e.message,
                            "language": e.language,
                            "section": e.section,
                            "source_url": e.source_url,
                        }
                        for e in entries
                    ]
                    if args.documented or args.message
                    else None,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    meaning = (
        ONTOLOGY.subcategory_meaning.get(err.subcategory)
        if err.subcategory
        else ONTOLOGY.category_meaning[err.category]
    )
    title = rs.spec.display_name if alias is None else f"{alias} (by the generic profile)"
    out = [
        f"{title} {args.code or ''}".rstrip(),
        f"recommendation: {rec.action.value}"
        + (f" after {rec.delay_s:.2f}s" if rec.delay_s else "")
        + f", scope {rec.scope.value}"
        + (f", first {rec.precondition.value}" if rec.precondition else "")
        + (f", hold {rec.hold_s:g}s" if rec.hold_s else ""),
        f"  attempts:     {rec.attempt} of {rec.max_attempts}",
        f"  policy rule:  {rec.policy_rule_id}"
        + (f" (overridden by {rec.guard})" if rec.guard else ""),
        f"  reason:       {rec.reason}",
        f"category:       {err.category.value}",
        f"subcategory:    {err.subcategory or '-'}",
        f"meaning:        {meaning}",
        f"outcome:        {err.outcome.value} ({_OUTCOME_MEANING[err.outcome.value]})",
    ]
    if err.rule_id == MODEL_ID:
        out += [
            f"rule:           {err.rule_id}  (the word model, {model_file()})",
            f"why:            {err.rationale}",
            "                 no venue-free rule matched; the words above decided",
        ]
    elif err.rule_id:
        out += [
            f"rule:           {err.rule_id}  ({where})",
            f"why:            {err.rationale}",
            f"source:         {err.source_url}",
        ]
        if err.documented_code:
            out.append(f"recognised as:  documented code {err.documented_code} (by its message)")
    else:
        out.append("rule:           none matched")
    show = args.documented or bool(args.message)
    if entries and not show:
        out.append(
            f"documented:     {len(entries)} catalog entr{'ies' if len(entries) != 1 else 'y'} "
            "for this code (--documented prints them)"
        )
    for e in entries if show else ():
        out.append(f"  documented ({e.language}): {e.message}")
        if e.doc_code:
            out.append(f"    documented as:  {e.doc_code}")
        if e.name:
            out.append(f"    name:           {e.name}")
        if e.description:
            out.append(f"    description:    {e.description}")
        if e.guidance:
            out.append(f"    guidance:       {e.guidance}")
        if e.section:
            out.append(f"    section:        {e.section}")
        out.append(f"    docs:           {e.source_url}")
    print("\n".join(out))
    return EXIT_OK
