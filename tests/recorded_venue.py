"""A venue on 127.0.0.1 that answers every request with one recorded answer.

The venue tests (ccxt clients, products, SDKs) set ``server.answer = (status,
body, headers)`` and make the client's request; ``server.requests`` lists the
``(method, path)`` pairs received. ``point_at(client, base)`` points every API
host of a ccxt client at it (``urls['api']`` holds a string, a mapping of
strings or nested mappings, some with a ``{hostname}`` placeholder; the path
part of each is kept, so the request reaches the path the venue would see).
The ``server`` fixture (``conftest.py``) serves one per test module.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_HOST = re.compile(r"^https?://[^/]+")


class Recorded(BaseHTTPRequestHandler):
    """Answers every request with the server's current recorded answer."""

    def _answer(self) -> None:
        server: Any = self.server
        status, body, headers = server.answer
        server.requests.append((self.command, self.path))
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
        for k, v in headers.items():
            if k != "Content-Type":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


def serve() -> Iterator[Any]:
    """A running recorded venue (``base`` is its URL), shut down when resumed."""
    srv: Any = ThreadingHTTPServer(("127.0.0.1", 0), Recorded)
    srv.requests = []
    srv.answer = (200, {}, {})
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def point_at(client: Any, base: str) -> Any:
    """``client`` with every API host replaced by ``base`` (paths kept)."""

    def walk(urls: dict[str, Any]) -> None:
        for key, value in urls.items():
            if isinstance(value, dict):
                walk(value)
            elif isinstance(value, str):
                urls[key] = _HOST.sub(base, value)

    walk(client.urls["api"])
    return client
