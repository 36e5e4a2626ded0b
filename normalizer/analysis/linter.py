"""Checks for the people who keep the rules: ``exchange-normalizer lint``.

The checks: rule, catalog, exchange, policy and ccxt-table files validated,
then each exchange's rules looked at as a whole: ties that disagree,
unreachable, shadowed and overlapping rules, documented codes no rule maps,
regexes written with capitals. ``lint_paths.lint(paths)`` decides what to read
and runs them; ``lint_checks`` registers every check (id, severity, why, an
example); ``lint_layers`` reads a user's folder the way ``load_rules()`` does
and lists the rules that override bundled ones.

(Over 500 lines: the rule-set checks, reachability, overlaps and the
refinement logic they share, read as one argument.)

Errors make the check fail; warnings are reported but leave it clean.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._core.errors import CatalogError, ConfigError, Problem, RuleFileError
from .._core.frozen import frozen
from .._core.text import bound, fold
from .._formats.catalog import Catalog, load_catalog
from .._formats.rules import (
    ExchangeSpec,
    Probe,
    ResponseShape,
    Rule,
    RuleSet,
    RulesFile,
    compile_rules,
)
from .._formats.yaml import UNUSABLE, Located, load_file, validate
from .verdicts import uncovered

Severity = Literal["error", "warning"]

COMMON = "common"
CCXT_TABLE = "ccxt.yaml"


@frozen
class Finding:
    """One thing lint found: where it is, how bad, which check, what to do."""

    path: str
    line: int | None
    check: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.severity}: {self.message} [{self.check}]"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "severity": self.severity,
            "check": self.check,
            "message": self.message,
        }


@dataclass
class LintReport:
    """Every finding, and the files that were looked at."""

    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    _common: dict[str, list[Rule] | None] = field(default_factory=dict, repr=False)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def clean(self) -> bool:
        return not self.errors

    def checks(self) -> Counter[str]:
        return Counter(f.check for f in self.findings)


def _from_problems(problems: Iterable[Problem], check: str = "invalid") -> list[Finding]:
    out = []
    for p in problems:
        field_ = f"{p.field}: " if p.field else ""
        kind = "unusable" if p.message.startswith(UNUSABLE) else check
        out.append(Finding(p.path, p.line, kind, f"{field_}{p.message}"))
    return out


def _set_problems(problems: Iterable[Problem]) -> list[Finding]:
    """Problems of a whole rule set: ties that disagree, ids used twice."""
    out = []
    for p in problems:
        check = {"when": "conflict", "id": "duplicate-id"}.get(p.field, "invalid")
        if "replaces:" in p.message or p.field.endswith(".replaces"):
            check = "undeclared-override"  # normalizer/_formats/overrides.py refused it
        out.append(Finding(p.path, p.line, check, p.message))
    return out


def _finding(rule: Rule, check: str, message: str, severity: Severity = "error") -> Finding:
    return Finding(rule.path, rule.line, check, message, severity)


# ------------------------------------------------------------ loading files


def _missing_sources(located: Located) -> list[Finding]:
    """Rules that would have no source URL at all (checked before the schema)."""
    data = located.data
    if not isinstance(data, dict) or data.get("source_url"):
        return []
    out = []
    rules = data.get("rules")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, dict) and not rule.get("source"):
            rid = rule.get("id", f"rules[{i}]")
            out.append(
                Finding(
                    located.path,
                    located.line_of(("rules", i)),
                    "missing-source",
                    f"rule {rid!r} has no source URL: give it `source:` or give the file "
                    "a `source_url:`",
                )
            )
    return out


_NO_SOURCE = "https://missing.invalid/"


def _load_rules(path: Path, exchange: str, report: LintReport) -> list[Rule] | None:
    report.files.append(str(path))
    try:
        located = load_file(path, RuleFileError)
    except ConfigError as exc:
        report.findings += _from_problems(exc.problems)
        return None
    missing = _missing_sources(located)
    report.findings += missing
    if missing:  # said per rule; go on with a stand-in so the rest gets checked too
        located = Located({**located.data, "source_url": _NO_SOURCE}, located.lines, located.path)
    try:
        parsed = validate(RulesFile, located, RuleFileError, {"exchange": exchange})
    except ConfigError as exc:
        report.findings += _from_problems(exc.problems)
        return None
    return compile_rules(parsed, located, exchange)


def _load_catalog(path: Path, exchange: str, report: LintReport) -> Catalog | None:
    report.files.append(str(path))
    try:
        catalog = load_catalog(path)
    except ConfigError as exc:
        report.findings += _from_problems(exc.problems)
        return None
    if catalog.exchange != exchange:
        report.findings.append(
            Finding(
                str(path),
                1,
                "catalog-exchange",
                f"exchange is {catalog.exchange!r} but the file is in the {exchange!r} folder",
            )
        )
    return catalog


def _load_spec(path: Path, exchange: str, report: LintReport) -> ExchangeSpec | None:
    report.files.append(str(path))
    try:
        return validate(
            ExchangeSpec, load_file(path, RuleFileError), RuleFileError, {"exchange": exchange}
        )
    except ConfigError as exc:
        report.findings += _from_problems(exc.problems)
        return None


def _lint_policy(path: Path, report: LintReport) -> None:
    from .._formats.policy import load_policy

    _lint_loadable(path, report, load_policy)


def _lint_ccxt_table(path: Path, report: LintReport) -> None:
    from .._formats.ccxt_table import load_class_table

    _lint_loadable(path, report, load_class_table)


def _lint_loadable(path: Path, report: LintReport, load: Callable[[Path], object]) -> None:
    """A file is clean when its loader accepts it; its refusal's problems are findings."""
    report.files.append(str(path))
    try:
        load(path)
    except ConfigError as exc:
        report.findings += _from_problems(exc.problems)


# --------------------------------------------------------- rule-set checks


def _probes(rs: RuleSet, rule: Rule) -> list[Probe]:
    """The inputs a rule was written for: each of its codes, each witness message."""
    probes = list(rs.witness_probes(rule))
    if rule.when.code_range is not None and probes:
        # a range is more than its first free code: try both ends too
        lo, hi = rule.when.code_range
        base = probes[0]
        probes += [
            Probe(str(n), base.message, base.http_status, base.operation, base.transport)
            for n in (lo, hi)
        ]
    return list(dict.fromkeys(probes))


def _describe(probe: Probe) -> str:
    parts = []
    if probe.code is not None:
        parts.append(f"code {probe.code}")
    if probe.message is not None:
        m = probe.message if len(probe.message) <= 60 else probe.message[:57] + "..."
        parts.append(f"message {m!r}")
    if probe.http_status is not None:
        parts.append(f"HTTP {probe.http_status}")
    if probe.operation is not None:
        parts.append(f"operation {probe.operation.value}")
    if probe.transport is not None:
        parts.append(f"transport {probe.transport}")
    return ", ".join(parts) or "any input"


def _where(rule: Rule) -> str:
    return f"{rule.path}:{rule.line}"


def _ordered_on_purpose(rs: RuleSet, weak: Rule, strong: Rule | None) -> bool:
    """The generic profile's phrase rules are an ordered list: where two of its
    rules overlap and their priorities differ, the order is the design (the more
    specific phrase first), not an accident worth a warning."""
    return (
        rs.name == "generic"
        and strong is not None
        and strong.exchange == weak.exchange == "generic"
        and strong.priority != weak.priority
    )


def reachability(rs: RuleSet, rules: Iterable[Rule]) -> list[Finding]:
    """``unreachable`` and ``shadowed`` findings for ``rules`` within ``rs``."""
    out = []
    for rule in rules:
        probes = _probes(rs, rule)
        lost: list[tuple[Probe, Rule | None]] = []
        for probe in probes:
            winner, _ = rs.select(probe)
            if winner is not rule:
                lost.append((probe, winner))
        if not lost:
            continue
        probe, winner = lost[0]
        by = f"rule {winner.id!r} ({_where(winner)})" if winner else "no rule"
        if len(lost) == len(probes):
            out.append(
                _finding(
                    rule,
                    "unreachable",
                    f"rule {rule.id!r} never decides: on {_describe(probe)} {by} wins "
                    f"(and on every other input it was written for); remove it, or make it "
                    "more specific or give it a priority",
                )
            )
        elif _ordered_on_purpose(rs, rule, winner):
            continue
        else:
            out.append(
                _finding(
                    rule,
                    "shadowed",
                    f"rule {rule.id!r} loses {len(lost)} of its {len(probes)} inputs, "
                    f"e.g. {_describe(probe)} goes to {by}",
                    "warning",
                )
            )
    return out


def _codes_within(a: Rule, b: Rule) -> bool:
    """Every code ``a`` can match, ``b`` can too (as far as codes go)."""
    wa, wb = a.when, b.when
    if b.codes is None and wb.code_range is None:
        return True
    if a.codes is not None:
        if b.codes is not None and a.codes <= b.codes:
            return True
        if wb.code_range is not None:
            return all(_in_range(c, wb.code_range) for c in a.codes)
        return False
    if wa.code_range is not None and wb.code_range is not None:
        return wb.code_range[0] <= wa.code_range[0] and wa.code_range[1] <= wb.code_range[1]
    return False


def _in_range(code: str, rng: tuple[int, int]) -> bool:
    try:
        return rng[0] <= int(code) <= rng[1]
    except ValueError:
        return False


def _statuses_within(a: Rule, b: Rule) -> bool:
    wb = b.when
    if b.statuses is None and wb.http_status_range is None:
        return True
    mine: set[int] = set(a.statuses or ())
    if a.when.http_status_range is not None:
        lo, hi = a.when.http_status_range
        mine |= set(range(lo, hi + 1))
    if not mine:
        return False
    theirs: set[int] = set(b.statuses or ())
    if wb.http_status_range is not None:
        lo, hi = wb.http_status_range
        theirs |= set(range(lo, hi + 1))
    return mine <= theirs


def _set_within(a: frozenset[Any] | None, b: frozenset[Any] | None) -> bool:
    return b is None or (a is not None and a <= b)


def refines(a: Rule, b: Rule, rs: RuleSet) -> bool:
    """Whether every input ``a`` matches, ``b`` matches too: ``a`` is an exception to ``b``."""
    if not (
        _codes_within(a, b)
        and _statuses_within(a, b)
        and _set_within(a.operations, b.operations)
        and _set_within(a.transports, b.transports)
    ):
        return False
    if b.templates or b.regexes:
        if not (a.templates or a.regexes):
            return False
        witnesses = rs.witnesses(a)
        return bool(witnesses) and all(b.message_matches(m) for m in witnesses)
    return True


def carves(strong: Rule, weak: Rule, rs: RuleSet) -> bool:
    """Whether ``strong`` is a deliberate exception to ``weak`` where they meet.

    It is when it has every kind of condition ``weak`` has and more (it wins
    by being more specific), or the same kinds with narrower values.
    """
    ks, kw = set(strong.when.kinds()), set(weak.when.kinds())
    if ks > kw:
        return True
    return ks == kw and refines(strong, weak, rs)


def _values(rule: Rule, kind: str) -> set[Any] | None:
    """The values a rule allows for one condition kind; None: unconstrained."""
    w = rule.when
    if kind == "code":
        if rule.codes is not None:
            return set(rule.codes)
        return None
    if kind == "status":
        if rule.statuses is None and w.http_status_range is None:
            return None
        out = set(rule.statuses or ())
        if w.http_status_range is not None:
            out |= set(range(w.http_status_range[0], w.http_status_range[1] + 1))
        return out
    if kind == "operation":
        return set(rule.operations) if rule.operations is not None else None
    return set(rule.transports) if rule.transports is not None else None


def _meet(a: Rule, b: Rule, kind: str) -> tuple[bool, Any]:
    """``(possible, value)``: a value both allow (None when neither constrains)."""
    va, vb = _values(a, kind), _values(b, kind)
    if va is None and vb is None:
        return True, None
    both = va if vb is None else vb if va is None else va & vb
    assert both is not None
    if kind == "code":  # code ranges narrow codes further
        for r in (a, b):
            if r.when.code_range is not None:
                both = {c for c in both if _in_range(c, r.when.code_range)}
    if not both:
        return False, None
    return True, sorted(both, key=str)[0]


def intersection(rs: RuleSet, a: Rule, b: Rule) -> Probe | None:
    """An input both rules match, or None when none is known."""
    ok, code = _meet(a, b, "code")
    if not ok:
        return None
    if code is None:
        ranges = [r.when.code_range for r in (a, b) if r.when.code_range is not None]
        if ranges:
            lo = max(r[0] for r in ranges)
            hi = min(r[1] for r in ranges)
            if lo > hi:
                return None
            code = str(lo)
    values = []
    for kind in ("status", "operation", "transport"):
        ok, value = _meet(a, b, kind)
        if not ok:
            return None
        values.append(value)
    message = None
    if a.templates or a.regexes or b.templates or b.regexes:
        pool = rs.witnesses(a) + rs.witnesses(b)
        message = next((m for m in pool if a.message_matches(m) and b.message_matches(m)), None)
        if message is None:
            return None
        message = bound(message)
    probe = Probe(code, message, values[0], values[1], values[2])
    return probe if a.matches(probe, _fold(message)) and b.matches(probe, _fold(message)) else None


def _fold(message: str | None) -> str | None:
    return fold(message) if message is not None else None


_KEY_KINDS = {"code": "code", "code_range": "code", "message": "message", "http_status": "status"}


def _shared_kinds(a: Rule, b: Rule) -> bool:
    ka = {_KEY_KINDS.get(k, k) for k in a.when.kinds()}
    kb = {_KEY_KINDS.get(k, k) for k in b.when.kinds()}
    return bool(ka & kb)


def overlaps(rs: RuleSet, rules: Sequence[Rule]) -> list[Finding]:
    """Pairs among ``rules`` (one file's) that overlap and disagree, settled by precedence.

    Only pairs that constrain a common kind of condition count: a message rule
    outranking a status rule is the documented order of kinds, not an overlap.
    A pair is left alone when the stronger rule is an exception carved out of
    the weaker (it refines it), or when a third rule refining both decides
    where they meet.
    """
    out = []
    for i, a in enumerate(rules):
        for b in rules[i + 1 :]:
            if a.label == b.label or a.specificity == b.specificity:
                continue  # agree, or a tie (refused when the rules load)
            if not _shared_kinds(a, b):
                continue
            strong, weak = (a, b) if a.specificity > b.specificity else (b, a)
            if carves(strong, weak, rs):
                continue
            probe = intersection(rs, a, b)
            if probe is None:
                continue
            winner, _ = rs.select(probe)
            if (
                winner is not None
                and winner not in (a, b)
                and carves(winner, a, rs)
                and carves(winner, b, rs)
            ):
                continue
            if _ordered_on_purpose(rs, weak, strong):
                continue
            decided = winner.id if winner is not None else strong.id
            out.append(
                _finding(
                    weak,
                    "overlap",
                    f"rule {weak.id!r} ({weak.label}) and rule {strong.id!r} ({strong.label}, "
                    f"{_where(strong)}) both match {_describe(probe)}; {decided!r} wins there "
                    "by precedence. Make the conditions disjoint if that is not intended",
                    "warning",
                )
            )
    return out


# ------------------------------------------------------------- lint itself


def _lint_exchange(folder: Path, report: LintReport, common: list[Rule] | None) -> None:
    name = folder.name
    spec = _load_spec(folder / "exchange.yaml", name, report)
    catalog = None
    if (folder / "catalog.yaml").is_file():
        catalog = _load_catalog(folder / "catalog.yaml", name, report)
    own = _load_rules(folder / "rules.yaml", name, report)
    if spec is None or own is None or common is None:
        return  # already reported; the set cannot be analysed
    if (folder / "catalog.yaml").is_file() and catalog is None:
        return
    try:
        from .._formats.compile import plain_catalog

        plain = plain_catalog(catalog) if catalog is not None else None
        rs = RuleSet(spec, plain, own, common)
    except ConfigError as exc:
        report.findings += _set_problems(exc.problems)
        return
    report.findings += reachability(rs, own)
    report.findings += overlaps(rs, own)
    report.findings += capitals(own)
    report.findings += uncovered_findings(rs, folder)


def uncovered_findings(rs: RuleSet, folder: Path) -> list[Finding]:
    """``uncovered`` errors: the documented codes of ``folder``'s catalog no rule maps."""
    missing = uncovered(rs)
    lines = _catalog_lines(folder / "catalog.yaml") if missing else {}
    return [
        Finding(
            str(folder / "catalog.yaml"),
            lines.get(v.code),
            "uncovered",
            f"documented code {v.code} ({v.message[:60]!r}) maps to nothing: "
            f"add a rule for it to {folder / 'rules.yaml'}",
        )
        for v in missing
    ]


def _catalog_lines(path: Path) -> dict[str, int | None]:
    """Each code's first entry line in the catalog, as the loader recorded it."""
    try:
        located = load_file(path, CatalogError)
    except (CatalogError, OSError):
        return {}
    entries = located.data.get("entries") if isinstance(located.data, dict) else None
    out: dict[str, int | None] = {}
    for i, entry in enumerate(entries if isinstance(entries, list) else ()):
        if isinstance(entry, dict):
            out.setdefault(str(entry.get("code")), located.line_of(("entries", i, "code")))
    return out


def _lint_common(root: Path, report: LintReport) -> list[Rule] | None:
    path = root / COMMON / "rules.yaml"
    if not path.is_file():
        return []
    key = str(path)
    if key not in report._common:
        report._common[key] = _load_rules(path, "*", report)
    return report._common[key]


def _common_checks(rules: list[Rule], report: LintReport) -> None:
    """Ties, reachability and overlaps among the common rules, on their own."""
    host = ExchangeSpec(
        name="lint",
        display_name="lint",
        docs_url="https://example.invalid/",
        response=ResponseShape(code_fields=["code"], message_fields=["msg"]),
    )
    try:
        rs = RuleSet(host, None, [], rules)
    except ConfigError as exc:
        report.findings += _set_problems(exc.problems)
        return
    report.findings += reachability(rs, rules)
    report.findings += overlaps(rs, rules)
    report.findings += capitals(rules)


#: an escape (``\\S``, ``\\B``, the first letter of ``\\N{...}``): its case is its meaning
_ESCAPE = re.compile(r"\\.")


def capitals(rules: Iterable[Rule]) -> list[Finding]:
    """``capitals`` warnings: message regexes with a capital letter outside an escape."""
    out = []
    for rule in rules:
        for pattern in rule.when.message_regex or ():
            text = _ESCAPE.sub("", pattern)
            if text != text.lower():
                out.append(
                    _finding(
                        rule,
                        "capitals",
                        f"rule {rule.id!r}: message_regex {pattern!r} has capital letters; it "
                        "matches ignoring case all the same, and written in lowercase (escapes "
                        "such as \\S or \\B kept as they are) it is searched faster",
                        "warning",
                    )
                )
    return out
