"""Rule, catalog and exchange files: refused with file, line and field; an
exchange is added by data alone."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from normalizer import Category, RuleFileError
from normalizer._engine.normalize import Registry, registry
from normalizer._formats.rules import Probe

BUNDLED = registry().root

EXCHANGE = """\
name: acme
display_name: ACME
docs_url: https://docs.acme.example/errors
response: {code_fields: [err_code], message_fields: [err_msg]}
"""


def _tree(
    tmp_path: Path, rules: str, exchange: str = EXCHANGE, catalog: str | None = None
) -> Registry:
    root = tmp_path / "rules"
    (root / "acme").mkdir(parents=True)
    shutil.copytree(BUNDLED / "common", root / "common")
    (root / "acme" / "exchange.yaml").write_text(exchange)
    (root / "acme" / "rules.yaml").write_text(textwrap.dedent(rules))
    if catalog is not None:
        (root / "acme" / "catalog.yaml").write_text(textwrap.dedent(catalog))
    return Registry(root)


GOOD = """\
exchange: acme
source_url: https://docs.acme.example/errors
rules:
  - id: acme.throttled
    category: RATE_LIMIT.REQUESTS
    why: ACME documents code 42 as its request throttle.
    when: {code: "42"}
  - id: acme.no-money
    category: INSUFFICIENT_FUNDS.BALANCE
    why: ACME documents code 7 as an empty wallet.
    when: {code: 7}
"""


def test_an_exchange_is_added_with_yaml_alone(tmp_path: Path) -> None:
    catalog = """\
    exchange: acme
    source_url: https://docs.acme.example/errors
    entries:
    - {code: '42', message: 'Slow down, {n} requests left', language: en, source_url: 'https://docs.acme.example/errors'}
    - {code: '7', message: '余额不足，请充值', language: zh, source_url: 'https://docs.acme.example/errors'}
    """
    rs = _tree(tmp_path, GOOD, catalog=catalog).get("acme")
    rule, _ = rs.select(Probe(code="42"))
    assert rule is not None
    assert rule.id == "acme.throttled"
    rule, entry = rs.select(Probe(message="Slow down, 3 requests left"))
    assert rule is not None
    assert rule.category is Category.RATE_LIMIT
    assert entry is not None
    rule, entry = rs.select(Probe(message="余额不足，请充值"))
    assert rule is not None
    assert rule.id == "acme.no-money"


def _refusal(tmp_path: Path, rules: str) -> RuleFileError:
    with pytest.raises(RuleFileError) as info:
        _tree(tmp_path, rules).get("acme")
    return info.value


def test_unknown_category_names_the_file_line_field_and_choices(tmp_path: Path) -> None:
    err = _refusal(tmp_path, GOOD.replace("RATE_LIMIT.REQUESTS", "RATE_LIMIT.TOO_FAST"))
    assert err.path.endswith("acme/rules.yaml")
    assert err.line == 5
    assert err.field == "rules[0].category"
    assert "RATE_LIMIT.REQUESTS" in str(err)  # the valid choices are named


def test_typo_in_a_field_name_is_refused(tmp_path: Path) -> None:
    err = _refusal(
        tmp_path, GOOD.replace("    why: ACME documents code 7", "    wyh: ACME documents code 7")
    )
    fields = {p.field: p.line for p in err.problems}
    assert fields["rules[1].wyh"] == 10
    assert fields["rules[1].why"] is not None  # and the missing one is reported too


def test_regex_without_examples_and_bad_regex(tmp_path: Path) -> None:
    rules = (
        GOOD
        + """\
  - id: acme.regex
    category: AUTH.SIGNATURE
    why: A signature phrasing ACME uses.
    when: {message_regex: "sig(nature"}
"""
    )
    err = _refusal(tmp_path, rules)
    assert (err.line, err.field) == (15, "rules[2].when.message_regex")
    assert "does not compile" in str(err)


def test_example_that_its_own_rule_does_not_match(tmp_path: Path) -> None:
    rules = (
        GOOD
        + """\
  - id: acme.regex
    category: AUTH.SIGNATURE
    why: A signature phrasing ACME uses.
    when: {message_regex: "bad signature"}
    examples: ["good signature"]
"""
    )
    assert "does not match the rule's own message condition" in str(_refusal(tmp_path, rules))


def test_two_rules_that_tie_and_disagree_are_refused_at_load(tmp_path: Path) -> None:
    rules = (
        GOOD
        + """\
  - id: acme.also-42
    category: AUTH.API_KEY
    why: A second reading of code 42 that contradicts the first.
    when: {code: ["42", "43"]}
"""
    )
    err = _refusal(tmp_path, rules)
    assert err.line == 12
    assert err.field == "when"
    assert "acme.also-42" in str(err)
    assert "acme.throttled" in str(err)


def test_a_more_specific_rule_is_not_a_conflict(tmp_path: Path) -> None:
    rules = (
        GOOD
        + """\
  - id: acme.42-on-query
    category: RATE_LIMIT.BLOCKED
    why: Code 42 on a query means the IP was blocked, ACME says.
    when: {code: "42", operation: [query]}
"""
    )
    rs = _tree(tmp_path, rules).get("acme")
    assert rs.select(Probe(code="42", operation="query"))[0].id == "acme.42-on-query"  # type: ignore[arg-type,union-attr]
    assert rs.select(Probe(code="42"))[0].id == "acme.throttled"  # type: ignore[union-attr]


def test_duplicate_rule_ids_are_refused(tmp_path: Path) -> None:
    rules = GOOD.replace("acme.no-money", "acme.throttled")
    assert "is also defined at" in str(_refusal(tmp_path, rules))


def test_exchange_name_must_match_its_folder(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match=r"exchange.yaml:1: name: .*'acme' folder"):
        _tree(tmp_path, GOOD, exchange=EXCHANGE.replace("name: acme", "name: other")).get("acme")


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    err = _refusal(tmp_path, GOOD + "  - id: [unclosed\n")
    assert err.line is not None
    assert "not valid YAML" in str(err)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    evil = GOOD.replace('"42"', "!!python/object/apply:os.system ['echo pwned']")
    assert "not valid YAML" in str(_refusal(tmp_path, evil))


def test_bundled_rules_all_load_without_conflicts() -> None:
    for rs in registry().load_all():
        assert rs.conflicts() == []
        if rs.name == "generic":  # a profile, not a venue: no documented codes
            continue
        assert rs.catalog is not None
        assert rs.catalog.entries


def test_json_schema_refuses_an_unknown_format_with_a_normalizer_error() -> None:
    """Issue 22: a caller mistake raises a NormalizerError subclass, not a bare ValueError."""
    import normalizer

    with pytest.raises(normalizer.NormalizerError) as info:
        normalizer.json_schema("nope")  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert "nope" in str(info.value)
    with pytest.raises(normalizer.NormalizerError):
        normalizer.json_schema(["rules"])  # type: ignore[arg-type]
    assert normalizer.json_schema("exchange")["properties"]["client_order_id_dedupe"][
        "default"
    ] == ("none")
