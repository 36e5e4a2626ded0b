"""The supervisor: stateful escalation over the stream of errors a router meets.

See ``normalizer/supervisor/__init__.py`` for the whole story; this module
holds the public class. ``_plans`` turns an error into what the store
applies, ``_decide`` builds the decisions, ``_stores`` keeps the state.

(Over 500 lines: the public class is one object, and its docstrings are the
reference of every method and setting.)
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._core.errors import (
    PolicyError,
    StoreUnavailable,
    SupervisorArgumentError,
    SupervisorClosed,
)
from .._core.policy import Policy
from .._core.vocabulary import Action, Operation, Scope, operation_of
from .._engine.recommend import _policy, recommend
from .._engine.results import NormalizedError
from . import _decide
from ._decide import STORE_RETRY_S, halt_strength
from ._matchers import Features
from ._plans import Counted, build_plan
from ._sequences import SequenceTracker
from ._stores import make_store
from ._stores._plan import Plan, Store, SyncAsAsync
from ._types import (
    Decision,
    Halt,
    Keys,
    finite_time,
    fold_exchange,
    seconds_setting,
    tables_setting,
    trusted_decision,
)

__all__ = ["STORE_RETRY_S", "Supervisor"]


class Supervisor:
    """Judges the stream of errors: counts, sequences and halts per scope.

    ``policy``: a policy file path, a loaded ``Policy`` or None for the bundled
    one; its ``escalations:`` section holds the rules. ``store``: None (a
    ``MemoryStore``: state in this process), a Redis URL (``redis://``,
    ``rediss://``, ``unix://``, or ``redis+cluster://`` for a Redis Cluster:
    state shared by every supervisor with the same server and ``namespace``)
    or any object meeting the ``Store`` protocol.

    ``clock``: the time in seconds for a store of this process only
    (default ``time.monotonic``). A shared store (Redis) keeps one clock for
    the fleet, the server's ``TIME``: ``clock=`` is refused there
    (``SupervisorArgumentError``), since one host's clock would move every
    process's halts. ``testing_clock``: a clock for any store, for tests
    that need to move time (never in production with a shared store).

    ``request_memory_s``: how long the failures of a request id are
    remembered to number its attempts. ``max_tracked``: at most this many
    keys per table of state; a full table of halts widens the halt it cannot
    keep (``Store``), it never lifts one. ``on_store_error``: what a call does
    when the store fails (unreachable, timed out, out of memory, read-only,
    lost its data...): ``"halt"`` (the default: ``observe()`` answers a HALT
    of the exchange for ``STORE_RETRY_S``, ``halted()`` and ``status()``
    report a ``store-unreachable`` halt, ``observe_success()`` and ``lift()``
    lift nothing) or ``"raise"`` (``StoreUnavailable``). ``lost_grace_s``
    (Redis by URL): how long store failures are reported once the store is
    found to have lost its data (default 900 s, the longest bundled hold).
    ``sequence_engine``: ``"auto"`` (durable-rules when it imports, else the
    bundled pure-Python correlator: the same decisions), ``"python"`` or
    ``"durable-rules"``; default: ``NORMALIZER_SEQUENCE_ENGINE`` or auto.
    """

    def __init__(
        self,
        policy: Policy | str | Path | None = None,
        *,
        store: Store | str | None = None,
        namespace: str = "normalizer",
        clock: Callable[[], float] | None = None,
        testing_clock: Callable[[], float] | None = None,
        request_memory_s: float = 900.0,
        max_tracked: int = 100_000,
        on_store_error: str = "halt",
        lost_grace_s: float | None = None,
        sequence_engine: str | None = None,
    ) -> None:
        request_memory_s = seconds_setting(request_memory_s, "request_memory_s", positive=True)
        max_tracked = tables_setting(max_tracked)
        if lost_grace_s is not None:  # read by a Redis store; a mistake is refused with any
            lost_grace_s = seconds_setting(lost_grace_s, "lost_grace_s")
        if on_store_error not in ("halt", "raise"):
            raise SupervisorArgumentError(
                f"on_store_error must be 'halt' or 'raise', not {on_store_error!r}"
            )
        for name, fn in (("clock", clock), ("testing_clock", testing_clock)):
            if fn is not None and not callable(fn):
                raise SupervisorArgumentError(f"{name} must be callable, not {fn!r}")
        if clock is not None and testing_clock is not None:
            raise SupervisorArgumentError("give clock or testing_clock, not both")
        self.policy = _policy(policy)
        rules = self.policy.escalations.rules
        self._counted = [Counted(r) for r in rules if r.sequence is None]
        self._in_a_row = [c for c in self._counted if c.rule.in_a_row]
        self._by_id = {c.rule.id: c.rule for c in self._counted}
        self._replacing = next((r for r in rules if r.sequence and r.then.replace), None)
        self._memory_s = float(request_memory_s)
        self._max = max_tracked
        self._on_error = on_store_error
        self._lock = threading.Lock()
        self._closed = False
        self.store: Any = make_store(store, namespace, max_tracked, lost_grace_s)
        shared = bool(getattr(self.store, "shared", False))
        if clock is not None and shared:
            self.store.close()
            raise SupervisorArgumentError(
                f"clock= is refused with a shared store ({self.store!r}): a fleet keeps one "
                "clock, the store's (Redis TIME), or one host's clock would end every "
                "process's halts early; tests may pass testing_clock="
            )
        self._clock = testing_clock or clock or (None if shared else time.monotonic)
        self._last_reading = 0.0
        try:
            self._sequences = SequenceTracker(
                [r for r in rules if r.sequence is not None], max_tracked, sequence_engine
            )
        except PolicyError:
            raise
        except Exception:
            self.store.close()
            raise
        self._n = 0

    def __repr__(self) -> str:
        return f"<Supervisor policy={self.policy.name!r} store={self.store!r}>"

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End this supervisor's sequences and close its store connection."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._sequences.close()
                self.store.close()

    def _read_clock(self) -> float | None:
        """The clock's reading (None: the store's clock). A reading that is NaN,
        infinite or not a number is not a time: the latest good one stands for it."""
        if self._clock is None:
            return None
        now = finite_time(self._clock())
        if now is None:
            return self._last_reading
        self._last_reading = now
        return now

    def _check_open(self) -> None:
        if self._closed:
            raise SupervisorClosed("this Supervisor is closed")

    def _async_store(self) -> Any:
        return self.store if hasattr(self.store, "aapply") else SyncAsAsync(self.store)

    def _failed(self, exc: StoreUnavailable) -> str:
        """Why the store failed, for the halt (or re-raised: ``on_store_error="raise"``)."""
        if self._on_error == "raise":
            raise exc
        return str(exc)[:300]

    # ------------------------------------------------------------ observe

    def _prepare(
        self,
        err: NormalizedError,
        operation: Operation | str | None,
        account: str | None,
        symbol: str | None,
        request_id: str | None,
        idempotent: bool,
        attempt: int | None,
        event_id: str | None,
    ) -> tuple[Plan, Keys, Operation, list[Any]]:
        if not isinstance(err, NormalizedError):
            raise SupervisorArgumentError(
                f"observe() needs a NormalizedError, not {type(err).__name__}"
            )
        if not isinstance(idempotent, bool):
            raise SupervisorArgumentError(f"idempotent must be a bool, not {idempotent!r}")
        if attempt is not None and (
            isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1
        ):
            raise SupervisorArgumentError(f"attempt must be an int >= 1 or None, not {attempt!r}")
        if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= 200):
            raise SupervisorArgumentError(
                f"event_id must be a str of 1-200 characters or None, not {event_id!r}"
            )
        if operation is None:
            op = err.operation or Operation.OTHER
        else:
            try:
                op = operation_of(operation)
            except (TypeError, ValueError) as exc:
                raise SupervisorArgumentError(f"operation: {exc}") from exc
        keys = Keys(fold_exchange(err.exchange), account, symbol, request_id)
        self._check_open()
        plan, features, first = build_plan(
            self._counted,
            self.policy,
            self._memory_s,
            self._read_clock(),
            err,
            op,
            keys,
            account,
            idempotent,
            attempt,
            event_id,
        )
        return plan, keys, op, [features, idempotent, err, first]

    def _finish(
        self, plan: Plan, keys: Keys, op: Operation, applied: Any, extra: list[Any]
    ) -> tuple[Decision, Halt | None]:
        features, idempotent, err, first = extra
        now = applied.now
        rec = (
            first
            if applied.attempt == 1
            else recommend(
                err,
                operation=op,
                idempotent=idempotent,
                attempt=applied.attempt,
                policy=self.policy,
            )
        )
        f: Features = features[rec.retries_exhausted]
        candidates: list[tuple[int, Decision]] = []
        base = _decide.from_recommendation(rec, keys, now, plan.event_id, applied.duplicate)
        new_hold: Halt | None = None
        if not applied.duplicate and self._sequences:
            with self._lock:
                self._n += 1
                if self._n % 1024 == 0:
                    self._sequences.sweep(now)
                completed = self._sequences.observe(
                    f, keys.request if keys.has_request else None, idempotent, now
                )
            for rule in completed:
                if rule.then.action is Action.RETRY:
                    base = trusted_decision(
                        action=Action.RETRY,
                        scope=Scope.REQUEST,
                        scope_key=keys.request,
                        reason=f"{rule.id}: {rule.why}",
                        recommendation=rec,
                        at=now,
                        escalation_rule_id=rule.id,
                        replace=rule.then.replace,
                        event_id=plan.event_id,
                    )
                else:
                    d, new_hold = _decide.escalate(
                        rule, "the sequence completed", keys, rec, now, plan.event_id
                    )
                    candidates.append((2, d))
        candidates.append((1, base))
        for rule_id, note in applied.fired:
            d, _ = _decide.escalate(self._by_id[rule_id], note, keys, rec, now, plan.event_id)
            candidates.append((2, d))
        holding = max(applied.halts, key=halt_strength, default=None)
        if holding is not None:
            candidates.append((0, _decide.halted(holding, rec, now, plan.event_id)))
        decision = _decide.strongest(candidates)
        if applied.duplicate and not decision.duplicate:
            decision = decision._replace(duplicate=True)
        return decision, new_hold

    def _store_down(
        self, plan: Plan, keys: Keys, op: Operation, extra: list[Any], exc: StoreUnavailable
    ) -> Decision:
        why = self._failed(exc)
        _, idempotent, err, _ = extra
        rec = recommend(
            err, operation=op, idempotent=idempotent, attempt=plan.attempt or 1, policy=self.policy
        )
        return _decide.store_down(keys, rec, plan.now, plan.event_id, why)

    def observe(
        self,
        err: NormalizedError,
        *,
        operation: Operation | str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        request_id: str | None = None,
        idempotent: bool = False,
        attempt: int | None = None,
        event_id: str | None = None,
    ) -> Decision:
        """The decision about ``err``, given everything observed before it.

        ``operation``, ``idempotent`` (a bool) and ``attempt`` (an int >= 1)
        mean what they mean for ``recommend()``; without ``attempt`` the
        supervisor numbers the failures of ``request_id`` in ``operation``
        itself (1 without a request id). Pass the same ``account`` and
        ``symbol`` for every error of one request. ``event_id``: an id of this
        event; the same id observed again (a redelivery) is not counted twice.
        A status query answering NOT_FOUND (reconciling) is never counted as
        an exhausted retry.
        """
        plan, keys, op, extra = self._prepare(
            err, operation, account, symbol, request_id, idempotent, attempt, event_id
        )
        try:
            applied = self.store.apply(plan)
        except StoreUnavailable as exc:
            return self._store_down(plan, keys, op, extra, exc)
        decision, hold = self._finish(plan, keys, op, applied, extra)
        if hold is not None:
            with contextlib.suppress(StoreUnavailable):  # the decision holds the scope anyway
                self.store.hold(hold, applied.now)
        return decision

    async def aobserve(
        self,
        err: NormalizedError,
        *,
        operation: Operation | str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        request_id: str | None = None,
        idempotent: bool = False,
        attempt: int | None = None,
        event_id: str | None = None,
    ) -> Decision:
        """``observe()`` for asyncio routers: the store is awaited, not waited on."""
        plan, keys, op, extra = self._prepare(
            err, operation, account, symbol, request_id, idempotent, attempt, event_id
        )
        try:
            applied = await self._async_store().aapply(plan)
        except StoreUnavailable as exc:
            return self._store_down(plan, keys, op, extra, exc)
        decision, hold = self._finish(plan, keys, op, applied, extra)
        if hold is not None:
            with contextlib.suppress(StoreUnavailable):
                await self._async_store().ahold(hold, applied.now)
        return decision

    # ------------------------------------------------------------ successes

    def _success_args(
        self, exchange: str, account: str | None, symbol: str | None, request_id: str | None
    ) -> tuple[Keys, list[str], list[str]]:
        keys = Keys(fold_exchange(exchange), account, symbol, request_id)
        self._check_open()
        streaks = [
            f"{c.rule.id}|{keys.of(c.width)}"
            for c in self._in_a_row
            if c.width is not Scope.REQUEST or keys.has_request
        ]
        attempts = [f"{keys.request}|{op.value}" for op in Operation] if keys.has_request else []
        if keys.has_request and self._sequences:
            with self._lock:
                self._sequences.forget(keys.request)
        return keys, streaks, attempts

    def observe_success(
        self,
        exchange: str,
        *,
        account: str | None = None,
        symbol: str | None = None,
        request_id: str | None = None,
    ) -> tuple[str, ...]:
        """Record a request that succeeded; returns the scope keys whose halts it lifted.

        It lifts the halts with ``lifted_by_success`` on its exchange, account,
        symbol and request, ends the ``in_a_row`` streaks there, and forgets
        the request's attempts and unfinished sequences. With Redis it does so
        for the fleet. When the store fails nothing is lifted (``()``; or
        ``StoreUnavailable`` with ``on_store_error="raise"``).
        """
        keys, streaks, attempts = self._success_args(exchange, account, symbol, request_id)
        try:
            return self.store.success(keys.chain(), streaks, attempts, self._read_clock())[1]  # type: ignore[no-any-return]
        except StoreUnavailable as exc:
            self._failed(exc)
            return ()

    async def aobserve_success(
        self,
        exchange: str,
        *,
        account: str | None = None,
        symbol: str | None = None,
        request_id: str | None = None,
    ) -> tuple[str, ...]:
        """``observe_success()`` for asyncio routers."""
        keys, streaks, attempts = self._success_args(exchange, account, symbol, request_id)
        try:
            out = await self._async_store().asuccess(
                keys.chain(), streaks, attempts, self._read_clock()
            )
            return out[1]  # type: ignore[no-any-return]
        except StoreUnavailable as exc:
            self._failed(exc)
            return ()

    # ----------------------------------------------------------------- halts

    def status(self) -> tuple[Halt, ...]:
        """The halts in force now (fleet-wide with Redis), widest scope first.

        When the store fails: one ``store-unreachable`` halt on ``*`` (every
        exchange), or ``StoreUnavailable``.
        """
        self._check_open()
        try:
            return self.store.status(self._read_clock())  # type: ignore[no-any-return]
        except StoreUnavailable as exc:
            return (_decide.unreachable_halt("*", self._read_clock(), self._failed(exc)),)

    async def astatus(self) -> tuple[Halt, ...]:
        """``status()`` for asyncio routers."""
        self._check_open()
        try:
            return await self._async_store().astatus(self._read_clock())  # type: ignore[no-any-return]
        except StoreUnavailable as exc:
            return (_decide.unreachable_halt("*", self._read_clock(), self._failed(exc)),)

    def halted(
        self,
        exchange: str,
        *,
        account: str | None = None,
        symbol: str | None = None,
        request_id: str | None = None,
    ) -> Halt | None:
        """The halt that stops a request to this exchange/account/symbol now, if any.

        The exchange name is folded as ``normalize()`` folds it (``"OKX"`` is
        ``okx``). When the store fails: a ``Halt`` of the exchange with
        ``policy_rule_id="store-unreachable"`` (or ``StoreUnavailable``).
        """
        keys = Keys(fold_exchange(exchange), account, symbol, request_id)
        self._check_open()
        try:
            _, halts = self.store.halts_on(keys.chain(), self._read_clock())
        except StoreUnavailable as exc:
            why = self._failed(exc)
            return _decide.unreachable_halt(keys.exchange, self._read_clock(), why)
        return max(halts, key=halt_strength, default=None)

    async def ahalted(
        self,
        exchange: str,
        *,
        account: str | None = None,
        symbol: str | None = None,
        request_id: str | None = None,
    ) -> Halt | None:
        """``halted()`` for asyncio routers."""
        keys = Keys(fold_exchange(exchange), account, symbol, request_id)
        self._check_open()
        try:
            _, halts = await self._async_store().ahalts_on(keys.chain(), self._read_clock())
        except StoreUnavailable as exc:
            why = self._failed(exc)
            return _decide.unreachable_halt(keys.exchange, self._read_clock(), why)
        return max(halts, key=halt_strength, default=None)

    def lift(self, scope_key: str) -> int:
        """Lift every halt on ``scope_key`` (a person has looked); returns how many.

        When the store fails nothing is lifted (0), or ``StoreUnavailable``.
        """
        if not isinstance(scope_key, str):
            raise SupervisorArgumentError(f"scope_key must be a str, not {scope_key!r}")
        self._check_open()
        try:
            return self.store.lift(scope_key, self._read_clock())  # type: ignore[no-any-return]
        except StoreUnavailable as exc:
            self._failed(exc)
            return 0

    async def alift(self, scope_key: str) -> int:
        """``lift()`` for asyncio routers."""
        if not isinstance(scope_key, str):
            raise SupervisorArgumentError(f"scope_key must be a str, not {scope_key!r}")
        self._check_open()
        try:
            return await self._async_store().alift(scope_key, self._read_clock())  # type: ignore[no-any-return]
        except StoreUnavailable as exc:
            self._failed(exc)
            return 0

    # ------------------------------------------------------------ re-placing

    def may_replace(self, *, sent_at: float, not_found_at: Sequence[float], now: float) -> bool:
        """Whether an order whose placement went unconfirmed may be placed again.

        The safe re-place rule of the policy's re-placing sequence (the bundled
        ``reconcile-then-retry``): at least as many "not found" answers to
        status queries (by client order id) as the sequence has query steps
        (two), the last one at least ``min_age_s`` (5 s) after the original
        send, and all of them within ``within_s`` of it. Times are the
        caller's own clock (``time.monotonic()`` readings), all three from one
        clock. A policy without a re-placing sequence never allows it (False).
        This is the rule alone: the caller must also hold the supervisor's
        other answers (no halt in force, the venue's wait honoured).
        """
        return _decide.may_replace(self._replacing, sent_at, not_found_at, now)
