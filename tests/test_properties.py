"""The engine's invariants, stated as property tests (issue: total coverage).

Each test's name and docstring state the invariant it enforces.
"""

from __future__ import annotations

import functools
import json
import string
from typing import Any

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

import normalizer
from normalizer import (
    Action,
    Category,
    NormalizedError,
    Operation,
    PolicyError,
    Scope,
    parse_policy,
)
from normalizer._core.text import Template
from normalizer._engine.normalize import registry
from normalizer._formats.registry import ONTOLOGY

EXCHANGES = list(normalizer.exchanges())  # every bundled venue


def _ruled(exchange: str, code: str) -> bool:
    """Whether a rule of the exchange's own names this code (or its range)."""
    for r in registry().get(exchange).rules:
        if r.exchange != exchange:
            continue
        if r.codes is not None and code in r.codes:
            return True
        lo_hi = r.when.code_range
        if lo_hi is not None and code.lstrip("-").isdigit() and lo_hi[0] <= int(code) <= lo_hi[1]:
            return True
    return False


def _shared_message(exchange: str, message: str) -> bool:
    """Whether the docs give this message (folded) for more than one code."""
    from normalizer._core.text import fold

    folded = fold(message)
    catalog = registry().get(exchange).catalog
    assert catalog is not None
    return len({e.code for e in catalog.entries if fold(e.message) == folded}) > 1


# Entries whose code has a rule of the exchange's own. Every documented entry of
# every venue is checked (and venues not yet covered are reported) by the
# catalog property in tests/test_catalog_docs.py; this set grows as rules land.
ENTRIES = [
    (ex, e)
    for ex in EXCHANGES
    for e in registry().get(ex).catalog.entries  # type: ignore[union-attr]
    if _ruled(ex, e.code)
]
# The entries whose message the docs give for no other code: the message alone can
# decide them. The others are left out of that property here, by name, not skipped
# inside the test (which would pass without asserting).


def _has_words(message: str) -> bool:
    """Whether a documented message says anything besides its placeholders and
    numbers: WhiteBIT documents some codes by the number alone ("40"), HTX one
    by "{0};{1}"; such a text cannot decide without its code, so those entries
    are left out of the message-alone properties (by this filter, visibly)."""
    import re

    return any(c.isalpha() for c in re.sub(r"\{[^{}]*\}", "", message))


DECIDED_BY_MESSAGE = [
    (ex, e) for ex, e in ENTRIES if not _shared_message(ex, e.message) and _has_words(e.message)
]
LABELS = [c.value for c in Category] + list(ONTOLOGY.subcategories)
WRITES = sorted(ONTOLOGY.writes)


def _entry_id(item: tuple[str, Any]) -> str:
    ex, e = item
    return f"{ex}-{e.code}-{e.language}"


def _by_code(exchange: str, entry: Any) -> NormalizedError:
    """How the exchange answers: the code with its documented message."""
    return normalizer.normalize(exchange, code=entry.code, message=entry.message)


# ------------------------------------------------------------ property 1


@pytest.mark.parametrize("item", ENTRIES, ids=_entry_id)
def test_every_documented_code_maps_to_a_known_category(item: tuple[str, Any]) -> None:
    """Every catalog entry, in every language, maps by code (alone, and with its
    documented message) to a category other than UNKNOWN, through a rule of the
    exchange's own."""
    exchange, entry = item
    for err in (normalizer.normalize(exchange, code=entry.code), _by_code(exchange, entry)):
        assert err.category is not Category.UNKNOWN, (exchange, entry.code, err)
        assert err.rule_id is not None
        assert err.rule_id.startswith(f"{exchange}."), err.rule_id


_VALUE = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=16)


@pytest.mark.parametrize("item", DECIDED_BY_MESSAGE, ids=_entry_id)
@given(data=st.data())
def test_message_alone_maps_to_the_same_category_as_the_code(
    item: tuple[str, Any], data: Any
) -> None:
    """A documented message no other code shares, without its code and with its
    placeholders filled with generated values, normalizes to the same category and
    subcategory as its code does."""
    exchange, entry = item
    template = Template(entry.message)
    values = [data.draw(_VALUE) for _ in template.placeholders]
    message = template.fill(values)
    if entry.message.rstrip().endswith((":", "：")):  # the value follows the colon
        message += data.draw(_VALUE)
    expected = _by_code(exchange, entry)
    got = normalizer.normalize(exchange, message=message)
    assert (got.category, got.subcategory) == (expected.category, expected.subcategory), (
        message,
        got.rule_id,
        expected.rule_id,
    )
    assert _recognised(got, entry)


ALL_VENUES = sorted(normalizer.exchanges())  # the generic profile has no catalog


@functools.cache
def _decided_by_message(exchange: str) -> list[Any]:
    """The entries of a venue whose message no other code documents."""
    from normalizer._core.text import fold

    catalog = registry().get(exchange).catalog
    assert catalog is not None
    codes: dict[str, set[str]] = {}
    for e in catalog.entries:
        codes.setdefault(fold(e.message), set()).add(e.code)
    return [
        e for e in catalog.entries if len(codes[fold(e.message)]) == 1 and _has_words(e.message)
    ]


def _recognised(got: NormalizedError, entry: Any) -> bool:
    """A message alone is recognised as its documented entry: named in
    ``documented_code``, or read as the entry's code where the venue's code is
    text the message starts with (Kraken's ``EService: Throttled: <time>``)."""
    return got.documented_code is not None or got.code == entry.code


@pytest.mark.parametrize("exchange", ALL_VENUES)
@given(data=st.data())
def test_every_venue_message_alone_maps_to_the_category_of_its_code(
    exchange: str, data: Any
) -> None:
    """For every venue: a documented message no other code shares, without its
    code and with its placeholders filled by generated values, is recognised
    and lands on the same category and subcategory as its code with the
    message (the strict, every-entry check is in tests/test_catalog_docs.py)."""
    entry = data.draw(st.sampled_from(_decided_by_message(exchange)))
    template = Template(entry.message)
    message = template.fill([data.draw(_VALUE) for _ in template.placeholders])
    if entry.message.rstrip().endswith((":", "：")):
        message += data.draw(_VALUE)
    expected = _by_code(exchange, entry)
    assert expected.subcategory is not None, (exchange, entry.code, expected.rule_id)
    got = normalizer.normalize(exchange, message=message)
    assert _recognised(got, entry), (exchange, entry.code, message)
    assert (got.category, got.subcategory) == (expected.category, expected.subcategory), (
        exchange,
        message,
        got.rule_id,
        expected.rule_id,
    )


# ------------------------------------------------------------ property 2

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5)
    ),
    max_leaves=25,
)
_shaped = st.fixed_dictionaries(
    {},
    optional={
        "code": st.one_of(
            st.integers(-(10**20), 10**20), st.text(max_size=40), st.floats(), st.none(), _json
        ),
        "msg": st.one_of(st.text(max_size=3000), st.none(), _json),
        "data": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "sCode": st.one_of(st.text(max_size=8), st.integers(), _json),
                        "sMsg": _json,
                    },
                ),
                max_size=4,
            ),
            _json,
        ),
    },
)
_body = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=400),
    _json.map(lambda v: json.dumps(v)),
    _shaped,
    _shaped.map(json.dumps),
    _shaped.map(lambda v: json.dumps(v).encode()),
    st.just("<html><head><title>502 Bad Gateway</title></head></html>"),
    st.none(),
)
_headers = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["Retry-After", "retry-after", "X-Other"]) | st.text(max_size=10),
        st.text(max_size=40) | st.integers() | st.floats() | st.none(),
        max_size=4,
    ),
    st.lists(
        st.tuples(
            st.text(max_size=12) | st.binary(max_size=12),
            st.text(max_size=30) | st.binary(max_size=30),
        ),
        max_size=4,
    ),
    st.integers(),
    st.text(max_size=20),
)
_status = st.one_of(
    st.none(), st.integers(-1000, 100000), st.text(max_size=5), st.floats(), st.booleans()
)


@given(
    exchange=st.sampled_from(EXCHANGES),
    body=_body,
    headers=_headers,
    status=_status,
    code=st.one_of(st.none(), st.integers(), st.text(max_size=50), st.floats(), _json),
    message=st.one_of(st.none(), st.text(max_size=5000), st.binary(max_size=200), _json),
    operation=st.none() | st.sampled_from(list(Operation)),
)
def test_normalize_never_raises_and_keeps_the_raw_input(
    exchange: str, body: Any, headers: Any, status: Any, code: Any, message: Any, operation: Any
) -> None:
    """normalize() returns a result for any exchange input, however malformed,
    and the result keeps every piece of that input, unchanged, in ``raw``."""
    err = normalizer.normalize(
        exchange,
        code=code,
        message=message,
        http_status=status,
        body=body,
        headers=headers,
        operation=operation,
    )
    assert isinstance(err, NormalizedError)
    # identical inputs share one result, whose raw holds an equal input
    assert err.raw.body == body
    assert err.raw.headers is headers
    assert err.raw.http_status is status or err.raw.http_status == status  # NaN: itself
    assert err.raw.code is code or err.raw.code == code
    assert err.raw.message == message
    assert isinstance(err.category, Category)
    # a rule decides every known category; only a documented success code (a rule that
    # says UNKNOWN.NO_ERROR) names a rule on an UNKNOWN result
    assert (err.rule_id is None) == (
        err.category is Category.UNKNOWN and err.subcategory != "UNKNOWN.NO_ERROR"
    ) or err.subcategory == "UNKNOWN.NO_ERROR"
    if err.subcategory is not None:
        assert ONTOLOGY.subcategories[err.subcategory] is err.category
    assert err.retry_after_s is None or 0 <= err.retry_after_s <= 7 * 86400
    hash(err)


_CONTAINERS = (tuple, list, dict, set, frozenset)


def _a_cycle_from(root: object) -> list[str] | None:
    """A reference cycle among the containers reachable from ``root`` (results are
    tuples; their items, notes and raw are tuples, lists and dicts), or None.
    Depth-first with colours; other objects (text, enum members, a caller's
    exception) end the walk: they are leaves of a result, not parts of it."""
    grey: dict[int, int] = {}  # id -> position on the path
    black: set[int] = set()
    path: list[object] = []
    stack: list[tuple[object, Any]] = [(root, None)]
    while stack:
        obj, kids = stack[-1]
        if kids is None:
            grey[id(obj)] = len(path)
            path.append(obj)
            values = obj.values() if isinstance(obj, dict) else obj
            kids = iter([k for k in values if isinstance(k, _CONTAINERS)])  # type: ignore[union-attr]
            stack[-1] = (obj, kids)
        kid = next(kids, None)
        if kid is None:
            stack.pop()
            path.pop()
            del grey[id(obj)]
            black.add(id(obj))
        elif id(kid) in grey:
            return [type(o).__name__ for o in path[grey[id(kid)] :]]
        elif id(kid) not in black:
            stack.append((kid, None))
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    loop: list[Any] = [1]
    loop.append((loop,))
    assert _a_cycle_from(("a", [loop])) == ["list", "tuple"]  # loop -> (loop,) -> loop
    assert _a_cycle_from(("a", [1, (2,)], {"k": [3]})) is None


@given(
    exchange=st.sampled_from(EXCHANGES),
    body=_body,
    status=_status,
    code=st.one_of(st.none(), st.integers(), st.text(max_size=50)),
    message=st.one_of(st.none(), st.text(max_size=200)),
    operation=st.none() | st.sampled_from(list(Operation)),
    idempotent=st.booleans(),
)
def test_results_and_recommendations_hold_no_reference_cycles(
    exchange: str,
    body: Any,
    status: Any,
    code: Any,
    message: Any,
    operation: Any,
    idempotent: bool,
) -> None:
    """Results (items, notes and raw included) and recommendations hold no reference
    cycle, so reference counting alone frees them and a memo of them gives the cyclic
    collector nothing to find; JSON read back holds none either."""
    err = normalizer.normalize(
        exchange, code=code, message=message, http_status=status, body=body, operation=operation
    )
    assert _a_cycle_from(err) is None
    assert _a_cycle_from(NormalizedError.from_json(err.to_json())) is None
    if err.is_error:
        rec = normalizer.recommend(err, operation, idempotent)
        assert _a_cycle_from(rec) is None


@given(junk=st.binary(min_size=1, max_size=2000), exchange=st.sampled_from(EXCHANGES))
def test_unreadable_bodies_are_unknown_with_the_raw_body_kept(junk: bytes, exchange: str) -> None:
    """A body that is not JSON and carries no recognisable message is UNKNOWN,
    never a guess, and its bytes are kept."""
    assume(not junk.strip().startswith((b"{", b"[", b"<")))
    err = normalizer.normalize(exchange, body=junk, http_status=200)
    if err.rule_id is None:
        assert err.category is Category.UNKNOWN
        assert err.subcategory == "UNKNOWN.MALFORMED"
    else:  # the junk happened to read as a known phrasing, e.g. "rate limit"
        assert err.rule_id.startswith("common.message.")
    assert err.raw.body is junk


# --------------------------------------------------------- properties 3-4


def _policy_rule(i: int) -> st.SearchStrategy[dict[str, Any]]:
    when = st.fixed_dictionaries(
        {},
        optional={
            "category": st.lists(st.sampled_from(LABELS), min_size=1, max_size=3, unique=True),
            "operation": st.lists(
                st.sampled_from([o.value for o in Operation]), min_size=1, max_size=3, unique=True
            ),
            "exchange": st.lists(st.sampled_from(EXCHANGES), min_size=1, max_size=2, unique=True),
            "idempotent": st.booleans(),
        },
    )
    backoff = st.builds(
        lambda initial, jitter, extra, cap: {
            "initial_s": initial,
            "jitter": jitter,
            "multiplier": round(1 + jitter + extra, 3),
            "max_s": max(cap, initial) or 0.5,
        },
        st.sampled_from([0.0, 0.1, 0.5, 1.0, 5.0]),
        st.sampled_from([0.0, 0.1, 0.3, 0.9]),
        st.sampled_from([0.0, 0.5, 1.0, 3.0]),
        st.sampled_from([0.2, 1.0, 30.0, 600.0]),
    )
    then = st.fixed_dictionaries(
        {},
        optional={
            "action": st.sampled_from([a.value for a in Action]),
            "scope": st.sampled_from([s.value for s in Scope]),
            "max_attempts": st.integers(1, 8),
            "backoff": backoff,
            "exhausted": st.sampled_from(["HALT", "ESCALATE"]),
            "hold_s": st.sampled_from([1.0, 60.0]),
        },
    )
    return st.fixed_dictionaries(
        {
            "id": st.just(f"r{i}"),
            "why": st.just("generated rule for a property test"),
            "when": when,
            "then": then,
        }
    )


@st.composite
def policies(draw: Any) -> normalizer.Policy:
    n = draw(st.integers(0, 6))
    doc = {
        "version": 1,
        "name": "generated",
        "extends": draw(st.sampled_from(["default", "none"])),
        "rules": [draw(_policy_rule(i)) for i in range(n)],
    }
    try:
        return parse_policy(yaml.safe_dump(doc))
    except PolicyError:
        assume(False)
        raise  # unreachable


def _err(label: str, exchange: str, retry_after: float | None = None) -> NormalizedError:
    cat, sub = ONTOLOGY.parse_label(label)
    return NormalizedError(
        exchange=exchange, category=cat, subcategory=sub, retry_after_s=retry_after
    )


def test_recommend_is_total_over_every_situation_with_the_default_policy() -> None:
    """recommend() answers every category x subcategory x operation x idempotent
    x attempt with a well-formed recommendation under the bundled policy."""
    count = 0
    for label in LABELS:
        for exchange in EXCHANGES:
            err = _err(label, exchange)
            for op in Operation:
                for idem in (False, True):
                    for attempt in (1, 2, 3, 7, 50):
                        rec = normalizer.recommend(
                            err, operation=op, idempotent=idem, attempt=attempt
                        )
                        assert isinstance(rec.action, Action)
                        assert rec.delay_s >= 0
                        assert rec.max_attempts >= 1
                        assert rec.reason
                        if label == "UNKNOWN.NO_ERROR":  # a success: never escalated
                            assert rec.action is not Action.ESCALATE
                        else:
                            assert rec.policy_rule_id.startswith("default:")
                        count += 1
    assert count == len(LABELS) * len(EXCHANGES) * len(Operation) * 2 * 5


@given(
    policy=policies(),
    label=st.sampled_from(LABELS),
    exchange=st.sampled_from(EXCHANGES),
    op=st.sampled_from(list(Operation)),
    idem=st.booleans(),
    attempt=st.integers(1, 200),
    retry_after=st.none() | st.floats(0, 600),
    u=st.floats(0, 1, exclude_max=True),
)
def test_recommend_is_total_and_safe_under_any_valid_policy(
    policy: normalizer.Policy,
    label: str,
    exchange: str,
    op: Operation,
    idem: bool,
    attempt: int,
    retry_after: float | None,
    u: float,
) -> None:
    """Under any valid policy: recommend() answers; an unknown outcome of a
    non-idempotent write is never RETRY; AUTH (but timestamps) and KYC are never
    retried; RATE_LIMIT is RETRY with a positive delay until the attempts are
    used up; a delay never exceeds max(cap, Retry-After)."""
    err = _err(label, exchange, retry_after)
    rec = normalizer.recommend(
        err, operation=op, idempotent=idem, attempt=attempt, policy=policy, rand=lambda: u
    )
    resolved = policy.resolve(exchange, err.category, err.subcategory, op, idem)
    assert isinstance(rec.action, Action)
    assert isinstance(rec.scope, Scope)
    if (
        err.category in (Category.UNKNOWN_STATE, Category.UNKNOWN)
        and op in ONTOLOGY.writes
        and not idem
    ):
        assert rec.action is not Action.RETRY
    if err.category in (Category.AUTH, Category.KYC) and label != "AUTH.TIMESTAMP":
        assert rec.action not in (Action.RETRY, Action.QUERY_THEN_RETRY)
    if err.category is Category.RATE_LIMIT:
        if attempt < rec.max_attempts:
            assert rec.action is Action.RETRY
            assert rec.delay_s > 0
        else:
            assert rec.action in (Action.HALT, Action.ESCALATE)
    if rec.action is Action.QUERY_THEN_RETRY:
        assert rec.precondition is not None
    if rec.action in (Action.HALT, Action.ESCALATE):
        assert rec.delay_s == 0
    assert rec.delay_s <= max(resolved.backoff.max_s, retry_after or 0.0) + 1e-9


@given(
    policy=policies(),
    label=st.sampled_from(LABELS),
    op=st.sampled_from(list(Operation)),
    idem=st.booleans(),
    retry_after=st.none() | st.floats(0, 120),
    draws=st.lists(st.floats(0, 1, exclude_max=True), min_size=12, max_size=12),
)
def test_delay_never_decreases_with_the_attempt_number(
    policy: normalizer.Policy,
    label: str,
    op: Operation,
    idem: bool,
    retry_after: float | None,
    draws: list[float],
) -> None:
    """For one error, the recommended delay never decreases from one attempt to
    the next, whatever the jitter draws, while the action still retries."""
    err = _err(label, "okx", retry_after)
    last = 0.0
    for attempt, u in enumerate(draws, start=1):
        rec = normalizer.recommend(
            err, operation=op, idempotent=idem, attempt=attempt, policy=policy, rand=lambda u=u: u
        )
        if rec.action not in (Action.RETRY, Action.QUERY_THEN_RETRY):
            break
        assert rec.delay_s >= last - 1e-9, (attempt, rec.delay_s, last)
        last = rec.delay_s


# ------------------------------------------------------------ property 5


# each venue's own rules; the common rules, which a venue may override on purpose
# (binance's own 403), are each checked with the first venue that does not
RULES = [(ex, r) for ex in EXCHANGES for r in registry().get(ex).rules if r.exchange == ex]
_COMMON = {r.id: r for ex in EXCHANGES for r in registry().get(ex).rules if r.exchange != ex}
RULES += [
    (
        next(
            (ex for ex in EXCHANGES if registry().get(ex).witness_probe(r) is not None),
            EXCHANGES[0],
        ),
        r,
    )
    for r in _COMMON.values()
]


@pytest.mark.parametrize("item", RULES, ids=lambda it: f"{it[0]}:{it[1].id}")
def test_every_rule_is_reachable_and_cites_its_source(item: tuple[str, Any]) -> None:
    """Every rule in rules/ is selected by some input (its witness), and says
    where it came from and why."""
    exchange, collected = item
    rs = registry().get(exchange)
    # the rule as the registry holds it now: an earlier test may have reset the rules,
    # which builds new rule objects (the set collected at import holds the old ones)
    rule = rs.by_id[collected.id]
    probe = rs.witness_probe(rule)
    assert probe is not None, f"no input selects {rule.id}: {rs.witness_probes(rule)}"
    assert rs.select(probe)[0] is rule
    assert rule.source_url.startswith("https://")
    assert len(rule.why) >= 8
    if probe.transport is None:  # the public API reaches it too
        err = normalizer.normalize(
            exchange,
            code=probe.code,
            message=probe.message,
            http_status=probe.http_status,
            operation=probe.operation,
        )
        assert err.rule_id == rule.id
