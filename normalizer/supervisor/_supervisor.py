"""The supervisor: stateful escalation over the stream of errors a router meets.

See ``normalizer/supervisor/__init__.py`` for the whole story; this module
holds the decision logic, which is the same whatever the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._core.errors import (
    PolicyError,
    Problem,
    StoreUnavailable,
    SupervisorArgumentError,
    SupervisorClosed,
)
from .._core.policy import Policy
from .._core.vocabulary import Action, Operation, Scope, operation_of
from .._engine.recommend import _policy, recommend
from .._engine.results import NormalizedError, Recommendation
from .._formats.escalation import EscalationRule
from ._matchers import Features, compile_match
from ._sequences import SequenceTracker
from ._stores._plan import ALWAYS, EXHAUSTED, FRESH, RESET, STREAK, WINDOW, CountOp, HoldOp, Plan
from ._stores.memory import MemoryStore
from ._types import (
    RANK,
    WIDTH,
    Decision,
    Halt,
    Keys,
    finite_time,
    fold_exchange,
    trusted_decision,
)

__all__ = ["Supervisor"]

#: How long a decision taken without the store (``on_store_error="halt"``) holds.
STORE_RETRY_S = 1.0
_RETRYING = (Action.RETRY, Action.QUERY_THEN_RETRY)


class _Counted:
    """A counted rule with what each event needs of it, read once."""

    __slots__ = (
        "action",
        "count",
        "hold",
        "id",
        "lifted",
        "match",
        "mode",
        "on_exhausted",
        "reason",
        "rule",
        "same_error",
        "scope",
        "scope_value",
        "width",
        "window",
    )

    def __init__(self, rule: EscalationRule) -> None:
        self.rule = rule
        self.id = rule.id
        self.match = compile_match(rule.when) if rule.when is not None else (lambda f: True)
        self.on_exhausted = rule.when is not None and rule.when.exhausted is not None
        self.width = rule.group_scope
        self.mode = STREAK if rule.in_a_row else WINDOW
        self.same_error = rule.same_error
        self.count = rule.count
        self.window = rule.within_s or 0.0
        then = rule.then
        self.scope = then.scope
        self.scope_value = then.scope.value
        self.action = then.action.value
        self.hold = then.hold_s if then.hold_s is not None else 0.0
        self.lifted = then.lifted_by_success
        self.reason = f"{rule.id}: {rule.why}"


class Supervisor:
    """Judges the stream of errors: counts, sequences and halts per scope.

    ``policy``: a policy file path, a loaded ``Policy`` or None for the bundled
    one; its ``escalations:`` section holds the rules. ``store``: None (state in
    this process), a ``redis://`` URL (state shared by every supervisor with
    the same URL and ``namespace``) or a store object. ``clock``: the time in
    seconds; by default ``time.monotonic`` in memory and the Redis server's
    clock with Redis (a fleet needs one clock). ``request_memory_s``: how long
    the failures of a request id are remembered to number its attempts.
    ``max_tracked``: at most this many keys per table of state, halts
    included (the oldest are forgotten first). ``on_store_error``: what a call
    does when the store cannot be reached, ``"halt"`` (the default: the
    decision is a HALT of the exchange for ``STORE_RETRY_S``, ``halted()``
    reports such a halt, never a RETRY) or ``"raise"`` (``StoreUnavailable``).

    Raises ``SupervisorUnavailable`` where the policy has sequence rules and
    durable-rules cannot be imported.
    """

    def __init__(
        self,
        policy: Policy | str | Path | None = None,
        *,
        store: Any = None,
        namespace: str = "normalizer",
        clock: Callable[[], float] | None = None,
        request_memory_s: float = 900.0,
        max_tracked: int = 100_000,
        on_store_error: str = "halt",
    ) -> None:
        if isinstance(request_memory_s, bool) or not isinstance(request_memory_s, (int, float)):
            raise SupervisorArgumentError(
                f"request_memory_s must be a number, not {request_memory_s!r}"
            )
        if not request_memory_s > 0:
            raise SupervisorArgumentError("request_memory_s must be positive")
        if isinstance(max_tracked, bool) or not isinstance(max_tracked, int) or max_tracked < 1:
            raise SupervisorArgumentError(f"max_tracked must be an int >= 1, not {max_tracked!r}")
        if on_store_error not in ("halt", "raise"):
            raise SupervisorArgumentError(
                f"on_store_error must be 'halt' or 'raise', not {on_store_error!r}"
            )
        self.policy = _policy(policy)
        rules = self.policy.escalations.rules
        self._counted = [_Counted(r) for r in rules if r.sequence is None]
        self._in_a_row = [c for c in self._counted if c.rule.in_a_row]
        self._by_id = {c.rule.id: c.rule for c in self._counted}
        self._memory_s = float(request_memory_s)
        self._max = max_tracked
        self._on_error = on_store_error
        self._lock = threading.Lock()
        self._closed = False
        if store is None:
            self.store: Any = MemoryStore(max_tracked)
            default_clock: Callable[[], float] | None = time.monotonic
        elif isinstance(store, str):
            if not store.startswith(("redis://", "rediss://", "unix://")):
                raise SupervisorArgumentError(
                    f"store must be a redis:// URL or a store, not {store!r}"
                )
            from ._stores.redis import RedisStore

            self.store = RedisStore(store, namespace=namespace, max_tracked=max_tracked)
            default_clock = None
        elif all(hasattr(store, m) for m in ("apply", "hold", "success", "halts_on", "status")):
            self.store = store
            default_clock = time.monotonic if isinstance(store, MemoryStore) else None
        else:
            raise SupervisorArgumentError(
                f"store must be None, a redis:// URL or a store, not {store!r}"
            )
        self._clock = clock if clock is not None else default_clock
        if hasattr(self.store, "server_time"):
            self.store.server_time = self._clock is None
        try:
            self._sequences = SequenceTracker(
                [r for r in rules if r.sequence is not None], max_tracked
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

    # -------------------------------------------------------------- time

    def _read_clock(self) -> float | None:
        """The clock's reading, or None: NaN, infinities and non-numbers are not times."""
        if self._clock is None:
            return None
        return finite_time(self._clock())

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
    ) -> tuple[Plan, Keys, Operation, Features, list[Any]]:
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
        if self._closed:
            raise SupervisorClosed("this Supervisor is closed")
        first = recommend(err, operation=op, idempotent=idempotent, attempt=1, policy=self.policy)
        if first.retries_exhausted:
            xfrom = 1
        elif first.action in _RETRYING:
            xfrom = first.max_attempts
        else:
            xfrom = 0
        numbered = attempt is None and keys.has_request
        features = [
            Features(
                err.category.value, err.subcategory or "", keys.exchange, op.value, account, ex
            )
            for ex in (False, True)
        ]
        plan = Plan(
            event_id=event_id,
            now=self._read_clock(),
            attempt_key=f"{keys.request}|{op.value}" if numbered else None,
            attempt=None if numbered else (attempt or 1),
            exhausted_from=xfrom,
            memory_s=self._memory_s,
            chain=keys.chain(),
        )
        known_exhausted = xfrom > 0 and (plan.attempt or 1) >= xfrom
        of = {
            Scope.EXCHANGE: keys.exchange,
            Scope.ACCOUNT: keys.account,
            Scope.SYMBOL: keys.symbol,
            Scope.REQUEST: keys.request,
        }
        has_request = keys.has_request
        ident = ""
        ops = plan.ops
        for c in self._counted:
            if c.width is Scope.REQUEST and not has_request:
                continue
            tries: tuple[tuple[int, bool], ...]
            if c.on_exhausted and numbered:  # the answer depends on the attempt
                tries = ((FRESH, c.match(features[0])), (EXHAUSTED, c.match(features[1])))
            else:
                tries = ((ALWAYS, c.match(features[known_exhausted])),)
            group = of[c.width]
            for variant, matched in tries:
                if not matched:
                    if c.mode == STREAK:
                        ops.append(CountOp(variant, c.id, group, RESET))
                    continue
                if c.same_error and not ident:
                    raw = f"{err.label}|{err.code}|{(err.message or '')[:200]}"
                    ident = hashlib.blake2b(
                        raw.encode("utf-8", "surrogatepass"), digest_size=8
                    ).hexdigest()
                hold = c.hold if (c.scope is not Scope.REQUEST or has_request) else 0.0
                ops.append(
                    CountOp(
                        variant,
                        c.id,
                        group,
                        c.mode,
                        c.count,
                        c.window,
                        ident if c.same_error else "",
                        c.scope_value,
                        of[c.scope],
                        c.action,
                        hold,
                        c.lifted,
                        c.reason,
                    )
                )
        # per-error HALTs that say for how long hold their scope
        recs = (
            [first]
            if not numbered or xfrom == 0
            else [
                first,
                recommend(
                    err,
                    operation=op,
                    idempotent=idempotent,
                    attempt=max(xfrom, 1),
                    policy=self.policy,
                ),
            ]
        )
        if not numbered and plan.attempt != 1:
            recs = [
                recommend(
                    err,
                    operation=op,
                    idempotent=idempotent,
                    attempt=plan.attempt or 1,
                    policy=self.policy,
                )
            ]
        for i, rec in enumerate(recs):
            if rec.action is Action.HALT and rec.hold_s and rec.scope is not Scope.REQUEST:
                variant = ALWAYS if len(recs) == 1 else (FRESH if i == 0 else EXHAUSTED)
                plan.holds.append(
                    HoldOp(
                        variant,
                        rec.scope.value,
                        keys.of(rec.scope),
                        rec.hold_s,
                        rec.reason,
                        rec.policy_rule_id,
                    )
                )
        return plan, keys, op, features[0], [features, idempotent, err, first]

    def _finish(
        self, plan: Plan, keys: Keys, op: Operation, applied: Any, extra: list[Any]
    ) -> tuple[Decision, Halt | None]:
        features, idempotent, err, first = extra
        now = applied.now
        attempt = applied.attempt
        rec = (
            first
            if attempt == 1
            else recommend(
                err, operation=op, idempotent=idempotent, attempt=attempt, policy=self.policy
            )
        )
        f = features[rec.retries_exhausted]
        candidates: list[tuple[int, Decision]] = []
        base = self._from_recommendation(rec, keys, now, plan.event_id, applied.duplicate)
        fired = dict(applied.fired)
        by_id = self._by_id
        new_hold: Halt | None = None
        if not applied.duplicate:
            with self._lock:
                self._n += 1
                if self._n % 1024 == 0:
                    self._sequences.sweep(now)
                completed = (
                    self._sequences.observe(
                        f, keys.request if keys.has_request else None, idempotent, now
                    )
                    if self._sequences
                    else []
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
                    d, new_hold = self._escalate(
                        rule, "the sequence completed", keys, rec, now, plan.event_id
                    )
                    candidates.append((2, d))
        candidates.append((1, base))
        for rule_id, note in fired.items():
            d, _ = self._escalate(by_id[rule_id], note, keys, rec, now, plan.event_id)
            candidates.append((2, d))
        holding = max(applied.halts, key=_halt_strength, default=None)
        if holding is not None:
            candidates.append((0, self._halted(holding, rec, now, plan.event_id)))
        decision = max(candidates, key=_strength)[1]
        if applied.duplicate and not decision.duplicate:
            decision = decision._replace(duplicate=True)
        return decision, new_hold

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
        """
        plan, keys, op, _, extra = self._prepare(
            err, operation, account, symbol, request_id, idempotent, attempt, event_id
        )
        try:
            applied = self.store.apply(plan)
        except StoreUnavailable:
            return self._store_down(plan, keys, op, extra)
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
        plan, keys, op, _, extra = self._prepare(
            err, operation, account, symbol, request_id, idempotent, attempt, event_id
        )
        try:
            applied = await self._async_store().aapply(plan)
        except StoreUnavailable:
            return self._store_down(plan, keys, op, extra)
        decision, hold = self._finish(plan, keys, op, applied, extra)
        if hold is not None:
            with contextlib.suppress(StoreUnavailable):
                await self._async_store().ahold(hold, applied.now)
        return decision

    def _async_store(self) -> Any:
        return self.store if hasattr(self.store, "aapply") else _SyncAsAsync(self.store)

    def _store_down(self, plan: Plan, keys: Keys, op: Operation, extra: list[Any]) -> Decision:
        """The store cannot be reached: a HALT of the exchange (or raise), never a RETRY."""
        if self._on_error == "raise":
            raise StoreUnavailable(f"the supervisor's store {self.store!r} cannot be reached")
        _, idempotent, err, _ = extra
        now = plan.now if plan.now is not None else time.time()
        rec = recommend(
            err, operation=op, idempotent=idempotent, attempt=plan.attempt or 1, policy=self.policy
        )
        return trusted_decision(
            action=Action.HALT,
            scope=Scope.EXCHANGE,
            scope_key=keys.exchange,
            reason=f"the supervisor's state store cannot be reached, so the fleet's halts are "
            f"unknown: nothing is sent to {keys.exchange} meanwhile (try again in "
            f"{STORE_RETRY_S:g}s)",
            recommendation=rec,
            at=now,
            hold_s=STORE_RETRY_S,
            until=now + STORE_RETRY_S,
            event_id=plan.event_id,
        )

    def _unreachable_halt(self, exchange: str) -> Halt:
        now = self._read_clock()
        now = now if now is not None else time.time()
        return Halt(
            scope=Scope.EXCHANGE,
            scope_key=exchange,
            action=Action.HALT,
            since=now,
            until=now + STORE_RETRY_S,
            reason="the supervisor's state store cannot be reached, so the fleet's halts are "
            "unknown",
            policy_rule_id="store-unreachable",
        )

    # ------------------------------------------------------------ successes

    def _success_args(
        self, exchange: str, account: str | None, symbol: str | None, request_id: str | None
    ) -> tuple[Keys, list[str], list[str]]:
        keys = Keys(fold_exchange(exchange), account, symbol, request_id)
        if self._closed:
            raise SupervisorClosed("this Supervisor is closed")
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
        for the fleet. When the store cannot be reached nothing is lifted
        (``()``; or ``StoreUnavailable`` with ``on_store_error="raise"``).
        """
        keys, streaks, attempts = self._success_args(exchange, account, symbol, request_id)
        try:
            return self.store.success(keys.chain(), streaks, attempts, self._read_clock())[1]  # type: ignore[no-any-return]
        except StoreUnavailable:
            if self._on_error == "raise":
                raise
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
        except StoreUnavailable:
            if self._on_error == "raise":
                raise
            return ()

    # ----------------------------------------------------------------- halts

    def status(self) -> tuple[Halt, ...]:
        """The halts in force now (fleet-wide with Redis), widest scope first."""
        self._check_open()
        return self.store.status(self._read_clock())  # type: ignore[no-any-return]

    async def astatus(self) -> tuple[Halt, ...]:
        self._check_open()
        return await self._async_store().astatus(self._read_clock())  # type: ignore[no-any-return]

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
        ``okx``). When the store cannot be reached: a ``Halt`` of the exchange
        with ``policy_rule_id="store-unreachable"`` (or ``StoreUnavailable``).
        """
        keys = Keys(fold_exchange(exchange), account, symbol, request_id)
        self._check_open()
        try:
            _, halts = self.store.halts_on(keys.chain(), self._read_clock())
        except StoreUnavailable:
            if self._on_error == "raise":
                raise
            return self._unreachable_halt(keys.exchange)
        return max(halts, key=_halt_strength, default=None)

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
        except StoreUnavailable:
            if self._on_error == "raise":
                raise
            return self._unreachable_halt(keys.exchange)
        return max(halts, key=_halt_strength, default=None)

    def lift(self, scope_key: str) -> int:
        """Lift every halt on ``scope_key`` (a person has looked); returns how many."""
        if not isinstance(scope_key, str):
            raise SupervisorArgumentError(f"scope_key must be a str, not {scope_key!r}")
        self._check_open()
        return self.store.lift(scope_key, self._read_clock())  # type: ignore[no-any-return]

    async def alift(self, scope_key: str) -> int:
        if not isinstance(scope_key, str):
            raise SupervisorArgumentError(f"scope_key must be a str, not {scope_key!r}")
        self._check_open()
        return await self._async_store().alift(scope_key, self._read_clock())  # type: ignore[no-any-return]

    def _check_open(self) -> None:
        if self._closed:
            raise SupervisorClosed("this Supervisor is closed")

    # -------------------------------------------------------------- decisions

    def _from_recommendation(
        self, rec: Recommendation, keys: Keys, now: float, event_id: str | None, duplicate: bool
    ) -> Decision:
        return trusted_decision(
            action=rec.action,
            scope=rec.scope,
            scope_key=keys.of(rec.scope),
            reason=rec.reason,
            recommendation=rec,
            at=now,
            hold_s=rec.hold_s,
            until=now + rec.hold_s if rec.hold_s is not None else None,
            delay_s=rec.delay_s,
            precondition=rec.precondition,
            event_id=event_id,
            duplicate=duplicate,
        )

    def _escalate(
        self,
        rule: EscalationRule,
        note: str,
        keys: Keys,
        rec: Recommendation,
        now: float,
        event_id: str | None,
    ) -> tuple[Decision, Halt | None]:
        then = rule.then
        key = keys.of(then.scope)
        hold = then.hold_s
        halt = None
        if hold is not None and (then.scope is not Scope.REQUEST or keys.has_request):
            halt = Halt(
                scope=then.scope,
                scope_key=key,
                action=then.action,
                since=now,
                until=now + hold,
                reason=f"{rule.id}: {rule.why}",
                escalation_rule_id=rule.id,
                lifted_by_success=then.lifted_by_success,
            )
        group = keys.of(rule.group_scope) if rule.sequence is None else keys.request
        d = trusted_decision(
            action=then.action,
            scope=then.scope,
            scope_key=key,
            reason=f"{rule.id} ({note} on {group}): {rule.why}",
            recommendation=rec,
            at=now,
            hold_s=hold,
            until=now + hold if hold is not None else None,
            escalation_rule_id=rule.id,
            event_id=event_id,
        )
        return d, halt

    def _halted(
        self, halt: Halt, rec: Recommendation, now: float, event_id: str | None
    ) -> Decision:
        return trusted_decision(
            action=Action.HALT,
            scope=halt.scope,
            scope_key=halt.scope_key,
            reason=f"{halt.scope_key} is halted until {halt.until:g} ({halt.source}): "
            f"{halt.reason}",
            recommendation=rec,
            at=now,
            hold_s=halt.until - now,
            until=halt.until,
            escalation_rule_id=halt.escalation_rule_id,
            event_id=event_id,
        )


class _SyncAsAsync:
    """A store without awaitable methods, awaited (the memory store never waits)."""

    def __init__(self, store: Any) -> None:
        self._s = store

    async def aapply(self, plan: Plan) -> Any:
        return self._s.apply(plan)

    async def ahold(self, halt: Halt, now: float | None) -> None:
        self._s.hold(halt, now)

    async def asuccess(self, *args: Any) -> Any:
        return self._s.success(*args)

    async def ahalts_on(self, *args: Any) -> Any:
        return self._s.halts_on(*args)

    async def astatus(self, now: float | None) -> Any:
        return self._s.status(now)

    async def alift(self, key: str, now: float | None) -> Any:
        return self._s.lift(key, now)


def _strength(candidate: tuple[int, Decision]) -> tuple[int, int, float, int]:
    """Stronger action, then wider scope, then later end, then fired > stated > held."""
    preference, d = candidate
    until = d.until if d.until is not None else float("-inf")
    return (RANK[d.action], WIDTH[d.scope], until, preference)


def _halt_strength(halt: Halt) -> tuple[int, float]:
    return (WIDTH[halt.scope], halt.until)


_ = (Problem,)
