"""The conditions on the situation of an error, defined once for every file format.

A policy rule's ``when`` (``policy.py``), an escalation pattern (``when`` or a
``sequence`` step, ``escalation.py``) and a venue rule's ``when``
(``rules.py``, its ``operation``) say the same kinds of thing about the
situation an error happened in, and say them here, once:

- ``category``: categories or subcategories of the ontology (``RATE_LIMIT``,
  ``NOT_FOUND.ORDER``); each label is checked against the ontology;
- ``exchange``: venue names (the folder names under ``rules/``);
- ``operation``: what the request was doing (``place_order``, ``query``...).

A single value may be written without brackets (``category: RATE_LIMIT``). A
condition lists 1 to ``MAX_VALUES_PER_CONDITION`` values; every condition given
must hold. ``Situation`` carries the three; a format adds its own conditions
by extending it (``idempotent`` for policies; ``not_category``, ``account`` and
``exhausted`` for escalation patterns).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from .._core.vocabulary import Operation
from .compiled import ONTOLOGY
from .fields import VenueName

#: At most this many values in one condition.
MAX_VALUES_PER_CONDITION = 16

_Size = Field(min_length=1, max_length=MAX_VALUES_PER_CONDITION)


def one_or_many(value: Any) -> Any:
    """A single value written without brackets is a list of one."""
    return [value] if isinstance(value, str) else value


def _labels(value: list[str]) -> list[str]:
    for label in value:
        ONTOLOGY.parse_label(label)
    return value


#: Categories or subcategories of the ontology.
Labels = Annotated[list[str], _Size, BeforeValidator(one_or_many), AfterValidator(_labels)]
#: Venue names.
Exchanges = Annotated[list[VenueName], _Size, BeforeValidator(one_or_many)]
#: Operations.
Operations = Annotated[list[Operation], _Size, BeforeValidator(one_or_many)]


class Situation(BaseModel):
    """Conditions on the situation of an error: every one given must hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: Labels | None = None
    exchange: Exchanges | None = None
    operation: Operations | None = None
