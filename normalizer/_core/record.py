"""Immutable result records: typed, hashable, JSON both ways, a flat dict for logs.

Every result the package hands out (``NormalizedError``, ``RawInput``,
``Recommendation``, the supervisor's ``Decision`` and ``Halt``) is a
``Record``: a tuple subclass whose fields are read by name, so it is
immutable, hashable and cheap to build (about the cost of a tuple). Building
one by keyword validates it; the engine, whose values are already checked,
builds them with ``_make`` and skips that.

- ``to_dict()``: JSON-ready nested data (enums as their values, nested records
  as dicts); ``from_dict()`` rebuilds an equal record, validated.
- ``to_json()`` / ``from_json()``: the same as text.

``from_json`` and ``from_dict`` take untrusted input: whatever they are given
(not JSON, too large, nested deeper than ``MAX_JSON_DEPTH``, a field of the
wrong type, a record that contradicts itself), they raise only
``InvalidResultError`` (a ``NormalizerError`` and a ``ValueError``) naming what
is wrong, and they read at most ``MAX_JSON_CHARS`` characters and
``MAX_JSON_NODES`` values, each nesting level checked without recursion.
- ``to_flat()``: one level of scalars for a log line (nested records counted or
  flattened with a dotted prefix, free-form evidence left out).

Fields named in ``_ignored`` (the raw evidence) take no part in equality and
hashing.

Why a tuple and not a ``@frozen`` value (``_core/frozen.py``, the package's
other value classes): a result is built on every never-seen error, and building
one of 17 fields costs about 0.3-0.4 µs as a tuple against several µs as a
frozen, slotted class (its ``__init__`` assigns each field through
``object.__setattr__``, as a frozen dataclass's does; without ``__init__``, a
slot descriptor per field, still about 10x); hashing and comparing cost the
same. Fields are read by the C reader namedtuple uses. A result holds no
reference cycle (its items, notes and raw are tuples of values), so reference
counting alone frees it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from enum import Enum

try:  # the C field reader namedtuple uses: a field read costs what a slot read costs
    from collections import _tuplegetter  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - another Python: a property does the same
    from operator import itemgetter

    def _tuplegetter(index: int, doc: str) -> Any:
        return property(itemgetter(index), doc=doc)


from .errors import ArgumentTypeError, InvalidResultError, NormalizerError

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    R = TypeVar("R", bound="Record")


_new = tuple.__new__

#: ``from_json`` refuses a text longer than this (a result's raw body is kept
#: whole, and ``normalize()`` reads at most 256 KiB of one).
MAX_JSON_CHARS = 16 * 1024 * 1024
#: ``from_json``/``from_dict`` refuse data nested deeper than this (a result,
#: its items, its raw input and a parsed body nested 40 deep fit).
MAX_JSON_DEPTH = 64
#: ... and data of more values than this (every dict, list and scalar counts).
MAX_JSON_NODES = 1_000_000
#: ``to_json`` keeps a raw value as JSON (``$json``) when it nests at most this
#: deep, else as its repr, so every result it writes reads back.
MAX_EVIDENCE_DEPTH = 40


class Record(tuple):  # type: ignore[type-arg]
    """Base of the result types (see the module docstring)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    #: fields left out of equality and hashing (the raw evidence)
    _ignored: ClassVar[frozenset[str]] = frozenset()
    _compared: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for i, name in enumerate(cls._fields):
            setattr(cls, name, _tuplegetter(i, f"field {name}"))
        compared = len(cls._fields)
        while compared and cls._fields[compared - 1] in cls._ignored:
            compared -= 1
        cls._compared = compared

    @classmethod
    def _make(cls: type[R], values: tuple[Any, ...]) -> R:
        """Build from values in field order, already known to be valid."""
        return _new(cls, values)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), tuple(self)))

    def __copy__(self: R) -> R:
        return self

    def __deepcopy__(self: R, memo: Any) -> R:
        return self

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        n = self._compared
        if n == len(self._fields):
            return tuple.__eq__(self, other)
        return tuple(self[:n]) == tuple(other[:n])

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        n = self._compared
        return hash(tuple(self[:n]) if n != len(self._fields) else tuple(self))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}"
            for name, value in zip(self._fields, self, strict=True)
            if name not in self._ignored
        )
        return f"{type(self).__name__}({shown})"

    def _replace(self: R, **changes: Any) -> R:
        """A copy with some fields changed, validated like a hand-built record."""
        values = dict(zip(self._fields, self, strict=True))
        unknown = set(changes) - set(values)
        if unknown:
            raise ArgumentTypeError(
                sorted(unknown)[0], f"a field of {type(self).__name__}", changes
            )
        values.update(changes)
        return type(self)(**values)

    replace = _replace
    #: ``copy.replace(record, ...)`` (Python 3.13)
    __replace__ = _replace

    # ------------------------------------------------------------- JSON

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested data; ``from_dict`` rebuilds an equal record."""
        return {name: _encode(value) for name, value in zip(self._fields, self, strict=True)}

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        """The record ``data`` describes (what ``to_dict`` wrote), validated.

        Raises only ``InvalidResultError``, whatever ``data`` holds (see the
        module docstring).
        """
        if not isinstance(data, Mapping):
            raise InvalidResultError("data", "must be a JSON object (a mapping)", data)
        check_data(data)
        try:
            return cls._decode(data)
        except InvalidResultError:
            raise
        except (NormalizerError, TypeError, ValueError, KeyError) as exc:
            # a field of the wrong type (ArgumentTypeError) or an unreadable value
            raise InvalidResultError(
                "data", f"not a valid {cls.__name__}: {exc}", data, whole=True
            ) from exc

    @classmethod
    def _decode(cls: type[R], data: Mapping[str, Any]) -> R:
        return cls(**{k: v for k, v in data.items() if k in cls._fields})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls: type[R], text: str | bytes) -> R:
        """The record a ``to_json`` text describes, validated.

        Raises only ``InvalidResultError``, whatever ``text`` holds (see the
        module docstring).
        """
        if not isinstance(text, (str, bytes, bytearray)):
            raise InvalidResultError("text", "must be JSON text (str or bytes)", text)
        if len(text) > MAX_JSON_CHARS:
            raise InvalidResultError(
                "text",
                f"JSON text of {len(text)} characters; at most {MAX_JSON_CHARS} are read",
                text,
                whole=True,
            )
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, too deep
            raise InvalidResultError("text", f"not JSON: {exc}", text, whole=True) from None
        return cls.from_dict(data)

    def to_flat(self, prefix: str = "") -> dict[str, Any]:
        """One level of scalars, for a log line."""
        out: dict[str, Any] = {}
        for name, value in zip(self._fields, self, strict=True):
            if name in self._ignored:
                continue
            key = prefix + name
            if isinstance(value, Record):
                out.update(value.to_flat(key + "."))
            elif isinstance(value, tuple):
                if value and isinstance(value[0], Record):
                    out[key] = len(value)
                else:
                    out[key] = "; ".join(str(v) for v in value) if value else None
            elif isinstance(value, Enum):
                out[key] = value.value
            else:
                out[key] = value
        return out


def check_data(data: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """``InvalidResultError`` unless ``data`` is JSON-like data (dicts with text
    keys, lists or tuples, text, numbers, bools, None, enum members) nested at
    most ``max_depth`` deep and of at most ``MAX_JSON_NODES`` values.

    Walks the data with a list, not by recursion, so no depth can exhaust the
    stack.
    """
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_JSON_NODES:
            raise InvalidResultError(
                "data", f"JSON data of more than {MAX_JSON_NODES} values", data, whole=True
            )
        if value is None or isinstance(value, (str, bool, int, float, Enum)):
            continue
        if depth >= max_depth:
            raise InvalidResultError(
                "data", f"JSON data nested deeper than {max_depth} levels", data, whole=True
            )
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InvalidResultError("data", "has a key that is not text", key)
                stack.append((item, depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, depth + 1) for item in value)
        else:
            raise InvalidResultError("data", "holds a value that is not JSON data", value)


def _rebuild(cls: type[Record], values: tuple[Any, ...]) -> Record:
    return cls._make(values)


def _encode(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


# ------------------------------------------------------------ raw evidence


class ExceptionInfo(Record):
    """An exception as it survives JSON: its type, module and message."""

    __slots__ = ()
    _fields = ("type", "module", "message")

    type: str
    module: str
    message: str

    def __new__(cls, type: str, module: str, message: str) -> ExceptionInfo:
        for name, value in (("type", type), ("module", module), ("message", message)):
            if not isinstance(value, str):
                raise ArgumentTypeError(name, "a str", value)
        return _new(cls, (type, module, message))

    @classmethod
    def of(cls, exc: BaseException) -> ExceptionInfo:
        try:
            text = str(exc)
        except Exception:  # a broken __str__ must not break logging
            text = "<unprintable>"
        return cls(type(exc).__qualname__, type(exc).__module__, text[:4096])


_MARKERS = ("$bytes", "$base64", "$json", "$exception", "$repr", "$float")


def encode_evidence(value: Any) -> Any:
    """A caller's raw value as JSON data that ``decode_evidence`` turns back.

    Text stays text; bytes become ``{"$bytes": text}`` when UTF-8, else
    ``{"$base64": ...}``; a JSON-able mapping or list ``{"$json": ...}``; an
    exception ``{"$exception": {type, module, message}}``; anything else
    ``{"$repr": repr}`` (kept as that text).
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else {"$repr": repr(value)[:64]}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return {"$bytes": data.decode("utf-8")}
        except UnicodeDecodeError:
            import base64  # rare: not imported at start-up

            return {"$base64": base64.b64encode(data).decode("ascii")}
    if isinstance(value, BaseException):
        return {"$exception": list(ExceptionInfo.of(value))}
    if isinstance(value, ExceptionInfo):
        return {"$exception": list(value)}
    if isinstance(value, (Mapping, list, tuple)):
        try:
            check_data(value, MAX_EVIDENCE_DEPTH)  # deeper would not read back
            json.dumps(value, allow_nan=False)
            if isinstance(value, Mapping):
                return {"$json": dict(value)}
            return {"$json": list(value)}
        except (TypeError, ValueError, RecursionError):  # InvalidResultError is a ValueError
            pass
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return {"$repr": text[:4096]}


def decode_evidence(data: Any) -> Any:
    """The inverse of ``encode_evidence``; ``InvalidResultError`` for a marker
    whose value ``encode_evidence`` cannot have written."""
    if isinstance(data, Mapping) and len(data) == 1:
        ((key, value),) = data.items()
        if key not in _MARKERS:
            return data
        if key == "$json":
            return value
        if key == "$exception":
            if not (isinstance(value, (list, tuple)) and len(value) == 3):
                raise InvalidResultError("raw", "$exception must be [type, module, message]", value)
            return ExceptionInfo(*value)
        if not isinstance(value, str):
            raise InvalidResultError("raw", f"{key} must be text", value)
        if key == "$bytes":
            try:
                return value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate
                raise InvalidResultError("raw", "$bytes is not valid Unicode", value) from None
        if key == "$base64":
            import base64  # rare: not imported at start-up
            import binascii

            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidResultError("raw", "$base64 is not base64", value) from None
        if key == "$float":
            if value not in ("inf", "-inf", "nan"):
                raise InvalidResultError("raw", "$float must be inf, -inf or nan", value)
            return float(value)
        return Unrepresentable(value)  # $repr
    return data


class Unrepresentable(str):
    """A raw value that JSON could only carry as its repr()."""

    __slots__ = ()


def finite(name: str, value: object, *, optional: bool = True) -> float | None:
    """``value`` as a finite float (ints accepted, bools refused), else InvalidResultError."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(name, "a number", value)
    try:
        f = float(value)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f) or f < 0:
        raise InvalidResultError(name, "must be a finite number >= 0", value)
    return f
