"""Normalize crypto-exchange errors onto one ontology and recommend what to do.

    >>> import normalizer
    >>> err = normalizer.normalize("okx", code="58102", http_status=429)
    >>> err.category, err.subcategory, err.rule_id
    (<Category.RATE_LIMIT: 'RATE_LIMIT'>, 'RATE_LIMIT.REQUESTS', 'okx.transfer-rate-limit')
    >>> rec = normalizer.recommend(err, operation="transfer", attempt=1)
    >>> rec.action
    <Action.RETRY: 'RETRY'>

The categories, actions, scopes and operations are drawn as a tree in
``normalizer._ontology``; what raises is drawn in ``normalizer._errors``.
"""

from typing import TYPE_CHECKING

from ._batch import classify_frame, normalize_many
from ._core.errors import (
    CatalogError,
    ConfigError,
    NormalizerError,
    OntologyError,
    PolicyError,
    Problem,
    RuleFileError,
    SupervisorUnavailable,
    UnknownExchangeError,
)
from ._engine.generic import use_generic_for_unknown
from ._engine.normalize import exchanges, load_rules, normalize, reset_rules
from ._engine.recommend import recommend
from ._engine.results import NormalizedError, RawInput, Recommendation
from ._formats.ontology import Action, Category, Operation, Precondition, Scope
from ._formats.policy import Backoff, Policy, default_policy, load_policy, parse_policy
from ._formats.schema import json_schema

if TYPE_CHECKING:
    from .supervisor import Decision, Halt, Supervisor

__version__ = "0.1.0"

_LAZY = {"Decision", "Halt", "Supervisor"}


def __getattr__(name: str) -> object:
    # The supervisor (and durable-rules behind it) is imported on first use,
    # so that `import normalizer` stays cheap for routers that never use it.
    if name in _LAZY:
        from . import supervisor

        return getattr(supervisor, name)
    raise AttributeError(f"module 'normalizer' has no attribute {name!r}")


__all__ = [
    "Action",
    "Backoff",
    "CatalogError",
    "Category",
    "ConfigError",
    "Decision",
    "Halt",
    "NormalizedError",
    "NormalizerError",
    "OntologyError",
    "Operation",
    "Policy",
    "PolicyError",
    "Precondition",
    "Problem",
    "RawInput",
    "Recommendation",
    "RuleFileError",
    "Scope",
    "Supervisor",
    "SupervisorUnavailable",
    "UnknownExchangeError",
    "classify_frame",
    "default_policy",
    "exchanges",
    "json_schema",
    "load_policy",
    "load_rules",
    "normalize",
    "normalize_many",
    "parse_policy",
    "recommend",
    "reset_rules",
    "use_generic_for_unknown",
]
