"""Small frozen value classes, without importing ``dataclasses`` at start-up.

``dataclasses`` imports ``inspect`` (and ``ast``, ``dis``, ``tokenize``...),
which costs about as much as ``import json, re, random``; and every
``@dataclass`` builds its methods through several layers. The value classes on
the start-up path (guards, the rule table's conditions and probes, problems in
files, the engine's small records) need only what ``@frozen`` gives:

- fields from the class's annotations (a base class's first), defaults from
  their class attributes, ``field(default=..., repr=..., compare=...)``;
- an ``__init__`` taking them positionally or by name;
- ``__eq__`` (same class, equal compared fields), ``__hash__``, ``__repr__``;
- no assignment after construction (``FrozenInstanceError``, an
  ``AttributeError``); ``replace(obj, **changes)`` builds a changed copy.

Type checkers read ``@frozen`` as a frozen dataclass (PEP 681).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_: object) -> Callable[[T], T]:
        return lambda f: f


__all__ = ["FrozenInstanceError", "field", "frozen", "replace"]

_MISSING: Any = object()
_set = object.__setattr__


class FrozenInstanceError(AttributeError):
    """A field of a frozen value was assigned or deleted."""


class _Field:
    __slots__ = ("compare", "default", "repr")

    def __init__(self, default: Any, repr: bool, compare: bool) -> None:
        self.default = default
        self.repr = repr
        self.compare = compare


def field(*, default: Any = _MISSING, repr: bool = True, compare: bool = True) -> Any:
    """A field with a default, or left out of ``repr`` or of equality."""
    return _Field(default, repr, compare)


def _frozen_setattr(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen value class (see the module docstring)."""
    inherited: dict[str, _Field] = {}
    for base in reversed(cls.__mro__[1:]):
        inherited.update(vars(base).get("__frozen_fields__", {}))
    fields = dict(inherited)
    for name, annotation in vars(cls).get("__annotations__", {}).items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, _Field) else _Field(value, True, True)
        fields.pop(name, None)
        fields[name] = spec
        if isinstance(value, _Field):
            if spec.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
    names = tuple(fields)
    params: list[str] = []
    defaults: dict[str, Any] = {}
    for name, spec in fields.items():
        if spec.default is _MISSING:
            if defaults:
                raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one")
            params.append(name)
        else:
            defaults[f"_d_{name}"] = spec.default
            params.append(f"{name}=_d_{name}")
    body = "".join(f"    _set(self, {n!r}, {n})\n" for n in names) or "    pass\n"
    source = (
        f"def __init__(self, {', '.join(params)}):\n{body}"
        if params
        else (f"def __init__(self):\n{body}")
    )
    scope: dict[str, Any] = {"_set": _set, **defaults}
    exec(source, scope)  # noqa: S102 - our own text, built from identifiers
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    compared = tuple(n for n, s in fields.items() if s.compare)
    shown = tuple(n for n, s in fields.items() if s.repr)

    def key(self: Any) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in compared)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(key(self) == key(other))
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(key(self))

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in shown)
        return f"{type(self).__qualname__}({inner})"

    cls.__init__ = init  # type: ignore[method-assign]
    cls.__eq__ = __eq__  # type: ignore[method-assign]
    cls.__hash__ = __hash__  # type: ignore[method-assign]
    cls.__repr__ = __repr__  # type: ignore[method-assign]
    cls.__setattr__ = _frozen_setattr  # type: ignore[method-assign]
    cls.__delattr__ = _frozen_delattr  # type: ignore[method-assign]
    cls.__frozen_fields__ = fields  # type: ignore[attr-defined]
    cls.__match_args__ = names  # type: ignore[attr-defined,misc]
    return cls


def replace(obj: T, **changes: Any) -> T:
    """A copy of a frozen value with some fields changed."""
    fields: dict[str, _Field] = type(obj).__frozen_fields__  # type: ignore[attr-defined]
    unknown = set(changes) - set(fields)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)[0]!r}")
    return type(obj)(**{n: changes.get(n, getattr(obj, n)) for n in fields})
