"""The supervisor: stateful escalation over the stream of errors a router meets.

``recommend()`` judges one error. A ``Supervisor`` sees them all: five rate
limits from one venue in ten seconds pause the venue, an AUTH refusal halts
the account, an idempotent placement in UNKNOWN_STATE that two queries then
report NOT_FOUND may be placed again. What counts as such a run is written in
the policy file's ``escalations:`` section (``normalizer/_formats/escalation.py``).

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
- ``_plans``: one error to the ``Plan`` a store applies (what each counted
  rule counts, which per-error halts hold).
- ``_decide``: the decisions, the same whatever the store.
- ``_matchers``: each single-error condition compiled to a Python predicate.
- ``_sequences``: the sequence rules, joined on the request id by
  durable-rules where it imports, else by a pure-Python correlator with the
  same decisions (Python 3.13).
- ``_stores``: the ``Store`` protocol, ``MemoryStore`` (the default) and
  ``RedisStore`` (a fleet, one server or a Redis Cluster; every event applied
  by one server-side Lua script).
- ``testing``: the contract suite any store runs (``StoreContract``).

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

Time. In memory, ``clock`` (``time.monotonic`` by default). With a shared
store, the store's (Redis ``TIME``): one clock for the fleet, and ``clock=``
is refused (``testing_clock=`` is the hook for tests). Time never goes back:
an earlier reading is taken as the latest seen; a reading that is NaN,
infinite or not a number is replaced by the latest seen.

Bounds. At most ``max_tracked`` keys per table (attempts, event ids,
unfinished sequences; windows, streaks and halts per scope width), the oldest
forgotten first, except that a halt is never forgotten for room: it widens to
the next scope (``table-full``), and exchange halts are kept. What no window
can count any more is swept as the stream goes, so memory stays flat.

Failures. Every store failure (unreachable, timeout, reset, out of memory,
read-only replica, loading, MOVED/ASK, a store that lost its data) is a
``StoreUnavailable`` answered by ``on_store_error``: ``"halt"`` (default:
HALT on the exchange for ``STORE_RETRY_S``, ``halted()`` reports a
``store-unreachable`` halt) or ``"raise"``: never a RETRY.
"""

from .._core.errors import StoreUnavailable, SupervisorArgumentError, SupervisorClosed
from ._decide import STORE_RETRY_S
from ._stores import Applied, CountOp, HoldOp, MemoryStore, Plan, Store
from ._supervisor import Supervisor
from ._types import Decision, Halt

__all__ = [
    "STORE_RETRY_S",
    "Applied",
    "CountOp",
    "Decision",
    "Halt",
    "HoldOp",
    "MemoryStore",
    "Plan",
    "RedisStore",
    "Store",
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
