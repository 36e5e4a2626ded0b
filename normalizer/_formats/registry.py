"""The one registry: the bundled data, compiled to plain data and kept compiled.

Validating the YAML files needs PyYAML and pydantic, which cost more to
import than everything else ``normalize()`` does at start-up. So the bundled
ontology, rules, catalogs, ccxt class table and default policy are compiled
once into one ``marshal`` file of plain data (``normalizer/_compiled.marshal``)
and later runs load that, without importing either.

The file records a fingerprint of its sources (each file's name, size and
CRC-32, and the compiler's version). When any source differs, the data is
compiled afresh from the YAML (with every check), and the file is rewritten
when the folder is writable. A wheel carries the file, built by the build hook
(``hatch_build.py``); a source checkout or an editable install builds it on
first use and whenever a source file changes.

A ``Registry`` on another folder (lint, tests, a user's own rules) compiles
that folder directly and keeps nothing on disk.
"""

from __future__ import annotations

import marshal
import threading
from pathlib import Path
from typing import Any

from .._core.errors import UnknownExchangeError
from .._core.policy import Policy
from .._core.resources import data_dir
from .._core.table import CompiledCatalog, Frozen, Rule, RuleSet
from .store import COMMON, ONTOLOGY, state, write_store

__all__ = ["COMMON", "ONTOLOGY", "Registry", "bundled", "default_policy", "exchanges", "registry"]

_lock = threading.RLock()


def _compiled() -> dict[str, Any]:
    """The bundled data compiled: from the store, else compiled now and stored."""
    data = state["data"]
    if data is None:
        with _lock:
            data = state["data"]
            if data is None:
                from .compile import compile_bundled

                data = compile_bundled()
                data["fingerprint"] = state["fingerprint"]
                write_store(data)
                state["data"] = data
    return data  # type: ignore[no-any-return]


def rule_set_from_plain(data: dict[str, Any], common: list[Rule]) -> RuleSet:
    catalog = CompiledCatalog.from_plain(data["catalog"]) if data["catalog"] else None
    own = [Rule.from_plain(r) for r in data["rules"]]
    return RuleSet(Frozen(data["spec"]), catalog, own, common, check=False)


class Registry:
    """The rule sets of every exchange found under a rules folder.

    The bundled folder (``root=None``) is read from the compiled store; any
    other folder is compiled from its YAML (and checked) on first use. Each
    exchange is loaded once, under a lock.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.bundled = root is None
        self.root = Path(root) if root is not None else data_dir("rules")
        self._sets: dict[str, RuleSet] = {}
        self._common: list[Rule] | None = None
        self.names: tuple[str, ...] = tuple(
            sorted(
                p.name
                for p in self.root.iterdir()
                if p.is_dir() and p.name != COMMON and (p / "exchange.yaml").is_file()
            )
        )

    def get(self, name: object) -> RuleSet:
        rs = self._sets.get(name) if isinstance(name, str) else None
        if rs is not None:
            return rs
        key = name.lower() if isinstance(name, str) else name
        if key not in self.names:
            raise UnknownExchangeError(name, list(self.names))
        assert isinstance(key, str)
        with _lock:
            rs = self._sets.get(key)
            if rs is None:
                rs = self._load(key)
                self._sets[key] = rs
            if isinstance(name, str):
                self._sets[name] = rs
        return rs

    def load_all(self) -> list[RuleSet]:
        """Load every exchange now (and so refuse any bad file now)."""
        return [self.get(n) for n in self.names]

    def common_rules(self) -> list[Rule]:
        if self._common is None:
            if self.bundled:
                self._common = [Rule.from_plain(r) for r in _compiled()["common"]]
            else:
                from .compile import compile_common

                self._common = compile_common(self.root)
        return self._common

    def _load(self, name: str) -> RuleSet:
        if self.bundled:
            plain = _compiled()["exchanges"][name]
            if isinstance(plain, bytes):  # the store keeps each exchange as its own blob
                plain = marshal.loads(plain)  # noqa: S302 - our own store (see store.py)
            return rule_set_from_plain(plain, self.common_rules())
        from .compile import compile_exchange

        plain = compile_exchange(self.root, name, self.common_rules())
        return rule_set_from_plain(plain, self.common_rules())


_registry: Registry | None = None


def registry() -> Registry:
    """The registry of the bundled rules."""
    global _registry
    if _registry is None:
        with _lock:
            if _registry is None:
                _registry = Registry()
    return _registry


def exchanges() -> tuple[str, ...]:
    """The names of the exchanges with bundled rules."""
    return registry().names


_default: Policy | None = None


def default_policy() -> Policy:
    """The bundled default policy (``policies/default.yaml``), from the compiled store."""
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
