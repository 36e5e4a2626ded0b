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

from .._core.frozen import frozen
from .._formats.registry import registry
from .._formats.ruletests import INPUT_KEYS, Case, load_cases, rule_test_files
from .normalize import normalize
from .results import NormalizedError
from .transport import _BY_NAME

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "INPUT_KEYS",
    "Case",
    "CaseResult",
    "RuleTestReport",
    "load_cases",
    "outcome_of",
    "rule_test_files",
    "run_case",
    "run_rule_tests",
]

RETRY_TOLERANCE_S = 1.0


@frozen
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


def _exception_for(kind: str) -> BaseException:
    """An exception that ``normalize()`` recognises as this transport kind."""
    for name, k in _BY_NAME.items():
        if k == kind:
            module, _, qual = name.rpartition(".")
            cls: type[Exception] = type(
                qual, (Exception,), {"__module__": module, "__qualname__": qual}
            )
            return cls(f"{kind} (rule test)")
    raise ValueError(f"unknown transport kind {kind!r}")


def outcome_of(err: NormalizedError) -> str:
    """NOT_SENT | REJECTED | UNKNOWN (the result's own ``outcome``)."""
    return err.outcome.value


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
        if key != "outcome" and key not in type(err)._fields:
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
        err = normalize(case.exchange, **args)
    except Exception as exc:  # a caller mistake in the case (unknown exchange, operation)
        return CaseResult(case, None, (f"normalize() raised {type(exc).__name__}: {exc}",))
    return CaseResult(case, err, tuple(_compare(err, case.expect)))


def run_rule_tests(root: str | Path | None = None) -> RuleTestReport:
    """Run every ``tests.yaml`` under ``root`` (default: the bundled rules)."""
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
