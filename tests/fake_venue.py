"""A misbehaving venue on 127.0.0.1, for the ccxt wrapper's tests and its chaos bench.

It speaks enough of Binance's (``/api/v3/order``), OKX's (``/api/v5/trade/order``)
and Bybit's (``/v5/order/...``) order endpoints for the real ccxt clients, sync
and async, with markets set by hand (``point()``: no market download). Its
book is a list of orders; every placement is numbered, and ``faults(n)`` says
what goes wrong with placement ``n``, deterministically:

- ``"lost"``: the order is accepted, the answer never arrives (the client times out);
- ``"html502"`` / ``"html503"``: the order is accepted, a gateway's HTML page comes back;
- ``"limit429"``: refused with 429 and ``Retry-After`` (nothing placed);
- ``"ban418"``: refused with 418 and a ban time (Binance; nothing placed);
- ``None``: placed and answered.

An accepted order shows in queries only ``visibility_s`` after it was placed.
Time is a ``VirtualClock`` the wrapper under test also sleeps on, so waits
cost nothing; a request that arrives while a wait the venue asked for still
runs is counted in ``early``. The orders carry the caller's ``price``, so an
intent placed twice (a duplicate) is visible whatever client id it used.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"
HTML_503 = (
    b"<html><head><title>503 Service Temporarily Unavailable</title></head>"
    b"<body><h1>503 Service Temporarily Unavailable</h1></body></html>"
)


class VirtualClock:
    """Seconds that pass only when someone sleeps on them (thread-safe)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class Order:
    id: int
    client_order_id: str
    symbol: str
    side: str
    price: str
    amount: str
    placed_at: float


@dataclass
class FakeVenue:
    """The venue; ``start()`` serves it, ``base`` is its URL."""

    flavour: str  # binance | okx | bybit
    clock: VirtualClock
    faults: Callable[[int], str | None] = lambda n: None
    visibility_s: float = 0.4
    wait_s: int = 2
    hang_s: float = 0.25
    orders: list[Order] = field(default_factory=list)
    placements: int = 0
    early: int = 0
    requests: int = 0
    quiet_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: Any = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeVenue:
        venue = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                venue._handle(self)

            do_POST = do_DELETE = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ----------------------------------------------------------- the book

    def duplicates(self) -> int:
        """Orders beyond the first of each intent (intents are told apart by price)."""
        prices = [o.price for o in self.orders]
        return len(prices) - len(set(prices))

    def placed(self, price: str) -> list[Order]:
        return [o for o in self.orders if o.price == price]

    # ----------------------------------------------------------- serving

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length).decode() if length else ""
        params: dict[str, Any] = dict(parse_qsl(url.query))
        if raw:
            data = json.loads(raw) if raw.lstrip()[:1] in ("{", "[") else dict(parse_qsl(raw))
            params.update(data[0] if isinstance(data, list) else data)  # okx batch: one order
        now = self.clock()
        with self.lock:
            self.requests += 1
            if now < self.quiet_until:
                self.early += 1
        place = (h.command, url.path) in (
            ("POST", "/api/v3/order"),
            ("POST", "/api/v5/trade/order"),
            ("POST", "/api/v5/trade/batch-orders"),  # ccxt's default for okx
            ("POST", "/v5/order/create"),
        )
        if place:
            self._place(h, params, now)
        elif url.path in ("/api/v3/order", "/api/v5/trade/order"):
            self._query(h, params, now)
        elif url.path in ("/v5/order/realtime", "/v5/order/history"):
            self._scan(h, params, now, open_orders=url.path.endswith("realtime"))
        else:
            self._send(h, 404, {"msg": f"no such endpoint {url.path}"})

    def _place(self, h: BaseHTTPRequestHandler, params: dict[str, Any], now: float) -> None:
        with self.lock:
            n = self.placements
            self.placements += 1
        fault = self.faults(n)
        if fault in ("limit429", "ban418"):
            with self.lock:
                self.quiet_until = max(self.quiet_until, now + self.wait_s)
            self._refuse(h, fault)
            return
        cid = str(
            params.get("newClientOrderId") or params.get("clOrdId") or params.get("orderLinkId")
        )
        symbol = str(params.get("symbol") or params.get("instId"))
        price = str(params.get("price") or params.get("px"))
        amount = str(params.get("quantity") or params.get("sz") or params.get("qty"))
        side = str(params.get("side")).lower()
        with self.lock:
            order = Order(1000 + len(self.orders), cid, symbol, side, price, amount, now)
            self.orders.append(order)
        if fault == "lost":
            time.sleep(self.hang_s)  # real time: longer than the client's timeout
            h.close_connection = True
            return
        if fault in ("html502", "html503"):
            status, page = (502, HTML_502) if fault == "html502" else (503, HTML_503)
            self._send_raw(h, status, page, "text/html")
            return
        self._send(h, 200, self._placed_body(order))

    def _refuse(self, h: BaseHTTPRequestHandler, fault: str) -> None:
        headers = {"Retry-After": str(self.wait_s)}
        if self.flavour == "binance":
            if fault == "ban418":
                until = int((time.time() + self.wait_s) * 1000)
                msg = f"Way too much request weight used; IP banned until {until}."
                self._send(h, 418, {"code": -1003, "msg": msg}, headers)
            else:
                msg = "Too many requests; current limit is 1200 request weight per 1 MINUTE."
                self._send(h, 429, {"code": -1003, "msg": msg}, headers)
        elif self.flavour == "okx":
            body = {"code": "50011", "msg": "Rate limit reached.", "data": []}
            self._send(h, 429, body, headers)
        else:
            reset = int((time.time() + self.wait_s) * 1000)
            body = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "time": 0}
            self._send(h, 200, body, {"X-Bapi-Limit-Reset-Timestamp": str(reset), **headers})

    def _visible(self, now: float, **match: str) -> list[Order]:
        with self.lock:
            return [
                o
                for o in self.orders
                if o.placed_at + self.visibility_s <= now
                and all(getattr(o, k) == v for k, v in match.items())
            ]

    def _query(self, h: BaseHTTPRequestHandler, params: dict[str, Any], now: float) -> None:
        cid = str(params.get("origClientOrderId") or params.get("clOrdId"))
        found = self._visible(now, client_order_id=cid)
        if found:
            self._send(h, 200, self._order_body(found[0]))
        elif self.flavour == "binance":
            self._send(h, 400, {"code": -2013, "msg": "Order does not exist."})
        else:
            self._send(h, 200, {"code": "51603", "msg": "Order does not exist", "data": []})

    def _scan(self, h: BaseHTTPRequestHandler, params: dict[str, Any], now: float, *,
              open_orders: bool) -> None:  # fmt: skip
        cid = params.get("orderLinkId")
        found = [] if open_orders else self._visible(now)
        if cid:
            found = [o for o in found if o.client_order_id == cid]
        rows = [self._bybit_order(o) for o in found]
        body = {"retCode": 0, "retMsg": "OK", "result": {"category": "spot", "list": rows}}
        self._send(h, 200, body)

    # ----------------------------------------------------------- bodies

    def _placed_body(self, o: Order) -> dict[str, Any]:
        if self.flavour == "binance":
            return self._order_body(o)
        if self.flavour == "okx":
            row = {"clOrdId": o.client_order_id, "ordId": str(o.id), "sCode": "0", "sMsg": ""}
            return {"code": "0", "msg": "", "data": [row]}
        result = {"orderId": str(o.id), "orderLinkId": o.client_order_id}
        return {"retCode": 0, "retMsg": "OK", "result": result, "time": 0}

    def _order_body(self, o: Order) -> dict[str, Any]:
        if self.flavour == "binance":
            return {
                "symbol": o.symbol,
                "orderId": o.id,
                "clientOrderId": o.client_order_id,
                "transactTime": int(o.placed_at * 1000),
                "price": o.price,
                "origQty": o.amount,
                "executedQty": o.amount,
                "status": "FILLED",
                "type": "LIMIT",
                "side": o.side.upper(),
            }
        row = {
            "instId": o.symbol,
            "ordId": str(o.id),
            "clOrdId": o.client_order_id,
            "px": o.price,
            "sz": o.amount,
            "accFillSz": o.amount,
            "side": o.side,
            "ordType": "limit",
            "state": "filled",
            "cTime": str(int(o.placed_at * 1000)),
        }
        return {"code": "0", "msg": "", "data": [row]}

    @staticmethod
    def _bybit_order(o: Order) -> dict[str, Any]:
        return {
            "orderId": str(o.id),
            "orderLinkId": o.client_order_id,
            "symbol": o.symbol,
            "price": o.price,
            "qty": o.amount,
            "cumExecQty": o.amount,
            "side": o.side.capitalize(),
            "orderType": "Limit",
            "orderStatus": "Filled",
            "createdTime": str(int(o.placed_at * 1000)),
        }

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any,
              headers: dict[str, str] | None = None) -> None:  # fmt: skip
        self._send_raw(h, status, json.dumps(body).encode(), "application/json", headers)

    @staticmethod
    def _send_raw(h: BaseHTTPRequestHandler, status: int, data: bytes, kind: str,
                  headers: dict[str, str] | None = None) -> None:  # fmt: skip
        h.send_response(status)
        h.send_header("Content-Type", kind)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


MARKET_IDS = {"binance": "BTCUSDT", "okx": "BTC-USDT", "bybit": "BTCUSDT"}


def point(client: Any, venue: FakeVenue) -> Any:
    """Point a ccxt client at ``venue``: every API host, and one market set by hand."""
    import re

    def walk(urls: dict[str, Any]) -> None:
        for key, value in urls.items():
            if isinstance(value, dict):
                walk(value)
            elif isinstance(value, str):
                urls[key] = re.sub(r"^https?://[^/]+", venue.base, value)

    walk(client.urls["api"])
    market = {
        "id": MARKET_IDS[venue.flavour],
        "symbol": "BTC/USDT",
        "base": "BTC",
        "quote": "USDT",
        "baseId": "BTC",
        "quoteId": "USDT",
        "settle": None,
        "settleId": None,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "linear": None,
        "inverse": None,
        "active": True,
        "contractSize": None,
        "expiry": None,
        "expiryDatetime": None,
        "strike": None,
        "optionType": None,
        "taker": 0.001,
        "maker": 0.001,
        "precision": {"amount": 0.00001, "price": 0.01},
        "limits": {
            "amount": {"min": None, "max": None},
            "price": {"min": None, "max": None},
            "cost": {"min": None, "max": None},
            "leverage": {"min": None, "max": None},
        },
        "info": {"orderTypes": ["LIMIT", "MARKET"]} if venue.flavour == "binance" else {},
    }
    client.set_markets([market])
    if venue.flavour == "bybit":
        client.options["enableUnifiedAccount"] = True
        client.options["enableUnifiedMargin"] = False
    return client
