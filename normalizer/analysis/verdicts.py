"""What each documented code maps to: verdicts, coverage, and what "uncovered" means.

``code_verdicts(rs)`` classifies every documented catalog entry as
``normalize()`` would with no operation given, and keeps per code the worst
verdict: ``specific`` (a rule with a subcategory), ``generic`` (a top-level
category only) or ``none``. A code is *uncovered* when its verdict is
``none``: ``uncovered(rs)`` is the one definition of it, used by ``lint``
(the ``uncovered`` check), ``coverage`` (``unmapped_codes``) and ``ingest``
(codes without a rule).

``coverage(root)`` says, per exchange and per docs section, how many
documented codes land on each level.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._core.arguments import names_of, path_of
from .._core.frozen import as_dict, field, frozen
from .._core.text import bound
from .._formats.rules import Probe, Rule, RuleSet

if TYPE_CHECKING:
    from .._formats.registry import Registry

Level = Literal["specific", "generic", "none"]


@frozen
class CodeVerdict:
    """What one documented code maps to."""

    exchange: str
    code: str
    message: str
    level: Level
    label: str | None
    category: str | None
    rule_id: str | None
    section: str = ""

    #: the fields by name, for a data frame row
    as_dict = as_dict


def _level(rule: Rule | None) -> Level:
    if rule is None:
        return "none"
    return "specific" if rule.subcategory else "generic"


_RANK: dict[str, int] = {"none": 0, "generic": 1, "specific": 2}


def code_verdicts(rs: RuleSet, section: str | None = None) -> list[CodeVerdict]:
    """Per distinct catalog code, the worst of what its entries map to.

    Each documented entry (code, message, HTTP status) is classified as
    ``normalize()`` would classify it with no operation given. With
    ``section``, only that docs section's entries count.
    """
    if rs.catalog is None:
        return []
    best: dict[str, CodeVerdict] = {}
    for entry in rs.catalog.entries:
        if section is not None and (entry.section or "") != section:
            continue
        rule, _ = rs.select(Probe(entry.code, bound(entry.message), entry.http_status))
        verdict = CodeVerdict(
            exchange=rs.name,
            code=entry.code,
            message=entry.message,
            level=_level(rule),
            label=rule.label if rule else None,
            category=rule.category.value if rule else None,
            rule_id=rule.id if rule else None,
            section=entry.section or "",
        )
        seen = best.get(entry.code)
        if seen is None or _RANK[verdict.level] < _RANK[seen.level]:
            best[entry.code] = verdict
    return list(best.values())


@frozen
class SectionCoverage:
    """Coverage of one docs section: one covered section is not a covered venue."""

    section: str
    source_url: str | None
    codes: int
    specific: int
    generic: int
    none: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "source_url": self.source_url,
            "codes": self.codes,
            "specific": self.specific,
            "generic": self.generic,
            "none": self.none,
        }


@frozen
class ExchangeCoverage:
    exchange: str
    codes: int
    specific: int
    generic: int
    none: int
    by_category: dict[str, int]
    generic_codes: list[CodeVerdict]
    unmapped_codes: list[CodeVerdict]
    sections: list[SectionCoverage] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "sections": [s.as_dict() for s in self.sections],
            "codes": self.codes,
            "specific": self.specific,
            "generic": self.generic,
            "none": self.none,
            "by_category": self.by_category,
            "generic_codes": [
                {"code": v.code, "category": v.label, "rule": v.rule_id, "message": v.message}
                for v in self.generic_codes
            ],
            "unmapped_codes": [{"code": v.code, "message": v.message} for v in self.unmapped_codes],
        }


def exchange_coverage(rs: RuleSet) -> ExchangeCoverage:
    verdicts = code_verdicts(rs)
    levels = Counter(v.level for v in verdicts)
    return ExchangeCoverage(
        exchange=rs.name,
        codes=len(verdicts),
        specific=levels["specific"],
        generic=levels["generic"],
        none=levels["none"],
        by_category=dict(sorted(Counter(v.category or "NONE" for v in verdicts).items())),
        generic_codes=[v for v in verdicts if v.level == "generic"],
        unmapped_codes=_uncovered(verdicts),
        sections=section_coverage(rs),
    )


def section_coverage(rs: RuleSet) -> list[SectionCoverage]:
    """Per docs section (in documentation order), its codes by level."""
    if rs.catalog is None:
        return []
    out = []
    for section in rs.catalog.sections():
        verdicts = code_verdicts(rs, section)
        levels = Counter(v.level for v in verdicts)
        url = next((e.source_url for e in rs.catalog.entries if (e.section or "") == section), None)
        out.append(
            SectionCoverage(
                section=section,
                source_url=url,
                codes=len(verdicts),
                specific=levels["specific"],
                generic=levels["generic"],
                none=levels["none"],
            )
        )
    return out


def coverage(
    root: str | Path | None = None, exchanges: Sequence[str] | None = None
) -> list[ExchangeCoverage]:
    """Coverage of every exchange under ``root`` (default: the bundled rules).

    Raises ``ConfigError`` when a file cannot be loaded and
    ``UnknownExchangeError`` for a name that is not there.
    """
    reg = rules_root(root)
    names = names_of("exchanges", exchanges) or [n for n in reg.names if n != "generic"]
    return [exchange_coverage(reg.get(n)) for n in names]


def rules_root(root: str | Path | None) -> Registry:
    """The rules under ``root`` (a folder the caller names; default: the
    rules in use), ``PathNotFoundError`` when it does not exist."""
    from .._formats.registry import Registry, registry

    if root is None:
        return registry()
    return Registry(path_of("root", root, must_exist=True))


def _uncovered(verdicts: Sequence[CodeVerdict]) -> list[CodeVerdict]:
    return [v for v in verdicts if v.level == "none"]


def uncovered(rs: RuleSet) -> list[CodeVerdict]:
    """The documented codes of ``rs`` that no rule maps to anything (verdict ``none``)."""
    return _uncovered(code_verdicts(rs))
