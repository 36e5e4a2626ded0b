"""The caller's arguments, checked once, the same way on every entry point.

``normalize``, ``recommend``, the supervisor's ``observe``, ``classify_frame``,
the batch CLI and the Dask and Spark helpers read their arguments with these
functions only, so one spelling means one thing everywhere, and every caller
mistake is a ``NormalizerError`` (``ArgumentTypeError`` or
``ArgumentValueError``, which are also ``TypeError`` and ``ValueError``).

Arguments (what a program passes):

- ``flag(name, value)``: a real ``bool`` (``"false"``, ``0``, ``2``, ``None``
  are refused: a flag read from a config file must not turn a guard off).
- ``attempt_of(value)``: an int >= 1 (bools refused; numpy integers accepted).
- ``exchange_key(name)``: a venue name folded for lookup: surrounding spaces
  and case do not matter (``" OKX "`` is ``"okx"``).
- ``unknown_exchange_of(value, batch=...)``: what to do with a venue no rules
  know (see ``UNKNOWN_EXCHANGE`` and ``BATCH_UNKNOWN_EXCHANGE``).
- operations: ``normalizer._core.vocabulary.operation_of`` (case and
  surrounding spaces folded the same way).
- ``request_of(operation, idempotent, attempt)``: the three together, as one
  request's description (what ``recommend`` and the supervisor's ``observe``
  take); ``attempt=None`` stays None (the caller counts).
- ``path_of(name, value)`` and ``paths_of(name, value)``: a file or folder (a
  ``str`` or ``os.PathLike``), and one or a list of them (a single path is one
  path, never its characters); with ``must_exist`` a missing one is a
  ``PathNotFoundError`` (also a ``FileNotFoundError``).
- ``names_of(name, value)``: one name or a list of names (a single ``str`` is
  one name).
- ``callable_of(name, value)`` and ``rand_of(value)``: None or a callable (a
  clock, a sleep, the jitter's source ``rand``).

Cells of a log (what a CSV, JSON Lines or Parquet file or a DataFrame holds,
read by the batch paths; a missing cell is None, NaN or pandas' NA):

- ``flag_cell(value)``: True for ``True``, ``1``, ``1.0``, ``"true"``,
  ``"yes"``, ``"y"``, ``"1"``; False for their opposites and ``""``; None
  when missing; anything else (``2``, ``"maybe"``) is refused.
- ``attempt_cell(value)``: an int >= 1 from an int, a whole float or a
  numeric string (``"3"``, ``"3.0"``); None when missing; else refused.
- ``code_cell(value)``: ``58102``, ``58102.0`` and ``"58102.0"`` are code
  58102 (a float column, and its text); None when missing.

Evidence (what an exchange sent; never refused, dropped with a note):

- ``status_of(value)``: an HTTP status from an int, a whole float (``429.0``,
  what pandas makes of an int column with gaps), a numeric string (``"429"``,
  ``"429.0"``) or a numpy integer; anything else is dropped with a note (a
  status is evidence, not an instruction: one unusable field never spoils a
  result).
- ``code_of(value)``: an exchange code as text, the same conversions
  (``58102``, ``58102.0`` and ``"58102"`` are code ``"58102"``).
"""

from __future__ import annotations

import math
import operator

from .errors import ArgumentTypeError, ArgumentValueError, PathNotFoundError
from .vocabulary import Operation, operation_of

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Literal

    UnknownExchange = Literal["raise", "generic"]
    BatchUnknownExchange = Literal["raise", "generic", "error"]

__all__ = [
    "BATCH_UNKNOWN_EXCHANGE",
    "UNKNOWN_EXCHANGE",
    "attempt_cell",
    "attempt_of",
    "code_cell",
    "code_of",
    "exchange_key",
    "flag",
    "flag_cell",
    "request_of",
    "status_of",
    "unknown_exchange_of",
]

#: ``unknown_exchange=`` of one call (``normalize``, ``recommend``, ``observe``):
#: ``"raise"`` (``UnknownExchangeError``) or ``"generic"`` (the generic profile).
UNKNOWN_EXCHANGE = ("raise", "generic")
#: ``unknown_exchange=`` of the batch paths (``classify_frame``, the batch CLI,
#: Dask, Spark): ``"error"`` (the default: the row gets the refusal's message in
#: its ``row_error`` column, the others empty, and the job goes on),
#: ``"generic"``, or ``"raise"`` (the first such row stops the job).
BATCH_UNKNOWN_EXCHANGE = ("error", "generic", "raise")

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
    elif isinstance(value, bool) or not _integral(value):
        raise ArgumentTypeError(name, "an int >= 1", value)
    else:
        n = operator.index(value)  # type: ignore[arg-type]  # an Integral, checked above
    if n < 1:
        raise ArgumentValueError(name, "must be a whole number from 1", value)
    return n


def request_of(
    operation: object, idempotent: object, attempt: object
) -> tuple[Operation | None, bool, int | None]:
    """``(operation or None, idempotent, attempt or None)`` of one request, each
    read as every entry point reads it; a ``NormalizerError`` names the first
    that is wrong."""
    op = None if operation is None else operation_of(operation)
    return op, flag("idempotent", idempotent), None if attempt is None else attempt_of(attempt)


def path_of(name: str, value: object, *, must_exist: bool = False) -> Path:
    """A file or folder the caller named: a ``str`` or an ``os.PathLike``."""
    import os
    from pathlib import Path

    if not isinstance(value, (str, os.PathLike)) or isinstance(value, bytes):
        raise ArgumentTypeError(name, "a path (str or os.PathLike)", value)
    if not os.fspath(value):  # Path("") is the current folder: never what was meant
        raise ArgumentValueError(name, "must name a file or folder", value)
    path = Path(value)
    if must_exist and not path.exists():
        raise PathNotFoundError(name, path)
    return path


def paths_of(name: str, value: object, *, must_exist: bool = False) -> list[Path] | None:
    """One path or a list or tuple of them as a list (None stays None: the
    caller's default)."""
    import os

    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return [path_of(name, value, must_exist=must_exist)]
    if not isinstance(value, (list, tuple)):
        raise ArgumentTypeError(name, "a path or a list of paths", value)
    return [path_of(name, v, must_exist=must_exist) for v in value]


def names_of(name: str, value: object) -> list[str] | None:
    """One name or a list or tuple of names as a list (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ArgumentTypeError(name, "a name or a list of names", value)
    return list(value)


def callable_of(name: str, value: object, expected: str = "a callable or None") -> Any:
    """``value`` if it is None or callable; ``ArgumentTypeError`` naming ``name`` otherwise."""
    if value is not None and not callable(value):
        raise ArgumentTypeError(name, expected, value)
    return value


def rand_of(value: object) -> Any:
    """A jitter's source (``rand=``): None or a callable returning a float in [0, 1)."""
    return callable_of("rand", value, "a callable returning a float in [0, 1), or None")


def exchange_key(name: str) -> str:
    """A venue name as the rule folders are named: no surrounding spaces, lowercase."""
    return name.strip().lower()


def unknown_exchange_of(value: object, *, batch: bool = False) -> str:
    """The caller's ``unknown_exchange=``, checked (None is returned as None's
    meaning is the caller's: the process default)."""
    choices = BATCH_UNKNOWN_EXCHANGE if batch else UNKNOWN_EXCHANGE
    if value is None or value in choices:
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        folded = value.strip().lower()
        if folded in choices:
            return folded
        raise ArgumentValueError("unknown_exchange", f"must be one of {list(choices)}", value)
    raise ArgumentTypeError("unknown_exchange", f"one of {list(choices)} or None", value)


_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "f", ""})


def _missing(value: object) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    kind = type(value).__name__
    return kind in ("NAType", "NaTType")  # pandas' missing values, without importing pandas


def flag_cell(value: object, name: str = "idempotent") -> bool | None:
    """A yes/no cell of a log (see the module docstring); None when missing."""
    if value is True or value is False:
        return value
    if _missing(value):
        return None
    if isinstance(value, (str, bytes)):
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        folded = text.strip().lower()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        raise ArgumentValueError(name, "must be yes or no (true/false, 1/0)", value)
    if type(value).__name__ == "bool_":  # numpy's bool
        return bool(value)
    n = _integer(value)
    if n == 1 or n == 0:
        return n == 1
    if n is None and not (isinstance(value, float) or _integral(value)):
        raise ArgumentTypeError(name, "yes or no (true/false, 1/0)", value)
    raise ArgumentValueError(name, "must be yes or no (true/false, 1/0)", value)


def attempt_cell(value: object, name: str = "attempt") -> int | None:
    """An attempt number cell of a log (see the module docstring); None when missing."""
    if _missing(value):
        return None
    if isinstance(value, bool):
        raise ArgumentTypeError(name, "a whole number from 1", value)
    if isinstance(value, str) and not value.strip():
        return None
    n = _integer(value)
    if n is None:
        if isinstance(value, (str, bytes, float)) or _integral(value):
            raise ArgumentValueError(name, "must be a whole number from 1", value)
        raise ArgumentTypeError(name, "a whole number from 1", value)
    if n < 1:
        raise ArgumentValueError(name, "must be a whole number from 1", value)
    return n


def code_cell(value: object) -> object:
    """A code cell of a log: a whole float (``58102.0``, what pandas makes of an
    int column with gaps) or such a float's text (``"58102.0"``, what that
    column becomes in a CSV or a text column) is the whole number, as an int
    (no venue documents a code ending in ``.0``); a missing cell is None; any
    other value is passed on for ``code_of`` to read."""
    if _missing(value):
        return None
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, str) and value.endswith(".0") and len(value) <= 24:
        whole, _, zeros = value.strip().partition(".")
        digits = whole[1:] if whole[:1] in "+-" else whole
        if digits.isdigit() and digits.isascii() and not zeros.strip("0"):
            return int(whole)
    return value


def _integral(value: object) -> bool:
    """An integer of another type than int (numpy's, ...): ``numbers.Integral``,
    imported when first asked (not at start-up)."""
    from numbers import Integral

    return isinstance(value, Integral)


def _integer(value: Any) -> int | None:
    """A whole number from an int, numpy integer, whole float or numeric string."""
    if type(value) is int:
        return value
    if value is None or isinstance(value, bool):
        return None
    if _integral(value):
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
