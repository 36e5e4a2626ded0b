"""``normalizer.testing``: what tests of code that uses the package call between tests."""

from __future__ import annotations

from pathlib import Path

import normalizer
import normalizer.testing

RULES = """\
exchange: okx
source_url: https://example.invalid/okx-extra
rules:
  - id: okx.user.made-up-throttle
    category: RATE_LIMIT.REQUESTS
    why: A code our desk saw once and maps by hand (a test fixture, not a venue fact).
    when:
      code: "99999001"
"""


def test_reset_drops_user_rules_and_the_engine_memos(tmp_path: Path) -> None:
    """Invariant: after reset(), a code only a user folder knew is unknown again, and
    the next normalize() of it is decided anew (not answered from a memo)."""
    (tmp_path / "okx").mkdir()
    (tmp_path / "okx" / "rules.yaml").write_text(RULES, encoding="utf-8")
    try:
        normalizer.load_rules(tmp_path)
        before = normalizer.normalize("okx", code="99999001")
        assert before.rule_id == "okx.user.made-up-throttle"
        assert before.category == normalizer.Category.RATE_LIMIT
    finally:
        normalizer.testing.reset()
    after = normalizer.normalize("okx", code="99999001")
    assert after.rule_id != "okx.user.made-up-throttle"
    assert after.category != normalizer.Category.RATE_LIMIT


def test_forget_memos_keeps_the_rules_and_gives_equal_answers() -> None:
    """Invariant: forgetting the memos changes no decision."""
    body = '{"code":"58102","msg":"Rate limit reached.","data":[]}'
    first = normalizer.normalize("okx", body=body, http_status=200)
    normalizer.testing.forget_memos()
    again = normalizer.normalize("okx", body=body, http_status=200)
    assert again == first
    assert again.rule_id == first.rule_id
