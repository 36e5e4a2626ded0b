"""The ccxt comparison: this project's categories beside the classes ccxt raises.

``compare_with_ccxt(exchange)`` (which does import ccxt) sets this project's
category of every catalog code beside the class ccxt maps it to. Recognising
ccxt's exceptions and recovering what the exchange said is the engine's input
adapter, ``normalizer._engine.ccxt``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from typing import Any

from .._core.frozen import as_dict, frozen
from .._engine.ccxt import ccxt_class_names
from .._formats.ccxt_table import load_class_table
from .verdicts import code_verdicts

__all__ = ["Comparison", "ccxt_class_for", "compare_with_ccxt", "error_body"]


# ------------------------------------------------------------ comparing


@frozen
class Comparison:
    """One catalog code: this project's category beside ccxt's class for it.

    ``verdict`` is ``agree`` or ``disagree`` (on the top-level category),
    ``generic`` (ccxt maps the code to a class that says nothing specific,
    such as plain ``ExchangeError``) or ``unmapped`` (ccxt does not know the
    code or message; it would raise plain ``ExchangeError``).
    """

    exchange: str
    code: str
    message: str
    ours: str | None
    our_category: str | None
    ccxt_class: str | None
    ccxt_category: str | None
    matched_by: str  # "code", "message" or "-"
    verdict: str

    #: the fields by name, for a data frame row
    as_dict = as_dict


def _exception_tables(
    exceptions: Mapping[str, Any],
) -> tuple[dict[str, set[type]], dict[str, set[type]]]:
    """Every class ccxt's ``exact`` and ``broad`` tables name per key, over all
    their sub-tables (Binance keeps one per API: spot, futures, options...)."""
    exact: dict[str, set[type]] = {}
    broad: dict[str, set[type]] = {}
    stack = [exceptions]
    while stack:
        node = stack.pop()
        for key, value in node.items():
            table = exact if key == "exact" else broad if key == "broad" else None
            if table is not None and isinstance(value, Mapping):
                for k, v in value.items():
                    if isinstance(v, type):
                        table.setdefault(str(k), set()).add(v)
            elif isinstance(value, Mapping):
                stack.append(value)
    return exact, broad


def error_body(response_shape: Any, code: str, message: str) -> dict[str, Any]:
    """An error body in an exchange's own shape (its ``exchange.yaml`` response):
    the code in its first top-level code field, the message in its top-level
    message fields, or the code as its one error string (Kraken)."""
    strings = getattr(response_shape, "error_strings", None)
    if strings is not None and "." not in strings.field:
        return {strings.field: [code], "result": {}}
    top = [f for f in getattr(response_shape, "code_fields", []) if "." not in f]
    response: dict[str, Any] = {top[0] if top else "code": code}
    for field in [f for f in getattr(response_shape, "message_fields", []) if "." not in f]:
        response.setdefault(field, message)
    response.setdefault("msg", message)
    response.setdefault("data", [])
    return response


def _rest_url(client: Any) -> str:
    """The client's own REST URL for its main (spot, private) API: some venues
    (Binance) choose their table of codes by the URL; nothing is requested."""
    api = getattr(client, "urls", {}).get("api")
    if isinstance(api, Mapping):
        for key in ("private", "rest", "spot", "v3", "public"):
            value = api.get(key)
            if isinstance(value, str) and value.startswith("https://"):
                hostname = getattr(client, "hostname", None) or ""
                return value.replace("{hostname}", hostname) + "/"
    return "https://127.0.0.1/"


def ccxt_class_for(
    client: Any, code: str, message: str, http_status: int | None, response_shape: Any = None
) -> type | None:
    """The exception class ``client.handle_errors`` raises for a body with this code and message.

    The body is built in the exchange's own shape (``response_shape``, as in its
    ``exchange.yaml``; OKX's ``{"code","msg","data"}`` without one); None when
    ccxt raises nothing.
    """
    response = error_body(response_shape, code, message)
    body = json.dumps(response, ensure_ascii=False)
    try:
        client.handle_errors(
            http_status or 200, "", _rest_url(client), "POST", {}, body, response, {}, ""
        )
    except Exception as exc:  # what ccxt raises is the answer
        return type(exc)
    return None


def _ccxt_id(ccxt_module: Any, folder: str, spec: Any) -> str | None:
    """ccxt's exchange id for a rules folder: its own name, a ccxt id among its
    aliases (``binance-coinm``: ``binancecoinm``), else its venue's (a product line
    ccxt serves through the venue's class, as ``binance`` serves Portfolio Margin)."""
    names = [folder, *(getattr(spec, "aliases", None) or ()), getattr(spec, "product_of", None)]
    return next((n for n in names if n and hasattr(ccxt_module, n)), None)


def compare_with_ccxt(exchange: str, ccxt_module: Any = None) -> list[Comparison]:
    """For every catalog code of ``exchange``, our category and ccxt's class.

    Imports ccxt (an optional dependency) unless ``ccxt_module`` is given.
    ccxt's class is what the installed ccxt's own ``handle_errors`` raises
    for the documented code and message, so its order of exact (by code) and
    broad (by message) matching is ccxt's. A code ccxt raises plain
    ``ExchangeError`` for is ``generic`` when ccxt's tables name it and
    ``unmapped`` when they do not (ccxt's fallback for an unknown error).
    """
    from .._formats.registry import registry

    if ccxt_module is None:
        ccxt_module = importlib.import_module("ccxt")  # an optional dependency

    rs = registry().get(exchange)
    ccxt_id = _ccxt_id(ccxt_module, exchange, rs.spec)
    if ccxt_id is None:  # a venue ccxt has no class for
        return []
    client = getattr(ccxt_module, ccxt_id)()
    exact, broad = _exception_tables(client.exceptions)
    table = load_class_table()
    statuses = {e.code: e.http_status for e in rs.catalog.entries} if rs.catalog else {}
    out = []
    for v in code_verdicts(rs):
        cls = ccxt_class_for(client, v.code, v.message, statuses.get(v.code), rs.spec.response)
        by_code = exact.get(v.code, set()) | exact.get(v.message, set())
        by_message = {c for k, cs in broad.items() if k in v.message for c in cs}
        how = "code" if cls is not None and cls in by_code else "-"
        if how == "-" and cls is not None and cls in by_message:
            how = "message"
        if cls is None or how == "-":
            out.append(
                Comparison(
                    exchange,
                    v.code,
                    v.message,
                    v.label,
                    v.category,
                    cls.__name__ if cls is not None else None,
                    None,
                    "-",
                    "unmapped",
                )
            )
            continue
        names = ccxt_class_names(cls) or [cls.__name__]
        hit = table.lookup(names)
        if hit is None:  # ExchangeError and the like: ccxt says nothing specific
            out.append(
                Comparison(
                    exchange, v.code, v.message, v.label, v.category, names[0], None, how, "generic"
                )
            )
            continue
        theirs = hit[1].category
        verdict = "agree" if theirs.split(".", 1)[0] == v.category else "disagree"
        out.append(
            Comparison(
                exchange, v.code, v.message, v.label, v.category, names[0], theirs, how, verdict
            )
        )
    return out
