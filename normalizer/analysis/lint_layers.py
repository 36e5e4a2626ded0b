"""Linting a user's rules folder the way ``load_rules()`` reads it.

A folder other than the bundled rules is what ``load_rules(folder)`` lays
over the bundled ones: ``common/rules.yaml``, and one sub-folder per venue.
A new venue's folder needs an ``exchange.yaml``; a bundled venue's folder may
hold only ``rules.yaml`` (or a ``catalog.yaml``), and its rules outrank the
bundled ones. Lint reads every one of those files, reports what
``load_rules()`` would refuse (with the same problems), checks the venue's
rules as they would be laid over the bundled ones (conflicts, unreachable,
shadowed, overlapping rules), and lists each rule that overrides a bundled
rule (``override``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .._core.errors import ConfigError
from .._core.resources import data_dir
from .._formats.registry import Registry
from .._formats.rules import Probe, Rule, RuleSet

if TYPE_CHECKING:
    from .linter import Finding, LintReport

COMMON = "common"
VENUE_FILES = ("exchange.yaml", "rules.yaml", "catalog.yaml")


def is_whole_tree(path: Path) -> bool:
    """Whether ``path`` is a whole rules tree, linted on its own as ``Registry(path)``
    reads it (``coverage``, ``ingest --rules-dir``): the bundled rules folder, or a
    folder with its own ``common/rules.yaml`` whose every venue has an
    ``exchange.yaml`` (a copy of the bundled tree, a set of venues of one's own).
    Any other folder is a layer over the bundled rules, as ``load_rules()`` reads it.
    """
    try:
        if path.resolve() == data_dir("rules").resolve():
            return True
    except OSError:  # pragma: no cover - a folder that vanished meanwhile
        return False
    if not (path / COMMON / "rules.yaml").is_file():
        return False
    return all((v / "exchange.yaml").is_file() for v in path.iterdir() if is_venue_folder(v))


def is_venue_folder(path: Path) -> bool:
    """A folder ``load_rules()`` would read as one venue's."""
    return path.is_dir() and path.name != COMMON and any((path / f).is_file() for f in VENUE_FILES)


def is_rules_folder(path: Path) -> bool:
    """A folder ``load_rules()`` would read: ``common/`` or venue sub-folders."""
    if not path.is_dir():
        return False
    if (path / COMMON / "rules.yaml").is_file():
        return True
    return any(is_venue_folder(p) for p in path.iterdir())


_BUNDLED: list[Registry] = []


def bundled() -> Registry:
    """The bundled rules alone (not the process's registry, which may hold user folders)."""
    if not _BUNDLED:
        _BUNDLED.append(Registry())
    return _BUNDLED[0]


def lint_layer(folder: Path, report: LintReport, only: set[str] | None = None) -> None:
    """Lint ``folder`` as ``load_rules(folder)`` reads it (only the venues in ``only``)."""
    from . import linter

    base = bundled()
    common = (
        linter._load_rules(folder / COMMON / "rules.yaml", "*", report)
        if (folder / COMMON / "rules.yaml").is_file()
        else []
    )
    if common:
        linter._common_checks(common, report)
    venues = sorted(p for p in folder.iterdir() if is_venue_folder(p))
    for venue in venues:
        if only is not None and venue.name not in only:
            continue
        _lint_venue(venue, base, report, common is not None)


def _lint_venue(venue: Path, base: Registry, report: LintReport, common_ok: bool) -> None:
    from . import linter

    name = venue.name
    known = name in base.names
    has_spec = (venue / "exchange.yaml").is_file()
    if not has_spec and not known:
        if (venue / "rules.yaml").is_file():
            report.files.append(str(venue / "rules.yaml"))
            report.findings.append(
                linter.Finding(
                    str(venue / "exchange.yaml"),
                    None,
                    "orphan-venue",
                    f"a new venue needs an exchange.yaml (only a bundled venue's folder may hold "
                    f"rules alone; the bundled venues are {', '.join(base.names)}): add "
                    f"{venue / 'exchange.yaml'} saying how its bodies are read, or rename the "
                    "folder to the bundled venue you meant",
                )
            )
        for extra in ("catalog.yaml",):
            if (venue / extra).is_file():
                report.files.append(str(venue / extra))
                report.findings.append(
                    linter.Finding(
                        str(venue / extra),
                        None,
                        "ignored",
                        f"no exchange.yaml beside it and {name!r} is not a bundled venue, so "
                        "load_rules() ignores it",
                    )
                )
        return
    ok = True
    if has_spec:
        ok = linter._load_spec(venue / "exchange.yaml", name, report) is not None and ok
    catalog_path = venue / "catalog.yaml"
    if catalog_path.is_file():
        ok = linter._load_catalog(catalog_path, name, report) is not None and ok
    own: list[Rule] = []
    if (venue / "rules.yaml").is_file():
        loaded = linter._load_rules(venue / "rules.yaml", name, report)
        ok = loaded is not None and ok
        own = loaded or []
    elif has_spec and not known:
        ok = linter._load_rules(venue / "rules.yaml", name, report) is not None and ok
    if not ok or not common_ok:
        return  # already reported; the set cannot be analysed
    try:
        rs = Registry(None, (venue.parent,)).get(name)
    except ConfigError as exc:
        report.findings += linter._set_problems(exc.problems)
        return
    mine_ids = {r.id for r in own}
    mine = [r for r in rs.rules if r.id in mine_ids and r.exchange == name]
    report.findings += linter.reachability(rs, mine)
    report.findings += linter.overlaps(rs, mine)
    report.findings += linter.capitals(mine)
    if known:
        report.findings += overrides(rs, base.get(name), mine)
    if catalog_path.is_file() or not known:
        report.findings += linter.uncovered_findings(rs, venue)


def _meaning(rule: Rule) -> tuple[object, ...]:
    return (rule.label, rule.outcome, rule.when.to_plain(), rule.priority)


def _where(rule: Rule) -> str:
    """A bundled rule's place relative to the rules root, wherever the package lives."""
    from .locations import rule_location

    return rule_location(rule)


def overrides(layered: RuleSet, bundled_rs: RuleSet, mine: list[Rule]) -> list[Finding]:
    """``override`` warnings: each of ``mine`` that changes what a bundled rule decides."""
    from .linter import _describe, _finding, _probes

    out = []
    for rule in mine:
        old = bundled_rs.by_id.get(rule.id)
        if old is not None and old.exchange == rule.exchange:
            if _meaning(old) != _meaning(rule):
                out.append(
                    _finding(
                        rule,
                        "override",
                        f"rule {rule.id!r} replaces the bundled rule of that id ({_where(old)}), "
                        f"which says {old.label}; yours says {rule.label}",
                        "warning",
                    )
                )
            continue
        taken: list[tuple[Probe, Rule]] = []
        for probe in _probes(layered, rule):
            winner, _ = layered.select(probe)
            before, _ = bundled_rs.select(probe)
            if winner is rule and before is not None and before.label != rule.label:
                taken.append((probe, before))
        if taken:
            probe, before = taken[0]
            out.append(
                _finding(
                    rule,
                    "override",
                    f"rule {rule.id!r} overrides bundled rule {before.id!r} ({_where(before)}) on "
                    f"{_describe(probe)}: {before.label} becomes {rule.label}"
                    + (f" (and on {len(taken) - 1} more inputs)" if len(taken) > 1 else ""),
                    "warning",
                )
            )
    return out
