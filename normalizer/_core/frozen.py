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


# ``__init__`` templates by number of fields, so that ``@frozen`` needs no
# ``exec`` (compiling a method's text costs about 65 µs, a dozen classes are on
# the start-up path): the template's code is copied with the parameters renamed
# to the fields, the field names are its closure. Generated; more fields: exec.
# fmt: off
def _init1(_n0):  # type: ignore[no-untyped-def]
    def __init__(self, a0):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)

    return __init__


def _init2(_n0, _n1):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)

    return __init__


def _init3(_n0, _n1, _n2):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)

    return __init__


def _init4(_n0, _n1, _n2, _n3):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)

    return __init__


def _init5(_n0, _n1, _n2, _n3, _n4):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)

    return __init__


def _init6(_n0, _n1, _n2, _n3, _n4, _n5):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)

    return __init__


def _init7(_n0, _n1, _n2, _n3, _n4, _n5, _n6):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5, a6):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)
        _set(self, _n6, a6)

    return __init__


def _init8(_n0, _n1, _n2, _n3, _n4, _n5, _n6, _n7):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)
        _set(self, _n6, a6)
        _set(self, _n7, a7)

    return __init__


def _init9(_n0, _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)
        _set(self, _n6, a6)
        _set(self, _n7, a7)
        _set(self, _n8, a8)

    return __init__


def _init10(_n0, _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8, _n9):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)
        _set(self, _n6, a6)
        _set(self, _n7, a7)
        _set(self, _n8, a8)
        _set(self, _n9, a9)

    return __init__


def _init11(_n0, _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8, _n9, _n10):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)
        _set(self, _n6, a6)
        _set(self, _n7, a7)
        _set(self, _n8, a8)
        _set(self, _n9, a9)
        _set(self, _n10, a10)

    return __init__


def _init12(_n0, _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8, _n9, _n10, _n11):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)
        _set(self, _n6, a6)
        _set(self, _n7, a7)
        _set(self, _n8, a8)
        _set(self, _n9, a9)
        _set(self, _n10, a10)
        _set(self, _n11, a11)

    return __init__


def _init13(_n0, _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8, _n9, _n10, _n11, _n12):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)
        _set(self, _n6, a6)
        _set(self, _n7, a7)
        _set(self, _n8, a8)
        _set(self, _n9, a9)
        _set(self, _n10, a10)
        _set(self, _n11, a11)
        _set(self, _n12, a12)

    return __init__


def _init14(_n0, _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8, _n9, _n10, _n11, _n12, _n13):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)
        _set(self, _n6, a6)
        _set(self, _n7, a7)
        _set(self, _n8, a8)
        _set(self, _n9, a9)
        _set(self, _n10, a10)
        _set(self, _n11, a11)
        _set(self, _n12, a12)
        _set(self, _n13, a13)

    return __init__


def _init15(_n0, _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8, _n9, _n10, _n11, _n12, _n13, _n14):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)
        _set(self, _n6, a6)
        _set(self, _n7, a7)
        _set(self, _n8, a8)
        _set(self, _n9, a9)
        _set(self, _n10, a10)
        _set(self, _n11, a11)
        _set(self, _n12, a12)
        _set(self, _n13, a13)
        _set(self, _n14, a14)

    return __init__


def _init16(_n0, _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8, _n9, _n10, _n11, _n12, _n13, _n14, _n15):  # type: ignore[no-untyped-def]
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15):  # type: ignore[no-untyped-def]
        _set(self, _n0, a0)
        _set(self, _n1, a1)
        _set(self, _n2, a2)
        _set(self, _n3, a3)
        _set(self, _n4, a4)
        _set(self, _n5, a5)
        _set(self, _n6, a6)
        _set(self, _n7, a7)
        _set(self, _n8, a8)
        _set(self, _n9, a9)
        _set(self, _n10, a10)
        _set(self, _n11, a11)
        _set(self, _n12, a12)
        _set(self, _n13, a13)
        _set(self, _n14, a14)
        _set(self, _n15, a15)

    return __init__
# fmt: on

_TEMPLATES: dict[int, Any] = {
    1: _init1,
    2: _init2,
    3: _init3,
    4: _init4,
    5: _init5,
    6: _init6,
    7: _init7,
    8: _init8,
    9: _init9,
    10: _init10,
    11: _init11,
    12: _init12,
    13: _init13,
    14: _init14,
    15: _init15,
    16: _init16,
}
_FunctionType: Any = type(_frozen_delattr)


def _make_init(cls: type, names: tuple[str, ...], defaults: tuple[Any, ...]) -> Any:
    """``__init__(self, *names)`` with ``defaults`` for the last fields, or None."""
    template = _TEMPLATES.get(len(names))
    if template is None or any(n.startswith("_n") or n in ("self", "_set") for n in names):
        return None
    made = template(*names)
    code = made.__code__.replace(
        co_varnames=("self", *names),
        co_name="__init__",
        co_qualname=f"{cls.__qualname__}.__init__",
    )
    return _FunctionType(code, made.__globals__, "__init__", defaults or None, made.__closure__)


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
    init = _make_init(cls, names, tuple(defaults.values()))
    if init is None:
        body = "".join(f"    _set(self, {n!r}, {n})\n" for n in names) or "    pass\n"
        source = f"def __init__(self, {', '.join(params)}):\n{body}"
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
