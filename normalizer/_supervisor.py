"""The supervisor: stateful escalation over the stream of errors a router meets.

``recommend()`` judges one error. A ``Supervisor`` sees them all: five rate
limits from one venue in ten seconds pause the venue, an AUTH refusal halts
the account, a placement in UNKNOWN_STATE that a query then reports NOT_FOUND
may be placed again. What counts as such a run is written in the policy file's
``escalations:`` section (``normalizer/_escalation.py``).

    sup = Supervisor(clock=my_clock)            # the bundled policy
    d = sup.observe(err, operation="place_order", account="acct1", symbol="BTC-USDT",
                    request_id="r-17")
    d.action, d.scope, d.scope_key, d.until     # HALT exchange "okx" 42.0, say
    sup.observe_success("okx", account="acct1") # may lift halts (lifted_by_success)
    sup.status()                                # what is halted, and until when

How it works
------------

Matching is done by durable-rules. Every pattern of every escalation rule (a
``when``, or each step of a ``sequence``) becomes one durable-rules rule;
each error observed is posted, as an event, to every ruleset. A ruleset holds
only patterns no single error can match together (``Escalations.rulesets``),
so at most one rule fires per post and the outcome never depends on which of
two matches the engine would pick. The rulesets are registered and loaded when
the supervisor is built, each kept far below the size at which durable-rules
stops returning.

Counting is done here, in Python: time is the injected ``clock``, which
durable-rules (whose windows follow the wall clock) cannot use. Per rule and
per scope the supervisor keeps the times of the recent matches (at most
``count``), the streak of an ``in_a_row`` rule, the progress of each request
id through each sequence, and the halts in force; all of it is forgotten once
its window has passed, and at most ``max_tracked`` keys are kept per table, so
memory stays flat however long the stream.

Decisions. The per-error recommendation is the starting point (a completed
sequence replaces it). A rule that fires adds its own action; a halt in force
on the error's exchange, account, symbol or request adds a HALT for the time
that remains. The strongest wins: ESCALATE over HALT over QUERY_THEN_RETRY
over RETRY, then the wider scope, then the longer hold. So no decision is
RETRY while a scope the request belongs to is halted. A per-error HALT with a
``hold_s`` on a scope wider than the request is held too.

Threads. ``observe()`` and the other methods take one lock for their whole
work (a few tens of microseconds), so they may be called from many threads at
once and from asyncio code (they never wait on anything but that lock).

durable-rules 2.0.28 ships only as a source distribution and does not import on
Python 3.13+. It is imported when the first supervisor is built, never when
``normalizer`` is; where it cannot be, ``Supervisor()`` raises
``SupervisorUnavailable`` saying why, and the rest of the package works.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict

from ._core.errors import PolicyError, Problem, SupervisorUnavailable
from ._engine.recommend import _policy, recommend
from ._engine.results import NormalizedError, Recommendation
from ._escalation import EscalationRule, Escalations, Match, ruleset_problem
from ._formats.ontology import Action, Operation, Precondition, Scope, operation_of
from ._formats.policy import Policy

__all__ = ["Decision", "Halt", "Supervisor"]

_RANK = {Action.RETRY: 0, Action.QUERY_THEN_RETRY: 1, Action.HALT: 2, Action.ESCALATE: 3}
_WIDTH = {Scope.REQUEST: 0, Scope.SYMBOL: 1, Scope.ACCOUNT: 2, Scope.EXCHANGE: 3}
_UNSET = "-"
_SWEEP_EVERY = 1024
_INSTANCES = itertools.count(1)


class Halt(BaseModel):
    """A scope on which nothing should be sent until ``until`` (clock time).

    ``action`` is HALT, or ESCALATE when a person was called and the scope is
    held meanwhile. ``escalation_rule_id`` names the escalation rule that set
    it; None for a per-error HALT (``policy_rule_id`` names its policy rule).
    ``lifted_by_success``: a success in the scope lifts it early.
    """

    model_config = ConfigDict(frozen=True)

    scope: Scope
    scope_key: str
    action: Action
    since: float
    until: float
    reason: str
    escalation_rule_id: str | None = None
    policy_rule_id: str | None = None
    lifted_by_success: bool = False

    @property
    def source(self) -> str:
        return self.escalation_rule_id or f"policy:{self.policy_rule_id}"


class Decision(BaseModel):
    """What to do about one observed error, the stream considered.

    ``action`` uses the vocabulary of ``Recommendation``; ``scope`` and
    ``scope_key`` (``"okx"``, ``"okx:acct1"``, ``"okx:acct1:BTC-USDT"``,
    ``"okx:acct1:BTC-USDT:req-1"``; ``-`` stands for a missing account or
    symbol) say what it applies to. ``hold_s`` is how long it holds from
    ``at`` and ``until`` the clock time it ends (None: no hold). ``delay_s`` and
    ``precondition`` come from the recommendation when it stands.
    ``escalation_rule_id`` names the escalation rule that decided, None when
    the per-error recommendation stands or a per-error halt holds.
    ``recommendation`` is what ``recommend()`` said about the error alone.
    """

    model_config = ConfigDict(frozen=True)

    action: Action
    scope: Scope
    scope_key: str
    hold_s: float | None = None
    until: float | None = None
    delay_s: float = 0.0
    precondition: Precondition | None = None
    reason: str
    escalation_rule_id: str | None = None
    recommendation: Recommendation
    at: float

    @property
    def overridden(self) -> bool:
        """Whether the stream changed what the recommendation alone said."""
        rec = self.recommendation
        return (
            self.escalation_rule_id is not None
            or self.action is not rec.action
            or self.scope is not rec.scope
        )


class _Keys:
    """The scope keys of one event, from the exchange down to the request."""

    __slots__ = ("account", "exchange", "has_request", "request", "symbol")

    def __init__(self, exchange: str, account: object, symbol: object, request_id: object) -> None:
        self.exchange = exchange
        self.account = f"{exchange}:{_UNSET if account is None else account}"
        self.symbol = f"{self.account}:{_UNSET if symbol is None else symbol}"
        self.has_request = request_id is not None
        self.request = f"{self.symbol}:{_UNSET if request_id is None else request_id}"

    def of(self, scope: Scope) -> str:
        if scope is Scope.EXCHANGE:
            return self.exchange
        if scope is Scope.ACCOUNT:
            return self.account
        if scope is Scope.SYMBOL:
            return self.symbol
        return self.request

    def chain(self) -> Iterator[str]:
        yield self.exchange
        yield self.account
        yield self.symbol
        if self.has_request:
            yield self.request


class _Fired:
    __slots__ = ("key", "note", "rule")

    def __init__(self, rule: EscalationRule, key: str, note: str) -> None:
        self.rule = rule
        self.key = key
        self.note = note


# ------------------------------------------------------------ durable-rules

_engine: ModuleType | None = None
_host_class: type | None = None
_import_lock = threading.Lock()


def _load_engine() -> tuple[ModuleType, type]:
    """durable-rules' engine and a host class driven by the caller, or a clear error."""
    global _engine, _host_class
    with _import_lock:
        if _engine is None:
            try:
                from durable import engine  # type: ignore[import-untyped,unused-ignore]
            except Exception as exc:  # ImportError, or a broken native build
                version = ".".join(map(str, sys.version_info[:3]))
                raise SupervisorUnavailable(
                    f"normalizer.Supervisor needs durable-rules, which cannot be imported on "
                    f"Python {version} ({type(exc).__name__}: {exc}). durable-rules 2.0.28 ships "
                    "only as a source distribution and does not import on Python 3.13 or later; "
                    "run the supervisor on Python 3.10-3.12 with durable-rules installed. "
                    "normalize() and recommend() work without it."
                ) from exc

            class CallerDrivenHost(engine.Host):  # type: ignore[misc]
                """A host whose actions all run inside ``post()``.

                ``engine.Host`` also starts two timer threads that poll every
                ruleset for queued actions and timers, for ever. The supervisor
                uses neither (every action completes inside the post that
                caused it, under the supervisor's lock), so it does not start them.
                """

                def _run(self) -> None:
                    return None

            _engine, _host_class = engine, CallerDrivenHost
        assert _host_class is not None
        return _engine, _host_class


def compile_match(match: Match) -> dict[str, Any]:
    """A pattern as a durable-rules condition on the posted event ``m``."""
    terms: list[dict[str, Any]] = [{"kind": "error"}]

    def label_test(label: str) -> dict[str, Any]:
        return {"subcategory": label} if "." in label else {"category": label}

    def any_of(tests: list[dict[str, Any]]) -> dict[str, Any]:
        return tests[0] if len(tests) == 1 else {"$or": tests}

    if match.category:
        terms.append(any_of([label_test(lb) for lb in match.category]))
    for label in match.not_category or ():
        terms.append({"$neq": label_test(label)})
    if match.exchange:
        terms.append(any_of([{"exchange": x} for x in match.exchange]))
    if match.operation:
        terms.append(any_of([{"operation": op.value} for op in match.operation]))
    if match.account:
        terms.append(any_of([{"account": a} for a in match.account]))
    if match.exhausted is not None:
        terms.append({"exhausted": match.exhausted})
    return terms[0] if len(terms) == 1 else {"$and": terms}


def _recorder(hits: list[str], pattern_id: str) -> Callable[[Any], None]:
    def run(c: Any) -> None:  # durable-rules passes its closure; the match is all we need
        hits.append(pattern_id)

    return run


def _delete_rulesets(delete: Callable[[int], None], handles: list[int]) -> None:
    for handle in handles:
        delete(handle)


class _Matcher:
    """The escalation patterns as durable-rules rulesets, loaded eagerly."""

    def __init__(self, escalations: Escalations, source: str) -> None:
        unsafe = ruleset_problem(escalations)
        if unsafe is not None:
            raise PolicyError([Problem(source, None, "escalations", unsafe)])
        engine, host_class = _load_engine()
        self._not_handled = engine.MessageNotHandledException
        self._hits: list[str] = []
        patterns = escalations.patterns()
        tag = f"normalizer.supervisor.{next(_INSTANCES)}"
        definitions = {
            f"{tag}.{i}": {
                pid: {
                    "all": [{"m": compile_match(patterns[pid])}],
                    "run": _recorder(self._hits, pid),
                }
                for pid in group
            }
            for i, group in enumerate(escalations.rulesets)
        }
        host = host_class()
        host.register_rulesets(definitions)
        self._post = host.post
        self._names = list(definitions)
        # Post once to each ruleset now, so that no caller meets a ruleset
        # still being set up; this event matches no pattern.
        for name in self._names:
            with contextlib.suppress(self._not_handled):
                self._post(name, {"id": 0, "kind": "warm-up"})
        found = [getattr(host.get_ruleset(n), "_handle", None) for n in self._names]
        handles: list[int] = [h for h in found if h is not None]
        delete = getattr(engine.durable_rules_engine, "delete_ruleset", None)
        self.release: Callable[[], None] = lambda: None
        if delete is not None and len(handles) == len(found):
            finalizer = weakref.finalize(self, _delete_rulesets, delete, handles)
            finalizer.atexit = False
            self.release = finalizer

    def match(self, event: dict[str, Any]) -> set[str]:
        """The ids of the patterns ``event`` matches (callers hold the supervisor's lock)."""
        hits = self._hits
        hits.clear()
        for name in self._names:
            with contextlib.suppress(self._not_handled):
                self._post(name, event)
        return set(hits)


# ------------------------------------------------------------- the supervisor


class Supervisor:
    """Judges the stream of errors: counts, sequences and halts per scope.

    ``policy`` is a policy file path, a loaded ``Policy`` or None for the
    bundled one; its ``escalations:`` section holds the rules. ``clock`` returns
    the time in seconds (``time.monotonic`` by default; tests pass their own).
    ``request_memory_s``: how long the failures of a request id are remembered
    to number its attempts. ``max_tracked``: at most this many keys per table
    of state (the oldest are forgotten first).

    Raises ``SupervisorUnavailable`` where durable-rules cannot be imported.
    """

    def __init__(
        self,
        policy: Policy | str | Path | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        request_memory_s: float = 900.0,
        max_tracked: int = 100_000,
    ) -> None:
        if request_memory_s <= 0 or max_tracked < 1:
            raise ValueError("request_memory_s must be positive and max_tracked at least 1")
        self.policy = _policy(policy)
        self._clock = clock
        self._memory_s = float(request_memory_s)
        self._max = int(max_tracked)
        esc = self.policy.escalations
        self._counted = [r for r in esc.rules if r.sequence is None]
        self._sequences = [r for r in esc.rules if r.sequence is not None]
        self._matcher: _Matcher | None = _Matcher(esc, self.policy.source)
        self._lock = threading.Lock()
        self._event_id = 0
        # scope key -> source (escalation rule id or "policy:<id>") -> halt
        self._halts: dict[str, dict[str, Halt]] = {}
        # per counted rule: group key -> times of recent matches (oldest first)
        self._windows: dict[str, OrderedDict[str, deque[float]]] = {
            r.id: OrderedDict() for r in self._counted if not r.in_a_row
        }
        # per in_a_row rule: scope key -> (error identity, times of the streak)
        self._streaks: dict[str, OrderedDict[str, tuple[str, deque[float]]]] = {
            r.id: OrderedDict() for r in self._counted if r.in_a_row
        }
        # per sequence rule: request key -> (index of the next step, time of the first)
        self._pending: dict[str, OrderedDict[str, tuple[int, float]]] = {
            r.id: OrderedDict() for r in self._sequences
        }
        # "<request key>|<operation>" -> (failures observed, time of the last)
        self._attempts: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def __repr__(self) -> str:
        rules = len(self._counted) + len(self._sequences)
        return f"<Supervisor policy={self.policy.name!r} rules={rules}>"

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the durable-rules rulesets; the supervisor cannot be used afterwards."""
        with self._lock:
            if self._matcher is not None:
                self._matcher.release()
                self._matcher = None

    # ---------------------------------------------------------------- observe

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
    ) -> Decision:
        """The decision about ``err``, given everything observed before it.

        ``operation``, ``idempotent`` and ``attempt`` mean what they mean for
        ``recommend()``; without ``attempt`` the supervisor numbers the
        failures of ``request_id`` in ``operation`` itself (1 without a
        request id). Pass the same ``account`` and ``symbol`` for every error
        of one request.
        """
        if not isinstance(err, NormalizedError):
            raise TypeError(f"observe() needs a NormalizedError, not {type(err).__name__}")
        op = _operation(operation, err)
        keys = _Keys(err.exchange, account, symbol, request_id)
        with self._lock:
            matcher = self._open()
            now = self._clock()
            self._event_id += 1
            if self._event_id % _SWEEP_EVERY == 0:
                self._sweep(now)
            if attempt is None:
                attempt = self._next_attempt(keys, op, now)
            rec = recommend(
                err, operation=op, idempotent=idempotent, attempt=attempt, policy=self.policy
            )
            event = {
                "id": self._event_id,
                "kind": "error",
                "category": err.category.value,
                "subcategory": err.subcategory or "",
                "exchange": err.exchange,
                "operation": op.value,
                "account": "" if account is None else str(account),
                "exhausted": rec.retries_exhausted,
            }
            hits = matcher.match(event)
            fired = self._count(hits, err, keys, now)
            completed = self._follow_sequences(hits, keys, now)
            base = self._from_recommendation(rec, keys, now)
            for rule in completed:
                if rule.then.action is Action.RETRY:
                    base = self._retry_again(rule, rec, keys, now)
                else:
                    fired.append(_Fired(rule, keys.of(rule.then.scope), "the sequence completed"))
            if rec.action is Action.HALT and rec.hold_s and rec.scope is not Scope.REQUEST:
                self._hold_per_error(rec, keys, now)
            candidates = [(1, base)]
            for f in fired:
                candidates.append((2, self._escalate(f, keys, rec, now)))
            holding = max(self._holding(keys, now), key=_halt_strength, default=None)
            if holding is not None:
                candidates.append((0, self._halted(holding, rec, now)))
            return max(candidates, key=_strength)[1]

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
        the request's attempts and unfinished sequences.
        """
        keys = _Keys(exchange, account, symbol, request_id)
        lifted: list[str] = []
        with self._lock:
            self._open()
            now = self._clock()
            for key in keys.chain():
                held = self._halts.get(key)
                if not held:
                    continue
                for source, halt in list(held.items()):
                    if halt.until <= now or halt.lifted_by_success:
                        del held[source]
                        if halt.until > now and key not in lifted:
                            lifted.append(key)
                if not held:
                    del self._halts[key]
            for rule in self._counted:
                if rule.in_a_row:
                    self._streaks[rule.id].pop(keys.of(rule.group_scope), None)
            if keys.has_request:
                for op in Operation:
                    self._attempts.pop(f"{keys.request}|{op.value}", None)
                for pending in self._pending.values():
                    pending.pop(keys.request, None)
        return tuple(lifted)

    # ----------------------------------------------------------------- halts

    def status(self) -> tuple[Halt, ...]:
        """The halts in force now, widest scope first."""
        with self._lock:
            now = self._clock()
            self._drop_expired_halts(now)
            halts = [h for held in self._halts.values() for h in held.values()]
        return tuple(sorted(halts, key=lambda h: (-_WIDTH[h.scope], h.scope_key, h.until)))

    def halted(
        self,
        exchange: str,
        *,
        account: str | None = None,
        symbol: str | None = None,
        request_id: str | None = None,
    ) -> Halt | None:
        """The halt that stops a request to this exchange/account/symbol now, if any."""
        keys = _Keys(exchange, account, symbol, request_id)
        with self._lock:
            halts = list(self._holding(keys, self._clock()))
        return max(halts, key=_halt_strength, default=None)

    def lift(self, scope_key: str) -> int:
        """Lift every halt on ``scope_key`` (a person has looked); returns how many."""
        with self._lock:
            now = self._clock()
            held = self._halts.pop(scope_key, {})
            return sum(1 for h in held.values() if h.until > now)

    # ------------------------------------------------------------- internals

    def _open(self) -> _Matcher:
        if self._matcher is None:
            raise RuntimeError("this Supervisor is closed")
        return self._matcher

    def _next_attempt(self, keys: _Keys, op: Operation, now: float) -> int:
        if not keys.has_request:
            return 1
        key = f"{keys.request}|{op.value}"
        failures, last = self._attempts.pop(key, (0, now))
        if now - last > self._memory_s:
            failures = 0
        self._attempts[key] = (failures + 1, now)
        if len(self._attempts) > self._max:
            self._attempts.popitem(last=False)
        return failures + 1

    def _count(self, hits: set[str], err: NormalizedError, keys: _Keys, now: float) -> list[_Fired]:
        fired: list[_Fired] = []
        identity = f"{err.label}|{err.code}|{(err.message or '')[:200]}"
        for rule in self._counted:
            key = keys.of(rule.group_scope)
            if rule.group_scope is Scope.REQUEST and not keys.has_request:
                continue
            matched = rule.id in hits
            window = rule.within_s or 0.0
            if rule.in_a_row:
                streaks = self._streaks[rule.id]
                if not matched:  # any other error in the scope ends the streak
                    streaks.pop(key, None)
                    continue
                mine = identity if rule.same_error else ""
                kept = streaks.pop(key, None)
                times = kept[1] if kept is not None and kept[0] == mine else deque()
                times.append(now)
                while now - times[0] > window:
                    times.popleft()
                if len(times) >= rule.count:
                    fired.append(_Fired(rule, key, f"{rule.count} in a row within {window:g}s"))
                    continue
                streaks[key] = (mine, times)
                if len(streaks) > self._max:
                    streaks.popitem(last=False)
            elif matched:
                group = f"{key}|{identity}" if rule.same_error else key
                windows = self._windows[rule.id]
                times = windows.pop(group) if group in windows else deque(maxlen=rule.count)
                times.append(now)
                while now - times[0] > window:
                    times.popleft()
                if len(times) >= rule.count:
                    note = f"{rule.count} within {window:g}s" if rule.count > 1 else "at once"
                    fired.append(_Fired(rule, key, note))
                    continue
                windows[group] = times
                if len(windows) > self._max:
                    windows.popitem(last=False)
        return fired

    def _follow_sequences(self, hits: set[str], keys: _Keys, now: float) -> list[EscalationRule]:
        completed: list[EscalationRule] = []
        if not keys.has_request:
            return completed
        for rule in self._sequences:
            assert rule.sequence is not None
            assert rule.within_s is not None
            pending = self._pending[rule.id]
            state = pending.get(keys.request)
            if state is not None and now - state[1] > rule.within_s:
                del pending[keys.request]
                state = None
            if state is not None and f"{rule.id}#{state[0]}" in hits:
                step = state[0] + 1
                if step == len(rule.sequence):
                    del pending[keys.request]
                    completed.append(rule)
                else:
                    pending[keys.request] = (step, state[1])
            elif f"{rule.id}#0" in hits:
                pending.pop(keys.request, None)
                pending[keys.request] = (1, now)
                if len(pending) > self._max:
                    pending.popitem(last=False)
        return completed

    def _hold(self, halt: Halt, now: float) -> None:
        held = self._halts.setdefault(halt.scope_key, {})
        current = held.get(halt.source)
        if current is None or current.until <= now or halt.until > current.until:
            held[halt.source] = halt

    def _hold_per_error(self, rec: Recommendation, keys: _Keys, now: float) -> None:
        """Hold the scope of a per-error HALT that says for how long."""
        assert rec.hold_s is not None
        halt = Halt(
            scope=rec.scope,
            scope_key=keys.of(rec.scope),
            action=Action.HALT,
            since=now,
            until=now + rec.hold_s,
            reason=rec.reason,
            policy_rule_id=rec.policy_rule_id,
        )
        self._hold(halt, now)

    def _holding(self, keys: _Keys, now: float) -> Iterator[Halt]:
        for key in keys.chain():
            held = self._halts.get(key)
            if held:
                yield from (h for h in held.values() if h.until > now)

    def _drop_expired_halts(self, now: float) -> None:
        for key in list(self._halts):
            held = self._halts[key]
            for source in [s for s, h in held.items() if h.until <= now]:
                del held[source]
            if not held:
                del self._halts[key]

    def _sweep(self, now: float) -> None:
        """Forget what no window can count any more (amortised over many events)."""
        self._drop_expired_halts(now)
        for rule in self._counted:
            window = rule.within_s or 0.0
            if rule.in_a_row:
                streaks = self._streaks[rule.id]
                while streaks and now - next(iter(streaks.values()))[1][-1] > window:
                    streaks.popitem(last=False)
            else:
                windows = self._windows[rule.id]
                while windows and now - next(iter(windows.values()))[-1] > window:
                    windows.popitem(last=False)
        for rule in self._sequences:
            pending = self._pending[rule.id]
            while pending and now - next(iter(pending.values()))[1] > (rule.within_s or 0.0):
                pending.popitem(last=False)
        while self._attempts and now - next(iter(self._attempts.values()))[1] > self._memory_s:
            self._attempts.popitem(last=False)

    # -------------------------------------------------------------- decisions

    def _from_recommendation(self, rec: Recommendation, keys: _Keys, now: float) -> Decision:
        return Decision(
            action=rec.action,
            scope=rec.scope,
            scope_key=keys.of(rec.scope),
            hold_s=rec.hold_s,
            until=now + rec.hold_s if rec.hold_s is not None else None,
            delay_s=rec.delay_s,
            precondition=rec.precondition,
            reason=rec.reason,
            recommendation=rec,
            at=now,
        )

    def _retry_again(
        self, rule: EscalationRule, rec: Recommendation, keys: _Keys, now: float
    ) -> Decision:
        return Decision(
            action=Action.RETRY,
            scope=Scope.REQUEST,
            scope_key=keys.request,
            reason=f"{rule.id}: {rule.why}",
            escalation_rule_id=rule.id,
            recommendation=rec,
            at=now,
        )

    def _escalate(self, fired: _Fired, keys: _Keys, rec: Recommendation, now: float) -> Decision:
        rule, then = fired.rule, fired.rule.then
        key = keys.of(then.scope)
        hold = then.hold_s
        if hold is not None and (then.scope is not Scope.REQUEST or keys.has_request):
            self._hold(
                Halt(
                    scope=then.scope,
                    scope_key=key,
                    action=then.action,
                    since=now,
                    until=now + hold,
                    reason=f"{rule.id}: {rule.why}",
                    escalation_rule_id=rule.id,
                    lifted_by_success=then.lifted_by_success,
                ),
                now,
            )
        return Decision(
            action=then.action,
            scope=then.scope,
            scope_key=key,
            hold_s=hold,
            until=now + hold if hold is not None else None,
            reason=f"{rule.id} ({fired.note} on {fired.key}): {rule.why}",
            escalation_rule_id=rule.id,
            recommendation=rec,
            at=now,
        )

    def _halted(self, halt: Halt, rec: Recommendation, now: float) -> Decision:
        return Decision(
            action=Action.HALT,
            scope=halt.scope,
            scope_key=halt.scope_key,
            hold_s=halt.until - now,
            until=halt.until,
            reason=f"{halt.scope_key} is halted until {halt.until:g} ({halt.source}): "
            f"{halt.reason}",
            escalation_rule_id=halt.escalation_rule_id,
            recommendation=rec,
            at=now,
        )


def _strength(candidate: tuple[int, Decision]) -> tuple[int, int, float, int]:
    """Stronger action, then wider scope, then later end, then fired > stated > held."""
    preference, d = candidate
    until = d.until if d.until is not None else float("-inf")
    return (_RANK[d.action], _WIDTH[d.scope], until, preference)


def _halt_strength(halt: Halt) -> tuple[int, float]:
    return (_WIDTH[halt.scope], halt.until)


def _operation(operation: Operation | str | None, err: NormalizedError) -> Operation:
    return (err.operation or Operation.OTHER) if operation is None else operation_of(operation)
