"""Errors the package raises at its callers.

Only caller mistakes raise: a rule, catalog or policy file with a mistake, an
argument of the wrong type or value, an unknown exchange or operation.
Exchange input never raises (see ``normalize``). ``except NormalizerError``
catches every one of them; a test keeps this drawing equal to the classes:

    NormalizerError
     ├── ConfigError              a rule, catalog, ontology or policy file is wrong (ValueError)
     │    ├── RuleFileError
     │    ├── CatalogError
     │    ├── PolicyError
     │    └── OntologyError
     ├── ArgumentTypeError        an argument of the wrong type (TypeError)
     ├── ArgumentValueError       an argument of the right type, a wrong value (ValueError)
     │    ├── UnknownExchangeError
     │    ├── UnknownOperationError
     │    └── InvalidResultError  a hand-built result that contradicts itself
     ├── SupervisorUnavailable    durable-rules cannot be imported here (RuntimeError)
     └── SupervisorError          the supervisor refuses a call
          ├── SupervisorArgumentError  a bad argument (also a TypeError and a ValueError)
          ├── SupervisorClosed         the supervisor was closed (also a RuntimeError)
          └── StoreUnavailable         the shared state store (Redis) cannot be reached
"""

from __future__ import annotations

from .frozen import frozen

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from pathlib import Path


class NormalizerError(Exception):
    """Base of every error this package raises on purpose."""


@frozen
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


class ArgumentTypeError(NormalizerError, TypeError):
    """An argument of the wrong type: names the argument and what it got.

    ``argument`` is the argument's name, ``got`` the value passed.
    """

    def __init__(self, argument: str, expected: str, got: object) -> None:
        self.argument = argument
        self.got = got
        super().__init__(f"{argument} must be {expected}, not {type(got).__name__} {_show(got)}")


class ArgumentValueError(NormalizerError, ValueError):
    """An argument of the right type but a wrong value: names the argument and what it got."""

    def __init__(self, argument: str, message: str, got: object, *, whole: bool = False) -> None:
        self.argument = argument
        self.got = got
        super().__init__(message if whole else f"{argument} {message}, not {_show(got)}")


class UnknownExchangeError(ArgumentValueError):
    """The exchange name is not one of the loaded rule sets."""

    def __init__(self, name: object, known: list[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(
            "exchange",
            f"unknown exchange {name!r}; known exchanges: {', '.join(known)}",
            name,
            whole=True,
        )


class UnknownOperationError(ArgumentValueError):
    """The operation is not one of the ontology's operations."""

    def __init__(self, name: object, known: list[str], argument: str = "operation") -> None:
        self.known = tuple(known)
        super().__init__(
            argument, f"unknown {argument} {name!r}; choose one of {list(known)}", name, whole=True
        )


class InvalidResultError(ArgumentValueError):
    """A result built by hand contradicts itself (a subcategory outside its
    category, a number that is not finite, an outcome against the category)."""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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
