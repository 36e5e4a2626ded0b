"""Policy tests as data (policies/*.tests.yaml): every case runs here, and the
runner reports failures with file and line and the rules no test reaches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from normalizer.analysis import run_policy_tests
from normalizer.analysis.policy_tests import policy_test_files

REPO = Path(__file__).resolve().parents[1]
FILES = policy_test_files([REPO / "policies"])


def test_every_bundled_policy_has_tests() -> None:
    policies = [p for p in (REPO / "policies").glob("*.yaml") if not p.name.endswith(".tests.yaml")]
    assert {p.stem for p in policies} <= {f.name.removesuffix(".tests.yaml") for f in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_policy_tests_pass_and_reach_every_rule(path: Path) -> None:
    report = run_policy_tests([path])
    assert report.results
    assert [str(r) for r in report.failed] == []
    assert [str(u) for u in report.unreached] == []


POLICY = """\
version: 1
name: desk
rules:
  - id: okx-rate-limit
    why: OKX funding limits are per account; wait longer there.
    when: {exchange: [okx], category: [RATE_LIMIT]}
    then: {scope: exchange, max_attempts: 8}
  - id: never-tested
    why: A rule no test reaches, to see it reported.
    when: {exchange: [mexc], category: [NOT_FOUND]}
    then: {action: ESCALATE}
"""

TESTS = """\
cases:
  - id: okx-rate-limit-widens-the-scope
    given: {exchange: okx, error: RATE_LIMIT.REQUESTS, operation: transfer}
    expect: {action: RETRY, scope: exchange, rule: okx-rate-limit, max_attempts: 8}
  - id: a-wrong-expectation
    given: {exchange: okx, error: RATE_LIMIT.REQUESTS, operation: transfer}
    expect: {action: HALT}
"""


def test_a_failing_case_names_file_line_and_what_differed(tmp_path: Path) -> None:
    (tmp_path / "desk.yaml").write_text(POLICY)
    (tmp_path / "desk.tests.yaml").write_text(TESTS)
    report = run_policy_tests([tmp_path])
    assert not report.ok
    (fail,) = report.failed
    assert (fail.id, fail.line) == ("a-wrong-expectation", 5)
    assert "action: expected 'HALT', got 'RETRY'" in str(fail)
    unreached = {u.rule_id for u in report.unreached if u.kind == "policy rule"}
    assert unreached == {"never-tested"}


def test_a_tests_file_with_a_mistake_is_one_failure_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "desk.yaml").write_text(POLICY)
    (tmp_path / "desk.tests.yaml").write_text(TESTS.replace("expect: {action: HALT}", "expct: {}"))
    report = run_policy_tests([tmp_path])
    (fail,) = report.failed
    assert fail.line == 5  # cases[1] lacks its expect ...
    assert "desk.tests.yaml:7: cases[1].expct: unknown field" in str(fail)  # ... and has a typo


def test_the_cli_runs_them_and_fails_on_a_failing_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from normalizer.cli import main

    assert main(["test", "--policies-only"]) == 0
    assert "0 failed" in capsys.readouterr().out
    (tmp_path / "desk.yaml").write_text(POLICY)
    (tmp_path / "desk.tests.yaml").write_text(TESTS)
    assert main(["test", str(tmp_path), "--policies-only"]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'desk.tests.yaml'}:5: FAIL case a-wrong-expectation" in out
    assert "policy rule never-tested is reached by no test" in out


def test_the_test_command_runs_the_venues_rule_tests_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`test` runs rules/*/tests.yaml beside the policy tests, and fails on a failing case."""
    from normalizer.cli import main

    assert main(["test", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rule_tests"] is True
    assert any(f.endswith("rules/okx/tests.yaml") for f in out["files"])
    assert out["passed"] > 400


def test_a_failing_rule_test_fails_the_test_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from normalizer.cli import main

    venue = tmp_path / "okx"
    venue.mkdir()
    (venue / "tests.yaml").write_text(
        "exchange: okx\n"
        "cases:\n"
        "  - id: okx.wrong\n"
        "    input: {code: '51008'}\n"
        "    expect: {category: RATE_LIMIT}\n"
    )
    assert main(["test", "--rules", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL rule-test okx.wrong" in out
