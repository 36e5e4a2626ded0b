"""The one registry: the bundled data, compiled to plain data and kept compiled.

Validating the YAML files needs PyYAML and pydantic, which cost more to
import than everything else ``normalize()`` does at start-up. So the bundled

ontology, rules, catalogs, ccxt class table and default policy are compiled
once into one ``marshal`` file of plain data (``normalizer/_compiled.marshal``)
and later runs load that, without importing either.

The file records two fingerprints of its sources: each file's name, size and
modification time (checked at start-up, without reading the files), and each
file's name, size and CRC-32 (checked only when the first differs), both with
the compiler's version. When any source's content differs, the data is
compiled afresh from the YAML (with every check), and the file is rewritten
when the folder is writable. A wheel carries the file, built by the build hook
(``normalizer/_build/wheel_hook.py``); a source checkout or an editable install builds it on
first use and whenever a source file changes.

A ``Registry`` on another folder (lint, tests, a user's own rules) compiles
that folder directly and keeps nothing on disk.
"""

from __future__ import annotations

import _thread  # not threading: its import costs a millisecond at start-up
import marshal
import os
from collections.abc import Callable, Sequence

from .._core.arguments import path_of
from .._core.errors import NormalizerError, Problem, RuleFileError, UnknownExchangeError
from .._core.policy import Policy
from .._core.resources import data_dir, data_path
from .._core.table import CompiledCatalog, Frozen, Rule, RuleSet
from .._core.vocabulary import Outcome
from . import products as _products
from .compiled import COMMON, ONTOLOGY, fingerprint, stamp, state, write_compiled

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from pathlib import Path  # not imported at start-up: the bundled folder is a string
    from typing import Any

    from .overrides import Override

__all__ = [
    "COMMON",
    "GENERIC",
    "ONTOLOGY",
    "Registry",
    "bundled",
    "changed",
    "current_registry",
    "default_policy",
    "exchanges",
    "load_rules",
    "on_change",
    "overrides",
    "registry",
    "reset_rules",
    "restore_registry",
    "rule_origin",
]

_lock = _thread.RLock()


def _compiled() -> dict[str, Any]:
    """The bundled data compiled: from the compiled file, else compiled now and stored."""
    data = state["data"]
    if data is None:
        with _lock:
            data = state["data"]
            if data is None:
                from .compile import compile_bundled

                fp = fingerprint()  # before compiling: see stamp()
                data = stamp(compile_bundled(), fp, state["stats"])
                write_compiled(data)
                state["data"] = data
    return data  # type: ignore[no-any-return]


def rule_set_from_plain(
    data: dict[str, Any], common: list[Rule], entries: Callable[[], bytes] | None = None
) -> RuleSet:
    """A rule set from plain data (``entries``: what reads its catalog's entries when
    the compiled file keeps them apart)."""
    catalog = CompiledCatalog.from_plain(data["catalog"], entries) if data["catalog"] else None
    own = [Rule.from_plain(r) for r in data["rules"]]
    return RuleSet(Frozen(data["spec"]), catalog, own, common, check=False)


#: The folder of the generic profile (``normalizer._engine.generic``): a rule
#: folder like a venue's, but not a venue.
GENERIC = "generic"


def _folders(root: str | os.PathLike[str], marker: str) -> list[str]:
    return [
        n for n in os.listdir(root) if n != COMMON and os.path.isfile(os.path.join(root, n, marker))
    ]


class Registry:
    """The rule sets of every exchange found under a rules folder, and of the
    user's rule folders laid over it (``overlays``, later ones stronger).

    The bundled folder (``root=None``) is read from the compiled rules file; any
    other folder is compiled from its YAML (and checked) on first use. Each
    exchange is loaded once, under a lock.

    An overlay's venues are added; for a venue both have, the overlay's
    ``exchange.yaml`` and ``catalog.yaml`` replace the bundled ones when
    given, and its rules outrank the bundled rules (a rule with a bundled
    rule's id replaces it).
    """

    def __init__(self, root: Path | None = None, overlays: Sequence[Path] = ()) -> None:
        self.bundled = root is None
        self._root: Path | None = None
        if root is not None or overlays:
            from pathlib import Path

            self._root = Path(root) if root is not None else None
            self.overlays: tuple[Path, ...] = tuple(Path(o) for o in overlays)
        else:
            self.overlays = ()
        #: the root folder as a string (the bundled one's ``Path`` is made when asked for)
        self._root_str = data_path("rules") if root is None else os.fspath(root)
        self._sets: dict[str, RuleSet] = {}
        self._common: list[Rule] | None = None
        self._common_declared: dict[str, str] = {}
        self._common_origins: dict[str, str] = {}
        self._declared: dict[str, dict[str, str]] = {}
        self._origins: dict[str, dict[str, str]] = {}
        self._unknown_codes: dict[str, frozenset[str]] = {}
        self._overrides: list[Override] = []
        self._dedupe: dict[str, bool] = {}
        self.after_send: frozenset[str] = frozenset()
        #: this registry's product table, made by ``products.py`` when first needed
        self.products: Any = None
        found = set(_folders(self._root_str, "exchange.yaml"))
        for overlay in self.overlays:
            found |= set(_folders(overlay, "exchange.yaml"))
        #: Overlay folders with rules but no exchange.yaml, for a venue nobody knows.
        self.orphans: tuple[Path, ...] = tuple(
            overlay / n
            for overlay in self.overlays
            for n in sorted(_folders(overlay, "rules.yaml"))
            if n not in found
        )
        self.names: tuple[str, ...] = tuple(sorted(found))

    @property
    def root(self) -> Path:
        """The rules folder (the bundled one unless given)."""
        if self._root is None:
            self._root = data_dir("rules")
        return self._root

    @root.setter
    def root(self, value: Path) -> None:
        self._root = value
        self._root_str = os.fspath(value)

    def get(self, name: object) -> RuleSet:
        rs = self._sets.get(name) if isinstance(name, str) else None
        if rs is not None:
            return rs
        from .._core.arguments import exchange_key  # the one folding of venue names

        key = exchange_key(name) if isinstance(name, str) else name
        if key not in self.names:  # a product's alias (binanceusdm) names its folder
            key = _products.alias(self, key) if isinstance(key, str) else None
            if key is None:
                raise UnknownExchangeError(name, [n for n in self.names if n != GENERIC])
        assert isinstance(key, str)
        with _lock:
            rs = self._sets.get(key)
            if rs is None:  # a venue with products is lent their rules (products.py)
                rs = _products.with_products(self, key, self._load(key))
                self._sets[key] = rs
            if isinstance(name, str):
                self._sets[name] = rs
        return rs

    def spec_of(self, name: str) -> Any:
        """The ``exchange.yaml`` spec of folder ``name``, without building its rules
        when the bundled compiled file already holds it as plain data (the product table
        reads every folder's spec)."""
        loaded = self._sets.get(name)
        if loaded is None and not self.overlays:
            plain = self._base(name)
            if plain is not None:
                return Frozen(plain["spec"])
        return (loaded if loaded is not None else self.get(name)).spec

    def load_all(self) -> list[RuleSet]:
        """Load every exchange now (and so refuse any bad file now)."""
        return [self.get(n) for n in self.names]

    def common_rules(self) -> list[Rule]:
        if self._common is None:
            if self.bundled:
                data = _compiled()
                common = [Rule.from_plain(r) for r in data["common"]]
                self._common_declared.update(data.get("common_declared") or {})
            else:
                from .compile import compile_common, declared

                meta: dict[str, Any] = {}
                common = compile_common(self.root, meta)
                self._common_declared.update(declared(meta))
            #: what the root folder's common rules say of transport failures
            self.after_send = frozenset(
                kind
                for rule in common
                if rule.outcome is Outcome.UNKNOWN
                for kind in rule.when.transport or ()
            )
            if self.overlays:
                from .._core.precedence import with_layer
                from .compile import compile_common, declared
                from .overrides import check_layer

                for overlay in self.overlays:
                    meta = {}
                    mine = compile_common(overlay, meta)
                    self._overrides += check_layer("*", mine, meta, common)
                    self._common_declared.update(declared(meta))
                    ids = {r.id for r in mine}
                    common = [r for r in common if r.id not in ids] + mine
                    for rule in mine:
                        self._common_origins[rule.id] = str(overlay)
                for rule in common:  # below every venue's own rule, whatever its layer
                    with_layer(rule, 0)
            self._common = common
        return self._common

    def _base(self, name: str) -> dict[str, Any] | None:
        """The plain data of ``name`` in the root folder, or None."""
        if not os.path.isfile(os.path.join(self._root_str, name, "exchange.yaml")):
            return None
        if self.bundled:
            plain = _compiled()["exchanges"].get(name)
            if isinstance(plain, bytes):  # the compiled file keeps each exchange as its own blob
                plain = marshal.loads(plain)  # noqa: S302 - our own compiled file (see compiled.py)
            if plain is not None:
                return plain  # type: ignore[no-any-return]
            # the compiled file was replaced by one of other sources since it was read:
            # from the YAML
        from .compile import compile_exchange

        return compile_exchange(self.root, name, self.common_rules())

    def _catalog_entries(self, name: str) -> bytes:
        """The packed entries of ``name``'s bundled catalog, kept apart in the compiled
        file; compiled from the YAML when that file changed since it was read."""
        tables = _compiled()
        catalogs = tables.get("catalogs")
        packed = catalogs.get(name) if catalogs is not None else None
        if packed is None:
            from .compile import compile_exchange

            plain = compile_exchange(self.root, name, self.common_rules())
            packed = marshal.dumps(plain["catalog"][3])
        return packed

    def _load(self, name: str) -> RuleSet:
        base = self._base(name)
        common = self.common_rules()
        if base is not None:
            self._declared[name] = dict(base.get("declared") or {})
            self._unknown_codes[name] = unknown_codes(base["rules"])
        if not self.overlays:
            assert base is not None
            return rule_set_from_plain(base, common, lambda: self._catalog_entries(name))
        from .._core.precedence import with_layer
        from .compile import compile_layer, declared
        from .overrides import check_layer

        spec: dict[str, Any] | None = None
        catalog: CompiledCatalog | None = None
        by_id: dict[str, Rule] = {}
        origins: dict[str, str] = {}
        if base is not None:
            spec = base["spec"]
            catalog = (
                CompiledCatalog.from_plain(base["catalog"], lambda: self._catalog_entries(name))
                if base["catalog"]
                else None
            )
            for rule in (Rule.from_plain(r) for r in base["rules"]):
                by_id[rule.id] = with_layer(rule, 1)
        for layer, overlay in enumerate(self.overlays, start=2):
            if not (overlay / name).is_dir():
                continue
            meta: dict[str, Any] = {}
            o_spec, o_catalog, o_rules = compile_layer(overlay / name, name, meta)
            # refused unless every override of a lower layer's rule is declared
            self._overrides += check_layer(name, o_rules, meta, [*by_id.values(), *common])
            spec = o_spec if o_spec is not None else spec
            catalog = o_catalog if o_catalog is not None else catalog
            self._declared.setdefault(name, {}).update(declared(meta))
            # an overlay's rule outranks any bundled one; one with the same id
            # (declared with replaces:) takes its place
            for rule in o_rules:
                by_id.pop(rule.id, None)
                by_id[rule.id] = with_layer(rule, layer)
                origins[rule.id] = str(overlay)
        self._origins[name] = origins
        assert spec is not None  # names holds only venues with an exchange.yaml
        return RuleSet(Frozen(spec), catalog, list(by_id.values()), common)

    # ------------------------------------------------ what the guards read

    def origin(self, name: str, rule_id: str) -> str:
        """The folder the rule in effect with this id came from: ``"bundled"``
        (the root folder), or the user's folder given to ``load_rules()``."""
        if self.overlays:
            self.get(name)
            found = self._origins.get(name, {}).get(rule_id) or self._common_origins.get(rule_id)
            if found is not None:
                return found
        return "bundled" if self.bundled else str(self._root_str)

    def declared_outcome(self, name: str, rule_id: str) -> str | None:
        """The outcome the rule in effect with this id declares itself, or None."""
        self.get(name)
        got = self._declared.get(name, {}).get(rule_id)
        return got if got is not None else self._common_declared.get(rule_id)

    def unknown_code(self, name: str, code: str) -> bool:
        """Whether the root folder's rules (the bundled ones) declare ``code``'s
        outcome unknown at this venue, whatever a user's rule says of it."""
        if name not in self._unknown_codes:
            self.get(name)
        return code in self._unknown_codes.get(name, ())

    def dedupes_all(self, name: str) -> bool:
        """Whether the venue refuses a repeated client order id for every order it
        ever had (``client_order_id_dedupe: all_orders``). For a venue of the
        root folder (a bundled one) its own ``exchange.yaml`` says so, whatever a
        user's folder says: that claim would lift a guard on writes."""
        spec = self.get(name).spec
        got = self._dedupe.get(spec.name)
        if got is None:
            said = getattr(spec, "client_order_id_dedupe", "none")
            if self.overlays:
                base = self._base(spec.name)
                if base is not None:
                    said = base["spec"].get("client_order_id_dedupe", "none")
            got = self._dedupe[spec.name] = said == "all_orders"
        return got

    def overrides(self) -> list[Override]:
        """Every declared override of a bundled rule by a user's folder (all venues loaded)."""
        self.load_all()
        self.common_rules()
        return list(self._overrides)


def unknown_codes(plain_rules: list[Any]) -> frozenset[str]:
    """The codes that rules (in plain form) decide as an unknown outcome by code
    alone (no message condition)."""
    out: set[str] = set()
    for plain in plain_rules:
        if Rule.outcome_of_plain(plain) is not Outcome.UNKNOWN:
            continue  # most rules: not built twice at a venue's first load
        rule = Rule.from_plain(plain)
        w = rule.when
        if rule.outcome is Outcome.UNKNOWN and w.code and not (w.message or w.message_regex):
            out.update(w.code)
    return frozenset(out)


_registry: Registry | None = None
#: Called whenever the registry changes (the engine clears its caches).
_listeners: list[Callable[[], None]] = []


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener`` whenever ``load_rules``/``reset_rules`` change the registry."""
    _listeners.append(listener)


def changed() -> None:
    """Tell the listeners that what classifies changed (rules, the generic model)."""
    for listener in _listeners:
        listener()


def registry() -> Registry:
    """The registry every entry point uses: the bundled rules and the user's
    folders added with ``load_rules``."""
    global _registry
    if _registry is None:
        with _lock:
            if _registry is None:
                _registry = Registry()
    return _registry


def exchanges() -> tuple[str, ...]:
    """The names of the exchanges with rules (bundled, or added with
    ``load_rules``); the generic profile is not one of them."""
    return tuple(n for n in registry().names if n != GENERIC)


def load_rules(path: str | Path) -> tuple[str, ...]:
    """Add a folder of the user's rules beside the bundled ones, for every
    entry point of this process (normalize, recommend, the Supervisor,
    explain, batch, lint, coverage).

    The folder holds one sub-folder per venue (``exchange.yaml``,
    ``rules.yaml``, optionally ``catalog.yaml``; a bundled venue's folder may
    hold only ``rules.yaml``) and optionally ``common/rules.yaml``. New venues
    are added; the folder's rules for a bundled venue outrank the bundled ones.
    Every file is checked now: a bad one raises ``RuleFileError`` naming the
    file, line and field, and nothing changes. Returns the venue names now known.
    """

    global _registry
    folder = path_of("path", path)
    if not folder.is_dir():
        raise RuleFileError([Problem(str(folder), None, "path", "no rules folder here")])
    with _lock:
        current = _registry if _registry is not None else Registry()
        candidate = Registry(None if current.bundled else current.root, (*current.overlays, folder))
        if candidate.orphans:
            raise RuleFileError(
                [
                    Problem(
                        str(o / "exchange.yaml"),
                        None,
                        "exchange.yaml",
                        "a new venue needs an exchange.yaml "
                        "(only a bundled venue's folder may hold rules alone)",
                    )
                    for o in candidate.orphans
                ]
            )
        candidate.load_all()
        _registry = candidate
    changed()
    return tuple(n for n in candidate.names if n != GENERIC)


def rule_origin(exchange: str, rule_id: str | None) -> str | None:
    """Which folder the rule ``rule_id`` in effect at ``exchange`` came from:
    ``"bundled"``, or the path of the user's folder given to ``load_rules()``;
    None without a rule (or for a venue not loaded)."""
    if rule_id is None:
        return None
    try:
        return registry().origin(exchange, rule_id)
    except NormalizerError:
        return None


def overrides() -> list[Override]:
    """Every bundled rule that the user's folders (``load_rules``) override, each
    declared with ``replaces:`` and a reason (for lint and ``explain``)."""
    return registry().overrides()


def current_registry() -> Registry | None:
    """The registry in use, to put back later with ``restore_registry``."""
    return _registry


def restore_registry(saved: Registry | None) -> None:
    """Put back a registry saved with ``current_registry()``."""
    global _registry
    if saved is _registry:
        return
    with _lock:
        _registry = saved
    changed()


def reset_rules() -> None:
    """Forget the folders added with ``load_rules``: the bundled rules only."""
    restore_registry(None)


_default: Policy | None = None


def default_policy() -> Policy:
    """The bundled default policy (``policies/default.yaml``), from the compiled rules file."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Policy.from_plain(bundled("policy"), _default_escalations)
    return _default


def _default_escalations() -> Any:
    from .policy import default_escalations

    return default_escalations()


def bundled(section: str) -> Any:
    """A section of the compiled bundled data (``policy``, ``ccxt``)."""
    return _compiled()[section]
