"""The official exchange SDKs' exceptions as an input adapter.

Many routers call a venue through its own SDK rather than ccxt; each SDK
raises its own class and keeps the HTTP status, the venue's code and message,
the headers or the body in attributes of its own. ``read_sdk`` reads them into
``Inputs`` (``inputs.py``), as ``ccxt.recover`` does for ccxt. No SDK is
imported: a class is recognised by its module and name along the MRO.

- python-binance: ``binance.exceptions.BinanceAPIException`` (code, message,
  status_code, response);
- binance-connector and binance-futures-connector: ``binance.error.ClientError``
  (status_code, error_code, error_message, header) and ``ServerError``
  (status_code, message: the body);
- pybit: ``pybit.exceptions.InvalidRequestError`` (status_code: Bybit's retCode,
  message, resp_headers) and ``FailedRequestError`` (status_code: the HTTP status,
  only when resp_headers is set; without them pybit made the number up);
- python-okx: ``okx.exceptions.OkxAPIException`` (code, message, status_code, response);
- gate-api: ``gate_api.exceptions.ApiException`` (status, body, headers) and
  ``GateApiException`` (+ label, message);
- python-kucoin: ``kucoin.exceptions.KucoinAPIException`` (status_code, response);
- kucoin-universal-sdk: ``RestError`` (response.code and response.message, or
  the status and body in its text);
- python-kraken-sdk: ``kraken.exceptions.Kraken*Error`` (the body after ``Details:``).

coinbase-advanced-py raises requests' ``HTTPError`` with its response, and
krakenex returns the body or raises ``HTTPError``: both are read as any HTTP
client's error is (``transport.response_of``). python-okx returns the body
of an error answer (``normalize("okx", body=...)``).

What the caller passes explicitly still wins over what an exception carries.
An attribute that raises, or holds a value of the wrong type, is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from .textshapes import embedded_body, literal
from .transport import response_of

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

    from .given import Inputs

#: An SDK's text (an exception's message) is read this far.
MAX_SDK_TEXT = 64 * 1024


class Spec:
    """Which attributes of an SDK's exception hold what (None: not held)."""

    __slots__ = ("body", "code", "headers", "message", "response", "status", "status_needs")

    def __init__(
        self,
        *,
        status: str | None = None,
        code: str | None = None,
        message: str | None = None,
        headers: str | None = None,
        body: str | None = None,
        response: bool = False,
        status_needs: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.body = body
        #: an HTTP response object in ``.response`` (status, body, headers)
        self.response = response
        #: the status is the venue's only when this attribute is set (pybit)
        self.status_needs = status_needs


_BINANCE_CLIENT = Spec(
    status="status_code", code="error_code", message="error_message", headers="header"
)
_GATE = Spec(status="status", body="body", headers="headers")

#: (module, class name) -> what its attributes hold; "*" stands for every class of the module
TABLE: dict[tuple[str, str], Spec] = {
    ("binance.exceptions", "BinanceAPIException"): Spec(
        status="status_code", code="code", message="message", response=True
    ),
    ("binance.error", "ClientError"): _BINANCE_CLIENT,
    ("binance.error", "ServerError"): Spec(status="status_code", body="message"),
    ("pybit.exceptions", "InvalidRequestError"): Spec(
        code="status_code", message="message", headers="resp_headers"
    ),
    ("pybit.exceptions", "FailedRequestError"): Spec(
        status="status_code", headers="resp_headers", status_needs="resp_headers"
    ),
    ("okx.exceptions", "OkxAPIException"): Spec(
        status="status_code", code="code", message="message", response=True
    ),
    ("gate_api.exceptions", "GateApiException"): Spec(
        status="status", code="label", message="message", body="body", headers="headers"
    ),
    ("gate_api.exceptions", "ApiException"): _GATE,
    ("kucoin.exceptions", "KucoinAPIException"): Spec(status="status_code", response=True),
}
#: classes read by a function of their own
_KUCOIN_UNIVERSAL = ("kucoin_universal_sdk.model.common", "RestError")
_KRAKEN_MODULE = "kraken.exceptions"

_specs: dict[type, tuple[str, Spec | None] | None] = {}


def _lookup(cls: type) -> tuple[str, Spec | None] | None:
    """The SDK entry of ``cls``: (its key, its spec; None for a reader of its own)."""
    try:
        return _specs[cls]
    except (KeyError, TypeError):
        pass
    found: tuple[str, Spec | None] | None = None
    for c in getattr(cls, "__mro__", ())[:16]:
        module = getattr(c, "__module__", None)
        name = getattr(c, "__name__", None)
        if not isinstance(module, str) or not isinstance(name, str):
            continue
        spec = TABLE.get((module, name))
        if spec is not None:
            found = (f"{module}.{name}", spec)
            break
        if (module, name) == _KUCOIN_UNIVERSAL or (
            module == _KRAKEN_MODULE and name.startswith("Kraken") and name.endswith("Error")
        ):
            found = (f"{module}.{name}", None)
            break
    try:
        if len(_specs) < 1024:
            _specs[cls] = found
    except TypeError:  # a class whose metaclass refuses to hash
        pass
    return found


def is_sdk_error(error: object) -> bool:
    """Whether ``error`` is an exception of one of the SDKs above."""
    return isinstance(error, BaseException) and _lookup(type(error)) is not None


def read_sdk(got: Inputs, error: BaseException) -> bool:
    """Read ``error`` into ``got`` when it is an SDK's exception; whether the
    venue's answer was found in it (if not, what it wraps is read as any
    exception's: a transport failure)."""
    entry = _lookup(type(error))
    if entry is None:
        return False
    key, spec = entry
    if spec is not None:
        _read_spec(got, error, spec)
    elif key.startswith(_KRAKEN_MODULE):
        _read_kraken(got, error)
    else:
        _read_kucoin_universal(got, error)
    return (
        got.status is not None
        or got.code is not None
        or got.body is not None
        or (spec is not None and spec.status_needs is not None)
    )


def _attr(obj: object, name: str | None) -> Any:
    if name is None:
        return None
    try:
        return getattr(obj, name, None)
    except Exception:  # a third-party property that raises: not held
        return None


def _code(value: Any) -> str | int | None:
    if isinstance(value, bool) or value in (None, "", 0, "None"):
        return None  # python-binance and python-okx default to 0 / "None" when no code was read
    return value if isinstance(value, (str, int)) else None


def _put(got: Inputs, status: Any, code: Any, message: Any, body: Any, headers: Any) -> None:
    """Fill what the caller did not give."""
    if got.status is None and isinstance(status, int) and not isinstance(status, bool):
        got.status = status
    code = _code(code)
    if got.code is None and code is not None:
        got.code = code
    if got.message is None and isinstance(message, str) and message:
        got.message = message[:MAX_SDK_TEXT]
    if got.body is None and isinstance(body, (str, bytes, Mapping, list)) and body:
        got.body = body
    if got.headers is None and headers is not None:
        got.headers = _headers(headers)


def _headers(value: Any) -> Any:
    """Headers as a mapping (gate-api's ``getheaders()`` may be a list of pairs)."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, (list, tuple)):
        try:
            return dict(value[:256])
        except (TypeError, ValueError):
            return None
    try:  # urllib3's HTTPHeaderDict and the like
        return dict(value.items())
    except Exception:
        return None


def _read_spec(got: Inputs, error: BaseException, spec: Spec) -> None:
    status = _attr(error, spec.status)
    if spec.status_needs is not None and _attr(error, spec.status_needs) is None:
        # the SDK's own failure (pybit: retries exhausted), its number made up:
        # no answer of the venue's, whose outcome nothing here tells
        got.notes.append(f"{type(error).__name__} carries no answer of the venue's")
        if got.message is None:
            got.message = type(error).__name__
        return
    body = _attr(error, spec.body)
    headers = _attr(error, spec.headers)
    if spec.response:
        carried = response_of(error)
        if carried is not None:
            r_status, r_body, r_headers = carried
            status = status if status is not None else r_status
            body = body if body is not None else r_body
            headers = headers if headers is not None else r_headers
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body[:MAX_SDK_TEXT]).decode("utf-8", "replace")
    _put(got, status, _attr(error, spec.code), _attr(error, spec.message), body, headers)


def _read_kraken(got: Inputs, error: BaseException) -> None:
    """python-kraken-sdk raises ``Kraken...Error(body)``: its text is the class's
    docstring, then ``Details: `` and the body as Python writes it."""
    text = _text(error)
    doc, sep, details = text.partition("\nDetails: ")
    body = None
    if sep:
        body = literal(details.strip()) if details.strip()[:1] in "{[" else None
        if not isinstance(body, (dict, list)):
            body = embedded_body(details)
    if isinstance(body, list):
        body = {"error": body}
    _put(got, None, None, None, body, None)
    if got.body is None and got.message is None:
        got.message = details.strip() or doc.strip() or type(error).__name__


def _read_kucoin_universal(got: Inputs, error: BaseException) -> None:
    """kucoin-universal-sdk's ``RestError``: the answer's code and message in
    ``response`` (a 200 that says error), else the status and body in its text
    (``Invalid status code: 429, msg: {...}``; the SDK keeps no headers then)."""
    response = _attr(error, "response")
    if response is not None:
        _put(got, None, _attr(response, "code"), _attr(response, "message"), None, None)
        return
    msg = _attr(error, "msg")
    text = msg[:MAX_SDK_TEXT] if isinstance(msg, str) else _text(error)
    prefix = "Invalid status code: "
    if text.startswith(prefix):
        status_text, sep, rest = text[len(prefix) :].partition(", msg: ")
        status = (
            int(status_text) if sep and status_text.isdigit() and len(status_text) == 3 else None
        )
        _put(got, status, None, None, rest or None, None)
        return
    if got.message is None:
        got.message = text or type(error).__name__


def _text(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception:
        return type(error).__name__
    return text[:MAX_SDK_TEXT] if isinstance(text, str) else type(error).__name__
