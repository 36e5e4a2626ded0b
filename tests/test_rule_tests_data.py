"""Rule tests as data: every case of every ``rules/*/tests.yaml`` runs through
the public ``normalize()`` (one test id per case), and the runner reports the
rules no case reaches."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from normalizer._core.errors import RuleFileError
from normalizer._engine.ruletests import Case, load_cases, rule_test_files, run_case, run_rule_tests
from normalizer._formats.registry import registry

ROOT = registry().root
CASES = [case for path in rule_test_files(ROOT) for case in load_cases(path)]


def test_there_are_rule_tests() -> None:
    assert CASES, f"no tests.yaml under {ROOT}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.exchange}:{c.id}")
def test_rule_case(case: Case) -> None:
    """Each case's expected fields are what normalize() returns for its input."""
    outcome = run_case(case)
    assert outcome.passed, f"{case.path}:{case.line} {case.id}: " + "; ".join(outcome.mismatches)


def test_runner_reports_rules_no_case_reaches() -> None:
    """The report lists, per exchange with tests, its own rules no case selected."""
    report = run_rule_tests(ROOT)
    assert len(report.results) == len(CASES)
    for exchange, ids in report.unreached.items():
        own = {r.id for r in registry().get(exchange).rules if r.exchange == exchange}
        assert set(ids) <= own
        if ids:  # reported, not failed: the lead decides how strict to be
            warnings.warn(f"{exchange}: {len(ids)} rules no case reaches", stacklevel=1)


def test_runner_compares_fields_items_outcome_and_retry(tmp_path: Path) -> None:
    (tmp_path / "okx").mkdir()
    f = tmp_path / "okx" / "tests.yaml"
    f.write_text(
        "exchange: okx\n"
        "cases:\n"
        "  - id: good\n"
        "    input: {http_status: 429, body: {code: '58102', msg: Rate limit reached.},"
        " headers: {Retry-After: '3'}}\n"
        "    expect: {category: RATE_LIMIT, code: 58102, retry_after_s: 3, items: 0,"
        " outcome: REJECTED}\n"
        "  - id: bad\n"
        "    input: {code: '58102'}\n"
        "    expect: {category: AUTH, items: 2, nonsense: 1}\n"
        "  - id: never-sent\n"
        "    input: {transport: connect_failed, operation: place_order}\n"
        "    expect: {outcome: NOT_SENT}\n"
        "  - id: unknown-outcome\n"
        "    input: {transport: read_timeout, operation: place_order}\n"
        "    expect: {category: UNKNOWN_STATE, outcome: UNKNOWN}\n"
    )
    good, bad, never, unknown = (run_case(c) for c in load_cases(f))
    assert good.passed, good.mismatches
    assert never.passed, never.mismatches
    assert unknown.passed, unknown.mismatches
    assert not bad.passed
    assert any(m.startswith("category:") for m in bad.mismatches)
    assert any(m.startswith("items:") for m in bad.mismatches)
    assert any(m.startswith("nonsense:") for m in bad.mismatches)


def test_a_bad_tests_file_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "tests.yaml"
    f.write_text("exchange: okx\ncases:\n  - id: a\n    input: {cod: '1'}\n    expect: {}\n")
    with pytest.raises(RuleFileError) as info:
        load_cases(f)
    text = str(info.value)
    assert f"{f}:3" in text
    assert "input" in text
