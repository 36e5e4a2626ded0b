"""The speed work's shortcuts agree with the general code they stand in for.

Each shortcut of issue 9 has a general twin that stays the reference:

- ``reader.compile_reader`` (a reader per exchange's shape) and ``extract``;
- ``normalize()``'s JSON object path (``_body_text``) and the general path
  (``_guarded``);
- the ASCII shortcut of ``fold`` and the full Unicode fold;
- a regex's literal prefilter (``_core/literals.py``) and the regex itself;
- a regex's lowered twin (case-sensitive, on the lowered text) and the regex
  ignoring case;
- the head/tail index of documented templates and a scan of all of them;
- ``select`` stopping early in each group sorted strongest first, and skipping
  a group of code-less rules when the message holds none of their texts.

The tests run the recorded bodies of every venue's rule tests and generated
hostile ones (strings where numbers are expected, floats for ints, huge
numbers, nested junk) through both twins.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import normalizer
from normalizer._core.literals import ASCII_EQUALS, Prefilter, lowered_twin, projected, required
from normalizer._core.table import Probe, RuleSet
from normalizer._core.text import _fold, _fold_general
from normalizer._engine import normalize as engine
from normalizer._engine.envelope import extract
from normalizer._engine.reader import compile_reader
from normalizer._engine.results import RawInput
from normalizer._formats.registry import GENERIC, registry

ROOT = Path(__file__).resolve().parent.parent
VENUES = [v for v in normalizer.exchanges()]


def _recorded_bodies() -> list[tuple[str, str, Any]]:
    out = []
    for venue in VENUES:
        path = ROOT / "rules" / venue / "tests.yaml"
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data.get("cases", []):
            body = case.get("input", {}).get("body")
            if isinstance(body, (dict, list)):
                body = json.dumps(body, ensure_ascii=False)
            if isinstance(body, str):
                out.append((venue, body, case.get("input", {}).get("http_status")))
    return out


#: MEXC keeps no rule tests as data (tests/test_normalize.py holds its cases): its shapes
_MEXC = [
    ("mexc", '{"code":10101,"msg":"Insufficient balance"}', 400),
    ("mexc", '{"success":false,"code":123456,"message":"Oversold"}', 400),
    ("mexc", '{"code":"700003","msg":"Timestamp for this request is outside the window."}', 400),
    ("mexc", '{"code":0,"msg":"success"}', 200),
    ("mexc", '{"msg":"No permission to access the endpoint.","code":700007}', 403),
]
RECORDED = _recorded_bodies() + _MEXC


def test_the_recorded_bodies_cover_every_venue() -> None:
    """The comparisons below run on the recorded bodies of every venue that has them."""
    assert {v for v, _, _ in RECORDED} == set(VENUES)
    assert len(RECORDED) > 250


def _same_as_extract(venue: str, parsed: Any) -> None:
    rs = registry().get(venue)
    shape = rs.spec.response
    got = compile_reader(shape)(parsed, rs.known_codes)
    # the reader normalize() compiles: the exchange's codes known in advance
    assert compile_reader(shape, venue, rs.known_codes)(parsed, rs.known_codes) == got
    env = extract(shape, parsed, known_codes=rs.known_codes)
    if got is None:
        return  # the reader left it to extract
    code, message, items = got
    assert not env.success, (parsed, env)
    assert not env.malformed, (parsed, env)
    assert not env.warnings, (parsed, env)
    assert (code, message, items) == (env.code, env.message, env.items), (parsed, env)


@pytest.mark.parametrize(("venue", "body", "status"), RECORDED)
def test_compiled_reader_agrees_with_extract_on_recorded_bodies(
    venue: str, body: str, status: Any
) -> None:
    """Invariant: on a recorded body, the compiled reader answers what extract
    answers, or leaves the body to it."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return
    if isinstance(parsed, dict):
        _same_as_extract(venue, parsed)


def test_compiled_reader_answers_most_recorded_error_bodies() -> None:
    """The shortcut is taken: most recorded object bodies are read by it."""
    answered = total = 0
    for venue, body, _ in RECORDED:
        try:
            parsed = json.loads(body)
        except ValueError:
            continue
        if not isinstance(parsed, dict):
            continue
        rs = registry().get(venue)
        total += 1
        answered += compile_reader(rs.spec.response)(parsed, rs.known_codes) is not None
    assert answered / total > 0.8, (answered, total)


def _field_names(venue: str) -> list[str]:
    shape = registry().get(venue).spec.response
    names = {p.split(".")[0] for p in (*shape.code_fields, *shape.message_fields)}
    for s in shape.item_shapes:
        names.add(s.field.split(".")[0])
        names.update(s.code_fields)
        names.update(s.message_fields)
        if s.success_field:
            names.add(s.success_field)
    if shape.success_field:
        names.add(shape.success_field)
    if shape.error_strings is not None:
        names.add(shape.error_strings.field)
    names.update(["data", "error", "list", "retExtInfo", "failureList", "error_response"])
    return sorted(n for n in names if n)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["0", "1", "58102", "  ", "", "EOrder:Insufficient funds", "WGeneral:x"]),
    st.sampled_from(["00000", "200000", "UNKNOWN_FAILURE_REASON", "INSUFFICIENT_FUND"]),
)


def _bodies(venue: str) -> st.SearchStrategy[dict[str, Any]]:
    names = _field_names(venue)
    keys = st.sampled_from(names) | st.text(max_size=8)

    def nested(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5)

    values = st.recursive(_scalars, nested, max_leaves=12)
    return st.dictionaries(keys, values, max_size=7)


@given(data=st.data(), venue=st.sampled_from(VENUES))
def test_compiled_reader_never_disagrees_with_extract_on_hostile_bodies(
    data: st.DataObject, venue: str
) -> None:
    """Invariant: whatever a JSON object holds in the exchange's fields (wrong
    types, huge numbers, nested junk), the reader answers what extract answers
    or leaves it to extract."""
    _same_as_extract(venue, data.draw(_bodies(venue)))


# Shapes beyond the bundled venues': a user's rules folder may use any field
# names and nesting, and the reader's text is made from them.
_PARTS = ["code", "msg", "data", "error", "list", "ok", "0", "1", "", "it's", 'a"b', "\\n"]
_paths = st.lists(st.sampled_from(_PARTS), min_size=1, max_size=3).map(".".join)
_codes = st.lists(
    st.sampled_from(
        ["0", "1", "58102", "EOrder:Insufficient funds", "EOrder: Insufficient funds", "VAGUE", "x"]
    ),
    max_size=3,
)


@st.composite
def _shapes(draw: st.DrawFn) -> Any:
    from normalizer._formats.rules import ErrorStringsShape, ItemsShape, ResponseShape

    def items() -> Any:
        return ItemsShape(
            field=draw(_paths),
            code_fields=draw(st.lists(_paths, max_size=2)),
            message_fields=draw(st.lists(_paths, max_size=2)),
            success_codes=draw(_codes),
            success_field=draw(st.none() | _paths),
            all_failed=draw(st.booleans()),
        )

    strings = None
    if draw(st.booleans()):
        strings = ErrorStringsShape(
            field=draw(_paths),
            warning_prefixes=draw(st.lists(st.sampled_from(["W", "E", ""]), max_size=2)),
            separator=draw(st.sampled_from([":", "/"])),
        )
    listed = draw(st.lists(st.builds(items), max_size=2))
    shape = dict(
        code_fields=draw(st.lists(_paths, max_size=3)),
        message_fields=draw(st.lists(_paths, max_size=3)),
        success_codes=draw(_codes),
        success_field=draw(st.none() | _paths),
        vague_codes=draw(_codes),
        items=listed[0] if len(listed) == 1 and draw(st.booleans()) else listed or None,
        error_strings=strings,
    )
    if not (shape["code_fields"] or shape["message_fields"] or listed or strings):
        shape["code_fields"] = ["code"]
    return ResponseShape(**shape)


def _json_values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _scalars,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=14,
    )


def _place(body: dict[str, Any], path: str, value: Any) -> None:
    """``value`` at ``path`` in ``body``: objects made on the way, and a list
    where the next part is an index (a path blocked by a scalar is left)."""
    parts = path.split(".")
    here: Any = body
    for part, after in itertools.pairwise(parts):
        if isinstance(here, list):
            here = here[int(part)] if part.isdigit() and int(part) < len(here) else None
        else:
            nxt = here.get(part)
            if not isinstance(nxt, (dict, list)):
                nxt = [{} for _ in range(int(after) + 1)] if after.isdigit() else {}
                here[part] = nxt
            here = nxt
        if not isinstance(here, (dict, list)):
            return
    if isinstance(here, dict):
        here[parts[-1]] = value
    elif parts[-1].isdigit() and int(parts[-1]) < len(here):
        here[int(parts[-1])] = value


def _body_in(shape: Any, data: st.DataObject) -> dict[str, Any]:
    """A JSON object with values at some of the shape's own paths (most of
    them codes, messages and flags of the right types, some hostile)."""
    keys = st.sampled_from(_PARTS) | st.text(max_size=4)
    junk = _json_values(keys)
    codes = st.sampled_from(["0", "1", "58102", "VAGUE", "x", " 7 ", ""]) | st.integers() | junk
    flags = st.booleans() | junk
    body: dict[str, Any] = data.draw(st.dictionaries(keys, junk, max_size=3))
    places: list[tuple[str, st.SearchStrategy[Any]]] = [
        *((p, codes) for p in shape.code_fields),
        *((p, st.text(max_size=12) | junk) for p in shape.message_fields),
    ]
    if shape.success_field:
        places.append((shape.success_field, flags))
    if shape.error_strings is not None:
        texts = st.sampled_from(["EOrder:Insufficient funds", "WGeneral:x", " ", "E/x/y"])
        places.append((shape.error_strings.field, st.lists(texts | junk, max_size=4) | texts))
    for s in shape.item_shapes:
        fields = [*((f, codes) for f in s.code_fields), *((f, junk) for f in s.message_fields)]
        if s.success_field:
            fields.append((s.success_field, flags))

        def item(fields: list[tuple[str, Any]] = fields) -> st.SearchStrategy[Any]:
            chosen = (
                st.lists(st.sampled_from(fields), max_size=len(fields)) if fields else st.just([])
            )
            return chosen.flatmap(
                lambda picked: st.tuples(*(v for _, v in picked)).map(
                    lambda values, picked=picked: _item_of(picked, values)
                )
            )

        places.append((s.field, st.lists(item() | junk, max_size=3)))
    for path, values in data.draw(st.lists(st.sampled_from(places), max_size=6)) if places else ():
        _place(body, path, data.draw(values))
    return body


def _item_of(picked: list[tuple[str, Any]], values: tuple[Any, ...]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for (path, _), value in zip(picked, values, strict=True):
        _place(item, path, value)
    return item


@given(shape=_shapes(), data=st.data())
def test_a_reader_of_any_shape_never_disagrees_with_extract(
    shape: Any, data: st.DataObject
) -> None:
    """Invariant: for any valid shape (dotted paths, list indexes, empty parts,
    quotes and backslashes in names, several item lists, error strings) and any
    JSON object, mostly one with values at the shape's own paths, the compiled
    reader answers what extract answers or leaves it to extract."""
    body = _body_in(shape, data)
    known = frozenset(data.draw(_codes))
    got = compile_reader(shape)(body, known)
    # compiled with codes known in advance, called with those (or, by mistake, others)
    advance = data.draw(st.sampled_from([known, frozenset(data.draw(_codes))]))
    assert compile_reader(shape, "", advance)(body, known) == got
    if got is None:
        return
    env = extract(shape, body, known_codes=known)
    assert not env.success, (body, env)
    assert not env.malformed, (body, env)
    assert not env.warnings, (body, env)
    assert got == (env.code, env.message, env.items), (body, env)


#: regexes of message hints, each with messages it matches ({} is the number)
_HINT_REGEXES = {
    r"Throttled:\s*(\d{9,11})": ["EService: Throttled: {}", "ESERVICE:THROTTLED:{}"],
    r"banned until (\d{10,16})": [
        "IP banned until {}.",
        "Way too much request weight used; IP BANNED UNTIL {}",
    ],
    r"(\d+)": ["wait {}", "{}"],
    r"(?:wait|retry in) (\d+) ?s": ["retry in {}s", "WAIT {} S", "Wait {} s"],
    r"ÉTÉ (\d+)": ["été {}", "ÉTÉ {}"],
    r"\bIP\b.{0,20}?(\d+)": ["ip x {}", "\u0130P {}", "IP é {}"],
}
_NOW = 1_700_000_000.0


@st.composite
def _hinted_shapes(draw: st.DrawFn) -> Any:
    from normalizer._formats.rules import ResponseShape, RetryHintSpec

    def hint() -> Any:
        kind = draw(st.sampled_from(["header", "body_field", "message_regex"]))
        value = {
            "header": lambda: "Retry-After",
            "body_field": lambda: draw(_paths.filter(bool)),
            "message_regex": lambda: draw(st.sampled_from(sorted(_HINT_REGEXES))),
        }[kind]()
        unit = draw(st.sampled_from(["seconds", "milliseconds", "epoch_s", "epoch_ms"]))
        return RetryHintSpec(**{kind: value, "unit": unit})

    hints = [hint() for _ in range(draw(st.integers(0, 3)))]
    return ResponseShape(code_fields=["code"], retry_hints=hints)


_other_messages = st.none() | st.text(max_size=40) | st.sampled_from(["nothing", "", "é"])


def _hint_message(shape: Any, data: st.DataObject) -> Any:
    """A message one of the shape's hint regexes matches (its number in the
    hint's unit, the text in another case or with a non-ASCII letter), or any."""
    regexes = [h.message_regex for h in shape.retry_hints if h.message_regex]
    if not regexes or data.draw(st.booleans()):
        return data.draw(_other_messages)
    template = data.draw(st.sampled_from(_HINT_REGEXES[data.draw(st.sampled_from(regexes))]))
    number = data.draw(st.sampled_from([5, 5000, int(_NOW) + 60, (int(_NOW) + 60) * 1000]))
    return template.format(number)


@given(shape=_hinted_shapes(), data=st.data())
def test_a_hint_check_says_false_only_when_body_hint_finds_nothing(
    shape: Any, data: st.DataObject
) -> None:
    """Invariant: when the compiled hint check says the body and message
    cannot hint, ``body_hint`` finds no wait in them (for any code and
    status); a shape with no body or message hint has no check."""
    from normalizer._engine.envelope import body_hint
    from normalizer._engine.reader import compile_hint_check

    check = compile_hint_check(shape)
    if check is None:
        assert all(h.header for h in shape.retry_hints)
        return
    keys = st.sampled_from(_PARTS) | st.text(max_size=4)
    body: dict[str, Any] = data.draw(st.dictionaries(keys, _json_values(keys), max_size=4))
    for h in shape.retry_hints:
        if h.body_field and data.draw(st.booleans()):
            _place(body, h.body_field, data.draw(st.integers(0, 10**13) | _scalars))
    message = _hint_message(shape, data)
    if not check(body, message):
        assert body_hint(shape, body, message, now=_NOW) == (None, None), (body, message)


def test_a_reader_resolves_error_strings_by_the_codes_it_is_called_with() -> None:
    """A reader compiled with an exchange's codes looks an error string up in
    their table only when it is called with those same codes; called with
    others, it resolves the string by them, as extract does."""
    from normalizer._formats.rules import ErrorStringsShape, ResponseShape

    shape = ResponseShape(code_fields=[], error_strings=ErrorStringsShape(field="error"))
    spaced = frozenset({"EOrder: Insufficient funds"})  # documented with a space
    read = compile_reader(shape, "kraken-like", spaced)
    body = {"error": ["EOrder:Insufficient funds"]}
    for known in (spaced, frozenset(), frozenset({"EOrder:Insufficient funds"})):
        env = extract(shape, body, known_codes=known)
        assert read(body, known) == (env.code, env.message, env.items), known
    assert read(body, spaced)[0] == "EOrder: Insufficient funds"
    assert read(body, frozenset())[0] == "EOrder:Insufficient funds"


def test_a_shape_too_large_to_compile_is_read_by_extract() -> None:
    """A shape naming more than ``MAX_PARTS`` path parts gets no compiled text:
    its reader leaves every body to extract and its hint check lets every
    body through to body_hint, so nothing a rules folder declares makes the
    compiled text large."""
    from normalizer._engine.reader import MAX_PARTS, compile_hint_check
    from normalizer._formats.rules import ResponseShape, RetryHintSpec

    deep = ".".join(["a"] * (MAX_PARTS + 1))
    shape = ResponseShape(
        code_fields=["code", deep],
        retry_hints=[RetryHintSpec(body_field="wait", unit="seconds")],
    )
    assert compile_reader(shape)({"code": "1"}, frozenset()) is None
    assert extract(shape, {"code": "1"}).code == "1"
    check = compile_hint_check(shape)
    assert check is not None
    assert check({}, None) is True
    small = ResponseShape(code_fields=["code", "a.b"])
    assert compile_reader(small)({"code": "1"}, frozenset()) == ("1", None, ())


def test_a_reader_of_a_shape_with_every_feature_answers_its_body() -> None:
    """The reader is taken, not left to extract, on a body in its own shape:
    nested code and message paths, a list index, items with flags."""
    from normalizer._formats.rules import ItemsShape, ResponseShape

    shape = ResponseShape(
        code_fields=["error.detail.code", "error.reason", "code"],
        message_fields=["error.detail.msg", "msg"],
        success_codes=["0"],
        success_field="ok",
        vague_codes=["UNKNOWN"],
        items=[
            ItemsShape(field="data.0.list", code_fields=["c"], message_fields=["m"]),
            ItemsShape(field="rows", code_fields=["c"], success_field="done"),
        ],
    )
    read = compile_reader(shape, "a test")
    body = {"ok": False, "error": {"detail": {"code": "UNKNOWN", "msg": "m1"}, "reason": 7}}
    assert read(body, frozenset()) == ("7", "m1", ())
    body = {"code": 0, "ok": False, "data": [{"list": [{"c": "0"}, {"c": "E1", "m": "bad"}]}]}
    assert read(body, frozenset()) == ("E1", "bad", ((1, "E1", "bad"),))
    body = {"code": "0", "rows": [{"c": "1", "done": True}, {"c": "E2", "done": False}]}
    assert read(body, frozenset()) == ("E2", None, ((1, "E2", None),))
    assert read({"code": "0"}, frozenset()) is None  # a success: extract says so
    assert read({"ok": True, "code": "E9"}, frozenset()) is None
    for body in (
        {"code": "0", "ok": False, "msg": "x"},
        {"error": {"detail": [1, 2]}, "code": 5},
        {"data": [{"list": {"c": "E"}}], "code": "E3"},
    ):
        got = read(body, frozenset())
        env = extract(shape, body, known_codes=frozenset())
        assert got == (env.code, env.message, env.items), body


def _general(venue: str, body: str, status: Any) -> Any:
    rs = registry().get(venue)
    raw = RawInput._make((body, status, None, None, None, None))
    return engine._guarded(rs, None, None, status, body, None, None, None, raw)[0]


def _fast(venue: str, body: str, status: Any) -> Any:
    engine.clear_caches()  # the body read afresh, not the result kept for it
    return engine._body_text(registry().get(venue), body, status, None)


@pytest.mark.parametrize(("venue", "body", "status"), RECORDED)
def test_the_json_object_path_equals_the_general_path(venue: str, body: str, status: Any) -> None:
    """Invariant: the result normalize() builds on its JSON object path is the
    one the general path builds (deadlines aside: those depend on the clock)."""
    if not (status is None or (type(status) is int and 100 <= status <= 599)):
        return
    fast = _fast(venue, body, status)
    if fast is None:
        return
    slow = _general(venue, body, status)
    if fast.retry_after_s is not None or slow.retry_after_s is not None:
        assert fast._replace(retry_after_s=None) == slow._replace(retry_after_s=None)
        assert fast.retry_after_s == pytest.approx(slow.retry_after_s, abs=1.0)
    else:
        assert fast == slow


@given(data=st.data(), venue=st.sampled_from(VENUES), status=st.sampled_from([None, 200, 400, 429]))
def test_the_json_object_path_equals_the_general_path_on_hostile_bodies(
    data: st.DataObject, venue: str, status: int | None
) -> None:
    """Invariant: for any JSON object body, both paths build the same result."""
    body = json.dumps(data.draw(_bodies(venue)), allow_nan=True)
    fast = _fast(venue, body, status)
    if fast is not None:
        slow = _general(venue, body, status)
        assert fast._replace(retry_after_s=None) == slow._replace(retry_after_s=None)


def test_the_generic_profile_takes_the_general_path() -> None:
    """The generic profile's fields are guesses: no compiled reader for it."""
    rs = registry().get(GENERIC)
    assert engine._body_text(rs, '{"code":"1","msg":"x"}', None, None) is None


# ------------------------------------------------------------------ folding


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_fold_ascii_shortcut_equals_the_unicode_fold(text: str) -> None:
    """Invariant: on ASCII text, the shortcut folds as the full fold does."""
    assert _fold.__wrapped__(text) == _fold_general(text)


@given(st.text(max_size=40))
def test_fold_of_any_text_is_the_unicode_fold(text: str) -> None:
    """Invariant: fold() of any text is the full Unicode fold."""
    assert _fold.__wrapped__(text) == _fold_general(text)


# ------------------------------------------------------- literal prefilters


def _all_regexes() -> list[str]:
    out: set[str] = set()
    for venue in [*VENUES, GENERIC]:
        rs = registry().get(venue)
        for rule in rs.rules:
            out.update(rule.when.message_regex or ())
        for hint in rs.spec.response.retry_hints:
            if hint.message_regex:
                out.add(hint.message_regex)
    return sorted(out)


REGEXES = _all_regexes()


def test_most_rule_regexes_get_a_prefilter() -> None:
    """The prefilter applies: most of the rules' regexes need a literal."""
    derived = [p for p in REGEXES if required(p) is not None]
    assert len(derived) / len(REGEXES) > 0.8, [p for p in REGEXES if required(p) is None]


def _examples_of_regex_rules() -> list[str]:
    out = []
    for venue in VENUES:
        for rule in registry().get(venue).rules:
            if rule.when.message_regex:
                out.extend(rule.examples)
    return out


@pytest.mark.parametrize("pattern", REGEXES)
def test_a_prefilter_never_rules_out_a_match_on_the_examples(pattern: str) -> None:
    """Invariant: when the regex matches an ASCII example, its prefilter lets it."""
    compiled = re.compile(pattern, re.IGNORECASE)
    pre = Prefilter(pattern)
    for text in _examples_of_regex_rules():
        if text.isascii() and compiled.search(text):
            assert pre.may_match(text, text.lower()), (pattern, text)


@given(pattern=st.sampled_from(REGEXES), data=st.data())
def test_a_prefilter_never_rules_out_a_match(pattern: str, data: st.DataObject) -> None:
    """Invariant: for any ASCII text the regex matches (generated from the
    regex itself, and with case and padding changed), the prefilter lets it."""
    try:
        text = data.draw(st.from_regex(pattern, fullmatch=False).filter(str.isascii))
    except Exception:
        return
    text = data.draw(st.sampled_from([text, text.upper(), text.swapcase(), f" {text} "]))
    if re.search(pattern, text, re.IGNORECASE):
        assert Prefilter(pattern).may_match(text, text.lower())


@pytest.mark.parametrize(
    ("pattern", "need"),
    [
        (r"insufficient (balance|funds)", ("insufficient ",)),
        (r"\bip\b.{0,30}not allowed", ("not allowed",)),
        (r"(余额不足|资金不足)", ()),
        (r"a|b.*", ("a", "b")),
        (r"a?|b", None),
        (r"(x)\1", None),
        (r"(?:rate|req) ?limit", ("limit",)),
    ],
)
def test_required_literals_of_known_patterns(pattern: str, need: Any) -> None:
    """What is derived: the longest literal a match needs; none for CJK on
    ASCII text; unknown where a way through needs no literal."""
    assert required(pattern) == need


TWINNED = [p for p in REGEXES if lowered_twin(p) is not None]


def test_the_rules_regexes_that_can_match_ascii_text_mostly_get_a_twin() -> None:
    """The twin applies: most regexes an ASCII text can match have one (the
    rules write them in lowercase, rules/README.md). The rest: a pattern whose
    alternatives mix CJK words with an ASCII one, and a wait hint's regex,
    which ``body_hint`` searches as it is."""
    ascii_able = [p for p in REGEXES if required(p) != ()]
    assert len(TWINNED) / len(ascii_able) > 0.9, [p for p in ascii_able if p not in TWINNED]


ASCII_TEXT = st.text(alphabet=st.characters(max_codepoint=127), max_size=60)


@given(pattern=st.sampled_from(TWINNED), data=st.data())
def test_a_lowered_twin_finds_what_the_regex_finds_ignoring_case(
    pattern: str, data: st.DataObject
) -> None:
    """Invariant: for any ASCII text (one the regex matches, or any text; its
    case changed), the twin searched case-sensitively in the lowered text
    finds a match exactly when the regex ignoring case finds one in the text."""
    try:
        matching = st.from_regex(pattern, fullmatch=False).filter(str.isascii)
        text = data.draw(st.one_of(matching, ASCII_TEXT))
    except Exception:
        text = data.draw(ASCII_TEXT)
    text = data.draw(st.sampled_from([text, text.upper(), text.swapcase(), text.title()]))
    twin = lowered_twin(pattern)
    assert twin is not None
    want = re.search(pattern, text, re.IGNORECASE) is not None
    assert (twin.search(text.lower()) is not None) == want, (pattern, text)


#: Constructs whose case rules differ: sets, negated sets, ranges of
#: punctuation next to the capitals, word boundaries, back references, looks.
CONSTRUCTS = [
    r"[a-z]+x",
    r"[^a-c]d",
    r"\bfoo\b",
    r"(?:ab|cd)e",
    r"a{2,3}b",
    r"\w+\s\d",
    r"[!-/]k",
    r"[\[-`]q",
    r"(a)\1",
    r"\Bing",
    r"x(?=y)",
    r"(?<!z)w",
    r"[^\W\d]x",
    r"[^!-@]",
]


@given(
    pattern=st.sampled_from(CONSTRUCTS),
    text=st.text(alphabet="aAbBcCdDeEfFgGiInNqQwWxXyYzZkK019 !/[`_@^\\", max_size=12),
)
def test_a_lowered_twin_of_each_construct_agrees_with_ignoring_case(
    pattern: str, text: str
) -> None:
    """Invariant: on ASCII text the twin agrees with the regex ignoring case,
    construct by construct, capitals and the punctuation around them in the text."""
    twin = lowered_twin(pattern)
    assert twin is not None, pattern
    want = re.search(pattern, text, re.IGNORECASE) is not None
    assert (twin.search(text.lower()) is not None) == want, (pattern, text)


@pytest.mark.parametrize(
    "pattern",
    [
        "(?-i:abc)",  # a group that turns case back on
        "a(?i:b)",  # a group with flags of its own
        "(?x) a b",  # a flag for the whole pattern
        r"[@-\[]",  # a range of punctuation reaching the capitals
        "[A-Z]",
        "[^A-Z]",
        r"\x41",  # a capital written as an escape
        r"\bIP\b",
        "ABC",
        "\u212a",  # the Kelvin sign: equal to 'k' ignoring case
        "caf\u00e9",
        "(余额不足)",
        "(unclosed",
    ],
)
def test_a_pattern_it_cannot_vouch_for_has_no_twin(pattern: str) -> None:
    assert lowered_twin(pattern) is None


def test_a_rule_searches_its_twin_in_ascii_and_its_regex_in_other_text() -> None:
    """regex_hit: the twin on the lowered ASCII message; the regex itself on a
    non-ASCII one (the Kelvin sign is 'k' ignoring case)."""
    from normalizer._core.literals import ascii_lowered

    rs = registry().get("okx")
    rule = next(r for r in rs.rules if r.id == "common.message.rate-limit")
    for message in ("Too Many Requests", "RATE LIMITED", "too many requests \u212a"):
        want = any(r.search(message) for r in rule.regexes)
        assert rule.regex_hit(message, ascii_lowered(message)) == want
    assert not rule.regex_hit("nothing to see", ascii_lowered("nothing to see"))


def test_the_projection_knows_every_character_ignorecase_takes_for_ascii() -> None:
    """``projected`` and ``required`` (whose ``()`` says no ASCII text can
    match) are sound only if ``ASCII_EQUALS`` holds every non-ASCII character
    ``re`` equals to an ASCII one ignoring case; and lowering must keep one
    character for one (but U+0130, which the projection replaces first)."""
    any_ascii = re.compile("[\x00-\x7f]", re.IGNORECASE)
    found = {}
    for point in range(128, 0x110000):
        char = chr(point)
        if any_ascii.fullmatch(char):
            equal = [chr(a) for a in range(128) if re.fullmatch(re.escape(chr(a)), char, re.I)]
            found[point] = "".join(sorted(equal)).lower()[-1]
        lowered = char.lower()
        if len(lowered) != 1 or lowered.isascii():
            assert point in ASCII_EQUALS, hex(point)
    assert found == ASCII_EQUALS
    assert projected("\u0130\u0131\u017f\u212a Ab\u00c9") == "iisk ab\u00e9"


def _spelled_otherwise(text: str, data: st.DataObject) -> str:
    """``text`` with some letters written as the characters IGNORECASE takes
    for them, in another case, with non-ASCII text around it."""
    others = {"i": ["\u0130", "\u0131"], "s": ["\u017f"], "k": ["\u212a"]}
    out = []
    for char in text:
        choices = [char, char.swapcase(), *others.get(char.lower(), [])]
        out.append(data.draw(st.sampled_from(choices)))
    noise = data.draw(st.sampled_from(["", "\u8ba2\u5355 ", "\u00e9t\u00e9 ", "\u212b "]))
    return noise + "".join(out) + noise[::-1]


@given(pattern=st.sampled_from([p for p in REGEXES if Prefilter(p).any_text]), data=st.data())
def test_a_prefilter_never_rules_out_a_match_in_a_non_ascii_text(
    pattern: str, data: st.DataObject
) -> None:
    """Invariant: for any text the regex matches ignoring case (generated from
    the regex, some letters spelled as the characters ``re`` takes for them,
    non-ASCII text around), its prefilter lets the text's projection through."""
    try:
        text = data.draw(st.from_regex(pattern, fullmatch=False))
    except Exception:
        return
    text = _spelled_otherwise(text, data)
    if re.search(pattern, text, re.IGNORECASE):
        assert Prefilter(pattern).may_match_projected(projected(text)), (pattern, text)


def test_which_patterns_are_prefiltered_beyond_ascii() -> None:
    """A pattern naming a non-ASCII character (a way through it may need one)
    is searched in every non-ASCII text."""
    assert Prefilter("insufficient (balance|funds)").any_text
    assert not Prefilter("(insufficient|\u4f59\u989d\u4e0d\u8db3)").any_text
    assert not Prefilter("x\\u4e00").any_text
    assert not Prefilter("a?").any_text  # nothing derived
    assert Prefilter("insufficient").may_match_projected(
        projected("\u0130NSUFF\u0131C\u0130ENT \u8ba2")
    )
    assert not Prefilter("insufficient").may_match_projected(projected("\u4f59\u989d\u4e0d\u8db3"))


@given(data=st.data(), venue=st.sampled_from(VENUES))
def test_a_rule_finds_its_regexes_in_a_non_ascii_message_as_searching_them_does(
    data: st.DataObject, venue: str
) -> None:
    """Invariant: regex_hit on a non-ASCII message answers what searching
    every regex of the rule answers."""
    rules = [r for r in registry().get(venue).rules if r.when.message_regex]
    if not rules:
        return
    rule = data.draw(st.sampled_from(rules))
    base = data.draw(st.sampled_from([*rule.examples, *_words(venue)]) | st.text(max_size=20))
    message = _spelled_otherwise(base, data)
    if message.isascii():
        message += " \u00e9"
    want = any(r.search(message) for r in rule.regexes)
    assert rule.regex_hit(message, None) == want, (rule.id, message)


def test_non_ascii_text_is_never_prefiltered() -> None:
    """The Kelvin sign equals 'k' ignoring case: a non-ASCII text is always searched."""
    pre = Prefilter("kelvin")
    assert re.search("kelvin", "\u212aelvin", re.IGNORECASE)
    assert pre.may_match("\u212aelvin", None)


# ------------------------------------------------------ templates and rules


def _documented_by_scan(rs: RuleSet, message: str) -> Any:
    folded = _fold_general(message[:1024])
    rs.documented("x")  # builds the index
    exact = rs._exact or {}
    if folded in exact:
        return exact[folded]
    for template, entry in rs._templated:  # strongest first
        if template.matches(folded):
            return entry
    return None


@pytest.mark.parametrize("venue", VENUES)
def test_the_template_index_finds_what_a_scan_finds(venue: str) -> None:
    """Invariant: the head/tail index of documented templates answers what a
    scan of every template (strongest first) answers."""
    rs = registry().get(venue)
    messages = [e.message for e in (rs.catalog.entries if rs.catalog else ())][:400]
    messages += [m + " extra" for m in messages[:50]] + ["x " + m for m in messages[:50]]
    for message in messages:
        assert rs.documented(message) is _documented_by_scan(rs, message), message


def _select_by_scan(rs: RuleSet, probe: Probe) -> Any:
    """The reference: the documented code lent first, then every rule tried."""
    code, message = probe.code, probe.message
    if message is not None and (code is None or code not in rs.known_codes):
        entry = rs.documented(message)
        if entry is not None:
            probe = Probe(entry.code, message, probe.http_status, probe.operation, probe.transport)
    folded = _fold_general(probe.message) if probe.message is not None else None
    best = None
    for rule in rs.rules:
        if rule.matches(probe, folded) and (best is None or rule.specificity > best.specificity):
            best = rule
    return best


@pytest.mark.parametrize("venue", VENUES)
def test_select_stopping_early_picks_what_a_full_scan_picks(venue: str) -> None:
    """Invariant: the strongest matching rule is found whichever way is used.

    (Ties between rules are refused when a rule set is built, so the strongest
    is unique.)"""
    rs = registry().get(venue)
    for rule in rs.rules:
        for probe in rs.witness_probes(rule):
            if rs.documented(probe.message) is not None and (
                probe.code is None or probe.code not in rs.known_codes
            ):
                continue  # a documented message lends its code first
            got = rs.select(probe)[0]
            want = _select_by_scan(rs, probe)
            assert got is want or (
                got is not None and want is not None and got.specificity == want.specificity
            ), (probe, got, want)


def test_a_sieve_keeps_only_texts_that_contain_no_other() -> None:
    """One text found is enough to pass the sieve; a text containing another
    is found only where that other is, so it is left out."""
    from normalizer._core.table import _fewest

    assert _fewest(["limit", "rate limit", "limit", "too many ", "many"]) == ("many", "limit")
    assert _fewest([]) == ()


def test_a_group_of_code_less_rules_has_a_sieve_only_when_every_rule_has_a_gate() -> None:
    from normalizer import Operation
    from normalizer._core.table import _sieve

    rs = registry().get("okx")
    group, sieve = rs._group(200, Operation.QUERY, None)
    assert sieve is not None
    assert "limit" in sieve[1]
    assert all(r.gate is not None for r in group)
    ungated = [r for r in rs.rules if r.gate is None]
    assert ungated  # rules without a message condition have no gate
    assert _sieve([*group, ungated[0]]) is None
    assert _sieve(()) == ((), ())


@pytest.mark.parametrize("venue", VENUES)
def test_a_sieve_lets_through_every_text_of_its_rules(venue: str) -> None:
    """Invariant: a message holding any key or literal of any rule of a group
    passes the group's sieve, so the sieve never skips a rule whose gate the
    message passes."""
    from normalizer import Operation

    rs = registry().get(venue)
    for status in (None, 200, 400, 429, 503):
        for op in (None, *Operation):
            group, sieve = rs._group(status, op, None)
            if sieve is None:
                continue
            keys, literals = sieve
            for rule in group:
                gate = rule.gate
                assert gate is not None
                for key in gate[0]:
                    assert any(k in key for k in keys), (rule.id, key)
                for literal in gate[1] or ():
                    assert any(lit in literal for lit in literals), (rule.id, literal)


def test_a_template_key_is_its_longest_piece_after_the_store() -> None:
    """``documented`` looks for a template's key before matching it: the key
    must be the longest piece, also for templates read back from the store."""
    from normalizer._core.text import Template

    for venue in VENUES:
        rs = registry().get(venue)
        for entry in rs.catalog.entries if rs.catalog else ():
            t = entry.compiled()
            assert t.key == max(t.parts, key=len)
            back = Template.from_plain(t.to_plain())
            assert back.key == t.key


def _words(venue: str) -> list[str]:
    rs = registry().get(venue)
    out = []
    for rule in rs.rules:
        out.extend(rule.examples)
        for t in rule.templates:
            out.extend(p for p in t.parts if p)
    return sorted(set(out))[:400] or ["x"]


@given(data=st.data(), venue=st.sampled_from(VENUES))
def test_select_with_its_gates_and_groups_picks_what_a_full_scan_picks(
    data: st.DataObject, venue: str
) -> None:
    """Invariant: for any input (messages stitched from the rules' own words,
    their case changed, with noise; any status, operation and transport),
    the grouped, gated, early-stopping selector picks a rule as strong as the
    one a scan of every rule picks (ties are refused when rules compile)."""
    from normalizer import Operation

    rs = registry().get(venue)
    pieces = data.draw(st.lists(st.sampled_from(_words(venue)) | st.text(max_size=8), max_size=4))
    message = " ".join(pieces)
    message = data.draw(st.sampled_from([message, message.upper(), message.title()]))
    codes = sorted(c for r in rs.rules for c in (r.codes or ()))[:300]
    probe = Probe(
        data.draw(st.none() | st.sampled_from(codes or ["1"]) | st.text(max_size=6)),
        data.draw(st.none() | st.just(message[:1024])),
        data.draw(
            st.none() | st.sampled_from([200, 400, 401, 403, 404, 408, 418, 429, 500, 503, 504])
        ),
        data.draw(st.none() | st.sampled_from(list(Operation))),
        data.draw(st.none() | st.sampled_from(["timeout", "read_timeout", "connect", "other"])),
    )
    got = rs.select(probe)[0]
    want = _select_by_scan(rs, probe)
    assert (got is None) == (want is None), (probe, got, want)
    if got is not None and want is not None:
        assert got.specificity == want.specificity, (probe, got, want)
        assert got.category == want.category, (probe, got, want)


@given(data=st.data(), venue=st.sampled_from(VENUES))
def test_a_code_that_decides_alone_decides_as_the_rules_do(data: st.DataObject, venue: str) -> None:
    """Invariant: for a code in ``decided_by_code``, whatever message, status,
    operation and transport come with it (the rules' own words included), a
    scan of every rule picks a rule of that verdict, and ``select`` picks it
    and lends no documented code."""
    from normalizer import Operation

    rs = registry().get(venue)
    if not rs.decided_by_code:
        return
    code = data.draw(st.sampled_from(sorted(rs.decided_by_code)))
    message = data.draw(st.none() | st.sampled_from(_words(venue)) | st.text(max_size=30))
    probe = Probe(
        code,
        message,
        data.draw(st.none() | st.sampled_from([200, 400, 401, 403, 404, 418, 429, 500, 503])),
        data.draw(st.none() | st.sampled_from(list(Operation))),
        data.draw(st.none() | st.sampled_from(["timeout", "read_timeout", "connect", "other"])),
    )
    rule, entry = rs.select(probe)
    assert rule is not None, probe
    assert entry is None, probe
    assert rule.verdict == rs.decided_by_code[code], probe
    want = _select_by_scan(rs, probe)
    assert want is not None, probe
    assert want.verdict[:3] == rule.verdict[:3], (probe, want)


def test_most_codes_of_the_rules_decide_alone() -> None:
    """The table is used: most codes the venues' rules name decide alone."""
    total = alone = 0
    for venue in VENUES:
        rs = registry().get(venue)
        total += len(rs._by_code)
        alone += len(rs.decided_by_code)
    assert alone / total > 0.8, (alone, total)


def test_the_generic_profile_is_never_answered_from_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The generic profile's answers come from ``generic.decide`` (its rules,
    then its word model), never from its rule set's code table, even when a
    code there would decide alone."""
    generic = registry().get(GENERIC)
    bogus = registry().get("okx").by_id["okx.insufficient-balance"].verdict
    monkeypatch.setitem(generic.decided_by_code, "429", bogus)
    engine.clear_caches()
    body = '{"code":"429","message":"Too many requests"}'
    for got in (
        normalizer.normalize(GENERIC, code="429", message="Too many requests", http_status=429),
        normalizer.normalize(GENERIC, body=body, http_status=429),
        normalizer.normalize(GENERIC, body=body, http_status=429),  # (a second body)
    ):
        assert got.rule_id != "okx.insufficient-balance"
        assert got.category is normalizer.Category.RATE_LIMIT
    engine.clear_caches()


def test_an_exchanges_reader_is_compiled_at_its_second_body() -> None:
    """The first body of an exchange is read by the general path (compiling a
    reader costs more than that); the second compiles the reader, which reads
    it and every later one, to the same results."""
    rs = registry().get("okx")
    engine._readers.pop(rs, None)
    engine.clear_caches()
    first = '{"code":"58102","msg":"Rate limit reached.","data":[]}'
    second = '{"code":"58350","msg":"Insufficient balance.","data":[]}'
    assert engine._body_text(rs, first, 200, None) is None
    assert engine._readers[rs] is engine._FIRST_BODY
    assert normalizer.normalize("okx", body=first, http_status=200) == _general("okx", first, 200)
    got = engine._body_text(rs, second, 200, None)
    assert engine._readers[rs][0] is not None
    assert got == _general("okx", second, 200)


def test_a_code_decides_alone_only_when_nothing_else_can_win() -> None:
    """A code is left out of ``decided_by_code`` when its strongest rule asks
    more than the code, or a code-less rule (here one with a priority) is
    stronger: ``select`` then answers from the rules."""
    from normalizer import Category, Outcome
    from normalizer._core.table import Condition, Frozen, Rule

    def rule(rid: str, category: Category, priority: int = 0, **when: Any) -> Rule:
        return Rule(
            id=rid,
            exchange="acme",
            category=category,
            subcategory=None,
            outcome=Outcome.REJECTED,
            why="a test",
            source_url="https://acme.example/docs",
            priority=priority,
            when=Condition(**when),
            examples=(),
            path="rules.yaml",
            line=1,
        )

    rs = RuleSet(
        Frozen({"name": "acme"}),
        None,
        [
            rule("acme.one", Category.RATE_LIMIT, code=("1",)),
            rule("acme.busy", Category.UNAVAILABLE, 5, message=("busy",)),
            rule("acme.two", Category.AUTH, 9, code=("2",)),
            rule("acme.three", Category.NOT_FOUND, 9, code=("3",), http_status=(404,)),
        ],
        [],
    )
    assert set(rs.decided_by_code) == {"2"}
    assert rs.decided_by_code["2"] == rs.by_id["acme.two"].verdict
    assert rs.select(Probe("1", "busy", 200, None, None))[0] is rs.by_id["acme.busy"]
    assert rs.select(Probe("1", "fine", 200, None, None))[0] is rs.by_id["acme.one"]
    assert rs.select(Probe("3", "busy", 200, None, None))[0] is rs.by_id["acme.busy"]


def _resolve_by_squash(raw: str, known: frozenset[str]) -> str:
    """``resolve_code`` without its shortcut for a documented code as given."""
    from normalizer._engine.envelope import MAX_CODE_CHARS, _squash, _squashed

    raw = raw.strip()
    table = _squashed(known)
    squashed = _squash(raw)
    if squashed in table:
        return table[squashed]
    parts = squashed.split(":")
    for n in range(len(parts) - 1, 0, -1):
        prefix = ":".join(parts[:n])
        if prefix in table:
            return table[prefix]
    if len(parts) > 2:
        return ":".join(parts[:2])[:MAX_CODE_CHARS]
    return squashed[:MAX_CODE_CHARS]


@given(data=st.data())
def test_an_error_string_resolves_as_by_squashing_it(data: st.DataObject) -> None:
    """Invariant: Kraken's error strings (documented ones, spaced around their
    colons, with details after them, or junk) resolve to the code squashing
    them finds; the shortcut for a documented code as given changes nothing."""
    from normalizer._engine.envelope import resolve_code

    known = registry().get("kraken").known_codes
    code = data.draw(st.sampled_from(sorted(known)))
    spaced = code.replace(":", data.draw(st.sampled_from([":", " : ", ":  ", "\t:"])))
    raw = data.draw(
        st.sampled_from([code, spaced, f"{code}:detail", f" {spaced} :x:y", "EFoo:bar"])
        | st.text(max_size=20)
    )
    assert resolve_code.__wrapped__(raw, known, ":") == _resolve_by_squash(raw, known)
