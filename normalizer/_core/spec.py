"""An exchange's compiled spec (``exchange.yaml`` as plain data), read by attribute.

``normalizer._formats`` validates ``exchange.yaml`` and compiles it to plain
mappings and lists; ``Frozen`` gives the engine attribute access over them
(``spec.response.code_fields``), read-only.
"""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any


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
