"""A logged exception's class name (``ReadTimeout``) as the exception it stands for.

A log keeps an exception as its class name and its text; ``normalize()``
recognises exceptions by the qualified names of their classes, so the batch
path classifies a row with an ``error_type`` by a stand-in class named as the
live one was.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_KNOWN_TYPES: dict[str, str] | None = None


def _known_types() -> dict[str, str]:
    """A logged exception class name (bare or qualified) -> the qualified name we know."""
    global _KNOWN_TYPES
    if _KNOWN_TYPES is None:
        from .._engine.transport import _BY_NAME
        from .._formats.registry import bundled

        known: dict[str, str] = {}
        for entry in bundled("ccxt")["classes"]:
            known.setdefault(entry, f"ccxt.base.errors.{entry}")
        for qualified in _BY_NAME:
            known.setdefault(qualified.rsplit(".", 1)[1], qualified)
            known[qualified] = qualified
        _KNOWN_TYPES = known
    return _KNOWN_TYPES


@lru_cache(maxsize=1024)
def _exception_class(error_type: str) -> type[Exception]:
    """A stand-in class for a logged exception type, named as the live one was.

    ``normalize()`` recognises exceptions by the qualified names of their
    classes, so a class called ``ReadTimeout`` in module ``requests.exceptions``
    classifies as requests' own would. A bare name is looked up among the
    transport and ccxt classes the rules know; an unknown name stays itself (in
    no library's module), and so classifies as an unknown exception does.
    """
    name = error_type.strip()
    qualified = _known_types().get(name, name)
    module, _, qualname = qualified.rpartition(".")
    return type(
        qualname, (Exception,), {"__module__": module or "logged", "__qualname__": qualname}
    )


def logged_exception(error_type: str, message: Any) -> Exception:
    """The exception a log line ``TYPE: message`` stands for (see ``_exception_class``)."""
    return _exception_class(error_type)("" if message is None else str(message))
