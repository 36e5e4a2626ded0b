"""The speed work's shortcuts agree with the general code they stand in for.

Each shortcut of issue 9 has a general twin that stays the reference:

- ``normalize()``'s memo (``_engine/memo.py``) and the pipeline deciding afresh;
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
from normalizer._formats.registry import GENERIC, registry
from normalizer.testing import forget_memos

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
    covered = {v for v, _, _ in RECORDED}
    assert covered <= set(VENUES)
    assert len(covered) >= 9
    assert len(RECORDED) > 250


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


def _decided(venue: str, body: str, status: Any) -> Any:
    """The result the pipeline decides for a body, with nothing kept."""
    forget_memos()
    return normalizer.normalize(venue, body=body, http_status=status)


def _kept(venue: str, body: str, status: Any) -> Any:
    """The result of a body met before (its second sight keeps it, the third reads it)."""
    forget_memos()
    normalizer.normalize(venue, body=body, http_status=status)
    second = normalizer.normalize(venue, body=body, http_status=status)
    third = normalizer.normalize(venue, body=_fresh(body), http_status=status)
    assert third is second  # the kept result, for an equal (not identical) body
    return third


def _fresh(text: str) -> str:
    return "".join(list(text))


def _same(a: Any, b: Any) -> None:
    if a.retry_after_s is not None or b.retry_after_s is not None:  # deadlines move with the clock
        assert a._replace(retry_after_s=None) == b._replace(retry_after_s=None)
        assert a.retry_after_s == pytest.approx(b.retry_after_s, abs=1.0)
    else:
        assert a == b


@pytest.mark.parametrize(("venue", "body", "status"), RECORDED)
def test_a_kept_result_is_the_result_decided_afresh(venue: str, body: str, status: Any) -> None:
    """Invariant: the memo hands back, for a body met before, what the pipeline
    decides for it when nothing is kept (a body with a deadline is never kept)."""
    if not (status is None or (type(status) is int and 100 <= status <= 599)):
        status = None
    decided = _decided(venue, body, status)
    if decided.retry_after_s is not None:
        return  # (a wait in the body may be a deadline: decided every time)
    _same(_kept(venue, body, status), decided)


@given(data=st.data(), venue=st.sampled_from(VENUES), status=st.sampled_from([None, 200, 400, 429]))
def test_a_kept_result_is_the_result_decided_afresh_on_hostile_bodies(
    data: st.DataObject, venue: str, status: int | None
) -> None:
    """Invariant: for any JSON object body (wrong types, huge numbers, nested
    junk in the exchange's fields), the memo changes no result."""
    body = json.dumps(data.draw(_bodies(venue)), allow_nan=True)
    decided = _decided(venue, body, status)
    forget_memos()
    for _ in range(3):
        again = normalizer.normalize(venue, body=_fresh(body), http_status=status)
        assert again._replace(retry_after_s=None) == decided._replace(retry_after_s=None)


def test_a_body_met_once_leaves_no_result_behind() -> None:
    """A stream of bodies that are all new keeps nothing: the memo admits an
    input at its second sight, so new results are never walked by the collector."""
    from normalizer._engine.memo import _memos

    forget_memos()
    for i in range(200):
        normalizer.normalize("okx", body=f'{{"code":"5{i:04d}","msg":"m{i}","data":[]}}')
    assert sum(len(m) for m in _memos) == 0
    for _ in range(2):
        normalizer.normalize("okx", body='{"code":"58102","msg":"x","data":[]}')
    assert sum(len(m) for m in _memos) >= 1


def _recommendations(err: Any, policy: Any = None) -> list[Any]:
    return [
        normalizer.recommend(err, op, idem, attempt, policy, rand=lambda: 0.5)
        for op in (None, "place_order", "query", "withdraw")
        for idem in (False, True)
        for attempt in (1, 9)
    ]


@pytest.mark.parametrize(("venue", "body", "status"), RECORDED[::5])
def test_recommend_on_a_result_asked_again_is_the_recommendation_decided_afresh(
    venue: str, body: str, status: Any
) -> None:
    """Invariant: recommend() on the very result it was asked about before (its
    plan found by the result's identity) answers what it decides when the
    policy is given explicitly (no shortcut: the request's evidence read again)."""
    from normalizer import default_policy

    if not (status is None or (type(status) is int and 100 <= status <= 599)):
        status = None
    err = _kept(venue, body, status)
    first = _recommendations(err)
    again = _recommendations(err)  # the identity shortcut
    afresh = _recommendations(err, default_policy())
    assert first == again == afresh


def test_a_rules_change_forgets_the_plans_kept_by_result() -> None:
    """A change of the rules may change what a result's evidence says: the plans
    kept for result objects are forgotten, like every kept decision."""
    from normalizer._engine import recommend as rec
    from normalizer._formats.registry import changed

    err = normalizer.normalize("okx", code="50004")
    normalizer.recommend(err, "place_order")
    assert rec._by_result
    changed()
    assert not rec._by_result


def test_no_plan_kept_by_result_holds_a_callers_exception() -> None:
    """A result read from an exception holds the caller's exception (and its
    traceback): recommend() keeps no such result alive."""
    from normalizer._engine import recommend as rec

    forget_memos()
    for _ in range(3):
        err = normalizer.normalize("okx", error=TimeoutError("read timed out"))
        normalizer.recommend(err, "place_order")
    assert not any(kept[0].raw.error is not None for kept in rec._by_result.values())


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


def _user_folder(root: Path, n: int) -> Path:
    """``root/okx/rules.yaml``: ``n`` code-less rules (templates, regexes, statuses)."""
    (root / "okx").mkdir(parents=True)
    cats = ["INVALID_REQUEST.PARAMETER", "NOT_FOUND.ORDER", "RATE_LIMIT.REQUESTS"]
    lines = ["exchange: okx", "source_url: https://example.com/gw", "rules:"]
    for i in range(n):
        lines += [
            f"  - id: desk.gw-{i}",
            f"    category: {cats[i % 3]}",
            "    why: Our gateway says so.",
            "    when:",
        ]
        if i % 5 == 0:
            lines += [f'      message_regex: "gw (fault|error) {i}z"']
        else:
            lines += [f'      message: "gateway failure {i}q on {{venue}}"']
        if i % 7 == 0:
            lines += ["      http_status: 503"]
        if i % 5 == 0:
            lines += [f'    examples: ["gw fault {i}z"]']
    (root / "okx" / "rules.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_a_large_group_narrowed_by_its_gates_picks_what_a_full_scan_picks(
    tmp_path: Path,
) -> None:
    """Invariant: with a user's folder of hundreds of code-less rules (more
    than ``LARGE`` in a group), select() tries only the rules whose gate the
    message passes, and picks what trying every rule picks; bundled codes
    still decide as the rules say."""
    from normalizer._core.table import LARGE
    from normalizer.testing import reset

    n = 4 * LARGE
    normalizer.load_rules(_user_folder(tmp_path, n))
    try:
        rs = registry().get("okx")
        messages = (
            [f"gateway failure {i}q on okx" for i in range(0, n, 3)]
            + [f"gw error {i}z" for i in range(0, n, 5)]
            + [
                "Rate limit reached.",
                "Système occupé",
                "gateway failure 5q",
                "",
                "Order not found",
            ]
        )
        for message in messages:
            for status in (None, 200, 503):
                for code in (None, "58102", "59999"):
                    probe = Probe(code, message or None, status, None, None)
                    got = rs.select(probe)[0]
                    want = _select_by_scan(rs, probe)
                    assert got is want or (
                        got is not None and want is not None and got.specificity == want.specificity
                    ), (probe, got, want)
        assert normalizer.normalize("okx", message="gateway failure 3q on x").rule_id == "desk.gw-3"
    finally:
        reset()


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


_index_words = st.sampled_from(["rate", "limit", "too", "many", "x1", "order", "时间", "é", "a_b"])
_index_texts = (
    st.lists(_index_words, min_size=1, max_size=4)
    .map(" ".join)
    .map(lambda t: t if len(t) % 2 else f" {t} ")
)


@given(
    texts=st.lists(_index_texts | st.text(max_size=6), max_size=60),
    message=st.lists(_index_words | st.text(max_size=4), max_size=12).map(" ".join),
)
def test_a_text_index_finds_exactly_the_texts_a_search_finds(
    texts: list[str], message: str
) -> None:
    """Invariant: ``TextIndex.found`` yields each text that occurs in the
    message (as ``in`` finds it) and no other, whether the set is small
    (searched one by one) or large (filed by word)."""
    from normalizer._core.textindex import TextIndex

    for extra in ([], [f"filler{i} {i} words" for i in range(40)]):
        pairs = [(t, t) for t in dict.fromkeys(texts + extra)]
        got = list(TextIndex(pairs).found(message))
        assert sorted(set(got)) == sorted(t for t, _ in pairs if t in message)
        assert len(got) == len(set(got))


def test_a_group_of_code_less_rules_has_a_sieve_only_when_every_rule_has_a_gate() -> None:
    from normalizer import Operation
    from normalizer._core.table import _sieve

    rs = registry().get("okx")
    grouped = rs._group(200, Operation.QUERY, None)
    group, sieve = grouped.rules, grouped.sieve
    assert sieve is not None
    assert sieve.passes("", "rate limit reached")
    assert not sieve.passes("", "")
    assert all(r.gate is not None for r in group)
    ungated = [r for r in rs.rules if r.gate is None]
    assert ungated  # rules without a message condition have no gate
    assert _sieve([*group, ungated[0]]) is None
    empty = _sieve(())
    assert empty is not None
    assert not empty.passes("anything", "anything")


@pytest.mark.parametrize("venue", VENUES)
def test_a_sieve_lets_through_every_text_of_its_rules(venue: str) -> None:
    """Invariant: a message holding any key or literal of any rule of a group
    passes the group's sieve, so the sieve never skips a rule whose gate the
    message passes."""
    from normalizer import Operation

    rs = registry().get(venue)
    for status in (None, 200, 400, 429, 503):
        for op in (None, *Operation):
            grouped = rs._group(status, op, None)
            group, sieve = grouped.rules, grouped.sieve
            if sieve is None:
                continue
            for rule in group:
                gate = rule.gate
                assert gate is not None
                for key in gate[0]:
                    assert sieve.passes(f"x {key} y", ""), (rule.id, key)
                for literal in gate[1] or ():
                    assert sieve.passes("", f"x {literal} y"), (rule.id, literal)


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
    forget_memos()
    body = '{"code":"429","message":"Too many requests"}'
    for got in (
        normalizer.normalize(GENERIC, code="429", message="Too many requests", http_status=429),
        normalizer.normalize(GENERIC, body=body, http_status=429),
        normalizer.normalize(GENERIC, body=body, http_status=429),  # (a second body)
    ):
        assert got.rule_id != "okx.insufficient-balance"
        assert got.category is normalizer.Category.RATE_LIMIT
    forget_memos()


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


@pytest.mark.parametrize("clash", ["template", "regex", "witness"])
def test_a_tie_that_disagrees_is_found_in_a_large_group_too(tmp_path: Path, clash: str) -> None:
    """Invariant: the index that finds candidate pairs among many rules of one
    precedence (``conflicts.PAIRWISE``) finds what comparing every pair finds:
    two rules that match the same message with another category are refused."""
    from normalizer import RuleFileError
    from normalizer._core import conflicts
    from normalizer.testing import reset

    folder = _user_folder(tmp_path, 3 * conflicts.PAIRWISE)
    text = (folder / "okx" / "rules.yaml").read_text(encoding="utf-8")
    when = {
        "template": '      message: "gateway failure 1q on {venue}"',
        "regex": '      message: "gw fault 5z"',  # a template that the regex rule 5 matches
        "witness": '      message_regex: "failure 2q on"',
    }[clash]
    extra = [
        "  - id: desk.clash",
        "    category: KYC.REGION",
        "    why: Another meaning for the same message.",
        "    when:",
        when,
    ]
    if clash == "witness":
        extra.append('    examples: ["gateway failure 2q on okx"]')
    (folder / "okx" / "rules.yaml").write_text(text + "\n".join(extra) + "\n", encoding="utf-8")
    try:
        for pairwise in (conflicts.PAIRWISE, 10**9):
            reset()
            original = conflicts.PAIRWISE
            conflicts.PAIRWISE = pairwise
            try:
                with pytest.raises(RuleFileError, match=r"desk\.clash"):
                    normalizer.load_rules(folder)  # (the rules are checked as they load)
            finally:
                conflicts.PAIRWISE = original
    finally:
        reset()
