"""HTML error pages: the title (else the text) is the message, found in time
linear in the page's size, crafted pages included (issue #15)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

import normalizer
from normalizer._core.text import html_title, strip_tags

# the two regular expressions these functions replace, as the specification
_TITLE = re.compile(r"<title[^>]*>([^<]{1,300})</title>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]{0,500}>")

html_like = st.text(alphabet=st.sampled_from(list("<>/titleTITLE xa\n")), max_size=400)


@given(html_like)
def test_strip_tags_says_what_the_regex_said(text: str) -> None:
    """Invariant: strip_tags(t) == re.sub(r"<[^>]{0,500}>", " ", t) for any text."""
    assert strip_tags(text) == _TAGS.sub(" ", text)


@given(html_like)
def test_html_title_finds_the_title_the_regex_found(text: str) -> None:
    """Invariant: a title the regex finds (non-blank) is the one html_title returns."""
    m = _TITLE.search(text)
    want = " ".join(m.group(1).split()) or None if m else None
    if want is not None:
        assert html_title(text) == want
    elif m is None:
        assert html_title(text) is None


def test_long_tags_are_kept_as_text() -> None:
    assert strip_tags("a<" + "x" * 501 + ">b") == "a<" + "x" * 501 + ">b"
    assert strip_tags("a<" + "x" * 500 + ">b") == "a b"


def test_a_gateway_page_gives_its_title() -> None:
    body = b"<html><head><TITLE>502 Bad Gateway</TITLE></head><body>nginx</body></html>"
    err = normalizer.normalize("okx", body=body, http_status=502)
    assert err.message == "502 Bad Gateway"


def _crafted() -> list[str]:
    n = 8192
    return [
        "<title" * (n // 6),  # every "<title" scans to the end for a ">"
        "<" * n,  # every "<" tries 500 characters
        "<title>" + "x" * (n - 7),  # a title too long, never closed
        ("<title>" + "a" * 299 + "<") * (n // 307),
        "<a" + "b" * 499 + "<" * (n - 501),
    ]


def test_crafted_pages_cost_no_more_than_linear_work() -> None:
    """Counted, not timed: each function calls str.find a linear number of times."""
    real_find = str.find
    for text in _crafted():
        calls = 0

        class Counting(str):
            def find(self, *args: object) -> int:  # type: ignore[override]
                nonlocal calls
                calls += 1
                return real_find(self, *args)  # type: ignore[arg-type]

        html_title(Counting(text))
        strip_tags(Counting(text))
        assert calls <= 3 * len(text) + 10
        err = normalizer.normalize("okx", body=text.encode(), http_status=502)
        assert err.category is not None
