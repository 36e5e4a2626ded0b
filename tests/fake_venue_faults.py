"""``fake_venue.FakeVenue`` with more faults, for the wrapper's guard tests
(``test_ccxt_wrapper_guards.py``)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ccxt
from fake_venue import FakeVenue, Order, VirtualClock, point


def _okx_duplicate(cid: str) -> tuple[int, dict[str, Any]]:
    row = {"clOrdId": cid, "ordId": "", "sCode": "51016", "sMsg": "Duplicated clOrdId"}
    return 200, {"code": "1", "msg": "All operations failed", "data": [row]}


_DUPLICATE = {
    "okx": _okx_duplicate,
    "binance": lambda cid: (400, {"code": -2010, "msg": "Duplicate order sent."}),
    "bybit": lambda cid: (
        200,
        {"retCode": 110072, "retMsg": "OrderLinkedID is duplicate", "result": {}, "time": 0},
    ),
}


class Venue(FakeVenue):
    """FakeVenue with more faults (by placement number, as ``faults`` gives them):

    - ``"dropped"``: the answer is lost and the order was NOT accepted;
    - ``"accept:<status>:<page>"``: the order is accepted, and the answer is that
      status and page (a Cloudflare 524, a 200 that is not JSON);
    - ``reject_dup``: a placement reusing the client order id of an existing order
      is refused as the venue refuses it (OKX 51016, Binance -2010, Bybit 110072);
    - ``query_pages``: raw answers to the next status queries (a gateway's page);
    - ``bybit_status``: the status Bybit's history reports for every order, and the
      history endpoint honours ccxt's ``orderStatus`` filter as Bybit does.
    """

    reject_dup: bool = False
    bybit_status: str = "Filled"

    def _place(self, h: Any, params: dict[str, Any], now: float) -> None:
        with self.lock:
            n = self.placements
        fault = self.faults(n)
        cid = str(
            params.get("newClientOrderId") or params.get("clOrdId") or params.get("orderLinkId")
        )
        if self.reject_dup and any(o.client_order_id == cid for o in self.orders):
            with self.lock:
                self.placements += 1
            self._send(h, *_DUPLICATE[self.flavour](cid))
            return
        if fault == "dropped":
            with self.lock:
                self.placements += 1
            time.sleep(self.hang_s)
            h.close_connection = True
            return
        if fault and fault.startswith("accept:"):
            _, status, page = fault.split(":", 2)
            with self.lock:
                self.placements += 1
                self.orders.append(
                    Order(
                        1000 + len(self.orders),
                        cid,
                        str(params.get("symbol") or params.get("instId")),
                        str(params.get("side")).lower(),
                        str(params.get("price") or params.get("px")),
                        str(params.get("quantity") or params.get("sz") or params.get("qty")),
                        now,
                    )
                )
            self._send_raw(h, int(status), page.encode(), "text/html")
            return
        super()._place(h, params, now)

    #: raw (status, body) answers for the next order queries (a list set on the instance)
    query_pages: Any = ()

    def _query(self, h: Any, params: dict[str, Any], now: float) -> None:
        if self.query_pages:
            status, page = self.query_pages.pop(0)
            self._send_raw(h, status, page.encode(), "text/html")
            return
        super()._query(h, params, now)

    def _scan(self, h: Any, params: dict[str, Any], now: float, *, open_orders: bool) -> None:
        cid = params.get("orderLinkId")
        status = params.get("orderStatus")
        found = [] if open_orders else self._visible(now)
        if cid:
            found = [o for o in found if o.client_order_id == cid]
        if status and status != self.bybit_status:
            found = []
        rows = []
        for o in found:
            row = self._bybit_order(o)
            row["orderStatus"] = self.bybit_status
            rows.append(row)
        body = {"retCode": 0, "retMsg": "OK", "result": {"category": "spot", "list": rows}}
        self._send(h, 200, body)


def venue(flavour: str, faults: dict[int, str], **kw: Any) -> tuple[Venue, VirtualClock]:
    clock = VirtualClock()
    extra = {k: kw.pop(k) for k in ("reject_dup", "bybit_status") if k in kw}
    v = Venue(flavour, clock, faults=lambda n: faults.get(n), **kw)
    for k, val in extra.items():
        setattr(v, k, val)
    return v.start(), clock


def sync_client(flavour: str, v: FakeVenue, timeout_ms: int = 150) -> Any:
    c = getattr(ccxt, flavour)(
        {"apiKey": "k", "secret": "czNjcmV0", "password": "p", "timeout": timeout_ms}
    )
    return point(c, v)


def async_client(flavour: str, v: FakeVenue, timeout_ms: int = 150) -> Any:
    import ccxt.async_support as accxt

    c = getattr(accxt, flavour)(
        {"apiKey": "k", "secret": "czNjcmV0", "password": "p", "timeout": timeout_ms}
    )
    return point(c, v)


class AlgoVenue(Venue):
    """OKX's book of conditional orders (``/trade/order-algo``), where ccxt places a
    trigger order and where only ``trigger=True`` finds it again."""

    algo: Any = ()  # the conditional orders (a list set on the instance)

    def _handle(self, h: Any) -> None:
        url = urlsplit(h.path)
        if (h.command, url.path) == ("POST", "/api/v5/trade/order-algo"):
            length = int(h.headers.get("Content-Length") or 0)
            p = json.loads(h.rfile.read(length).decode())
            now = self.clock()
            with self.lock:
                self.requests += 1
                n = self.placements
                self.placements += 1
                cid = p.get("algoClOrdId") or p.get("clOrdId")
                price = str(p.get("orderPx") or p.get("triggerPx"))
                order = Order(
                    5000 + len(self.algo), cid, p["instId"], p["side"], price, p["sz"], now
                )
                self.algo.append(order)
            if self.faults(n) == "lost":
                time.sleep(self.hang_s)
                h.close_connection = True
                return
            row = {"algoId": str(order.id), "algoClOrdId": cid, "sCode": "0", "sMsg": ""}
            self._send(h, 200, {"code": "0", "msg": "", "data": [row]})
            return
        if url.path == "/api/v5/trade/order-algo":  # GET by algoClOrdId
            q = dict(parse_qsl(url.query))
            wanted = (q.get("algoClOrdId"), q.get("clOrdId"))
            rows = [o for o in self.algo if o.client_order_id in wanted]
            if rows:
                o = rows[0]
                row = {
                    "instId": o.symbol,
                    "algoId": str(o.id),
                    "algoClOrdId": o.client_order_id,
                    "ordType": "trigger",
                    "side": o.side,
                    "sz": o.amount,
                    "orderPx": o.price,
                    "triggerPx": o.price,
                    "state": "live",
                    "cTime": str(int(o.placed_at * 1000)),
                }
                self._send(h, 200, {"code": "0", "msg": "", "data": [row]})
            else:
                self._send(h, 200, {"code": "51603", "msg": "Order does not exist", "data": []})
            return
        super()._handle(h)
