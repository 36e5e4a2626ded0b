"""Transport failures: what kind of failure an exception the caller caught is.

The question that matters is whether the request left the caller. A connect
timeout or a refused connection means it never did (safe to send again); a
read timeout or a connection reset after sending means the outcome is unknown.

Exceptions are recognised by the qualified names of their classes (walking the
MRO, then ``__cause__``/``__context__`` and the first argument, which is where
requests and aiohttp keep the underlying error), so the standard library's,
requests', urllib3's, httpx' and aiohttp's types are known without importing
any of them. The most specific name found first wins.
"""

from __future__ import annotations

from functools import lru_cache

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

# qualified class name -> transport kind; looked up along the MRO
_BY_NAME: dict[str, str] = {
    # httpx (and httpcore beneath it)
    "httpx.ConnectTimeout": "connect_timeout",
    "httpx.ConnectError": "connect_failed",
    "httpx.PoolTimeout": "pool_timeout",
    "httpx.ReadTimeout": "read_timeout",
    "httpx.WriteTimeout": "write_timeout",
    "httpx.ReadError": "connection_lost",
    "httpx.WriteError": "connection_lost",
    "httpx.RemoteProtocolError": "connection_lost",
    "httpx.CloseError": "connection_lost",
    "httpx.TimeoutException": "timeout",
    "httpx.NetworkError": "other",
    "httpx.TransportError": "other",
    "httpcore.ConnectTimeout": "connect_timeout",
    "httpcore.ConnectError": "connect_failed",
    "httpcore.PoolTimeout": "pool_timeout",
    "httpcore.ReadTimeout": "read_timeout",
    "httpcore.WriteTimeout": "write_timeout",
    "httpcore.ReadError": "connection_lost",
    "httpcore.RemoteProtocolError": "connection_lost",
    # requests
    "requests.exceptions.ConnectTimeout": "connect_timeout",
    "requests.exceptions.ReadTimeout": "read_timeout",
    "requests.exceptions.SSLError": "connect_failed",
    "requests.exceptions.ProxyError": "connect_failed",
    "requests.exceptions.ChunkedEncodingError": "connection_lost",
    "requests.exceptions.Timeout": "timeout",
    "requests.exceptions.ConnectionError": "other",  # refined by its cause below
    # urllib3 (what requests wraps)
    "urllib3.exceptions.ConnectTimeoutError": "connect_timeout",
    "urllib3.exceptions.NewConnectionError": "connect_failed",
    "urllib3.exceptions.NameResolutionError": "connect_failed",
    "urllib3.exceptions.ReadTimeoutError": "read_timeout",
    "urllib3.exceptions.ProtocolError": "connection_lost",
    "urllib3.exceptions.SSLError": "connect_failed",
    "urllib3.exceptions.ProxyError": "connect_failed",
    # aiohttp
    "aiohttp.client_exceptions.ConnectionTimeoutError": "connect_timeout",
    "aiohttp.client_exceptions.SocketTimeoutError": "read_timeout",
    "aiohttp.client_exceptions.ServerTimeoutError": "read_timeout",
    "aiohttp.client_exceptions.ClientConnectorError": "connect_failed",
    "aiohttp.client_exceptions.ClientProxyConnectionError": "connect_failed",
    "aiohttp.client_exceptions.ServerDisconnectedError": "connection_lost",
    "aiohttp.client_exceptions.ClientPayloadError": "connection_lost",
    "aiohttp.client_exceptions.ServerConnectionError": "connection_lost",
    "aiohttp.client_exceptions.ClientOSError": "other",
    # the standard library
    "http.client.RemoteDisconnected": "connection_lost",
    "http.client.IncompleteRead": "connection_lost",
    "http.client.BadStatusLine": "connection_lost",
    "builtins.ConnectionRefusedError": "connect_failed",
    "socket.gaierror": "connect_failed",
    "ssl.SSLCertVerificationError": "connect_failed",
    "builtins.ConnectionResetError": "connection_lost",
    "builtins.ConnectionAbortedError": "connection_lost",
    "builtins.BrokenPipeError": "connection_lost",
    "asyncio.exceptions.TimeoutError": "timeout",
    "builtins.TimeoutError": "timeout",
    "socket.timeout": "timeout",
    "builtins.ConnectionError": "other",
    "urllib.error.URLError": "other",  # refined by its reason below
}

# A generic kind is refined by what the exception wraps.
_REFINABLE = {"other", "timeout"}
_MAX_DEPTH = 6


def _names(exc: BaseException) -> list[str]:
    return _names_of(type(exc))


def _names_of(exc_class: type[BaseException]) -> list[str]:
    out = []
    for cls in exc_class.__mro__:
        module = getattr(cls, "__module__", None)
        if not isinstance(module, str):  # ``__module__ = None`` on a caller's class
            module = ""
        out.append(f"{module}.{cls.__qualname__}")
        # libraries re-export from a private module: httpx._exceptions.X is httpx.X
        top = module.split(".", 1)[0]
        if top != module:
            out.append(f"{top}.{cls.__qualname__}")
    return out


@lru_cache(maxsize=1024)
def _kind_of_class(cls: type[BaseException]) -> str | None:
    # Depends on the class alone; spelling out the MRO's names was most of the
    # cost of normalize(error=...) (bench/).
    for name in _names_of(cls):
        kind = _BY_NAME.get(name)
        if kind is not None:
            return kind
    return None


def _own_kind(exc: BaseException) -> str | None:
    cls = type(exc)
    try:
        return _kind_of_class(cls)  # type: ignore[arg-type]  # (mypy: a class is hashable)
    except TypeError:  # a class whose metaclass refuses to hash: looked up uncached
        return _kind_of_class.__wrapped__(cls)


def decides_alone(cls: type[BaseException]) -> bool:
    """Whether an exception of ``cls`` (carrying no response) is classified by
    its class alone: the class names a definite transport kind, so nothing it
    wraps is read (``transport_kind`` stops there)."""
    try:
        kind = _kind_of_class(cls)  # type: ignore[arg-type]  # (mypy: a class is hashable)
    except TypeError:  # a class whose metaclass refuses to hash
        return False
    return kind is not None and kind not in _REFINABLE


def _attribute(exc: BaseException, name: str) -> Any:
    """``getattr(exc, name, None)``, None when the caller's property raises."""
    try:
        return getattr(exc, name, None)
    except Exception:  # a third-party exception's property: what it wraps is unknown
        return None


def _wrapped(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    for attr in ("__cause__", "__context__", "reason", "os_error"):
        inner = _attribute(exc, attr)
        if isinstance(inner, BaseException) and inner is not exc:
            out.append(inner)
    args: Any = _attribute(exc, "args") or ()
    if isinstance(args, tuple):
        out.extend(a for a in args[:3] if isinstance(a, BaseException) and a is not exc)
    return out


def transport_kind(exc: BaseException) -> str | None:
    """The transport kind of ``exc``, or None when it is no transport failure."""
    seen: set[int] = set()

    def visit(e: BaseException, depth: int) -> str | None:
        if id(e) in seen or depth > _MAX_DEPTH:
            return None
        seen.add(id(e))
        kind = _own_kind(e)
        if kind is None or kind in _REFINABLE:
            for inner in _wrapped(e):
                deeper = visit(inner, depth + 1)
                if deeper is not None and deeper not in _REFINABLE:
                    return deeper
                if kind is None and deeper is not None:
                    kind = deeper
        return kind

    return visit(exc, 0)


def response_of(exc: BaseException) -> tuple[Any, Any, Any] | None:
    """``(http_status, body, headers)`` of an HTTP error exception, if it carries a response.

    requests' and httpx' errors keep a ``response``; aiohttp's
    ``ClientResponseError`` keeps ``status``, ``message`` and ``headers``.
    """
    response = _attribute(exc, "response")
    if response is not None:
        status = getattr(response, "status_code", None) or getattr(response, "status", None)
        body: Any = None
        for attr in ("content", "text", "body"):
            try:
                body = getattr(response, attr, None)
            except Exception:  # noqa: S112 - a streamed body may refuse to be read
                continue
            if isinstance(body, (bytes, str)):
                break
            body = None
        headers = getattr(response, "headers", None)
        if status is not None or body is not None:
            return status, body, headers
    status = _attribute(exc, "status")
    module = getattr(type(exc), "__module__", None)
    if isinstance(status, int) and isinstance(module, str) and "aiohttp" in module:
        return status, _attribute(exc, "message"), _attribute(exc, "headers")
    return None
