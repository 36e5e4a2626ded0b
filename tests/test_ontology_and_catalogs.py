"""The ontology is data checked against the code; catalogs are parsed from docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import normalizer
from normalizer import Action, CatalogError, Category, Operation, Precondition, Scope
from normalizer._core.resources import data_dir
from normalizer._core.vocabulary import __doc__ as ONTOLOGY_DOC
from normalizer._engine.normalize import registry
from normalizer._formats.catalog import (
    build_catalog,
    diff_catalogs,
    dump_catalog,
    load_catalog,
    parse_doc,
)
from normalizer._formats.registry import ONTOLOGY

REQUIRED = [
    "AUTH",
    "RATE_LIMIT",
    "KYC",
    "INSUFFICIENT_FUNDS",
    "INVALID_REQUEST",
    "NOT_FOUND",
    "LIMIT_EXCEEDED",
    "ACCOUNT_RESTRICTED",
    "UNAVAILABLE",
    "UNKNOWN_STATE",
    "UNKNOWN",
]


def _yaml(name: str) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((data_dir("ontology") / name).read_text())  # type: ignore[no-any-return]


def test_enums_are_the_ontology_files() -> None:
    cats = _yaml("categories.yaml")["categories"]
    acts = _yaml("actions.yaml")
    assert [c.value for c in Category] == list(cats) == REQUIRED
    assert (
        [a.value for a in Action]
        == list(acts["actions"])
        == ["RETRY", "QUERY_THEN_RETRY", "HALT", "ESCALATE"]
    )
    assert [s.value for s in Scope] == list(acts["scopes"])
    assert [p.value for p in Precondition] == list(acts["preconditions"])
    assert [o.value for o in Operation] == list(acts["operations"])
    subs = {f"{c}.{s}" for c, spec in cats.items() for s in spec.get("subcategories", {})}
    assert set(ONTOLOGY.subcategories) == subs


def test_docstring_tree_is_the_ontology() -> None:
    """The httpx-style tree in normalizer/_core/vocabulary.py's docstring is never stale."""

    def names(text: str) -> list[str]:
        return re.findall(r"── ([A-Z_]+(?:\.[A-Z_]+)?)", text)

    drawn = names(ONTOLOGY_DOC.split("Action:")[0])  # type: ignore[union-attr]
    assert drawn == names(ONTOLOGY.tree())
    assert len(drawn) == len(Category) + len(ONTOLOGY.subcategories)


def test_every_subcategory_has_a_one_line_meaning() -> None:
    for name, meaning in ONTOLOGY.subcategory_meaning.items():
        assert meaning, name
        assert "\n" not in meaning, name


def test_parse_label_names_the_choices() -> None:
    assert ONTOLOGY.parse_label("AUTH.SIGNATURE") == (Category.AUTH, "AUTH.SIGNATURE")
    with pytest.raises(ValueError, match=r"AUTH\.SIGNATURE"):
        ONTOLOGY.parse_label("AUTH.SIG")
    with pytest.raises(ValueError, match="not a category"):
        ONTOLOGY.parse_label("OOPS")


# ---------------------------------------------------------------- catalogs


def test_bundled_catalogs_are_exactly_what_the_parser_makes_of_the_docs(seeds: Path) -> None:
    """Catalogs are generated from the docs pages, never edited by hand."""
    # (every venue's catalog against all its docs pages: tests/test_catalog_docs.py)
    for exchange, page in (("mexc", "mexc-error-codes.md"),):
        bundled = load_catalog(registry().root / exchange / "catalog.yaml")
        url = bundled.source_url
        fresh = build_catalog(exchange, parse_doc((seeds / page).read_text(), source_url=url), url)
        assert diff_catalogs(bundled, fresh).empty, exchange
        assert bundled.entries == fresh.entries


def test_okx_docs_both_languages_and_wrapped_rows(seeds: Path) -> None:
    doc = parse_doc((seeds / "okx-funding-error-codes.md").read_text())
    en = {e.code: e for e in doc.entries if e.language == "en"}
    zh = {e.code: e for e in doc.entries if e.language == "zh"}
    assert len(en) == 123
    assert len(zh) == 115
    assert en["58102"].http_status == 429
    assert en["58114"].http_status == 400
    assert en["58100"].message.endswith("function with related users. Please wait patiently.")
    assert "法币划转操作" in zh["58105"].message  # a CJK row joined without a space
    assert doc.meta["source_url"].startswith("https://www.okx.com/")


def test_mexc_docs_keep_guidance_and_reused_codes(seeds: Path) -> None:
    doc = parse_doc(
        (seeds / "mexc-error-codes.md").read_text(), source_url="https://example.org/mexc"
    )
    codes = [e.code for e in doc.entries]
    assert len(doc.entries) == 94
    assert codes.count("730001") == 2
    first = doc.entries[0]
    assert (first.code, first.message) == ("-2011", "Unknown order sent")
    assert first.guidance
    assert first.guidance.startswith("The specified order could not be found")


def test_a_page_without_source_url_is_refused() -> None:
    with pytest.raises(CatalogError, match="source_url"):
        parse_doc("10101 Insufficient balance | Top up. |\n")


def test_a_page_without_codes_is_refused() -> None:
    with pytest.raises(CatalogError, match="no error codes"):
        parse_doc("---\nsource_url: https://x.example\n---\n# Nothing here\n")


def test_drift_between_catalogs() -> None:
    url = "https://x.example/errors"
    old = build_catalog(
        "x", parse_doc("1 | 200 | Old text\n2 | 200 | Gone\n3 | 200 | Same\n", source_url=url), url
    )
    new = build_catalog(
        "x", parse_doc("1 | 400 | New text\n3 | 200 | Same\n4 | 200 | Added\n", source_url=url), url
    )
    drift = diff_catalogs(old, new)
    assert [e.code for e in drift.added] == ["4"]
    assert [e.code for e in drift.removed] == ["2"]
    assert [b.message for _, b in drift.changed_message] == ["New text"]
    assert [(a.http_status, b.http_status) for a, b in drift.changed_status] == [(200, 400)]


def test_dumped_catalog_loads_back(tmp_path: Path) -> None:
    catalog = load_catalog(registry().root / "okx" / "catalog.yaml")
    path = tmp_path / "catalog.yaml"
    path.write_text(dump_catalog(catalog, "page.md"))
    assert load_catalog(path) == catalog


def test_json_schemas_are_exported_for_the_file_formats() -> None:
    rules = normalizer.json_schema("rules")
    policy = normalizer.json_schema("policy")
    assert "AUTH.SIGNATURE" in rules["$defs"]["RuleSpec"]["properties"]["category"]["enum"]
    assert "rules" in policy["properties"]
    assert "defaults" in policy["properties"]
    with pytest.raises(ValueError, match="file format"):
        normalizer.json_schema("nope")  # type: ignore[arg-type]
