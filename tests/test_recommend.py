"""recommend() and policy files: scenarios a router meets, and refused policies."""

from __future__ import annotations

from pathlib import Path

import pytest

import normalizer
from normalizer import Action, Backoff, PolicyError, Precondition, Scope
from normalizer._formats.registry import ONTOLOGY


def rec(
    exchange: str = "okx",
    *,
    attempt: int = 1,
    policy: object = None,
    operation: str = "place_order",
    idempotent: bool = False,
    **kw: object,
) -> normalizer.Recommendation:
    err = normalizer.normalize(exchange, operation=operation, **kw)  # type: ignore[arg-type]
    return normalizer.recommend(
        err,
        operation=operation,
        idempotent=idempotent,
        attempt=attempt,
        policy=policy,
        rand=lambda: 0.5,
    )  # type: ignore[arg-type]


def test_read_timeout_on_an_order_is_queried_before_resending() -> None:
    r = rec(error=TimeoutError("read timed out"))
    assert r.action is Action.QUERY_THEN_RETRY
    assert r.precondition is Precondition.QUERY_ORDER_STATUS
    assert r.delay_s > 0


def test_read_timeout_on_an_idempotent_okx_order_is_queried_before_it_is_resent() -> None:
    """Issue 27: OKX documents no refusal of a client order id once the first
    order is closed, so an idempotent order of unknown fate is queried first."""
    r = rec(error=TimeoutError("read timed out"), idempotent=True)
    assert (r.action, r.guard) == (Action.QUERY_THEN_RETRY, "guard.resend-needs-dedupe")


def test_timeout_on_a_transfer_queries_the_transfer() -> None:
    r = rec(error=TimeoutError("read timed out"), operation="transfer")
    assert r.precondition is Precondition.QUERY_TRANSFER_STATUS


def test_never_sent_is_safe_to_resend_even_when_not_idempotent() -> None:
    r = rec(error=ConnectionRefusedError(111, "refused"))
    assert (r.action, r.scope) == (Action.RETRY, Scope.EXCHANGE)


def test_rate_limit_backs_off_exponentially_then_halts() -> None:
    delays = [rec(code="58102", attempt=n).delay_s for n in range(1, 6)]
    assert delays == sorted(delays)
    assert delays[0] >= 1.0
    assert delays[1] == pytest.approx(2 * delays[0])
    assert rec(code="58102", attempt=6).action is Action.HALT


def test_retry_after_longer_than_the_backoff_is_honoured() -> None:
    r = rec(code="58102", headers={"Retry-After": "45"})
    assert r.delay_s == 45.0
    assert "Retry-After" in r.reason


def test_signature_error_halts_the_account_and_asks_for_credentials() -> None:
    r = rec("mexc", code="700002")
    assert (r.action, r.scope, r.precondition) == (
        Action.ESCALATE,
        Scope.ACCOUNT,
        Precondition.REFRESH_CREDENTIALS,
    )


def test_timestamp_error_resyncs_the_clock_and_retries_once() -> None:
    r = rec("mexc", code="700003")
    assert (r.action, r.precondition) == (Action.RETRY, Precondition.RESYNC_CLOCK)
    assert rec("mexc", code="700003", attempt=2).action is Action.HALT


def test_kyc_escalates() -> None:
    assert rec(code="58230", operation="withdraw").action is Action.ESCALATE


def test_transfer_in_progress_is_queried_not_resubmitted() -> None:
    r = rec(code="58124", operation="transfer")
    assert (r.action, r.precondition) == (
        Action.QUERY_THEN_RETRY,
        Precondition.QUERY_TRANSFER_STATUS,
    )


def test_cancel_of_an_unknown_order_queries_it() -> None:
    r = rec("mexc", code="-2011", operation="cancel_order")
    assert (r.action, r.precondition) == (Action.QUERY_THEN_RETRY, Precondition.QUERY_ORDER_STATUS)


def test_unknown_state_on_an_account_write_cannot_be_queried_so_escalates() -> None:
    r = rec(error=TimeoutError("t"), operation="account")
    assert (r.action, r.guard) == (Action.ESCALATE, "guard.query-needs-precondition")


def test_operation_defaults_to_the_one_given_to_normalize() -> None:
    err = normalizer.normalize("okx", error=TimeoutError("t"), operation="transfer")
    assert normalizer.recommend(err).precondition is Precondition.QUERY_TRANSFER_STATUS


@pytest.mark.parametrize("attempt", [0, -1, 1.5, True, "2"])
def test_bad_attempt_is_a_caller_mistake(attempt: object) -> None:
    err = normalizer.normalize("okx", code="58102")
    with pytest.raises((TypeError, ValueError), match="attempt") as caught:
        normalizer.recommend(err, attempt=attempt)  # type: ignore[arg-type]
    assert isinstance(caught.value, normalizer.NormalizerError)


# ------------------------------------------------------------- policies

USER = """\
version: 1
name: desk
defaults:
  max_attempts: 5
rules:
  - id: okx-rate-limit
    why: OKX funding limits are per account; wait longer there.
    when: {exchange: [okx], category: [RATE_LIMIT]}
    then: {backoff: {initial_s: 4.0, max_s: 120}}
"""


def test_user_policy_overrides_only_what_it_says(tmp_path: Path) -> None:
    path = tmp_path / "desk.yaml"
    path.write_text(USER)
    r = rec(code="58102", policy=str(path))
    assert r.policy_rule_id == "desk:okx-rate-limit"
    assert r.delay_s == pytest.approx(4.0 * 1.125)  # 4s, jitter 0.25 * 0.5
    assert (r.action, r.scope, r.max_attempts) == (
        Action.RETRY,
        Scope.ACCOUNT,
        6,
    )  # cascaded from default
    assert rec("mexc", code="429", policy=str(path)).policy_rule_id == "default:rate-limit"


def _refused(tmp_path: Path, text: str) -> PolicyError:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        normalizer.load_policy(path)
    assert info.value.path == str(path)
    return info.value


def test_policy_typo_is_refused_with_file_line_field(tmp_path: Path) -> None:
    err = _refused(tmp_path, USER.replace("then: {backoff", "than: {backoff"))
    assert {(p.line, p.field) for p in err.problems} >= {(9, "rules[0].than")}


def test_policy_unknown_category_is_refused(tmp_path: Path) -> None:
    err = _refused(tmp_path, USER.replace("category: [RATE_LIMIT]", "category: [RATE_LIMITS]"))
    assert (err.line, err.field) == (8, "rules[0].when.category")


def test_policy_retrying_auth_is_refused(tmp_path: Path) -> None:
    text = USER.replace("category: [RATE_LIMIT]", "category: [AUTH.SIGNATURE]").replace(
        "then: {backoff: {initial_s: 4.0, max_s: 120}}", "then: {action: RETRY}"
    )
    err = _refused(tmp_path, text)
    assert err.line == 6
    assert "never retried" in str(err)


def test_policy_jitter_that_could_shorten_a_later_wait_is_refused(tmp_path: Path) -> None:
    err = _refused(
        tmp_path,
        USER.replace("initial_s: 4.0, max_s: 120", "initial_s: 4.0, multiplier: 1.1, jitter: 0.5"),
    )
    assert (err.line, err.field) == (9, "rules[0].then.backoff")
    assert "at least 1 + jitter" in str(err)


def test_policy_rules_that_tie_and_disagree_are_refused(tmp_path: Path) -> None:
    text = (
        USER
        + """\
  - id: okx-rate-limit-2
    why: A second opinion on the same situation.
    when: {exchange: [okx], category: [RATE_LIMIT.REQUESTS, RATE_LIMIT]}
    then: {scope: exchange}
  - id: okx-rate-limit-3
    why: A third opinion on the same situation.
    when: {exchange: [okx], category: [RATE_LIMIT.REQUESTS]}
    then: {scope: symbol}
"""
    )
    err = _refused(tmp_path, text)
    assert err.line == 16
    assert "okx-rate-limit-3" in str(err)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        normalizer.load_policy(tmp_path / "nope.yaml")


def test_backoff_reads_like_tenacity() -> None:
    b = Backoff.exponential(1.0, multiplier=3).capped(20).jittered(0.5)
    assert [b.base(n) for n in (1, 2, 3, 4)] == [1.0, 3.0, 9.0, 20.0]
    assert b.delay(2, rand=lambda: 0.0) == 3.0
    assert b.delay(2, rand=lambda: 0.999) < 4.5
    assert Backoff.fixed(2.0).delay(10) == 2.0


def test_default_policy_covers_every_category_with_a_rule_of_its_own() -> None:
    pol = normalizer.default_policy()
    ids = {
        pol.resolve("okx", cat, None, normalizer.Operation.PLACE_ORDER, False).rule_id
        for cat in normalizer.Category
    }
    assert "default:defaults" not in ids
    assert len(ids) == len(normalizer.Category)
    assert ONTOLOGY.status_query  # operations that can be queried exist


# ------------------------------------------ every rule that may RETRY a write (issue 24)

#: what a rule's ``why`` must say for a write it decides to be retried plainly:
#: that the venue refused the request or never got it, in the words its kind of
#: refusal is told in (each list names the refusal, not the error's topic)
NOT_PROCESSED = {
    "*": r"\b(refus|reject|not (been )?(processed|placed|executed|accepted|carried out|sent|filled)"
    r"|never (left|sent|reached|established)|nothing was|was killed|blocked|banned)",
    "RATE_LIMIT": r"(rate|limit|too many|too (frequent|often)|frequen|throttl|exceed|slow down|ban"
    r"|block|429|403|418|queue|in flight|more .{0,30} than .{0,40} allows)",
    "AUTH.TIMESTAMP": r"(timestamp|recv ?window|receive window|nonce|clock|request time|expired)",
    "UNAVAILABLE.LIQUIDITY": r"(no (usable )?(liquidity|counterpart|contra|depth|price|dealer"
    r"|lender|execution price|order book|orders on the book|resting|trade price|offers|valid quot)"
    r"|nothing in the book|not enough|too little|insufficient"
    r"|lacks|could not (be )?fill|no .{0,20}to match|killed|canceled|exhausted|utilization"
    r"|suspended borrowing|pool)",
    "UNAVAILABLE.MAINTENANCE": r"(maintenance|upgrad|settlement|suspend)",
    "ACCOUNT_RESTRICTED.TEMPORARY": r"(temporar|try again later|will pass|within 24 hours"
    r"|being liquidated|risk check|paused)",
}


def _retry_on_writes() -> list[tuple[str, str, str, str]]:
    """(rule id, label, venue, why) of every bundled rule that answers plain
    RETRY to some non-idempotent write with the bundled policy."""
    from normalizer import NormalizedError
    from normalizer._formats.registry import ONTOLOGY, registry

    found: dict[str, tuple[str, str, str, str]] = {}
    for name in registry().names:
        for rule in registry().get(name).rules:
            if rule.id in found or rule.subcategory == "UNKNOWN.NO_ERROR":
                continue
            w = rule.when
            code = min(w.code) if w.code else None
            status = min(w.http_status) if w.http_status else None
            err = NormalizedError(
                exchange=name,
                category=rule.category,
                subcategory=rule.subcategory,
                outcome=rule.outcome,
                rule_id=rule.id,
                code=code,
                http_status=status,
            )
            for op in sorted(ONTOLOGY.writes, key=lambda o: o.value):
                if w.operation is not None and op not in w.operation:
                    continue
                if normalizer.recommend(err, operation=op).action is Action.RETRY:
                    found[rule.id] = (rule.id, rule.label, name, rule.why)
                    break
    return sorted(found.values())


RETRY_ON_WRITES = _retry_on_writes()


def _whys() -> dict[str, str]:
    from normalizer._formats.registry import registry

    return {r.id: r.why for n in registry().names for r in registry().get(n).rules}


WHYS = _whys()


def _reason(label: str, why: str, seen: frozenset[str] = frozenset()) -> str | None:
    """The words of ``why`` that say the request was not processed, or None; a
    ``why`` that gives a rule "the meaning of <another rule>" has that rule's."""
    import re

    for key in ("*", label, label.split(".")[0]):
        pattern = NOT_PROCESSED.get(key)
        found = pattern and re.search(pattern, why, re.IGNORECASE)
        if found:
            return found.group(0)
    for other in re.findall(r"meaning of ([a-z0-9][a-z0-9._-]+[a-z0-9])", why):
        if other in WHYS and other not in seen:
            got = _reason(label, WHYS[other], seen | {other})
            if got:
                return f"{got} (as {other})"
    return None


@pytest.mark.parametrize(
    ("rule_id", "label", "venue", "why"),
    RETRY_ON_WRITES,
    ids=[f"{r[0]} ({r[1]})" for r in RETRY_ON_WRITES],
)
def test_a_rule_answering_retry_to_a_write_says_the_request_was_not_processed(
    rule_id: str, label: str, venue: str, why: str
) -> None:
    """Issue 24: a write answered RETRY must come from a rule whose ``why`` says
    the request was not processed. Run with ``-v`` to see every such rule in one
    list; a new one without such a reason fails here, by name."""
    assert label.split(".")[0] in ("RATE_LIMIT", "AUTH", "UNAVAILABLE", "ACCOUNT_RESTRICTED"), (
        f"{rule_id} ({label}) answers RETRY to a write: only refusals may"
    )
    assert _reason(label, why), f"{rule_id} ({label}) answers RETRY to a write, but its why "
    f"does not say the request was not processed: {why!r}"


def test_the_list_of_rules_retrying_writes_is_complete_and_excludes_unknown_outcomes() -> None:
    labels = {label for _, label, _, _ in RETRY_ON_WRITES}
    assert "UNAVAILABLE.CONNECTION" in labels  # never sent: a resend cannot duplicate
    assert not any(label.startswith(("UNKNOWN", "UNAVAILABLE.SERVICE")) for label in labels)
    assert len(RETRY_ON_WRITES) > 50


@pytest.mark.parametrize(("venue", "code"), [("okx", "54094"), ("bybit", "110124")])
def test_a_user_chosen_cool_off_is_not_retried_within_minutes(venue: str, code: str) -> None:
    """Issue 24: a cooling-off period the user chose lasts hours or days; it was
    retried within minutes. Now it stops (HALT or ESCALATE), or waits at least an hour."""
    err = normalizer.normalize(venue, code=code)
    for op in ("place_order", "query"):
        r = normalizer.recommend(err, operation=op)
        waits_long = r.action is Action.RETRY and r.delay_s >= 3600
        assert r.action in (Action.HALT, Action.ESCALATE) or waits_long, (venue, op, r)


#: a desk's policy that retries reads no rule recognises (the bundled one escalates them)
LENIENT_UNKNOWN_READS = """
version: 1
rules:
  - id: unknown
    why: Nothing matched.
    when: {category: [UNKNOWN]}
    then: {action: ESCALATE, scope: request}
  - id: unknown-query
    why: This desk retries a read that failed in an unrecognised way, twice.
    when: {category: [UNKNOWN], operation: [query]}
    then: {action: RETRY, max_attempts: 2, exhausted: ESCALATE}
"""


@pytest.mark.parametrize(
    "message",
    [
        "passphrase mismatch for this key",
        "Signature check: bad",
        "API key has no permission for this endpoint",
        "credentials revoked",
    ],
)
def test_an_unknown_error_speaking_of_credentials_is_not_retried_on_reads(message: str) -> None:
    """Issue 24: an error no rule knows whose text says signature, API key,
    passphrase or permission was retried on reads (UNKNOWN -> RETRY); repeated
    failed authentication can lock a key. The bundled policy escalates every
    UNKNOWN (the rubric); a policy that retries unknown reads is held back by
    the guard when the text speaks of credentials, and only then."""
    from normalizer import NormalizedError

    err = NormalizedError(exchange="okx", category="UNKNOWN", message=message)
    assert normalizer.recommend(err, operation="query").action is Action.ESCALATE
    lenient = normalizer.parse_policy(LENIENT_UNKNOWN_READS)
    r = normalizer.recommend(err, operation="query", policy=lenient)
    assert (r.action, r.guard) == (Action.ESCALATE, "guard.auth-words")
    plain = NormalizedError(exchange="okx", category="UNKNOWN", message="something odd happened")
    assert normalizer.recommend(plain, operation="query", policy=lenient).action is Action.RETRY
    assert normalizer.recommend(plain, operation="query").action is Action.ESCALATE
