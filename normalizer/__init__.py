"""Normalize crypto-exchange errors onto one ontology and recommend what to do.

    >>> import normalizer
    >>> err = normalizer.normalize("okx", code="58102", http_status=429)
    >>> err.category, err.subcategory, err.rule_id
    (<Category.RATE_LIMIT: 'RATE_LIMIT'>, 'RATE_LIMIT.REQUESTS', 'okx.transfer-rate-limit')
    >>> rec = normalizer.recommend(err, operation="transfer", attempt=1)
    >>> rec.action
    <Action.RETRY: 'RETRY'>

The categories, actions, scopes, operations and outcomes are drawn as a tree
in ``normalizer._core.vocabulary``; what raises is drawn in
``normalizer._core.errors``. The package's layers: ``_core`` (vocabulary, text,
the compiled rule table, result records; no pydantic, no YAML) <- ``_formats``
(the files: YAML, schemas, compilation, the registry) <- ``_engine``
(normalize, recommend, input adapters) <- the edges (supervisor, batch,
analysis) <- the command line.
"""

from ._core.errors import (
    ArgumentTypeError,
    ArgumentValueError,
    BatchInputError,
    CatalogError,
    ConfigError,
    InvalidResultError,
    NormalizerError,
    OntologyError,
    PathNotFoundError,
    PolicyError,
    Problem,
    RuleFileError,
    SupervisorUnavailable,
    UnknownExchangeError,
    UnknownOperationError,
)
from ._core.policy import Backoff, Policy
from ._core.record import ExceptionInfo
from ._core.resources import VERSION
from ._core.vocabulary import Action, Category, Operation, Outcome, Precondition, Scope
from ._engine.generic import use_generic_for_unknown
from ._engine.normalize import exchanges, normalize
from ._engine.recommend import recommend
from ._engine.results import NormalizedError, RawInput, Recommendation
from ._formats.registry import default_policy, load_rules, reset_rules

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from ._formats.policy import load_policy, parse_policy
    from ._formats.schema import json_schema
    from .batch._frame import classify_frame, normalize_many
    from .supervisor import Decision, Halt, Supervisor

__version__ = VERSION

# Imported on first use, so that `import normalizer` stays cheap (no pydantic,
# no PyYAML, no durable-rules) for routers that never use them.
_LAZY = {
    "Decision": ".supervisor",
    "Halt": ".supervisor",
    "Supervisor": ".supervisor",
    "load_policy": "._formats.policy",
    "parse_policy": "._formats.policy",
    "json_schema": "._formats.schema",
    "classify_frame": ".batch._frame",
    "normalize_many": ".batch._frame",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        return getattr(importlib.import_module(module, __name__), name)
    raise AttributeError(f"module 'normalizer' has no attribute {name!r}")


__all__ = [
    "Action",
    "ArgumentTypeError",
    "ArgumentValueError",
    "Backoff",
    "BatchInputError",
    "CatalogError",
    "Category",
    "ConfigError",
    "Decision",
    "ExceptionInfo",
    "Halt",
    "InvalidResultError",
    "NormalizedError",
    "NormalizerError",
    "OntologyError",
    "Operation",
    "Outcome",
    "PathNotFoundError",
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
    "UnknownOperationError",
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
