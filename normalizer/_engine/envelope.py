"""Envelopes: where each exchange puts the code, message and failed items of an error.

A pure module: no I/O. Its input is a parsed body (what ``json.loads`` made
of it); its output an ``Envelope``: the code, the message, the failed items of
a batch answer, and whether the body says success. What to read is declared
per exchange in ``exchange.yaml`` (``response:``, validated by
``ResponseShape`` in ``normalizer/_formats/rules.py`` and compiled to plain
attributes); the shapes it can describe:

- a code and a message at (dotted) paths, the first present wins:
  OKX ``{code,msg}``, Binance WS API ``error.code``/``error.msg``, Bybit
  ``retCode``/``retMsg``, Gate ``label``/``message``;
- success codes (OKX ``"0"``, KuCoin ``"200000"``, Bitget ``"00000"``) and a
  boolean success field (Bybit WS, Kraken WS, Coinbase ``success``);
- several code fields of which the first that is a documented code wins, with
  uninformative codes passed over (Coinbase's ``error_response``);
- failed items in lists: OKX ``data[].sCode``, Bybit ``retExtInfo.list``,
  Bitget ``data.failureList``, Coinbase v2 ``errors``, Gate's top-level list
  (path ``""``) with ``succeeded: false``;
- a top-level array read by position, when a code path starts with an index
  (Bitfinex ``["error", 10020, "price: invalid"]``: code ``1``, message ``2``);
- error strings (Kraken ``error: ["EOrder:Insufficient funds"]``, a list or
  one string): warnings (``W...``) are not errors, the code is the string
  without its ``:detail`` (the longest documented prefix).

How it reads: a shape is compiled once (``plan_of``) into a ``Plan``, a
composition of a small closed set of steps (``Path``, ``Codes``, ``Message``,
``Items``, ``Strings``), and ``extract`` runs the plan. There is no other
reader: every body of every path of ``normalize()`` is read by these steps.
The waits a venue asks for are read by ``waits.py``.
"""

from __future__ import annotations

import _thread  # not threading: its import costs a millisecond at start-up
from collections.abc import Mapping, Sequence
from functools import lru_cache
from operator import itemgetter

from .._core.arguments import MAX_CODE_CHARS

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

    ShapeSpec = Any
    ItemsSpec = Any

MAX_ITEMS = 1000
MAX_ERROR_STRINGS = 100
MAX_TEXT = 4096
#: ``as_code``'s bound on an integer code
_INT_LIMIT = 10**30


# ------------------------------------------------------------------- output


class _Plain:
    """A small internal record: slots, set once in ``__init__`` (a frozen dataclass
    pays ``object.__setattr__`` per field, on every body never seen before)."""

    __slots__: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({shown})"


class FailedItem(tuple):  # type: ignore[type-arg]
    """One failed item of a batch answer (or one of several error strings):
    ``(index, code, message)``, readable by name."""

    __slots__ = ()

    def __new__(cls, index: int, code: str | None, message: str | None) -> FailedItem:
        return tuple.__new__(cls, (index, code, message))

    index: int = property(itemgetter(0))  # type: ignore[assignment]
    code: str | None = property(itemgetter(1))  # type: ignore[assignment]
    message: str | None = property(itemgetter(2))  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FailedItem(index={self[0]!r}, code={self[1]!r}, message={self[2]!r})"


class Envelope(_Plain):
    """What a body says.

    ``code``/``message`` are the deciding ones: a batch answer's first failed
    item's, a Kraken answer's first error's. ``items`` lists every failed item.
    ``retry_after_s`` is a wait relative to now; ``retry_at`` an absolute
    deadline (epoch seconds) read from the body (both set by
    ``waits.read_envelope``). ``success`` is True when the body says the
    request succeeded; ``malformed`` when it has the exchange's fields but not
    in a usable form (or is not a shape the exchange uses).
    """

    __slots__ = (
        "code",
        "items",
        "malformed",
        "message",
        "retry_after_s",
        "retry_at",
        "success",
        "warnings",
    )

    def __init__(
        self,
        code: str | None = None,
        message: str | None = None,
        items: tuple[FailedItem, ...] = (),
        retry_after_s: float | None = None,
        retry_at: float | None = None,
        success: bool = False,
        malformed: bool = False,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.code = code
        self.message = message
        self.items = items
        self.retry_after_s = retry_after_s
        self.retry_at = retry_at
        self.success = success
        self.malformed = malformed
        self.warnings = warnings


NOTHING = Envelope()
_SUCCESS = Envelope(success=True)
_MALFORMED = Envelope(malformed=True)


# ------------------------------------------------------------------ values


def as_code(value: Any) -> str | None:
    """A code from a JSON value: ints and integral floats as text, bounded strings."""
    if type(value) is str:
        s = value.strip()
        return s if 0 < len(s) <= MAX_CODE_CHARS else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if abs(value) < _INT_LIMIT else None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else None
    if isinstance(value, str):
        s = value.strip()
        return s if 0 < len(s) <= MAX_CODE_CHARS else None
    return None


def as_message(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value[: MAX_TEXT * 4].decode("utf-8", "replace")
    return None


def get_path(obj: Any, path: str) -> Any:
    """The value at a dotted path (``error.data.retryAfter``); None when absent."""
    return _path(path).get(obj)


def _walk(obj: Any, parts: Sequence[str]) -> Any:
    """The value at a path already split at its dots."""
    for part in parts:
        if type(obj) is dict or isinstance(obj, Mapping):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and len(part) < 6:
            i = int(part)
            obj = obj[i] if i < len(obj) else None
        else:
            return None
        if obj is None:
            return None
    return obj


# -------------------------------------------------------------- code lookup


def _squash(code: str) -> str:
    """A code's comparison form: no space around ``:``, case kept (split and
    strip: linear, where a regex over runs of white space is not)."""
    code = code.strip()
    if ":" not in code:
        return code
    return ":".join([part.strip() for part in code.split(":")])


@lru_cache(maxsize=64)
def _squashed(known: frozenset[str]) -> dict[str, str]:
    # sorted, first wins: the same answer whatever the set's (hash-seeded) order
    table: dict[str, str] = {}
    for c in sorted(known):
        table.setdefault(_squash(c), c)
    return table


@lru_cache(maxsize=4096)
def resolve_code(raw: str, known: frozenset[str] | None, separator: str = ":") -> str:
    """The documented code an error string stands for.

    The string itself when documented; else its longest documented prefix
    ending before a ``separator`` (``EOrder:Insufficient funds:detail`` ->
    ``EOrder:Insufficient funds``), spacing around the separator ignored;
    else its first two fields (``<category>:<message>``).
    """
    raw = raw.strip()
    table = _squashed(known) if known else {}
    hit = table.get(raw)  # a key has no space around ":", so raw is squashed already
    if hit is not None:
        return hit
    squashed = _squash(raw) if separator == ":" else raw
    if squashed in table:
        return table[squashed]
    parts = squashed.split(separator)
    for n in range(len(parts) - 1, 0, -1):
        prefix = separator.join(parts[:n])
        if prefix in table:
            return table[prefix]
    if len(parts) > 2:
        return separator.join(parts[:2])[:MAX_CODE_CHARS]
    return squashed[:MAX_CODE_CHARS]


def _pick_code(
    candidates: list[str], known: frozenset[str] | None, vague: Sequence[str]
) -> str | None:
    """The first documented, informative code; else the first informative; else the first."""
    if not candidates:
        return None
    if known:
        for c in candidates:
            if c in known and c not in vague:
                return c
    for c in candidates:
        if c not in vague:
            return c
    return candidates[0]


# ------------------------------------------------------------------- steps
#
# The closed set of steps a shape compiles to. Each reads one thing of a
# parsed body; ``Plan.read`` composes them in the order the module docstring
# gives.


class Path:
    """Step: the value at a dotted path (``""``: the body itself)."""

    __slots__ = ("key", "parts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.parts: tuple[str, ...] = tuple(text.split(".")) if text else ()
        #: the one key of a path without dots (read with ``dict.get``)
        self.key: str | None = text if text and "." not in text else None

    def get(self, obj: Any) -> Any:
        key = self.key
        if key is not None and type(obj) is dict:
            return obj.get(key)
        return _walk(obj, self.parts) if self.parts else obj


@lru_cache(maxsize=4096)
def _path(text: str) -> Path:
    return Path(text)


class Codes:
    """Step: the code among ``paths`` (``_pick_code``), and whether a field
    held a value that is no code (``unusable``)."""

    __slots__ = ("paths", "vague")

    def __init__(self, paths: Sequence[str], vague: Sequence[str]) -> None:
        self.paths = tuple(_path(p) for p in paths)
        self.vague = tuple(vague)

    def read(self, obj: Any, known: frozenset[str] | None) -> tuple[str | None, bool]:
        found: list[str] = []
        unusable = False
        for path in self.paths:
            v = path.get(obj)
            if v is None:
                continue
            c = as_code(v)
            if c is None:
                unusable = unusable or v != ""
            else:
                found.append(c)
        if not found:
            return None, unusable
        if len(found) == 1 and not self.vague:
            return found[0], unusable
        return _pick_code(found, known, self.vague), unusable


class Message:
    """Step: the first of ``paths`` present, as a message."""

    __slots__ = ("paths",)

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = tuple(_path(p) for p in paths)

    def read(self, obj: Any) -> str | None:
        for path in self.paths:
            v = path.get(obj)
            if v is not None:
                return v if type(v) is str else as_message(v)
        return None


class Items:
    """Step: the failed items of the list at ``field``."""

    __slots__ = ("all_failed", "codes", "field", "message", "success_codes", "success_field")

    def __init__(self, s: ItemsSpec, vague: Sequence[str]) -> None:
        self.field = _path(s.field)
        self.codes = Codes(s.code_fields, vague)
        self.message = Message(s.message_fields)
        self.success_field = _path(s.success_field) if s.success_field else None
        self.success_codes = frozenset(s.success_codes)
        self.all_failed = bool(s.all_failed)

    def read(self, data: list[Any], known: frozenset[str] | None) -> list[FailedItem]:
        out = []
        for index, item in enumerate(data[:MAX_ITEMS]):
            if type(item) is not dict and not isinstance(item, Mapping):
                continue
            code = self.codes.read(item, known)[0]
            flag = self.success_field.get(item) if self.success_field is not None else None
            if flag is True:
                continue
            if (
                self.all_failed
                or flag is False
                or (code is not None and code not in self.success_codes)
            ):
                out.append(FailedItem(index, code, self.message.read(item)))
        return out


class Strings:
    """Step: a list of error strings (or one string) at ``field``; those
    starting with a warning prefix are warnings."""

    __slots__ = ("field", "separator", "warning_prefixes")

    def __init__(self, s: Any) -> None:
        self.field = _path(s.field)
        self.warning_prefixes = tuple(s.warning_prefixes)
        self.separator = s.separator

    def read(self, value: Any) -> tuple[list[str], list[str]]:
        """``(errors, warnings)`` of the field's value."""
        listed = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        errors: list[str] = []
        warnings: list[str] = []
        prefixes = self.warning_prefixes
        for entry in listed[:MAX_ERROR_STRINGS]:
            if not isinstance(entry, str) or not entry.strip():
                continue
            text = entry.strip()[:MAX_TEXT]
            (warnings if prefixes and text.startswith(prefixes) else errors).append(text)
        return errors, warnings


class Plan:
    """A shape compiled to its steps; ``read`` is ``extract``."""

    __slots__ = (
        "by_position",
        "codes",
        "list_items",
        "message",
        "object_items",
        "strings",
        "success_codes",
        "success_field",
    )

    def __init__(self, shape: ShapeSpec) -> None:
        vague = tuple(shape.vague_codes)
        self.codes = Codes(shape.code_fields, vague)
        self.message = Message(shape.message_fields)
        self.list_items = tuple(Items(s, vague) for s in shape.item_shapes if s.field == "")
        self.object_items = tuple(Items(s, vague) for s in shape.item_shapes if s.field != "")
        self.success_field = _path(shape.success_field) if shape.success_field else None
        self.success_codes = frozenset(shape.success_codes)
        self.strings = Strings(shape.error_strings) if shape.error_strings is not None else None
        # a top-level array is read by position when a code path starts with an index
        self.by_position = not self.list_items and any(
            p.split(".", 1)[0].isdigit() for p in shape.code_fields
        )

    def read(self, parsed: Any, known: frozenset[str] | None) -> Envelope:
        if type(parsed) is not dict:
            if isinstance(parsed, list):
                if not self.by_position:
                    return self._read_list(parsed, known)
            elif not isinstance(parsed, Mapping):
                return _MALFORMED if parsed is not None else NOTHING
        flag = self.success_field.get(parsed) if self.success_field is not None else None
        warnings: tuple[str, ...] = ()
        strings = self.strings
        value: Any = None
        if strings is not None:
            value = strings.field.get(parsed)
            if value is not None:
                errors, warned = strings.read(value)
                warnings = tuple(warned)
                if errors:
                    sep = strings.separator
                    found = [
                        FailedItem(i, resolve_code(e, known, sep), e) for i, e in enumerate(errors)
                    ]
                    return Envelope(
                        found[0].code,
                        found[0].message,
                        # every string of a list is an item, as every failed entry of a
                        # batch is (one error: one item); a lone string (WebSocket v2) is none
                        tuple(found) if isinstance(value, list) else (),
                        warnings=warnings,
                    )
        code, unusable = self.codes.read(parsed, known)
        message = self.message.read(parsed)
        if self.object_items:
            items: list[FailedItem] = []
            for step in self.object_items:
                data = step.field.get(parsed)
                if data and isinstance(data, list):
                    items += step.read(data, known)
            if items:
                return Envelope(items[0].code, items[0].message, tuple(items), warnings=warnings)
        ok_code = code is not None and code in self.success_codes
        if flag is False:
            return Envelope(None if ok_code else code, message, warnings=warnings)
        if ok_code or (flag is True and code is None):
            return Envelope(code, message, success=True, warnings=warnings)
        if code is None and isinstance(value, list):  # ``error: []`` (or only warnings)
            return Envelope(None, message, success=True, warnings=warnings)
        return Envelope(code, message, malformed=unusable and code is None, warnings=warnings)

    def _read_list(self, parsed: list[Any], known: frozenset[str] | None) -> Envelope:
        if not self.list_items:
            return _MALFORMED
        items: list[FailedItem] = []
        for step in self.list_items:
            items += step.read(parsed, known)
        if not items:
            return _SUCCESS
        return Envelope(items[0].code, items[0].message, tuple(items))


#: shape -> its plan, by identity (the shape is kept with it: no reused id)
_plans: dict[int, tuple[Any, Plan]] = {}
_plans_lock = _thread.allocate_lock()


def plan_of(shape: ShapeSpec) -> Plan:
    """The plan of ``shape``, compiled at its first body."""
    kept = _plans.get(id(shape))
    if kept is not None and kept[0] is shape:
        return kept[1]
    plan = Plan(shape)
    with _plans_lock:
        if len(_plans) >= 256:
            _plans.clear()
        _plans[id(shape)] = (shape, plan)
    return plan


def extract(
    shape: ShapeSpec,
    parsed: Any,
    *,
    known_codes: frozenset[str] | None = None,
) -> Envelope:
    """Read a parsed body (a JSON object or list) by the exchange's shape."""
    return plan_of(shape).read(parsed, known_codes)
