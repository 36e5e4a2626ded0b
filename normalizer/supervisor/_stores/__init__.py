"""Where a supervisor keeps its counts, windows, streaks, attempts and halts.

``MemoryStore`` (the default) keeps them in the process; ``RedisStore``
(``normalizer.supervisor._stores.redis``) in a Redis server shared by a fleet.
Both apply one event as one step (``Plan`` in, ``Applied`` out) with the same
meaning, which the contract suite ``normalizer.supervisor.testing`` holds each to.
"""

from ._plan import Applied, CountOp, HoldOp, Plan, Store, SyncAsAsync
from .memory import MemoryStore

__all__ = ["Applied", "CountOp", "HoldOp", "MemoryStore", "Plan", "Store", "SyncAsAsync"]
