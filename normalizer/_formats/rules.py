"""Rule files: schema, compilation, precedence, conflicts, and matching.

Which rule wins is defined here and nowhere else (``Rule.specificity``):

1. a higher ``priority`` wins (default 0; for deliberate overrides);
2. then the kinds of condition the rule has, weighted as bits:
   exact code 64, message 32, code range 16, operation 8, HTTP status 4,
   transport 2, and 1 for an exchange's own rule over a common one;
3. then the narrower code range, then the narrower set of HTTP statuses.

Two rules of one exchange that tie on all of that, can match the same input,
and disagree on the category are refused at load time. Whether two message
conditions can match the same input is decided on witnesses: each rule's
examples, its templates and the catalog messages of its codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .._core.errors import Problem, RuleFileError
from .._core.text import MAX_MESSAGE_CHARS, Template, bound, fold
from .catalog import Catalog, CatalogEntry, Code
from .ontology import ONTOLOGY, Category, Operation
from .yaml import Located, validate

Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,79}$")]
OneLine = Annotated[str, StringConstraints(min_length=8, max_length=240, pattern=r"^[^\n]+$")]

#: How a transport failure happened, as told by the exception the caller caught.
TransportKind = Literal[
    "connect_timeout",  # no connection within the timeout: never sent
    "connect_failed",  # refused, DNS failure, TLS handshake failure: never sent
    "pool_timeout",  # no free connection in the client's pool: never sent
    "read_timeout",  # sent, no answer in time
    "write_timeout",  # timed out while sending: may have been received
    "connection_lost",  # reset or closed after sending
    "timeout",  # a timeout of unknown phase
    "other",  # a transport failure of unknown kind
]
TRANSPORT_KINDS: tuple[str, ...] = TransportKind.__args__  # type: ignore[attr-defined]

_MAX_REGEX = 400

WEIGHTS = {
    "code": 64,
    "message": 32,
    "code_range": 16,
    "operation": 8,
    "http_status": 4,
    "transport": 2,
    "own": 1,
}


def _as_list(value: Any) -> Any:
    if value is None or isinstance(value, list):
        return value
    return [value]


class When(BaseModel):
    """The conditions of a rule; every one given must hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: list[Code] | None = None
    code_range: tuple[int, int] | None = None
    http_status: list[Annotated[int, Field(ge=100, le=599)]] | None = None
    http_status_range: (
        tuple[Annotated[int, Field(ge=100, le=599)], Annotated[int, Field(ge=100, le=599)]] | None
    ) = None
    message: (
        list[Annotated[str, StringConstraints(min_length=3, max_length=MAX_MESSAGE_CHARS)]] | None
    ) = None
    message_regex: (
        list[Annotated[str, StringConstraints(min_length=2, max_length=_MAX_REGEX)]] | None
    ) = None
    operation: list[Operation] | None = None
    transport: list[TransportKind] | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> Any:
        v = _as_list(v)
        if isinstance(v, list):
            return [str(c) if isinstance(c, int) and not isinstance(c, bool) else c for c in v]
        return v

    @field_validator(
        "http_status", "message", "message_regex", "operation", "transport", mode="before"
    )
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return _as_list(v)

    @field_validator("code_range", "http_status_range")
    @classmethod
    def _range(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and v[0] > v[1]:
            raise ValueError(f"range [{v[0]}, {v[1]}] is empty: the low end must come first")
        return v

    @field_validator("message_regex")
    @classmethod
    def _compiles(cls, v: list[str] | None) -> list[str] | None:
        for pattern in v or ():
            try:
                re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(
                    f"regular expression {pattern!r} does not compile: {exc}"
                ) from None
        return v

    @field_validator("message")
    @classmethod
    def _has_text(cls, v: list[str] | None) -> list[str] | None:
        for template in v or ():
            if Template(template).weight < 3:
                raise ValueError(
                    f"message template {template!r} has too little literal text to match on"
                )
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> When:
        if not self.kinds():
            raise ValueError("a rule needs at least one condition")
        return self

    def kinds(self) -> list[str]:
        out = []
        if self.code is not None:
            out.append("code")
        if self.message is not None or self.message_regex is not None:
            out.append("message")
        if self.code_range is not None:
            out.append("code_range")
        if self.operation is not None:
            out.append("operation")
        if self.http_status is not None or self.http_status_range is not None:
            out.append("http_status")
        if self.transport is not None:
            out.append("transport")
        return out


class RuleSpec(BaseModel):
    """One mapping rule, as written in a rules file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: RuleId
    category: str
    why: OneLine
    when: When
    examples: list[
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    ] = Field(default_factory=list)
    source: Url | None = None
    priority: Annotated[int, Field(ge=-100, le=100)] = 0

    @field_validator("category")
    @classmethod
    def _in_ontology(cls, v: str) -> str:
        ONTOLOGY.parse_label(v)  # raises ValueError naming the choices
        return v

    @model_validator(mode="after")
    def _examples(self) -> RuleSpec:
        if self.when.message_regex and not self.examples:
            raise ValueError("a rule with message_regex needs examples: messages it must match")
        for example in self.examples:
            if (self.when.message or self.when.message_regex) and not _message_holds(
                self.when.message, self.when.message_regex, example
            ):
                raise ValueError(
                    f"example {example!r} does not match the rule's own message condition"
                )
        return self


class RulesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: Annotated[str, StringConstraints(pattern=r"^([a-z][a-z0-9_]*|\*)$")]
    source_url: Url
    rules: list[RuleSpec]

    @field_validator("exchange")
    @classmethod
    def _folder(cls, v: str, info: ValidationInfo) -> str:
        return _in_folder(v, info)


def _in_folder(name: str, info: ValidationInfo) -> str:
    """A file names the exchange whose folder it is in (context ``exchange``)."""
    expected = (info.context or {}).get("exchange")
    if expected is not None and name != expected:
        raise ValueError(f"is {name!r} but the file is in the {expected!r} folder")
    return name


def _message_holds(templates: list[str] | None, regexes: list[str] | None, message: str) -> bool:
    folded = fold(message)
    if templates and any(Template(t).matches(folded) for t in templates):
        return True
    bounded = bound(message)
    return bool(regexes and any(re.search(r, bounded, re.IGNORECASE) for r in regexes))


# ------------------------------------------------------------ exchange spec


class ItemsShape(BaseModel):
    """Where a batch answer lists its items (``field``: a dotted path, ``""``
    for a body that is itself the list), and how a failed item is told."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    field: str
    code_fields: list[str] = Field(default_factory=list)
    message_fields: list[str] = Field(default_factory=list)
    success_codes: list[str] = Field(default_factory=lambda: ["0"])
    success_field: str | None = None  # a boolean per item (Gate ``succeeded``)
    all_failed: bool = False  # every item listed is a failure (Bitget ``failureList``)


class ErrorStringsShape(BaseModel):
    """Errors as strings ``<severity><category>:<message>[:<detail>]`` (Kraken)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    field: str
    warning_prefixes: list[str] = Field(default_factory=lambda: ["W"])
    separator: str = ":"


class RetryHintSpec(BaseModel):
    """Where a venue says how long to wait: one of a header, a body field, or a
    regular expression (one group) on the message; what unit; when it applies
    (only for these codes or HTTP statuses, when given)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    header: str | None = None
    body_field: str | None = None
    message_regex: Annotated[str, StringConstraints(max_length=200)] | None = None
    unit: Literal["seconds", "milliseconds", "epoch_s", "epoch_ms", "retry_after"]
    codes: list[str] | None = None
    http_status: list[Annotated[int, Field(ge=100, le=599)]] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> RetryHintSpec:
        given = [x for x in (self.header, self.body_field, self.message_regex) if x]
        if len(given) != 1:
            raise ValueError("give exactly one of header, body_field, message_regex")
        if self.message_regex is not None:
            try:
                compiled = re.compile(self.message_regex)
            except re.error as exc:
                raise ValueError(f"message_regex does not compile: {exc}") from None
            if compiled.groups != 1:
                raise ValueError("message_regex needs exactly one group: the number")
        return self


class ResponseShape(BaseModel):
    """Where an exchange puts the code, message, failed items and wait hints
    in its error bodies (read by ``_envelope``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    code_fields: list[str] = Field(default_factory=list)
    message_fields: list[str] = Field(default_factory=list)
    success_codes: list[str] = Field(default_factory=lambda: ["0"])
    success_field: str | None = None
    vague_codes: list[str] = Field(default_factory=list)
    items: ItemsShape | list[ItemsShape] | None = None
    error_strings: ErrorStringsShape | None = None
    retry_hints: list[RetryHintSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _reads_something(self) -> ResponseShape:
        if not (self.code_fields or self.message_fields or self.items or self.error_strings):
            raise ValueError(
                "a response shape needs code_fields, message_fields, items or error_strings"
            )
        return self

    @property
    def item_shapes(self) -> tuple[ItemsShape, ...]:
        if self.items is None:
            return ()
        return tuple(self.items) if isinstance(self.items, list) else (self.items,)


class ExchangeSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    display_name: str
    docs_url: Url
    languages: list[str] = Field(default_factory=lambda: ["en"])
    #: OKX documents sub-codes ``51008_1000`` that the API returns as ``51008``
    subcode_separator: str | None = None
    response: ResponseShape

    @field_validator("name")
    @classmethod
    def _folder(cls, v: str, info: ValidationInfo) -> str:
        return _in_folder(v, info)


# ----------------------------------------------------------------- compiled


@dataclass(frozen=True)
class Probe:
    """What the matcher looks at, extracted from one exchange input."""

    code: str | None = None
    message: str | None = None  # bounded
    http_status: int | None = None
    operation: Operation | None = None
    transport: str | None = None

    @property
    def code_int(self) -> int | None:
        c = self.code
        if c is None:
            return None
        try:
            return int(c)
        except ValueError:
            return None


@dataclass(frozen=True, eq=False)
class Rule:
    """A compiled rule. ``category``/``subcategory`` are what it maps onto."""

    id: str
    exchange: str  # "*" for common rules
    category: Category
    subcategory: str | None
    why: str
    source_url: str
    priority: int
    when: When
    examples: tuple[str, ...]
    path: str
    line: int | None
    codes: frozenset[str] | None = None
    templates: tuple[Template, ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()
    statuses: frozenset[int] | None = None
    operations: frozenset[Operation] | None = None
    transports: frozenset[str] | None = None
    specificity: tuple[int, ...] = field(default=())

    @property
    def label(self) -> str:
        return self.subcategory or self.category.value

    def matches(self, probe: Probe, folded: str | None) -> bool:
        w = self.when
        if self.codes is not None and probe.code not in self.codes:
            return False
        if w.code_range is not None:
            n = probe.code_int
            if n is None or not (w.code_range[0] <= n <= w.code_range[1]):
                return False
        if self.statuses is not None or w.http_status_range is not None:
            s = probe.http_status
            if s is None:
                return False
            in_set = self.statuses is not None and s in self.statuses
            in_range = w.http_status_range is not None and (
                w.http_status_range[0] <= s <= w.http_status_range[1]
            )
            if not (in_set or in_range):
                return False
        if self.operations is not None and probe.operation not in self.operations:
            return False
        if self.transports is not None and probe.transport not in self.transports:
            return False
        if self.templates or self.regexes:
            if probe.message is None or folded is None:
                return False
            if not (
                any(t.matches(folded) for t in self.templates)
                or any(r.search(probe.message) for r in self.regexes)
            ):
                return False
        return True

    def message_matches(self, message: str) -> bool:
        if not (self.templates or self.regexes):
            return True
        folded = fold(message)
        b = bound(message)
        return any(t.matches(folded) for t in self.templates) or any(
            r.search(b) for r in self.regexes
        )


def specificity(spec: RuleSpec, own: bool) -> tuple[int, ...]:
    """The precedence key of a rule: higher wins (see the module docstring)."""
    w = spec.when
    bits = sum(WEIGHTS[k] for k in w.kinds()) + (WEIGHTS["own"] if own else 0)
    range_width = (w.code_range[1] - w.code_range[0]) if w.code_range else 0
    status_width = 0
    if w.http_status is not None:
        status_width += len(set(w.http_status))
    if w.http_status_range is not None:
        status_width += w.http_status_range[1] - w.http_status_range[0] + 1
    return (spec.priority, bits, -range_width, -status_width)


def compile_rules(parsed: RulesFile, located: Located, default_exchange: str) -> list[Rule]:
    out = []
    for i, spec in enumerate(parsed.rules):
        category, sub = ONTOLOGY.parse_label(spec.category)
        w = spec.when
        out.append(
            Rule(
                id=spec.id,
                exchange=parsed.exchange,
                category=category,
                subcategory=sub,
                why=spec.why,
                source_url=spec.source or parsed.source_url,
                priority=spec.priority,
                when=w,
                examples=tuple(spec.examples),
                path=located.path,
                line=located.line_of(("rules", i)),
                codes=frozenset(w.code) if w.code is not None else None,
                templates=tuple(Template(t) for t in w.message or ()),
                regexes=tuple(re.compile(r, re.IGNORECASE) for r in w.message_regex or ()),
                statuses=frozenset(w.http_status) if w.http_status is not None else None,
                operations=frozenset(w.operation) if w.operation is not None else None,
                transports=frozenset(w.transport) if w.transport is not None else None,
                specificity=specificity(spec, own=parsed.exchange != "*"),
            )
        )
    return out


def load_rules_file(path: Path, exchange: str) -> list[Rule]:
    from .yaml import load_file

    located = load_file(path, RuleFileError)
    parsed = validate(RulesFile, located, RuleFileError, {"exchange": exchange})
    return compile_rules(parsed, located, exchange)


# ------------------------------------------------------------ the rule set


class RuleSet:
    """Everything needed to classify one exchange's errors."""

    def __init__(
        self,
        spec: ExchangeSpec,
        catalog: Catalog | None,
        own: list[Rule],
        common: list[Rule],
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.catalog = catalog
        self.rules: tuple[Rule, ...] = tuple(own) + tuple(common)
        self.by_id: Mapping[str, Rule] = {r.id: r for r in self.rules}
        entries = catalog.entries if catalog else ()
        self.documented_codes = frozenset(e.code for e in entries)
        # message -> catalog entry: exact folded texts first, then templates by weight
        self._exact: dict[str, CatalogEntry] = {}
        templated: list[tuple[Template, CatalogEntry]] = []
        for entry in entries:
            t = Template(entry.message)
            if t.weight < 4:
                continue  # too little text to recognise a message by
            if len(t.parts) == 1:
                self._exact.setdefault(t.parts[0], entry)
            else:
                templated.append((t, entry))
        templated.sort(key=lambda te: -te[0].weight)
        self._templated = tuple(templated)
        self.templates = {id(e): Template(e.message) for e in entries}
        # candidate lists, each sorted strongest first
        self._by_code: dict[str, list[Rule]] = {}
        self._other: list[Rule] = []
        for rule in sorted(self.rules, key=lambda r: r.specificity, reverse=True):
            if rule.codes is not None:
                for c in rule.codes:
                    self._by_code.setdefault(c, []).append(rule)
            else:
                self._other.append(rule)
        self.known_codes = self.documented_codes | frozenset(self._by_code)
        self._check()

    # -------------------------------------------------------------- checks

    def _check(self) -> None:
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
        if (a.templates or a.regexes) and (b.templates or b.regexes):
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

    def documented(self, message: str | None) -> CatalogEntry | None:
        """The catalog entry whose template the message fits, if any."""
        if not message:
            return None
        folded = fold(message)
        hit = self._exact.get(folded)
        if hit is not None:
            return hit
        for template, entry in self._templated:
            if template.matches(folded):
                return entry
        return None

    def candidates(self, code: str | None) -> Iterable[Rule]:
        if code is not None:
            yield from self._by_code.get(code, ())
        yield from self._other

    def select(self, probe: Probe) -> tuple[Rule | None, CatalogEntry | None]:
        """The winning rule for a probe, and the catalog entry its message fit.

        When the probe has no code, or a code no rule or catalog knows, a
        message that fits a documented template lends the code of that entry.
        """
        entry = None
        if probe.message is not None and (probe.code is None or probe.code not in self.known_codes):
            entry = self.documented(probe.message)
            if entry is not None:
                probe = Probe(
                    entry.code, probe.message, probe.http_status, probe.operation, probe.transport
                )
        folded = fold(probe.message) if probe.message is not None else None
        best: Rule | None = None
        for rule in self.candidates(probe.code):
            if best is not None and rule.specificity <= best.specificity:
                continue
            if rule.matches(probe, folded):
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
        if rule.templates or rule.regexes:
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
