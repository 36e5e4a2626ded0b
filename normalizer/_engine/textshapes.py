"""Text as people log it: error shapes that arrive as text rather than as the
venue's JSON, turned into the inputs the envelopes read.

The last step of ``inputs.read_inputs`` (``reshape``). What it reads, where it
occurs (a body, a message, an exception's text, which ``inputs`` makes the
message):

- a Python-repr body, ``{'retCode': 10000, 'retMsg': 'Server Timeout'}`` (what
  ``print(resp.json())`` logs), read with ``ast.literal_eval`` on a bounded
  string (never ``eval``): it then reads exactly as its JSON twin;
- an SDK's message format, the code and the venue's message inside it:
  ``APIError(code=-2019): Margin is insufficient.`` (python-binance),
  ``API Request Error(code=51008): ...`` (python-okx),
  ``Insufficient balance (ErrCode: 110007) (ErrTime: ...)`` (pybit),
  ``KucoinAPIException 400100: ...`` (python-kucoin),
  ``request error, server code: 400100, server msg: ...`` (kucoin-universal-sdk);
- Kraken's error strings outside their envelope: a bare
  ``EGeneral:Invalid arguments:volume``, a list of them (JSON or repr), one
  whose ``E`` was dropped (``Order:Insufficient funds``): read as
  ``{"error": [...]}``, so Kraken's envelope takes its code (the longest
  documented prefix); the message stays as given;
- a body inside a log line or an exception's text (``... Details: {'error':
  [...]}``, ``(400)\\nReason: ...\\nHTTP response body: {...}``, ``429 - {...}``),
  with the status the text names;
- legacy envelopes: ``{"error_code": ..., "error_message": ...}`` and
  ``{"result": false, "code": ..., "message": ...}``, whose code and message
  are given as the caller's own;
- a refusal sent with the success code 0 (MEXC's WebSocket ``Not Subscribed
  successfully!``): the code is dropped, so the message decides (an envelope
  can only say that a code means success).

Everything is total: any text, however hostile, yields the inputs unchanged or
reshaped, never an exception. Text is cut to ``MAX_SHAPE_TEXT`` before any
search; no regular expression here can backtrack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

    from .given import Inputs

#: Text longer than this is not reshaped (an error body or log line is small).
MAX_SHAPE_TEXT = 64 * 1024
#: A message's head searched for an SDK's format.
_HEAD = 4096

# The patterns are compiled on first use: a JSON body, the common case, needs
# none of them, and compiling them was a part of the start-up (bench/).


@lru_cache(maxsize=1)
def _kraken_pattern() -> re.Pattern[str]:
    # Kraken's error categories (docs.kraken.com/api/docs/guides/spot-errors)
    return re.compile(
        r"[EW]?(General|API|Auth|Order|Trade|Query|Funding|Service|Session|Database|Earnings"
        r"|BM|Account|ST):[^\n]{1,200}"
    )


@lru_cache(maxsize=1)
def _sdk_code_pattern() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z][A-Za-z ]{0,40}\(code=(-?[A-Za-z0-9_.]{1,40})\):\s?")


@lru_cache(maxsize=1)
def _status_head_pattern() -> re.Pattern[str]:
    return re.compile(
        r"(?:[A-Za-z_][A-Za-z0-9_.]{0,63}: )?\(?([1-5][0-9]{2})\)?"
        r"(?: - |\nReason: | Client Error| Server Error)"
    )


def reshape(got: Inputs) -> None:
    """The text shapes in ``got``'s body and message, read into its fields."""
    try:
        _reshape(got)
    except Exception as exc:  # total: a shape we failed to read leaves the inputs as given
        got.notes.append(f"a text shape could not be read ({type(exc).__name__}); kept as given")


def _reshape(got: Inputs) -> None:
    body = got.body
    if body is not None:
        text = _text(body)
        if text is not None:
            shaped = body_shape(text)
            if shaped is not None:
                got.body = shaped
                got.notes.append("body read as Python literal or error strings (text shape)")
        _legacy(got)
        _refused_with_zero(got)
    message = got.message
    if got.code is None and isinstance(message, str) and message:
        _message(got, message[:MAX_SHAPE_TEXT])


def _text(body: object) -> str | None:
    if isinstance(body, str):
        return body if len(body) <= MAX_SHAPE_TEXT else None
    if isinstance(body, (bytes, bytearray)) and len(body) <= MAX_SHAPE_TEXT:
        return bytes(body).decode("utf-8", "replace")
    return None


def body_shape(text: str) -> Any:
    """A body's text as the parsed body it stands for, or None when it is
    already JSON (read as it is) or no shape known here."""
    first = text[:64].lstrip()[:2]
    if first == '{"':  # JSON (the common case), read as it is, unless Python wrote it
        if "'" not in text and "None" not in text and "True" not in text and "False" not in text:
            return None
        s = text.strip()
        return _literal_dict(s) if _loads(s) is None else None
    s = text.strip()
    if not s:
        return None
    if s[:2] in ("{'", "['") or s in ("{}", "[]"):
        value = literal(s)
        if isinstance(value, list) and _all_kraken(value):
            return {"error": [_kraken(v) for v in value]}
        return value if isinstance(value, (dict, list)) else None
    if s[0] == "[" and s[-1] == "]" and '"' in s[:3]:
        value = _loads(s)
        if isinstance(value, list) and _all_kraken(value):
            return {"error": [_kraken(v) for v in value]}
        return None
    if s.find(":", 0, 12) >= 2 and _kraken_pattern().fullmatch(s[:256]) is not None:
        return {"error": [_kraken(s)]}
    return None


def literal(text: str) -> Any:
    """A Python literal read from bounded ``text`` (``ast.literal_eval``), or None."""
    if len(text) > MAX_SHAPE_TEXT:
        return None
    import ast
    import warnings

    try:
        # the compiler warns of what a log holds by chance ("1abc", "\\d"); those
        # warnings would reach the router's own log from a call that only reads text
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # before 3.12
            return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _literal_dict(text: str) -> Any:
    value = literal(text)
    return value if isinstance(value, dict) else None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _all_kraken(values: list[Any]) -> bool:
    return 0 < len(values) <= 100 and all(
        isinstance(v, str) and _kraken_pattern().fullmatch(v[:256]) is not None for v in values
    )


def _kraken(text: str) -> str:
    """A Kraken error string with its severity letter (``Order:...`` -> ``EOrder:...``)."""
    text = text.strip()
    return text if text[:1] in ("E", "W") and text[1:2].isupper() else "E" + text


# ------------------------------------------------------------ legacy envelopes


def _legacy(got: Inputs) -> None:
    body = got.body
    if isinstance(body, (str, bytes)):
        head = body[:_HEAD]
        if isinstance(head, bytes):
            head = head.decode("utf-8", "replace")
        if "error_code" not in head and not ("result" in head and "false" in head):
            return
        text = _text(body)
        value = None if text is None else _loads(text.strip())
    else:
        value = body
    if not isinstance(value, Mapping):
        return
    if "error_code" in value and "code" not in value:
        code, msg = value.get("error_code"), _first(value, "error_message", "error_msg", "msg")
    elif value.get("result") in (False, "false") and "error" not in value:
        code = _first(value, "code", "error_code", "label")
        msg = _first(value, "message", "msg", "error_message")
    else:
        return
    if code is None and msg is None:
        return
    if got.code is None and isinstance(code, (str, int)) and not isinstance(code, bool):
        got.code = code
    if got.message is None and isinstance(msg, str):
        got.message = msg
    got.notes.append("a legacy envelope's code and message read (text shape)")


#: a refusal sent with the success code 0 (MEXC's WebSocket: ``{"id": 0, "code": 0,
#: "msg": "Not Subscribed successfully! [...]. Reason: Blocked!"}``)
_REFUSALS_WITH_ZERO = ("Not Subscribed successfully",)


def _refused_with_zero(got: Inputs) -> None:
    """A body whose code says success but whose message says the request was
    refused: the code is dropped, so the message decides."""
    body = got.body
    if isinstance(body, (str, bytes)):
        head = body[:_HEAD]
        if isinstance(head, bytes):
            head = head.decode("utf-8", "replace")
        if not any(r in head for r in _REFUSALS_WITH_ZERO):
            return
        text = _text(body)
        body = None if text is None else _loads(text.strip())
    if not isinstance(body, Mapping) or body.get("code") not in (0, "0"):
        return
    msg = body.get("msg")
    if isinstance(msg, str) and msg.startswith(_REFUSALS_WITH_ZERO):
        got.body = {k: v for k, v in body.items() if k != "code"}
        got.notes.append("a refusal sent with the success code 0: its message decides (text shape)")


def _first(value: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        found = value.get(key)
        if found is not None:
            return found
    return None


# ------------------------------------------------------------ messages


def _message(got: Inputs, text: str) -> None:
    head = text[:_HEAD]
    found = sdk_message(head)
    if found is not None:
        got.code, got.message = found
        got.notes.append("code and message read from an SDK's message format (text shape)")
        return
    if got.body is not None:
        return
    shaped = body_shape(head)
    if isinstance(shaped, Mapping) and "error" in shaped:  # Kraken strings: the envelope reads them
        got.body = shaped
        return
    if "{" not in text:
        return
    status = _status_head_pattern().match(head)
    embedded = embedded_body(text)
    if embedded is None:
        return
    got.body = embedded
    got.message = None  # the body's own message, not the line around it
    if status is not None and got.status is None:
        got.status = int(status.group(1))
    got.notes.append("a body found in the message text (text shape)")


def sdk_message(text: str) -> tuple[str, str] | None:
    """``(code, message)`` of an SDK's message format, or None."""
    m = _sdk_code_pattern().match(text) if "(code=" in text[:48] else None
    if m is not None:
        return m.group(1), text[m.end() :].strip()
    at = text.find(" (ErrCode: ")
    if at > 0:
        digits = text[at + 11 : at + 30].partition(")")[0]
        if digits.lstrip("-").isdigit():
            return digits, text[:at].strip()
    if text.startswith("KucoinAPIException "):
        code, sep, rest = text[19:].partition(": ")
        if sep and code and code.isalnum():
            return code, rest.strip()
    if text.startswith("request error, server code: "):
        code, sep, rest = text[28:].partition(", server msg: ")
        if sep and code and code != "None":
            return code.strip(), rest.rpartition(", context msg: ")[0].strip() or rest.strip()
    return None


def embedded_body(text: str) -> Any:
    """The last object (``{...}``, JSON or a Python literal) found in ``text``, or None."""
    text = text[:MAX_SHAPE_TEXT]
    start = text.find("{")
    found = None
    for _ in range(8):  # the last object wins (a body follows what describes it)
        if start == -1:
            break
        end = _closing(text, start)
        if end is not None:
            piece = text[start : end + 1]
            value = _loads(piece)
            if not isinstance(value, dict):
                value = literal(piece)
            if isinstance(value, dict) and value:
                found = value
                start = text.find("{", end + 1)  # past it: its own inner objects are its
                continue
        start = text.find("{", start + 1)
    return found


def _closing(text: str, start: int) -> int | None:
    """Where the brace opened at ``start`` closes (quotes skipped), in one pass."""
    depth = 0
    quote = ""
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None
