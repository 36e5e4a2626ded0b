"""The inputs of ``normalize()``: what the caller gave, read into one ``Inputs``.

The first stage of the pipeline (``_engine/normalize.py``). Whatever the
caller passes is turned here into plain values: the code and message as given,
the HTTP status as an int, the body as the caller gave it, the headers, and,
from an exception, what its adapter recovers (ccxt's, an HTTP client's, a
transport failure's). Nothing here decides anything.

The caller's objects are third-party code: an exception whose class cannot
be hashed, whose ``__str__`` or ``response`` raises, or a string given as
``error=`` is absorbed, and ``notes`` says what could not be read. The body is
decoded (byte order marks, numbers too long to parse) by ``parse_body``.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from json.scanner import make_scanner

from .._core.arguments import status_of
from .._core.text import html_title, strip_tags
from .given import Inputs
from .textshapes import reshape
from .transport import response_of, transport_kind

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

#: Bodies longer than this are not parsed (an error body is small; ``notes`` says
#: so); raw keeps them.
MAX_BODY_BYTES = 1024 * 1024
#: ``NormalizedError.message`` keeps at most this many characters; raw keeps all.
MAX_KEPT_MESSAGE = 4096
#: Numbers in a body longer than this many digits are kept as text.
MAX_NUMBER_DIGITS = 100
#: An exception's text is searched this far for a client's last body.
MAX_TEXT = 256 * 1024


def read_inputs(
    code: Any,
    message: Any,
    http_status: Any,
    body: Any,
    headers: Any,
    error: object,
    client: object,
) -> Inputs:
    """The caller's arguments as ``Inputs``; explicit ones win over what an
    exception or a client carries."""
    got = Inputs(code, message, body, headers)
    if error is not None:
        _read_error(got, error)
        if client is not None and got.transport is None:
            _read_client(got, error, client, message is not None)
    elif (
        code is None
        and message is None
        and body is None
        and headers is None
        and http_status is None
    ):
        got.notes.append("no input: give a code, message, http_status, body or error")
    if type(http_status) is int and 100 <= http_status <= 599:
        got.status = http_status  # (status_of's first case, without the call)
    else:
        got.status, note = status_of(http_status if http_status is not None else got.status)
        if note is not None:
            got.notes.append(note)
    reshape(got)  # text as people log it: Python-repr bodies, SDK formats (textshapes.py)
    return got


# ---------------------------------------------------------- an exception


def _read_error(got: Inputs, error: object) -> None:
    if not isinstance(error, BaseException):
        # a string (or anything else) where an exception was expected: its text
        text = _text_of(error)
        got.notes.append(f"error= was a {_type_name(error)}, not an exception; read as its message")
        if got.message is None:
            got.message = text
        return
    try:
        _read_exception(got, error)
    except Exception as exc:  # the caller's object failed us: its class name is all we use
        got.notes.append(
            f"the {_type_name(error)} given as error= could not be read "
            f"({_type_name(exc)}); only its class name is used"
        )
        if got.message is None:
            got.message = f"{_type_name(error)}: {_text_of(error)}"


def _read_exception(got: Inputs, error: BaseException) -> None:
    # imported with the first exception read: a router that gives bodies never
    # loads the adapters of ccxt and the official SDKs (start-up, issue 22)
    from .ccxt import is_ccxt_error, recover
    from .sdks import read_sdk

    if read_sdk(got, error):  # an official SDK's exception held the answer (sdks.py)
        return
    inner: BaseException | None = error
    if is_ccxt_error(error):  # what ccxt's exception carries
        r = recover(error)
        got.classes = r.classes
        if got.message is None and r.transport_error is None:
            got.message = r.message
        got.status = r.http_status
        got.body = got.body if got.body is not None else r.body
        got.headers = got.headers if got.headers is not None else r.headers
        inner = r.transport_error
    if inner is None:
        return
    try:
        getattr(inner, "response", None)
    except Exception as exc:  # transport.response_of reads it as absent
        got.notes.append(
            f"the response of the {_type_name(inner)} could not be read ({_type_name(exc)})"
        )
    carried = response_of(inner)
    if carried is not None:  # an HTTP client's error with its response
        c_status, c_body, c_headers = carried
        got.status = got.status if got.status is not None else c_status
        got.body = got.body if got.body is not None else c_body
        got.headers = got.headers if got.headers is not None else c_headers
        return
    got.transport = transport_kind(inner)
    if got.message is None:
        text = str(inner)
        got.message = f"{type(inner).__name__}: {text}" if text else type(inner).__name__


def _read_client(got: Inputs, error: object, client: object, caller_message: bool) -> None:
    """What a ccxt client kept of its last response (``last_http_response``,
    ``last_response_headers``, ``last_json_response``): async ccxt raises
    without the response, so its headers (``Retry-After``) and body come from here.

    Only when that response is the error's: ccxt puts the body, or the venue's
    message from it, in the text of what it raises, so one of them must be
    found in that text (an error raised before sending, or a timeout, never
    takes an older answer). ccxt keeps no HTTP status: only the text tells it."""
    try:
        last = getattr(client, "last_http_response", None)
        parsed = getattr(client, "last_json_response", None)
        if not isinstance(parsed, (dict, list)) and isinstance(last, str):
            parsed, _, _ = parse_body(last, [])  # ccxt keeps no parsed body by default
        text = str(error)[:MAX_TEXT]
        if not _answered(last, parsed, text):
            got.notes.append("client= holds no response of this error; ignored")
            return
        headers = getattr(client, "last_response_headers", None)
    except Exception as exc:  # a client's property failed: the rest still classifies
        got.notes.append(f"client= could not be read ({_type_name(exc)}); ignored")
        return
    if got.headers is None and isinstance(headers, Mapping) and headers:
        got.headers = headers
    body = parsed if isinstance(parsed, (dict, list)) else last
    if got.body is None and isinstance(body, (dict, list, str, bytes)) and body:
        # the exception held only ccxt's words: the venue's body says more
        got.body = body
        if not caller_message:
            got.message = None


def _answered(last: object, parsed: object, text: str) -> bool:
    """Whether the error's text holds the client's last body, or one of its texts."""
    if isinstance(last, str) and last.strip() and last in text:
        return True
    todo = [parsed]
    for _ in range(64):
        if not todo:
            break
        value = todo.pop()
        if isinstance(value, dict):
            todo.extend(list(value.values())[:16])
        elif isinstance(value, list):
            todo.extend(value[:4])
        elif isinstance(value, str) and len(value) >= 8 and value in text:
            return True
    return False


def _type_name(value: object) -> str:
    try:
        name = type(value).__name__
    except Exception:
        return "object"
    return name if isinstance(name, str) else "object"


def _text_of(value: object) -> str:
    if isinstance(value, str):
        return value[:MAX_KEPT_MESSAGE]
    if isinstance(value, bytes):
        return value[: MAX_KEPT_MESSAGE * 4].decode("utf-8", "replace")
    try:
        text = str(value)
    except Exception:
        return _type_name(value)
    return text[:MAX_KEPT_MESSAGE] if isinstance(text, str) else _type_name(value)


# -------------------------------------------------------------- the body

_scan = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # the C scanner, without json.loads' wrappers
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def as_message(value: Any) -> str | None:
    """A message given by the caller: text, or UTF-8 bytes."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value[: MAX_KEPT_MESSAGE * 4].decode("utf-8", "replace")
    return None


def _text_message(text: str) -> str | None:
    """A message from a non-JSON body: an HTML page's title, else its text."""
    head = text[:8192]
    title = html_title(head)  # both linear: no backtracking over crafted pages
    if title is not None:
        return title
    plain = " ".join(strip_tags(head).split())
    return plain[:MAX_KEPT_MESSAGE] or None


def _bounded_int(text: str) -> int | str:
    return int(text) if len(text) <= MAX_NUMBER_DIGITS else text


def _decode(raw: bytes, notes: list[str]) -> str:
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            if codec != "utf-8-sig":
                notes.append(f"body decoded as {codec} (byte order mark)")
            return raw.decode(codec, "replace")
    return raw.decode("utf-8", "replace")


def _json(text: str, notes: list[str]) -> Any:
    """The JSON value of ``text``, or raises ValueError."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        raise ValueError("not JSON") from None
    except ValueError:  # e.g. a number past the interpreter's digit limit
        value = json.loads(text, parse_int=_bounded_int)
        notes.append(f"a number of more than {MAX_NUMBER_DIGITS} digits in the body kept as text")
        return value
    if end != len(text) and text[end:].strip():
        raise ValueError("extra data after the JSON value")
    return value


def _over_cap(notes: list[str]) -> tuple[None, None, bool]:
    notes.append(f"body over the size cap of {MAX_BODY_BYTES:,} bytes; not read")
    return None, None, True


def parse_body(body: Any, notes: list[str]) -> tuple[Any, str | None, bool]:
    """``(parsed JSON or None, text message or None, malformed?)``."""
    if body is None:
        return None, None, False
    if type(body) is str and 0 < len(body) <= MAX_BODY_BYTES and body[0] == "{":
        # the common case: a JSON object as text, no padding
        try:
            value, end = _scan(body, 0)
        except (StopIteration, ValueError, RecursionError):
            pass  # the full path below says what is wrong with it
        else:
            if end == len(body):
                return value, None, False
    if isinstance(body, Mapping):
        return body, None, False
    if isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body[: MAX_BODY_BYTES + 1])
        if len(raw) > MAX_BODY_BYTES:
            return _over_cap(notes)
        text = _decode(raw, notes)
    elif isinstance(body, str):
        if len(body) > MAX_BODY_BYTES:
            return _over_cap(notes)
        text = body
    elif isinstance(body, list):
        return body, None, True
    else:
        notes.append(f"body of type {_type_name(body)} cannot be read; ignored")
        return None, None, True
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:  # an empty answer: only its HTTP status can tell anything
        return None, None, True
    if stripped[0] in "{[":
        try:
            return _json(stripped, notes), None, False
        except (ValueError, RecursionError):
            return None, _text_message(stripped), True
    return None, _text_message(stripped), True
