"""``batch INPUT -o OUT``: classify a log of errors, streamed in chunks (``normalizer.batch``).

A CSV, TSV or Parquet file takes the fast path (``_fastbatch``: pandas and
pyarrow read each chunk, the partition function ``classify_frame`` runs
classifies it); JSON Lines, standard input and ``--strict`` take
``normalizer.batch.run_batch``, which reads row by row.
"""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_FINDINGS, EXIT_OK, SubParsers, user_rules


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
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
    ba.add_argument(
        "--chunk-rows",
        type=int,
        help="rows per chunk (500000 for a CSV or Parquet file, else 20000)",
    )
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
    user_rules(ba)
    ba.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..batch._stream import run_batch
    from . import _fastbatch

    if _fastbatch.eligible(args):  # a CSV/TSV/Parquet file: read and classified in chunks
        summary = _fastbatch.run(args)
        if args.output != "-" or summary.bad_rows or summary.notes:
            print(summary.line(), file=sys.stderr)
        return EXIT_FINDINGS if summary.bad_rows or summary.notes else EXIT_OK
    summary = run_batch(
        args.input,
        args.output,
        out_format=args.format,
        exchange=args.exchange,
        policy=args.policy,
        rules_dir=None,  # --rules-dir folders are loaded for the whole command (main)
        seed=args.seed,
        strict=args.strict,
        chunk_rows=args.chunk_rows if args.chunk_rows is not None else 20_000,
        errors=args.errors,
        progress=args.progress,
        unknown=args.unknown_exchange,
    )
    if args.output != "-" or summary.bad_rows or summary.notes:
        print(summary.line(), file=sys.stderr)
    return EXIT_FINDINGS if summary.bad_rows or summary.notes else EXIT_OK
