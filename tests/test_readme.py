"""The README stays true: its two commands, its links, its quick start."""

from __future__ import annotations

import re
from pathlib import Path

import normalizer
from normalizer import Action, Category, Precondition, Scope

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")


def test_the_first_lines_are_the_two_commands() -> None:
    lines = TEXT.splitlines()
    assert lines[0] == "```sh"
    assert lines[3] == "```"
    main, tests = lines[1], lines[2]
    assert "pip install '.[supervisor]'" in main  # the supervisor's extra included
    assert main.endswith("normalizer explain okx 58102")
    assert "pip install '.[test]'" in tests
    assert tests.endswith("pytest")


def test_relative_links_and_images_exist() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)\)", TEXT)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert any(t.endswith(".png") for t in local)
    missing = [t for t in local if not (README.parent / t).exists()]
    assert missing == []


def test_the_quick_start_does_what_it_says() -> None:
    block = re.findall(r"```python\n(.*?)```", TEXT, re.S)[0]
    scope: dict[str, object] = {}
    exec(compile(block, "README quick start", "exec"), scope)  # noqa: S102
    rec = scope["rec"]
    assert isinstance(rec, normalizer.Recommendation)
    assert (rec.action, rec.precondition) == (
        Action.QUERY_THEN_RETRY,
        Precondition.QUERY_ORDER_STATUS,
    )
    err = normalizer.normalize(
        "okx",
        body=b'{"code":"58102","msg":"Rate limit reached.","data":[]}',
        http_status=200,
        headers={"Retry-After": "2"},
    )
    assert (err.category, err.subcategory, err.retry_after_s) == (
        Category.RATE_LIMIT,
        "RATE_LIMIT.REQUESTS",
        2.0,
    )
    first = normalizer.recommend(err, operation="transfer", idempotent=False, attempt=1)
    assert (first.action, first.delay_s, first.scope) == (Action.RETRY, 2.0, Scope.ACCOUNT)
