"""Literal prefilters: the text a regular expression cannot match without.

A rule's message regex is searched in every message no cheaper condition
ruled out, and a regex searched case-insensitively over a message costs
microseconds (``re`` cannot use its literal-prefix scan under IGNORECASE).
Most of them name words: ``insufficient (balance|funds)`` cannot match a
message in which neither ``insufficient`` appears, and ``in`` over a short
string costs tens of nanoseconds. ``required(pattern)`` derives such words
from the pattern's parse tree, soundly:

- the answer is a tuple of lowercase ASCII strings of which at least one is a
  substring of ``text.lower()`` whenever the pattern, compiled with
  ``re.IGNORECASE``, matches anywhere in an ASCII ``text``;
- ``()`` means it can never match an ASCII text (every way through needs a
  character no ASCII character equals, even ignoring case: CJK text);
- ``None`` means nothing could be derived: the regex must always be searched.

The same parse tree says when a regex has a *lowered twin*
(``lowered_twin``): the pattern searched case-sensitively in the lowered
ASCII text, which finds what the regex finds ignoring case, two to three
times faster.

Twins search only ASCII texts: under IGNORECASE a non-ASCII character can
equal an ASCII one (the Kelvin sign ``K`` and ``k``; the long ``ſ`` and
``s``), which lowering does not show. A non-ASCII text is prefiltered on its
*projection* (``projected``: lowered, those four characters made the letters
they equal), and only for a pattern naming ASCII characters alone
(``Prefilter.any_text``): a way through a pattern that names a CJK character
was left out of its literals, which hold for ASCII text only. The parse tree
comes from the interpreter's own parser (``re._parser``, on 3.10
``sre_parse``); a pattern it cannot read, or a node this module does not
know, yields ``None``.
"""

from __future__ import annotations

import re
from functools import lru_cache

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Alternatives kept per pattern; more and the prefilter costs what it saves.
MAX_ALTERNATIVES = 16
#: Beyond this depth of groups the tree is not read (a pattern is the rules' author's).
_MAX_DEPTH = 40


#: The non-ASCII characters IGNORECASE takes for an ASCII one, and the
#: (lowercase) letter each equals: all of them (tests/test_fast_paths.py finds
#: them by asking ``re`` about every code point).
ASCII_EQUALS = {0x130: "i", 0x131: "i", 0x17F: "s", 0x212A: "k"}
_EQUALS_CHARS = tuple(chr(c) for c in ASCII_EQUALS)


@lru_cache(maxsize=1024)
def _parsed(pattern: str) -> tuple[tuple[Any, ...], int]:
    """The parse tree of ``pattern`` under IGNORECASE (its nodes, and its flags),
    read once for the prefilter, the projection's check and the twin; raises
    what the parser raises."""
    tree = _re_internals()[0].parse(pattern, re.IGNORECASE)
    return tuple(tree), tree.state.flags


def _best(needs: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    """Of several requirements that all hold, the one that rules out most."""
    if not needs:
        return None
    if any(not n for n in needs):
        return ()
    return max(needs, key=lambda n: (min(len(s) for s in n), -len(n)))


def _re_internals() -> tuple[Any, Any]:
    """The interpreter's regex parser and its opcodes (named so from 3.11)."""
    try:
        from re import _constants, _parser  # type: ignore[attr-defined]
    except ImportError:  # Python 3.10
        import sre_constants as _constants
        import sre_parse as _parser
    return _parser, _constants


def _sequence(items: Any, depth: int) -> tuple[str, ...] | None:
    c = _re_internals()[1]

    needs: list[tuple[str, ...]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            needs.append(("".join(run),))
            run.clear()

    for op, av in items:
        if op is c.LITERAL:
            ch = chr(av)
            if ch.isascii():
                run.append(ch.lower())
                continue
            close()
            if av not in ASCII_EQUALS:
                return ()  # a character no ASCII text holds, even ignoring case
            continue
        close()
        if op is c.SUBPATTERN:
            need = _tree(av[-1], depth + 1)
        elif op is c.BRANCH:
            need = _branch(av[1], depth + 1)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)):
            low, _high, sub = av
            need = _tree(sub, depth + 1) if low >= 1 else None
        elif op is getattr(c, "ATOMIC_GROUP", None):
            need = _tree(av, depth + 1)
        elif op in (c.AT, c.IN, c.ANY, c.NOT_LITERAL, c.CATEGORY, c.ASSERT, c.ASSERT_NOT):
            need = None  # zero-width, or one character of a set: no literal
        else:
            raise ValueError(f"unknown node {op}")  # read as "nothing derived"
        if need is not None:
            needs.append(need)
    close()
    return _best(needs)


def _branch(alternatives: Any, depth: int) -> tuple[str, ...] | None:
    out: list[str] = []
    for alt in alternatives:
        need = _tree(alt, depth)
        if need is None:
            return None
        out += need  # () adds nothing: that way can never match
    unique = tuple(dict.fromkeys(out))
    return unique if len(unique) <= MAX_ALTERNATIVES else None


def _tree(items: Any, depth: int) -> tuple[str, ...] | None:
    if depth > _MAX_DEPTH:
        return None
    return _sequence(items, depth)


def required(pattern: str) -> tuple[str, ...] | None:
    """The literals a match of ``pattern`` (IGNORECASE) in ASCII text needs
    one of; ``()`` when it can never match ASCII text; None when unknown."""
    try:
        need = _tree(_parsed(pattern)[0], 0)
    except Exception:  # an unknown node or an unreadable pattern: no prefilter
        return None
    if need is not None and any(not s.strip() for s in need):
        return None  # only white space: not worth a check
    return need


class Prefilter:
    """One regex's literal requirement, checked on the lowered ASCII text, and
    (``any_text``) on the projection of any other text (``projected``)."""

    __slots__ = ("any_text", "need")

    def __init__(self, pattern: str) -> None:
        self.need = required(pattern)
        # sound beyond ASCII text when every character the pattern names is
        # ASCII: no way through it was left out for needing a non-ASCII one
        self.any_text = self.need is not None and _names_ascii_only(pattern)

    def may_match(self, text: str, lowered: str | None) -> bool:
        """False only when the regex surely does not match ``text``.

        ``lowered`` is ``text.lower()`` when ``text`` is ASCII, else None
        (a non-ASCII text is not prefiltered here: see ``may_match_projected``).
        """
        need = self.need
        if need is None or lowered is None:
            return True
        for literal in need:  # noqa: SIM110 - a generator in any() costs more than this loop
            if literal in lowered:
                return True
        return False

    def may_match_projected(self, projection: str) -> bool:
        """``may_match`` for a non-ASCII text, given its ``projected`` form."""
        if not self.any_text:
            return True
        for literal in self.need or ():  # noqa: SIM110 - as in may_match
            if literal in projection:
                return True
        return False


def projected(text: str) -> str:
    """``text`` lowered, with each character IGNORECASE takes for an ASCII
    letter made that letter: one character for one, so wherever a regex
    whose characters are all ASCII matches ``text`` ignoring case, the
    lowered ASCII literals of its match are found in the projection."""
    for char in _EQUALS_CHARS:
        if char in text:
            text = text.translate(ASCII_EQUALS)
            break
    return text.lower()  # one for one once U+0130 (lowered to two) is gone


def _names_ascii_only(pattern: str) -> bool:
    """Whether every character the pattern's tree names (literals, sets) is ASCII."""
    try:
        return _every_char(_parsed(pattern)[0], 0, _ascii_char, _ascii_range, True)
    except Exception:
        return False


@lru_cache(maxsize=1024)
def prefilter(pattern: str) -> Prefilter:
    """The prefilter of ``pattern``, worked out once per pattern (it parses the regex)."""
    return Prefilter(pattern)


# ------------------------------------------------------------ lowered twins
#
# Under IGNORECASE ``re`` gives up its fast scans, and a search costs two to
# three times what the same search costs case-sensitively. On ASCII text
# (lowered anyway for the prefilters) a pattern whose letters are all
# lowercase finds, case-sensitively in the lowered text, exactly what it
# finds ignoring case in the text: every letter of the text and of the
# pattern is then lowercase on both sides. ``lowered_twin`` says so from the
# parse tree, or says nothing.

_A, _Z = ord("A"), ord("Z")


def _every_char(
    items: Any,
    depth: int,
    char_ok: Callable[[int], bool],
    range_ok: Callable[[int, int], bool],
    group_flags: bool,
) -> bool:
    """Whether every character the tree names passes ``char_ok``, every range of
    a set ``range_ok``, and (unless ``group_flags``) no group has flags of its
    own; False at a node not known here."""
    c = _re_internals()[1]
    if depth > _MAX_DEPTH:
        return False

    def below(sub: Any) -> bool:
        return _every_char(sub, depth + 1, char_ok, range_ok, group_flags)

    for op, av in items:
        if op is c.LITERAL or op is c.NOT_LITERAL:
            if not char_ok(av):
                return False
        elif op is c.IN:
            for kind, value in av:
                if kind is c.LITERAL:
                    if not char_ok(value):
                        return False
                elif kind is c.RANGE:
                    if not range_ok(*value):
                        return False
                elif kind not in (c.NEGATE, c.CATEGORY):
                    return False
        elif op is c.SUBPATTERN:
            if (av[1] or av[2]) and not group_flags:
                return False
            if not below(av[-1]):
                return False
        elif op is c.BRANCH:
            if not all(below(alt) for alt in av[1]):
                return False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)):
            if not below(av[2]):
                return False
        elif op is getattr(c, "ATOMIC_GROUP", None):
            if not below(av):
                return False
        elif op in (c.ASSERT, c.ASSERT_NOT):
            if not below(av[1]):
                return False
        elif op not in (c.AT, c.ANY, c.CATEGORY, c.GROUPREF):
            return False
    return True


def _lowercase_char(point: int) -> bool:
    return point <= 127 and not _A <= point <= _Z


def _lowercase_range(low: int, high: int) -> bool:
    return high <= 127 and not (low <= _Z and high >= _A)


def _ascii_char(point: int) -> bool:
    return point <= 127


def _ascii_range(_low: int, high: int) -> bool:
    return high <= 127


@lru_cache(maxsize=1024)
def lowered_twin(pattern: str) -> re.Pattern[str] | None:
    """``pattern`` compiled case-sensitively, when a search of it in
    ``text.lower()`` finds a match exactly when ``re.compile(pattern,
    re.IGNORECASE)`` finds one in ``text``, for every ASCII ``text``; else None
    (an uppercase or non-ASCII character in it, a set reaching one, a group
    with flags of its own, a node not known here, an unreadable pattern)."""
    try:
        items, flags = _parsed(pattern)
        if flags & ~(re.IGNORECASE | re.UNICODE):
            return None  # (?x), (?s), (?m) ... kept by the source; checked anyway
        if not _every_char(items, 0, _lowercase_char, _lowercase_range, False):
            return None
        return re.compile(pattern)
    except Exception:  # an unreadable pattern: the rule keeps its own regex
        return None


def ascii_lowered(text: str) -> str | None:
    """``text`` as ``Prefilter.may_match`` takes it: lowered when ASCII, else None."""
    return text.lower() if text.isascii() else None
