"""``rules/common/ccxt.yaml``: the ccxt exception class -> category table, as a file format.

Validated here (pydantic); compiled to plain data for the engine's ccxt input
adapter (``normalizer._engine.ccxt``), which falls back on it when the
exchange's own rules find nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from .._core.errors import RuleFileError
from .._core.resources import data_dir
from .compiled import ONTOLOGY
from .fields import OneLine, Url
from .yaml import load_file, validate

ClassName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]{1,60}$")]


class ClassEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    category: str
    why: OneLine
    source: Url | None = None

    @field_validator("category")
    @classmethod
    def _in_ontology(cls, v: str) -> str:
        ONTOLOGY.parse_label(v)
        return v


class ClassTable(BaseModel):
    """``rules/common/ccxt.yaml``: ccxt exception class -> category, as a fallback."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_url: Url
    classes: dict[ClassName, ClassEntry]

    def lookup(self, names: list[str]) -> tuple[str, ClassEntry] | None:
        """The entry of the most specific class in ``names`` that has one."""
        for name in names:
            entry = self.classes.get(name)
            if entry is not None:
                return name, entry
        return None


def load_class_table(path: str | Path | None = None) -> ClassTable:
    """Load a class table; a mistake is refused with file, line and field."""
    p = Path(path) if path is not None else data_dir("rules") / "common" / "ccxt.yaml"
    return validate(ClassTable, load_file(p, RuleFileError), RuleFileError)


def compile_class_table() -> dict[str, Any]:
    """The bundled class table as plain data (for the registry)."""
    table = load_class_table()
    return {
        "source_url": table.source_url,
        "classes": {
            name: (e.category, e.why, e.source or table.source_url)
            for name, e in table.classes.items()
        },
    }
