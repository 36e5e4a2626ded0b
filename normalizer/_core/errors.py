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
     │    ├── InvalidResultError  a result built by hand or read from JSON that is not valid
     │    └── PathNotFoundError   a file or folder the caller named is missing (FileNotFoundError)
     ├── BatchInputError          a batch cannot run: a usage mistake, strict's bad row (ValueError)
     ├── SupervisorUnavailable    durable-rules cannot be imported here (RuntimeError)
     └── SupervisorError          the supervisor refuses a call
          ├── SupervisorArgumentError  a bad argument (also a TypeError and a ValueError)
          ├── SupervisorClosed         the supervisor was closed (also a RuntimeError)
          └── StoreUnavailable         the shared state store (Redis) cannot be reached

The ccxt wrapper (``normalizer.ccxt``) carries the advice out; where the advice is
to stop, it raises, carrying the decision, the result and the client order id:

    NormalizerError
     └── ActionRequired           the wrapper stopped: a halt, a refusal or an unknown outcome
          ├── SendRefused         a halted scope: the request was not sent
          ├── RequestRejected     the venue's answer settles it: the request did not take effect
          └── OutcomeUnknown      it may have taken effect: reconcile by the client order id
"""

from __future__ import annotations

from .frozen import frozen

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


class NormalizerError(Exception):
    """Base of every error this package raises on purpose.

    Pickled by its message and attributes, not by its constructor's arguments
    (which differ per class), so it crosses a process boundary whole: a Dask or
    Spark worker's error reaches the driver as the same class, message and
    fields. An attribute that cannot be pickled travels as its ``repr``.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuilt, (type(self), self.args, _portable(self.__dict__)))


def _rebuilt(cls: type[NormalizerError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    solid: type = cls  # the built-in exception whose layout the class has (OSError's for
    while solid.__module__ != "builtins":  # PathNotFoundError): its __new__, not __init__
        solid = solid.__base__ or Exception
    error = solid.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


def _portable(state: dict[str, Any]) -> dict[str, Any]:
    import pickle  # loaded by whoever pickles this

    out = {}
    for name, value in state.items():
        try:
            pickle.dumps(value)
        except Exception:  # a caller's object (a lambda, a socket) given as an argument
            value = _show(value)
        out[name] = value
    return out


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
    """The exchange name is not one of the loaded rule sets.

    The message names the known exchanges and the opt-in that classifies any
    other venue by the generic profile.
    """

    def __init__(self, name: object, known: list[str] | tuple[str, ...]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(
            "exchange",
            f"unknown exchange {_show(name)}; known exchanges: {', '.join(known)}. "
            f"To classify a venue no rules know by the generic profile, pass "
            f'unknown_exchange="generic" (or call normalizer.use_generic_for_unknown() '
            f"once; --unknown-exchange generic on the command line)",
            name,
            whole=True,
        )


class UnknownOperationError(ArgumentValueError):
    """The operation is not one of the ontology's operations."""

    def __init__(self, name: object, known: list[str], argument: str = "operation") -> None:
        self.known = tuple(known)
        super().__init__(
            argument,
            f"unknown {argument} {_show(name)}; choose one of {list(known)}",
            name,
            whole=True,
        )


class InvalidResultError(ArgumentValueError):
    """A result built by hand contradicts itself (a subcategory outside its
    category, a number that is not finite, an outcome against the category),
    or JSON given to ``from_json``/``from_dict`` is not a valid result."""


class PathNotFoundError(ArgumentValueError, FileNotFoundError):
    """A file or folder the caller named does not exist (also a
    ``FileNotFoundError``, as the analysis functions documented it)."""

    def __init__(self, argument: str, path: object) -> None:
        super().__init__(argument, f"{argument}: no such file or folder: {path}", path, whole=True)


class BatchInputError(NormalizerError, ValueError):
    """A batch cannot run: a usage mistake (a missing file, an unknown format),
    or a bad row under ``strict``; the message names the file and line."""


def _show(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # a hostile object's repr must not hide the mistake
        text = f"<{type(value).__name__}>"
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


class ActionRequired(NormalizerError):
    """The ccxt wrapper stopped; ``action`` says what the advice was (HALT,
    ESCALATE, QUERY_THEN_RETRY), ``error`` is the normalized result it acted on
    (None when nothing was sent), ``client_order_id`` the order's client id (for
    an order), ``decision`` the supervisor's decision when one was asked."""

    def __init__(
        self,
        message: str,
        *,
        action: object,
        error: object = None,
        client_order_id: str | None = None,
        decision: object = None,
    ) -> None:
        super().__init__(message)
        self.action = action
        self.error = error
        self.client_order_id = client_order_id
        self.decision = decision


class SendRefused(ActionRequired):
    """The scope is halted: the request was refused before it left (nothing was sent)."""


class RequestRejected(ActionRequired):
    """The venue's answer settles it: the request did not take effect; do not resend
    it as it is (HALT or ESCALATE)."""


class OutcomeUnknown(ActionRequired):
    """The request may have taken effect and the venue could not confirm either way:
    reconcile later by ``client_order_id``; never resend it blindly."""
