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
- ``catalog_codes(exchange)`` -> the documented codes of an exchange.

Docs pages and catalogs (``ingest``):

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
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .._ccxt import Comparison, compare_with_ccxt
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
from .._lint import CodeVerdict, ExchangeCoverage, Finding, LintReport, coverage, lint
from .._lint import code_verdicts as _verdicts_of_rule_set
from .policy_tests import (
    CaseResult,
    TestReport,
    Unreached,
    load_policy_tests,
    run_policy_tests,
)
from .tests import run_rule_tests, run_tests


def _rule_set(exchange: str, root: str | Path | None) -> object:
    from .._formats.registry import Registry, registry

    reg = Registry(Path(root)) if root is not None else registry()
    return reg.get(exchange)


def exchanges(root: str | Path | None = None) -> list[str]:
    """The exchanges under ``root`` (default: the bundled rules), by name."""
    from .._formats.registry import Registry, registry

    reg = Registry(Path(root)) if root is not None else registry()
    return list(reg.names)


def code_verdicts(
    exchange: str | Sequence[str] | None = None, root: str | Path | None = None
) -> list[CodeVerdict]:
    """One verdict per documented code of ``exchange`` (a name, names, or all)."""
    if exchange is None:
        names = exchanges(root)
    elif isinstance(exchange, str):
        names = [exchange]
    else:
        names = list(exchange)
    out: list[CodeVerdict] = []
    for name in names:
        out += _verdicts_of_rule_set(_rule_set(name, root))  # type: ignore[arg-type]
    return out


def catalog_codes(exchange: str, root: str | Path | None = None) -> list[str]:
    """The codes the exchange's catalog documents, in catalog order."""
    rs = _rule_set(exchange, root)
    catalog = getattr(rs, "catalog", None)
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
    "LintReport",
    "ParsedDoc",
    "TestReport",
    "Unreached",
    "build_catalog",
    "catalog_codes",
    "code_verdicts",
    "compare_with_ccxt",
    "coverage",
    "diff_catalogs",
    "exchanges",
    "lint",
    "load_catalog",
    "load_policy_tests",
    "parse_doc",
    "run_policy_tests",
    "run_rule_tests",
    "run_tests",
]
