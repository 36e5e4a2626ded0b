"""Rule tests as data: ``rules/*/tests.yaml``, run through the public ``normalize()``.

A file names its exchange (``*`` for shared files, whose cases each name
one) and lists cases::

    exchange: okx
    cases:
      - id: okx.rest.insufficient-balance
        input: {http_status: 200, body: '{"code":"51008",...}', operation: place_order}
        expect: {category: INSUFFICIENT_FUNDS, code: "51008", items: 0}
        source: https://...

``input`` takes ``code``, ``message``, ``http_status``, ``body`` (text or a
mapping), ``headers``, ``operation`` and ``transport`` (a transport failure
kind, raised as the matching exception). ``expect`` takes any of the result's
fields, plus ``outcome`` (NOT_SENT | REJECTED | UNKNOWN), ``items`` (a count,
or a list of expected fields per item) and ``retry_after_s`` (within 1 s).

``run_rule_tests()`` runs every case and reports, per exchange, the rules of
its own that no case selected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._core.errors import Problem, RuleFileError
from ._engine.results import NormalizedError
from ._formats.yaml import load_file

INPUT_KEYS = {"code", "message", "http_status", "body", "headers", "operation", "transport"}
#: transport kinds whose request never left the caller
NOT_SENT_KINDS = {"connect_timeout", "connect_failed", "pool_timeout"}
RETRY_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Case:
    """One rule test."""

    exchange: str
    id: str
    input: Mapping[str, Any]
    expect: Mapping[str, Any]
    path: str
    line: int | None
    source: str | None = None


@dataclass(frozen=True)
class CaseResult:
    case: Case
    result: NormalizedError | None
    mismatches: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.mismatches


@dataclass
class RuleTestReport:
    results: list[CaseResult] = field(default_factory=list)
    #: exchange -> ids of its own rules that no case selected
    unreached: dict[str, list[str]] = field(default_factory=dict)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]


def rule_test_files(root: Path) -> list[Path]:
    """Every ``tests.yaml`` under the rules folder, in name order."""
    return sorted(p for p in root.glob("*/tests.yaml") if p.is_file())


def load_cases(path: Path) -> list[Case]:
    """The cases of one file; mistakes are refused with file, line and field."""
    located = load_file(path, RuleFileError)
    data = located.data
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise RuleFileError([Problem(str(path), 1, "", "must be a mapping")])
    exchange = data.get("exchange")
    if not isinstance(exchange, str):
        problems.append(Problem(str(path), 1, "exchange", "must name the exchange (or '*')"))
    cases = data.get("cases")
    if not isinstance(cases, list):
        problems.append(Problem(str(path), 1, "cases", "must be a list"))
        raise RuleFileError(problems)
    out: list[Case] = []
    seen: set[str] = set()
    for i, raw in enumerate(cases):
        line = located.line_of(("cases", i))
        if not isinstance(raw, Mapping):
            problems.append(Problem(str(path), line, f"cases[{i}]", "must be a mapping"))
            continue
        cid = raw.get("id")
        inp = raw.get("input")
        exp = raw.get("expect")
        ex = raw.get("exchange", exchange)
        where = f"cases[{i}]"
        if not isinstance(cid, str) or not cid:
            problems.append(Problem(str(path), line, f"{where}.id", "missing"))
            continue
        if cid in seen:
            problems.append(Problem(str(path), line, f"{where}.id", f"{cid!r} is repeated"))
        seen.add(cid)
        if not isinstance(inp, Mapping) or not inp:
            problems.append(Problem(str(path), line, f"{where}.input", "must be a mapping"))
            continue
        unknown = set(inp) - INPUT_KEYS
        if unknown:
            problems.append(
                Problem(str(path), line, f"{where}.input", f"unknown keys {sorted(unknown)}")
            )
        if not isinstance(exp, Mapping) or not exp:
            problems.append(Problem(str(path), line, f"{where}.expect", "must be a mapping"))
            continue
        if not isinstance(ex, str) or ex == "*":
            problems.append(
                Problem(str(path), line, f"{where}.exchange", "a shared file's case names one")
            )
            continue
        source = raw.get("source")
        out.append(
            Case(
                ex,
                cid,
                dict(inp),
                dict(exp),
                str(path),
                line,
                str(source) if source else None,
            )
        )
    if problems:
        raise RuleFileError(problems)
    return out


def _exception_for(kind: str) -> BaseException:
    """An exception that ``normalize()`` recognises as this transport kind."""
    from ._engine.transport import _BY_NAME

    for name, k in _BY_NAME.items():
        if k == kind:
            module, _, qual = name.rpartition(".")
            cls: type[Exception] = type(
                qual, (Exception,), {"__module__": module, "__qualname__": qual}
            )
            return cls(f"{kind} (rule test)")
    raise ValueError(f"unknown transport kind {kind!r}")


def outcome_of(err: NormalizedError) -> str:
    """NOT_SENT | REJECTED | UNKNOWN: UNKNOWN iff the category is UNKNOWN_STATE."""
    own = getattr(err, "outcome", None)
    if own is not None:
        return str(getattr(own, "value", own))
    if err.category.value == "UNKNOWN_STATE":
        return "UNKNOWN"
    raw_error = err.raw.error if err.raw is not None else None
    if raw_error is not None:
        from ._engine.transport import transport_kind

        if transport_kind(raw_error) in NOT_SENT_KINDS:
            return "NOT_SENT"
    return "REJECTED"


def _value(err: NormalizedError, key: str) -> Any:
    if key == "outcome":
        return outcome_of(err)
    v = getattr(err, key)
    return getattr(v, "value", v)


def _compare(err: NormalizedError, expect: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, want in expect.items():
        if key == "items":
            if isinstance(want, int) and not isinstance(want, bool):
                if len(err.items) != want:
                    out.append(f"{prefix}items: {len(err.items)} != {want}")
            elif isinstance(want, list):
                if len(err.items) != len(want):
                    out.append(f"{prefix}items: {len(err.items)} != {len(want)}")
                for i, (item, w) in enumerate(zip(err.items, want, strict=False)):
                    if isinstance(w, Mapping):
                        out += _compare(item, w, f"{prefix}items[{i}].")
            continue
        if key != "outcome" and key not in type(err).model_fields:
            out.append(f"{prefix}{key}: not a field of the result")
            continue
        got = _value(err, key)
        if key == "retry_after_s" and want is not None and got is not None:
            if abs(float(got) - float(want)) > RETRY_TOLERANCE_S:
                out.append(f"{prefix}retry_after_s: {got} != {want}")
            continue
        if key == "code" and want is not None:
            want = str(want)
        if got != want:
            out.append(f"{prefix}{key}: {got!r} != {want!r}")
    return out


def run_case(case: Case) -> CaseResult:
    """Run one case through ``normalize()`` and compare what it expects."""
    import normalizer

    args: dict[str, Any] = {k: v for k, v in case.input.items() if k != "transport"}
    body = args.get("body")
    if isinstance(body, (Mapping, list)):
        args["body"] = json.dumps(body)
    if "transport" in case.input:
        try:
            args["error"] = _exception_for(str(case.input["transport"]))
        except ValueError as exc:
            return CaseResult(case, None, (str(exc),))
    try:
        err = normalizer.normalize(case.exchange, **args)
    except Exception as exc:  # a caller mistake in the case (unknown exchange, operation)
        return CaseResult(case, None, (f"normalize() raised {type(exc).__name__}: {exc}",))
    return CaseResult(case, err, tuple(_compare(err, case.expect)))


def run_rule_tests(root: str | Path | None = None) -> RuleTestReport:
    """Run every ``tests.yaml`` under ``root`` (default: the bundled rules)."""
    from ._engine.normalize import registry

    base = Path(root) if root is not None else registry().root
    report = RuleTestReport()
    for path in rule_test_files(base):
        for case in load_cases(path):
            report.results.append(run_case(case))
    reached: dict[str, set[str]] = {}
    for r in report.results:
        if r.result is not None:
            for e in (r.result, *r.result.items):
                if e.rule_id:
                    reached.setdefault(r.case.exchange, set()).add(e.rule_id)
    reg = registry()
    for exchange in sorted({r.case.exchange for r in report.results}):
        if exchange not in reg.names:
            continue
        own = [rule.id for rule in reg.get(exchange).rules if rule.exchange == exchange]
        report.unreached[exchange] = [i for i in own if i not in reached.get(exchange, set())]
    return report
