"""Envelopes: where each exchange puts the code, message, failed items and wait hint.

A pure module: no I/O, no global state. Its input is a parsed body (what
``json.loads`` made of it), the response headers and the HTTP status; its
output an ``Envelope``: the code, the message, the failed items of a batch
answer, the wait the venue asked for, and whether the body says success.
What to read is declared per exchange in ``exchange.yaml`` (``response:``,
validated by ``ResponseShape`` in ``normalizer/_formats/rules.py`` and compiled
to plain attributes, ``normalizer._core.table.Frozen``); the shapes it can describe:

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
  without its ``:detail`` (the longest documented prefix);
- retry hints in headers, body fields and messages (``RetryHint``).

Every number read as a wait is validated: not finite, negative, or longer
than ``MAX_RETRY_S`` is dropped, never an exception.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from operator import itemgetter

from .._core.arguments import MAX_CODE_CHARS
from .._core.literals import ascii_lowered, prefilter

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any, Literal

    ShapeSpec = Any
    ItemsSpec = Any
    HintSpec = Any
    Unit = Literal["seconds", "milliseconds", "epoch_s", "epoch_ms", "retry_after"]

#: The longest wait accepted from a venue (Binance IP bans last up to 3 days).
MAX_RETRY_S = 7 * 86400.0
#: An epoch hint this far in the past is nonsense, not "wait 0 s".
MAX_PAST_S = 86400.0
MAX_ITEMS = 1000
MAX_ERROR_STRINGS = 100
MAX_TEXT = 4096


#: The shapes are exchange.yaml's ``response:`` as compiled (``Frozen``): attribute
#: access to the fields of ``ResponseShape``, ``ItemsShape`` and ``RetryHintSpec``.


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
    ``(index, code, message)``, readable by name. A tuple, so that a reader
    makes one with ``tuple.__new__(FailedItem, ...)`` at the cost of a tuple."""

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
    deadline (epoch seconds) read from the body. ``success`` is True when the
    body says the request succeeded; ``malformed`` when it has the exchange's
    fields but not in a usable form (or is not a shape the exchange uses).
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


# ------------------------------------------------------------------ values


def as_code(value: Any) -> str | None:
    """A code from a JSON value: ints and integral floats as text, bounded strings."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else None
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


_PARTS: dict[str, list[str]] = {}


def get_path(obj: Any, path: str) -> Any:
    """The value at a dotted path (``error.data.retryAfter``); None when absent."""
    if path == "":
        return obj
    if type(obj) is dict and "." not in path:  # the common case: one key of a JSON object
        return obj.get(path)
    parts = _PARTS.get(path)
    if parts is None:
        parts = path.split(".")
        if len(_PARTS) < 4096:
            _PARTS[path] = parts
    return _walk(obj, parts)


def _walk(obj: Any, parts: Sequence[str]) -> Any:
    """``get_path`` of a path already split at its dots."""
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


def _first(obj: Any, paths: Sequence[str]) -> Any:
    for p in paths:
        v = get_path(obj, p)
        if v is not None:
            return v
    return None


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


# ------------------------------------------------------------------ extract


def extract(
    shape: ShapeSpec,
    parsed: Any,
    *,
    known_codes: frozenset[str] | None = None,
) -> Envelope:
    """Read a parsed body (a JSON object or list) by the exchange's shape."""
    items: list[FailedItem] = []
    list_shapes = [s for s in shape.item_shapes if s.field == ""]
    # a top-level array read by position (Bitfinex ``["error", 10020, "msg"]``): a
    # code path whose first part is an index ("1") reads it as an object's path would
    by_position = isinstance(parsed, list) and not list_shapes and _indexes(shape.code_fields)
    if isinstance(parsed, list) and not by_position:
        if not list_shapes:
            return Envelope(malformed=True)
        for ls in list_shapes:
            items += _failed_items(parsed, ls, known_codes, shape.vague_codes)
        if not items:
            return Envelope(success=True)
        return _from_items(items)
    if not by_position and type(parsed) is not dict and not isinstance(parsed, Mapping):
        return Envelope(malformed=parsed is not None)

    flag = get_path(parsed, shape.success_field) if shape.success_field else None
    said_failure = flag is False
    said_success = flag is True

    errors: list[str] = []
    warnings: list[str] = []
    strings = shape.error_strings
    if strings is not None:
        value = get_path(parsed, strings.field)
        listed = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for entry in listed[:MAX_ERROR_STRINGS]:
            if not isinstance(entry, str) or not entry.strip():
                continue
            text = entry.strip()[:MAX_TEXT]
            if any(text.startswith(w) for w in strings.warning_prefixes):
                warnings.append(text)
            else:
                errors.append(text)
        if errors:
            found = [
                FailedItem(i, resolve_code(e, known_codes, strings.separator), e)
                for i, e in enumerate(errors)
            ]
            first = found[0]
            return Envelope(
                code=first.code,
                message=first.message,
                # every string of the list is an item, as every failed entry of a
                # batch is (one error: one item); a lone string (WebSocket v2) is none
                items=tuple(found) if isinstance(value, list) else (),
                success=False,
                warnings=tuple(warnings),
            )

    raw_codes: list[str] = []
    unusable = False
    for path in shape.code_fields:
        v = get_path(parsed, path)
        if v is None:
            continue
        c = as_code(v)
        if c is None:
            unusable = unusable or v != ""
        else:
            raw_codes.append(c)
    code = _pick_code(raw_codes, known_codes, shape.vague_codes)
    message = as_message(_first(parsed, shape.message_fields))

    for item_shape in shape.item_shapes:
        if item_shape.field == "":
            continue
        data = get_path(parsed, item_shape.field)
        if isinstance(data, list):
            items += _failed_items(data, item_shape, known_codes, shape.vague_codes)
    if items:
        env = _from_items(items)
        return Envelope(
            code=env.code,
            message=env.message,
            items=env.items,
            warnings=tuple(warnings),
        )

    ok_code = code is not None and code in shape.success_codes
    if said_failure:
        return Envelope(code=None if ok_code else code, message=message, warnings=tuple(warnings))
    if ok_code or (said_success and code is None):
        return Envelope(code=code, message=message, success=True, warnings=tuple(warnings))
    if strings is not None and code is None and isinstance(get_path(parsed, strings.field), list):
        # ``error: []`` (or only warnings): a success
        return Envelope(message=message, success=True, warnings=tuple(warnings))
    return Envelope(
        code=code,
        message=message,
        malformed=unusable and code is None,
        warnings=tuple(warnings),
    )


def _indexes(paths: Sequence[str]) -> bool:
    """Whether a code path starts with a list index (``"1"``, ``"2.6"``)."""
    return any(p.split(".", 1)[0].isdigit() for p in paths)


def _from_items(items: list[FailedItem]) -> Envelope:
    first = items[0]
    return Envelope(code=first.code, message=first.message, items=tuple(items))


def _failed_items(
    data: list[Any],
    s: ItemsSpec,
    known: frozenset[str] | None,
    vague: Sequence[str],
) -> list[FailedItem]:
    out = []
    for index, item in enumerate(data[:MAX_ITEMS]):
        if type(item) is not dict and not isinstance(item, Mapping):
            continue
        codes = [c for c in (as_code(get_path(item, p)) for p in s.code_fields) if c is not None]
        code = _pick_code(codes, known, vague)
        flag = get_path(item, s.success_field) if s.success_field else None
        if flag is True:
            continue
        failed = s.all_failed or flag is False or (code is not None and code not in s.success_codes)
        if not failed:
            continue
        out.append(FailedItem(index, code, as_message(_first(item, s.message_fields))))
    return out


# --------------------------------------------------------------- wait hints


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            f = float(value)
        except OverflowError:  # an int past the float range
            return None
    elif isinstance(value, (str, bytes)) and 0 < len(value) <= 32:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        try:
            f = float(text.strip())
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def _bounded(seconds: float | None) -> float | None:
    if seconds is None or not math.isfinite(seconds) or seconds < 0 or seconds > MAX_RETRY_S:
        return None
    return seconds


def wait_of(value: Any, unit: Unit, now: float) -> float | None:
    """Seconds to wait from one hint value, or None when it is not a sane one."""
    if unit == "retry_after":
        if isinstance(value, bytes):
            value = value.decode("latin-1", "replace")
        n = _number(value)
        if n is not None:
            return _bounded(n)
        if not isinstance(value, str) or len(value) > 64:
            return None
        from email.utils import parsedate_to_datetime  # only for an HTTP-date hint

        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        try:
            delta = when.timestamp() - now
        except (OverflowError, ValueError, OSError):
            return None
        return _until(delta)
    n = _number(value)
    if n is None:
        return None
    if unit == "seconds":
        return _bounded(n)
    if unit == "milliseconds":
        return _bounded(n / 1000.0)
    at = n / 1000.0 if unit == "epoch_ms" else n
    return _until(at - now)


def _until(delta: float) -> float | None:
    if not math.isfinite(delta) or delta < -MAX_PAST_S:
        return None
    return _bounded(max(delta, 0.0))


def header_value(headers: Any, name: str) -> Any:
    """A header's value, by case-insensitive name, from a mapping or a list of pairs."""
    lower = name.lower()
    try:
        if isinstance(headers, Mapping) or hasattr(headers, "get"):
            for key in (name, lower):
                v = headers.get(key)
                if v is not None:
                    return v
            if isinstance(headers, Mapping):
                for i, (k, v) in enumerate(headers.items()):
                    if i > 200:
                        break
                    if isinstance(k, (str, bytes)):
                        ks = k.decode("latin-1") if isinstance(k, bytes) else k
                        if ks.lower() == lower:
                            return v
        elif isinstance(headers, (list, tuple)):
            for pair in headers[:200]:
                if isinstance(pair, (list, tuple)) and len(pair) == 2:
                    k = pair[0].decode("latin-1") if isinstance(pair[0], bytes) else pair[0]
                    if isinstance(k, str) and k.lower() == lower:
                        return pair[1]
    except Exception:  # a caller's odd mapping must not break the error path
        return None
    return None


def _applies(hint: HintSpec, code: str | None, status: int | None) -> bool:
    if hint.codes is None and hint.http_status is None:
        return True
    return bool(
        (hint.codes is not None and code in hint.codes)
        or (hint.http_status is not None and status in hint.http_status)
    )


def header_hint(
    shape: ShapeSpec | None,
    headers: Any,
    *,
    code: str | None = None,
    status: int | None = None,
    now: float | None = None,
) -> float | None:
    """The wait the headers ask for: ``Retry-After`` (every venue) and the
    exchange's own headers (Bybit ``X-Bapi-Limit-Reset-Timestamp``); the longest."""
    if headers is None:
        return None
    t = time.time() if now is None else now
    waits = [wait_of(header_value(headers, "Retry-After"), "retry_after", t)]
    for hint in shape.retry_hints if shape is not None else ():
        if hint.header and _applies(hint, code, status):
            waits.append(wait_of(header_value(headers, hint.header), hint.unit, t))
    return longest(*waits)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def body_hint(
    shape: ShapeSpec,
    parsed: Any,
    message: str | None,
    *,
    code: str | None = None,
    status: int | None = None,
    now: float | None = None,
) -> tuple[float | None, float | None]:
    """``(relative wait, absolute deadline)`` from the body's fields and message."""
    t = time.time() if now is None else now
    rel: list[float | None] = []
    at: list[float | None] = []
    for hint in shape.retry_hints:
        if hint.header or not _applies(hint, code, status):
            continue
        value: Any = None
        if hint.body_field:
            value = get_path(parsed, hint.body_field) if parsed is not None else None
        elif hint.message_regex and message:
            text = message[:1024]
            if not prefilter(hint.message_regex).may_match(text, ascii_lowered(text)):
                continue
            m = _regex(hint.message_regex).search(text)
            value = m.group(1) if m and m.groups() else None
        if value is None:
            continue
        wait = wait_of(value, hint.unit, t)
        if wait is None:
            continue
        if hint.unit in ("epoch_s", "epoch_ms"):
            at.append(t + wait)
        else:
            rel.append(wait)
    best_at = [a for a in at if a is not None]
    return longest(*rel), (max(best_at) if best_at else None)


def longest(*waits: float | None) -> float | None:
    known = [w for w in waits if w is not None]
    return max(known) if known else None


def read_envelope(
    shape: ShapeSpec,
    parsed: Any,
    headers: Any = None,
    status: int | None = None,
    *,
    known_codes: frozenset[str] | None = None,
    success_codes_need_ok_status: bool = True,
    now: float | None = None,
) -> Envelope:
    """All of it at once: the body's code, message, items, success, and the
    wait asked for by headers, body fields and message (``retry_after_s``)."""
    t = time.time() if now is None else now
    env = extract(shape, parsed, known_codes=known_codes)
    rel, at = body_hint(shape, parsed, env.message, code=env.code, status=status, now=t)
    wait = longest(
        header_hint(shape, headers, code=env.code, status=status, now=t),
        rel,
        None if at is None else max(at - t, 0.0),
    )
    success = env.success and not (
        success_codes_need_ok_status and status is not None and status >= 400
    )
    return Envelope(
        code=env.code,
        message=env.message,
        items=env.items,
        retry_after_s=wait,
        retry_at=at,
        success=success,
        malformed=env.malformed,
        warnings=env.warnings,
    )
