"""Product lines: a venue's derivatives books, each a rules folder of its own.

A product's folder is named ``<venue>-<product>`` (``rules/binance-usdm``) and
its ``exchange.yaml`` says ``product_of: <venue>`` and how a caller may name it,
as data: ``aliases`` (names standing alone, ccxt's exchange ids such as
``binanceusdm``), ``market_types`` (ccxt's ``options.defaultType`` or market
type, such as ``future``, under the venue), ``hosts`` and ``paths`` (of the
request URL, such as ``fapi.binance.com`` or ``/fapi/``).

Three things are answered here:

- ``alias(registry, name)``: the product folder a name standing alone means
  (``Registry.get`` asks it before refusing a name);
- ``resolve(registry, exchange, product, url)``: the folder that answers for a venue given
  the caller's hint (``normalize(..., product=, url=)``): an explicit product
  first, then the URL's path, then its host; no hint keeps the name given;
- ``with_products(registry, name, rule_set)``: the venue's rule set, given the
  rules its products have for codes the venue itself does not document (with no
  hint, ``-2019 "Margin is insufficient."`` on ``binance`` is the futures
  meaning, decided by ``binance-usdm``'s rule, whose id says so). A code the
  venue documents stays the venue's: where a product gives it another meaning,
  the venue's own rules tell them apart by message or keep the safe reading.
  Products are asked in the order of their names: the first that has a code
  lends its rules for it (a test holds that products disagreeing on a code
  the venue does not decide never leave that choice to the order).

The registry imports this module (its one import is the error classes); the
product table is read from the product folders' specs the first time a venue
with products loads, a name is not a folder, or a hint is given, and kept in
the registry's ``products``.
"""

from __future__ import annotations

from .._core.errors import ArgumentTypeError, ArgumentValueError

TYPE_CHECKING = False  # typing is not imported at start-up (registry imports this)
if TYPE_CHECKING:
    from typing import Any, Protocol

    from .._core.table import Rule, RuleSet

    class Registry(Protocol):
        """What this module reads of ``registry.Registry`` (which imports this module)."""

        names: tuple[str, ...]
        products: Any  # the product table this module keeps in it (None until made)

        def get(self, name: object) -> RuleSet: ...
        def spec_of(self, name: str) -> Any: ...


__all__ = ["Product", "alias", "products_of", "resolve", "with_products"]

#: what a ``product=`` argument may say to mean the venue itself
_THE_VENUE = ("", "spot", "main")
#: URLs are cut to this many characters before they are parsed
_MAX_URL = 2048


class Product:
    """One product folder and the names that select it."""

    __slots__ = ("aliases", "hosts", "market_types", "name", "paths", "venue")

    def __init__(self, name: str, venue: str, spec: Any) -> None:
        self.name = name  # the folder: binance-usdm
        self.venue = venue  # product_of: binance
        self.aliases: tuple[str, ...] = tuple(a.lower() for a in spec.aliases)
        self.market_types: tuple[str, ...] = tuple(m.lower() for m in spec.market_types)
        self.hosts: tuple[str, ...] = tuple(h.lower() for h in spec.hosts)
        self.paths: tuple[str, ...] = tuple(p.lower() for p in spec.paths)

    def __repr__(self) -> str:
        return f"Product({self.name!r})"

    @property
    def short(self) -> str:
        """The folder name after ``<venue>-`` (``usdm``)."""
        return self.name[len(self.venue) + 1 :]

    def names(self) -> tuple[str, ...]:
        """What ``product=`` may say for it: its short name, aliases, market types."""
        return (self.short, self.name, *self.aliases, *self.market_types)


class _Table:
    __slots__ = ("by_alias", "by_venue")

    def __init__(
        self, by_alias: dict[str, Product], by_venue: dict[str, tuple[Product, ...]]
    ) -> None:
        self.by_alias = by_alias
        self.by_venue = by_venue


def _product_of(reg: Registry, name: str) -> Product | None:
    """The product ``name`` is, read from its spec alone (the bundled compiled file's plain
    data when the folder is in the root, so no product's rules are built for it)."""
    spec = reg.spec_of(name)
    venue = getattr(spec, "product_of", None)
    if venue is None:
        return None
    return Product(name, venue, spec)


def _table(reg: Registry) -> _Table:
    table: _Table | None = reg.products
    if table is None:
        found = [p for n in reg.names if "-" in n for p in (_product_of(reg, n),) if p]
        by_alias: dict[str, Product] = {}
        by_venue: dict[str, list[Product]] = {}
        for p in found:
            for a in p.aliases:
                by_alias.setdefault(a, p)
            by_venue.setdefault(p.venue, []).append(p)
        table = _Table(by_alias, {v: tuple(ps) for v, ps in by_venue.items()})
        reg.products = table
    return table


def products_of(reg: Registry, venue: str) -> tuple[Product, ...]:
    """The products of ``venue`` in ``reg``, in the order of their names."""
    if not any(n.startswith(venue + "-") for n in reg.names):
        return ()
    return _table(reg).by_venue.get(venue, ())


def alias(reg: Registry, name: str) -> str | None:
    """The product folder ``name`` stands for (a ccxt id such as ``binanceusdm``), or None."""
    if not any("-" in n for n in reg.names):
        return None
    p = _table(reg).by_alias.get(name)
    return p.name if p is not None else None


def _venue_and_base(reg: Registry, exchange: str) -> tuple[str, str]:
    """The venue a name belongs to, and the folder it names without a hint."""
    key = exchange.lower()
    if key in reg.names:
        rs = reg.get(key)
        return getattr(rs.spec, "product_of", None) or key, key
    folder = alias(reg, key)
    if folder is None:
        reg.get(exchange)  # raises UnknownExchangeError naming the known ones
        raise AssertionError("unreachable")  # pragma: no cover
    return getattr(reg.get(folder).spec, "product_of", None) or folder, folder


def _by_product(venue: str, choices: tuple[Product, ...], product: object) -> str:
    if not isinstance(product, str):
        raise ArgumentTypeError("product", "a product name or None", product)
    wanted = product.strip().lower()
    if wanted in _THE_VENUE or wanted == venue:
        return venue
    for p in choices:
        if wanted in p.names():
            return p.name
    known = ["spot", *(p.short for p in choices)]
    raise ArgumentValueError(
        "product",
        f"unknown product {product!r} of {venue!r}; choose one of {known} "
        "(or a ccxt id or market type they list)",
        product,
        whole=True,
    )


def _by_url(choices: tuple[Product, ...], url: object) -> str | None:
    if not isinstance(url, str):
        raise ArgumentTypeError("url", "a URL string or None", url)
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url[:_MAX_URL].strip())
        host = (parts.hostname or "").lower()
    except ValueError:  # a malformed URL names no product
        return None
    path = parts.path.lower() if parts.path else "/"
    for p in choices:  # the path first: one host may serve several books (a testnet)
        if any(path.startswith(prefix) for prefix in p.paths):
            return p.name
    for p in choices:
        if host and any(host == h or host.endswith("." + h) for h in p.hosts):
            return p.name
    return None


def _client_product(reg: Registry, client: object) -> str | None:
    """What a ccxt exchange object says of its product: its id (``binanceusdm``),
    else ``options["portfolioMargin"]``, ``options["defaultSubType"]``
    (``inverse``) or ``options["defaultType"]`` (``future``, ``delivery``, ``swap``)."""
    try:
        cid = getattr(client, "id", None)
        options = getattr(client, "options", None)
        if not isinstance(options, dict):
            options = {}
        if options.get("portfolioMargin") is True:
            return "pm"
        kind = options.get("defaultType")
        if kind in ("future", "swap") and options.get("defaultSubType") == "inverse":
            kind = "inverse"
    except Exception:  # a broken object names no product
        return None
    named = isinstance(cid, str) and cid.isascii() and len(cid) <= 64 and "-" not in cid
    if named and alias(reg, str(cid).lower()) is not None:
        return str(cid).lower()
    return kind if isinstance(kind, str) and len(kind) <= 64 else None


def resolve(
    reg: Registry,
    exchange: object,
    product: object = None,
    url: object = None,
    client: object = None,
) -> object:
    """The rules folder answering for ``exchange`` given the caller's ``product``
    (a product's short name, its ccxt id or ccxt market type; ``"spot"`` for the
    venue itself), the request's ``url`` (its path, then its host) or a ccxt
    ``client`` (its id, then its default market type). An explicit product wins,
    then the URL, then the client; a hint naming no product keeps the name given.
    A name that is not a string, or that no folder answers, is returned as is
    (``normalize`` refuses it, or asks the generic profile when told to). ``reg``
    is the registry in use (this module never imports the registry, which imports it)."""
    if not isinstance(exchange, str):
        return exchange
    key = exchange.lower()
    if key not in reg.names and alias(reg, key) is None:
        return exchange  # no folder of ours: normalize refuses it or asks the generic profile
    if client is not None and product is None and url is None:
        if not any("-" in n for n in reg.names):
            return exchange
        product = _client_product(reg, client)
        if product is None:
            return exchange
        venue, base = _venue_and_base(reg, exchange)
        choices = products_of(reg, venue)
        try:
            return _by_product(venue, choices, product)
        except ArgumentValueError:  # a market type with no product of its own (margin)
            return base
    venue, base = _venue_and_base(reg, exchange)
    choices = products_of(reg, venue)
    if product is not None:
        return _by_product(venue, choices, product)
    if url is not None:
        found = _by_url(choices, url)
        if found is not None:
            return found
    return base


def with_products(reg: Registry, name: str, rs: RuleSet) -> RuleSet:
    """``rs`` (the venue ``name``'s rules), given its products' rules for codes
    the venue does not know. Unchanged when the venue has no products."""
    choices = products_of(reg, name)
    if not choices:
        return rs
    from .._core.table import RuleSet

    known = set(rs.known_codes)
    borrowed: list[Rule] = []
    for p in choices:
        taken: set[str] = set()
        for rule in reg.get(p.name).rules:
            if rule.exchange == "*" or rule.codes is None:
                continue  # the common rules are the venue's already; code-less rules are not lent
            if known.isdisjoint(rule.codes):
                borrowed.append(rule)
                taken.update(rule.codes)
        known |= taken
    if not borrowed:
        return rs
    own = [r for r in rs.rules if r.exchange != "*"]
    common = [r for r in rs.rules if r.exchange == "*"]
    return RuleSet(rs.spec, rs.catalog, [*own, *borrowed], common, check=False)
