"""The ontology files: their schemas, their checks, and their compiled form.

``ontology/categories.yaml`` and ``ontology/actions.yaml`` are validated here
(pydantic) and checked against the enums of ``normalizer._core.vocabulary``
(the tree of categories is drawn in that module's docstring). ``compile_ontology``
turns them into the plain data ``normalizer._core.vocabulary.Ontology`` is built
from; the engine reads only that.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from .._core.errors import OntologyError, Problem
from .._core.resources import data_dir
from .._core.vocabulary import (
    Action,
    Category,
    Ontology,
    Operation,
    Outcome,
    Precondition,
    Scope,
    operation_of,
)
from .yaml import Located, load_file, problems_from_validation

__all__ = [
    "Action",
    "Category",
    "Ontology",
    "Operation",
    "Outcome",
    "Precondition",
    "Scope",
    "compile_ontology",
    "operation_of",
]

_Upper = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")]
_Lower = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
_Meaning = Annotated[str, StringConstraints(min_length=3, max_length=200)]


class _SubcategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    meaning: _Meaning
    outcome: Outcome | None = None


class _CategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    meaning: _Meaning
    outcome: Outcome
    never_retry: bool = False
    retry_allowed: list[_Upper] = Field(default_factory=list)
    subcategories: dict[_Upper, _Meaning | _SubcategorySpec] = Field(default_factory=dict)


class _CategoriesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    categories: dict[_Upper, _CategorySpec]

    @model_validator(mode="after")
    def _outcomes(self) -> _CategoriesFile:
        for name, spec in self.categories.items():
            declared = [spec.outcome] + [
                s.outcome
                for s in spec.subcategories.values()
                if isinstance(s, _SubcategorySpec) and s.outcome is not None
            ]
            unknown_state = name == Category.UNKNOWN_STATE.value
            for outcome in declared:
                if (outcome is Outcome.UNKNOWN) != unknown_state:
                    raise ValueError(
                        f"categories.{name}: outcome {outcome.value}: the outcome is UNKNOWN "
                        "if and only if the category is UNKNOWN_STATE"
                    )
        return self


class _OperationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    meaning: _Meaning
    write: bool
    status_query: _Lower | None = None


class _ActionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    actions: dict[_Upper, _Meaning]
    scopes: dict[_Lower, _Meaning]
    preconditions: dict[_Lower, _Meaning]
    operations: dict[_Lower, _OperationSpec]


def _load(name: str, model: type[BaseModel]) -> tuple[Located, BaseModel]:
    located = load_file(data_dir("ontology") / name, OntologyError)
    try:
        return located, model.model_validate(located.data)
    except ValidationError as exc:
        raise OntologyError(problems_from_validation(exc, located)) from None


def _check_enum(enum: type[Enum], names: list[str], located: Located, field: str) -> None:
    declared = [m.value for m in enum]
    if declared != names:
        raise OntologyError(
            [
                Problem(
                    located.path,
                    located.line_of((field,)),
                    field,
                    f"{enum.__name__} in normalizer/_core/vocabulary.py is {declared}, the file "
                    f"says {names}; they must be the same, in the same order",
                )
            ]
        )


def compile_ontology() -> dict[str, Any]:
    """Load and check both ontology files; their content as plain data."""
    cat_loc, cats = _load("categories.yaml", _CategoriesFile)
    act_loc, acts = _load("actions.yaml", _ActionsFile)
    assert isinstance(cats, _CategoriesFile)
    assert isinstance(acts, _ActionsFile)
    _check_enum(Category, list(cats.categories), cat_loc, "categories")
    _check_enum(Action, list(acts.actions), act_loc, "actions")
    _check_enum(Scope, list(acts.scopes), act_loc, "scopes")
    _check_enum(Precondition, list(acts.preconditions), act_loc, "preconditions")
    _check_enum(Operation, list(acts.operations), act_loc, "operations")
    problems = []
    for op_name, op in acts.operations.items():
        if op.status_query is not None and op.status_query not in acts.preconditions:
            problems.append(
                Problem(
                    act_loc.path,
                    act_loc.line_of(("operations", op_name, "status_query")),
                    f"operations.{op_name}.status_query",
                    f"{op.status_query!r} is not one of the preconditions",
                )
            )
    for name, spec in cats.categories.items():
        for sub in spec.retry_allowed:
            if sub not in spec.subcategories:
                problems.append(
                    Problem(
                        cat_loc.path,
                        cat_loc.line_of(("categories", name, "retry_allowed")),
                        f"categories.{name}.retry_allowed",
                        f"{sub!r} is not a subcategory of {name}",
                    )
                )
    if problems:
        raise OntologyError(problems)
    return {
        "categories": {
            name: {
                "meaning": spec.meaning,
                "outcome": spec.outcome.value,
                "never_retry": spec.never_retry,
                "retry_allowed": tuple(spec.retry_allowed),
                "subcategories": {
                    sub: (s, None)
                    if isinstance(s, str)
                    else (s.meaning, s.outcome.value if s.outcome else None)
                    for sub, s in spec.subcategories.items()
                },
            }
            for name, spec in cats.categories.items()
        },
        "actions": dict(acts.actions),
        "scopes": dict(acts.scopes),
        "preconditions": dict(acts.preconditions),
        "operations": {
            k: {"meaning": v.meaning, "write": v.write, "status_query": v.status_query}
            for k, v in acts.operations.items()
        },
    }
