"""Rule files: their schema (pydantic) and their compilation to the core's rules.

Matching is defined on the compiled form (``normalizer._core.table``); a rule's
precedence, its rank within its folder (``specificity``) and its folder's
layer (``with_layer``), in ``normalizer._core.precedence`` and nowhere else;
the conflict check in ``normalizer._core.conflicts``. What a user's folder may
change of the bundled rules is checked in ``normalizer._formats.overrides``.

A rule may say ``outcome:`` (NOT_SENT, REJECTED, UNKNOWN) to override its
category's declared outcome; UNKNOWN if and only if the category is
UNKNOWN_STATE. A rule declaring REJECTED or NOT_SENT says, with its ``why``
and source, that the venue did nothing: only then is a 5xx or busy answer to a
write not read as an unknown outcome (``recommend``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .._core.errors import RuleFileError
from .._core.precedence import with_layer
from .._core.table import (
    TRANSPORT_KINDS,
    WEIGHTS,
    Condition,
    Probe,
    Rule,
    RuleSet,
    condition_kinds,
    specificity,
)
from .._core.text import MAX_MESSAGE_CHARS, Template, bound, fold
from .._core.vocabulary import Category, Outcome
from .compiled import ONTOLOGY
from .conditions import Operations
from .fields import VENUE_NAME, Code, OneLine, Url
from .regexcheck import check as check_regex
from .yaml import Located, validate

__all__ = [
    "TRANSPORT_KINDS",
    "WEIGHTS",
    "Condition",
    "ExchangeSpec",
    "Probe",
    "Rule",
    "RuleMeta",
    "RuleSet",
    "RuleSpec",
    "RulesFile",
    "When",
    "compile_rules",
    "condition_of",
    "load_rules_file",
    "specificity",
    "with_layer",
]

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,79}$")]

#: How a transport failure happened, as told by the exception the caller caught.
TransportKind = Literal[
    "connect_timeout",
    "connect_failed",
    "pool_timeout",
    "read_timeout",
    "write_timeout",
    "connection_lost",
    "timeout",
    "other",
]  # the same as TRANSPORT_KINDS (normalizer._core.table), explained there

_MAX_REGEX = 400


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
    operation: Operations | None = None
    transport: list[TransportKind] | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> Any:
        v = _as_list(v)
        if isinstance(v, list):
            return [str(c) if isinstance(c, int) and not isinstance(c, bool) else c for c in v]
        return v

    @field_validator("http_status", "message", "message_regex", "transport", mode="before")
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
            check_regex(pattern)  # compiles, and cannot backtrack without bound
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
        return condition_kinds(self)


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
    #: whether a request this rule decides took effect; default: the ontology's
    outcome: Outcome | None = None
    #: in a user's folder: the bundled rule (or an earlier folder's) this one
    #: decides differently, on purpose (see ``normalizer._formats.overrides``)
    replaces: RuleId | list[RuleId] | None = None
    #: why it does: required with ``replaces``
    reason: OneLine | None = None

    @model_validator(mode="after")
    def _replaces(self) -> RuleSpec:
        if (self.replaces is None) != (self.reason is None):
            raise ValueError("replaces and reason go together: say which rule, and why")
        return self

    @field_validator("category")
    @classmethod
    def _in_ontology(cls, v: str) -> str:
        ONTOLOGY.parse_label(v)  # raises ValueError naming the choices
        return v

    @model_validator(mode="after")
    def _outcome(self) -> RuleSpec:
        if self.outcome is not None:
            unknown_state = self.category.split(".", 1)[0] == Category.UNKNOWN_STATE.value
            if (self.outcome is Outcome.UNKNOWN) != unknown_state:
                raise ValueError(
                    f"outcome {self.outcome.value} with category {self.category}: the outcome "
                    "is UNKNOWN if and only if the category is UNKNOWN_STATE"
                )
        return self

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

    exchange: Annotated[str, StringConstraints(pattern=VENUE_NAME[:-1] + r"|^\*$")]
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
            check_regex(self.message_regex)  # compiles, and cannot backtrack without bound
            compiled = re.compile(self.message_regex)
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
    name: Annotated[str, StringConstraints(pattern=VENUE_NAME)]
    display_name: str
    docs_url: Url
    languages: list[str] = Field(default_factory=lambda: ["en"])
    #: OKX documents sub-codes ``51008_1000`` that the API returns as ``51008``
    subcode_separator: str | None = None
    response: ResponseShape
    #: whether the venue refuses a second order with a client order id it has
    #: seen: for every order it ever had (``all_orders``), only while the first
    #: one is open (``open_orders_only``), or not at all (``none``, the safe
    #: default). Only ``all_orders`` makes resending an order of unknown fate
    #: with the same id safe (``guard.resend-needs-dedupe``).
    client_order_id_dedupe: Literal["all_orders", "open_orders_only", "none"] = "none"
    #: a product line of a venue (``binance-usdm``: ``product_of: binance``), and
    #: how a caller names it: ccxt ids, ccxt market types, request hosts and path
    #: prefixes (read by ``normalizer._formats.products``)
    product_of: Annotated[str, StringConstraints(pattern=VENUE_NAME)] | None = None
    aliases: list[Annotated[str, StringConstraints(pattern=VENUE_NAME)]] = Field(
        default_factory=list
    )
    market_types: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _folder(cls, v: str, info: ValidationInfo) -> str:
        return _in_folder(v, info)

    @model_validator(mode="after")
    def _product(self) -> ExchangeSpec:
        if self.product_of is None:
            if self.aliases or self.market_types or self.hosts or self.paths:
                raise ValueError("aliases, market_types, hosts and paths belong to a product_of")
        elif not self.name.startswith(self.product_of + "-"):
            raise ValueError(f"a product of {self.product_of!r} is named <venue>-<product>")
        return self


# ----------------------------------------------------------------- compiling


def condition_of(w: When) -> Condition:
    """The core condition a validated ``when`` compiles to."""

    def tup(v: list[Any] | None) -> tuple[Any, ...] | None:
        return tuple(v) if v is not None else None

    return Condition(
        code=tup(w.code),
        code_range=tuple(w.code_range) if w.code_range else None,  # type: ignore[arg-type]
        http_status=tup(w.http_status),
        http_status_range=tuple(w.http_status_range) if w.http_status_range else None,  # type: ignore[arg-type]
        message=tup(w.message),
        message_regex=tup(w.message_regex),
        operation=tup(w.operation),
        transport=tup(w.transport),
    )


class RuleMeta(NamedTuple):
    """What a rule file says of a rule beyond what the engine keeps (``Rule``):
    the rule it replaces and why, and the outcome it declares itself."""

    replaces: tuple[str, ...]
    reason: str | None
    declared: Outcome | None
    path: str
    line: int | None


def compile_rules(
    parsed: RulesFile,
    located: Located,
    default_exchange: str,
    meta: dict[str, RuleMeta] | None = None,
) -> list[Rule]:
    """The file's rules compiled; ``meta``, when given, receives each one's ``RuleMeta``."""
    out = []
    for i, spec in enumerate(parsed.rules):
        if meta is not None:
            meta[spec.id] = RuleMeta(
                (spec.replaces,) if isinstance(spec.replaces, str) else tuple(spec.replaces or ()),
                spec.reason,
                spec.outcome,
                str(located.path),
                located.line_of(("rules", i)),
            )
        category, sub = ONTOLOGY.parse_label(spec.category)
        out.append(
            Rule(
                id=spec.id,
                exchange=parsed.exchange,
                category=category,
                subcategory=sub,
                outcome=spec.outcome or ONTOLOGY.outcome_of(category, sub),
                why=spec.why,
                source_url=spec.source or parsed.source_url,
                priority=spec.priority,
                when=condition_of(spec.when),
                examples=tuple(spec.examples),
                path=located.path,
                line=located.line_of(("rules", i)),
            )
        )
    return out


def load_rules_file(
    path: Path, exchange: str, meta: dict[str, RuleMeta] | None = None
) -> list[Rule]:
    from .yaml import load_file

    located = load_file(path, RuleFileError)
    parsed = validate(RulesFile, located, RuleFileError, {"exchange": exchange})
    return compile_rules(parsed, located, exchange, meta)
