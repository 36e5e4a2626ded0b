"""Product lines (derivatives books) as rules folders of their own.

A venue's product (``rules/binance-usdm`` with ``product_of: binance``) is named by
ccxt's exchange id, by ccxt's market type, by the request URL's host or path, or by
``product=``; the result names the product folder. Real ccxt clients
(``binanceusdm``, ``binancecoinm``, ``krakenfutures``, ``mexc`` on swap) talk to a
local HTTP server on 127.0.0.1 that answers documented error bodies; nothing
reaches the internet.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from recorded_venue import point_at

import normalizer
from normalizer import Action, Category, NormalizerError, RuleFileError
from normalizer._formats import products
from normalizer._formats.registry import Registry, registry

RULES = Path(__file__).resolve().parents[1] / "rules"
PRODUCTS = {
    "binance-usdm": "binance",
    "binance-coinm": "binance",
    "binance-pm": "binance",
    "binance-options": "binance",
    "mexc-futures": "mexc",
    "kraken-futures": "kraken",
}


# --------------------------------------------------------------- the server


def _resolve(exchange: object, *args: object, **kwargs: object) -> object:
    """The folder answering for ``exchange`` in this process's registry."""
    return products.resolve(registry(), exchange, *args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def ccxt() -> Any:
    return pytest.importorskip("ccxt")


def _client(ccxt: Any, server: Any, exchange: str, **options: Any) -> Any:
    """A ccxt client whose every API base URL points at the local server (the
    path part of each is kept, so the request reaches the product's path)."""
    client = getattr(ccxt, exchange)(
        {"apiKey": "k", "secret": "czNjcmV0", "timeout": 5000, "options": options}
    )

    point_at(client, server.base)
    return client


def _raised(server: Any, answer: tuple[int, Any, dict[str, str]], call: Any, *args: Any) -> Any:
    server.answer = answer
    server.requests.clear()
    with pytest.raises(Exception) as info:  # noqa: PT011 - whatever ccxt raises is the subject
        call(*args)
    return info.value


# ------------------------------------------------ real ccxt clients, per product


def test_binanceusdm_margin_insufficient_through_ccxt(ccxt: Any, server: Any) -> None:
    client = _client(ccxt, server, "binanceusdm")
    body = {"code": -2019, "msg": "Margin is insufficient."}
    exc = _raised(server, (400, body, {}), client.fapiprivate_post_order, {"symbol": "BTCUSDT"})
    assert server.requests[-1][1].startswith("/fapi/v1/order")
    err = normalizer.normalize(client.id, error=exc, operation="place_order")
    assert (err.exchange, err.code, err.subcategory) == (
        "binance-usdm",
        "-2019",
        "INSUFFICIENT_FUNDS.MARGIN",
    )
    assert err.rule_id == "binance-usdm.margin-insufficient"
    assert normalizer.recommend(err).action is Action.HALT
    # the same error given to "binance" with the client names the product
    via_client = normalizer.normalize("binance", error=exc, client=client, operation="place_order")
    assert (via_client.exchange, via_client.rule_id) == (err.exchange, err.rule_id)


def test_binanceusdm_would_immediately_trigger_is_not_the_spot_meaning(
    ccxt: Any, server: Any
) -> None:
    client = _client(ccxt, server, "binanceusdm")
    body = {"code": -2021, "msg": "Order would immediately trigger."}
    exc = _raised(server, (400, body, {}), client.fapiprivate_post_order, {"symbol": "BTCUSDT"})
    err = normalizer.normalize("binanceusdm", error=exc, operation="place_order")
    assert err.subcategory == "INVALID_REQUEST.PRICE"
    assert normalizer.recommend(err).action is Action.HALT  # spot's -2021 would query and resend


def test_binanceusdm_rate_limit_honours_retry_after(ccxt: Any, server: Any) -> None:
    client = _client(ccxt, server, "binanceusdm")
    body = {"code": -1003, "msg": "Too many requests; current limit is 2400 requests per minute."}
    exc = _raised(
        server, (429, body, {"Retry-After": "7"}), client.fapiprivate_post_order, {"symbol": "X"}
    )
    err = normalizer.normalize("binanceusdm", error=exc, operation="place_order")
    assert (err.exchange, err.category) == ("binance-usdm", Category.RATE_LIMIT)
    assert err.retry_after_s == 7.0
    rec = normalizer.recommend(err)
    assert rec.action is Action.RETRY
    assert rec.delay_s >= 7.0


def test_binanceusdm_ip_ban_waits_until_the_ban_ends(ccxt: Any, server: Any) -> None:
    client = _client(ccxt, server, "binanceusdm")
    until = int((time.time() + 60) * 1000)
    msg = f"Way too many requests; IP banned until {until}. Please use the websocket."
    exc = _raised(server, (418, {"code": -1003, "msg": msg}, {}), client.fapipublic_get_time, {})
    err = normalizer.normalize("binanceusdm", error=exc, operation="query")
    assert err.subcategory == "RATE_LIMIT.BLOCKED"
    assert err.retry_after_s is not None
    assert 0 < err.retry_after_s <= 60
    assert normalizer.recommend(err).delay_s >= err.retry_after_s


def test_binanceusdm_server_overloaded_on_an_order_is_an_unknown_outcome(
    ccxt: Any, server: Any
) -> None:
    """-1008 answering a futures order: the order may have been placed (banbot#114)."""
    client = _client(ccxt, server, "binanceusdm")
    body = {
        "code": -1008,
        "msg": "Server is currently overloaded with other requests. "
        "Please try again in a few minutes.",
    }
    exc = _raised(server, (503, body, {}), client.fapiprivate_post_order, {"symbol": "DOGEUSDT"})
    err = normalizer.normalize("binanceusdm", error=exc, operation="place_order")
    assert err.category is Category.UNKNOWN_STATE
    assert normalizer.recommend(err).action is Action.QUERY_THEN_RETRY


def test_binancecoinm_code_whose_meaning_differs_between_products(ccxt: Any, server: Any) -> None:
    client = _client(ccxt, server, "binancecoinm")
    body = {"code": -4087, "msg": "Invalid pair."}
    exc = _raised(server, (400, body, {}), client.dapiprivate_post_order, {"symbol": "BTCUSD_PERP"})
    assert server.requests[-1][1].startswith("/dapi/v1/order")
    err = normalizer.normalize(client.id, error=exc, operation="place_order")
    assert (err.exchange, err.rule_id) == ("binance-coinm", "binance-coinm.invalid-pair")
    usdm = normalizer.normalize(
        "binanceusdm", code=-4087, message="User can only place reduce only order"
    )
    assert usdm.subcategory == "ACCOUNT_RESTRICTED.FUNCTION_DISABLED"


def test_krakenfutures_error_result_through_ccxt(ccxt: Any, server: Any) -> None:
    client = _client(ccxt, server, "krakenfutures")
    body = {"result": "error", "error": "apiLimitExceeded", "serverTime": "2024-01-01T00:00:00Z"}
    exc = _raised(server, (429, body, {"Retry-After": "5"}), client.private_post_sendorder, {})
    assert server.requests[-1][1].startswith("/derivatives/api/v3/sendorder")
    err = normalizer.normalize(client.id, error=exc, operation="place_order")
    assert (err.exchange, err.code, err.category) == (
        "kraken-futures",
        "apiLimitExceeded",
        Category.RATE_LIMIT,
    )
    rec = normalizer.recommend(err)
    assert rec.action is Action.RETRY
    assert rec.delay_s >= 5.0


def test_krakenfutures_send_status_failure_is_read_inside_a_success_result() -> None:
    body = json.dumps(
        {
            "result": "success",
            "sendStatus": {"status": "insufficientAvailableFunds", "order_id": "x"},
            "serverTime": "2024-01-01T00:00:00Z",
        }
    )
    err = normalizer.normalize("krakenfutures", body=body, operation="place_order")
    assert (err.exchange, err.subcategory) == ("kraken-futures", "INSUFFICIENT_FUNDS.MARGIN")
    placed = body.replace("insufficientAvailableFunds", "placed")
    assert not normalizer.normalize("krakenfutures", body=placed).is_error


def test_mexc_swap_contract_error_through_ccxt(ccxt: Any, server: Any) -> None:
    client = _client(ccxt, server, "mexc", defaultType="swap")
    body = {"success": False, "code": 1002, "message": "Contract not allow place order!"}
    exc = _raised(server, (200, body, {}), client.contract_private_post_order_submit, {})
    path = server.requests[-1][1]
    assert path.startswith("/api/v1/private/order/submit")
    err = normalizer.normalize("mexc", error=exc, client=client, operation="place_order")
    assert (err.exchange, err.code, err.subcategory) == (
        "mexc-futures",
        "1002",
        "UNAVAILABLE.MARKET",
    )
    by_url = normalizer.normalize(
        "mexc",
        url=f"https://contract.mexc.com{path}",
        body=json.dumps(body),
        operation="place_order",
    )
    assert by_url.rule_id == err.rule_id == "mexc-futures.contract-not-activated"


def test_mexc_swap_rate_limit_through_ccxt(ccxt: Any, server: Any) -> None:
    client = _client(ccxt, server, "mexc", defaultType="swap")
    body = {"success": False, "code": 510, "message": "Excessive frequency of requests"}
    exc = _raised(
        server, (429, body, {"Retry-After": "4"}), client.contract_private_post_order_submit, {}
    )
    err = normalizer.normalize("mexc", error=exc, client=client, operation="place_order")
    assert (err.exchange, err.category) == ("mexc-futures", Category.RATE_LIMIT)
    assert normalizer.recommend(err).delay_s >= 4.0


# ------------------------------------------------------------ naming a product


@pytest.mark.parametrize(
    ("exchange", "kwargs", "folder"),
    [
        ("binanceusdm", {}, "binance-usdm"),
        ("BinanceCoinM", {}, "binance-coinm"),
        ("krakenfutures", {}, "kraken-futures"),
        ("binance", {"product": "usdm"}, "binance-usdm"),
        ("binance", {"product": "future"}, "binance-usdm"),
        ("binance", {"product": "delivery"}, "binance-coinm"),
        ("binance", {"product": "option"}, "binance-options"),
        ("binance", {"product": "pm"}, "binance-pm"),
        ("binance", {"product": "spot"}, "binance"),
        ("binanceusdm", {"product": "spot"}, "binance"),
        ("mexc", {"product": "swap"}, "mexc-futures"),
        ("kraken", {"product": "futures"}, "kraken-futures"),
        ("binance", {"url": "https://fapi.binance.com/fapi/v1/order"}, "binance-usdm"),
        ("binance", {"url": "https://testnet.binancefuture.com/dapi/v1/order"}, "binance-coinm"),
        ("binance", {"url": "https://papi.binance.com/papi/v1/um/order"}, "binance-pm"),
        ("binance", {"url": "https://eapi.binance.com/eapi/v1/order"}, "binance-options"),
        ("binance", {"url": "https://api.binance.com/api/v3/order"}, "binance"),
        ("binance", {"url": "not a url at all"}, "binance"),
        (
            "kraken",
            {"url": "https://futures.kraken.com/derivatives/api/v3/sendorder"},
            "kraken-futures",
        ),
        ("kraken", {"url": "https://api.kraken.com/0/private/AddOrder"}, "kraken"),
        ("mexc", {"url": "https://contract.mexc.com/api/v1/private/order/submit"}, "mexc-futures"),
        ("mexc", {"url": "https://api.mexc.com/api/v1/contract/detail"}, "mexc-futures"),
        ("mexc", {"url": "https://api.mexc.com/api/v3/order"}, "mexc"),
        # an explicit product wins over the URL
        (
            "binance",
            {"product": "coinm", "url": "https://fapi.binance.com/fapi/v1/order"},
            "binance-coinm",
        ),
    ],
)
def test_a_product_is_named_by_ccxt_id_argument_or_url(
    exchange: str, kwargs: dict[str, str], folder: str
) -> None:
    assert _resolve(exchange, kwargs.get("product"), kwargs.get("url")) == folder
    err = normalizer.normalize(exchange, code="-2019", message="x", **kwargs)  # type: ignore[arg-type]
    assert err.exchange == folder


def test_a_ccxt_client_names_its_product_by_id_or_default_type(ccxt: Any) -> None:
    assert (
        _resolve("binance", client=ccxt.binance({"options": {"defaultType": "future"}}))
        == "binance-usdm"
    )
    inverse = ccxt.binance({"options": {"defaultType": "swap", "defaultSubType": "inverse"}})
    assert _resolve("binance", client=inverse) == "binance-coinm"
    assert (
        _resolve("binance", client=ccxt.binance({"options": {"defaultType": "margin"}}))
        == "binance"
    )
    assert _resolve("binance", client=ccxt.binance()) == "binance"
    assert _resolve("binance", client=ccxt.binancecoinm()) == "binance-coinm"
    assert _resolve("kraken", client=ccxt.krakenfutures()) == "kraken-futures"
    assert (
        _resolve("mexc", client=ccxt.mexc({"options": {"defaultType": "swap"}})) == "mexc-futures"
    )
    assert _resolve("okx", client=ccxt.okx()) == "okx"  # a venue without products


def test_a_broken_client_object_names_no_product() -> None:
    class Broken:
        @property
        def id(self) -> str:
            raise RuntimeError("boom")

    assert _resolve("binance", client=Broken()) == "binance"
    assert _resolve("binance", client=object()) == "binance"


def test_an_unknown_product_is_a_caller_mistake() -> None:
    with pytest.raises(NormalizerError, match="unknown product 'perp' of 'binance'"):
        normalizer.normalize("binance", product="perp", code="-2019")
    with pytest.raises(NormalizerError, match="product must be"):
        normalizer.normalize("binance", product=5, code="-2019")  # type: ignore[arg-type]
    with pytest.raises(NormalizerError, match="url must be"):
        normalizer.normalize("binance", url=b"https://fapi.binance.com/", code="-2019")  # type: ignore[arg-type]
    with pytest.raises(NormalizerError, match="unknown exchange"):
        normalizer.normalize("binanceusdmx", code="-2019")


def test_the_result_names_the_product_whose_rule_decided() -> None:
    err = normalizer.normalize("binance", url="https://fapi.binance.com/fapi/v1/order", code=-2019)
    assert err.exchange == "binance-usdm"
    assert err.rule_id is not None
    assert err.rule_id.startswith("binance-usdm.")


# ------------------------------------------------- a venue without a hint


def test_a_futures_only_code_on_the_venue_is_decided_by_a_product_rule() -> None:
    err = normalizer.normalize("binance", code=-2019, message="Margin is insufficient.")
    assert err.exchange == "binance"
    assert err.subcategory == "INSUFFICIENT_FUNDS.MARGIN"
    assert err.rule_id is not None
    assert err.rule_id.split(".")[0] in {p for p, v in PRODUCTS.items() if v == "binance"}


@pytest.mark.parametrize(
    ("code", "message", "operation", "subcategory"),
    [
        (-2021, "Order would immediately trigger.", "place_order", "INVALID_REQUEST.PRICE"),
        (
            -2021,
            "Order cancel-replace partially failed",
            "amend_order",
            "UNKNOWN_STATE.SERVER_ERROR",
        ),
        (-2021, None, "place_order", "UNKNOWN_STATE.SERVER_ERROR"),  # the safe reading
        (-2022, "ReduceOnly Order is rejected.", "place_order", "INVALID_REQUEST.ORDER_TYPE"),
        (
            -2026,
            "Order was canceled or expired with no executed qty over 90 days ago and has been "
            "archived.",
            "query",
            "NOT_FOUND.ORDER",
        ),
        (-2026, None, "place_order", "INVALID_REQUEST.ORDER_TYPE"),
        (
            -1008,
            "Server is currently overloaded with other requests. Please try again in a few "
            "minutes.",
            "place_order",
            "UNKNOWN_STATE.SERVER_ERROR",
        ),
        (-1008, "Too many requests queued.", "place_order", "RATE_LIMIT.REQUESTS"),
        (-4087, "Invalid pair.", "query", "INVALID_REQUEST.SYMBOL"),
        (-4087, None, "place_order", "ACCOUNT_RESTRICTED.FUNCTION_DISABLED"),
        (-5041, "No depth matches this BBO order", "place_order", "UNAVAILABLE.LIQUIDITY"),
        (-5041, None, "place_order", "RATE_LIMIT.REQUESTS"),
    ],
)
def test_a_code_whose_meaning_differs_is_decided_by_its_message_else_safely(
    code: int, message: str | None, operation: str, subcategory: str
) -> None:
    err = normalizer.normalize("binance", code=code, message=message, operation=operation)
    assert err.subcategory == subcategory
    assert err.rule_id is not None
    assert err.rule_id.startswith("binance.")  # the venue's own rule, not a product's by order


def _bare_code_labels(name: str) -> dict[str, str]:
    data = yaml.safe_load((RULES / name / "rules.yaml").read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for rule in data["rules"]:
        when = rule["when"]
        if set(when) != {"code"}:
            continue
        codes = when["code"] if isinstance(when["code"], list) else [when["code"]]
        for c in codes:
            out[str(c)] = rule["category"]
    return out


@pytest.mark.parametrize("venue", sorted(set(PRODUCTS.values())))
def test_no_meaning_is_left_to_the_order_in_which_products_lend(venue: str) -> None:
    """Invariant: a code two products of a venue map to different categories is
    known by the venue itself (its catalog or rules), so which product lends its
    rule first never decides what that code means without a hint."""
    rs = registry().get(venue)
    own_codes = {c for r in rs.rules if r.exchange == venue and r.codes for c in r.codes}
    known = set(rs.documented_codes) | own_codes
    labels: dict[str, set[str]] = {}
    for name in (p for p, v in PRODUCTS.items() if v == venue):
        for code, label in _bare_code_labels(name).items():
            labels.setdefault(code, set()).add(label)
    differing = {c for c, ls in labels.items() if len(ls) > 1}
    assert differing <= known, sorted(differing - known)


# ------------------------------------------------------------ the data


def test_every_product_folder_is_a_product_of_a_bundled_venue() -> None:
    names = registry().names
    for name, venue in PRODUCTS.items():
        spec = registry().get(name).spec
        assert spec.product_of == venue
        assert venue in names
        assert (RULES / name / "catalog.yaml").is_file()
        assert (RULES / name / "tests.yaml").is_file()


def test_aliases_hosts_and_paths_name_one_product_each() -> None:
    seen: dict[str, str] = {}
    for name in PRODUCTS:
        spec = registry().get(name).spec
        for key in (
            *spec.aliases,
            *(f"host:{h}" for h in spec.hosts),
            *(f"path:{spec.product_of}{p}" for p in spec.paths),
        ):
            assert key not in seen, f"{key} names {seen.get(key)} and {name}"
            seen[key] = name
        for alias in spec.aliases:
            assert alias not in registry().names  # an alias never hides a folder


def test_product_fields_without_product_of_are_refused(tmp_path: Path) -> None:
    venue = tmp_path / "acme"
    venue.mkdir()
    (venue / "exchange.yaml").write_text(
        "name: acme\ndisplay_name: Acme\ndocs_url: https://acme.example/docs\n"
        "aliases: [acmefutures]\nresponse:\n  code_fields: [code]\n",
        encoding="utf-8",
    )
    (venue / "rules.yaml").write_text(
        "exchange: acme\nsource_url: https://acme.example/docs\nrules: []\n", encoding="utf-8"
    )
    with pytest.raises(RuleFileError, match="product_of"):
        Registry(tmp_path).load_all()


def test_a_product_folder_must_be_named_after_its_venue(tmp_path: Path) -> None:
    venue = tmp_path / "acme-perp"
    venue.mkdir()
    (venue / "exchange.yaml").write_text(
        "name: acme-perp\ndisplay_name: Acme\ndocs_url: https://acme.example/docs\n"
        "product_of: other\nresponse:\n  code_fields: [code]\n",
        encoding="utf-8",
    )
    (venue / "rules.yaml").write_text(
        "exchange: acme-perp\nsource_url: https://acme.example/docs\nrules: []\n", encoding="utf-8"
    )
    with pytest.raises(RuleFileError, match="venue"):
        Registry(tmp_path).load_all()


def test_a_users_rules_folder_gets_products_too(tmp_path: Path) -> None:
    """A product folder in a user's own rules is found by its alias and lends its
    rules to its venue, as a bundled one does."""
    for name, text in {
        "acme": "name: acme\ndisplay_name: Acme\ndocs_url: https://acme.example/docs\n"
        "response:\n  code_fields: [code]\n  message_fields: [msg]\n",
        "acme-perp": "name: acme-perp\ndisplay_name: Acme Perp\ndocs_url: https://acme.example/p\n"
        "product_of: acme\naliases: [acmeperp]\nhosts: [perp.acme.example]\n"
        "response:\n  code_fields: [code]\n  message_fields: [msg]\n",
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "exchange.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "acme" / "rules.yaml").write_text(
        "exchange: acme\nsource_url: https://acme.example/docs\nrules: []\n", encoding="utf-8"
    )
    (tmp_path / "acme-perp" / "rules.yaml").write_text(
        "exchange: acme-perp\nsource_url: https://acme.example/p\nrules:\n"
        "  - id: acme-perp.margin\n    category: INSUFFICIENT_FUNDS.MARGIN\n"
        '    why: Code 77 says the margin is insufficient.\n    when: {code: "77"}\n',
        encoding="utf-8",
    )
    reg = Registry(tmp_path)
    assert reg.get("acmeperp").name == "acme-perp"
    lent = reg.get("acme")
    assert lent.by_id["acme-perp.margin"].exchange == "acme-perp"
    assert products.alias(reg, "acmeperp") == "acme-perp"
    assert products.alias(reg, "acme") is None


# ---------------------------------------------------------- async ccxt clients


def _async_raised(server: Any, answer: tuple[int, Any, dict[str, str]], make: Any) -> Any:
    """Run one call of an async ccxt client against the local server; return
    (the exception it raised, the client) after closing the client."""
    import asyncio

    server.answer = answer

    async def run() -> tuple[BaseException, Any]:
        client, call = make()
        try:
            await call()
        except Exception as exc:  # whatever ccxt raises is the subject
            return exc, client
        finally:
            await client.close()
        raise AssertionError("the call did not fail")

    return asyncio.run(run())


def _async_client(server: Any, exchange: str, **options: Any) -> Any:
    ccxt_async = pytest.importorskip("ccxt.async_support")
    client = getattr(ccxt_async, exchange)(
        {"apiKey": "k", "secret": "czNjcmV0", "timeout": 5000, "options": options}
    )

    point_at(client, server.base)
    return client


def test_async_binanceusdm_rate_limit_keeps_the_venues_wait(server: Any) -> None:
    """Async ccxt keeps no response on its exceptions: the client passed along
    gives the headers (Retry-After) and names the product."""
    body = {"code": -1003, "msg": "Too many requests; current limit is 2400 requests per minute."}

    def make() -> tuple[Any, Any]:
        client = _async_client(server, "binanceusdm")
        return client, lambda: client.fapiprivate_post_order({"symbol": "BTCUSDT"})

    exc, client = _async_raised(server, (429, body, {"Retry-After": "7"}), make)
    err = normalizer.normalize("binance", error=exc, client=client, operation="place_order")
    assert (err.exchange, err.code, err.category) == ("binance-usdm", "-1003", Category.RATE_LIMIT)
    assert err.retry_after_s == 7.0
    assert normalizer.recommend(err).delay_s >= 7.0


def test_async_krakenfutures_and_mexc_swap_name_their_product(server: Any) -> None:
    kraken_body = {
        "result": "error",
        "error": "marketUnavailable",
        "serverTime": "2024-01-01T00:00:00Z",
    }

    def kraken() -> tuple[Any, Any]:
        client = _async_client(server, "krakenfutures")
        return client, lambda: client.private_post_sendorder({})

    exc, client = _async_raised(server, (400, kraken_body, {}), kraken)
    err = normalizer.normalize(client.id, error=exc, client=client, operation="place_order")
    assert (err.exchange, err.code, err.subcategory) == (
        "kraken-futures",
        "marketUnavailable",
        "UNAVAILABLE.MARKET",
    )
    mexc_body = {"success": False, "code": 2005, "message": "Balance insufficient"}

    def mexc() -> tuple[Any, Any]:
        client = _async_client(server, "mexc", defaultType="swap")
        return client, lambda: client.contract_private_post_order_submit({})

    exc, client = _async_raised(server, (200, mexc_body, {}), mexc)
    err = normalizer.normalize("mexc", error=exc, client=client, operation="place_order")
    assert (err.exchange, err.code, err.subcategory) == (
        "mexc-futures",
        "2005",
        "INSUFFICIENT_FUNDS.BALANCE",
    )


@pytest.mark.parametrize(
    ("venue", "kwargs", "rule_id"),
    [
        (
            "mexc",
            {"code": 2005, "message": "Balance insufficient"},
            "mexc-futures.balance-insufficient",
        ),
        (
            "kraken",
            {"body": '{"result":"error","error":"apiLimitExceeded"}'},
            "kraken-futures.api-limit",
        ),
        ("kraken", {"code": "EOrder:Insufficient funds"}, "kraken.insufficient-funds"),
    ],
)
def test_a_venue_without_a_hint_is_lent_its_products_rules(
    venue: str, kwargs: dict[str, Any], rule_id: str
) -> None:
    err = normalizer.normalize(venue, operation="place_order", **kwargs)
    assert (err.exchange, err.rule_id) == (venue, rule_id)


def test_a_hint_for_a_venue_without_rules_leaves_the_choice_to_normalize(ccxt: Any) -> None:
    """A client, product or URL given with a name no folder answers changes nothing:
    normalize refuses the name, or the generic profile answers when asked to."""
    client = ccxt.deribit({"options": {"defaultType": "future"}})
    assert _resolve("deribit", client=client) == "deribit"
    assert _resolve("deribit", product="future", url="https://x.example/y") == "deribit"
    err = normalizer.normalize(
        "deribit", client=client, message="Order not found", unknown_exchange="generic"
    )
    assert err.exchange == "deribit"
    assert err.rule_id is not None
    assert err.rule_id.startswith("generic.")
    with pytest.raises(NormalizerError, match="unknown exchange"):
        normalizer.normalize("deribit", client=client, code="1")
