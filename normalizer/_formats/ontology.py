"""The shared vocabulary: categories, subcategories, actions, scopes, operations.

The data lives in ``ontology/categories.yaml`` and ``ontology/actions.yaml``; it
is loaded and validated when this module is imported, and the enums below are
checked against it then (a mismatch refuses to import). The tree of categories,
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
"""

from __future__ import annotations

from enum import Enum
from types import MappingProxyType
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .._core.errors import OntologyError, Problem
from .._core.resources import data_dir
from .yaml import Located, load_file, problems_from_validation


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


class Action(_StrEnum):
    """What the caller does next."""

    RETRY = "RETRY"
    QUERY_THEN_RETRY = "QUERY_THEN_RETRY"
    HALT = "HALT"
    ESCALATE = "ESCALATE"


class Scope(_StrEnum):
    """What an action applies to, from narrowest to widest."""

    REQUEST = "request"
    SYMBOL = "symbol"
    ACCOUNT = "account"
    EXCHANGE = "exchange"


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


def operation_of(value: object) -> Operation:
    """``value`` as an Operation; a ValueError naming the choices when it is none.

    An unknown operation is a caller mistake, so it raises.
    """
    if isinstance(value, Operation):
        return value
    if isinstance(value, str) and value in _OPERATIONS:
        return _OPERATIONS[value]
    raise ValueError(f"unknown operation {value!r}; choose one of {list(_OPERATIONS)}")


# ---------------------------------------------------------------- the files

_Upper = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")]
_Lower = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
_Meaning = Annotated[str, StringConstraints(min_length=3, max_length=200)]


class _CategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    meaning: _Meaning
    never_retry: bool = False
    retry_allowed: list[_Upper] = Field(default_factory=list)
    subcategories: dict[_Upper, _Meaning] = Field(default_factory=dict)


class _CategoriesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    categories: dict[_Upper, _CategorySpec]


class _OperationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    meaning: _Meaning
    write: bool
    status_query: _Lower | None = None


class _ActionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    actions: dict[_Upper, _Meaning]
    scopes: dict[_Lower, _Meaning]
    preconditions: dict[_Lower, _Meaning]
    operations: dict[_Lower, _OperationSpec]


def _load(name: str, model: type[BaseModel]) -> tuple[Located, BaseModel]:
    located = load_file(data_dir("ontology") / name, OntologyError)
    try:
        return located, model.model_validate(located.data)
    except ValidationError as exc:
        raise OntologyError(problems_from_validation(exc, located)) from None


def _check_enum(enum: type[Enum], names: list[str], located: Located, field: str) -> None:
    declared = [m.value for m in enum]
    if declared != names:
        raise OntologyError(
            [
                Problem(
                    located.path,
                    located.line_of((field,)),
                    field,
                    f"{enum.__name__} in normalizer/_ontology.py is {declared}, the file says "
                    f"{names}; they must be the same, in the same order",
                )
            ]
        )


class Ontology:
    """The loaded vocabulary, with the lookups the engine needs."""

    def __init__(self) -> None:
        cat_loc, cats = _load("categories.yaml", _CategoriesFile)
        act_loc, acts = _load("actions.yaml", _ActionsFile)
        assert isinstance(cats, _CategoriesFile)
        assert isinstance(acts, _ActionsFile)
        _check_enum(Category, list(cats.categories), cat_loc, "categories")
        _check_enum(Action, list(acts.actions), act_loc, "actions")
        _check_enum(Scope, list(acts.scopes), act_loc, "scopes")
        _check_enum(Precondition, list(acts.preconditions), act_loc, "preconditions")
        _check_enum(Operation, list(acts.operations), act_loc, "operations")
        problems = []
        for op_name, op in acts.operations.items():
            if op.status_query is not None and op.status_query not in acts.preconditions:
                field = f"operations.{op_name}.status_query"
                problems.append(
                    Problem(
                        act_loc.path,
                        act_loc.line_of(("operations", op_name, "status_query")),
                        field,
                        f"{op.status_query!r} is not one of the preconditions",
                    )
                )
        if problems:
            raise OntologyError(problems)

        self.category_meaning = MappingProxyType(
            {Category(name): spec.meaning for name, spec in cats.categories.items()}
        )
        subs: dict[str, Category] = {}
        sub_meaning: dict[str, str] = {}
        never_retry: set[str] = set()
        retry_ok: set[str] = set()
        for name, spec in cats.categories.items():
            if spec.never_retry:
                never_retry.add(name)
            for sub in spec.retry_allowed:
                if sub not in spec.subcategories:
                    raise OntologyError(
                        [
                            Problem(
                                cat_loc.path,
                                cat_loc.line_of(("categories", name, "retry_allowed")),
                                f"categories.{name}.retry_allowed",
                                f"{sub!r} is not a subcategory of {name}",
                            )
                        ]
                    )
                retry_ok.add(f"{name}.{sub}")
            for sub, meaning in spec.subcategories.items():
                full = f"{name}.{sub}"
                subs[full] = Category(name)
                sub_meaning[full] = meaning
        #: "AUTH.SIGNATURE" -> Category.AUTH, for every subcategory
        self.subcategories = MappingProxyType(subs)
        self.subcategory_meaning = MappingProxyType(sub_meaning)
        #: categories the recommender never answers with RETRY ...
        self.never_retry = frozenset(Category(n) for n in never_retry)
        #: ... except these subcategories of them
        self.retry_allowed = frozenset(retry_ok)
        self.action_meaning = MappingProxyType({Action(k): v for k, v in acts.actions.items()})
        self.scope_meaning = MappingProxyType({Scope(k): v for k, v in acts.scopes.items()})
        self.precondition_meaning = MappingProxyType(
            {Precondition(k): v for k, v in acts.preconditions.items()}
        )
        self.operation_meaning = MappingProxyType(
            {Operation(k): v.meaning for k, v in acts.operations.items()}
        )
        self.writes = frozenset(Operation(k) for k, v in acts.operations.items() if v.write)
        self.status_query = MappingProxyType(
            {
                Operation(k): Precondition(v.status_query)
                for k, v in acts.operations.items()
                if v.status_query
            }
        )

    def parse_label(self, label: str) -> tuple[Category, str | None]:
        """``"AUTH.SIGNATURE"`` -> ``(AUTH, "AUTH.SIGNATURE")``; ``"AUTH"`` -> ``(AUTH, None)``.

        Raises ``ValueError`` naming the nearest valid labels when ``label`` is
        not in the ontology.
        """
        if label in self.subcategories:
            return self.subcategories[label], label
        try:
            return Category(label), None
        except ValueError:
            pass
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


ONTOLOGY = Ontology()
