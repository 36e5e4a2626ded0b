"""The caller's arguments, checked once, the same way on every path.

- ``flag(name, value)``: a real ``bool`` (``"false"``, ``0``, ``None`` are
  refused: a flag read from a config file must not turn a guard off).
- ``attempt_of(value)``: an int >= 1 (bools refused; numpy integers accepted).
- ``status_of(value)``: an HTTP status from an int, a whole float (``429.0``,
  what pandas makes of an int column with gaps), a numeric string (``"429"``)
  or a numpy integer; anything else is dropped with a note (a status is
  evidence, not an instruction: one unusable field never spoils a result).
- ``code_of(value)``: an exchange code as text, the same conversions.

Operations are checked by ``normalizer._core.vocabulary.operation_of``.
"""

from __future__ import annotations

import math
import operator
from numbers import Integral

from .errors import ArgumentTypeError, ArgumentValueError

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

#: Codes longer than this are not codes.
MAX_CODE_CHARS = 120
#: Integers with more digits than this are not codes.
MAX_CODE_DIGITS = 30


def flag(name: str, value: object) -> bool:
    """``value`` if it is a bool; ``ArgumentTypeError`` naming ``name`` otherwise."""
    if value is True or value is False:
        return value
    raise ArgumentTypeError(name, "a bool (True or False)", value)


def attempt_of(value: object, name: str = "attempt") -> int:
    """The number of the attempt that failed: an int >= 1."""
    if type(value) is int:
        n = value
    elif isinstance(value, bool) or not isinstance(value, Integral):
        raise ArgumentTypeError(name, "an int >= 1", value)
    else:
        n = operator.index(value)
    if n < 1:
        raise ArgumentValueError(name, "must be a whole number from 1", value)
    return n


def _integer(value: Any) -> int | None:
    """A whole number from an int, numpy integer, whole float or numeric string."""
    if type(value) is int:
        return value
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Integral):
        return operator.index(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return None
    if isinstance(value, (str, bytes)):
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        s = text.strip()
        if 0 < len(s) <= 20 and (s.isdigit() or (s[0] in "+-" and s[1:].isdigit())):
            try:
                return int(s)
            except ValueError:  # pragma: no cover - isdigit() admits other digits
                return None
        if 0 < len(s) <= 24 and s.replace(".", "", 1).isdigit():
            try:
                f = float(s)
            except ValueError:
                return None
            return int(f) if f.is_integer() else None
    return None


def status_of(value: Any) -> tuple[int | None, str | None]:
    """``(HTTP status or None, a note when the value given could not be used)``."""
    if type(value) is int and 100 <= value <= 599:
        return value, None
    if value is None:
        return None, None
    if isinstance(value, float) and math.isnan(value):
        return None, None  # pandas' missing value
    n = _integer(value)
    if n is not None and 100 <= n <= 599:
        return n, None
    return None, f"http_status {_show(value)} is not an HTTP status; ignored"


def code_of(value: Any) -> tuple[str | None, str | None]:
    """``(code as text or None, a note when the value given could not be used)``."""
    if value is None or isinstance(value, bool):
        return None, None if value is None else f"code {value!r} is not a code; ignored"
    if type(value) is str:
        s = value.strip()
        if 0 < len(s) <= MAX_CODE_CHARS:
            return s, None
        return None, None if not s else f"code of {len(s)} characters is not a code; ignored"
    if type(value) is int:
        text = str(value) if abs(value) < 10**MAX_CODE_DIGITS else None
        return text, None if text else "an oversized number as code; ignored"
    if isinstance(value, float) and math.isnan(value):
        return None, None
    n = _integer(value) if not isinstance(value, (str, bytes)) else None
    if n is not None and abs(n) < 10**MAX_CODE_DIGITS:
        note = None
        if not isinstance(value, (int, float)) or type(value) not in (int, float):
            note = f"code of type {type(value).__name__} converted to {n}"
        return str(n), note
    if isinstance(value, str):  # a str subclass
        return code_of(str(value))
    return None, f"code {_show(value)} is not a code; ignored"


def _show(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."
