"""classify_frame keeps the results of body-less signatures across calls: the same
answers every time, forgotten when the rules change, and never kept for a body."""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")

from normalizer import classify_frame  # noqa: E402
from normalizer._formats.registry import changed  # noqa: E402
from normalizer.batch import _frame  # noqa: E402

LABELS = ["category", "subcategory", "rule_id", "action"]


def _log() -> object:
    return pd.DataFrame(
        {
            "exchange": ["okx", "okx", "binance", "okx"],
            "code": ["58102", "51008", "-2010", None],
            "message": [None, None, "Account has insufficient balance for requested action.", "x"],
            "http_status": [200.0, 200.0, 400.0, None],
        }
    )


def test_kept_results_give_the_same_answers_as_a_fresh_classification() -> None:
    changed()
    fresh = classify_frame(_log(), rand=lambda: 0.5)[LABELS]
    assert _frame._decided  # body-less signatures were kept
    again = classify_frame(_log(), rand=lambda: 0.5)[LABELS]
    pd.testing.assert_frame_equal(fresh.astype(object), again.astype(object))


def test_kept_results_are_forgotten_when_the_rules_change() -> None:
    classify_frame(_log(), rand=lambda: 0.5)
    assert _frame._decided
    changed()
    assert not _frame._decided


def test_rows_with_a_body_are_never_kept() -> None:
    """Invariant: a body may carry a deadline, so its result depends on the time."""
    changed()
    frame = pd.DataFrame(
        {"exchange": ["okx"], "body": ['{"code":"58102","msg":"Rate limit reached.","data":[]}']}
    )
    classify_frame(frame, rand=lambda: 0.5)
    assert not _frame._decided
