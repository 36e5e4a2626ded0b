"""Sequence rules: a correlator joins the steps of one request.

Two correlators give the same decisions (the scenario tests run on both
where both import): durable-rules when it imports (Python 3.10-3.12 with the
supervisor extra), else ``PythonHost`` below, a small pure-Python join of the
same rulesets (durable-rules 2.0.28's extension calls ``PyEval_CallObject``,
which Python 3.13 removed, so it does not import there).
``NORMALIZER_SEQUENCE_ENGINE`` (``auto``, ``python`` or ``durable-rules``)
chooses one; ``auto`` (the default) takes durable-rules when it imports.

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
import os
import secrets
import sys
import threading
from collections import OrderedDict
from types import ModuleType
from typing import Any

from .._core.errors import SupervisorUnavailable
from .._core.frozen import frozen
from .._formats.escalation import MAX_SEQUENCE_STEPS, EscalationRule
from ._matchers import Features, Predicate, compile_match

__all__ = ["Completed", "PythonHost", "SequenceTracker", "engine_available", "engine_name"]


# ---------------------------------------------------- the shared host

_lock = threading.Lock()
#: engine name -> (host, the exception its post() raises when no rule takes an event)
_hosts: dict[str, tuple[Any, type[BaseException]]] = {}
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


class _NotHandled(Exception):
    pass


class PythonHost:
    """The sequence rulesets joined in Python (what durable-rules does with them).

    Ruleset ``normalizer.sequence.<n>`` fires ``done`` for a ``req`` once its
    steps ``0 .. n-1`` have all arrived (each step consumed once), and a
    ``drain`` of length ``j`` consumes the steps ``0 .. j-1`` of a ``req``
    that will never complete. The supervisor's tracker posts steps in order
    and drains what it forgets, so the state here mirrors its own.
    """

    def __init__(self) -> None:
        self._steps: dict[tuple[str, str], list[int]] = {}

    def post(self, ruleset: str, event: dict[str, Any]) -> None:
        n = int(ruleset.rsplit(".", 1)[1])
        key = (ruleset, str(event.get("req")))
        kind = event.get("kind")
        if kind == "drain":
            got = self._steps.get(key)
            if got is None:
                raise _NotHandled(event)
            for i in range(int(event["len"])):
                if i in got:
                    got.remove(i)
            if not got:
                del self._steps[key]
            return
        if kind != "step":
            raise _NotHandled(event)
        step = int(event["step"])
        got = self._steps.setdefault(key, [])
        if step > 0 and 0 not in got:  # durable-rules joins a later step on step 0's req
            if not got:
                del self._steps[key]
            raise _NotHandled(event)
        got.append(step)
        if all(i in got for i in range(n)):
            for i in range(n):
                got.remove(i)
            if not got:
                del self._steps[key]
            _fired.append(key[1])

    def held(self) -> int:
        return sum(map(len, self._steps.values()))


def engine_name(choice: str | None = None) -> str:
    """The correlator ``choice`` (default: ``NORMALIZER_SEQUENCE_ENGINE``) gives here:
    ``durable-rules`` or ``python``."""
    with _lock:
        return _load(choice)[0]


def engine_available(choice: str | None = None) -> bool:
    """Whether the sequence engine ``choice`` can run here (``auto`` always can)."""
    try:
        engine_name(choice)
    except SupervisorUnavailable:
        return False
    return True


def _load(choice: str | None = None) -> tuple[str, Any, type[BaseException]]:
    """The correlator chosen (built once per process), or a clear error."""
    if choice is None:
        choice = os.environ.get("NORMALIZER_SEQUENCE_ENGINE", "auto")
    choice = choice.strip().lower() or "auto"
    if choice not in ("auto", "python", "durable-rules"):
        raise SupervisorUnavailable(
            f"the sequence engine must be auto, python or durable-rules, not {choice!r} "
            "(NORMALIZER_SEQUENCE_ENGINE)"
        )
    if choice != "python" and "durable-rules" in _hosts:
        return ("durable-rules", *_hosts["durable-rules"])
    if choice == "python" or (choice == "auto" and "python" in _hosts):
        if "python" not in _hosts:
            _hosts["python"] = (PythonHost(), _NotHandled)
        return ("python", *_hosts["python"])
    try:
        from durable import engine  # type: ignore[import-untyped,unused-ignore]
    except Exception as exc:  # ImportError, or a broken native build (Python 3.13)
        if choice == "auto":
            _hosts["python"] = (PythonHost(), _NotHandled)
            return ("python", *_hosts["python"])
        version = ".".join(map(str, sys.version_info[:3]))
        raise SupervisorUnavailable(
            f"NORMALIZER_SEQUENCE_ENGINE=durable-rules, but durable-rules cannot be imported "
            f"on Python {version} ({type(exc).__name__}: {exc}). Either unset "
            "NORMALIZER_SEQUENCE_ENGINE (or set it to python): the bundled pure-Python "
            "correlator gives the same decisions; or run a policy without sequences: copy "
            "the bundled policies/default.yaml, delete each rule that has a 'sequence:' key "
            "under 'escalations: rules:' (the bundled one is reconcile-then-retry), and pass "
            "Supervisor(policy='that-file.yaml'). normalize() and recommend() never need it."
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
    _hosts["durable-rules"] = (host, engine.MessageNotHandledException)
    return ("durable-rules", host, engine.MessageNotHandledException)


def _reset_for_tests(module: ModuleType | None = None) -> None:
    """Forget the hosts (tests simulate a missing durable-rules)."""
    _hosts.clear()


# ------------------------------------------------------- per supervisor


@frozen
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

    def __init__(
        self, rules: list[EscalationRule], max_tracked: int, engine: str | None = None
    ) -> None:
        self._rules = [_Rule(r) for r in rules]
        self._max = max_tracked
        self._token = secrets.token_hex(8)
        self.engine = ""
        self._host: Any = None
        self._not_handled: type[BaseException] = Exception
        if self._rules:
            with _lock:
                self.engine, self._host, self._not_handled = _load(engine)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def _req(self, rule: _Rule, request_key: str) -> str:
        raw = f"{self._token}|{rule.rule.id}|{request_key}".encode("utf-8", "surrogatepass")
        return hashlib.blake2b(raw, digest_size=16).hexdigest()

    def _post(self, rule: _Rule, event: dict[str, Any]) -> list[str]:
        event["id"] = next(_ids)
        with _lock:
            _fired.clear()
            with contextlib.suppress(self._not_handled):
                self._host.post(rule.ruleset, event)
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
