"""Single-error conditions of the escalation rules, compiled to Python predicates.

A ``Match`` (``when`` or a sequence step) becomes a function of the event's
features; every condition given must hold. Accounts are compared as whole
Python strings (durable-rules compared strings by a 16-bit length, so an
account of 65,536+ characters could pass for a short one).
"""

from __future__ import annotations

from collections.abc import Callable

from .._core.frozen import frozen
from .._formats.escalation import Match

__all__ = ["Features", "Predicate", "compile_match"]


@frozen
class Features:
    """What the conditions may test about one error."""

    category: str
    subcategory: str
    exchange: str
    operation: str
    account: str | None
    exhausted: bool


Predicate = Callable[[Features], bool]


def compile_match(match: Match) -> Predicate:
    """``match`` as a predicate (the semantics of ``Match``, written once)."""
    cats = frozenset(match.category) if match.category else None
    not_cats = frozenset(match.not_category) if match.not_category else None
    exchanges = frozenset(match.exchange) if match.exchange else None
    operations = frozenset(op.value for op in match.operation) if match.operation else None
    accounts = frozenset(match.account) if match.account else None
    exhausted = match.exhausted

    def predicate(f: Features) -> bool:
        if cats is not None and f.category not in cats and f.subcategory not in cats:
            return False
        if not_cats is not None and (f.category in not_cats or f.subcategory in not_cats):
            return False
        if exchanges is not None and f.exchange not in exchanges:
            return False
        if operations is not None and f.operation not in operations:
            return False
        if accounts is not None and f.account not in accounts:
            return False
        return exhausted is None or f.exhausted is exhausted

    return predicate
