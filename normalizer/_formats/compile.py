"""Compiling the YAML files (validated with pydantic) into plain data.

Everything here imports PyYAML and pydantic; the engine never imports this
module unless the compiled rules file is missing or stale (``registry``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._core.errors import RuleFileError
from .._core.resources import data_dir
from .._core.table import CompiledCatalog, Entry, Frozen, Rule, RuleSet
from .catalog import Catalog, load_catalog
from .compiled import COMMON
from .ontology import compile_ontology
from .rules import ExchangeSpec, RuleMeta, load_rules_file
from .yaml import load_file, validate


def plain_catalog(catalog: Catalog) -> CompiledCatalog:
    return CompiledCatalog(
        catalog.exchange,
        catalog.source_url,
        catalog.updated_at,
        tuple(
            Entry(
                e.code,
                e.message,
                e.language,
                e.http_status,
                e.section,
                e.guidance,
                e.source_url,
                e.doc_code,
                e.name,
                e.description,
            )
            for e in catalog.entries
        ),
    )


def compile_common(root: Path, meta: dict[str, RuleMeta] | None = None) -> list[Rule]:
    path = root / COMMON / "rules.yaml"
    return load_rules_file(path, "*", meta) if path.is_file() else []


def declared(meta: dict[str, RuleMeta]) -> dict[str, str]:
    """The outcomes rules declare themselves (``outcome:``), by rule id."""
    return {rule_id: m.declared.value for rule_id, m in meta.items() if m.declared is not None}


def compile_layer(
    folder: Path, name: str, meta: dict[str, RuleMeta] | None = None
) -> tuple[dict[str, Any] | None, CompiledCatalog | None, list[Rule]]:
    """What one folder says of an exchange, each part only when its file is
    there: the envelope (``exchange.yaml``), the catalog, the rules."""
    spec_data: dict[str, Any] | None = None
    if (folder / "exchange.yaml").is_file():
        spec = validate(
            ExchangeSpec,
            load_file(folder / "exchange.yaml", RuleFileError),
            RuleFileError,
            {"exchange": name},
        )
        spec_data = spec.model_dump(mode="json")
        # the envelope reads every item shape the same way, one or several
        spec_data["response"]["item_shapes"] = [
            shape.model_dump(mode="json") for shape in spec.response.item_shapes
        ]
    catalog = None
    if (folder / "catalog.yaml").is_file():
        catalog = plain_catalog(load_catalog(folder / "catalog.yaml"))
    own = (
        load_rules_file(folder / "rules.yaml", name, meta)
        if (folder / "rules.yaml").is_file()
        else []
    )
    return spec_data, catalog, own


def compile_exchange(root: Path, name: str, common: list[Rule]) -> dict[str, Any]:
    """One exchange's folder, validated and checked, as plain data."""
    folder = root / name
    meta: dict[str, RuleMeta] = {}
    spec_data, catalog, own = compile_layer(folder, name, meta)
    if not (folder / "rules.yaml").is_file():
        own = load_rules_file(folder / "rules.yaml", name)  # refused: names the missing file
    assert spec_data is not None  # only folders with an exchange.yaml are exchanges
    RuleSet(Frozen(spec_data), catalog, own, common, check=True)  # refuses conflicts
    return {
        "spec": spec_data,
        "catalog": catalog.to_plain() if catalog is not None else None,
        "rules": [r.to_plain() for r in own],
        "declared": declared(meta),
    }


def compile_bundled() -> dict[str, Any]:
    """All the bundled data as plain data (see ``registry``)."""
    from .ccxt_table import compile_class_table
    from .policy import compile_default_policy

    root = data_dir("rules")
    common_meta: dict[str, RuleMeta] = {}
    common = compile_common(root, common_meta)
    names = sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and p.name != COMMON and (p / "exchange.yaml").is_file()
    )
    return {
        "ontology": compile_ontology(),
        "common": [r.to_plain() for r in common],
        "common_declared": declared(common_meta),
        "exchanges": {n: compile_exchange(root, n, common) for n in names},
        "ccxt": compile_class_table(),
        "policy": compile_default_policy(),
    }
