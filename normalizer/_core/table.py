"""The compiled rule table and its selector: plain Python, no pydantic, no YAML.

The rule files are validated and checked by ``normalizer._formats.rules``;
what they compile to is defined here and is all the engine reads.

Which rule wins is defined here and nowhere else (``specificity``):

1. a higher ``priority`` wins (default 0; for deliberate overrides);
2. then the kinds of condition the rule has, weighted as bits:
   exact code 64, message 32, code range 16, operation 8, HTTP status 4,
   transport 2, and 1 for an exchange's own rule over a common one;
3. then the narrower code range, then the narrower set of HTTP statuses.

Two rules of one exchange that tie on all of that, can match the same input,
and disagree on the category are refused when the rules compile. Whether two
message conditions can match the same input is decided on witnesses: each
rule's examples, its templates and the catalog messages of its codes.

Rules with a code are found by the code. The code-less rules are grouped by
what the input's status, operation and transport admit (each group kept once
made), and a rule with a message condition is shown a message only when its
gate lets it (``Rule.gate``): the message holds one of the literals its
templates or regexes cannot match without (``_core/literals.py``).
"""

from __future__ import annotations

import marshal
import re
from collections.abc import Mapping, Sequence
from operator import itemgetter

from .errors import Problem, RuleFileError
from .frozen import frozen
from .literals import Prefilter, ascii_lowered, lowered_twin, prefilter, projected
from .text import Template, bound, fold
from .vocabulary import Category, Operation, Outcome

# value -> member, for reading the store: a dict lookup instead of an Enum call
# (the first call builds hundreds of rules)
_CATEGORY = {m.value: m for m in Category}
_OUTCOME = {m.value: m for m in Outcome}
_OPERATION = {m.value: m for m in Operation}

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

#: ``Rule.matches``' lowered message, when the caller did not compute it
_UNSET: Any = object()


WEIGHTS = {
    "code": 64,
    "message": 32,
    "code_range": 16,
    "operation": 8,
    "http_status": 4,
    "transport": 2,
    "own": 1,
}

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


class Frozen:
    """Attribute access over compiled plain data (an exchange's spec): read-only.

    Nested mappings become ``Frozen`` and lists tuples, once, when built; the
    values are plain instance attributes, so reading one costs no more than
    reading any attribute.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        for key, value in data.items():
            object.__setattr__(self, key, _frozen(value))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{name}: compiled data is read-only")

    def __repr__(self) -> str:
        return f"Frozen({self.__dict__!r})"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Frozen(value)
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


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


class Entry:
    """One documented error of a catalog (compiled form).

    ``code`` is the code as the API returns it; ``doc_code`` the id the docs
    list it under when that differs (OKX's ``51008_1000`` arrives as
    ``51008``); ``name`` and ``description`` the docs' symbolic name and
    explanation, when they give them.
    """

    __slots__ = (
        "_plain_template",
        "code",
        "description",
        "doc_code",
        "guidance",
        "http_status",
        "language",
        "message",
        "name",
        "section",
        "source_url",
        "template",
    )

    def __init__(
        self,
        code: str,
        message: str,
        language: str = "en",
        http_status: int | None = None,
        section: str | None = None,
        guidance: str | None = None,
        source_url: str = "",
        doc_code: str | None = None,
        name: str | None = None,
        description: str | None = None,
        template: Template | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.language = language
        self.http_status = http_status
        self.section = section
        self.guidance = guidance
        self.source_url = source_url
        self.doc_code = doc_code
        self.name = name
        self.description = description
        #: the message compiled for matching (made when first needed if not given)
        self.template = template
        #: its compiled form from the store, turned into ``template`` when first needed
        self._plain_template: Sequence[Any] | None = None

    def compiled(self) -> Template:
        t = self.template
        if t is None:
            plain = self._plain_template
            t = Template.from_plain(plain) if plain is not None else Template(self.message)
            self.template = t
        return t

    @property
    def documented_as(self) -> str:
        """The id the docs list this entry under."""
        return self.doc_code or self.code

    def to_plain(self) -> tuple[Any, ...]:
        return (
            self.code,
            self.message,
            self.language,
            self.http_status,
            self.section,
            self.guidance,
            self.source_url,
            self.doc_code,
            self.name,
            self.description,
            self.compiled().to_plain(),
        )

    def __repr__(self) -> str:
        return f"Entry({self.code!r}, {self.message!r})"


def _entry(e: Sequence[Any]) -> Entry:
    code, message, language, status, section, guidance, url, doc_code, name, description = e[:10]
    entry = Entry(
        code, message, language, status, section, guidance, url, doc_code, name, description
    )
    entry._plain_template = e[10]  # compiled when a message is first looked up
    return entry


class CompiledCatalog:
    """The documented codes of one exchange (compiled form).

    Read from the store, its entries are made when first asked for: a first
    call with a known code needs only the set of documented codes.
    """

    __slots__ = ("_codes", "_entries", "_packed", "_plain", "exchange", "source_url", "updated_at")

    def __init__(
        self, exchange: str, source_url: str, updated_at: str | None, entries: tuple[Entry, ...]
    ) -> None:
        self.exchange = exchange
        self.source_url = source_url
        self.updated_at = updated_at
        self._entries: tuple[Entry, ...] | None = entries
        self._plain: Sequence[Sequence[Any]] = ()
        #: the store's form: the entries' plain rows as one marshal blob, and their codes
        self._packed: bytes | None = None
        self._codes: Sequence[str] = ()

    @property
    def entries(self) -> tuple[Entry, ...]:
        entries = self._entries
        if entries is None:
            packed = self._packed
            if packed is not None:
                self._plain = marshal.loads(packed)  # noqa: S302 - our own store (_formats/store.py)
                self._packed = None
            entries = tuple(_entry(e) for e in self._plain)
            self._entries = entries
        return entries

    def documented_codes(self) -> frozenset[str]:
        """The codes of the entries (without making the entries)."""
        if self._entries is not None:
            return frozenset(e.code for e in self._entries)
        if self._packed is not None:
            return frozenset(self._codes)
        return frozenset(e[0] for e in self._plain)

    def codes(self) -> list[str]:
        """Distinct codes, in documentation order."""
        return list(dict.fromkeys(e.code for e in self.entries))

    def languages(self) -> list[str]:
        return list(dict.fromkeys(e.language for e in self.entries))

    def sections(self) -> list[str]:
        """Distinct sections, in documentation order (entries without one: "")."""
        return list(dict.fromkeys(e.section or "" for e in self.entries))

    def to_plain(self) -> tuple[Any, ...]:
        return (
            self.exchange,
            self.source_url,
            self.updated_at,
            tuple(e.to_plain() for e in self.entries),
        )

    @classmethod
    def from_plain(cls, data: Sequence[Any]) -> CompiledCatalog:
        catalog = cls(data[0], data[1], data[2], ())
        catalog._entries = None
        if len(data) == 5 and isinstance(data[3], bytes):  # packed by the store
            catalog._packed = data[3]
            catalog._codes = data[4]
        else:
            catalog._plain = data[3]
        return catalog


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
            self.gate,  # worked out once, when the store is built (it parses the regexes)
        )

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


def specificity(w: Condition, priority: int, own: bool) -> tuple[int, ...]:
    """The precedence key of a rule: higher wins (see the module docstring)."""
    bits = sum(WEIGHTS[k] for k in w.kinds()) + (WEIGHTS["own"] if own else 0)
    range_width = (w.code_range[1] - w.code_range[0]) if w.code_range else 0
    status_width = 0
    if w.http_status is not None:
        status_width += len(set(w.http_status))
    if w.http_status_range is not None:
        status_width += w.http_status_range[1] - w.http_status_range[0] + 1
    return (priority, bits, -range_width, -status_width)


_HEAD = 3


#: What every rule of a code-less group needs of a message: the keys (one in
#: the folded message) and the literals (one in the lowered ASCII message) of
#: all their gates (``Rule.gate``).
_Sieve = tuple[tuple[str, ...], tuple[str, ...]]


def _sieve(group: Sequence[Rule]) -> _Sieve | None:
    """The group's sieve: when every rule of the group has a gate, a message in
    which none of its keys and literals occur passes no rule's gate, so none of
    them is tried. A text containing another in the list is left out (the
    other is found in every message it is found in). None when some rule has
    no gate (no message condition, or one that needs no literal)."""
    keys: list[str] = []
    literals: list[str] = []
    for rule in group:
        gate = rule.gate
        if gate is None:
            return None
        keys += gate[0]
        literals += gate[1] or ()
    return _fewest(keys), _fewest(literals)


def _fewest(texts: list[str]) -> tuple[str, ...]:
    """``texts`` without those containing another one (shortest first, then in order)."""
    kept: list[str] = []
    for text in sorted(set(texts), key=lambda t: (len(t), t)):
        if not any(other in text for other in kept):
            kept.append(text)
    return tuple(kept)


class RuleSet:
    """Everything needed to classify one exchange's errors.

    ``spec`` is the exchange's compiled ``exchange.yaml`` (attribute access
    over plain data), ``catalog`` its compiled catalog or None.
    """

    def __init__(
        self,
        spec: Any,
        catalog: CompiledCatalog | None,
        own: Sequence[Rule],
        common: Sequence[Rule],
        *,
        check: bool = True,
    ) -> None:
        self.name: str = spec.name
        self.spec = spec
        self.catalog = catalog
        self.rules: tuple[Rule, ...] = tuple(own) + tuple(common)
        self.by_id: Mapping[str, Rule] = {r.id: r for r in self.rules}
        self.documented_codes = catalog.documented_codes() if catalog else frozenset()
        # message -> catalog entry: built when a message is first looked up
        # (``_message_index``), since most first calls carry a known code
        self._exact: dict[str, Entry] | None = None
        self._templated: tuple[tuple[Template, Entry], ...] = ()
        self._head: dict[str, list[int]] = {}
        self._tail: dict[str, list[int]] = {}
        self._headless: list[int] = []
        # candidate lists, each sorted strongest first
        self._by_code: dict[str, list[Rule]] = {}
        other: list[Rule] = []
        for rule in sorted(self.rules, key=lambda r: r.specificity, reverse=True):
            if rule.codes is not None:
                for c in rule.codes:
                    self._by_code.setdefault(c, []).append(rule)
            else:
                other.append(rule)
        self._other = tuple(other)
        #: the strongest code-less rule's precedence (``()`` sorts below any)
        self._strongest_other = other[0].specificity if other else ()
        # (status, operation, transport) -> the code-less rules it admits, strongest first
        self._groups: dict[tuple[Any, ...], tuple[tuple[Rule, ...], _Sieve | None]] = {}
        self.known_codes = self.documented_codes | frozenset(self._by_code)
        #: code -> what its code alone decides (``select``'s answer for any input
        #: with that code): the code's strongest rule asks nothing else of an
        #: input, and no code-less rule is as strong (ties go to the first)
        code_only = WEIGHTS["code"]  # a rule's condition bits when it names codes alone
        self.decided_by_code: dict[str | None, tuple[Any, ...]] = {
            c: rules[0].verdict
            for c, rules in self._by_code.items()
            if rules[0].specificity[1] & ~WEIGHTS["own"] == code_only
            and rules[0].specificity >= self._strongest_other
        }
        if check:
            self.check()

    def __repr__(self) -> str:
        return f"RuleSet({self.name!r}, {len(self.rules)} rules)"

    # -------------------------------------------------------------- checks

    def check(self) -> None:
        """Refuse duplicate ids and rules that tie, overlap and disagree."""
        problems: list[Problem] = []
        seen: dict[str, Rule] = {}
        for rule in self.rules:
            if rule.id in seen:
                other = seen[rule.id]
                problems.append(
                    Problem(
                        rule.path,
                        rule.line,
                        "id",
                        f"{rule.id!r} is also defined at {other.path}:{other.line}",
                    )
                )
            seen[rule.id] = rule
        for a, b in self.conflicts():
            problems.append(
                Problem(
                    b.path,
                    b.line,
                    "when",
                    f"rule {b.id!r} ({b.label}) and rule {a.id!r} ({a.label}, {a.path}:{a.line}) "
                    "can match the same input with the same precedence; make one more specific "
                    "or give one a priority",
                )
            )
        if problems:
            raise RuleFileError(problems)

    def witnesses(self, rule: Rule) -> list[str]:
        """Messages that the rule's message condition is meant to match."""
        out = list(rule.examples)
        out += [t.fill(["x" * 3] * len(t.source)) for t in rule.templates]
        if rule.codes is not None and self.catalog is not None:
            out += [e.message for e in self.catalog.entries if e.code in rule.codes]
        return [m for m in out if rule.message_matches(m)]

    def conflicts(self) -> list[tuple[Rule, Rule]]:
        """Pairs of this exchange's rules that tie, overlap and disagree."""
        groups: dict[tuple[int, ...], list[Rule]] = {}
        for rule in self.rules:
            groups.setdefault(rule.specificity, []).append(rule)
        found = []
        for rules in groups.values():
            for i, a in enumerate(rules):
                for b in rules[i + 1 :]:
                    if (a.category, a.subcategory) != (b.category, b.subcategory) and self._overlap(
                        a, b
                    ):
                        found.append((a, b))
        return found

    def _overlap(self, a: Rule, b: Rule) -> bool:
        wa, wb = a.when, b.when
        if a.codes is not None and b.codes is not None and not (a.codes & b.codes):
            return False
        if (
            wa.code_range
            and wb.code_range
            and (wa.code_range[1] < wb.code_range[0] or wb.code_range[1] < wa.code_range[0])
        ):
            return False
        if a.statuses is not None and b.statuses is not None and not (a.statuses & b.statuses):
            return False
        if (
            wa.http_status_range
            and wb.http_status_range
            and (
                wa.http_status_range[1] < wb.http_status_range[0]
                or wb.http_status_range[1] < wa.http_status_range[0]
            )
        ):
            return False
        if (
            a.operations is not None
            and b.operations is not None
            and not (a.operations & b.operations)
        ):
            return False
        if (
            a.transports is not None
            and b.transports is not None
            and not (a.transports & b.transports)
        ):
            return False
        if a.has_message and b.has_message:
            same = {t.source.casefold() for t in a.templates} & {
                t.source.casefold() for t in b.templates
            }
            same |= {r.pattern for r in a.regexes} & {r.pattern for r in b.regexes}
            if (
                not same
                and not any(b.message_matches(m) for m in self.witnesses(a))
                and not any(a.message_matches(m) for m in self.witnesses(b))
            ):
                return False
        return True

    # ------------------------------------------------------------ matching

    def _message_index(self) -> dict[str, Entry]:
        """Exact folded texts, and templates by weight with an index on their heads."""
        exact: dict[str, Entry] = {}
        templated: list[tuple[Template, Entry]] = []
        for entry in self.catalog.entries if self.catalog else ():
            t = entry.compiled()
            if t.weight < 4:
                continue  # too little text to recognise a message by
            if len(t.parts) == 1:
                exact.setdefault(t.parts[0], entry)
            else:
                templated.append((t, entry))
        templated.sort(key=lambda te: -te[0].weight)
        # a template's message starts with its first piece and ends with its last:
        # filed under the first piece's head, else the last piece's tail, else loose
        head: dict[str, list[int]] = {}
        tail: dict[str, list[int]] = {}
        headless: list[int] = []
        for i, (t, _) in enumerate(templated):
            if len(t.parts[0]) >= _HEAD:
                head.setdefault(t.parts[0][:_HEAD], []).append(i)
            elif len(t.parts[-1]) >= _HEAD:
                tail.setdefault(t.parts[-1][-_HEAD:], []).append(i)
            else:
                headless.append(i)
        # published last: another thread sees either nothing or the whole index
        self._templated, self._head, self._tail = tuple(templated), head, tail
        self._headless = headless
        self._exact = exact
        return exact

    def documented(self, message: str | None) -> Entry | None:
        """The catalog entry whose template the message fits, if any."""
        if not message:
            return None
        folded = fold(message)
        exact = self._exact
        if exact is None:
            exact = self._message_index()
        hit = exact.get(folded)
        if hit is not None:
            return hit
        found = self._head.get(folded[:_HEAD])
        tail = self._tail.get(folded[-_HEAD:])
        if tail:
            found = found + tail if found else tail
        order = sorted(found + self._headless) if found else self._headless
        templated = self._templated
        for i in order:  # strongest (most literal text) first
            template, entry = templated[i]
            if template.key in folded and template.matches(folded):
                return entry
        return None

    def _group(
        self, status: int | None, operation: Any, transport: str | None
    ) -> tuple[tuple[Rule, ...], _Sieve | None]:
        """The code-less rules an input with this status, operation and
        transport admits (strongest first), and their sieve (``_sieve``)."""
        key = (status, operation, transport)
        grouped = self._groups.get(key)
        if grouped is None:
            group = tuple(r for r in self._other if r.admits(status, operation, transport))
            grouped = (group, _sieve(group))
            if len(self._groups) >= 1024:
                self._groups.clear()
            self._groups[key] = grouped
        return grouped

    def select(self, probe: Probe) -> tuple[Rule | None, Entry | None]:
        """The winning rule for a probe, and the catalog entry its message fit.

        When the probe has no code, or a code no rule or catalog knows, a
        message that fits a documented template lends the code of that entry.
        """
        code, message, status, operation, transport = probe
        entry = None
        if message is not None and (code is None or code not in self.known_codes):
            entry = self.documented(message)
            if entry is not None:
                code = entry.code
                probe = make_probe(code, message, status, operation, transport)
        folded = lowered = None  # the message is folded when a rule first needs it
        best: Rule | None = None
        # the code's rules, then the code-less ones its input admits; each sorted
        # strongest first: past a rule no stronger than the best so far, none of
        # the rest of that list can win
        by_code: Sequence[Rule] = self._by_code.get(code, ()) if code is not None else ()
        for listed in (by_code, None):
            rules: Sequence[Rule] | None = listed
            if rules is None:  # the code-less rules, unless none can beat the best
                if best is not None and best.specificity >= self._strongest_other:
                    break
                grouped = self._groups.get((status, operation, transport))
                if grouped is None:
                    grouped = self._group(status, operation, transport)
                rules, sieve = grouped
                if sieve is not None and message is not None:
                    # every one of them needs text: is any of it there at all?
                    if folded is None:
                        folded, lowered = fold(message), ascii_lowered(message)
                    if lowered is not None:
                        keys, literals = sieve
                        for key in keys:
                            if key in folded:
                                break
                        else:
                            for literal in literals:
                                if literal in lowered:
                                    break
                            else:
                                break  # none is: no code-less rule can match
            for rule in rules:
                if best is not None and rule.specificity <= best.specificity:
                    break
                if rule.has_message:
                    if folded is None:
                        if message is None:
                            continue  # a message condition, and no message
                        folded, lowered = fold(message), ascii_lowered(message)
                    gate = rule._gate
                    if gate is _UNSET:
                        gate = rule.gate
                    if gate is not None:  # is the text its message condition needs there?
                        keys, literals = gate
                        for key in keys:
                            if key in folded:
                                break
                        else:
                            if literals is None:
                                continue
                            if lowered is not None:
                                for literal in literals:
                                    if literal in lowered:
                                        break
                                else:
                                    continue
                if rule.matches(probe, folded, lowered):
                    best = rule
        return best, entry

    def witness_probes(self, rule: Rule) -> list[Probe]:
        """Inputs this rule is meant to decide: one per witness message (or one)."""
        w = rule.when
        codes: Sequence[str | None] = [None]
        if rule.codes is not None:
            codes = [*sorted(rule.codes)]
        elif w.code_range is not None:
            lo, hi = w.code_range
            codes = [
                next(
                    (
                        str(n)
                        for n in range(lo, min(hi, lo + 100_000) + 1)
                        if str(n) not in self.known_codes
                    ),
                    str(lo),
                )
            ]
        messages: list[str | None] = [None]
        if rule.has_message:
            messages = list(dict.fromkeys(self.witnesses(rule))) or [None]
        status = None
        if rule.statuses is not None:
            status = min(rule.statuses)
        elif w.http_status_range is not None:
            status = w.http_status_range[0]
        operation = sorted(rule.operations)[0] if rule.operations else None
        transport = sorted(rule.transports)[0] if rule.transports else None
        return [
            Probe(code, bound(m) if m else None, status, operation, transport)
            for code in codes
            for m in messages
        ]

    def witness_probe(self, rule: Rule) -> Probe | None:
        """An input that selects this rule, or None when no witness does.

        None means the rule is shadowed by stronger rules for every input it
        was written for (or, with a message condition, has no example).
        """
        for probe in self.witness_probes(rule):
            if self.select(probe)[0] is rule:
                return probe
        return None
