"""Rule tests as data, the file format: ``rules/*/tests.yaml`` (run by
``normalizer._engine.ruletests``, which describes the format)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._core.errors import Problem, RuleFileError
from .._core.frozen import frozen
from .yaml import load_file

__all__ = ["INPUT_KEYS", "Case", "load_cases", "rule_test_files"]

INPUT_KEYS = {"code", "message", "http_status", "body", "headers", "operation", "transport"}


@frozen
class Case:
    """One rule test."""

    exchange: str
    id: str
    input: Mapping[str, Any]
    expect: Mapping[str, Any]
    path: str
    line: int | None
    source: str | None = None


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
