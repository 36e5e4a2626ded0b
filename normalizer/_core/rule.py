"""A compiled rule and what it is matched against: ``Condition``, ``Probe``, ``Rule``.

The rule files are validated by ``normalizer._formats.rules`` and compiled to
these plain objects, which are all the engine reads of a rule. A rule with a
message condition is shown a message only when its gate lets it
(``Rule.gate``): the message holds one of the literals its templates or
regexes cannot match without (``_core/literals.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from operator import itemgetter

from .frozen import frozen
from .literals import Prefilter, ascii_lowered, lowered_twin, prefilter, projected
from .precedence import specificity
from .text import Template, bound, fold
from .vocabulary import Category, Operation, Outcome

# value -> member, for reading the compiled file: a dict lookup instead of an Enum call
# (the first call builds hundreds of rules)
_CATEGORY = {m.value: m for m in Category}
_OUTCOME = {m.value: m for m in Outcome}
_OPERATION = {m.value: m for m in Operation}

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

#: ``Rule.matches``' lowered message, when the caller did not compute it
_UNSET: Any = object()


#: How a transport failure happened, as told by the exception the caller caught.
TRANSPORT_KINDS: tuple[str, ...] = (
    "connect_timeout",  # no connection within the timeout: never sent
    "connect_failed",  # refused, DNS failure, TLS handshake failure: never sent
    "pool_timeout",  # no free connection in the client's pool: never sent
    "read_timeout",  # sent, no answer in time
    "write_timeout",  # timed out while sending: may have been received
    "connection_lost",  # reset or closed after sending
    "timeout",  # a timeout of unknown phase
    "other",  # a transport failure of unknown kind
)


def condition_kinds(when: Any) -> list[str]:
    """Which kinds of condition a rule's ``when`` has, in the order specificity
    weighs them; one definition for the compiled rules and the file schema."""
    out = []
    if when.code is not None:
        out.append("code")
    if when.message is not None or when.message_regex is not None:
        out.append("message")
    if when.code_range is not None:
        out.append("code_range")
    if when.operation is not None:
        out.append("operation")
    if when.http_status is not None or when.http_status_range is not None:
        out.append("http_status")
    if when.transport is not None:
        out.append("transport")
    return out


@frozen
class Condition:
    """The one condition model: every condition given must hold.

    A rule's ``when`` is one; the policy's and the supervisor's conditions
    name the same kinds of thing (codes, labels, operations, ...) and are
    read the same way: a field left out (None) does not constrain.
    """

    code: tuple[str, ...] | None = None
    code_range: tuple[int, int] | None = None
    http_status: tuple[int, ...] | None = None
    http_status_range: tuple[int, int] | None = None
    message: tuple[str, ...] | None = None
    message_regex: tuple[str, ...] | None = None
    operation: tuple[Operation, ...] | None = None
    transport: tuple[str, ...] | None = None

    def kinds(self) -> list[str]:
        return condition_kinds(self)

    def to_plain(self) -> tuple[Any, ...]:
        return (
            self.code,
            self.code_range,
            self.http_status,
            self.http_status_range,
            self.message,
            self.message_regex,
            tuple(o.value for o in self.operation) if self.operation is not None else None,
            self.transport,
        )

    @classmethod
    def from_plain(cls, data: Sequence[Any]) -> Condition:
        code, code_range, status, status_range, message, regex, ops, transport = data
        return cls(
            code,
            code_range,
            status,
            status_range,
            message,
            regex,
            tuple(_OPERATION[o] for o in ops) if ops is not None else None,
            transport,
        )


class Probe(tuple):  # type: ignore[type-arg]
    """What the matcher looks at, extracted from one exchange input:
    ``(code, message, http_status, operation, transport)``, the message bounded.

    A tuple, so that the engine makes one for every input it has not seen at
    the cost of a tuple (``make_probe``); read by name like any record.
    """

    __slots__ = ()

    def __new__(
        cls,
        code: str | None = None,
        message: str | None = None,
        http_status: int | None = None,
        operation: Operation | None = None,
        transport: str | None = None,
    ) -> Probe:
        return tuple.__new__(cls, (code, message, http_status, operation, transport))

    code: str | None = property(itemgetter(0))  # type: ignore[assignment]
    message: str | None = property(itemgetter(1))  # type: ignore[assignment]
    http_status: int | None = property(itemgetter(2))  # type: ignore[assignment]
    operation: Operation | None = property(itemgetter(3))  # type: ignore[assignment]
    transport: str | None = property(itemgetter(4))  # type: ignore[assignment]

    def __repr__(self) -> str:
        names = ("code", "message", "http_status", "operation", "transport")
        shown = ", ".join(f"{n}={v!r}" for n, v in zip(names, self, strict=True))
        return f"Probe({shown})"


def _code_int(code: str | None) -> int | None:
    """A code as a number (for code ranges), or None."""
    if code is None or len(code) > 32:
        return None
    try:
        return int(code)
    except ValueError:
        return None


def make_probe(
    code: str | None,
    message: str | None,
    http_status: int | None,
    operation: Operation | None,
    transport: str | None,
) -> Probe:
    """``Probe(...)`` without the call of its ``__new__`` (the engine's hot path)."""
    return tuple.__new__(Probe, (code, message, http_status, operation, transport))


class Rule:
    """A compiled rule. ``category``/``subcategory`` are what it maps onto;
    ``outcome`` whether a request it decides took effect."""

    __slots__ = (
        "_gate",
        "_regexes",
        "_searches",
        "category",
        "codes",
        "examples",
        "exchange",
        "has_message",
        "id",
        "line",
        "operations",
        "outcome",
        "path",
        "priority",
        "source_url",
        "specificity",
        "statuses",
        "subcategory",
        "templates",
        "transports",
        "verdict",
        "when",
        "why",
    )

    def __init__(
        self,
        *,
        id: str,
        exchange: str,
        category: Category,
        subcategory: str | None,
        outcome: Outcome,
        why: str,
        source_url: str,
        priority: int,
        when: Condition,
        examples: tuple[str, ...],
        path: str,
        line: int | None,
        templates: tuple[Template, ...] | None = None,
    ) -> None:
        self.id = id
        self.exchange = exchange
        self.category = category
        self.subcategory = subcategory
        self.outcome = outcome
        self.why = why
        self.source_url = source_url
        self.priority = priority
        self.when = when
        self.examples = examples
        self.path = path
        self.line = line
        w = when
        self.codes = frozenset(w.code) if w.code is not None else None
        self.templates = (
            templates if templates is not None else tuple(Template(t) for t in w.message or ())
        )
        self._regexes: tuple[re.Pattern[str], ...] | None = None  # compiled on first use
        self._searches: tuple[tuple[re.Pattern[str], Prefilter, Any], ...] | None = None
        self._gate: Any = _UNSET
        self.has_message = bool(w.message or w.message_regex)
        self.statuses = frozenset(w.http_status) if w.http_status is not None else None
        self.operations = frozenset(w.operation) if w.operation is not None else None
        self.transports = frozenset(w.transport) if w.transport is not None else None
        self.specificity = specificity(w, priority, own=exchange != "*")
        #: what the rule decides, as the engine keeps it: category, subcategory,
        #: outcome, id, why, source URL, and no documented code lent
        self.verdict: tuple[Any, ...] = (category, subcategory, outcome, id, why, source_url, None)

    def __repr__(self) -> str:
        return f"Rule({self.id!r}, {self.label})"

    @property
    def label(self) -> str:
        return self.subcategory or self.category.value

    @property
    def regexes(self) -> tuple[re.Pattern[str], ...]:
        """The rule's message regexes, compiled when first needed."""
        got = self._regexes
        if got is None:
            got = self._regexes = tuple(
                re.compile(r, re.IGNORECASE) for r in self.when.message_regex or ()
            )
        return got

    def to_plain(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.exchange,
            self.category.value,
            self.subcategory,
            self.outcome.value,
            self.why,
            self.source_url,
            self.priority,
            self.when.to_plain(),
            self.examples,
            self.path,
            self.line,
            tuple(t.to_plain() for t in self.templates),
            self.gate,  # worked out once, when the compiled file is built (it parses the regexes)
        )

    @staticmethod
    def outcome_of_plain(data: Sequence[Any]) -> Outcome:
        """The outcome of a rule in plain form (``to_plain``), without building it."""
        return _OUTCOME[data[4]]

    @classmethod
    def from_plain(cls, data: Sequence[Any]) -> Rule:
        i, ex, cat, sub, outcome, why, url, prio, when, examples, path, line, templates = data[:13]
        rule = cls(
            id=i,
            exchange=ex,
            category=_CATEGORY[cat],
            subcategory=sub,
            outcome=_OUTCOME[outcome],
            why=why,
            source_url=url,
            priority=prio,
            when=Condition.from_plain(when),
            examples=tuple(examples),
            path=path,
            line=line,
            templates=tuple(Template.from_plain(t) for t in templates),
        )
        if len(data) > 13:
            rule._gate = data[13]
        return rule

    def regex_hit(self, message: str, lowered: str | None) -> bool:
        """Whether one of the rule's regexes is found in ``message``; each regex
        is searched only when its literal prefilter (``_core/literals.py``) lets it
        (``lowered``: the message lowered when ASCII, else None: then the
        prefilter looks at the message's projection), and in an ASCII message
        as its lowered twin, case-sensitively, when it has one."""
        searches = self._searches
        if searches is None:
            searches = self._searches = tuple(
                (regex, prefilter(p), lowered_twin(p))
                for regex, p in zip(self.regexes, self.when.message_regex or (), strict=True)
            )
        if lowered is not None:
            for regex, literal_filter, twin in searches:
                if literal_filter.may_match(message, lowered):
                    if twin is not None:
                        if twin.search(lowered):
                            return True
                    elif regex.search(message):
                        return True
            return False
        projection = None  # a non-ASCII message: prefiltered on its projection
        for regex, literal_filter, _twin in searches:
            if literal_filter.any_text:
                if projection is None:
                    projection = projected(message)
                if not literal_filter.may_match_projected(projection):
                    continue
            if regex.search(message):
                return True
        return False

    @property
    def gate(self) -> tuple[tuple[str, ...], tuple[str, ...] | None] | None:
        """What a message needs for the rule's message condition to be worth
        trying: ``(keys, literals)``, one of the templates' keys (each template's
        longest literal piece) in the folded message, or (when ``literals`` is
        not None) one of the regexes' literals in the lowered ASCII message; a
        non-ASCII message always passes the regexes' part. None when the rule
        has no message condition, or one of its templates or regexes needs no
        literal: every message is tried."""
        gate = self._gate
        if gate is _UNSET:
            gate = None
            if self.has_message:
                keys = tuple(t.key for t in self.templates)
                needs = [prefilter(p).need for p in self.when.message_regex or ()]
                if all(keys) and all(n is not None for n in needs):
                    literals = tuple(dict.fromkeys(lit for n in needs for lit in n or ()))
                    gate = (keys, literals if needs else None)
            self._gate = gate
        return gate  # type: ignore[no-any-return]

    def admits(self, status: int | None, operation: Any, transport: str | None) -> bool:
        """Whether the rule's status, operation and transport conditions hold."""
        w = self.when
        if self.statuses is not None or w.http_status_range is not None:
            if status is None:
                return False
            in_set = self.statuses is not None and status in self.statuses
            in_range = w.http_status_range is not None and (
                w.http_status_range[0] <= status <= w.http_status_range[1]
            )
            if not (in_set or in_range):
                return False
        if self.operations is not None and operation not in self.operations:
            return False
        return self.transports is None or transport in self.transports

    def matches(self, probe: Probe, folded: str | None, lowered: Any = _UNSET) -> bool:
        code, message, status, operation, transport = probe
        if self.codes is not None and code not in self.codes:
            return False
        w = self.when
        if w.code_range is not None:
            n = _code_int(code)
            if n is None or not (w.code_range[0] <= n <= w.code_range[1]):
                return False
        if not self.admits(status, operation, transport):
            return False
        if self.has_message:
            if message is None or folded is None:
                return False
            for template in self.templates:
                if template.matches(folded):
                    return True
            if not self.when.message_regex:
                return False
            if lowered is _UNSET:
                lowered = ascii_lowered(message)
            if not self.regex_hit(message, lowered):
                return False
        return True

    def message_matches(self, message: str) -> bool:
        if not self.has_message:
            return True
        folded = fold(message)
        b = bound(message)
        return any(t.matches(folded) for t in self.templates) or any(
            r.search(b) for r in self.regexes
        )
