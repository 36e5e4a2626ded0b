"""Which of many texts occur in a message, without trying each one.

A rule set with thousands of message rules (a user's rules folder) must not
try every rule's text on every message. ``TextIndex`` files each text under
one of its interior words (a run of word characters with a non-word
character on both sides inside the text: wherever the text occurs, that word
occurs as a whole word), the one fewest texts share; a message's words are
looked up, and only the texts filed under them are searched. A text with no
interior word is searched in every message. Small sets are searched one by
one (cheaper than splitting the message into words).

Building is linear in the texts' total length; a lookup costs one pass over
the message plus the texts filed under its words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

_WORD = re.compile(r"\w+")
#: sets of at most this many texts are searched one by one
SMALL = 24


def interior_words(text: str) -> list[str]:
    """The words of ``text`` with a non-word character on both sides inside it."""
    end = len(text)
    return [m.group() for m in _WORD.finditer(text) if m.start() > 0 and m.end() < end]


class TextIndex:
    """``(text, value)`` pairs; ``found(message)`` gives the values whose text
    occurs in the message (a text as a substring, as ``in`` finds it), each
    distinct text searched once."""

    __slots__ = ("by_word", "loose", "size")

    def __init__(self, pairs: Iterable[tuple[str, Any]]) -> None:
        values: dict[str, list[Any]] = {}  # each distinct text once, with its values
        for text, value in pairs:
            values.setdefault(text, []).append(value)
        listed = [(text, tuple(vs)) for text, vs in values.items()]
        self.size = len(listed)
        self.by_word: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
        if len(listed) <= SMALL:
            self.loose = listed
            return
        words = [interior_words(text) for text, _ in listed]
        shared: dict[str, int] = {}
        for ws in words:
            for w in set(ws):
                shared[w] = shared.get(w, 0) + 1
        self.loose = []
        for pair, ws in zip(listed, words, strict=True):
            if not ws:
                self.loose.append(pair)
                continue
            rarest = min(ws, key=lambda w: (shared[w], -len(w)))
            self.by_word.setdefault(rarest, []).append(pair)

    def found(self, message: str) -> list[Any]:
        """The values of the texts in ``message`` (loose texts first)."""
        out = [value for text, vs in self.loose if text in message for value in vs]
        by_word = self.by_word
        if by_word:
            for word in set(_WORD.findall(message)):
                hit = by_word.get(word)
                if hit is not None:
                    out += [value for text, vs in hit if text in message for value in vs]
        return out

    def any_in(self, message: str) -> bool:
        """Whether any of the texts occurs in ``message``."""
        for text, _ in self.loose:
            if text in message:
                return True
        return bool(self.by_word) and bool(self.found(message))

    def __len__(self) -> int:
        return self.size
