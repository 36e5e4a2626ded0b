"""Carry the advice out over a ccxt exchange: waits, reconciles, never duplicates an order.

    import ccxt
    import normalizer.ccxt

    okx = normalizer.ccxt.wrap(ccxt.okx({...}), supervisor=normalizer.Supervisor())
    order = okx.create_order("BTC/USDT", "limit", "buy", 0.01, 30000)

``wrap()`` returns a proxy with the exchange's unified methods (sync for
``ccxt``, awaitable for ``ccxt.async_support``). Every ``create_order`` gets a
client order id unless it has one; a failure is classified and judged, then
carried out: waits (the venue's hint first), reconciliation by client order id
(the per-venue recipe, ``RECIPES``), and a re-place only once the venue has
confirmed the order absent. Where the advice is to stop, it raises an
``ActionRequired`` (a ``NormalizerError``): ``SendRefused`` (a halted scope,
nothing sent), ``RequestRejected`` (settled: not done) or ``OutcomeUnknown``
(reconcile later by ``client_order_id``). Each decision is one ``logging``
record on the ``normalizer.ccxt`` logger, its fields under ``record.normalizer``.
"""

from .integrations.ccxt import (
    RECIPES,
    ActionRequired,
    AsyncExchange,
    OutcomeUnknown,
    Recipe,
    RequestRejected,
    SendRefused,
    SyncExchange,
    wrap,
)

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
