"""Message text: bounding, folding for comparison, and template matching.

Exchange messages are untrusted. Every message is cut to ``MAX_MESSAGE_CHARS``
before it is folded, matched against a template or shown to a regular
expression.

Folding makes two spellings of one message compare equal: Unicode NFKC (so
full-width ``，：`` become ``,:``), curly quotes made straight, case folded,
runs of white space made one space, white space next to CJK text or before
punctuation removed, and trailing punctuation dropped.

A template is a documented message with placeholders (``{name}``, ``${name}``,
``<name>``, ``[name]``, ``%s``, as the venues' docs write them); each placeholder
stands for any text. Matching is glob matching on the folded text: the literal
pieces must appear in order, the first at the start and the last at the end.
It needs no regular expression and is linear in the message's length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

#: Messages are cut to this many characters before any matching.
MAX_MESSAGE_CHARS = 1024

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u3000": " "})
_SPACES = re.compile(r"\s+")
# CJK ideographs, kana, hangul and CJK punctuation
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\u3000-\u303f"
_CJK_FIRST = "\u2e80"  # no CJK character sorts below this one


@lru_cache(maxsize=1)
def _placeholder() -> re.Pattern[str]:
    # placeholders as the venues' docs write them: {name}, ${name}, <name>, [name], %s
    # (compiled on first use: the compiled file's templates are already marked)
    return re.compile(r"\$?\{[^{}\n]{0,40}\}|<[A-Za-z_][^<>\n]{0,40}>|\[[^\[\]\n]{1,40}\]|%[sdf]")


@lru_cache(maxsize=1)
def _space_near_cjk() -> re.Pattern[str]:
    # compiled on first use: re expands these ranges character by character,
    # which was a good part of the start-up (bench/)
    return re.compile(rf"(?<=[{_CJK}]) | (?=[{_CJK}])")


_SPACE_BEFORE_PUNCT = re.compile(r" (?=[:,.;!?)\]])")
_TRAILING = " .。!！?？;；,，、"
PLACEHOLDER_MARK = "\x00"  # stands for a placeholder inside a folded template


def bound(text: str) -> str:
    """``text`` cut to ``MAX_MESSAGE_CHARS``."""
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS]


def fold(text: str) -> str:
    """The comparison form of a message (see the module docstring)."""
    return _fold(bound(text))


@lru_cache(maxsize=8192)
def _fold(text: str) -> str:
    if text.isascii():
        # the same steps, those that can change ASCII text: NFKC, the quotes
        # and CJK spacing leave it as it is, and casefold() is lower() on it
        text = text.lower()
        if "  " in text or not text.isprintable() or text[:1] == " " or text[-1:] == " ":
            text = " ".join(text.split())  # runs of white space (tabs, newlines ...) made one
        if " " in text and _SPACE_BEFORE_PUNCT.search(text) is not None:
            text = _SPACE_BEFORE_PUNCT.sub("", text)
        return text.rstrip(_TRAILING)
    return _fold_general(text)


def _fold_general(text: str) -> str:
    """``_fold`` without its ASCII shortcut (the tests hold the two equal)."""
    import unicodedata  # with the first text that is not ASCII (not at start-up)

    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    text = _SPACES.sub(" ", text).strip()
    if text and max(text) >= _CJK_FIRST:
        text = _space_near_cjk().sub("", text)
    text = _SPACE_BEFORE_PUNCT.sub("", text)
    return text.rstrip(_TRAILING)


class Template:
    """A documented message, compiled for matching.

    ``parts`` are the folded literal pieces between placeholders; ``weight``
    (the number of literal characters) ranks templates when several match;
    ``key`` is the longest piece, found in every message the template fits.
    """

    __slots__ = ("key", "parts", "source", "weight")

    def __init__(self, source: str) -> None:
        self.source = source
        marked = _placeholder().sub(PLACEHOLDER_MARK, source).rstrip()
        # A template ending in a colon is followed by the value it names
        # ("cannot be less than :" arrives as "cannot be less than :5USDT").
        if marked.endswith((":", "\uff1a")):
            marked += PLACEHOLDER_MARK
        folded = _fold(marked)
        # White space next to a placeholder is left to the placeholder: the
        # value may be empty, or punctuation that folding strips.
        pieces = folded.split(PLACEHOLDER_MARK)
        self.parts: tuple[str, ...] = tuple(p if len(pieces) == 1 else p.strip() for p in pieces)
        self.weight = sum(len(p.replace(" ", "")) for p in self.parts)
        self.key = max(self.parts, key=len)

    def to_plain(self) -> tuple[Any, ...]:
        """The compiled form, for the compiled rules file (``from_plain`` rebuilds it unfolded)."""
        return (self.source, self.parts, self.weight)

    @classmethod
    def from_plain(cls, data: Sequence[Any]) -> Template:
        t = object.__new__(cls)
        t.source, parts, t.weight = data
        t.parts = tuple(parts)
        t.key = max(t.parts, key=len)
        return t

    @property
    def recognisable(self) -> bool:
        """Whether a message can be recognised by this template alone: enough literal
        text, and words in it (docs that give a number for the message, HTX's "3011",
        leave only the code to decide)."""
        return self.weight >= 4 and any(c.isalpha() for part in self.parts for c in part)

    @property
    def placeholders(self) -> list[str]:
        return [m.group(0).lstrip("$%")[1:-1] or "x" for m in _placeholder().finditer(self.source)]

    def matches(self, folded: str) -> bool:
        """Whether an already folded message fits this template (glob match)."""
        parts = self.parts
        if len(parts) == 1:
            return folded == parts[0]
        first, last = parts[0], parts[-1]
        end = len(folded) - len(last)
        if end < len(first) or not folded.startswith(first) or not folded.endswith(last):
            return False
        pos = len(first)
        for k, middle in enumerate(parts[1:-1], 1):
            found = folded.find(middle, pos, end)
            if found < 0:
                # folding strips a message's trailing punctuation: literal pieces made
                # only of it ("{0};{1}" filled with "." at the end) may be gone with it
                return not last and all(not p.rstrip(_TRAILING) for p in parts[k:])
            pos = found + len(middle)
        return True

    def fill(self, values: list[str]) -> str:
        """The template with its placeholders replaced by ``values`` in order."""
        it = iter(values)
        return _placeholder().sub(lambda _m: next(it, "x"), self.source)


# ------------------------------------------------------------------ HTML
# An exchange's gateway may answer with an HTML page. Its title (else its
# text without tags) is the message. Both are found by scanning with
# str.find, each position looked at a bounded number of times, so a crafted
# body ("<title" a thousand times without ">", "<" without ">") costs what a
# real page of its length costs: no regular expression that backtracks.

MAX_TITLE_CHARS = 300
MAX_TAG_CHARS = 500


def html_title(text: str) -> str | None:
    """The first ``<title ...>text</title>`` (1 to 300 characters, no ``<``), or None.

    Linear in ``len(text)``; case-insensitive; white space collapsed.
    """
    i = text.find("<")
    gt = -1  # the first ">" at or after i, reused while i has not passed it
    end = -1  # the first "<" after gt, reused while gt has not changed
    end_for = -2
    while i >= 0:
        if text[i + 1 : i + 6].lower() == "title":
            if gt < i:
                gt = text.find(">", i)
                if gt < 0:
                    return None
            if end_for != gt:
                end, end_for = text.find("<", gt + 1), gt
            if end < 0:
                return None
            size = end - gt - 1
            if 1 <= size <= MAX_TITLE_CHARS and text[end : end + 8].lower() == "</title>":
                return " ".join(text[gt + 1 : end].split()) or None
        i = text.find("<", i + 1)
    return None


def strip_tags(text: str) -> str:
    """``text`` with each ``<...>`` of at most 500 characters inside made a space.

    Linear in ``len(text)``: the next ``>`` is found once and reused.
    """
    out: list[str] = []
    pos = 0
    gt = -1
    i = text.find("<")
    while i >= 0:
        if gt <= i:
            gt = text.find(">", i + 1)
            if gt < 0:
                break  # no tag closes after here
        if gt - i - 1 <= MAX_TAG_CHARS:
            out.append(text[pos:i])
            out.append(" ")
            pos = gt + 1
            i = text.find("<", pos)
        else:
            i = text.find("<", i + 1)
    out.append(text[pos:])
    return "".join(out)
