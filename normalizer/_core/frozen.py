"""The one kind of value class the package uses at run time: a frozen, slotted dataclass.

``@frozen`` is ``dataclasses.dataclass(frozen=True, slots=True)`` under one short
name, so that every small record of the core (guards, the rule table's conditions
and probes, problems in files) is declared the same way and reads as what it is.
Declarations read from files are validated by pydantic at load time
(``normalizer._formats``); what they compile into is built from these classes.

``field``, ``replace`` and ``FrozenInstanceError`` are the standard library's.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field, replace

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_: object) -> object:
        return lambda f: f


__all__ = ["FrozenInstanceError", "field", "frozen", "replace"]


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen, slotted dataclass."""
    return dataclass(frozen=True, slots=True)(cls)
