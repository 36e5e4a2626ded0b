"""The ``exchange-normalizer`` command (also ``python -m normalizer``).

    exchange-normalizer explain EXCHANGE CODE   how a code is classified and what to do
    exchange-normalizer lint [PATHS]            check rule, catalog, policy files
    exchange-normalizer coverage [--json]       documented codes: specific, generic, none
    exchange-normalizer ingest EXCHANGE PAGE... docs pages -> catalog, with the drift
    exchange-normalizer batch INPUT -o OUT      classify a CSV, JSON Lines or Parquet log
    exchange-normalizer test                    policy tests and rule tests, as data

The package does not install a script called ``normalizer``: charset-normalizer
(which ``requests`` pulls in) installs one, and a shared name would run
whichever package was installed last. Usage lines and messages name the
program as it was invoked.

Exit status: 0 success, 1 the check found problems (lint errors, codes
without a rule), 2 a usage mistake or a file that cannot be used (missing,
malformed, unknown exchange), 130 interrupted. Errors are messages a person
can act on, never a traceback (set ``NORMALIZER_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ._core.errors import ConfigError, NormalizerError
from ._core.text import Template, fold
from ._core.vocabulary import Operation
from ._engine.generic import MODEL_ID
from ._engine.normalize import exchanges, normalize, registry, ruleset_for
from ._engine.recommend import recommend
from ._formats.catalog import diff_catalogs, dump_catalog, load_catalog
from ._formats.registry import ONTOLOGY, current_registry, load_rules, restore_registry

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_SOFTWARE, EXIT_INTERRUPTED = 0, 1, 2, 70, 130


def _explain(args: argparse.Namespace) -> int:
    err = normalize(
        args.exchange,
        code=args.code,
        message=args.message,
        http_status=args.http_status,
        operation=args.operation,
        unknown_exchange="generic" if args.unknown_exchange == "generic" else None,
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
                    "error": {k: v for k, v in err.to_dict().items() if k != "raw"},
                    "recommendation": rec.to_dict(),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    rs, alias = ruleset_for(
        args.exchange, "generic" if args.unknown_exchange == "generic" else None
    )
    meaning = (
        ONTOLOGY.subcategory_meaning.get(err.subcategory)
        if err.subcategory
        else ONTOLOGY.category_meaning[err.category]
    )
    title = rs.spec.display_name if alias is None else f"{alias} (by the generic profile)"
    out = [f"{title} {args.code or ''}".rstrip()]
    entries = [
        e
        for e in (rs.catalog.entries if rs.catalog else ())
        if e.code == (err.documented_code or err.code)
    ]
    if args.message:  # a reused code (MEXC 730001): show the entry the message is
        folded = fold(args.message)
        matching = [e for e in entries if Template(e.message).matches(folded)]
        entries = matching or entries
    for e in entries:
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
    out += [
        f"category:       {err.category.value}",
        f"subcategory:    {err.subcategory or '-'}",
        f"meaning:        {meaning}",
        f"outcome:        {err.outcome.value} ({_OUTCOME_MEANING[err.outcome.value]})",
    ]
    if err.rule_id == MODEL_ID:
        out += [
            f"rule:           {err.rule_id}  (the word model, {_model_file()})",
            f"why:            {err.rationale}",
            "                 no venue-free rule matched; the words above decided",
        ]
    elif err.rule_id:
        rule = rs.by_id.get(err.rule_id) or rs.by_id[err.rule_id.removeprefix("generic.")]
        out += [
            f"rule:           {err.rule_id}  ({_shown(str(rule.path))}:{rule.line})",
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


def _in_source_checkout(root: Path) -> bool:
    """Whether a rules folder is part of a source checkout (not an installed package)."""
    resolved = root.resolve()
    if any(part in ("site-packages", "dist-packages") for part in resolved.parts):
        return False
    return (resolved.parent / "pyproject.toml").is_file()


def _ingest(args: argparse.Namespace) -> int:
    pages: list[tuple[str, str]] = []
    for name in args.pages:
        try:
            pages.append((name, Path(name).read_text(encoding="utf-8")))
        except OSError as exc:
            raise _Usage(f"cannot read {name}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise _Usage(
                f"{name} is not UTF-8 text (byte {exc.start}: a binary file?); "
                "give a docs page in Markdown"
            ) from None
    rs_root = Path(args.rules_dir) if args.rules_dir else registry().root
    if not rs_root.is_dir():
        raise _Usage(f"no rules folder at {rs_root}")
    if not args.rules_dir and not args.dry_run and not _in_source_checkout(rs_root):
        raise _Usage(
            f"the bundled rules at {rs_root} belong to an installed package: ingest never "
            "writes there; run it in a source checkout, or give --rules-dir (or --dry-run)"
        )
    folder = rs_root / args.exchange
    if not (folder / "exchange.yaml").is_file():
        known = sorted(
            p.name
            for p in rs_root.iterdir()
            if (p / "exchange.yaml").is_file() and p.name != "generic"
        )
        raise _Usage(
            f"no exchange {args.exchange!r} under {rs_root} (known: {', '.join(known)}); "
            f"create {folder}/exchange.yaml first"
        )
    from ._formats.catalog import ingest_pages, section_drift
    from ._formats.rules import ExchangeSpec
    from ._formats.yaml import load_file, validate

    spec = validate(
        ExchangeSpec, load_file(folder / "exchange.yaml"), context={"exchange": args.exchange}
    )
    done = ingest_pages(
        args.exchange,
        pages,
        docs_url=spec.docs_url,
        subcode_separator=spec.subcode_separator,
        success_codes=spec.response.success_codes,
        source_url=args.source_url or None,
    )
    new = done.catalog
    target = folder / "catalog.yaml"
    old = load_catalog(target) if target.is_file() else None
    drift = diff_catalogs(old, new)
    print(
        f"{args.exchange}: {len(new.entries)} entries, {len(new.codes())} codes, "
        f"{len(new.sections())} sections, languages {', '.join(new.languages())}"
    )
    for page in done.pages:
        note = {"page": "", "option": " (--source-url)", "exchange.yaml": " (exchange.yaml)"}
        print(f"  page {page.path}: {page.rows} rows, {page.source_url}{note[page.url_from]}")
    if done.skipped_success:
        print(
            f"  left out {done.skipped_success} rows of success codes {spec.response.success_codes}"
        )
    if done.duplicates:
        print(f"  kept {done.duplicates} exactly repeated rows once")
    for section, d in section_drift(drift).items():
        print(f"  [{section or 'no section'}]")
        for e in d.added:
            print(f"  + {e.documented_as} [{e.language}] {e.message}")
        for e in d.removed:
            print(f"  - {e.documented_as} [{e.language}] {e.message}")
        for a, b in d.changed_message:
            print(f"  ~ {b.documented_as} [{b.language}] message: {a.message!r} -> {b.message!r}")
        for a, b in d.changed_status:
            print(
                f"  ~ {b.documented_as} [{b.language}] HTTP status: "
                f"{a.http_status} -> {b.http_status}"
            )
    if drift.empty:
        print("  no drift: the catalog already matches the pages")
    if not args.dry_run:
        origin = " ".join(_origin(folder, p) for p, _ in pages)
        target.write_text(dump_catalog(new, origin), encoding="utf-8")
        print(f"wrote {target}")
        outside = [p for p, _ in pages if Path(p).resolve().parent != (folder / "docs").resolve()]
        if outside:
            print(f"  keep the pages in {folder / 'docs'}/ so the catalog can be rebuilt")
    # codes with no rule of the exchange's own
    from ._formats.rules import load_rules_file

    rules_path = folder / "rules.yaml"
    own = load_rules_file(rules_path, args.exchange) if rules_path.is_file() else []
    ruled = {c for r in own if r.codes for c in r.codes}
    ranges = [r.when.code_range for r in own if r.when.code_range]
    uncovered = [c for c in new.codes() if c not in ruled and not _in_any(c, ranges)]
    if uncovered:
        added = {e.code for e in drift.added}
        fresh = [c for c in uncovered if c in added]
        if fresh and old is not None:
            print(f"new codes without a rule ({len(fresh)}): {', '.join(fresh)}")
        print(f"codes without a rule ({len(uncovered)}): {', '.join(uncovered)}")
        return EXIT_FINDINGS
    return EXIT_OK


def _origin(folder: Path, page: str) -> str:
    """How a page is named in the catalog's header: relative to the exchange's folder."""
    try:
        return str(Path(page).resolve().relative_to(folder.resolve().parent.parent))
    except ValueError:
        return Path(page).name


def _shown(path: str) -> str:
    """A path relative to the working directory when it lies under it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


def _lint(args: argparse.Namespace) -> int:
    from ._lint import lint

    try:
        paths = list(args.paths or ())
        if args.user_rules:  # the bundled data and the user's folders, checked together
            from ._lint import default_paths

            paths = [*(paths or default_paths()), *args.user_rules]
        report = lint(paths or None)
    except FileNotFoundError as exc:
        raise _Usage(f"{exc}; give rule folders, exchange folders or YAML files") from None
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
                    "files": [_shown(f) for f in report.files],
                    "findings": [{**f.as_dict(), "path": _shown(f.path)} for f in report.findings],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return status
    for f in report.findings:
        where = f"{_shown(f.path)}:{f.line}" if f.line is not None else _shown(f.path)
        print(f"{where}: {f.severity}: {f.message} [{f.check}]")
    n_err, n_warn = len(report.errors), len(report.warnings)
    verdict = "not clean" if failed else "clean"
    print(
        f"lint: {len(report.files)} files, {n_err} error{'s' * (n_err != 1)}, "
        f"{n_warn} warning{'s' * (n_warn != 1)}: {verdict}"
    )
    return status


def _coverage(args: argparse.Namespace) -> int:
    from ._lint import coverage

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
            f"{_PROG[0]}: no exchanges under {', '.join(args.user_rules or ['the bundled rules'])}"
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


_OUTCOME_MEANING = {
    "NOT_SENT": "the request never reached the exchange",
    "REJECTED": "the exchange answered and did not act",
    "UNKNOWN": "the request may have taken effect",
}


# ------------------------------------------------------------------ batch


def _batch(args: argparse.Namespace) -> int:
    from .batch._stream import run_batch

    summary = run_batch(
        args.input,
        args.output,
        out_format=args.format,
        exchange=args.exchange,
        policy=args.policy,
        rules_dir=None,  # --rules-dir folders are loaded for the whole command (main)
        seed=args.seed,
        strict=args.strict,
        chunk_rows=args.chunk_rows,
        errors=args.errors,
        progress=args.progress,
        unknown=args.unknown_exchange,
    )
    if args.output != "-" or summary.bad_rows or summary.notes:
        print(summary.line(), file=sys.stderr)
    return EXIT_FINDINGS if summary.bad_rows or summary.notes else EXIT_OK


def _test(args: argparse.Namespace) -> int:
    from .analysis import run_policy_tests, run_rule_tests

    try:
        report = run_policy_tests(args.policies or None)
    except FileNotFoundError as exc:
        raise _Usage(str(exc)) from None
    if not args.policies_only:
        report.extend(run_rule_tests(args.rules or None))
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "files": [_shown(f) for f in report.files],
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


def _in_any(code: str, ranges: list[tuple[int, int]]) -> bool:
    n = _int(code)
    return n is not None and any(lo <= n <= hi for lo, hi in ranges)


def _int(code: str) -> int | None:
    try:
        return int(code)
    except ValueError:
        return None


class _Usage(Exception):
    pass


def _model_file() -> str:
    from .analysis.generic import model_path

    return _shown(str(model_path()))


def _generic(args: argparse.Namespace) -> int:
    from .analysis import generic as g

    if args.action == "build":
        text = g.build()
        n = len(g.training_rows())
        print(f"wrote {_model_file()} ({n} rows: catalog, rule examples, whys; {len(text)} bytes)")
        return EXIT_OK
    if args.action == "check":
        fresh = g.build(write=False)
        path = g.model_path()
        stored = path.read_text(encoding="utf-8") if path.is_file() else ""
        if stored != fresh:
            print(f"{_model_file()} is stale: run `normalizer generic build`", file=sys.stderr)
            return EXIT_FINDINGS
        print(f"{_model_file()} is up to date")
        return EXIT_OK
    scores = g.leave_one_venue_out()
    if args.json:
        print(json.dumps([s.__dict__ for s in scores], indent=2))
        return EXIT_OK
    print(
        f"{'venue':<10}{'rows':>6}{'category':>10}{'write action':>14}{'UNKNOWN':>9}{'by rule':>9}"
    )
    for sc in scores:
        print(
            f"{sc.venue:<10}{sc.rows:>6}{sc.category:>10.0%}{sc.write_action:>14.0%}"
            f"{sc.abstained:>9.0%}{sc.by_rule:>9.0%}"
        )
    return EXIT_OK


def _user_rules(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules-dir",
        dest="user_rules",
        action="append",
        metavar="DIR",
        help="a folder of your own rules, added beside the bundled ones (repeatable; later "
        "folders outrank earlier ones, and both outrank the bundled rules)",
    )


def _http_status(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 100 <= value <= 599:
        raise argparse.ArgumentTypeError(f"{value} is not an HTTP status (100-599)")
    return value


#: the program's name as invoked (set by main()); messages begin with it
_PROG = ["exchange-normalizer"]


def prog_name(argv0: str | None = None) -> str:
    """The program's name as the user invoked it, for usage lines and messages."""
    name = os.path.basename(argv0 if argv0 is not None else (sys.argv[0] if sys.argv else ""))
    if name in ("", "-c", "-m"):
        return "exchange-normalizer"
    if name == "__main__.py":
        return "python -m normalizer"
    return name


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from ._core.resources import VERSION as __version__

    p = argparse.ArgumentParser(
        prog=prog or prog_name(),
        description="Normalize crypto-exchange errors and recommend what to do about them.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    ex.add_argument("--json", action="store_true", help="print JSON")
    ex.add_argument(
        "--unknown-exchange",
        choices=["raise", "generic"],
        default="raise",
        help="an exchange no rules know: an error (raise, the default) or the generic profile",
    )
    _user_rules(ex)
    ex.set_defaults(func=_explain)

    ing = sub.add_parser(
        "ingest", help="turn docs pages into the exchange's catalog and report drift per section"
    )
    ing.add_argument("exchange")
    ing.add_argument("pages", nargs="+", metavar="PAGE", help="docs pages (Markdown)")
    ing.add_argument(
        "--source-url", help="the URL of pages without front matter (default: exchange.yaml's)"
    )
    ing.add_argument("--rules-dir", help="the rules folder to update (default: the bundled one)")
    ing.add_argument("--dry-run", action="store_true", help="report drift without writing")
    ing.set_defaults(func=_ingest)

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
    li.add_argument("--json", action="store_true", help="print JSON")
    _user_rules(li)
    li.set_defaults(func=_lint)

    co = sub.add_parser(
        "coverage",
        help="per exchange, how many documented codes map to a specific category, a generic "
        "one, or nothing",
    )
    co.add_argument("--exchange", "-e", action="append", help="only this exchange (repeatable)")
    _user_rules(co)
    co.add_argument("--json", action="store_true", help="print JSON")
    co.set_defaults(func=_coverage)

    ge = sub.add_parser(
        "generic",
        help="the generic profile: rebuild its word model from the bundled catalogs and rules, "
        "or measure it leaving one venue out",
    )
    ge.add_argument("action", choices=["build", "check", "evaluate"])
    ge.add_argument("--json", action="store_true", help="print JSON (evaluate)")
    _user_rules(ge)
    ge.set_defaults(func=_generic)

    ba = sub.add_parser(
        "batch",
        help="classify a CSV, JSON Lines or Parquet log of errors, streamed in chunks; write CSV "
        "or Parquet with category, rule and recommendation added, bad rows to OUT.errors.jsonl",
    )
    ba.add_argument("input", help="a .csv/.tsv, .jsonl/.ndjson or .parquet file, or - for stdin")
    ba.add_argument("--output", "-o", default="-", help="OUT.csv or OUT.parquet (default: stdout)")
    ba.add_argument("--format", choices=["csv", "parquet"], help="default: from the output name")
    ba.add_argument("--exchange", help="the exchange of rows that do not name one")
    ba.add_argument("--policy", help="a policy file (default: the bundled policy)")
    ba.add_argument("--seed", type=int, help="make the jittered delays reproducible")
    ba.add_argument("--strict", action="store_true", help="stop at the first bad row (exit 2)")
    ba.add_argument("--errors", help="where bad rows are reported (default: OUT.errors.jsonl)")
    ba.add_argument("--chunk-rows", type=int, default=20_000, help="rows per chunk (20000)")
    ba.add_argument(
        "--unknown-exchange",
        choices=["skip", "generic", "fail"],
        default="skip",
        help="rows of an exchange no rules know: leave them unclassified (skip, the default), "
        "classify them by the generic profile, or fail",
    )
    progress = ba.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show a progress bar (default: when standard error is a terminal)",
    )
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    _user_rules(ba)
    ba.set_defaults(func=_batch)
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
    te.set_defaults(func=_test)
    return p


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line; returns the exit status (argparse's own included).

    ``prog`` names the program in usage lines and messages: by default the
    name it was invoked by (``sys.argv[0]``) when ``argv`` is None, else
    ``exchange-normalizer``.
    """
    if prog is None:
        prog = prog_name() if argv is None else "exchange-normalizer"
    _PROG[0] = prog
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage mistake argparse reported
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if (
        getattr(args, "command", None) == "explain"
        and not args.code
        and not args.message
        and not args.http_status
    ):
        print(
            f"{parser.prog} explain: error: explain needs a CODE, --message or --http-status",
            file=sys.stderr,
        )
        return EXIT_USAGE
    saved = current_registry()
    try:
        for folder in getattr(args, "user_rules", None) or ():
            load_rules(folder)
        return int(args.func(args))
    except _Usage as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (NormalizerError, ValueError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # pragma: no cover - `normalizer ... | head`
        return EXIT_OK
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        name = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"{prog}: cannot use{name}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get("NORMALIZER_DEBUG"):
            raise
        print(
            f"{prog}: unexpected {type(exc).__name__}: {exc}. This is a bug; please report "
            "it with the command you ran (NORMALIZER_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_SOFTWARE
    finally:
        restore_registry(saved)  # main() called in-process (tests) leaves no folders behind
