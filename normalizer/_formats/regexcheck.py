"""Refusing, at load, every rule regex whose backtracking could stall ``normalize()``.

Python's ``re`` backtracks: ``(a+)+$`` on 29 characters takes a minute. Rather
than trust the shape of a pattern, this module bounds, from the pattern's parse
tree, the number of steps a backtracking search can take on a message of at
most ``MAX_MESSAGE_CHARS`` characters (messages are cut to that before any
regex sees them), and refuses the pattern when the bound exceeds
``STEP_BUDGET``. The bound is an over-estimate: a pattern it accepts cannot
take more steps than it says, whatever the message.

The model (every quantity an upper bound, as a polynomial in ``N``, the
message length plus one):

- ``ways(x)``: in how many ways an item can match from one position (what a
  backtracking engine may try, one after the other);
- ``cost(x)``: the steps to try all of them;
- a sequence ``x1 x2 ... xk`` costs ``sum_i (prod_{j<i} ways(xj)) * cost(xi)``:
  each way of the items before is followed by a try of the next;
- a repeat of one character class (``\\s*``, ``.{0,40}``) has one way per count;
  when the text after it must start with a character the class cannot match
  (``\\s*x``), only one count can go on, the others fail at once;
- a repeat of anything wider than one character may be used at most once
  (``(is )?``): a quantified group (``(a+)+``, ``(a|ab)*``), a backreference or
  a conditional group is refused outright, whatever its bound;
- a search tries every start position, but for an alternative anchored at the
  start (``^...``).

Every rule regex goes through ``check()``: rules' ``message_regex`` (bundled and
user folders alike), the venues' retry-hint regexes, and any regex a policy
carries. Pure: no pydantic, no YAML.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Any

from .._core.text import MAX_MESSAGE_CHARS

try:  # Python 3.11+
    _c: Any = importlib.import_module("re._constants")
    _p: Any = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - Python 3.10
    _c = importlib.import_module("sre_constants")
    _p = importlib.import_module("sre_parse")

__all__ = ["STEP_BUDGET", "Bound", "RegexRefused", "bound_of", "check", "steps"]

#: The most steps the bound may allow a search of one rule regex on a message of
#: ``MAX_MESSAGE_CHARS`` characters. The bound multiplies every choice, so it is
#: far above what ``re`` takes (the bundled pattern nearest to it, bounded at
#: 9e8, searches any 1,024 characters in about a millisecond).
STEP_BUDGET = 1 << 30
_N = MAX_MESSAGE_CHARS + 1
_UNBOUNDED = _c.MAXREPEAT
_SINGLE = {_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN}
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT} | (
    {_c.POSSESSIVE_REPEAT} if hasattr(_c, "POSSESSIVE_REPEAT") else set()
)
_START = {_c.AT_BEGINNING_STRING, _c.AT_BEGINNING}
#: the characters beyond ASCII that an ASCII letter matches ignoring case
_FOLDS = {"i": "\u0130\u0131", "k": "\u212a", "s": "\u017f"}


class RegexRefused(ValueError):
    """A pattern refused: why, in one line."""


class Bound:
    """An upper bound ``coef * N**deg`` (``N`` the message length plus one)."""

    __slots__ = ("coef", "deg")

    def __init__(self, deg: int, coef: float) -> None:
        self.deg = deg
        self.coef = coef

    def __add__(self, o: Bound) -> Bound:
        return Bound(max(self.deg, o.deg), self.coef + o.coef)

    def __mul__(self, o: Bound) -> Bound:
        return Bound(self.deg + o.deg, self.coef * o.coef)

    def at(self, n: int) -> float:
        """The bound for a message of ``n`` characters."""
        return float(self.coef * (n + 1) ** self.deg)

    def __repr__(self) -> str:
        return f"Bound({self.coef:g}*N^{self.deg})"


ONE = Bound(0, 1)
ZERO = Bound(0, 0)


def _max(a: Bound, b: Bound) -> Bound:
    """A bound of both (the larger degree, the larger coefficient)."""
    return Bound(max(a.deg, b.deg), max(a.coef, b.coef))


def _count(n: int) -> Bound:
    return Bound(1, 1) if n >= _UNBOUNDED else Bound(0, n)


def _chars(item: tuple[Any, Any]) -> frozenset[str] | None:
    """Every character a single-character item can match ignoring case, when
    that is a small known set (ASCII literals and ranges), else None."""
    op, av = item
    if op is _c.LITERAL:
        return _fold(av)
    if op is _c.IN:
        out: set[str] = set()
        for sop, sav in av:
            if sop is _c.LITERAL:
                got = _fold(sav)
            elif sop is _c.RANGE and sav[1] < 128 and sav[1] - sav[0] < 64:
                got = frozenset().union(*(_fold(c) or {"\x00"} for c in range(sav[0], sav[1] + 1)))
            else:
                return None
            if got is None:
                return None
            out |= got
        return frozenset(out)
    return None


def _fold(code: int) -> frozenset[str] | None:
    if code >= 128:
        return None
    ch = chr(code)
    return frozenset({ch, ch.lower(), ch.upper(), *_FOLDS.get(ch.lower(), "")})


def _first(seq: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The characters the sequence's first consumed character must be one of,
    when known and the sequence cannot match empty."""
    out: frozenset[str] = frozenset()
    for op, av in seq:
        if op is _c.AT or op in (_c.ASSERT, _c.ASSERT_NOT):
            continue  # zero-width: the next item says what comes first
        if op in _SINGLE:
            got = _chars((op, av))
            return None if got is None else out | got
        if op is _c.SUBPATTERN:
            got = _first(list(av[-1]))
            return None if got is None else out | got
        if op is _c.BRANCH:
            alts = [_first(list(a)) for a in av[1]]
            if any(a is None for a in alts):
                return None
            return out.union(*alts)  # type: ignore[arg-type]
        if op in _REPEATS:
            got = _first(list(av[2]))
            if got is None:
                return None
            if av[0] >= 1:
                return out | got
            out |= got  # may be skipped: what follows may come first too
            continue
        return None
    return None  # the sequence may match empty: anything may follow


def _word_class(item: tuple[Any, Any]) -> bool | None:
    """True when a single-character item matches word characters only, False
    when non-word characters only, None when it may match both."""
    op, av = item
    if op is _c.LITERAL:
        return chr(av).isalnum() or chr(av) == "_"
    if op is _c.IN and len(av) == 1 and av[0][0] is _c.CATEGORY:
        return {_c.CATEGORY_WORD: True, _c.CATEGORY_DIGIT: True}.get(av[0][1])
    got = _chars(item)
    if got is not None:
        kinds = {ch.isalnum() or ch == "_" for ch in got}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def _flat(items: Any) -> list[tuple[Any, Any]]:
    """A sequence with its plain groups opened (a group does not change matching)."""
    out: list[tuple[Any, Any]] = []
    for op, av in items:
        if op is _c.SUBPATTERN and not (len(av) == 4 and (av[1] or av[2])):
            out += _flat(av[-1])
        else:
            out.append((op, av))
    return out


def _single_repeat(item: tuple[Any, Any]) -> bool:
    op, av = item
    return op in _REPEATS and len(av[2]) == 1 and av[2][0][0] in _SINGLE


def _max_len(items: list[tuple[Any, Any]]) -> int | None:
    """The most characters a sequence can consume, or None when unbounded."""
    total = 0
    for op, av in items:
        if op in _SINGLE:
            total += 1
        elif op is _c.AT or op in (_c.ASSERT, _c.ASSERT_NOT):
            continue
        elif op is _c.SUBPATTERN:
            got = _max_len(list(av[-1]))
            if got is None:
                return None
            total += got
        elif op is _c.BRANCH:
            alts = [_max_len(list(a)) for a in av[1]]
            if any(a is None for a in alts):
                return None
            total += max(a for a in alts if a is not None)
        elif op in _REPEATS:
            inner = _max_len(list(av[2]))
            if inner is None or av[1] >= _UNBOUNDED:
                return None
            total += inner * av[1]
        else:
            return None
    return total


def _last(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The characters the sequence's last consumed character must be one of,
    when known and the sequence cannot match empty."""
    for op, av in reversed(items):
        if op is _c.AT or op in (_c.ASSERT, _c.ASSERT_NOT):
            continue
        if op in _SINGLE:
            return _chars((op, av))
        if op is _c.SUBPATTERN:
            return _last(list(av[-1]))
        if op is _c.BRANCH:
            alts = [_last(list(a)) for a in av[1]]
            if any(a is None for a in alts):
                return None
            return frozenset().union(*alts)  # type: ignore[arg-type]
        return None
    return None


class _Analysis:
    def __init__(self, flags: int) -> None:
        self.flags = flags

    def seq(self, items: Any, follow: list[tuple[Any, Any]]) -> tuple[Bound, Bound]:
        """(ways, cost) of a sequence, ``follow`` the items that come after it."""
        items = _flat(items)
        ways, cost = ONE, ZERO
        for i in range(len(items)):
            w, c = self.step(items, i, follow)
            cost = cost + ways * c
            ways = ways * w
        return ways, cost

    def step(
        self, items: list[tuple[Any, Any]], i: int, follow: list[tuple[Any, Any]]
    ) -> tuple[Bound, Bound]:
        """(ways, cost) of ``items[i]`` where it stands."""
        item = items[i]
        rest = items[i + 1 :] + follow
        w, c = self.item(item, rest)
        if _single_repeat(item) and w.deg + w.coef > 1 and self.one_count(item[1][2][0], rest):
            return ONE, c + w  # the counts that cannot go on fail at once
        return w, c

    def one_count(self, single: tuple[Any, Any], rest: list[tuple[Any, Any]]) -> bool:
        """Whether, after a repeat of ``single``, only the longest count can go on."""
        first = _first(rest)
        if first is not None and self.disjoint(single, first):
            return True
        # \b right after a repeat of word (or non-word) characters holds only
        # after the longest count
        return bool(rest) and rest[0] == (_c.AT, _c.AT_BOUNDARY) and _word_class(single) is not None

    def disjoint(self, item: tuple[Any, Any], chars: frozenset[str]) -> bool:
        try:
            matcher = re.compile(_render(item), self.flags)
        except (re.error, _Unrenderable):
            return False
        return not any(matcher.fullmatch(ch) for ch in chars)

    def item(self, item: tuple[Any, Any], rest: list[tuple[Any, Any]]) -> tuple[Bound, Bound]:
        op, av = item
        if op in _SINGLE or op is _c.AT:
            return ONE, ONE
        if op is _c.SUBPATTERN:
            return self.seq(av[-1], rest)
        if op is _c.BRANCH:
            return self.branch([list(a) for a in av[1]], rest)
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            _, c = self.seq(av[1], [])
            return ONE, c + ONE
        if getattr(_c, "ATOMIC_GROUP", None) is op:
            _, c = self.seq(av, [])
            return ONE, c + ONE
        if op in _REPEATS:
            low, high, body = av
            body = list(body)
            if len(body) == 1 and body[0][0] in _SINGLE:
                if op is getattr(_c, "POSSESSIVE_REPEAT", None):
                    return ONE, _count(high) + ONE
                counts = _count(high) if high >= _UNBOUNDED else Bound(0, high - low + 1)
                # one step to start, one per character consumed, one per count tried
                return counts, ONE + _count(high) + counts
            if high <= 1:
                w, c = self.seq(body, rest)
                return (w + ONE if low == 0 else w), c + ONE
            raise RegexRefused(
                "a group or alternation under a repeat (such as (a+)+ or (a|ab)*) can "
                "backtrack exponentially; repeat single characters only, or write the "
                "group out"
            )
        if op in (_c.GROUPREF, _c.GROUPREF_EXISTS) or op is getattr(_c, "GROUPREF_IGNORE", None):
            raise RegexRefused("backreferences and conditional groups are not allowed")
        raise RegexRefused(f"regex construct {op} is not allowed")

    def branch(
        self, alts: list[list[tuple[Any, Any]]], rest: list[tuple[Any, Any]]
    ) -> tuple[Bound, Bound]:
        """(ways, cost) of an alternation.

        Alternatives whose first characters are known and cannot overlap cannot
        both go on from one position: each of them fails at its first step
        wherever another one goes on. So the ways (and the cost beyond that
        first step) are those of the worst group of alternatives that may start
        alike (an alternative whose first character is not known belongs to
        every group).
        """
        parts = [(_first(a), *self.seq(a, rest)) for a in alts]
        wild = [(w, c) for f, w, c in parts if f is None]
        known = [(f, w, c) for f, w, c in parts if f is not None]
        groups: list[tuple[set[str], Bound, Bound]] = []
        for f, w, c in known:
            merged_f, merged_w, merged_c = set(f), w, c
            keep = []
            for g in groups:
                if g[0] & merged_f:
                    merged_f |= g[0]
                    merged_w, merged_c = merged_w + g[1], merged_c + g[2]
                else:
                    keep.append(g)
            groups = [*keep, (merged_f, merged_w, merged_c)]
        base_w, base_c = ZERO, Bound(0, len(alts))  # a first step for every alternative
        for w, c in wild:
            base_w, base_c = base_w + w, base_c + c
        if not groups:
            return base_w, base_c
        worst_w, worst_c = groups[0][1], groups[0][2]
        for _, w, c in groups[1:]:
            worst_w = _max(worst_w, w)
            worst_c = _max(worst_c, c)
        return base_w + worst_w, base_c + worst_c

    def search(self, alt: list[tuple[Any, Any]], anchored: bool) -> Bound:
        """The steps of a search for one top-level alternative, over every start.

        A path is a start and a count for every choice; each item costs, per
        path reaching it, what ``step`` says. From the first unbounded repeat of
        one character class ``R`` whose preceding character cannot be in ``R``'s
        class, one power of ``N`` is saved:

        - the paths reaching ``R`` at a position ``q`` are at most
          ``ways / N``: the position fixes one of their free variables (the
          start, or one unbounded count), given the others;
        - each reachable ``q`` follows a character outside ``R``'s class, so it
          starts a maximal run of that class: runs from different ``q`` do not
          overlap, and what ``R`` consumes and tries, over every ``q``, is at
          most ``N`` per path that reaches ``q``, not ``N`` for each ``q``.
        """
        items = _flat(alt)
        starts = ONE if anchored else Bound(1, 1)
        # anchored: every other start fails at its first step
        ways, total = ONE, Bound(1, 1) if anchored else ZERO
        saved = False
        for i in range(len(items)):
            item = items[i]
            if not saved and _single_repeat(item) and item[1][1] >= _UNBOUNDED and i > 0:
                last = _last(items[:i])
                saved = last is not None and self.disjoint(item[1][2][0], last)
            w, c = self.step(items, i, [])
            paths = starts * ways
            if saved and paths.deg > 0:
                paths = Bound(paths.deg - 1, paths.coef)
            total = total + paths * c
            ways = ways * w
        return total


class _Unrenderable(Exception):
    pass


def _render(item: tuple[Any, Any]) -> str:
    """The source of one single-character item (a literal, a class, ``.``)."""
    op, av = item
    if op is _c.LITERAL:
        return re.escape(chr(av))
    if op is _c.NOT_LITERAL:
        return "[^" + _class_char(av) + "]"
    if op is _c.ANY:
        return "."
    if op is _c.IN:
        parts = []
        neg = ""
        for sop, sav in av:
            if sop is _c.NEGATE:
                neg = "^"
            elif sop is _c.LITERAL:
                parts.append(_class_char(sav))
            elif sop is _c.RANGE:
                parts.append(_class_char(sav[0]) + "-" + _class_char(sav[1]))
            elif sop is _c.CATEGORY:
                parts.append(_CATEGORIES[sav])
            else:
                raise _Unrenderable
        return "[" + neg + "".join(parts) + "]"
    raise _Unrenderable


def _class_char(code: int) -> str:
    return "\\" + chr(code) if chr(code) in "\\]^-[" else chr(code)


_CATEGORIES = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}


def _alternatives(parsed: list[tuple[Any, Any]]) -> list[list[tuple[Any, Any]]]:
    if len(parsed) == 1 and parsed[0][0] is _c.BRANCH:
        return [list(a) for a in parsed[0][1][1]]
    return [parsed]


def bound_of(pattern: str, flags: int = re.IGNORECASE) -> Bound:
    """An upper bound on the steps of ``re.search(pattern, m, flags)`` for any
    message ``m``, as a polynomial in its length; raises ``RegexRefused`` for a
    construct that can backtrack without bound (or ``re.error``)."""
    parsed = _p.parse(pattern, flags)
    all_flags = flags | parsed.state.flags
    analysis = _Analysis(all_flags & (re.IGNORECASE | re.ASCII | re.DOTALL))
    total = ZERO
    for alt in _alternatives(list(parsed)):
        anchored = (
            bool(alt)
            and alt[0][0] is _c.AT
            and alt[0][1] in _START
            and not (all_flags & re.MULTILINE and alt[0][1] is _c.AT_BEGINNING)
        )
        total = total + analysis.search(alt, anchored)
    return total


_bound = lru_cache(maxsize=4096)(bound_of)


def steps(pattern: str, flags: int = re.IGNORECASE) -> float:
    """The bound of ``bound_of`` for a message of ``MAX_MESSAGE_CHARS`` characters."""
    return _bound(pattern, flags).at(MAX_MESSAGE_CHARS)


def check(pattern: str, flags: int = re.IGNORECASE) -> None:
    """Raise ``RegexRefused`` (a ``ValueError``) saying why, unless a search of
    ``pattern`` on any message of at most ``MAX_MESSAGE_CHARS`` characters
    takes at most ``STEP_BUDGET`` steps."""
    try:
        found = _bound(pattern, flags)
    except re.error as exc:
        raise RegexRefused(f"regular expression {pattern!r} does not compile: {exc}") from None
    except RegexRefused as exc:
        raise RegexRefused(f"regular expression {pattern!r} refused: {exc}") from None
    except RecursionError:
        raise RegexRefused(f"regular expression {pattern!r} is nested too deeply") from None
    if found.deg > 1:
        raise RegexRefused(
            f"regular expression {pattern!r} may take time growing as the message length to "
            f"the power {found.deg} (at most linear allowed): unbounded repeats (.*, \\s+, "
            "\\w*) that follow one another, sit inside an alternative, or may start anywhere "
            "multiply; bound them ({0,40}) or put a character they cannot match before them"
        )
    worst = found.at(MAX_MESSAGE_CHARS)
    if worst > STEP_BUDGET:
        raise RegexRefused(
            f"regular expression {pattern!r} may take up to {worst:.3g} backtracking steps on "
            f"a {MAX_MESSAGE_CHARS}-character message (at most {STEP_BUDGET} allowed): "
            "repeats of wide classes (.{0,40}) multiply; narrow or shorten them"
        )
