"""``Inputs``: what the caller gave ``normalize()``, as plain values.

Filled by ``inputs.read_inputs`` and the readers it calls (``sdks.py``,
``textshapes.py``), read by ``decide.py``. A record of its own so that those
readers name it without importing the module that calls them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any


class Inputs:
    """What the caller gave, as plain values (``read_inputs``)."""

    __slots__ = ("body", "classes", "code", "headers", "message", "notes", "status", "transport")

    def __init__(self, code: Any, message: Any, body: Any, headers: Any) -> None:
        self.code = code
        self.message = message
        self.body = body
        self.headers = headers
        self.status: int | None = None
        #: the transport kind of a failure that got no answer (``transport.py``)
        self.transport: str | None = None
        #: ccxt's class names, most specific first (its fallback, ``ccxt.py``)
        self.classes: tuple[str, ...] = ()
        self.notes: list[str] = []
