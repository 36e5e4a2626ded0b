"""The public result types: frozen pydantic models.

They are built on the error path of every router, so the engine builds them
with ``_build``, which skips validation: every value it passes has already been
checked by the engine. Users who build them by hand get full validation.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .._formats.ontology import Action, Category, Operation, Precondition, Scope


class RawInput(BaseModel):
    """Exactly what the caller passed to ``normalize()``, kept for the record.

    The values are the caller's own objects (not copies): a dict body is the
    same dict.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    body: Any = None
    http_status: Any = None
    headers: Any = None
    code: Any = None
    message: Any = None
    error: BaseException | None = None


class NormalizedError(BaseModel):
    """One exchange error, placed in the ontology, with the evidence.

    ``category`` is the top-level category; ``subcategory`` the finer one
    (``"AUTH.SIGNATURE"``) or None. ``rule_id``, ``rationale`` and
    ``source_url`` say which rule decided and why; they are None when nothing
    matched (category UNKNOWN). ``documented_code`` is the catalog code a
    message was recognised as when the input carried no (known) code.
    ``items`` holds the per-item results of a batch answer, each with its
    ``item_index`` in the answer's list. ``raw`` keeps the input as given.

    Equal errors hash equally; ``raw`` takes no part in the hash.
    """

    model_config = ConfigDict(frozen=True)

    exchange: str
    category: Category
    subcategory: str | None = None
    code: str | None = None
    http_status: int | None = None
    message: str | None = None
    rule_id: str | None = None
    rationale: str | None = None
    source_url: str | None = None
    retry_after_s: float | None = None
    operation: Operation | None = None
    documented_code: str | None = None
    item_index: int | None = None
    items: tuple[NormalizedError, ...] = ()
    raw: RawInput = Field(default_factory=RawInput, repr=False)

    def __hash__(self) -> int:
        return hash(
            (
                self.exchange,
                self.category,
                self.subcategory,
                self.code,
                self.http_status,
                self.message,
                self.rule_id,
                self.retry_after_s,
                self.operation,
                self.item_index,
                self.items,
            )
        )

    @property
    def label(self) -> str:
        """The most specific ontology name: the subcategory, else the category."""
        return self.subcategory or self.category.value


class Recommendation(BaseModel):
    """What to do about one error, and why.

    ``delay_s`` is the wait before the next attempt (RETRY, QUERY_THEN_RETRY)
    and 0 for HALT and ESCALATE. ``hold_s`` is how long a HALT should hold its
    scope (None: until lifted). ``precondition`` names what to do first.
    ``policy_rule_id`` is the policy rule that decided; ``guard`` the safety
    guard that overrode it, if any. ``retries_exhausted`` says the action would
    have been a retry but the policy's attempts are used up.
    """

    model_config = ConfigDict(frozen=True)

    action: Action
    delay_s: float = 0.0
    max_attempts: int = 1
    attempt: int = 1
    scope: Scope = Scope.REQUEST
    precondition: Precondition | None = None
    hold_s: float | None = None
    reason: str
    policy_rule_id: str
    guard: str | None = None
    retries_exhausted: bool = False


_SETATTR = object.__setattr__
# BaseModel keeps these three in __slots__; setting them through their slot
# descriptors skips object.__setattr__'s attribute lookup. Measured on the
# benchmark machine: 0.83 -> 0.57 us per object, and normalize() plus
# recommend() build three objects per call (bench/, "Performance" in the README).
_SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__
_NEW = object.__new__


def _build(cls: type[BaseModel], values: dict[str, Any]) -> Any:
    """Construct a model from values already known to be valid.

    Like ``model_construct`` but without its per-call bookkeeping; ``values``
    must name every field (defaults are not filled in).
    """
    obj = _NEW(cls)
    _SETATTR(obj, "__dict__", values)
    _SET_FIELDS_SET(obj, _FIELDS[cls])
    _SET_EXTRA(obj, None)
    _SET_PRIVATE(obj, None)
    return obj


_FIELDS: dict[type[BaseModel], set[str]] = {
    cls: set(cls.model_fields) for cls in (RawInput, NormalizedError, Recommendation)
}
