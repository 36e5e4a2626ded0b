"""The one kind of value class the package uses: ``@frozen``.

``@frozen`` turns a class of annotated fields into a frozen, slotted value
class, as ``dataclasses.dataclass(frozen=True, slots=True)`` would, and supports
what the package uses of that:

- fields in the order declared, a base class's fields first; a field may have a
  default, or ``field(default=..., default_factory=..., repr=..., compare=...)``;
- ``__init__`` takes the fields by position or by name and raises ``TypeError``
  for a missing, repeated or unknown argument;
- equality and hash over the compared fields, only between values of the same
  class; ``repr`` of the shown fields; pickling and copying;
- ``inspect.signature`` (``help()``) shows the fields, built when first asked;
- assigning or deleting a field raises ``FrozenInstanceError``;
- ``replace(value, **changes)`` (and ``copy.replace`` from Python 3.13) is a
  changed copy; ``as_dict(value)`` its fields
  by name, which a class offers as a method with ``as_dict = as_dict``.

Why not ``dataclasses`` itself: importing it brings ``inspect``, ``ast``,
``dis`` and ``tokenize``, about 9 ms, as long as ``import json, re, random``
takes, and the start-up budget of ``import normalizer`` plus the first
``normalize()`` is three times that (issue 22). This module imports only
``operator`` (which the interpreter has loaded already). ``__init__`` is one plain
function shared by every class (no generated source): it builds a value in about
twice the time of a dataclass's generated one (1.6 against 0.85 µs for 8 fields),
and a value is built at load, or once per new input or situation, never for an
input seen before (results are ``Record`` tuples, ``_core/record.py``).
Declarations read from files are validated by pydantic at load time
(``normalizer._formats``); what they compile into is built from these classes.
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_: object) -> object:
        return lambda f: f


__all__ = ["FrozenInstanceError", "as_dict", "field", "frozen", "replace"]

_set = object.__setattr__


class FrozenInstanceError(AttributeError):
    """A field of a frozen value was assigned or deleted."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<no default>"


_MISSING: Any = _Missing()


class _Field:
    """What ``field()`` declares of one field."""

    __slots__ = ("compare", "default", "default_factory", "repr")

    def __init__(
        self, default: Any, default_factory: Callable[[], Any] | None, repr: bool, compare: bool
    ) -> None:
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """A field's default (or a factory of fresh defaults), and whether it is
    shown in ``repr`` and takes part in equality and hashing."""
    if default is not _MISSING and default_factory is not None:
        raise ValueError("give a field a default or a default_factory, not both")
    return _Field(default, default_factory, repr, compare)


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    names: tuple[str, ...] = cls.__frozen_fields__
    if len(args) > len(names):
        raise TypeError(
            f"{cls.__qualname__}() takes {len(names)} arguments but {len(args)} were given"
        )
    for name, value in zip(names, args, strict=False):
        if name in kwargs:
            raise TypeError(f"{cls.__qualname__}() got multiple values for argument {name!r}")
        _set(self, name, value)
    defaults: dict[str, _Field] = cls.__frozen_defaults__
    for name in names[len(args) :]:
        if name in kwargs:
            _set(self, name, kwargs.pop(name))
        elif name in defaults:
            f = defaults[name]
            _set(self, name, f.default if f.default_factory is None else f.default_factory())
        else:
            raise TypeError(f"{cls.__qualname__}() missing required argument {name!r}")
    if kwargs:
        raise TypeError(f"{cls.__qualname__}() got an unexpected argument {next(iter(kwargs))!r}")


class _Signature:
    """A class's ``__signature__``, built when ``inspect.signature`` (``help()``,
    a notebook's tooltip) first asks: the shared ``__init__`` takes
    ``*args, **kwargs``, so without it a class would show no fields. ``inspect``
    is imported only then, never at start-up."""

    def __get__(self, value: object, cls: type) -> Any:
        import inspect

        annotations: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):  # a subclass's annotation wins
            annotations.update(inspect.get_annotations(klass))
        params = []
        for name in cls.__frozen_fields__:  # type: ignore[attr-defined]
            f = cls.__frozen_declared__[name]  # type: ignore[attr-defined]
            default = f.default if f.default is not _MISSING else inspect.Parameter.empty
            if f.default_factory is not None:
                default = _Factory(f.default_factory)
            params.append(
                inspect.Parameter(
                    name,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    default=default,
                    annotation=annotations.get(name, inspect.Parameter.empty),
                )
            )
        return inspect.Signature(params, return_annotation=None)


class _Factory:
    """A default made fresh for each value, as ``help()`` shows it."""

    __slots__ = ("factory",)

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory

    def __repr__(self) -> str:
        return f"<factory {getattr(self.factory, '__qualname__', self.factory)!r}>"


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r} of a frozen value")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r} of a frozen value")


def _eq(self: Any, other: Any) -> Any:  # bool, or NotImplemented
    if other.__class__ is not self.__class__:
        return NotImplemented
    key = self.__frozen_key__
    return bool(key(self) == key(other))  # same class: other has the key's fields


def _hash(self: Any) -> int:
    return hash(self.__frozen_key__(self))


def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__frozen_shown__)
    return f"{type(self).__qualname__}({shown})"


def _reduce(self: Any) -> tuple[Any, ...]:
    return (type(self), tuple(getattr(self, name) for name in self.__frozen_fields__))


def _no_fields(_: object) -> tuple[()]:
    return ()


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen, slotted value class of its annotated fields."""
    body = dict(cls.__dict__)
    annotations: dict[str, Any] = body.get("__annotations__", {})
    inherited: tuple[str, ...] = getattr(cls, "__frozen_fields__", ())
    declared: dict[str, _Field] = dict(getattr(cls, "__frozen_declared__", {}))
    names = list(inherited)
    for name, annotation in annotations.items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = body.pop(name, _MISSING)
        declared[name] = value if isinstance(value, _Field) else _Field(value, None, True, True)
        if name not in names:
            names.append(name)
    defaults = {n: f for n, f in declared.items() if f.default is not _MISSING or f.default_factory}
    for i, name in enumerate(names):
        if name not in defaults and any(m in defaults for m in names[:i]):
            raise TypeError(
                f"{cls.__qualname__}: field {name!r} without a default follows one with"
            )
    compared = [n for n in names if declared[n].compare]
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    body.update(
        __slots__=tuple(n for n in names if n not in inherited),
        __frozen_fields__=tuple(names),
        __frozen_declared__=declared,
        __frozen_defaults__=defaults,
        __frozen_shown__=tuple(n for n in names if declared[n].repr),
        __frozen_key__=attrgetter(*compared) if compared else staticmethod(_no_fields),
        __match_args__=tuple(names),
        __init__=_init,
        __setattr__=_frozen_setattr,
        __delattr__=_frozen_delattr,
        __eq__=_eq,
        __hash__=_hash,
        __repr__=_repr,
        __reduce__=_reduce,
        __replace__=replace,  # copy.replace(value, ...) (Python 3.13)
        __signature__=_Signature(),
    )
    made: Any = type(cls)(cls.__name__, cls.__bases__, body)  # type: ignore[misc]
    made.__qualname__ = cls.__qualname__
    return made  # type: ignore[no-any-return]


def replace(value: T, /, **changes: Any) -> T:
    """A copy of a ``@frozen`` value with some fields changed (``TypeError`` for
    a name that is not a field)."""
    names: tuple[str, ...] | None = getattr(type(value), "__frozen_fields__", None)
    if names is None:
        raise TypeError(f"replace() takes a @frozen value, not {type(value).__qualname__}")
    return type(value)(**{**{n: getattr(value, n) for n in names}, **changes})


def as_dict(value: Any) -> dict[str, Any]:
    """The fields of a ``@frozen`` value by name, in their order."""
    return {name: getattr(value, name) for name in type(value).__frozen_fields__}
