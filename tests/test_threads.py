"""normalize() and recommend() from many threads at once, as a router's workers call them.

The engine keeps memos (results, plans, folded text, message indexes built on
first use) that are filled, cleared when full and forgotten on demand. These
tests run a mixed stream from eight threads while another thread keeps
forgetting every memo, and compare each answer with the one a single thread
gets: no exception, no answer that differs.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

import normalizer
import normalizer.testing

BODIES: list[tuple[str, Any, int | None]] = [
    ("okx", b'{"code":"58102","msg":"Rate limit reached.","data":[]}', 200),
    ("okx", b'{"code":"51008","msg":"Order failed. Insufficient USDT balance.","data":[]}', 200),
    ("binance", b'{"code":-2010,"msg":"Account has insufficient balance."}', 400),
    ("binance", b'{"code":-1021,"msg":"Timestamp outside of the recvWindow."}', 400),
    ("bybit", b'{"retCode":10006,"retMsg":"Too many visits!","result":{}}', 200),
    ("kraken", b'{"error":["EOrder:Insufficient funds"],"result":{}}', 200),
    ("kucoin", b'{"code":"429000","msg":"Too Many Requests"}', 429),
    ("gate", b'{"label":"BALANCE_NOT_ENOUGH","message":"Not enough balance"}', 400),
    ("bitget", b'{"code":"43012","msg":"Insufficient balance"}', 400),
    ("mexc", b'{"code":10101,"msg":"Insufficient balance"}', 400),
    ("coinbase", b'{"error":"INSUFFICIENT_FUND","message":"Insufficient balance"}', 400),
    ("okx", b"<html><body>502 Bad Gateway</body></html>", 502),
    ("htx", b'{"status":"error","err-code":"order-accountbalance-error","err-msg":"x"}', 200),
]
OPERATIONS = ("place_order", "cancel_order", "query", "transfer", None)


def _inputs(n: int) -> list[tuple[str, Any, int | None, str | None]]:
    """A stream mixing the same errors over and over with bodies never seen before
    (a request number in the body), so that memos fill, get cleared and refill."""
    out = []
    for i in range(n):
        exchange, body, status = BODIES[i % len(BODIES)]
        if i % 3 == 0:  # a new body of the same error
            text = json.loads(body) if body.startswith(b"{") else None
            if isinstance(text, dict):
                text["n"] = i
                body = json.dumps(text).encode()
        out.append((exchange, body, status, OPERATIONS[i % len(OPERATIONS)]))
    return out


def _answer(item: tuple[str, Any, int | None, str | None]) -> tuple[Any, ...]:
    exchange, body, status, operation = item
    err = normalizer.normalize(exchange, body=body, http_status=status, operation=operation)
    rec = normalizer.recommend(err, operation=operation, rand=lambda: 0.5)
    return (err.category, err.subcategory, err.rule_id, err.outcome, rec.action, rec.delay_s)


def _in_threads(work: Callable[[int], None], count: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            work(k)
        except BaseException as exc:  # reported, and the test fails on it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return errors


@pytest.fixture(autouse=True)
def _fast_switching() -> Any:
    """Switch threads every few bytecodes, so that races have many chances to show."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    normalizer.testing.forget_memos()
    yield
    sys.setswitchinterval(before)
    normalizer.testing.forget_memos()


def test_threads_get_the_answers_one_thread_gets_while_memos_are_forgotten() -> None:
    """Invariant: eight threads normalizing and recommending one mixed stream, while a
    ninth forgets every memo over and over, raise nothing and each get exactly the
    answer a single thread gets for the same input."""
    stream = _inputs(3000)
    expected = [_answer(item) for item in stream]
    normalizer.testing.forget_memos()
    done = threading.Event()
    forgotten = [0]

    def forget() -> None:
        while not done.is_set():
            normalizer.testing.forget_memos()
            forgotten[0] += 1

    forgetter = threading.Thread(target=forget)
    forgetter.start()
    got: dict[int, list[tuple[Any, ...]]] = {}

    def worker(k: int) -> None:
        part = stream[k::8] if k % 2 == 0 else stream[k::8][::-1]
        got[k] = [_answer(item) for item in part]

    try:
        errors = _in_threads(worker, 8)
    finally:
        done.set()
        forgetter.join(timeout=30)
    assert errors == []
    assert forgotten[0] > 10  # the memos really were forgotten while the workers ran
    for k in range(8):
        want = expected[k::8] if k % 2 == 0 else expected[k::8][::-1]
        assert got[k] == want, k


def test_threads_meeting_fresh_rules_build_each_index_once_and_agree() -> None:
    """Invariant: right after the rules are reset (every lazily built index empty), eight
    threads asking by message alone at once, the first sight of each venue's
    message index, all get the answer one thread gets."""
    messages = [
        ("okx", "Order failed. Insufficient USDT balance in account."),
        ("binance", "Account has insufficient balance for requested action."),
        ("bybit", "Too many visits!"),
        ("kraken", "EOrder:Insufficient funds"),
        ("htx", "Insufficient balance"),
        ("whitebit", "Not found — endpoint does not exist"),
    ]
    expected = {
        m: (e.category, e.subcategory, e.rule_id)
        for m in messages
        for e in [normalizer.normalize(m[0], message=m[1])]
    }
    for _ in range(5):
        normalizer.testing.reset()
        barrier = threading.Barrier(8)
        answers: list[tuple[tuple[str, str], tuple[Any, ...]]] = []

        def ask(k: int, barrier: threading.Barrier = barrier, out: list[Any] = answers) -> None:
            barrier.wait()
            for m in messages[k % 2 :] + messages[: k % 2]:
                e = normalizer.normalize(m[0], message=m[1])
                out.append((m, (e.category, e.subcategory, e.rule_id)))

        assert _in_threads(ask, 8) == []
        assert len(answers) == 8 * len(messages)
        for m, answer in answers:
            assert answer == expected[m], m
