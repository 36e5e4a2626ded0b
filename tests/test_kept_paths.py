"""The kept paths of normalize() and recommend() say exactly what the full paths say.

Results kept for identical inputs (bodies, exceptions decided by their class and
text) and plans kept per situation must not loosen any contract: arguments are
checked as strictly, the jitter is drawn per call, and an exception's result
carries the caller's own exception.
"""

from __future__ import annotations

import pytest
import requests
import urllib3

import normalizer
from normalizer import ArgumentTypeError, NormalizerError
from normalizer._engine import recommend as rec
from normalizer.testing import forget_memos

URL = "https://www.okx.com/api/v5/trade/order"
RATE = '{"code":"58102","msg":"Rate limit reached.","data":[]}'


def _timeout(text: str = "Read timed out. (read timeout=10)") -> BaseException:
    inner = urllib3.exceptions.ReadTimeoutError(None, URL, text)  # type: ignore[arg-type]
    return requests.exceptions.ReadTimeout(inner)


def test_forget_memos_also_forgets_the_kept_plans_of_recommend() -> None:
    """normalizer.testing.forget_memos() empties recommend()'s kept plans too, so a test
    that calls it decides every situation anew (no cache cleared by name)."""
    err = normalizer.normalize("okx", body=RATE, http_status=200)
    normalizer.recommend(err, operation="transfer")
    normalizer.recommend(err, operation="place_order", policy=normalizer.default_policy())
    assert rec._fast
    assert rec._plans
    forget_memos()
    assert not rec._fast
    assert not rec._plans


def test_a_kept_retry_still_draws_its_jitter_on_every_call() -> None:
    """Invariant: a RETRY answered from the kept plan draws a fresh jittered delay per call,
    with Backoff.delay's arithmetic."""
    err = normalizer.normalize("okx", body=RATE, http_status=200)
    first = normalizer.recommend(err, operation="transfer")
    assert first.action is normalizer.Action.RETRY
    delays = {normalizer.recommend(err, operation="transfer").delay_s for _ in range(50)}
    assert len(delays) > 1
    low = normalizer.recommend(err, operation="transfer", rand=lambda: 0.0)
    high = normalizer.recommend(err, operation="transfer", rand=lambda: 1.0)
    assert low.delay_s <= high.delay_s
    forget_memos()
    assert normalizer.recommend(err, operation="transfer", rand=lambda: 1.0) == high


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"idempotent": 1}, ArgumentTypeError),
        ({"idempotent": "false"}, ArgumentTypeError),
        ({"attempt": True}, ArgumentTypeError),
        ({"attempt": 0}, NormalizerError),
        ({"operation": "transfers"}, NormalizerError),
        ({"operation": "trans fer"}, NormalizerError),
    ],
)
def test_kept_plans_never_let_a_bad_argument_through(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    """Invariant: after a situation is kept, arguments equal to its key's values but of the
    wrong type or spelling are still refused."""
    err = normalizer.normalize("okx", body=RATE, http_status=200)
    normalizer.recommend(err, operation="transfer", idempotent=True, attempt=1)
    normalizer.recommend(err, operation="transfer", idempotent=False, attempt=1)
    args: dict[str, object] = {"operation": "transfer", **kwargs}
    with pytest.raises(error):
        normalizer.recommend(err, **args)  # type: ignore[arg-type]


def test_a_kept_plan_gives_what_the_full_path_gives() -> None:
    """Invariant: recommend() from the kept plan equals recommend() decided afresh, for
    every exchange's kept error, operation, idempotency and attempt."""
    err = normalizer.normalize("okx", body=RATE, http_status=200)
    for op in ("transfer", "place_order", None):
        for idem in (True, False):
            for attempt in (1, 2, 5):
                kept = normalizer.recommend(
                    err, operation=op, idempotent=idem, attempt=attempt, rand=lambda: 0.5
                )
                forget_memos()
                fresh = normalizer.recommend(
                    err, operation=op, idempotent=idem, attempt=attempt, rand=lambda: 0.5
                )
                assert kept == fresh


def test_an_exception_decided_by_its_class_keeps_the_callers_own_exception() -> None:
    """Invariant: a kept result for an exception carries this caller's exception as raw,
    and its message is this exception's text."""
    a, b = _timeout(), _timeout()
    ra, rb = normalizer.normalize("okx", error=a), normalizer.normalize("okx", error=b)
    assert ra.raw.error is a
    assert rb.raw.error is b
    assert ra == rb
    assert ra.subcategory == "UNKNOWN_STATE.TIMEOUT"
    other = normalizer.normalize("okx", error=_timeout("Read timed out. (read timeout=3)"))
    assert other.message is not None
    assert "read timeout=3" in other.message
    forget_memos()
    assert normalizer.normalize("okx", error=_timeout()) == ra


def test_an_exception_carrying_a_response_is_never_decided_by_its_class_alone() -> None:
    """Invariant: an exception with a response (an HTTP answer) is read for it, even when its
    class names a transport kind."""

    class Response:
        status_code = 429
        content = RATE.encode()
        headers = None

    exc = _timeout()
    exc.response = Response()  # type: ignore[attr-defined]
    got = normalizer.normalize("okx", error=exc)
    assert got.http_status == 429
    assert got.code == "58102"
    assert got.raw.error is exc
