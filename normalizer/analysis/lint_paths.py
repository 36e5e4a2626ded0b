"""What ``lint`` reads: a rules tree, a user's folder, a venue folder or one file.

``lint(paths)`` finds every file ``load_rules()`` would read under each path
and runs the checks of ``normalizer.analysis.linter`` on them: the bundled
tree (or a copy of it, with its own ``common/``) on its own, any other folder
laid over the bundled rules (``lint_layers``), a policy file or a policy-tests
file by itself. It returns a ``LintReport`` of ``Finding``s, filtered by
``select``/``ignore`` (the check ids of ``lint_checks.CHECKS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .._core.arguments import names_of, paths_of
from .._core.errors import ConfigError, RuleFileError
from .._core.frozen import replace
from .._core.resources import data_dir
from .._formats.yaml import load_file
from .linter import (
    CCXT_TABLE,
    COMMON,
    LintReport,
    _common_checks,
    _from_problems,
    _lint_ccxt_table,
    _lint_common,
    _lint_exchange,
    _lint_policy,
    _load_catalog,
    _load_rules,
)

__all__ = ["default_paths", "lint"]


def _is_exchange(folder: Path) -> bool:
    return (folder / "exchange.yaml").is_file()


def _lint_root(root: Path, report: LintReport, only: set[str] | None = None) -> None:
    """A whole rules tree: ``common/`` and one folder per exchange, on their own."""
    exchanges = sorted(p for p in root.iterdir() if p.is_dir() and _is_exchange(p))
    common = _lint_common(root, report)
    if common and only is None:
        _common_checks(common, report)
    table = root / COMMON / CCXT_TABLE
    if table.is_file() and only is None:
        _lint_ccxt_table(table, report)
    for folder in exchanges:
        if only is None or folder.name in only:
            _lint_exchange(folder, report, common)


def _lint_rules(root: Path, report: LintReport, only: set[str] | None = None) -> None:
    """A rules folder: a whole tree on its own, any other as ``load_rules()`` reads it."""
    from .lint_layers import is_whole_tree, lint_layer

    if is_whole_tree(root):
        _lint_root(root, report, only)
    else:
        lint_layer(root, report, only)


def _lint_path(path: Path, report: LintReport) -> None:
    from .lint_layers import is_rules_folder, is_venue_folder

    if path.is_dir():
        if is_venue_folder(path) and (
            _is_exchange(path) or is_rules_folder(path.parent) or path.parent.name == "rules"
        ):
            _lint_rules(path.parent, report, {path.name})
        elif is_rules_folder(path) or path.name == "rules":
            _lint_rules(path, report)
        elif path.name == COMMON:
            _lint_rules(path.parent, report)
        else:  # a folder of policy files
            for f in sorted(path.glob("*.y*ml")):
                _lint_path(f, report)
        return
    name = path.name
    folder = path.parent
    if name.endswith(".tests.yaml"):  # policy tests as data (normalizer/analysis/policy_tests.py)
        from .policy_tests import problems_of

        report.files.append(str(path))
        report.findings += _from_problems(problems_of(path))
        return
    if name in ("exchange.yaml", "rules.yaml", "catalog.yaml") and folder.name == COMMON:
        _lint_rules(folder.parent, report)
    elif name in ("exchange.yaml", "rules.yaml", "catalog.yaml") and _in_venue(folder):
        _lint_rules(folder.parent, report, {folder.name})
    elif name == "rules.yaml":  # a loose rules file: checked as the venue it names
        _load_rules(path, _declared_exchange(path), report)
    elif name == "catalog.yaml":
        _load_catalog(path, folder.name, report)
    elif name == CCXT_TABLE:
        _lint_ccxt_table(path, report)
    else:
        _lint_policy(path, report)


def _in_venue(folder: Path) -> bool:
    """A folder that is one venue's (its own exchange.yaml, or a bundled venue's name)."""
    from .lint_layers import bundled

    return _is_exchange(folder) or folder.name in bundled().names


def _declared_exchange(path: Path) -> str:
    """The exchange a loose rules file names (so it is not checked against its folder)."""
    try:
        data = load_file(path, RuleFileError).data
    except (ConfigError, OSError):
        return "*"
    declared = data.get("exchange") if isinstance(data, dict) else None
    return declared if isinstance(declared, str) and declared else "*"


def default_paths() -> list[Path]:
    return [data_dir("rules"), data_dir("policies")]


def lint(
    paths: str | Path | Sequence[str | Path] | None = None,
    *,
    select: str | Sequence[str] | None = None,
    ignore: str | Sequence[str] = (),
) -> LintReport:
    """Lint rule folders, exchange folders and single files (default: the bundled data).

    A rules folder other than the bundled one is read as ``load_rules()`` reads
    it: laid over the bundled rules (``normalizer.analysis.lint_layers``).
    ``select`` keeps only findings of those check ids, ``ignore`` drops those
    (``normalizer.analysis.lint_checks.CHECKS`` lists them). ``paths``,
    ``select`` and ``ignore`` take one value or a list. Raises
    ``PathNotFoundError`` (a ``NormalizerError`` and a ``FileNotFoundError``)
    for a path that does not exist, ``ArgumentValueError`` (a ``ValueError``)
    for an unknown check id.
    """
    from .lint_checks import CHECKS, check_ids, severity

    chosen = set(CHECKS)
    if select is not None:
        chosen = set(check_ids(",".join(names_of("select", select) or ())))
    chosen -= set(check_ids(",".join(names_of("ignore", ignore) or ())))
    targets = paths_of("paths", paths, must_exist=True) or default_paths()
    report = LintReport()
    for p in targets:
        _lint_path(p, report)
    report.files = list(dict.fromkeys(report.files))
    report.findings = sorted(
        (
            replace(f, severity=severity(f.check))
            for f in dict.fromkeys(report.findings)
            if f.check in chosen or f.check not in CHECKS
        ),
        key=lambda f: (f.path, f.line or 0, f.check, f.message),
    )
    return report
