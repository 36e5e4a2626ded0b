"""What a user's rule folder may change of the bundled rules: only what it says it does.

A user's rule outranks every bundled rule of its venue (``rules.with_layer``).
So a rule that decides some input differently from a bundled rule (another
category, subcategory or outcome) overrides it; that is allowed only when the
rule says so, with ``replaces: <the bundled rule's id>`` (or a list of them)
and a ``reason:``.
Otherwise ``load_rules()`` refuses the folder, naming the file, the line and
the field. A rule reusing a bundled rule's id without ``replaces:`` is refused
too (results would carry the bundled id for another meaning).

Two rules overlap when one input can satisfy both, as told by their conditions
and by witnesses (load-time only, not the hot path):

- codes: a code both name (``code``/``code_range``), statuses and operations
  not disjoint, and the bundled rule's message condition, if any, met by one of
  the user's examples or by no message condition at all on the user's side;
- statuses: an HTTP status both name, for rules without codes;
- transport kinds: a kind both name;
- messages: a user rule's message condition met by one of the bundled rule's
  examples, or, for a bundled transport rule, by the words a transport failure
  of that kind says (``TRANSPORT_WITNESSES``: "Read timed out", ...).

The load-time check is about what a folder declares; what ``recommend()``
answers for a non-idempotent write does not rest on it alone: the guards read
the request's own evidence (``normalizer._engine.recommend``, ``guard.unknown-
outcome-write``), whatever rule decided.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from .._core.errors import Problem, RuleFileError
from .._core.table import Rule
from .._core.text import bound, fold
from .rules import RuleMeta

__all__ = ["TRANSPORT_WITNESSES", "Override", "check_layer", "message_holds", "overlap"]

#: What transport failures of each kind say, as exceptions word it.
TRANSPORT_WITNESSES: dict[str, tuple[str, ...]] = {
    "read_timeout": (
        "Read timed out.",
        "HTTPSConnectionPool(host='www.okx.com', port=443): Read timed out. (read timeout=10)",
        "The read operation timed out",
        "timed out",
    ),
    "write_timeout": ("The write operation timed out", "timed out"),
    "timeout": ("timed out", "Timeout", "Request timeout", "TimeoutError"),
    "connection_lost": (
        "Connection reset by peer",
        "('Connection aborted.', RemoteDisconnected('Remote end closed connection without "
        "response'))",
        "Server disconnected",
        "Connection lost",
    ),
    "other": ("Connection error", "[Errno 104] Connection reset by peer"),
    "connect_timeout": ("Connection to www.okx.com timed out. (connect timeout=10)",),
    "connect_failed": (
        "[Errno 111] Connection refused",
        "Failed to establish a new connection: [Errno -2] Name or service not known",
    ),
    "pool_timeout": ("Pool timeout",),
}


class Override(NamedTuple):
    """A user's rule that decides differently from a lower layer's rule."""

    exchange: str
    rule_id: str
    path: str
    line: int | None
    replaces: str
    reason: str | None
    was: str  # the replaced rule's label and outcome
    now: str  # the user's rule's


def _label(rule: Rule) -> str:
    return f"{rule.label} ({rule.outcome.value})"


def _codes_overlap(a: Rule, b: Rule) -> bool | None:
    """Whether a code both can match exists; None when either names no code."""
    wa, wb = a.when, b.when
    if (wa.code is None and wa.code_range is None) or (wb.code is None and wb.code_range is None):
        return None
    sa, sb = set(wa.code or ()), set(wb.code or ())
    if sa & sb:
        return True
    for codes, rng in ((sa, wb.code_range), (sb, wa.code_range)):
        if rng is not None:
            for c in codes:
                try:
                    if rng[0] <= int(c) <= rng[1]:
                        return True
                except ValueError:
                    continue
    ra, rb = wa.code_range, wb.code_range
    return bool(ra and rb and ra[0] <= rb[1] and rb[0] <= ra[1])


def _statuses(rule: Rule) -> set[int] | None:
    w = rule.when
    if w.http_status is None and w.http_status_range is None:
        return None
    out = set(w.http_status or ())
    if w.http_status_range is not None:
        out |= set(range(w.http_status_range[0], w.http_status_range[1] + 1))
    return out


def _disjoint(a: Iterable[object] | None, b: Iterable[object] | None) -> bool:
    return a is not None and b is not None and not (set(a) & set(b))


def message_holds(rule: Rule, text: str) -> bool:
    """Whether ``rule``'s message condition (templates or regexes) holds for ``text``."""
    folded = fold(text)
    if any(t.matches(folded) for t in rule.templates):
        return True
    bounded = bound(text)
    return any(re.search(r, bounded, re.IGNORECASE) for r in rule.when.message_regex or ())


def _messages_of(rule: Rule) -> tuple[str, ...]:
    """The messages ``rule`` is known to decide: its examples, and, for a
    transport rule, what failures of its kinds say."""
    out = tuple(rule.examples)
    for kind in rule.when.transport or ():
        out += TRANSPORT_WITNESSES.get(kind, ())
    return out


def overlap(user: Rule, lower: Rule) -> str | None:
    """What input both rules can decide (a few words), or None."""
    if _disjoint(user.when.operation, lower.when.operation):
        return None
    su, sl = _statuses(user), _statuses(lower)
    if _disjoint(su, sl):
        return None
    codes = _codes_overlap(user, lower)
    if codes is False:
        return None
    if user.when.transport and lower.when.transport:
        both = sorted(set(user.when.transport) & set(lower.when.transport))
        if both:
            return f"transport failures ({', '.join(both)})"
        return None
    user_msg = bool(user.when.message or user.when.message_regex)
    lower_msg = bool(lower.when.message or lower.when.message_regex)
    if codes:
        if not lower_msg:
            return "a code both name"
        examples = user.examples or ()
        if not user_msg or any(message_holds(lower, e) for e in examples):
            return "a code both name"
        return None
    if user_msg:
        for text in _messages_of(lower):
            if message_holds(user, text):
                return f"the message {text[:80]!r}"
        return None
    if su is not None and sl is not None and user.when.code is None and lower.when.code is None:
        return f"HTTP status {min(su & sl)}"
    return None


def _differs(user: Rule, lower: Rule) -> bool:
    return (user.category, user.subcategory, user.outcome) != (
        lower.category,
        lower.subcategory,
        lower.outcome,
    )


def check_layer(
    exchange: str,
    rules: list[Rule],
    meta: dict[str, RuleMeta],
    lower: list[Rule],
) -> list[Override]:
    """The overrides a user's layer of ``rules`` makes of the ``lower`` layers'
    rules (the bundled venue's and the common ones), each declared with
    ``replaces:``; raises ``RuleFileError`` for every undeclared one, for a
    bundled id reused without ``replaces:``, and for a ``replaces:`` naming no
    lower rule."""
    problems: list[Problem] = []
    found: list[Override] = []
    by_id = {r.id: r for r in lower}
    for rule in rules:
        m = meta.get(rule.id)
        path = m.path if m else rule.path
        line = m.line if m else rule.line
        replaces = m.replaces if m else ()
        unknown = [r for r in replaces if r not in by_id]
        if unknown:
            problems.append(
                Problem(
                    path,
                    line,
                    f"{rule.id}.replaces",
                    f"names {', '.join(map(repr, unknown))}, which is no bundled rule of "
                    f"{exchange} (nor a common one)",
                )
            )
            continue
        if rule.id in by_id and rule.id not in replaces:
            problems.append(
                Problem(
                    path,
                    line,
                    f"{rule.id}.id",
                    f"reuses the bundled rule id {rule.id!r}: give the rule its own id, or say "
                    f"replaces: {rule.id} with a reason to take that rule's place",
                )
            )
            continue
        clashes: list[tuple[Rule, str]] = []
        for other in lower:
            if other.id in replaces:
                if _differs(rule, other) or rule.id == other.id:
                    found.append(
                        Override(
                            exchange,
                            rule.id,
                            path,
                            line,
                            other.id,
                            m.reason if m else None,
                            _label(other),
                            _label(rule),
                        )
                    )
                continue
            if not _differs(rule, other):
                continue
            what = overlap(rule, other)
            if what is not None:
                clashes.append((other, what))
        if clashes:
            (first, what), more = clashes[0], clashes[1:]
            others = "".join(f", {o.id} ({_label(o)})" for o, _ in more[:9])
            ids = [o.id for o, _ in clashes[:10]]
            say = ids[0] if len(ids) == 1 else "[" + ", ".join(ids) + "]"
            problems.append(
                Problem(
                    path,
                    line,
                    f"{rule.id}.category",
                    f"decides {what} as {_label(rule)}, where the bundled rule {first.id} "
                    f"decides {_label(first)}{others}: say replaces: {say} with a reason: to "
                    "override on purpose",
                )
            )
    if problems:
        raise RuleFileError(problems)
    return found
