"""The analysis API: tools for the people who keep the rules and policies.

The command line, the notebooks and the README use these functions; nothing
here is on a router's hot path, and ``import normalizer`` does not import it.

Checks and measures:

- ``lint(paths)`` -> ``LintReport`` of ``Finding``s (file, line, check,
  severity, message): invalid files, tie conflicts, unreachable, shadowed and
  overlapping rules, missing sources, documented codes without a rule;
- ``coverage(root, exchanges)`` -> one ``ExchangeCoverage`` per exchange: how
  many documented codes land on a specific category, a generic one, nothing;
- ``code_verdicts(exchange)`` -> one ``CodeVerdict`` per documented code;
  ``uncovered(exchange)`` -> those that map to nothing (the one definition
  of an uncovered code, which ``lint``, ``coverage`` and ``ingest`` share);
- ``catalog_codes(exchange)`` -> the documented codes of an exchange.

Docs pages and catalogs:

- ``ingest(exchange, pages, rules_dir=..., dry_run=...)`` -> ``IngestReport``:
  the catalog built from docs pages, its drift per section, the codes without
  a rule (what ``exchange-normalizer ingest`` prints);
- ``parse_doc(text, path=..., source_url=...)``, ``build_catalog(...)``,
  ``diff_catalogs(old, new)`` -> ``Drift``, ``load_catalog(path)``.

ccxt:

- ``compare_with_ccxt(exchange, ccxt_module)`` -> one ``Comparison`` per
  catalog code: our category beside the class ccxt raises.

Tests as data:

- ``run_policy_tests(paths)``: ``policies/*.tests.yaml`` (normalizer/analysis/
  policy_tests.py), with the policy and escalation rules no test reaches;
- ``run_tests(policy_paths, rule_paths)``: those and the venues' rule tests
  (``rules/*/tests.yaml``).

The modules: ``lint_paths`` (what lint reads), ``linter`` (lint checks),
``verdicts`` (code verdicts, coverage, uncovered), ``catalogs`` (ingest),
``ccxt_compare``, ``policy_tests``, ``rule_tests`` and ``tests``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from .._core.arguments import names_of
from .._formats.catalog import (
    Catalog,
    CatalogEntry,
    Drift,
    ParsedDoc,
    build_catalog,
    diff_catalogs,
    load_catalog,
    parse_doc,
)
from .._formats.rules import RuleSet
from .catalogs import IngestReport, ingest
from .ccxt_compare import Comparison, compare_with_ccxt
from .lint_paths import lint
from .linter import Finding, LintReport
from .policy_tests import (
    CaseResult,
    TestReport,
    Unreached,
    load_policy_tests,
    run_policy_tests,
)
from .tests import run_rule_tests, run_tests
from .verdicts import CodeVerdict, ExchangeCoverage, SectionCoverage, coverage, rules_root
from .verdicts import code_verdicts as _verdicts_of_rule_set
from .verdicts import uncovered as _uncovered_of_rule_set


def _rule_set(exchange: str, root: str | Path | None) -> RuleSet:
    return rules_root(root).get(exchange)


def exchanges(root: str | Path | None = None) -> list[str]:
    """The exchanges under ``root`` (default: the bundled rules), by name."""
    return list(rules_root(root).names)


def _per_exchange(
    of_rule_set: Callable[[RuleSet], list[CodeVerdict]],
    exchange: str | Sequence[str] | None,
    root: str | Path | None,
) -> list[CodeVerdict]:
    names = names_of("exchange", exchange) or exchanges(root)
    out: list[CodeVerdict] = []
    for name in names:
        out += of_rule_set(_rule_set(name, root))
    return out


def code_verdicts(
    exchange: str | Sequence[str] | None = None, root: str | Path | None = None
) -> list[CodeVerdict]:
    """One verdict per documented code of ``exchange`` (a name, names, or all)."""
    return _per_exchange(_verdicts_of_rule_set, exchange, root)


def uncovered(
    exchange: str | Sequence[str] | None = None, root: str | Path | None = None
) -> list[CodeVerdict]:
    """The documented codes of ``exchange`` (a name, names, or all) no rule maps to anything."""
    return _per_exchange(_uncovered_of_rule_set, exchange, root)


def catalog_codes(exchange: str, root: str | Path | None = None) -> list[str]:
    """The codes the exchange's catalog documents, in catalog order."""
    catalog = _rule_set(exchange, root).catalog
    return list(catalog.codes()) if catalog is not None else []


__all__ = [
    "CaseResult",
    "Catalog",
    "CatalogEntry",
    "CodeVerdict",
    "Comparison",
    "Drift",
    "ExchangeCoverage",
    "Finding",
    "IngestReport",
    "LintReport",
    "ParsedDoc",
    "SectionCoverage",
    "TestReport",
    "Unreached",
    "build_catalog",
    "catalog_codes",
    "code_verdicts",
    "compare_with_ccxt",
    "coverage",
    "diff_catalogs",
    "exchanges",
    "ingest",
    "lint",
    "load_catalog",
    "load_policy_tests",
    "parse_doc",
    "run_policy_tests",
    "run_rule_tests",
    "run_tests",
    "uncovered",
]
