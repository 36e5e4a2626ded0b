"""Properties of the supervisor over generated streams and generated escalation patterns."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import normalizer
from normalizer import Action, Category, NormalizedError, Operation, Scope, Supervisor
from normalizer._formats.escalation import Match
from normalizer._formats.registry import ONTOLOGY
from normalizer.supervisor import _sequences
from normalizer.supervisor._matchers import Features, compile_match

# ------------------------------------------------- compiled predicates

LABELS = [
    "AUTH",
    "AUTH.API_KEY",
    "AUTH.TIMESTAMP",
    "RATE_LIMIT",
    "RATE_LIMIT.REQUESTS",
    "UNKNOWN",
    "UNKNOWN_STATE.TIMEOUT",
    "NOT_FOUND.ORDER",
]
EXCHANGES = list(normalizer.exchanges())
ACCOUNTS = ["a", "b", "c"]
OPERATIONS = [Operation.PLACE_ORDER, Operation.QUERY, Operation.CANCEL_ORDER]


def _some(values: list[Any]) -> st.SearchStrategy[list[Any] | None]:
    return st.none() | st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)


matches = st.builds(
    Match,
    category=_some(LABELS),
    not_category=st.none() | st.lists(st.sampled_from(LABELS), min_size=1, max_size=1),
    exchange=_some(EXCHANGES),
    operation=_some(OPERATIONS),
    account=_some(ACCOUNTS),
    exhausted=st.none() | st.booleans(),
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    category = draw(st.sampled_from([Category.AUTH, Category.RATE_LIMIT, Category.UNKNOWN_STATE]))
    subs = [s for s, c in ONTOLOGY.subcategories.items() if c is category]
    return {
        "kind": "error",
        "category": category.value,
        "subcategory": draw(st.sampled_from(["", *subs])),
        "exchange": draw(st.sampled_from(EXCHANGES)),
        "operation": draw(st.sampled_from(OPERATIONS)).value,
        "account": draw(st.sampled_from(["", *ACCOUNTS])),
        "exhausted": draw(st.booleans()),
    }


def reference(match: Match, event: dict[str, Any]) -> bool:
    """What a pattern means, written plainly: the semantics the rulesets must have."""
    labels = {event["category"], event["subcategory"]}
    return (
        (match.category is None or bool(labels & set(match.category)))
        and not labels & set(match.not_category or ())
        and (match.exchange is None or event["exchange"] in match.exchange)
        and (match.operation is None or event["operation"] in match.operation)
        and (match.account is None or event["account"] in match.account)
        and (match.exhausted is None or event["exhausted"] is match.exhausted)
    )


@given(st.lists(matches, min_size=1, max_size=10), st.lists(events(), min_size=1, max_size=12))
def test_a_compiled_predicate_holds_exactly_when_every_condition_of_its_pattern_holds(
    patterns: list[Match], stream: list[dict[str, Any]]
) -> None:
    """Invariant: compile_match(m)(event) == the plain reading of m on the event."""
    predicates = [compile_match(m) for m in patterns]
    for event in stream:
        f = Features(
            event["category"],
            event["subcategory"],
            event["exchange"],
            event["operation"],
            event["account"] or None,
            event["exhausted"],
        )
        for m, predicate in zip(patterns, predicates, strict=True):
            assert predicate(f) is reference(m, event), (m, event)


# ------------------------------------------------------ streams of errors

STREAM_LABELS = [
    "RATE_LIMIT.REQUESTS",
    "AUTH.API_KEY",
    "AUTH.TIMESTAMP",
    "UNKNOWN.UNMAPPED",
    "UNKNOWN_STATE.TIMEOUT",
    "NOT_FOUND.ORDER",
    "UNAVAILABLE.MARKET",
    "UNAVAILABLE.SERVICE",
    "ACCOUNT_RESTRICTED.SECURITY_HOLD",
    "INVALID_REQUEST.SYMBOL",
]

where = st.fixed_dictionaries(
    {
        "exchange": st.sampled_from(["okx", "okx", "mexc"]),
        "account": st.sampled_from(["a", "a", "b", None]),
        "symbol": st.sampled_from(["S1", "S1", "S2", None]),
        "request_id": st.sampled_from(["r1", "r1", "r2", None]),
    }
)
observe = st.tuples(
    st.just("observe"),
    where,
    st.sampled_from(STREAM_LABELS),
    st.sampled_from(["place_order", "query", "cancel_order"]),
)
steps = st.one_of(
    observe,
    observe,
    observe,
    st.tuples(st.just("success"), where),
    st.tuples(st.just("advance"), st.sampled_from([0.0, 0.5, 3.0, 11.0, 70.0, 400.0, 1000.0])),
    st.tuples(st.just("lift"), where, st.sampled_from(list(Scope))),
    # an unknown placement, then what its query met: the sequences' material
    st.tuples(st.just("placed-then"), where, st.sampled_from(STREAM_LABELS)),
)


DEPTH = {Scope.EXCHANGE: 0, Scope.ACCOUNT: 1, Scope.SYMBOL: 2, Scope.REQUEST: 3}


def chain(w: dict[str, Any]) -> list[str]:
    """The scope keys of a request, the exchange first (as the supervisor forms them)."""
    account = f"{w['exchange']}:{w['account'] or '-'}"
    symbol = f"{account}:{w['symbol'] or '-'}"
    keys = [w["exchange"], account, symbol]
    return keys + ([f"{symbol}:{w['request_id']}"] if w["request_id"] is not None else [])


def observe_and_check(sup: Supervisor, now: float, w: dict[str, Any], label: str, op: str) -> None:
    """Observe one error; no RETRY may cross a halt in force on its scopes."""
    category = Category(label.split(".", 1)[0])
    err = NormalizedError(exchange=w["exchange"], category=category, subcategory=label)
    d = sup.observe(err, operation=op, **{k: v for k, v in w.items() if k != "exchange"})
    in_force = [h for h in sup.status() if h.scope_key in chain(w)]
    if d.action in (Action.RETRY, Action.QUERY_THEN_RETRY):
        assert in_force == [], (d, in_force)
    if in_force:  # held: a HALT (open-ended, or not ending before now) or a person is called
        assert d.action in (Action.HALT, Action.ESCALATE)
        assert d.until is None or d.until > now


# The default rules, made to fire sooner, and a sequence that halts.
EAGER = normalizer.parse_policy(
    """
version: 1
name: eager
escalations:
  rules:
    - id: venue-rate-limit-storm
      why: Three rate limits from one venue in a minute.
      when: {category: [RATE_LIMIT]}
      count: 3
      within_s: 60
      per: exchange
      then: {action: HALT, scope: exchange, hold_s: 30, lifted_by_success: true}
    - id: unknown-repeated
      why: The same unknown error twice in a row.
      when: {category: [UNKNOWN, UNKNOWN_STATE]}
      count: 2
      within_s: 600
      in_a_row: true
      same_error: true
      per: symbol
      then: {action: ESCALATE, scope: symbol, hold_s: 100}
    - id: retries-exhausted
      why: One request out of retries halts the account.
      when: {exhausted: true}
      then: {action: HALT, scope: account, hold_s: 50, lifted_by_success: true}
    - id: lost-then-refused
      why: An unknown outcome then a refusal for one request.
      sequence:
        - {category: [UNKNOWN_STATE]}
        - {category: [AUTH, INVALID_REQUEST]}
      within_s: 100
      then: {action: HALT, scope: request, hold_s: 40, lifted_by_success: true}
"""
)


@pytest.mark.parametrize("policy", [None, EAGER], ids=["default", "eager"])
@given(stream=st.lists(steps, min_size=5, max_size=80))
def test_halts_hold_until_they_expire_or_are_lifted_and_no_retry_crosses_them(
    policy: normalizer.Policy | None, stream: list[tuple[Any, ...]]
) -> None:
    now = [0.0]
    sup = Supervisor(policy, clock=lambda: now[0])
    # (scope key, source) -> (until, lifted by a success?) of every halt seen in force
    seen: dict[tuple[str, str], tuple[float, bool]] = {}
    try:
        for step in stream:
            kind = step[0]
            if kind == "advance":
                now[0] += step[1]
            elif kind == "lift":
                keys = chain(step[1])
                key = keys[min(DEPTH[step[2]], len(keys) - 1)]
                sup.lift(key)
                seen = {k: v for k, v in seen.items() if k[0] != key}
            elif kind == "success":
                w = step[1]
                sup.observe_success(
                    w["exchange"],
                    account=w["account"],
                    symbol=w["symbol"],
                    request_id=w["request_id"],
                )
                keys = set(chain(w))
                seen = {k: v for k, v in seen.items() if not (k[0] in keys and v[1])}
            elif kind == "placed-then":
                _, w, label = step
                observe_and_check(sup, now[0], w, "UNKNOWN_STATE.TIMEOUT", "place_order")
                observe_and_check(sup, now[0], w, label, "query")
            else:
                _, w, label, op = step
                observe_and_check(sup, now[0], w, label, op)
            status = sup.status()
            current = {(h.scope_key, h.source): h for h in status}
            assert all(h.until > now[0] for h in status)
            for (key, source), (until, _) in seen.items():
                if until > now[0]:  # not expired, not lifted: still reported
                    held = current.get((key, source))
                    assert held is not None, (key, source, until, now)
                    assert held.until >= until
            for (key, source), h in current.items():
                seen[(key, source)] = (h.until, h.lifted_by_success)
    finally:
        sup.close()


# --------------------------------------------- both sequence engines, one answer

_LABELS = ["UNKNOWN_STATE.TIMEOUT", "NOT_FOUND.ORDER", "RATE_LIMIT.REQUESTS", "AUTH.API_KEY"]
_OPS = ["place_order", "query", "cancel_order"]


@pytest.mark.skipif(
    not _sequences.engine_available("durable-rules"), reason="durable-rules does not import here"
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*_LABELS, "success"]),
            st.sampled_from(_OPS),
            st.sampled_from(["r1", "r2", "r3"]),
            st.booleans(),
            st.sampled_from([0.0, 0.5, 3.0, 6.0, 700.0]),
        ),
        max_size=40,
    )
)
@settings(max_examples=60)
def test_the_python_correlator_decides_as_durable_rules_does(events: list) -> None:  # type: ignore[type-arg]
    """Invariant: on any stream of placements, not-found queries, other errors and
    successes over a few request ids, the pure-Python sequence correlator (Python 3.13)
    and durable-rules give the same decision for every event."""
    now = [0.0]
    sups = [
        Supervisor(testing_clock=lambda: now[0], sequence_engine=name)
        for name in ("python", "durable-rules")
    ]
    try:
        for label, op, request, idempotent, advance in events:
            now[0] += advance
            if label == "success":
                got = [s.observe_success("okx", account="a", request_id=request) for s in sups]
            else:
                err = NormalizedError(
                    exchange="okx", category=Category(label.split(".")[0]), subcategory=label
                )
                got = [
                    (d.action, d.scope_key, d.replace, d.escalation_rule_id, d.until)
                    for d in (
                        s.observe(
                            err,
                            operation=op,
                            account="a",
                            request_id=request,
                            idempotent=idempotent,
                        )
                        for s in sups
                    )
                ]
            assert got[0] == got[1], (label, op, request)
    finally:
        for s in sups:
            s.close()
