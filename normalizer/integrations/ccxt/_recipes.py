"""How to find an order again by its client order id, venue by venue.

A wrapper that lost the answer to a placement (a timeout, a 5xx page) must ask
the venue whether the order exists before it places it again. ccxt maps its
unified ``clientOrderId`` parameter onto each venue's own field when it places an
order; finding the order again differs by venue (facts read from ccxt 4.5's
exchange classes and the venues' docs):

| venue | how | the venue's field |
|---|---|---|
| binance | ``fetch_order(None, symbol, {"clientOrderId": cid})`` | ``origClientOrderId`` |
| okx | ``fetch_order(None, symbol, {"clientOrderId": cid})`` | ``clOrdId`` |
| kucoin | ``fetch_order(None, symbol, {"clientOrderId": cid})`` | ``clientOid`` |
| bitget | ``fetch_order(None, symbol, {"clientOrderId": cid})`` | ``clientOid`` |
| mexc | ``fetch_order(None, symbol, {"clientOrderId": cid})`` | ``origClientOrderId`` |
| gate | ``fetch_order(cid, symbol)``: ``text`` stands for the order id | ``text`` (``t-...``) |
| bybit | open orders, then closed ones, filtered by ``orderLinkId`` | ``orderLinkId`` |
| kraken | open orders, then closed ones, matched on ``clientOrderId`` | ``cl_ord_id`` |
| coinbase | open orders, then closed ones, matched on ``clientOrderId`` | ``client_order_id`` |

Any other venue gets the scan (open, then closed orders, matched on
``clientOrderId``), which every ccxt exchange with those two methods supports.
The scan reads the cancelled orders too where the client lists them
(``fetch_canceled_and_closed_orders`` or ``fetch_canceled_orders``): ccxt's
Bybit lists only filled orders as closed, and a partly filled order that was
then cancelled exists.

A caller may give the id under the venue's own key, which ccxt reads before
``clientOrderId`` (``native``: okx ``clOrdId``, binance ``newClientOrderId``,
bybit ``orderLinkId``, kucoin and bitget ``clientOid``, gate ``text``); the
wrapper reconciles by that id. Gate's ccxt puts ``t-`` before an id that does
not start with ``t``, and the wrapper does the same before it looks the order
up. Coinbase's ccxt sets a ``client_order_id`` of its own unless one is given
under that key (``send_as``), so the wrapper gives it there.
"""

from __future__ import annotations

import uuid

from ..._core.frozen import frozen

__all__ = ["RECIPES", "Recipe", "as_sent", "new_client_order_id", "recipe_for"]


@frozen
class Recipe:
    """How one venue's orders are found by client order id.

    ``by_id``: ``fetch_order`` takes the client id (as ``params[param]``, or as the
    order id itself when ``param`` is None); otherwise the open and closed orders
    are scanned, with ``scan_params`` naming the venue's filter field if it has one.
    ``prefix`` and ``length`` shape the ids the wrapper makes (gate wants ``t-``
    and at most 28 characters; okx letters and digits only).
    """

    by_id: bool
    param: str | None = "clientOrderId"
    scan_param: str | None = None
    prefix: str = ""
    length: int = 32
    #: the venue's own keys for the client id, which ccxt reads before ``clientOrderId``
    native: tuple[str, ...] = ()
    #: the key the wrapper sends the id under
    send_as: str = "clientOrderId"


_FETCH = Recipe(by_id=True)
_SCAN = Recipe(by_id=False, param=None)

RECIPES: dict[str, Recipe] = {
    "binance": Recipe(by_id=True, native=("newClientOrderId", "origClientOrderId")),
    "okx": Recipe(by_id=True, native=("clOrdId",)),
    "kucoin": Recipe(by_id=True, native=("clientOid",)),
    "bitget": Recipe(by_id=True, native=("clientOid",)),
    "mexc": _FETCH,
    "gate": Recipe(by_id=True, param=None, prefix="t-", length=24, native=("text",)),
    "bybit": Recipe(by_id=False, param=None, scan_param="orderLinkId", native=("orderLinkId",)),
    "kraken": _SCAN,
    "coinbase": Recipe(
        by_id=False, param=None, native=("client_order_id",), send_as="client_order_id"
    ),
}


def recipe_for(venue: str) -> Recipe:
    """The recipe of ``venue`` (a ccxt id; derivatives ids share their venue's)."""
    for name, recipe in RECIPES.items():
        if venue == name or venue.startswith(name):
            return recipe
    return _SCAN


def new_client_order_id(recipe: Recipe) -> str:
    """A fresh client order id in the venue's format: hex digits, ``prefix`` first."""
    return recipe.prefix + uuid.uuid4().hex[: recipe.length]


def as_sent(recipe: Recipe, client_order_id: str) -> str:
    """The id as ccxt sends it (gate's ``t-`` before an id that does not start with ``t``)."""
    if recipe.prefix == "t-" and not client_order_id.startswith("t"):
        return "t-" + client_order_id
    return client_order_id
