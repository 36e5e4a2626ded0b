"""Sequence rules: durable-rules joins the steps of one request.

A sequence rule (``reconcile-then-retry``: an UNKNOWN_STATE placement, then
NOT_FOUND queries of the same request) is the one place the supervisor needs
a rules engine: it correlates several events. Each step's single-error
condition is a compiled predicate (``_matchers``); durable-rules receives only
``{kind, step, req}`` events, where ``req`` is a hash of the supervisor, the
rule and the request's scope key (so no identifier, however long, reaches
it), and one of its rules per sequence length fires when the steps
``0 .. n-1`` of one ``req`` have all arrived.

Native memory stays bounded: one durable-rules host serves the whole
process, with one ruleset per sequence length (2 to ``MAX_SEQUENCE_STEPS``),
registered once; supervisors never register or delete rulesets (deleting
them and their sessions is where durable-rules 2.0.28 leaked and crashed).
Every partial match durable-rules holds is mirrored in ``pending`` (at most
``max_tracked`` per rule); when one is forgotten (its window passed, it was
evicted, the request succeeded, the sequence restarted, the supervisor was
closed) a ``drain`` event consumes it, so the engine never keeps an event
nobody will complete.

Time is the supervisor's clock: the window (``within_s``) and the re-placing
age (``min_age_s``) are checked here, not by durable-rules (whose windows
follow the wall clock). In fleet mode the sequences stay per process: the
placement and its follow-up queries must be observed by the same process.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import secrets
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .._core.errors import SupervisorUnavailable
from .._formats.escalation import MAX_SEQUENCE_STEPS, EscalationRule
from ._matchers import Features, Predicate, compile_match

__all__ = ["Completed", "SequenceTracker", "engine_available"]


# ---------------------------------------------------- the shared host

_lock = threading.Lock()
_host: Any = None
_not_handled: type[BaseException] = Exception
_fired: list[str] = []
_ids = itertools.count(1)


def _ruleset_name(n: int) -> str:
    return f"normalizer.sequence.{n}"


def _step(i: int) -> dict[str, Any]:
    if i == 0:
        return {"s0": {"$and": [{"kind": "step"}, {"step": 0}]}}
    return {f"s{i}": {"$and": [{"kind": "step"}, {"step": i}, {"req": {"s0": "req"}}]}}


def _definitions() -> dict[str, Any]:
    def done(c: Any) -> None:
        _fired.append(str(c.s0.req))

    def drained(c: Any) -> None:
        return None

    out: dict[str, Any] = {}
    for n in range(2, MAX_SEQUENCE_STEPS + 1):
        rules: dict[str, Any] = {"done": {"all": [_step(i) for i in range(n)], "run": done}}
        for j in range(1, n):
            drain = {"d": {"$and": [{"kind": "drain"}, {"len": j}, {"req": {"s0": "req"}}]}}
            rules[f"drain{j}"] = {"all": [*(_step(i) for i in range(j)), drain], "run": drained}
        out[_ruleset_name(n)] = rules
    return out


def _load() -> Any:
    """The process's durable-rules host (built on first use), or a clear error."""
    global _host, _not_handled
    if _host is not None:
        return _host
    try:
        from durable import engine  # type: ignore[import-untyped,unused-ignore]
    except Exception as exc:  # ImportError, or a broken native build
        version = ".".join(map(str, sys.version_info[:3]))
        raise SupervisorUnavailable(
            f"this policy's sequence rules need durable-rules, which cannot be imported on "
            f"Python {version} ({type(exc).__name__}: {exc}). durable-rules 2.0.28 ships only "
            "as a source distribution and does not import on Python 3.13 or later; install "
            "the supervisor extra (pip install 'exchange-error-normalizer[supervisor]') on "
            "Python 3.10-3.12, or use a policy without sequences. normalize() and recommend() "
            "work without it."
        ) from exc

    class CallerDrivenHost(engine.Host):  # type: ignore[misc]
        """A host whose actions all run inside ``post()`` (no timer threads)."""

        def _run(self) -> None:
            return None

    host = CallerDrivenHost()
    host.register_rulesets(_definitions())
    for n in range(2, MAX_SEQUENCE_STEPS + 1):  # set every ruleset up now, not mid-stream
        with contextlib.suppress(engine.MessageNotHandledException):
            host.post(_ruleset_name(n), {"id": f"warm-{n}", "kind": "warm-up"})
    _not_handled = engine.MessageNotHandledException
    _host = host
    return host


def engine_available() -> bool:
    try:
        with _lock:
            _load()
    except SupervisorUnavailable:
        return False
    return True


def _reset_for_tests(module: ModuleType | None = None) -> None:
    """Forget the host (tests simulate a missing durable-rules)."""
    global _host
    _host = None


# ------------------------------------------------------- per supervisor


@dataclass(frozen=True, slots=True)
class Completed:
    rule: EscalationRule


class _Rule:
    __slots__ = ("aged_s", "n", "needs_idempotent", "pending", "rule", "ruleset", "steps")

    def __init__(self, rule: EscalationRule) -> None:
        assert rule.sequence is not None
        self.rule = rule
        self.steps: list[Predicate] = [compile_match(m) for m in rule.sequence]
        self.n = len(self.steps)
        self.ruleset = _ruleset_name(self.n)
        self.aged_s = rule.replace_min_age_s
        self.needs_idempotent = rule.then.replace and not rule.then.even_if_not_idempotent
        # req hash -> (next step, time of the first step)
        self.pending: OrderedDict[str, tuple[int, float]] = OrderedDict()


class SequenceTracker:
    """The sequences of one supervisor (callers serialise calls with their own lock)."""

    def __init__(self, rules: list[EscalationRule], max_tracked: int) -> None:
        self._rules = [_Rule(r) for r in rules]
        self._max = max_tracked
        self._token = secrets.token_hex(8)
        if self._rules:
            with _lock:
                _load()

    def __bool__(self) -> bool:
        return bool(self._rules)

    def _req(self, rule: _Rule, request_key: str) -> str:
        raw = f"{self._token}|{rule.rule.id}|{request_key}".encode("utf-8", "surrogatepass")
        return hashlib.blake2b(raw, digest_size=16).hexdigest()

    def _post(self, rule: _Rule, event: dict[str, Any]) -> list[str]:
        event["id"] = next(_ids)
        with _lock:
            host = _load()
            _fired.clear()
            with contextlib.suppress(_not_handled):
                host.post(rule.ruleset, event)
            out = list(_fired)
            _fired.clear()
        return out

    def _drain(self, rule: _Rule, req: str, step: int) -> None:
        if step >= 1:
            self._post(rule, {"kind": "drain", "len": step, "req": req})

    def observe(
        self, f: Features, request_key: str | None, idempotent: bool, now: float
    ) -> list[EscalationRule]:
        """Advance the sequences of this request; returns the rules it completed."""
        completed: list[EscalationRule] = []
        if request_key is None:
            return completed
        for rule in self._rules:
            req = self._req(rule, request_key)
            state = rule.pending.get(req)
            window = rule.rule.within_s or 0.0
            if state is not None and now - state[1] > window:
                del rule.pending[req]
                self._drain(rule, req, state[0])
                state = None
            if state is not None and rule.steps[state[0]](f):
                step, since = state
                last = step == rule.n - 1
                if not last or now - since >= rule.aged_s:
                    fired = self._post(rule, {"kind": "step", "step": step, "req": req})
                    if last:
                        del rule.pending[req]
                        if req in fired:
                            completed.append(rule.rule)
                    else:
                        rule.pending[req] = (step + 1, since)
                    continue
            if rule.steps[0](f) and (idempotent or not rule.needs_idempotent):
                if state is not None:
                    del rule.pending[req]
                    self._drain(rule, req, state[0])
                self._post(rule, {"kind": "step", "step": 0, "req": req})
                rule.pending[req] = (1, now)
                while len(rule.pending) > self._max:
                    old, (step, _) = rule.pending.popitem(last=False)
                    self._drain(rule, old, step)
        return completed

    def forget(self, request_key: str) -> None:
        """A request succeeded: its unfinished sequences end."""
        for rule in self._rules:
            req = self._req(rule, request_key)
            state = rule.pending.pop(req, None)
            if state is not None:
                self._drain(rule, req, state[0])

    def sweep(self, now: float) -> None:
        """Forget the sequences whose window has passed (oldest first)."""
        for rule in self._rules:
            window = rule.rule.within_s or 0.0
            pending = rule.pending
            while pending:
                req, (step, since) = next(iter(pending.items()))
                if now - since <= window:
                    break
                del pending[req]
                self._drain(rule, req, step)

    def close(self) -> None:
        for rule in self._rules:
            while rule.pending:
                req, (step, _) = rule.pending.popitem(last=False)
                self._drain(rule, req, step)

    def tracked(self) -> int:
        return sum(len(r.pending) for r in self._rules)
