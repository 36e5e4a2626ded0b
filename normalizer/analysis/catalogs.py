"""Docs pages to an exchange's catalog, with the drift per docs section.

``ingest(exchange, pages)`` parses the venue's docs pages (Markdown; several
pages make one catalog, each page its own section), compares the catalog with
the one in ``rules/<exchange>/catalog.yaml``, writes the new one unless
``dry_run``, and names the documented codes no rule maps to anything (the
one definition of *uncovered*, ``normalizer.analysis.verdicts.uncovered``).
It never writes into the rules of an installed package.

Mistakes of the caller (a page that cannot be read, no rules folder, an
unknown exchange) raise ``ArgumentValueError`` with a message a person can
act on; a rule or exchange file with a mistake raises ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .._core.arguments import path_of, paths_of
from .._core.errors import ArgumentTypeError, ArgumentValueError
from .._core.frozen import field, frozen
from .._formats.catalog import (
    Catalog,
    Drift,
    Ingested,
    catalog_origin,
    diff_catalogs,
    dump_catalog,
    ingest_pages,
    load_catalog,
    merge_sections,
    section_drift,
)
from .._formats.rules import ExchangeSpec, Rule, RuleSet, load_rules_file
from .._formats.yaml import load_file, validate
from .verdicts import CodeVerdict, uncovered

__all__ = ["IngestReport", "ingest"]


@frozen
class IngestReport:
    """What ``ingest`` built, how it differs from the catalog before, what has no rule."""

    exchange: str
    folder: Path
    catalog: Catalog
    previous: Catalog | None
    drift: Drift
    ingested: Ingested
    success_codes: list[str]
    written: Path | None
    #: pages outside ``rules/<exchange>/docs/`` (the catalog cannot be rebuilt from a clone)
    outside_docs: list[str] = field(default_factory=list)
    #: documented codes no rule maps to anything, in catalog order
    uncovered: list[CodeVerdict] = field(default_factory=list)

    @property
    def by_section(self) -> dict[str, Drift]:
        """The drift per docs section, in documentation order."""
        return section_drift(self.drift)

    @property
    def uncovered_codes(self) -> list[str]:
        return [v.code for v in self.uncovered]

    @property
    def new_uncovered_codes(self) -> list[str]:
        """Uncovered codes the pages added (empty for a first catalog)."""
        if self.previous is None:
            return []
        added = {e.code for e in self.drift.added}
        return [c for c in self.uncovered_codes if c in added]


def in_source_checkout(root: Path) -> bool:
    """Whether a rules folder is part of a source checkout (not an installed package)."""
    resolved = root.resolve()
    if any(part in ("site-packages", "dist-packages") for part in resolved.parts):
        return False
    return (resolved.parent / "pyproject.toml").is_file()


def _refuse(message: str) -> ArgumentValueError:
    return ArgumentValueError("ingest", message, None, whole=True)


def _read(pages: str | Path | Sequence[str | Path]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for page in paths_of("pages", pages) or ():  # one page is one path, not its characters
        name = str(page)
        try:
            out.append((name, Path(name).read_text(encoding="utf-8")))
        except OSError as exc:
            raise _refuse(f"cannot read {name}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise _refuse(
                f"{name} is not UTF-8 text (byte {exc.start}: a binary file?); "
                "give a docs page in Markdown"
            ) from None
    return out


def _origin(folder: Path, page: str) -> str:
    """How a page is named in the catalog's header: relative to the exchange's folder."""
    try:
        return str(Path(page).resolve().relative_to(folder.resolve().parent.parent))
    except ValueError:
        return Path(page).name


def _rule_set(spec: ExchangeSpec, catalog: Catalog, folder: Path) -> RuleSet:
    """The exchange's rules (its own and the common ones) over the new catalog."""
    from .._formats.compile import plain_catalog

    rules_path = folder / "rules.yaml"
    own = load_rules_file(rules_path, folder.name) if rules_path.is_file() else []
    common_path = folder.parent / "common" / "rules.yaml"
    common: list[Rule] = load_rules_file(common_path, "*") if common_path.is_file() else []
    return RuleSet(spec, plain_catalog(catalog), own, common)


def ingest(
    exchange: str,
    pages: str | Path | Sequence[str | Path],
    *,
    rules_dir: str | Path | None = None,
    source_url: str | None = None,
    dry_run: bool = False,
    drop_other_sections: bool = False,
) -> IngestReport:
    """Update ``exchange``'s catalog from ``pages``; write it unless ``dry_run``.

    Only the docs sections the pages list are replaced; every other section
    of the catalog stays as it is, unless ``drop_other_sections`` (the
    catalog is then the pages' alone). ``rules_dir`` is the rules folder
    (default: the bundled one, which is written only in a source checkout);
    ``source_url`` is the URL of pages without front matter (default:
    ``exchange.yaml``'s ``docs_url``).
    """
    from .._formats.registry import registry

    if not isinstance(exchange, str):
        raise ArgumentTypeError("exchange", "a venue's name (str)", exchange)
    texts = _read(pages)
    root = path_of("rules_dir", rules_dir) if rules_dir else registry().root
    if not root.is_dir():
        raise _refuse(f"no rules folder at {root}")
    if not rules_dir and not dry_run and not in_source_checkout(root):
        raise _refuse(
            f"the bundled rules at {root} belong to an installed package: ingest never "
            "writes there; run it in a source checkout, or give --rules-dir (or --dry-run)"
        )
    folder = root / exchange
    if not (folder / "exchange.yaml").is_file():
        known = sorted(
            p.name
            for p in root.iterdir()
            if (p / "exchange.yaml").is_file() and p.name != "generic"
        )
        raise _refuse(
            f"no exchange {exchange!r} under {root} (known: {', '.join(known)}); "
            f"create {folder}/exchange.yaml first"
        )
    spec = validate(
        ExchangeSpec, load_file(folder / "exchange.yaml"), context={"exchange": exchange}
    )
    done = ingest_pages(
        exchange,
        texts,
        docs_url=spec.docs_url,
        subcode_separator=spec.subcode_separator,
        success_codes=spec.response.success_codes,
        source_url=source_url or None,
    )
    target = folder / "catalog.yaml"
    old = load_catalog(target) if target.is_file() else None
    new = merge_sections(old, done.catalog, drop_others=drop_other_sections)
    drift = diff_catalogs(old, new)
    written = None
    outside: list[str] = []
    if not dry_run:
        given = [_origin(folder, p) for p, _ in texts]
        before = [] if drop_other_sections or old is None else catalog_origin(target.read_text())
        origin = " ".join(dict.fromkeys([*before, *given]))
        target.write_text(dump_catalog(new, origin), encoding="utf-8")
        written = target
        docs = (folder / "docs").resolve()
        outside = [p for p, _ in texts if Path(p).resolve().parent != docs]
    missing = uncovered(_rule_set(spec, new, folder))
    return IngestReport(
        exchange=exchange,
        folder=folder,
        catalog=new,
        previous=old,
        drift=drift,
        ingested=done,
        success_codes=list(spec.response.success_codes),
        written=written,
        outside_docs=outside,
        uncovered=missing,
    )
