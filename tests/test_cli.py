"""The ``normalizer`` command line: output and exit status of every command.

Most tests call ``normalizer.cli.main`` (what the console script runs) and
read what it printed; a few run ``python -m normalizer`` and the installed
console script in a subprocess, to see the real exit status and that no
traceback escapes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import normalizer
from normalizer._core.resources import data_dir
from normalizer._formats.registry import registry
from normalizer.cli import main, prog_name

REPO = Path(__file__).resolve().parents[1]


def known() -> str:
    """The bundled venues as messages list them (venues are added often: never a constant)."""
    return ", ".join(normalizer.exchanges())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled rules folder."""
    root = tmp_path / "rules"
    shutil.copytree(data_dir("rules"), root)
    return root


ACME_EXCHANGE = """\
name: acme
display_name: ACME
docs_url: https://acme.example/docs
response: {code_fields: [code], message_fields: [msg]}
"""

ACME_CATALOG = """\
exchange: acme
source_url: https://acme.example/docs
entries:
- {code: '1', message: Too many requests, source_url: 'https://acme.example/docs'}
- {code: '2', message: Parameter is wrong, source_url: 'https://acme.example/docs'}
- {code: '9', message: Nobody maps this, source_url: 'https://acme.example/docs'}
"""

ACME_RULES = """\
exchange: acme
source_url: https://acme.example/docs
rules:
  - id: acme.rate
    category: RATE_LIMIT.REQUESTS
    why: Code 1 is the documented rate limit of every endpoint.
    when: {code: "1"}
  - id: acme.params
    category: INVALID_REQUEST
    why: Code 2 says some parameter is wrong without saying which.
    when: {code: "2"}
  - id: acme.dead
    category: UNAVAILABLE.SERVICE
    why: A rule that always loses to acme.rate on code 1.
    when: {code: "1"}
    priority: -1
"""


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    """A rules folder with one small exchange that has known problems."""
    root = tmp_path / "acme-rules"
    (root / "acme").mkdir(parents=True)
    (root / "common").mkdir()
    (root / "common" / "rules.yaml").write_text(
        'exchange: "*"\nsource_url: https://example.org/\nrules: []\n'
    )
    (root / "acme" / "exchange.yaml").write_text(ACME_EXCHANGE)
    (root / "acme" / "catalog.yaml").write_text(ACME_CATALOG)
    (root / "acme" / "rules.yaml").write_text(ACME_RULES)
    return root


# ----------------------------------------------------------------- explain


def test_explain_prints_category_rule_source_and_recommendation(capsys) -> None:
    code, out, err = run(capsys, "explain", "okx", "58102")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "OKX 58102"
    assert "category:       RATE_LIMIT" in lines
    assert "subcategory:    RATE_LIMIT.REQUESTS" in lines
    rule = next(line for line in lines if line.startswith("rule:"))
    assert "okx.transfer-rate-limit" in rule
    assert "rules/okx/rules.yaml:" in rule  # where the rule is written
    assert any(line.startswith("why:            Documented as") for line in lines)
    assert "source:         https://www.okx.com/docs-v5/en/#error-code-rest-api-funding" in lines
    assert any(line.startswith("recommendation: RETRY after ") for line in lines)
    assert any(line.startswith("  reason:       ") for line in lines)


def test_explain_json(capsys) -> None:
    code, out, _ = run(capsys, "explain", "mexc", "10101", "--operation", "place_order", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["error"]["subcategory"] == "INSUFFICIENT_FUNDS.BALANCE"
    assert data["error"]["rule_id"] == "mexc.insufficient-balance"
    assert data["recommendation"]["action"] == "HALT"


def test_explain_by_message_alone(capsys) -> None:
    code, out, _ = run(capsys, "explain", "mexc", "--message", "Insufficient balance")
    assert code == 0
    assert "category:       INSUFFICIENT_FUNDS" in out


def test_explain_with_a_policy_file(capsys, tmp_path: Path) -> None:
    policy = tmp_path / "tight.yaml"
    policy.write_text(
        textwrap.dedent(
            """\
            version: 1
            name: tight
            rules:
              - id: okx-rate-limit-once
                why: Give up on OKX rate limits at the first one.
                when: {exchange: [okx], category: [RATE_LIMIT]}
                then: {max_attempts: 1}
            """
        )
    )
    code, out, _ = run(capsys, "explain", "okx", "58102", "--policy", str(policy))
    assert code == 0
    assert "recommendation: HALT" in out  # attempts used up: the policy's exhausted action
    assert "policy rule:  tight:okx-rate-limit-once" in out


def test_explain_missing_policy_file(capsys, tmp_path: Path) -> None:
    code, out, err = run(capsys, "explain", "okx", "58102", "--policy", str(tmp_path / "no.yaml"))
    assert (code, out) == (2, "")
    assert "no.yaml" in err
    assert "no such file" in err
    assert "Traceback" not in err


def test_explain_malformed_policy_names_file_and_line(capsys, tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("version: 1\nrules:\n  - id: x\n    why: [unclosed\n")
    code, _, err = run(capsys, "explain", "okx", "58102", "--policy", str(policy))
    assert code == 2
    assert f"{policy}:" in err
    assert "not valid YAML" in err


def test_explain_unknown_exchange_lists_the_known_ones(capsys) -> None:
    code, out, err = run(capsys, "explain", "nosuch", "-1003")
    assert (code, out) == (2, "")
    assert err.strip().startswith(
        "exchange-normalizer: unknown exchange 'nosuch'; known exchanges: "
        + ", ".join(normalizer.exchanges())
    )


def test_explain_needs_something_to_explain(capsys) -> None:
    code, _, err = run(capsys, "explain", "okx")
    assert code == 2
    assert "needs a CODE, --message or --http-status" in err


def test_unknown_operation_and_command_are_usage_errors(capsys) -> None:
    code, _, err = run(capsys, "explain", "okx", "58102", "--operation", "levitate")
    assert code == 2
    assert "invalid choice: 'levitate'" in err
    code, _, err = run(capsys, "frobnicate")
    assert code == 2
    assert "invalid choice" in err


def test_help_exits_zero(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("explain", "lint", "coverage", "ingest", "batch"):
        assert command in out


# -------------------------------------------------------------------- lint


def test_lint_bundled_rules_is_clean(capsys) -> None:
    code, out, _ = run(capsys, "lint")
    assert code == 0, out
    last = out.splitlines()[-1]
    # per venue: exchange, catalog, rules; the generic profile: exchange, rules; then common
    # rules, ccxt table, policy, policy tests
    assert last.startswith(f"lint: {3 * len(normalizer.exchanges()) + 2 + 4} files, 0 errors"), last
    assert last.endswith(": clean")


def test_lint_reports_file_line_and_fails(capsys, acme: Path) -> None:
    code, out, _ = run(capsys, "lint", str(acme))
    assert code == 1
    rules, catalog = acme / "acme" / "rules.yaml", acme / "acme" / "catalog.yaml"
    lines = out.splitlines()
    # acme.dead is written on line 12 and never wins: acme.rate takes code 1
    assert any(
        line.startswith(f"{rules}:12: error: rule 'acme.dead' never decides")
        and line.endswith("[unreachable]")
        for line in lines
    ), out
    # code 9 (catalog line 6) has no rule at all
    assert any(
        line.startswith(f"{catalog}:6: error: documented code 9") and "[uncovered]" in line
        for line in lines
    ), out
    assert lines[-1].endswith("2 errors, 0 warnings: not clean")


def test_lint_missing_source_url(capsys, acme: Path) -> None:
    rules = acme / "acme" / "rules.yaml"
    rules.write_text(ACME_RULES.replace("source_url: https://acme.example/docs\n", ""))
    code, out, _ = run(capsys, "lint", str(rules))
    assert code == 1
    assert f"{rules}:3: error: rule 'acme.rate' has no source URL" in out
    assert out.count("[missing-source]") == 3


def test_lint_tie_that_disagrees_is_a_conflict(capsys, acme: Path) -> None:
    rules = acme / "acme" / "rules.yaml"
    rules.write_text(ACME_RULES.replace("    priority: -1\n", ""))
    code, out, _ = run(capsys, "lint", str(acme / "acme"))
    assert code == 1
    assert f"{rules}:12: error: rule 'acme.dead' (UNAVAILABLE.SERVICE) and rule 'acme.rate'" in out
    assert "[conflict]" in out


def test_lint_overlap_and_shadowing_are_warnings(capsys, acme: Path) -> None:
    rules = acme / "acme" / "rules.yaml"
    text = ACME_RULES.replace(
        'when: {code: "1"}\n    priority: -1', 'when: {code: ["1", "3"]}\n    priority: -1'
    )
    text += textwrap.indent(
        textwrap.dedent(
            """\
            - id: acme.range-a
              category: INVALID_REQUEST.PARAMETER
              why: The 100 to 199 family is about parameters.
              when: {code_range: [100, 199]}
            - id: acme.range-b
              category: UNAVAILABLE.SERVICE
              why: The 150 to 250 family is about the service.
              when: {code_range: [150, 250]}
            """
        ),
        "  ",
    )
    rules.write_text(text)
    code, out, _ = run(capsys, "lint", "--json", str(acme))
    data = json.loads(out)
    found = {(f["check"], f["severity"], f["line"]) for f in data["findings"]}
    assert ("shadowed", "warning", 12) in found  # acme.dead still decides code 3
    assert ("overlap", "warning", 21) in found  # the two ranges meet on 150-199
    assert not any(f["check"] == "unreachable" for f in data["findings"])
    assert data["clean"] is False  # code 9 is still uncovered
    assert code == 1
    (acme / "acme" / "catalog.yaml").write_text(
        ACME_CATALOG.replace("9', message: Nobody", "3', message: Nobody")
    )
    assert run(capsys, "lint", str(acme))[0] == 0  # warnings only: clean
    assert run(capsys, "lint", "--strict", str(acme))[0] == 1


def test_lint_warns_of_a_regex_written_with_capitals(capsys, acme: Path) -> None:
    """A message_regex with a capital letter outside an escape is a warning
    (it matches ignoring case all the same); escapes keep their case."""
    rules = acme / "acme" / "rules.yaml"
    text = ACME_RULES + textwrap.indent(
        textwrap.dedent(
            """\
            - id: acme.banned
              category: RATE_LIMIT.BLOCKED
              why: The venue bans the IP for a while after too many requests.
              when: {message_regex: ["\\\\bIP banned until\\\\b"]}
              examples: ["IP banned until 1700000000000"]
            - id: acme.spaces
              category: INVALID_REQUEST.PARAMETER
              why: A parameter written with white space in it is refused.
              when: {message_regex: ["\\\\S{1,40} \\\\bparam\\\\B"]}
              examples: ["x param2"]
            """
        ),
        "  ",
    )
    rules.write_text(text)
    code, out, _ = run(capsys, "lint", "--json", str(acme))
    findings = json.loads(out)["findings"]
    found = [f for f in findings if f["check"] == "capitals"]
    assert [(f["severity"], f["line"]) for f in found] == [("warning", 17)], findings
    assert "acme.banned" in found[0]["message"]
    # the fixture's own errors (acme.dead, code 9) fail it; the capitals are no error
    assert code == 1
    assert {f["check"] for f in findings if f["severity"] == "error"} == {
        "uncovered",
        "unreachable",
    }


def test_lint_malformed_yaml_names_file_and_line(capsys, rules_copy: Path) -> None:
    broken = rules_copy / "okx" / "rules.yaml"
    broken.write_text(
        broken.read_text().replace("  - id: okx.api-permission-denied", "  - id: [oops", 1)
    )
    code, out, _ = run(capsys, "lint", str(rules_copy))
    assert code == 2  # a file that cannot be used, as the README says
    line = next(x for x in out.splitlines() if x.startswith(str(broken)))
    assert line.split(":")[1].isdigit()
    assert "not valid YAML" in line


def test_lint_schema_mistake_names_the_field(capsys, rules_copy: Path) -> None:
    bad = rules_copy / "mexc" / "rules.yaml"
    text = bad.read_text().replace("category: AUTH.SIGNATURE", "category: AUTH.SIGNATUR", 1)
    bad.write_text(text)
    code, out, _ = run(capsys, "lint", str(bad))
    assert code == 1
    want = text.splitlines().index("    category: AUTH.SIGNATUR") + 1
    assert f"{bad}:{want}: error: rules[1].category:" in out


def test_lint_a_policy_file(capsys, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\nrules:\n  - id: bad\n    why: Retry KYC problems for a while.\n"
        "    when: {category: [KYC]}\n    then: {action: RETRY}\n"
    )
    code, out, _ = run(capsys, "lint", str(policy))
    assert code == 1
    assert f"{policy}:3: error: rules[0]" in out
    assert "never retried" in out


def test_lint_missing_path_is_a_usage_error(capsys, tmp_path: Path) -> None:
    code, out, err = run(capsys, "lint", str(tmp_path / "nowhere"))
    assert (code, out) == (2, "")
    assert "no such file or folder" in err


# ---------------------------------------------------------------- coverage


def test_coverage_table(capsys) -> None:
    code, out, _ = run(capsys, "coverage")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["exchange", "codes", "specific", "generic", "none"]
    for name in ("okx", "mexc"):
        row = next(x for x in lines if x.startswith(name + " "))
        n = len(registry().get(name).catalog.codes())
        assert row.split()[1] == str(n)


def test_coverage_json_is_consistent_with_the_catalogs(capsys) -> None:
    code, out, _ = run(capsys, "coverage", "--json")
    assert code == 0
    data = {row["exchange"]: row for row in json.loads(out)}
    assert set(data) == set(normalizer.exchanges())
    for name, row in data.items():
        assert (
            sum(s["codes"] for s in row["sections"]) >= row["codes"]
        )  # a code may be in 2 sections
        assert row["codes"] == len(registry().get(name).catalog.codes())
        assert row["specific"] + row["generic"] + row["none"] == row["codes"]
        assert sum(row["by_category"].values()) == row["codes"]


def test_coverage_counts_generic_and_unmapped(capsys, acme: Path) -> None:
    code, out, _ = run(capsys, "coverage", "--rules-dir", str(acme), "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert (row["codes"], row["specific"], row["generic"], row["none"]) == (3, 1, 1, 1)
    assert row["generic_codes"][0]["code"] == "2"
    assert row["generic_codes"][0]["rule"] == "acme.params"
    assert row["unmapped_codes"] == [{"code": "9", "message": "Nobody maps this"}]
    code, out, _ = run(capsys, "coverage", "--rules-dir", str(acme))
    assert "  generic  acme 2: INVALID_REQUEST by acme.params" in out
    assert "  none     acme 9: 'Nobody maps this'" in out


def test_coverage_broken_rules_is_refused_with_file_and_line(capsys, acme: Path) -> None:
    rules = acme / "acme" / "rules.yaml"
    rules.write_text(ACME_RULES + "  - id: acme.x\n    when: {code: [\n")
    code, out, err = run(capsys, "coverage", "--rules-dir", str(acme))
    assert (code, out) == (2, "")
    assert f"{rules}:" in err
    assert "not valid YAML" in err


def test_coverage_unknown_exchange(capsys) -> None:
    code, _, err = run(capsys, "coverage", "--exchange", "nosuch")
    assert code == 2
    assert f"unknown exchange 'nosuch'; known exchanges: {known()}" in err


# ------------------------------------------------------------------ ingest


def _seed_only(capsys, rules_copy: Path, seeds: Path) -> None:
    """Make the copy's OKX catalog the seed's alone (the bundled one has every section)."""
    doc = seeds / "okx-funding-error-codes.md"
    run(capsys, "ingest", "okx", str(doc), "--rules-dir", str(rules_copy), "--drop-other-sections")


def test_ingest_same_page_reports_no_drift(capsys, rules_copy: Path, seeds: Path) -> None:
    doc = seeds / "okx-funding-error-codes.md"
    _seed_only(capsys, rules_copy, seeds)
    before = (rules_copy / "okx" / "catalog.yaml").read_text()
    code, out, _ = run(capsys, "ingest", "okx", str(doc), "--rules-dir", str(rules_copy))
    assert code == 0
    assert out.splitlines()[0] == "okx: 238 entries, 123 codes, 2 sections, languages en, zh"
    assert "  no drift: the catalog already matches the pages" in out
    after = (rules_copy / "okx" / "catalog.yaml").read_text()
    assert after.splitlines()[1:] == before.splitlines()[1:]  # all but the "Generated by" line


def test_ingest_reports_drift_and_new_codes_without_rules(
    capsys, rules_copy: Path, seeds: Path, tmp_path: Path
) -> None:
    page = (seeds / "okx-funding-error-codes.md").read_text()
    assert "58004 | 200 | Account blocked." in page
    page = page.replace("58004 | 200 | Account blocked.", "58004 | 200 | Account frozen.")
    page = page.replace(
        "58009 | 200 | Crypto pair doesn't exist", "58009 | 400 | Crypto pair doesn't exist"
    )
    page = page.replace("58002 | 200 | Please activate Savings Account first.  \n", "")
    page = page.replace(
        "58003 | 200 |", "58998 | 200 | A brand new funding error.  \n58003 | 200 |", 1
    )
    doc = tmp_path / "okx-new.md"
    doc.write_text(page)
    _seed_only(capsys, rules_copy, seeds)
    code, out, _ = run(capsys, "ingest", "okx", str(doc), "--rules-dir", str(rules_copy))
    assert code == 1  # a code without a rule
    assert "  + 58998 [en] A brand new funding error." in out
    assert "  - 58002 [en] Please activate Savings Account first." in out
    assert "  ~ 58004 [en] message: 'Account blocked.' -> 'Account frozen.'" in out
    assert "  ~ 58009 [en] HTTP status: 200 -> 400" in out
    assert "new codes without a rule (1): 58998" in out
    written = (rules_copy / "okx" / "catalog.yaml").read_text()
    assert "58998" in written
    assert "58002', message: Please activate" not in written


def test_ingest_lint_and_coverage_share_one_definition_of_uncovered(
    capsys, rules_copy: Path, seeds: Path, tmp_path: Path
) -> None:
    """Invariant: the codes ingest says have no rule are analysis.uncovered() of the
    catalog it wrote, lint's [uncovered] findings and coverage's unmapped codes."""
    from normalizer import analysis

    page = (seeds / "okx-funding-error-codes.md").read_text()
    page = page.replace(
        "58003 | 200 |", "58998 | 200 | A brand new funding error.  \n58003 | 200 |", 1
    )
    doc = tmp_path / "okx-new.md"
    doc.write_text(page)
    code, out, _ = run(capsys, "ingest", "okx", str(doc), "--rules-dir", str(rules_copy))
    assert code == 1
    printed = re.search(r"^codes without a rule \(\d+\): (.*)$", out, re.M)
    assert printed is not None
    said = printed.group(1).split(", ")
    assert said == [v.code for v in analysis.uncovered("okx", root=rules_copy)]
    report = analysis.lint([rules_copy / "okx"])
    linted = [f.message.split()[2] for f in report.findings if f.check == "uncovered"]
    assert sorted(linted) == sorted(said)
    (row,) = analysis.coverage(rules_copy, ["okx"])
    assert [v.code for v in row.unmapped_codes] == said


def test_ingest_dry_run_writes_nothing(
    capsys, rules_copy: Path, seeds: Path, tmp_path: Path
) -> None:
    page = (seeds / "okx-funding-error-codes.md").read_text()
    doc = tmp_path / "okx.md"
    doc.write_text(page.replace("Account blocked.", "Account frozen."))
    _seed_only(capsys, rules_copy, seeds)
    before = (rules_copy / "okx" / "catalog.yaml").read_text()
    code, out, _ = run(
        capsys, "ingest", "okx", str(doc), "--rules-dir", str(rules_copy), "--dry-run"
    )
    assert code == 0
    assert "Account frozen" in out
    assert "wrote" not in out
    assert (rules_copy / "okx" / "catalog.yaml").read_text() == before


def test_ingest_bad_input(capsys, rules_copy: Path, seeds: Path, tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "ingest", "okx", str(tmp_path / "missing.md"), "--rules-dir", str(rules_copy)
    )
    assert code == 2
    assert "cannot read" in err
    doc = str(seeds / "okx-funding-error-codes.md")
    code, _, err = run(capsys, "ingest", "nosuch", doc, "--rules-dir", str(rules_copy))
    assert code == 2
    assert "no exchange 'nosuch'" in err
    assert f"known: {known()}" in err
    code, out, _ = run(capsys, "ingest", "mexc", str(seeds / "mexc-error-codes.md"), "--dry-run")
    assert code == 0
    assert "(exchange.yaml)" in out  # no front matter: the URL is exchange.yaml's, and says so
    bad = tmp_path / "bad.md"
    bad.write_text("---\nsource_url: [\n---\n58002 | 200 | x\n")
    code, _, err = run(capsys, "ingest", "okx", str(bad), "--rules-dir", str(rules_copy))
    assert code == 2
    assert re.search(rf"{re.escape(str(bad))}:[1-3]: ", err), err  # a line of the front matter


# --------------------------------------------------------------- processes


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _python_m(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "normalizer", *argv],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )


def test_python_m_normalizer_exit_codes() -> None:
    ok = _python_m("explain", "okx", "58102")
    assert ok.returncode == 0
    assert "category:       RATE_LIMIT" in ok.stdout
    bad = _python_m("explain", "nope", "1")
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith(
        "python -m normalizer: unknown exchange 'nope'; known exchanges: "
        + ", ".join(normalizer.exchanges())
    )
    assert "Traceback" not in bad.stderr
    lint = _python_m("lint")
    assert lint.returncode == 0
    assert lint.stdout.rstrip().endswith(": clean")


def test_installed_console_script() -> None:
    script = shutil.which("exchange-normalizer", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the package is not installed in this interpreter's environment")
    done = subprocess.run(  # noqa: S603 - the installed entry point
        [script, "coverage", "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert {row["exchange"] for row in json.loads(done.stdout)} == set(normalizer.exchanges())
    missing = subprocess.run(  # noqa: S603
        [script, "lint", "/no/such/rules"], capture_output=True, text=True, timeout=120, check=False
    )
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr


def test_explain_a_reused_code_shows_only_the_entry_its_message_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", "mexc", "730001", "--message", "User information error"]) == 0
    out = capsys.readouterr().out
    assert "documented (en): User information error" in out
    assert "Pair not found" not in out
    assert "mexc.user-information-error" in out


# ------------------------------------------------- a name that is ours alone


def test_the_package_installs_no_script_called_normalizer() -> None:
    """charset-normalizer installs `normalizer`; ours is `exchange-normalizer` only."""
    text = (REPO / "pyproject.toml").read_text()
    scripts = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    names = [ln.split("=")[0].strip() for ln in scripts.splitlines() if "=" in ln]
    assert names == ["exchange-normalizer"]


def test_usage_lines_name_the_program_as_invoked() -> None:
    assert prog_name("/venv/bin/exchange-normalizer") == "exchange-normalizer"
    assert prog_name("/src/normalizer/__main__.py") == "python -m normalizer"
    done = _python_m("--help")
    assert done.stdout.startswith("usage: python -m normalizer ")
    bad = _python_m("explain")
    assert "python -m normalizer explain: error:" in bad.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"exchange-normalizer {normalizer.__version__}"


def test_explain_refuses_an_http_status_that_is_none(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "okx", "--http-status", "999"]) == 2
    assert "999 is not an HTTP status" in capsys.readouterr().err


def test_ingest_of_a_binary_file_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    binary = tmp_path / "page.md"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    assert main(["ingest", "okx", str(binary), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert str(binary) in err
    assert "not UTF-8 text" in err


def test_coverage_of_a_folder_without_exchanges_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["coverage", "--rules-dir", str(tmp_path)]) == 1
    assert f"no exchanges under {tmp_path}" in capsys.readouterr().err


def test_lint_of_a_hostile_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dup = tmp_path / "desk.yaml"
    dup.write_text("version: 1\nname: a\nname: b\n")
    assert main(["lint", str(dup)]) == 2
    assert f"{dup}:3: error: duplicate key 'name'" in capsys.readouterr().out


# ------------------------------------- lint reads what load_rules() reads (issue 26)

BROKEN_OKX = """\
exchange: okx
rules:
  - id: okx.mine
    category: RATE_LIMT
    why: test
    when: {cod: "2"}
"""

OVERRIDE_OKX = """\
exchange: okx
source_url: https://example.org/okx
rules:
  - id: okx.mine
    category: UNAVAILABLE.SERVICE
    why: We treat the funding rate limit as the service being down.
    when: {code: "58102"}
    replaces: okx.transfer-rate-limit
    reason: Our desk pauses the venue on this code.
  - id: okx.api-permission-denied
    category: AUTH.IP_NOT_ALLOWED
    why: Our own reading of the permission code.
    when: {code: ["58016", "58355"]}
    replaces: okx.api-permission-denied
    reason: Our keys are IP-bound; this code means the IP list.
"""

ACME_ONE_RULE = """\
exchange: acme
source_url: https://acme.example/docs
rules:
  - id: acme.rate
    category: RATE_LIMIT.REQUESTS
    why: Code 1 is the documented rate limit of every endpoint.
    when: {code: "1"}
"""


def _load_rules_problems(folder: Path) -> list[normalizer.NormalizerError]:
    from normalizer import ConfigError, load_rules
    from normalizer._formats.registry import current_registry, restore_registry

    saved = current_registry()
    try:
        load_rules(folder)
    except ConfigError as exc:
        return list(exc.problems)  # type: ignore[arg-type]
    finally:
        restore_registry(saved)
    return []


@pytest.mark.parametrize("target", ["folder", "venue", "file"])
def test_lint_finds_what_load_rules_refuses_in_a_user_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str
) -> None:
    """Invariant: for a folder, a venue folder or one file, lint reports every problem
    load_rules() refuses the folder for (same file and line), exits 1, and adds no
    complaint load_rules() does not make (no "file is in the '*' folder")."""
    (tmp_path / "okx").mkdir()
    rules = tmp_path / "okx" / "rules.yaml"
    rules.write_text(BROKEN_OKX)
    problems = _load_rules_problems(tmp_path)
    assert len(problems) == 4, problems
    path = {"folder": tmp_path, "venue": tmp_path / "okx", "file": rules}[target]
    code, out, _ = run(capsys, "lint", "--json", str(path))
    assert code == 1
    findings = json.loads(out)["findings"]
    assert all(f["severity"] == "error" for f in findings)
    found = {(f["path"], f["line"]) for f in findings}
    for p in problems:
        if p.field == "source_url":  # said per rule, on each rule's line
            assert any(f["check"] == "missing-source" for f in findings)
        else:
            assert (str(rules), p.line) in found, (p, findings)
    assert len(findings) == 4
    assert not any("folder" in f["message"] for f in findings), findings


def test_lint_counts_every_file_of_an_override_and_a_new_venue(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An override of a bundled venue and a new venue: three files, each override listed."""
    (tmp_path / "okx").mkdir()
    (tmp_path / "okx" / "rules.yaml").write_text(OVERRIDE_OKX)
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "exchange.yaml").write_text(ACME_EXCHANGE)
    (tmp_path / "acme" / "rules.yaml").write_text(ACME_ONE_RULE)
    assert _load_rules_problems(tmp_path) == []
    code, out, _ = run(capsys, "lint", str(tmp_path))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1] == "lint: 3 files, 0 errors, 2 warnings: clean", out
    overrides = [line for line in lines if line.endswith("[override]")]
    assert len(overrides) == 2
    # the bundled rule is named where it is written relative to the rules root
    assert any(
        "okx.mine' overrides bundled rule 'okx.transfer-rate-limit' (rules/okx/rules.yaml:" in x
        for x in overrides
    ), overrides
    assert any(
        "replaces the bundled rule of that id (rules/okx/rules.yaml:" in x for x in overrides
    )
    assert run(capsys, "lint", "--ignore", "override", str(tmp_path))[1].splitlines()[-1] == (
        "lint: 3 files, 0 errors, 0 warnings: clean"
    )


def test_lint_refuses_an_undeclared_override_as_load_rules_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "okx").mkdir()
    undeclared = "\n".join(
        x for x in OVERRIDE_OKX.splitlines() if not x.strip().startswith(("replaces:", "reason:"))
    )
    (tmp_path / "okx" / "rules.yaml").write_text(undeclared + "\n")
    problems = _load_rules_problems(tmp_path)
    assert len(problems) == 2
    code, out, _ = run(capsys, "lint", "--json", str(tmp_path))
    assert code == 1
    findings = json.loads(out)["findings"]
    assert {(f["line"], f["check"], f["severity"]) for f in findings} == {
        (p.line, "undeclared-override", "error") for p in problems
    }


def test_lint_refuses_a_new_venue_without_exchange_yaml_as_load_rules_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "rules.yaml").write_text(ACME_ONE_RULE)
    assert [p.field for p in _load_rules_problems(tmp_path)] == ["exchange.yaml"]
    code, out, _ = run(capsys, "lint", str(tmp_path))
    assert code == 1
    assert "a new venue needs an exchange.yaml" in out
    assert "[orphan-venue]" in out


def test_every_lint_check_is_registered_and_explained(capsys: pytest.CaptureFixture[str]) -> None:
    """Every check id a finding can carry (each string passed as a check in the
    analysis modules) is in the registry, with why and an example, and
    `lint --explain ID` prints it."""
    from normalizer.analysis import lint_checks

    source = "\n".join(
        (REPO / "normalizer" / "analysis" / name).read_text()
        for name in ("linter.py", "lint_layers.py")
    )
    used = set(re.findall(r'"([a-z][a-z-]+)",\n\s+f?"', source))  # Finding(path, line, "id", ...)
    used |= set(re.findall(r'_finding\(\s*\w+,\s*"([a-z-]+)"', source))
    used |= {"invalid", "unusable", "conflict", "duplicate-id"}  # mapped from problems
    assert used <= set(lint_checks.CHECKS), used - set(lint_checks.CHECKS)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for check in lint_checks.CHECKS.values():
        assert f"`{check.id}`" in readme, f"the README's command table does not name {check.id}"
        assert len(check.why) > 40
        assert check.example
        code, out, _ = run(capsys, "lint", "--explain", check.id)
        assert code == 0
        assert out.startswith(f"{check.id} ({check.severity})")
    code, _, err = run(capsys, "lint", "--select", "no-such-check")
    assert code == 2
    assert "lint --explain" in err


def test_lint_select_keeps_only_those_checks(
    capsys: pytest.CaptureFixture[str], acme: Path
) -> None:
    code, out, _ = run(capsys, "lint", "--json", "--select", "uncovered", str(acme))
    assert code == 1
    assert {f["check"] for f in json.loads(out)["findings"]} == {"uncovered"}
    code, out, _ = run(capsys, "lint", "--json", "--ignore", "uncovered,unreachable", str(acme))
    assert code == 0
    assert json.loads(out)["findings"] == []


# ------------------------------------------------- explain (issue 26)


def test_explain_puts_the_verdict_first_and_documented_messages_behind_a_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "explain", "binance", "-2010")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("recommendation: ")
    assert len(lines) < 25, out
    assert not any(x.startswith("  documented (") for x in lines)
    assert any(x.startswith("documented:") and "--documented" in x for x in lines)
    code, out, _ = run(capsys, "explain", "binance", "-2010", "--documented")
    full = out.splitlines()
    assert full[1].startswith("recommendation: ")
    assert sum(1 for x in full if x.startswith("  documented (")) > 10


def test_explain_shows_rule_paths_relative_to_the_rules_root(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Bundled rules: rules/VENUE/rules.yaml:LINE, whatever folder the package lives in;
    a user's rule: under the folder as given."""
    _, out, _ = run(capsys, "explain", "okx", "58102", "--json")
    data = json.loads(out)
    assert re.fullmatch(re.escape("rules/okx/rules.yaml:") + r"\d+", data["rule_location"]), data
    (tmp_path / "okx").mkdir()
    (tmp_path / "okx" / "rules.yaml").write_text(OVERRIDE_OKX)
    _code, out, _ = run(capsys, "explain", "okx", "58102", "--rules-dir", str(tmp_path))
    rule = next(x for x in out.splitlines() if x.startswith("rule:"))
    assert f"({tmp_path / 'okx' / 'rules.yaml'}:4)" in rule, out


# --------------------------------------------------- test (issue 26)

SIX_RULES = "".join(
    f"  - {{id: acme.r{i}, category: INVALID_REQUEST, why: Code {i} is a bad parameter., "
    f'when: {{code: "{i}"}}}}\n'
    for i in range(1, 7)
)


def test_test_reports_each_untested_rule_of_a_rules_dir_and_fails_below_the_bar(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "exchange.yaml").write_text(ACME_EXCHANGE)
    (tmp_path / "acme" / "rules.yaml").write_text(
        "exchange: acme\nsource_url: https://acme.example/docs\nrules:\n" + SIX_RULES
    )
    for spelling in ("--rules-dir", "--rules"):  # --rules: the old spelling, still accepted
        code, out, _ = run(capsys, "test", "--json", spelling, str(tmp_path))
        data = json.loads(out)
        mine = [u for u in data["unreached"] if u.startswith(f"{tmp_path}/acme")]
        assert len(mine) == 6, data["unreached"][-8:]
        (row,) = [c for c in data["coverage"] if c["where"] == f"{tmp_path}/acme"]
        assert (row["rules"], row["reached"], row["ok"]) == (6, 0, False)
        assert code == 1
    # five cases reach five of six rules (83 %, over the default 80 % bar): it passes
    (tmp_path / "acme" / "tests.yaml").write_text(
        "exchange: acme\ncases:\n"
        + "".join(
            f"  - {{id: c{i}, input: {{code: '{i}'}}, expect: {{category: INVALID_REQUEST}}}}\n"
            for i in range(1, 6)
        )
    )
    code, out, _ = run(capsys, "test", "--json", "--rules-dir", str(tmp_path))
    data = json.loads(out)
    (row,) = [c for c in data["coverage"] if c["where"] == f"{tmp_path}/acme"]
    assert (row["reached"], row["ok"]) == (5, True)
    # an exemption with a reason takes a rule out of the count; one without is refused
    (tmp_path / "test-coverage.yaml").write_text(
        "threshold: 1.0\nexempt:\n  - rules: [acme.r6]\n    why: Code 6 is never sent any more.\n"
    )
    data = json.loads(run(capsys, "test", "--json", "--rules-dir", str(tmp_path))[1])
    (row,) = [c for c in data["coverage"] if c["where"] == f"{tmp_path}/acme"]
    assert (row["exempt"], row["ok"]) == (1, True)
    (tmp_path / "test-coverage.yaml").write_text("exempt:\n  - rules: [acme.r6]\n")
    code, _, err = run(capsys, "test", "--rules-dir", str(tmp_path))
    assert code == 2
    assert "exempt[0].why" in err


def test_every_command_spells_the_rules_folder_rules_dir() -> None:
    """Every command that reads a rules folder takes --rules-dir (and none shows --rules)."""
    from normalizer.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        flags = {o for a in command._actions for o in a.option_strings if a.help != "==SUPPRESS=="}
        assert "--rules" not in flags, name
        if name in ("explain", "lint", "coverage", "batch", "test", "ingest"):
            assert "--rules-dir" in flags, name


# ------------------------------------------- ingest updates only its sections (issue 26)


def test_ingest_of_one_page_updates_only_its_sections(
    capsys: pytest.CaptureFixture[str], rules_copy: Path
) -> None:
    """Invariant: ingesting one docs page replaces only the sections that page lists;
    every other section's entries are kept, byte for byte in the written file."""
    from normalizer.analysis import load_catalog

    target = rules_copy / "okx" / "catalog.yaml"
    before = load_catalog(target)
    page = rules_copy / "okx" / "docs" / "08-rest-api-funding.md"
    text = page.read_text()
    row = next(x for x in text.splitlines() if x.startswith("| 58102 ") or x.startswith("58102 "))
    page.write_text(text.replace(row, row.replace("58102", "58997", 1), 1))
    _, out, _ = run(capsys, "ingest", "okx", str(page), "--rules-dir", str(rules_copy), "--dry-run")
    assert "dry run: nothing written" in out
    assert load_catalog(target) == before  # a dry run writes nothing
    assert "  + 58997" in out
    assert "  - 58102" in out
    sections = [x for x in out.splitlines() if x.startswith("  [")]
    assert len(sections) == 1, sections  # the drift is the one section's
    run(capsys, "ingest", "okx", str(page), "--rules-dir", str(rules_copy))
    after = load_catalog(target)
    funding = {e.section for e in after.entries if e.code == "58997"}
    assert len(funding) == 1
    untouched = [e for e in before.entries if e.section not in funding]
    assert [e for e in after.entries if e.section not in funding] == untouched
    assert len(untouched) > 1000
    assert target.read_text().startswith("# Generated by `exchange-normalizer ingest okx ")
    # the whole catalog from one page only when asked
    run(capsys, "ingest", "okx", str(page), "--rules-dir", str(rules_copy), "--drop-other-sections")
    assert {e.section for e in load_catalog(target).entries} == funding


# ---------------------------------------------- batch without its extra (issue 26)


def test_batch_without_pandas_names_the_extra_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a base install (pandas cannot be imported) the batch command says which extra
    to install and exits 2: never "unexpected ImportError ... This is a bug", exit 70."""
    log = tmp_path / "log.csv"
    log.write_text("exchange,code,message\nokx,58102,Too frequent\n")
    for name in [m for m in sys.modules if m == "pandas" or m.startswith("pandas.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    code, _, err = run(capsys, "batch", str(log), "-o", str(tmp_path / "out.csv"))
    assert code == 2, err
    assert "exchange-error-normalizer[batch]" in err
    assert "This is a bug" not in err


def test_a_missing_optional_module_is_named_with_its_extra() -> None:
    from normalizer.cli._main import missing_extra

    exc = ImportError("No module named 'pyarrow'", name="pyarrow")
    assert missing_extra(exc) == (
        "this command needs pyarrow, which is not installed: "
        "pip install 'exchange-error-normalizer[batch]'"
    )


# ------------------------------------- batch: the fast path writes what run_batch writes

MIXED_LOG = (
    "exchange,code,msg,http_status,operation,desk\n"
    "okx,58102,Too frequent,429,transfer,a\n"
    "binance,-2010,Account has insufficient balance,400.0,place_order,b\n"
    "nosuch,1,x,400,,c\n"
    ",5,no exchange,,,d\n"
    'okx,1,"multi\nline",abc,,e\n'
    "mexc,10101,Insufficient balance,400,levitate,f\n"
    'OKX ,58102,"quoted, with a comma",,transfer,g\n'
    "bybit,10006,Too many visits,,,h\n"
)


@pytest.mark.parametrize("chunk", ["2", "1000"])
def test_batch_fast_path_writes_what_the_general_path_writes(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chunk: str,
) -> None:
    """Invariant: for a CSV file, the command's fast path (pandas reads it, the
    partition function classifies whole chunks) writes the same rows, the same errors
    file (lines, fields, problems, texts) and the same summary as run_batch, the
    general path, whatever the chunk size; and it is the path the command takes."""
    import csv

    import pyarrow.parquet as pq

    from normalizer.batch import _stream

    log = tmp_path / "log.csv"
    log.write_text(MIXED_LOG, encoding="utf-8")
    slow = tmp_path / "slow.csv"
    summary = _stream.run_batch(str(log), str(slow), seed=1, chunk_rows=int(chunk))

    def general_path_not_taken(*args: object, **kwargs: object) -> None:
        raise AssertionError("the command took the general path")

    monkeypatch.setattr(_stream, "run_batch", general_path_not_taken)
    fast = tmp_path / "fast.csv"
    code, _, err = run(
        capsys, "batch", str(log), "-o", str(fast), "--seed", "1", "--chunk-rows", chunk
    )
    assert code == 1  # bad rows reported
    assert err.strip() == summary.line().replace(str(slow), str(fast)).replace(
        "slow.errors", "fast.errors"
    )
    with slow.open(newline="") as a, fast.open(newline="") as b:
        assert list(csv.reader(a)) == list(csv.reader(b))
    assert (tmp_path / "slow.errors.jsonl").read_text() == (
        tmp_path / "fast.errors.jsonl"
    ).read_text()
    # Parquet in, Parquet out: classify_frame's answers for the same rows
    import pandas as pd

    rows = pd.DataFrame(
        {
            "exchange": ["okx", "binance", "bybit", "okx"],
            "code": ["58102", "-2010", "10006", None],
            "message": ["Too frequent", "Account has insufficient balance", None, "Bad Gateway"],
            "http_status": [429, 400, None, 502],
        }
    )
    source = tmp_path / "log.parquet"
    rows.to_parquet(source, index=False)
    target = tmp_path / "fast.parquet"
    code, _, _ = run(capsys, "batch", str(source), "-o", str(target), "--seed", "1")
    assert code == 0
    out = pq.read_table(target).to_pandas()
    want = normalizer.classify_frame(rows, seed=1)
    for column in ("category", "subcategory", "rule_id", "action", "delay_s"):
        assert out[column].tolist() == want[column].astype(object).tolist(), column


@pytest.mark.parametrize(
    ("argv", "how"),
    [
        (["lint", "--rules-dir", "/no/such/folder"], "give a folder holding one folder per venue"),
        (["test", "/no/such/tests.yaml"], "give policy tests files"),
        (["lint", "/no/such/rules"], "give rule folders, exchange folders or YAML files"),
        (["lint", "--select", "nope"], "lint --explain"),
        (["explain", "okx"], "needs a CODE, --message or --http-status"),
    ],
)
def test_a_refusal_says_how_to_fix_it(
    capsys: pytest.CaptureFixture[str], argv: list[str], how: str
) -> None:
    """Every usage mistake exits 2 with one line that says what to do instead."""
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert how in err, err
    assert "Traceback" not in err


def test_batch_fast_path_shows_a_progress_bar_when_asked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("tqdm")
    log = tmp_path / "log.csv"
    log.write_text("exchange,code,message\n" + "okx,58102,Too frequent\n" * 50)
    out = tmp_path / "out.csv"
    code, _, err = run(
        capsys, "batch", str(log), "-o", str(out), "--progress", "--chunk-rows", "10"
    )
    assert code == 0
    assert "normalizing: 50row" in err  # tqdm's last frame: every row counted
    code, _, err = run(capsys, "batch", str(log), "-o", str(out), "--no-progress")
    assert "normalizing" not in err
