"""The supervisor: stateful escalation over the stream of errors a router meets.

``recommend()`` judges one error. A ``Supervisor`` sees them all: five rate
limits from one venue in ten seconds pause the venue, an AUTH refusal halts
the account, an idempotent placement in UNKNOWN_STATE that two queries then
report NOT_FOUND may be placed again. What counts as such a run is written in
the policy file's ``escalations:`` section (``normalizer/_escalation.py``).

    sup = Supervisor()                                   # state in this process
    sup = Supervisor(store="redis://127.0.0.1:6379/0", namespace="desk1")  # a fleet
    d = sup.observe(err, operation="place_order", account="acct1", symbol="BTC-USDT",
                    request_id="r-17", event_id="evt-1")
    d.action, d.scope, d.scope_key, d.until, d.replace
    sup.halted("OKX", account="acct1")                   # the gate before sending
    sup.observe_success("okx", account="acct1")          # may lift halts
    sup.status()                                         # what is halted, until when
    await sup.aobserve(err, ...)                         # asyncio routers (also ahalted, ...)

Layout
------
- ``_matchers``: each single-error condition (a ``when`` or a sequence step)
  compiled to a Python predicate.
- ``_sequences``: the sequence rules, joined on the request id by
  durable-rules (one host per process, shared by every supervisor).
- ``_stores``: where counts, windows, streaks, attempts and halts live:
  ``MemoryStore`` (the default) or ``RedisStore`` (a fleet; every event applied
  by one server-side Lua script).
- ``_supervisor``: the decision logic, the same whatever the store.

Decisions. The per-error recommendation is the starting point (a completed
sequence replaces it). A rule that fires adds its own action; a halt in force
on the error's exchange, account, symbol or request adds a HALT for the time
that remains. The strongest wins: ESCALATE over HALT over QUERY_THEN_RETRY
over RETRY, then the wider scope, then the longer hold. So no decision is
RETRY while a scope the request belongs to is halted.

Scope keys: ``okx``, ``okx:acct1``, ``okx:acct1:BTC-USDT``,
``okx:acct1:BTC-USDT:r-17``; ``-`` stands for a missing account or symbol and
identifiers are escaped so that no two differ only in where a ``:`` falls
(``_types.key_part``). Exchange names are folded as ``normalize()`` folds them.

Time. ``clock`` (``time.monotonic`` in memory; the Redis server's clock with
Redis, so a fleet shares one) never goes back: an earlier reading is taken as
the latest seen, and a reading that is NaN, infinite or not a number is
replaced by the latest seen (the first ever such reading counts as 0). A
clock that jumps forward ends halts and windows early.

Bounds. At most ``max_tracked`` keys per table (attempts, windows, streaks,
halts, event ids, unfinished sequences), the oldest forgotten first; what no
window can count any more is swept as the stream goes, so memory stays flat.

Fleet (Redis). Counts, windows, streaks, attempts and halts live in Redis;
each event is applied atomically by one server-side script; halts expire by
themselves (TTL); ``status()``, ``halted()``, ``lift()`` and
``observe_success()`` act for the fleet; ``event_id`` deduplicates
redeliveries. Sequences stay per process. When Redis cannot be reached,
``observe()`` answers HALT on the exchange for ``STORE_RETRY_S`` and
``halted()`` reports a ``store-unreachable`` halt (``on_store_error="halt"``,
the default) or both raise ``StoreUnavailable`` (``"raise"``): never a RETRY.
"""

from .._core.errors import StoreUnavailable, SupervisorArgumentError, SupervisorClosed
from ._stores import MemoryStore
from ._supervisor import STORE_RETRY_S, Supervisor
from ._types import Decision, Halt

__all__ = [
    "STORE_RETRY_S",
    "Decision",
    "Halt",
    "MemoryStore",
    "StoreUnavailable",
    "Supervisor",
    "SupervisorArgumentError",
    "SupervisorClosed",
]


def __getattr__(name: str) -> object:
    if name == "RedisStore":  # needs redis-py: imported on first use
        from ._stores.redis import RedisStore

        return RedisStore
    raise AttributeError(f"module 'normalizer.supervisor' has no attribute {name!r}")
