"""The shared vocabulary: categories, subcategories, actions, scopes, operations.

The data lives in ``ontology/categories.yaml`` and ``ontology/actions.yaml``;
``normalizer._formats.ontology`` validates it and checks the enums below
against it (a mismatch refuses to load), and the compiled form (plain data) is
what ``Ontology`` here is built from, without pydantic or YAML. The tree of categories,
which a test keeps equal to the YAML:

    Category
     ├── AUTH                credentials refused
     │    ├── AUTH.API_KEY
     │    ├── AUTH.SIGNATURE
     │    ├── AUTH.TIMESTAMP
     │    ├── AUTH.IP_NOT_ALLOWED
     │    └── AUTH.PERMISSION
     ├── RATE_LIMIT          too many requests
     │    ├── RATE_LIMIT.REQUESTS
     │    ├── RATE_LIMIT.BLOCKED
     │    └── RATE_LIMIT.ORDERS
     ├── KYC                 verification, compliance, regional restriction
     │    ├── KYC.VERIFICATION_REQUIRED
     │    ├── KYC.REGION
     │    ├── KYC.RECIPIENT
     │    ├── KYC.TRAVEL_RULE
     │    └── KYC.COMPLIANCE
     ├── INSUFFICIENT_FUNDS  not enough balance, position or margin
     │    ├── INSUFFICIENT_FUNDS.BALANCE
     │    ├── INSUFFICIENT_FUNDS.POSITION
     │    ├── INSUFFICIENT_FUNDS.FEE
     │    └── INSUFFICIENT_FUNDS.MARGIN
     ├── INVALID_REQUEST     the request itself is wrong
     │    ├── INVALID_REQUEST.PARAMETER
     │    ├── INVALID_REQUEST.MISSING_PARAMETER
     │    ├── INVALID_REQUEST.SYMBOL
     │    ├── INVALID_REQUEST.CURRENCY
     │    ├── INVALID_REQUEST.AMOUNT
     │    ├── INVALID_REQUEST.MIN_AMOUNT
     │    ├── INVALID_REQUEST.MAX_AMOUNT
     │    ├── INVALID_REQUEST.PRECISION
     │    ├── INVALID_REQUEST.PRICE
     │    ├── INVALID_REQUEST.ORDER_TYPE
     │    ├── INVALID_REQUEST.ADDRESS
     │    ├── INVALID_REQUEST.DUPLICATE
     │    ├── INVALID_REQUEST.UNSUPPORTED
     │    ├── INVALID_REQUEST.ACCOUNT_MODE
     │    ├── INVALID_REQUEST.LEVERAGE
     │    ├── INVALID_REQUEST.NO_CHANGE
     │    └── INVALID_REQUEST.REJECTED
     ├── NOT_FOUND           the referenced object does not exist
     │    ├── NOT_FOUND.ORDER
     │    ├── NOT_FOUND.ACCOUNT
     │    ├── NOT_FOUND.RECORD
     │    ├── NOT_FOUND.ADDRESS
     │    ├── NOT_FOUND.RESOURCE
     │    └── NOT_FOUND.POSITION
     ├── LIMIT_EXCEEDED      a quota other than request rate
     │    ├── LIMIT_EXCEEDED.WITHDRAWAL
     │    ├── LIMIT_EXCEEDED.DEPOSIT
     │    ├── LIMIT_EXCEEDED.OPEN_ORDERS
     │    ├── LIMIT_EXCEEDED.POSITION
     │    ├── LIMIT_EXCEEDED.API_KEYS
     │    └── LIMIT_EXCEEDED.RESOURCE
     ├── ACCOUNT_RESTRICTED  account or function frozen, blocked, risk-controlled
     │    ├── ACCOUNT_RESTRICTED.FROZEN
     │    ├── ACCOUNT_RESTRICTED.RISK_CONTROL
     │    ├── ACCOUNT_RESTRICTED.FUNCTION_DISABLED
     │    ├── ACCOUNT_RESTRICTED.SECURITY_HOLD
     │    ├── ACCOUNT_RESTRICTED.SUB_ACCOUNT
     │    ├── ACCOUNT_RESTRICTED.LIQUIDATION
     │    └── ACCOUNT_RESTRICTED.TEMPORARY
     ├── UNAVAILABLE         service, market, chain or feature not available
     │    ├── UNAVAILABLE.SERVICE
     │    ├── UNAVAILABLE.MAINTENANCE
     │    ├── UNAVAILABLE.MARKET
     │    ├── UNAVAILABLE.CHAIN
     │    ├── UNAVAILABLE.FEATURE
     │    ├── UNAVAILABLE.LIQUIDITY
     │    └── UNAVAILABLE.CONNECTION
     ├── UNKNOWN_STATE       the outcome is unknown or still in progress
     │    ├── UNKNOWN_STATE.TIMEOUT
     │    ├── UNKNOWN_STATE.CONNECTION_LOST
     │    ├── UNKNOWN_STATE.SERVER_ERROR
     │    └── UNKNOWN_STATE.IN_PROGRESS
     └── UNKNOWN             nothing matched
          ├── UNKNOWN.UNMAPPED
          ├── UNKNOWN.MALFORMED
          └── UNKNOWN.NO_ERROR

    Action: RETRY, QUERY_THEN_RETRY, HALT, ESCALATE
    Scope: request < symbol < account < exchange
    Outcome: NOT_SENT, REJECTED, UNKNOWN (did the request take effect?)

Each category declares its ``outcome`` in the YAML (a subcategory may declare
its own, a rule may override it): UNKNOWN if and only if the category is
UNKNOWN_STATE.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType

from .errors import ArgumentTypeError, UnknownOperationError

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any


class _StrEnum(str, Enum):
    """A str enum whose str() is its value (``enum.StrEnum`` needs 3.11)."""

    def __str__(self) -> str:
        return str(self.value)


class Category(_StrEnum):
    """Top-level category of a normalized error; the value is the name."""

    AUTH = "AUTH"
    RATE_LIMIT = "RATE_LIMIT"
    KYC = "KYC"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INVALID_REQUEST = "INVALID_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    ACCOUNT_RESTRICTED = "ACCOUNT_RESTRICTED"
    UNAVAILABLE = "UNAVAILABLE"
    UNKNOWN_STATE = "UNKNOWN_STATE"
    UNKNOWN = "UNKNOWN"


class Outcome(_StrEnum):
    """Whether the failed request took effect at the venue.

    ``NOT_SENT``: it never reached the venue (connect failure, DNS, refused,
    pool timeout); the same request may be sent again. ``REJECTED``: the venue
    answered and did not act. ``UNKNOWN``: it may have acted (read timeout, a
    connection lost after sending, a server error on a write, "in progress").
    """

    NOT_SENT = "NOT_SENT"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


class Action(_StrEnum):
    """What the caller does next."""

    RETRY = "RETRY"
    QUERY_THEN_RETRY = "QUERY_THEN_RETRY"
    HALT = "HALT"
    ESCALATE = "ESCALATE"


class Scope(_StrEnum):
    """What an action applies to, from narrowest to widest (``SCOPE_ORDER``)."""

    REQUEST = "request"
    SYMBOL = "symbol"
    ACCOUNT = "account"
    EXCHANGE = "exchange"


#: The one definition of scope width: request < symbol < account < exchange.
SCOPE_ORDER: Mapping[Scope, int] = MappingProxyType({s: i for i, s in enumerate(Scope)})


def wider(a: Scope, b: Scope) -> Scope:
    """The wider of two scopes."""
    return a if SCOPE_ORDER[a] >= SCOPE_ORDER[b] else b


class Precondition(_StrEnum):
    """What to do before acting on a recommendation."""

    RESYNC_CLOCK = "resync_clock"
    QUERY_ORDER_STATUS = "query_order_status"
    QUERY_TRANSFER_STATUS = "query_transfer_status"
    REFRESH_CREDENTIALS = "refresh_credentials"


class Operation(_StrEnum):
    """What the failed request was doing."""

    PLACE_ORDER = "place_order"
    CANCEL_ORDER = "cancel_order"
    AMEND_ORDER = "amend_order"
    QUERY = "query"
    TRANSFER = "transfer"
    WITHDRAW = "withdraw"
    DEPOSIT = "deposit"
    ACCOUNT = "account"
    OTHER = "other"


#: "query" -> Operation.QUERY; a dict lookup is several times cheaper than Operation("query").
_OPERATIONS: dict[str, Operation] = {o.value: o for o in Operation}


def operation_of(value: object, argument: str = "operation") -> Operation:
    """``value`` as an Operation (the enum or its value; case and surrounding
    spaces do not matter, as for venue names: ``" Place_Order "``).

    Anything else is a caller mistake: ``ArgumentTypeError`` for a value that
    is not a string, ``UnknownOperationError`` for a string that names none.
    """
    if type(value) is Operation:
        return value
    if isinstance(value, str):
        op = _OPERATIONS.get(value)
        if op is None and len(value) <= 64:
            op = _OPERATIONS.get(value.strip().lower())
        if op is not None:
            return op
        raise UnknownOperationError(value, list(_OPERATIONS), argument)
    raise ArgumentTypeError(argument, "an Operation or one of its names", value)


class Ontology:
    """The loaded vocabulary, with the lookups the engine needs.

    Built from the compiled (plain) form of the ontology files; see
    ``normalizer._formats.ontology`` for the files and their checks.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        cats: Mapping[str, Any] = data["categories"]
        ops: Mapping[str, Any] = data["operations"]
        self.category_meaning = MappingProxyType(
            {Category(name): c["meaning"] for name, c in cats.items()}
        )
        subs: dict[str, Category] = {}
        sub_meaning: dict[str, str] = {}
        outcomes: dict[str, Outcome] = {}
        for name, c in cats.items():
            outcomes[name] = Outcome(c["outcome"])
            for sub, (meaning, outcome) in c["subcategories"].items():
                full = f"{name}.{sub}"
                subs[full] = Category(name)
                sub_meaning[full] = meaning
                outcomes[full] = Outcome(outcome or c["outcome"])
        #: "AUTH.SIGNATURE" -> Category.AUTH, for every subcategory
        self.subcategories = MappingProxyType(subs)
        self.subcategory_meaning = MappingProxyType(sub_meaning)
        #: the declared outcome of every category and subcategory label
        self.outcomes = MappingProxyType(outcomes)
        #: categories the recommender never answers with RETRY ...
        self.never_retry = frozenset(Category(n) for n, c in cats.items() if c["never_retry"])
        #: ... except these subcategories of them
        self.retry_allowed = frozenset(
            f"{n}.{s}" for n, c in cats.items() for s in c["retry_allowed"]
        )
        self.action_meaning = MappingProxyType({Action(k): v for k, v in data["actions"].items()})
        self.scope_meaning = MappingProxyType({Scope(k): v for k, v in data["scopes"].items()})
        self.precondition_meaning = MappingProxyType(
            {Precondition(k): v for k, v in data["preconditions"].items()}
        )
        self.operation_meaning = MappingProxyType(
            {Operation(k): v["meaning"] for k, v in ops.items()}
        )
        self.writes = frozenset(Operation(k) for k, v in ops.items() if v["write"])
        self.status_query = MappingProxyType(
            {
                Operation(k): Precondition(v["status_query"])
                for k, v in ops.items()
                if v["status_query"]
            }
        )

    def outcome_of(self, category: Category, subcategory: str | None) -> Outcome:
        """The declared outcome of a label: the subcategory's, else the category's."""
        if subcategory is not None:
            hit = self.outcomes.get(subcategory)
            if hit is not None:
                return hit
        return self.outcomes[category.value]

    def parse_label(self, label: str) -> tuple[Category, str | None]:
        """``"AUTH.SIGNATURE"`` -> ``(AUTH, "AUTH.SIGNATURE")``; ``"AUTH"`` -> ``(AUTH, None)``.

        Raises ``ValueError`` naming the nearest valid labels when ``label`` is
        not in the ontology.
        """
        if label in self.subcategories:
            return self.subcategories[label], label
        if label in Category.__members__:
            return Category(label), None
        head = label.split(".", 1)[0]
        if head in Category.__members__:
            options = [s for s, c in self.subcategories.items() if c.value == head]
            raise ValueError(f"{label!r} is not a subcategory of {head}; choose one of {options}")
        raise ValueError(
            f"{label!r} is not a category; choose one of {[c.value for c in Category]}"
        )

    def tree(self) -> str:
        """The category tree drawn as in this module's docstring."""
        lines = ["Category"]
        cats = list(Category)
        for i, cat in enumerate(cats):
            last = i == len(cats) - 1
            lines.append(f" {'└' if last else '├'}── {cat.value}")
            subs = [s for s, c in self.subcategories.items() if c is cat]
            for j, sub in enumerate(subs):
                stem = "     " if last else " │   "
                lines.append(f"{stem}{'└' if j == len(subs) - 1 else '├'}── {sub}")
        return "\n".join(lines)
