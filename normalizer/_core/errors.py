"""Errors the package raises at its callers.

Only caller mistakes raise: a rule, catalog or policy file with a mistake, an
unknown exchange or operation. Exchange input never raises (see ``normalize``).

    NormalizerError
     ├── ConfigError          a rule, catalog, ontology or policy file is wrong
     │    ├── RuleFileError
     │    ├── CatalogError
     │    ├── PolicyError
     │    └── OntologyError
     ├── UnknownExchangeError  (also a ValueError)
     ├── SupervisorUnavailable durable-rules cannot be imported here
     └── SupervisorError       the supervisor refuses a call
          ├── SupervisorArgumentError  a bad argument (also a TypeError and a ValueError)
          ├── SupervisorClosed         the supervisor was closed (also a RuntimeError)
          └── StoreUnavailable         the shared state store (Redis) cannot be reached
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class NormalizerError(Exception):
    """Base of every error this package raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One mistake in a file: where it is and what is wrong."""

    path: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ConfigError(NormalizerError, ValueError):
    """A data file (rules, catalog, ontology, policy) is refused.

    ``problems`` lists every mistake found, each with the file, the line and
    the field; ``path``, ``line`` and ``field`` repeat the first one.
    """

    kind = "file"

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        if not problems:
            raise ValueError("ConfigError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        first = self.problems[0]
        self.path = first.path
        self.line = first.line
        self.field = first.field
        lines = [f"{self.kind} refused: {first.path}"] + [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))

    @classmethod
    def single(cls, path: str | Path, line: int | None, field: str, message: str) -> ConfigError:
        return cls([Problem(str(path), line, field, message)])


class RuleFileError(ConfigError):
    kind = "rule file"


class CatalogError(ConfigError):
    kind = "catalog"


class PolicyError(ConfigError):
    kind = "policy"


class OntologyError(ConfigError):
    kind = "ontology"


class UnknownExchangeError(NormalizerError, ValueError):
    """The exchange name is not one of the loaded rule sets."""

    def __init__(self, name: object, known: list[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(f"unknown exchange {name!r}; known exchanges: {', '.join(known)}")


class SupervisorUnavailable(NormalizerError, RuntimeError):
    """The supervisor's engine (durable-rules) cannot be used on this interpreter."""


class SupervisorError(NormalizerError):
    """The supervisor refuses a call."""


class SupervisorArgumentError(SupervisorError, TypeError, ValueError):
    """An argument of a supervisor call has the wrong type or value (named in the message)."""


class SupervisorClosed(SupervisorError, RuntimeError):
    """The supervisor was closed."""


class StoreUnavailable(SupervisorError, ConnectionError):
    """The supervisor's shared state store cannot be reached (see ``on_store_error``)."""
