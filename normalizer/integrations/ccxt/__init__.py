"""The ccxt wrapper: ``wrap(exchange)`` carries ``recommend()``'s advice out.

Public as ``normalizer.ccxt``; see that module.
"""

from ..._core.errors import ActionRequired, OutcomeUnknown, RequestRejected, SendRefused
from ._proxy import AsyncExchange, SyncExchange, wrap
from ._recipes import RECIPES, Recipe

__all__ = [
    "RECIPES",
    "ActionRequired",
    "AsyncExchange",
    "OutcomeUnknown",
    "Recipe",
    "RequestRejected",
    "SendRefused",
    "SyncExchange",
    "wrap",
]
