"""Issue 23: ``Halt`` and ``Decision`` read from JSON (a log, a queue, another process)
refuse what cannot occur, with ``InvalidResultError`` only, in bounded depth and size."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from normalizer import Category, InvalidResultError, NormalizedError, Supervisor
from normalizer.supervisor import Decision, Halt

HALT = Halt(
    scope="account",
    scope_key="okx:acct1",
    action="HALT",
    since=1.0,
    until=31.0,
    reason="account-rate-limit-storm: ...",
    escalation_rule_id="account-rate-limit-storm",
)


def _decision() -> Decision:
    with Supervisor(clock=lambda: 1.0) as sup:
        err = NormalizedError(exchange="okx", category=Category.AUTH, subcategory="AUTH.API_KEY")
        return sup.observe(err, account="a", event_id="e1")


def test_a_halt_and_a_decision_round_trip() -> None:
    assert Halt.from_json(HALT.to_json()) == HALT
    d = _decision()
    assert Decision.from_json(d.to_json()) == d


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("action", "RETRY"),  # Red team: Halt.from_json accepted action RETRY
        ("action", "QUERY_THEN_RETRY"),
        ("action", "PAUSE"),
        ("scope", "galaxy"),
        ("scope_key", "okx"),  # an exchange key for an account scope
        ("scope_key", "okx:a:b"),
        ("scope_key", ""),
        ("until", 0.5),  # before since
        ("since", float("nan")),
        ("reason", "x" * 20_000),
        ("lifted_by_success", "yes"),
    ],
)
def test_a_halt_that_cannot_occur_is_refused(field: str, value: object) -> None:
    data = HALT.to_dict()
    data[field] = value
    with pytest.raises(InvalidResultError):
        Halt.from_dict(data)
    with pytest.raises(InvalidResultError):
        Halt.from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("changes"),
    [
        {"action": "WAIT"},
        {"scope": "exchange"},  # the key names an account
        {"replace": True},  # a re-placement is a RETRY of the request only
        {"hold_s": None},  # until without hold_s
        {"hold_s": -5.0},
        {"until": 0.0},  # before at
        {"event_id": None, "duplicate": True},
        {"recommendation": {"action": "RETRY"}},
    ],
)
def test_a_decision_that_cannot_occur_is_refused(changes: dict[str, object]) -> None:
    data = _decision().to_dict()
    data.update(changes)
    with pytest.raises(InvalidResultError):
        Decision.from_dict(data)
    with pytest.raises(InvalidResultError):
        Decision.from_json(json.dumps(data))


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=30,
    )
)
def test_from_dict_on_any_json_data_raises_only_invalid_result_error(data: object) -> None:
    """Invariant: whatever JSON-like data arrives, from_dict returns a record or raises
    InvalidResultError, never another exception."""
    for cls in (Halt, Decision):
        try:
            got: object = cls.from_dict(data)  # type: ignore[arg-type]
        except InvalidResultError as exc:
            got = exc
        assert type(got) is cls or isinstance(got, InvalidResultError)


def test_deep_or_huge_json_is_refused_without_recursion_error() -> None:
    for text in ("[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000):
        for cls in (Halt, Decision):
            with pytest.raises(InvalidResultError):
                cls.from_json(text)
    with pytest.raises(InvalidResultError):
        Halt.from_json(" " * (17 * 1024 * 1024))
