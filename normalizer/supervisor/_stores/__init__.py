"""Where a supervisor keeps its counts, windows, streaks, attempts and halts.

``MemoryStore`` (the default) keeps them in the process; ``RedisStore``
(``normalizer.supervisor._stores.redis``) in a Redis server shared by a fleet.
Both apply one event as one step (``Plan`` in, ``Applied`` out) with the same
meaning, which the contract suite ``normalizer.supervisor.testing`` holds each to.
"""

from typing import Any

from ..._core.errors import SupervisorArgumentError
from ._plan import Applied, CountOp, HoldOp, Plan, Store, SyncAsAsync
from .memory import MemoryStore

_STORE_METHODS = ("apply", "hold", "success", "halts_on", "lift", "status", "close")

__all__ = [
    "Applied",
    "CountOp",
    "HoldOp",
    "MemoryStore",
    "Plan",
    "Store",
    "SyncAsAsync",
    "make_store",
]


def make_store(store: object, namespace: str, max_tracked: int, lost_grace_s: float | None) -> Any:
    """The store ``Supervisor(store=...)`` names: None, a Redis URL or a ``Store``."""
    if store is None:
        return MemoryStore(max_tracked)
    if isinstance(store, str):
        from .redis import LOST_GRACE_S, URL_SCHEMES, RedisStore

        if not store.startswith(URL_SCHEMES):
            raise SupervisorArgumentError(f"store must be a redis:// URL or a store, not {store!r}")

        grace = LOST_GRACE_S if lost_grace_s is None else lost_grace_s
        return RedisStore(store, namespace=namespace, max_tracked=max_tracked, lost_grace_s=grace)
    if all(callable(getattr(store, m, None)) for m in _STORE_METHODS):
        return store
    raise SupervisorArgumentError(
        f"store must be None, a redis:// URL or a Store (with {', '.join(_STORE_METHODS)}), "
        f"not {store!r}"
    )
