"""The ``normalizer`` command.

Exit status: 0 success, 1 the check found problems, 2 a usage mistake or a
file that cannot be used. Errors are one line a person can act on, never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ._catalog import build_catalog, diff_catalogs, dump_catalog, load_catalog, parse_doc
from ._errors import ConfigError, NormalizerError
from ._normalize import exchanges, normalize, registry
from ._ontology import ONTOLOGY, Operation
from ._recommend import recommend

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _explain(args: argparse.Namespace) -> int:
    err = normalize(
        args.exchange,
        code=args.code,
        message=args.message,
        http_status=args.http_status,
        operation=args.operation,
    )
    rec = recommend(
        err,
        operation=args.operation,
        idempotent=args.idempotent,
        attempt=args.attempt,
        policy=args.policy,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "error": err.model_dump(mode="json", exclude={"raw"}),
                    "recommendation": rec.model_dump(mode="json"),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    rs = registry().get(args.exchange)
    meaning = (
        ONTOLOGY.subcategory_meaning.get(err.subcategory)
        if err.subcategory
        else ONTOLOGY.category_meaning[err.category]
    )
    out = [f"{rs.spec.display_name} {args.code or ''}".rstrip()]
    entries = [
        e
        for e in (rs.catalog.entries if rs.catalog else ())
        if e.code == (err.documented_code or err.code)
    ]
    for e in entries:
        out.append(f"  documented ({e.language}): {e.message}")
    out += [
        f"category:       {err.category.value}",
        f"subcategory:    {err.subcategory or '-'}",
        f"meaning:        {meaning}",
    ]
    if err.rule_id:
        rule = rs.by_id[err.rule_id]
        out += [
            f"rule:           {err.rule_id}  ({rule.path}:{rule.line})",
            f"why:            {err.rationale}",
            f"source:         {err.source_url}",
        ]
        if err.documented_code:
            out.append(f"recognised as:  documented code {err.documented_code} (by its message)")
    else:
        out.append("rule:           none matched")
    out += [
        f"recommendation: {rec.action.value}"
        + (f" after {rec.delay_s:.2f}s" if rec.delay_s else "")
        + f", scope {rec.scope.value}"
        + (f", first {rec.precondition.value}" if rec.precondition else "")
        + (f", hold {rec.hold_s:g}s" if rec.hold_s else ""),
        f"  attempts:     {rec.attempt} of {rec.max_attempts}",
        f"  policy rule:  {rec.policy_rule_id}"
        + (f" (overridden by {rec.guard})" if rec.guard else ""),
        f"  reason:       {rec.reason}",
    ]
    print("\n".join(out))
    return EXIT_OK


def _ingest(args: argparse.Namespace) -> int:
    doc_path = Path(args.doc_file)
    try:
        text = doc_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _Usage(f"cannot read {doc_path}: {exc.strerror or exc}") from None
    rs_root = Path(args.rules_dir) if args.rules_dir else registry().root
    folder = rs_root / args.exchange
    if not (folder / "exchange.yaml").is_file():
        known = sorted(p.name for p in rs_root.iterdir() if (p / "exchange.yaml").is_file())
        raise _Usage(
            f"no exchange {args.exchange!r} under {rs_root} (known: {', '.join(known)}); "
            f"create {folder}/exchange.yaml first"
        )
    from ._rules import ExchangeSpec
    from ._yaml import load_file, validate

    spec = validate(
        ExchangeSpec, load_file(folder / "exchange.yaml"), context={"exchange": args.exchange}
    )
    parsed = parse_doc(text, path=str(doc_path), source_url=args.source_url or None)
    url = args.source_url or parsed.meta.get("source_url") or spec.docs_url
    new = build_catalog(args.exchange, parse_doc(text, path=str(doc_path), source_url=url), url)
    target = folder / "catalog.yaml"
    old = load_catalog(target) if target.is_file() else None
    drift = diff_catalogs(old, new)
    print(
        f"{args.exchange}: {len(new.entries)} entries, {len(new.codes())} codes, "
        f"languages {', '.join(new.languages())}"
    )
    for e in drift.added:
        print(f"  + {e.code} [{e.language}] {e.message}")
    for e in drift.removed:
        print(f"  - {e.code} [{e.language}] {e.message}")
    for a, b in drift.changed_message:
        print(f"  ~ {b.code} [{b.language}] message: {a.message!r} -> {b.message!r}")
    for a, b in drift.changed_status:
        print(f"  ~ {b.code} [{b.language}] HTTP status: {a.http_status} -> {b.http_status}")
    if drift.empty:
        print("  no drift: the catalog already matches the page")
    if not args.dry_run:
        target.write_text(dump_catalog(new, args.doc_file), encoding="utf-8")
        print(f"wrote {target}")
    # codes with no rule of the exchange's own
    from ._rules import load_rules_file

    rules_path = folder / "rules.yaml"
    own = load_rules_file(rules_path, args.exchange) if rules_path.is_file() else []
    ruled = {c for r in own if r.codes for c in r.codes}
    ranges = [r.when.code_range for r in own if r.when.code_range]
    uncovered = [
        c
        for c in new.codes()
        if c not in ruled
        and not any(lo <= _int(c) <= hi for lo, hi in ranges if _int(c) is not None)
    ]
    if uncovered:
        print(f"codes without a rule ({len(uncovered)}): {', '.join(uncovered)}")
        return EXIT_FINDINGS
    return EXIT_OK


def _int(code: str) -> int | None:
    try:
        return int(code)
    except ValueError:
        return None


class _Usage(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="normalizer",
        description="Normalize crypto-exchange errors and recommend what to do about them.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ex = sub.add_parser(
        "explain", help="show how a code is classified, by which rule and why, and what to do"
    )
    ex.add_argument("exchange", help=f"one of: {', '.join(exchanges())}")
    ex.add_argument("code", nargs="?", help="the exchange's error code")
    ex.add_argument("--message", "-m", help="the exchange's error message")
    ex.add_argument("--http-status", type=int, help="the HTTP status of the answer")
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
    ex.add_argument("--json", action="store_true", help="print JSON")
    ex.set_defaults(func=_explain)

    ing = sub.add_parser(
        "ingest", help="turn a docs page into the exchange's catalog and report drift"
    )
    ing.add_argument("exchange")
    ing.add_argument("doc_file")
    ing.add_argument("--source-url", help="the page's URL when it has no front matter")
    ing.add_argument("--rules-dir", help="the rules folder to update (default: the bundled one)")
    ing.add_argument("--dry-run", action="store_true", help="report drift without writing")
    ing.set_defaults(func=_ingest)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (
        getattr(args, "command", None) == "explain"
        and not args.code
        and not args.message
        and not args.http_status
    ):
        parser.error("explain needs a CODE, --message or --http-status")
    try:
        return int(args.func(args))
    except _Usage as exc:
        print(f"normalizer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"normalizer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (NormalizerError, ValueError) as exc:
        print(f"normalizer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # pragma: no cover - `normalizer ... | head`
        return EXIT_OK
