"""``ingest EXCHANGE PAGE...``: docs pages to the catalog, with the drift per section.

Only the sections the pages list are updated; the catalog's other sections
stay as they are unless ``--drop-other-sections`` says the pages are the whole
catalog. ``--dry-run`` prints the drift per section and writes nothing.
"""

from __future__ import annotations

import argparse

from ._common import EXIT_FINDINGS, EXIT_OK, SubParsers


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    ing = sub.add_parser(
        "ingest", help="turn docs pages into the exchange's catalog and report drift per section"
    )
    ing.add_argument("exchange")
    ing.add_argument("pages", nargs="+", metavar="PAGE", help="docs pages (Markdown)")
    ing.add_argument(
        "--source-url", help="the URL of pages without front matter (default: exchange.yaml's)"
    )
    ing.add_argument("--rules-dir", help="the rules folder to update (default: the bundled one)")
    ing.add_argument(
        "--dry-run", action="store_true", help="print the drift per section; write nothing"
    )
    ing.add_argument(
        "--drop-other-sections",
        action="store_true",
        help="the pages are the whole catalog: remove the sections they do not list (by "
        "default those sections are kept as they are)",
    )
    ing.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis import ingest

    done = ingest(
        args.exchange,
        args.pages,
        rules_dir=args.rules_dir,
        source_url=args.source_url,
        dry_run=args.dry_run,
        drop_other_sections=args.drop_other_sections,
    )
    new = done.catalog
    print(
        f"{args.exchange}: {len(new.entries)} entries, {len(new.codes())} codes, "
        f"{len(new.sections())} section{'s' * (len(new.sections()) != 1)}, "
        f"languages {', '.join(new.languages())}"
    )
    for page in done.ingested.pages:
        note = {"page": "", "option": " (--source-url)", "exchange.yaml": " (exchange.yaml)"}
        print(f"  page {page.path}: {page.rows} rows, {page.source_url}{note[page.url_from]}")
    if done.ingested.skipped_success:
        print(
            f"  left out {done.ingested.skipped_success} rows of success codes {done.success_codes}"
        )
    if done.ingested.duplicates:
        print(f"  kept {done.ingested.duplicates} exactly repeated rows once")
    for section, d in done.by_section.items():
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
    if done.drift.empty:
        print("  no drift: the catalog already matches the pages")
    given = {e.section or "" for e in done.ingested.catalog.entries}
    kept = [s for s in new.sections() if s not in given]
    if kept:
        print(
            f"  kept {len(kept)} section{'s' * (len(kept) != 1)} the pages do not list "
            "(--drop-other-sections removes them)"
        )
    if args.dry_run:
        print("dry run: nothing written")
    if done.written is not None:
        print(f"wrote {done.written}")
        if done.outside_docs:
            print(f"  keep the pages in {done.folder / 'docs'}/ so the catalog can be rebuilt")
    if done.uncovered:
        fresh = done.new_uncovered_codes
        if fresh:
            print(f"new codes without a rule ({len(fresh)}): {', '.join(fresh)}")
        codes = done.uncovered_codes
        print(f"codes without a rule ({len(codes)}): {', '.join(codes)}")
        return EXIT_FINDINGS
    return EXIT_OK
