"""JSON Schema of the file formats, for editors and other tools.

``json_schema("rules")`` describes ``rules/*/rules.yaml``; also ``"policy"``,
``"catalog"`` and ``"exchange"``. Category fields list the ontology's labels.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from .._core.errors import ArgumentTypeError, ArgumentValueError
from .._core.vocabulary import Category
from .catalog import Catalog
from .compiled import ONTOLOGY
from .policy import PolicyFile
from .rules import ExchangeSpec, RulesFile

Kind = Literal["rules", "policy", "catalog", "exchange"]
_MODELS: dict[str, type[BaseModel]] = {
    "rules": RulesFile,
    "policy": PolicyFile,
    "catalog": Catalog,
    "exchange": ExchangeSpec,
}


def _labels() -> list[str]:
    return [c.value for c in Category] + list(ONTOLOGY.subcategories)


def json_schema(kind: Kind) -> dict[str, Any]:
    """The JSON Schema of one file format; an unknown ``kind`` raises
    ``ArgumentValueError`` (a ``NormalizerError`` and a ``ValueError``)."""
    if not isinstance(kind, str):
        raise ArgumentTypeError("kind", f"one of {sorted(_MODELS)}", kind)
    model = _MODELS.get(kind)
    if model is None:
        raise ArgumentValueError(
            "kind", f"is no file format; choose one of {sorted(_MODELS)}", kind
        )
    schema: dict[str, Any] = model.model_json_schema()
    schema["$id"] = f"https://github.com/exchange-error-normalizer/schemas/{kind}.json"
    labels = _labels()
    defs = schema.get("$defs", {})
    rule = defs.get("RuleSpec")
    if rule is not None:
        rule["properties"]["category"]["enum"] = labels
    when = defs.get("PolicyWhen")
    if when is not None:
        when["properties"]["category"] = {
            "anyOf": [{"type": "array", "items": {"enum": labels}}, {"type": "null"}],
            "default": None,
        }
    return schema
