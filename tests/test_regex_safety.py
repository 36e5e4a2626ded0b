"""No rule regex can stall ``normalize()`` (issue 23).

``normalizer._formats.regexcheck`` bounds, from a pattern's parse tree, the
steps a backtracking search can take, and refuses a pattern whose bound grows
faster than the message (or whose shape, a repeated group or a backreference,
can backtrack exponentially). These tests hold the bound to account against a
backtracking matcher that counts its steps (no clock): for every pattern the
check accepts, on hostile messages, the steps stay under the bound, and the
matcher agrees with ``re`` on whether the pattern is found.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import normalizer
from normalizer import RuleFileError
from normalizer._formats import regexcheck
from normalizer._formats.regexcheck import RegexRefused, bound_of, check

_c = regexcheck._c
_p = regexcheck._p


class _Counter:
    """A backtracking search over the parse tree, as ``re`` does it, counting
    one step per item tried and per character a repeat consumes."""

    def __init__(self, pattern: str, text: str) -> None:
        parsed = _p.parse(pattern, re.IGNORECASE)
        self.flags = re.IGNORECASE | parsed.state.flags
        self.items = regexcheck._flat(list(parsed))
        self.text = text
        self.steps = 0
        self._singles: dict[Any, re.Pattern[str]] = {}

    def single(self, item: tuple[Any, Any], pos: int) -> bool:
        if pos >= len(self.text):
            return False
        key = repr(item)
        rx = self._singles.get(key)
        if rx is None:
            rx = self._singles[key] = re.compile(regexcheck._render(item), self.flags)
        return rx.fullmatch(self.text[pos]) is not None

    def at(self, kind: Any, pos: int) -> bool:
        t = self.text
        if kind in (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING):
            return pos == 0
        if kind is _c.AT_END:
            return pos == len(t) or (pos == len(t) - 1 and t[-1] == "\n")
        if kind is _c.AT_END_STRING:
            return pos == len(t)
        word = re.compile(r"\w")
        before = pos > 0 and word.match(t[pos - 1]) is not None
        after = pos < len(t) and word.match(t[pos]) is not None
        if kind is _c.AT_BOUNDARY:
            return before != after
        if kind is _c.AT_NON_BOUNDARY:
            return before == after
        raise AssertionError(kind)

    def match(self, items: list[Any], i: int, pos: int, k: Callable[[int], bool]) -> bool:
        if i == len(items):
            return k(pos)
        self.steps += 1
        op, av = items[i]

        def go(p: int) -> bool:
            return self.match(items, i + 1, p, k)

        if op in regexcheck._SINGLE:
            return self.single((op, av), pos) and go(pos + 1)
        if op is _c.AT:
            return self.at(av, pos) and go(pos)
        if op is _c.SUBPATTERN:
            return self.match(regexcheck._flat(av[-1]), 0, pos, go)
        if op is _c.BRANCH:
            return any(self.match(regexcheck._flat(alt), 0, pos, go) for alt in av[1])
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            direction, body = av
            body = regexcheck._flat(body)
            if direction == 1:
                found = self.match(body, 0, pos, lambda p: True)
            else:
                width = body_width(body)
                found = pos - width >= 0 and self.match(body, 0, pos - width, lambda p: p == pos)
            return (found if op is _c.ASSERT else not found) and go(pos)
        if op in regexcheck._REPEATS:
            low, high, body = av
            body = list(body)
            if len(body) == 1 and body[0][0] in regexcheck._SINGLE:
                most = 0
                while most < high and self.single(body[0], pos + most):
                    most += 1
                    self.steps += 1
                counts = range(most, low - 1, -1) if op is _c.MAX_REPEAT else range(low, most + 1)
                for count in counts:
                    self.steps += 1
                    if go(pos + count):
                        return True
                return False
            assert high <= 1
            if self.match(regexcheck._flat(body), 0, pos, go):
                return True
            return low == 0 and go(pos)
        raise AssertionError(op)

    def search(self) -> bool:
        return any(
            self.match(self.items, 0, start, lambda p: True) for start in range(len(self.text) + 1)
        )


def body_width(items: list[Any]) -> int:
    lo, hi = _p.SubPattern(_p.State() if hasattr(_p, "State") else _p.Pattern(), items).getwidth()
    assert lo == hi
    return int(lo)


# ------------------------------------------------------------ hostile patterns

_ATOMS = ["a", "b", ".", r"\s", r"\w", r"\d", "[ab]", "[^a]", " ", r"\b", "^", "$"]


def _patterns() -> st.SearchStrategy[str]:
    atom = st.sampled_from(_ATOMS)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        quant = st.sampled_from(["*", "+", "?", "{0,3}", "{1,2}", "*?", ""])
        return st.one_of(
            st.tuples(inner, inner).map("".join),
            st.tuples(inner, inner).map(lambda t: f"({t[0]}|{t[1]})"),
            st.tuples(inner, quant).map(lambda t: f"({t[0]}){t[1]}"),
            st.tuples(atom, quant).map("".join),
            st.tuples(inner, st.sampled_from(["(?=a)", "(?!b)", "(?<=a)", "(?<!b)"])).map("".join),
        )

    return st.recursive(atom, extend, max_leaves=8)


_MESSAGES = st.one_of(
    st.text(alphabet="ab \n1_", max_size=40),
    st.tuples(st.sampled_from(["a", "ab", "a ", " ", "1", "ba"]), st.integers(1, 30)).map(
        lambda t: (t[0] * t[1])[:40]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=_patterns(), messages=st.lists(_MESSAGES, min_size=1, max_size=4))
def test_an_accepted_pattern_never_takes_more_steps_than_its_bound(
    pattern: str, messages: list[str]
) -> None:
    """Invariant: for every pattern ``check`` accepts and every message, a
    backtracking search takes at most ``bound_of(pattern).at(len(message))``
    steps (and finds what ``re`` finds); a pattern it refuses says why."""
    try:
        check(pattern)
    except RegexRefused as exc:
        refusal = str(exc)
    else:
        refusal = ""
    if refusal:
        assert repr(pattern) in refusal
        return
    bound = bound_of(pattern)
    assert bound.deg <= 1
    for message in messages:
        counter = _Counter(pattern, message)
        found = counter.search()
        assert found == (re.search(pattern, message, re.IGNORECASE) is not None)
        assert counter.steps <= bound.at(len(message)), (pattern, message, counter.steps, bound)


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+$",
        "(a|ab)*c",
        "(a|a)*$",
        r"(\w+\s?)*$",
        "(.*a){12}",
        r"(\d+)\1",
        r"\s*\s*\s*x",
        ".*.*=.*",
        r"a.*b.*c",
        r"(x+x+)+y",
    ],
)
def test_catastrophic_and_superlinear_shapes_are_refused(pattern: str) -> None:
    with pytest.raises(RegexRefused):
        check(pattern)


def test_the_issue_pattern_is_refused_in_a_user_rule_folder_with_file_and_line(
    tmp_path: Path,
) -> None:
    """The issue's ``(a+)+$`` (54 s on 29 characters) is refused at load."""
    venue = tmp_path / "okx"
    venue.mkdir()
    (venue / "rules.yaml").write_text(
        "exchange: okx\nsource_url: https://example.com/docs\nrules:\n"
        "  - id: mine.slow\n    category: RATE_LIMIT\n    why: A test rule that must be refused.\n"
        '    when: {message_regex: "(a+)+$"}\n    examples: ["aaaa"]\n'
    )
    with pytest.raises(RuleFileError) as info:
        normalizer.load_rules(tmp_path)
    text = str(info.value)
    assert "okx/rules.yaml:7" in text
    assert "(a+)+$" in text
    assert "okx" in normalizer.exchanges()


def test_every_bundled_regex_is_linear() -> None:
    """The bundled rules and retry hints pass the same check (they are compiled
    through it); their bounds are linear in the message."""
    from normalizer._formats.registry import registry

    seen = 0
    for name in registry().names:
        rs = registry().get(name)
        for rule in rs.rules:
            for pattern in rule.when.message_regex or ():
                assert bound_of(pattern).deg <= 1
                seen += 1
    assert seen > 100


def test_a_hostile_retry_hint_regex_is_refused(tmp_path: Path) -> None:
    venue = tmp_path / "myvenue"
    venue.mkdir()
    (venue / "exchange.yaml").write_text(
        "name: myvenue\ndisplay_name: Mine\ndocs_url: https://example.com/docs\n"
        "response:\n  code_fields: [code]\n  message_fields: [msg]\n  retry_hints:\n"
        '    - {message_regex: "wait (\\\\d+)+ s", unit: seconds}\n'
    )
    (venue / "rules.yaml").write_text(
        "exchange: myvenue\nsource_url: https://example.com/docs\nrules:\n"
        "  - id: myvenue.x\n    category: RATE_LIMIT\n    why: A test rule.\n"
        '    when: {code: "1"}\n'
    )
    with pytest.raises(RuleFileError) as info:
        normalizer.load_rules(tmp_path)
    assert "exchange.yaml" in str(info.value)


def _bundled_patterns() -> list[str]:
    from normalizer._formats.registry import registry

    found: set[str] = set()
    for name in registry().names:
        for rule in registry().get(name).rules:
            found.update(rule.when.message_regex or ())
    return sorted(found)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_bundled_pattern_never_takes_more_steps_than_its_bound(data: st.DataObject) -> None:
    """Invariant: on messages made of a bundled pattern's own words and of the
    characters its repeats take (the hostile case for backtracking), the steps
    of a backtracking search stay under the pattern's bound."""
    pattern = data.draw(st.sampled_from(_bundled_patterns()))
    words = re.findall(r"[a-z]{2,}", pattern) or ["a"]
    piece = st.sampled_from([*words, " ", "  ", "1", "_", "-", ":", "\n"])
    message = "".join(data.draw(st.lists(piece, max_size=24)))[:80]
    bound = bound_of(pattern)
    counter = _Counter(pattern, message)
    found = counter.search()
    assert found == (re.search(pattern, message, re.IGNORECASE) is not None)
    assert counter.steps <= bound.at(len(message)), (pattern, message, counter.steps, bound)
