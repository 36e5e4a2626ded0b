"""The safety guards as objects: one definition refuses a policy rule at load
and overrides a cascaded proposal at run time (normalizer/_core/guards.py,
normalizer/_engine/guards.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import normalizer
from normalizer import Action, Category, Operation, PolicyError, Precondition, Scope
from normalizer._engine.guards import (
    GUARDS,
    STATUS_QUERIES,
    Proposal,
    Situation,
    guard,
    refusal,
    unknown_outcome_write,
)
from normalizer._formats.registry import ONTOLOGY

HEAD = "version: 1\nname: desk\nrules:\n"


def rule(when: str, then: str) -> str:
    return (
        HEAD + f"  - id: r\n    why: A rule under test here.\n    when: {when}\n    then: {then}\n"
    )


def refused(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        normalizer.parse_policy(text, "desk.yaml")
    return info.value


def test_every_guard_is_an_object_with_id_why_applies_apply() -> None:
    ids = [g.id for g in GUARDS]
    assert len(set(ids)) == len(ids)
    for g in GUARDS:
        assert g.id.startswith("guard.")
        assert len(g.why) > 20
        assert callable(g.applies)
        assert callable(g.apply)


@pytest.mark.parametrize("label", ["UNKNOWN_STATE", "UNKNOWN_STATE.TIMEOUT", "UNKNOWN"])
def test_retry_of_unknown_outcome_placements_is_refused_at_load(label: str) -> None:
    err = refused(rule(f"{{category: [{label}], operation: [place_order]}}", "{action: RETRY}"))
    assert err.line == 4
    assert "guard.unknown-outcome-write" in str(err)


def test_retry_of_unknown_state_for_every_operation_is_refused_too() -> None:
    """No operation named: the rule covers placements, so it asks what the guard forbids."""
    assert "guard.unknown-outcome-write" in str(
        refused(rule("{category: [UNKNOWN_STATE]}", "{action: RETRY}"))
    )


@pytest.mark.parametrize(
    "when",
    [
        "{category: [UNKNOWN_STATE], idempotent: true}",
        "{category: [UNKNOWN_STATE], operation: [query]}",
    ],
)
def test_retry_of_unknown_state_where_it_is_safe_loads(when: str) -> None:
    normalizer.parse_policy(rule(when, "{action: RETRY}"))


@pytest.mark.parametrize("pre", ["resync_clock", "refresh_credentials"])
def test_a_query_that_is_not_the_status_query_is_refused_at_load(pre: str) -> None:
    err = refused(
        rule("{category: [UNKNOWN_STATE]}", f"{{action: QUERY_THEN_RETRY, precondition: {pre}}}")
    )
    assert pre in str(err)
    assert "guard.unknown-outcome-write" in str(err)


@pytest.mark.parametrize("pre", ["query_order_status", "query_transfer_status"])
def test_the_status_queries_satisfy_the_guard(pre: str) -> None:
    normalizer.parse_policy(
        rule("{category: [UNKNOWN_STATE]}", f"{{action: QUERY_THEN_RETRY, precondition: {pre}}}")
    )


def test_a_cascaded_wrong_precondition_is_overridden_at_run_time() -> None:
    """The rule sets only the precondition (it loads); the action cascades from the default."""
    pol = normalizer.parse_policy(
        rule("{category: [UNKNOWN_STATE]}", "{precondition: resync_clock}")
    )
    err = normalizer.normalize("okx", error=TimeoutError("read timed out"), operation="place_order")
    rec = normalizer.recommend(err, policy=pol, rand=lambda: 0.5)
    assert rec.action is Action.QUERY_THEN_RETRY
    assert rec.precondition is Precondition.QUERY_ORDER_STATUS
    assert rec.guard == "guard.unknown-outcome-write"
    # a write that cannot be queried: a person checks
    err = normalizer.normalize("okx", error=TimeoutError("read timed out"), operation="account")
    rec = normalizer.recommend(err, policy=pol)
    assert rec.action is Action.ESCALATE


def test_guards_read_the_category_not_only_the_subcategory() -> None:
    assert "guard.never-retry" in str(refused(rule("{category: [AUTH]}", "{action: RETRY}")))
    assert "guard.never-retry" in str(refused(rule("{category: [KYC]}", "{action: RETRY}")))
    normalizer.parse_policy(rule("{category: [AUTH.TIMESTAMP]}", "{action: RETRY}"))
    s = Situation(Category.AUTH, None, Operation.PLACE_ORDER, True)
    out, last, _ = guard(s, Proposal(Action.RETRY, Scope.REQUEST))
    assert (out.action, last and last.id) == (Action.ESCALATE, "guard.never-retry")


def test_rate_limits_are_never_halted_by_a_rule() -> None:
    assert "guard.rate-limit-backoff" in str(
        refused(rule("{category: [RATE_LIMIT.REQUESTS]}", "{action: HALT}"))
    )


def test_lint_reports_a_rule_asking_retry_for_unknown_state_placements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from normalizer.cli import main

    path = tmp_path / "desk.yaml"
    path.write_text(
        rule("{category: [UNKNOWN_STATE], operation: [place_order]}", "{action: RETRY}")
    )
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:4: error:" in out
    assert "guard.unknown-outcome-write" in out


situations = st.builds(
    Situation,
    category=st.sampled_from(list(Category)),
    subcategory=st.none(),
    operation=st.sampled_from(list(Operation)),
    idempotent=st.booleans(),
).flatmap(
    lambda s: st.sampled_from(
        [None, *(sub for sub, c in ONTOLOGY.subcategories.items() if c is s.category)]
    ).map(lambda sub: Situation(s.category, sub, s.operation, s.idempotent))
)
proposals = st.builds(
    Proposal,
    action=st.sampled_from(list(Action)),
    scope=st.sampled_from(list(Scope)),
    precondition=st.none() | st.sampled_from(list(Precondition)),
)


@given(situations, proposals)
def test_guarded_proposals_are_always_safe(s: Situation, p: Proposal) -> None:
    """Invariant: whatever the policy proposes, the guarded answer keeps every promise."""
    out, _, _ = guard(s, p)
    if unknown_outcome_write(s):
        assert out.action is not Action.RETRY
        if out.action is Action.QUERY_THEN_RETRY:
            assert out.precondition in STATUS_QUERIES
    if s.category in ONTOLOGY.never_retry and s.subcategory not in ONTOLOGY.retry_allowed:
        assert out.action not in (Action.RETRY, Action.QUERY_THEN_RETRY)
    if s.category is Category.RATE_LIMIT:
        assert out.action is Action.RETRY
    if out.action is Action.QUERY_THEN_RETRY:
        assert out.precondition is not None


@given(situations, proposals)
def test_a_rule_loads_only_if_no_forbidding_guard_would_override_it(
    s: Situation, p: Proposal
) -> None:
    """Invariant: load-time refusal and run-time override are the same definition."""
    label = s.subcategory or s.category.value
    why = refusal((label,), (s.operation,), s.idempotent, p)
    if why is None and s.subcategory is not None:
        assert not any(g.forbids and g.applies(s, p) for g in GUARDS)
    if any(g.forbids and g.applies(s, p) for g in GUARDS):
        assert why is not None


@pytest.mark.parametrize(
    ("operation", "action", "said"),
    [
        ("place_order", Action.QUERY_THEN_RETRY, "status is queried first (query_order_status)"),
        ("transfer", Action.QUERY_THEN_RETRY, "status is queried first (query_transfer_status)"),
        ("account", Action.ESCALATE, "cannot be queried, so a person must check"),
    ],
)
def test_the_reason_of_a_filled_in_precondition_says_what_was_done(
    operation: str, action: Action, said: str
) -> None:
    """The default policy's QUERY_THEN_RETRY for UNKNOWN_STATE names no precondition: the
    guard fills in the operation's status query, and the reason says that (not that a
    person must check) unless the operation has none and the action became ESCALATE."""
    err = normalizer.normalize("okx", error=TimeoutError("read timed out"), operation=operation)
    rec = normalizer.recommend(err, rand=lambda: 0.5)
    assert rec.action is action
    assert rec.guard == "guard.query-needs-precondition"
    assert said in rec.reason
    other = "cannot be queried" if action is Action.QUERY_THEN_RETRY else "queried first"
    assert other not in rec.reason


# ------------------------------------------- the request's own evidence (issue 23, 27)

OKX_RULES = "exchange: okx\nsource_url: https://example.com/docs\nrules:\n"


@pytest.fixture
def user_folder(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A user's rule folder with an ``okx/rules.yaml`` written by the test;
    the bundled rules only again afterwards."""

    def write(rules: str) -> Path:
        (tmp_path / "okx").mkdir(exist_ok=True)
        (tmp_path / "okx" / "rules.yaml").write_text(OKX_RULES + rules)
        return tmp_path

    yield write
    normalizer.reset_rules()


RENAME_50004 = """  - id: mine.50004
    category: UNAVAILABLE.SERVICE
    why: We read 50004 as a busy service.
    when: {code: "50004"}
"""
RENAME_TIMEOUT = """  - id: mine.read-timeout
    category: UNAVAILABLE.SERVICE
    why: We read a timeout as a busy service.
    when: {message_regex: "read timed out"}
    examples: ["Read timed out"]
"""


def test_a_user_rule_renaming_a_bundled_unknown_code_is_refused_with_file_line_field(
    user_folder,  # type: ignore[no-untyped-def]
) -> None:
    """Issue 23: a one-rule folder mapping OKX 50004 (bundled UNKNOWN_STATE) to
    UNAVAILABLE.SERVICE loaded silently; now it must say ``replaces:``."""
    folder = user_folder(RENAME_50004)
    with pytest.raises(normalizer.RuleFileError) as info:
        normalizer.load_rules(folder)
    (problem,) = info.value.problems
    assert problem.path.endswith("okx/rules.yaml")
    assert problem.line == 4
    assert problem.field == "mine.50004.category"
    assert "okx.general.endpoint-timeout" in problem.message
    assert "replaces:" in problem.message
    assert normalizer.normalize("okx", code="50004").category is Category.UNKNOWN_STATE


def test_a_user_message_rule_over_a_transport_failure_is_refused(
    user_folder,  # type: ignore[no-untyped-def]
) -> None:
    folder = user_folder(RENAME_TIMEOUT)
    with pytest.raises(normalizer.RuleFileError) as info:
        normalizer.load_rules(folder)
    assert "common.transport.read-timeout" in str(info.value)


def test_a_reused_bundled_id_without_replaces_is_refused(
    user_folder,  # type: ignore[no-untyped-def]
) -> None:
    folder = user_folder(
        "  - id: okx.general.endpoint-timeout\n    category: UNKNOWN_STATE.TIMEOUT\n"
        "    why: Same meaning, reused id.\n    when: {code: '59999'}\n"
    )
    with pytest.raises(normalizer.RuleFileError) as info:
        normalizer.load_rules(folder)
    assert "reuses the bundled rule id" in str(info.value)


def test_replaces_naming_no_bundled_rule_is_refused(
    user_folder,  # type: ignore[no-untyped-def]
) -> None:
    folder = user_folder(RENAME_50004 + "    replaces: okx.no-such-rule\n    reason: Testing.\n")
    with pytest.raises(normalizer.RuleFileError) as info:
        normalizer.load_rules(folder)
    assert "okx.no-such-rule" in str(info.value)


def test_replaces_needs_a_reason(user_folder) -> None:  # type: ignore[no-untyped-def]
    folder = user_folder(RENAME_50004 + "    replaces: okx.general.endpoint-timeout\n")
    with pytest.raises(normalizer.RuleFileError, match="reason"):
        normalizer.load_rules(folder)


@pytest.mark.parametrize("idempotent", [False, True])
def test_a_declared_override_of_an_unknown_code_still_never_answers_retry_to_a_write(
    user_folder,  # type: ignore[no-untyped-def]
    idempotent: bool,
) -> None:
    """Even with ``replaces:``, the bundled unknown-outcome declaration of the
    code keeps an order away from plain RETRY (the guard reads the request)."""
    folder = user_folder(
        RENAME_50004 + "    replaces: okx.general.endpoint-timeout\n    reason: Our desk.\n"
    )
    normalizer.load_rules(folder)
    err = normalizer.normalize("okx", code="50004")
    assert (err.category, err.rule_id) == (Category.UNAVAILABLE, "mine.50004")
    assert err.rule_origin == str(folder)
    rec = normalizer.recommend(err, operation="place_order", idempotent=idempotent)
    assert rec.action is Action.QUERY_THEN_RETRY
    assert rec.precondition is Precondition.QUERY_ORDER_STATUS
    # a read is free to retry: the evidence only matters where a write may repeat
    assert normalizer.recommend(err, operation="query").action is Action.RETRY
    from normalizer._formats.registry import overrides

    (found,) = overrides()
    assert (found.rule_id, found.replaces, found.reason) == (
        "mine.50004",
        "okx.general.endpoint-timeout",
        "Our desk.",
    )


def test_a_declared_override_of_a_transport_timeout_still_queries_the_order(
    user_folder,  # type: ignore[no-untyped-def]
) -> None:
    folder = user_folder(
        RENAME_TIMEOUT + "    replaces: common.transport.read-timeout\n    reason: Our desk.\n"
    )
    normalizer.load_rules(folder)
    err = normalizer.normalize("okx", error=TimeoutError("read timed out"))
    assert err.rule_id == "mine.read-timeout"
    assert err.category is Category.UNAVAILABLE
    rec = normalizer.recommend(err, operation="place_order")
    assert (rec.action, rec.guard) == (Action.QUERY_THEN_RETRY, "guard.unknown-outcome-write")


def test_every_result_says_which_folder_its_rule_came_from() -> None:
    err = normalizer.normalize("okx", code="50004")
    assert err.rule_origin == "bundled"
    assert normalizer.normalize("okx", code="no-such-code-xyz").rule_origin in (None, "bundled")


SERVICE_PAGE = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><h1>Service Temporarily Unavailable</h1></body></html>"
)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_page_after_an_order_is_an_unknown_outcome_not_retry(status: int) -> None:
    """Issue 27: a 503 HTML page returned after the venue accepted the order was
    UNAVAILABLE / REJECTED -> RETRY (a duplicate order); now the order is queried."""
    for venue in ("okx", "binance", "bybit"):
        err = normalizer.normalize(venue, body=SERVICE_PAGE, http_status=status)
        for op in ("place_order", "cancel_order", "amend_order"):
            rec = normalizer.recommend(err, operation=op)
            assert rec.action is not Action.RETRY, (venue, status, op, err)
            assert rec.precondition is Precondition.QUERY_ORDER_STATUS
        assert normalizer.recommend(err, operation="withdraw").precondition is (
            Precondition.QUERY_TRANSFER_STATUS
        )


def test_busy_wording_to_a_write_without_a_status_is_queried_too() -> None:
    err = normalizer.NormalizedError(
        exchange="okx",
        category="UNAVAILABLE",
        subcategory="UNAVAILABLE.SERVICE",
        message="Server is overloaded, please try again later",
        rule_id="common.message.unavailable",
    )
    assert normalizer.recommend(err, operation="place_order").action is Action.QUERY_THEN_RETRY
    assert normalizer.recommend(err, operation="query").action is Action.RETRY


def test_a_rule_that_declares_nothing_was_done_keeps_its_retry(
    user_folder,  # type: ignore[no-untyped-def]
) -> None:
    """A 5xx answer is an unknown outcome unless the deciding rule declares,
    with its documented reason, that the request was refused."""
    folder = user_folder(
        "  - id: mine.refused-503\n    category: UNAVAILABLE.SERVICE\n    outcome: REJECTED\n"
        "    why: The venue documents that a 503 with code 59998 processed nothing.\n"
        "    when: {code: '59998'}\n"
    )
    normalizer.load_rules(folder)
    err = normalizer.normalize("okx", code="59998", http_status=503)
    assert err.rule_id == "mine.refused-503"
    assert normalizer.recommend(err, operation="place_order").action is Action.RETRY


def test_an_idempotent_order_of_unknown_fate_is_queried_unless_the_venue_dedupes_all() -> None:
    """Issue 27: ``idempotent=True`` answered RETRY for an unknown outcome; a
    venue that refuses a repeated client id only while the first order is open
    places a second one. Only ``client_order_id_dedupe: all_orders`` resends."""
    from normalizer._formats.registry import registry

    err = normalizer.normalize("binance", error=TimeoutError("read timed out"))
    assert registry().get("binance").spec.client_order_id_dedupe == "open_orders_only"
    rec = normalizer.recommend(err, operation="place_order", idempotent=True)
    assert (rec.action, rec.guard) == (Action.QUERY_THEN_RETRY, "guard.resend-needs-dedupe")
    # a cancel sent twice cannot place an order: the caller's idempotent claim holds
    assert normalizer.recommend(err, operation="cancel_order", idempotent=True).action is (
        Action.RETRY
    )
    s = Situation(Category.UNKNOWN_STATE, None, Operation.PLACE_ORDER, True, dedupe_all=True)
    assert guard(s, Proposal(Action.RETRY))[0].action is Action.RETRY
    s = Situation(Category.UNKNOWN_STATE, None, Operation.PLACE_ORDER, True)
    assert guard(s, Proposal(Action.RETRY))[0].action is Action.QUERY_THEN_RETRY


def test_every_bundled_venue_states_its_client_order_id_dedupe() -> None:
    from normalizer._formats.registry import registry

    for venue in ("binance", "mexc", "kraken", "okx", "bybit", "kucoin", "gate", "bitget"):
        text = (Path(registry().root) / venue / "exchange.yaml").read_text()
        assert "client_order_id_dedupe:" in text, venue
    assert registry().get("coinbase").spec.client_order_id_dedupe in (
        "all_orders",
        "open_orders_only",
        "none",
    )


@given(
    category=st.sampled_from(list(Category)),
    op=st.sampled_from(list(Operation)),
    idem=st.booleans(),
    dedupe=st.booleans(),
    action=st.sampled_from(list(Action)),
    precondition=st.sampled_from([None, *Precondition]),
)
def test_evidence_of_an_unknown_outcome_never_lets_a_write_be_retried_plain(
    category: Category,
    op: Operation,
    idem: bool,
    dedupe: bool,
    action: Action,
    precondition: Precondition | None,
) -> None:
    """Invariant: whatever category a rule named and whatever a policy asks, a
    write whose evidence says it may have taken effect is never plain RETRY,
    unless it is idempotent at a venue deduping every order (or a cancel)."""
    s = Situation(category, None, op, idem, unknown=True, dedupe_all=dedupe)
    p, _, _ = guard(s, Proposal(action, Scope.REQUEST, precondition))
    if op in ONTOLOGY.writes and p.action is Action.RETRY:
        assert idem
        assert dedupe or op not in (Operation.PLACE_ORDER, Operation.AMEND_ORDER)


def test_a_user_folder_cannot_claim_a_bundled_venue_dedupes_every_order(
    tmp_path: Path,
) -> None:
    """A user's ``exchange.yaml`` saying ``client_order_id_dedupe: all_orders`` for a
    bundled venue would lift the resend guard; the bundled venue's own file decides."""
    from normalizer._formats.registry import registry

    venue = tmp_path / "okx"
    venue.mkdir()
    bundled = (Path(registry().root) / "okx" / "exchange.yaml").read_text()
    (venue / "exchange.yaml").write_text(
        bundled.replace("client_order_id_dedupe: none", "client_order_id_dedupe: all_orders")
    )
    try:
        normalizer.load_rules(tmp_path)
        assert registry().get("okx").spec.client_order_id_dedupe == "all_orders"
        err = normalizer.normalize("okx", error=TimeoutError("read timed out"))
        r = normalizer.recommend(err, operation="place_order", idempotent=True)
        assert (r.action, r.guard) == (Action.QUERY_THEN_RETRY, "guard.resend-needs-dedupe")
    finally:
        normalizer.reset_rules()


def test_no_code_the_bundled_rules_declare_unknown_outcome_is_retried_plain_on_a_write() -> None:
    """Exhaustive over the bundled venues: every code a bundled rule declares an
    unknown outcome (by code alone), normalized bare, with a 5xx, or in an
    exception's text, is never answered plain RETRY for a non-idempotent write."""
    from normalizer._formats.registry import registry

    reg = registry()
    checked = 0
    for name in reg.names:
        reg.get(name)
        for code in sorted(reg._unknown_codes.get(name, ())):
            for status in (None, 500, 503):
                err = normalizer.normalize(name, code=code, http_status=status)
                for op in ("place_order", "cancel_order", "amend_order", "transfer", "withdraw"):
                    rec = normalizer.recommend(err, operation=op)
                    assert rec.action is not Action.RETRY, (name, code, status, op, err.rule_id)
                    checked += 1
    assert checked > 100


def test_a_rule_overriding_several_bundled_rules_names_them_all_and_may_replace_a_list(
    user_folder,  # type: ignore[no-untyped-def]
) -> None:
    """One problem names every bundled rule a user's rule overrides unsaid, and
    ``replaces:`` takes a list."""
    from normalizer._formats.registry import registry

    codes = {"50004", "58102"}
    two = (
        "  - id: mine.two\n    category: UNAVAILABLE.SERVICE\n"
        "    why: We read both codes as a busy service.\n"
        '    when: {code: ["50004", "58102"]}\n'
    )
    ids = sorted(
        r.id
        for r in registry().get("okx").rules
        if r.when.code
        and codes & set(r.when.code)
        and not (r.when.message or r.when.message_regex)
        and r.label != "UNAVAILABLE.SERVICE"
    )
    assert len(ids) >= 2
    with pytest.raises(normalizer.RuleFileError) as info:
        normalizer.load_rules(user_folder(two))
    (problem,) = info.value.problems
    for rule_id in ids:
        assert rule_id in problem.message
    declared = two + f"    replaces: [{', '.join(ids)}]\n    reason: Our desk.\n"
    normalizer.load_rules(user_folder(declared))
    assert normalizer.normalize("okx", code="58102").rule_id == "mine.two"
