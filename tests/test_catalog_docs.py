# ruff: noqa: E501  (docs rows and bodies are kept on one line)
"""Catalogs are generated from the docs pages kept in ``rules/<venue>/docs/``:
the parser reads every convention those pages use, ingest builds one catalog
from several pages, and each bundled catalog is exactly what ingest builds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import normalizer
from normalizer._core.text import Template, fold
from normalizer._formats.catalog import (
    CatalogError,
    api_code,
    diff_catalogs,
    ingest_pages,
    load_catalog,
    parse_doc,
)
from normalizer._formats.registry import registry
from normalizer.cli import main

ROOT = registry().root
VENUES = list(normalizer.exchanges())  # the generic profile has no docs


def _build(venue: str):  # type: ignore[no-untyped-def]
    spec = registry().get(venue).spec
    pages = sorted((ROOT / venue / "docs").glob("*.md"))
    assert pages, f"{venue}: no docs pages in {ROOT / venue / 'docs'}"  # never skipped
    return ingest_pages(
        venue,
        [(str(p), p.read_text(encoding="utf-8")) for p in pages],
        docs_url=spec.docs_url,
        subcode_separator=spec.subcode_separator,
        success_codes=spec.response.success_codes,
    ).catalog


@pytest.mark.parametrize("venue", VENUES)
def test_bundled_catalog_is_what_ingest_builds_from_its_docs(venue: str) -> None:
    """Reproducible from a clone: catalog.yaml == ingest(rules/<venue>/docs/*.md)."""
    bundled = load_catalog(ROOT / venue / "catalog.yaml")
    fresh = _build(venue)
    assert diff_catalogs(bundled, fresh).empty, venue
    assert bundled.entries == fresh.entries


def test_every_venue_has_pages_and_sections() -> None:
    assert set(VENUES) >= {
        "okx",
        "mexc",
        "binance",
        "bybit",
        "kucoin",
        "gate",
        "bitget",
        "kraken",
        "coinbase",
    }
    okx = load_catalog(ROOT / "okx" / "catalog.yaml")
    assert len(okx.sections()) >= 14
    zh = [e for e in okx.entries if e.language == "zh"]
    assert len(zh) == 115  # the seed's Chinese Funding entries stay
    assert {e.code for e in okx.entries if e.language == "en" and e.code.startswith("58")} >= {
        "58102",
        "58381",
    }


PAGE = """---
exchange: acme
source_url: https://acme.example/errors
section: "REST / Trading"
api_type: REST
updated_at: 2026-07-01
---

# REST / Trading

Error Code | HTTP Status Code | Error Message | Name | Description
---|---|---|---|---
51008_1000 | 200 | Insufficient {param0} balance | | |
51008_1001 | 200 | Insufficient {param0} margin | | |
-1013 |  | Filter failure: PRICE_FILTER | -1013 INVALID_MESSAGE | Price \\| tick size is wrong
EOrder:Insufficient funds |  | EOrder:Insufficient funds | | Client does not have the necessary funds
BALANCE_NOT_ENOUGH | 400 | Not enough balance | | |
EService: Throttled: [UNIX timestamp] |  | EService: Throttled: [UNIX timestamp] | | Try again after [timestamp].
1 | 200 | A message that the docs
wrapped onto the next line
"""


def test_parser_reads_names_descriptions_escapes_and_symbolic_codes() -> None:
    doc = parse_doc(PAGE + "4 | 200 | " + "x" * 3000 + "\n")
    by = {e.code: e for e in doc.entries}
    assert by["-1013"].name == "INVALID_MESSAGE"
    assert by["-1013"].description == "Price | tick size is wrong"
    assert by["EOrder:Insufficient funds"].description == "Client does not have the necessary funds"
    assert by["BALANCE_NOT_ENOUGH"].http_status == 400
    assert by["-1013"].http_status is None
    assert by["1"].message == "A message that the docs wrapped onto the next line"
    assert len(by["4"].message) == 3000
    assert {e.section for e in doc.entries} == {"REST / Trading"}
    assert [e.code for e in doc.entries].count("51008_1000") == 1


def test_sub_codes_and_code_templates_become_the_api_code() -> None:
    assert api_code("51008_1000", "_") == "51008"
    assert api_code("51008_1000") == "51008_1000"
    assert api_code("EGeneral:Internal error[:<code>]") == "EGeneral:Internal error"
    assert api_code("EService: Throttled: [UNIX timestamp]") == "EService: Throttled"
    built = ingest_pages(
        "acme", [("p.md", PAGE)], docs_url="https://acme.example/", subcode_separator="_"
    ).catalog
    sub = [e for e in built.entries if e.code == "51008"]
    assert [e.doc_code for e in sub] == ["51008_1000", "51008_1001"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Insufficient {param0} margin in account", "Insufficient USDT margin in account "),
        ("Value ${x} is bad", "value 7 is bad"),
        ("Order <id> failed", "Order 123 failed"),
        ("over [minQty]", "over 0.001"),
        ("Order %s failed", "ORDER  abc  FAILED"),
        ("Can\u2019t do it", "Can't do it"),
        ("Ｆｕｌｌ width：ok", "Full width:ok"),
    ],
)
def test_docs_placeholders_and_spellings_match(template: str, message: str) -> None:
    from normalizer._core.text import fold

    assert Template(template).matches(fold(message))


def test_a_page_of_another_exchange_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="about 'acme', not 'okx'"):
        ingest_pages("okx", [("p.md", PAGE)], docs_url="https://okx.example/")


def _rules_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(ROOT, dst)
    return dst


def test_ingest_several_pages_with_drift_per_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = _rules_copy(tmp_path)
    docs = sorted((rules / "kraken" / "docs").glob("*.md"))
    changed = tmp_path / "02.md"
    changed.write_text(
        docs[1]
        .read_text()
        .replace(
            "EAPI:Rate limit exceeded |  | EAPI:Rate limit exceeded",
            "EAPI:Rate limit exceeded |  | EAPI:Rate limit exceeded now",
        )
    )
    pages = [str(docs[0]), str(changed), *map(str, docs[2:])]
    code = main(["ingest", "kraken", *pages, "--rules-dir", str(rules), "--dry-run"])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "[Rate Limits / REST API Rate Limits / Errors]" in out
    assert "~ EAPI:Rate limit exceeded [en] message" in out
    assert "wrote" not in out
    code = main(
        [
            "ingest",
            "kraken",
            str(docs[0]),
            str(rules / "okx" / "docs" / "01-rest-api-public-general-class.md"),
            "--rules-dir",
            str(rules),
        ]
    )
    assert code == 2
    assert "not 'kraken'" in capsys.readouterr().err


def test_ingest_never_writes_into_an_installed_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "lib" / "site-packages" / "normalizer_data" / "rules"
    shutil.copytree(ROOT, site)
    monkeypatch.setattr(registry(), "root", site)
    page = str(ROOT / "kraken" / "docs" / "01-spot-error-messages-some-common-examples.md")
    before = (site / "kraken" / "catalog.yaml").read_text()
    assert main(["ingest", "kraken", page]) == 2
    assert "installed package" in capsys.readouterr().err
    assert (site / "kraken" / "catalog.yaml").read_text() == before


# ------------------------------------------------------------ the catalog property


@pytest.mark.parametrize("venue", VENUES)
def test_catalog_property_every_entry_maps_to_a_specific_category(venue: str) -> None:
    """For every venue, every documented entry maps by its code alone and by
    code + message (+ its documented HTTP status) to a specific subcategory
    through a rule of the venue's own; and its message alone (placeholders
    filled), wherever no other code documents the same message, is recognised
    as a documented entry and maps to the same category and subcategory as
    code + message (a filled message may fit two codes' templates, such as
    Binance -1128 and -1182 "Conflicting fields: [%s]": then both codes must
    agree). Strict: one entry that does not hold fails the venue."""
    rs = registry().get(venue)
    assert rs.catalog is not None
    problems: list[str] = []
    for entry in rs.catalog.entries:
        by_code = normalizer.normalize(venue, code=entry.code)
        by_both = normalizer.normalize(
            venue, code=entry.code, message=entry.message, http_status=entry.http_status
        )
        for how, err in (("code", by_code), ("code+message", by_both)):
            if (
                err.subcategory is None
                or err.category.value == "UNKNOWN"
                or not (err.rule_id or "").startswith(f"{venue}.")
            ):
                problems.append(f"{entry.documented_as} by {how}: {err.label} by {err.rule_id}")
        if len({e.code for e in rs.catalog.entries if fold(e.message) == fold(entry.message)}) > 1:
            continue  # documented under several codes: the message alone cannot decide
        expected = normalizer.normalize(venue, code=entry.code, message=entry.message)
        t = Template(entry.message)
        if not t.recognisable:
            continue  # only the code decides (Template.recognisable, table._message_index)
        message = t.fill(["x1"] * len(t.placeholders))
        alone = normalizer.normalize(venue, message=message)
        # recognised: named in documented_code, or read as its own code (Kraken's strings)
        if alone.documented_code is None and alone.code != entry.code:
            problems.append(f"{entry.documented_as}: {message!r} alone is not recognised")
        elif (alone.category, alone.subcategory) != (expected.category, expected.subcategory):
            problems.append(
                f"{entry.documented_as}: by message {alone.label} != by code {expected.label}"
            )
    assert not problems, f"{venue}: {len(problems)} entries fail: {problems[:10]}"
