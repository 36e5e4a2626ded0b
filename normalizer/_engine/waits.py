"""Wait hints: how long a venue asked the caller to wait, from headers, body fields and messages.

Every number read as a wait is validated: not finite, negative, or longer
than ``MAX_RETRY_S`` is dropped, never an exception. The hints an exchange
gives are declared in its ``exchange.yaml`` (``response.retry_hints``):
``Retry-After`` (every venue) and the exchange's own headers (Bybit
``X-Bapi-Limit-Reset-Timestamp``), body fields (Binance ``error.data.retryAfter``)
and message patterns (``banned until 1700000000000``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from functools import lru_cache

from .._core.literals import ascii_lowered, prefilter
from .envelope import Envelope, extract, get_path

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any, Literal

    ShapeSpec = Any
    HintSpec = Any
    Unit = Literal["seconds", "milliseconds", "epoch_s", "epoch_ms", "retry_after"]

#: The longest wait accepted from a venue (Binance IP bans last up to 3 days).
MAX_RETRY_S = 7 * 86400.0
#: An epoch hint this far in the past is nonsense, not "wait 0 s".
MAX_PAST_S = 86400.0


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
