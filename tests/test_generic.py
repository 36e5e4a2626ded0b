"""The generic profile, the opt-in for unknown venue names, and the user's rule folders."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import normalizer
from normalizer import Action, Category, RuleFileError, UnknownExchangeError
from normalizer._engine.generic import MODEL_ID
from normalizer._engine.textmodel import TextModel, text_of, tokens
from normalizer._formats import registry as engine
from normalizer.analysis import generic as g


@pytest.fixture(autouse=True)
def _clean_process_state():
    saved = engine.registry()  # the same rule objects for the tests that run after these
    yield
    normalizer.use_generic_for_unknown(False)
    engine.restore_registry(saved)


def gen(**kw):
    return normalizer.normalize("generic", **kw)


# ------------------------------------------------------------- the model file


def test_committed_model_equals_a_fresh_build() -> None:
    """`exchange-normalizer generic build` is the one way the model is made: the file in
    the repository is exactly what it writes from the bundled catalogs and rules."""
    assert g.model_path().read_text(encoding="utf-8") == g.build(write=False)


def test_training_is_deterministic_and_rows_come_from_the_venues_own_rules() -> None:
    rows = g.training_rows()
    assert rows
    catalog = [r for r in rows if r.kind == "catalog"]
    assert {r.venue for r in catalog} <= set(normalizer.exchanges())
    for row in catalog[:: max(1, len(catalog) // 50)]:
        own = normalizer.normalize(row.venue, code=row.code, message=row.message)
        assert (own.subcategory or own.category.value) == row.label
    assert g.dumps(g.train(rows)) == g.dumps(g.train(list(reversed(rows))))


def test_rules_examples_and_why_lines_are_training_rows_of_their_own_venue() -> None:
    """Besides catalog rows the model learns from every rule's examples and
    `why` line, labelled by that rule and counted as the rule's venue (the
    common rules as `*`, the generic ones as `generic`), so leaving a venue
    out leaves its rules' words out too."""
    rows = g.training_rows()
    extra = [r for r in rows if r.kind not in ("catalog", "response")]
    assert {r.kind for r in extra} == {"example", "why"}
    venues = {*normalizer.exchanges(), "*", "generic"}
    assert {r.venue for r in extra} <= venues
    okx = [r for r in extra if r.venue == "okx"]
    assert okx
    assert all(r.label.split(".")[0] in normalizer.Category.__members__ for r in okx)
    assert not [r for r in g.training_rows(with_rules=False) if r.kind != "catalog"]


def test_tokens_split_symbolic_names_and_chinese() -> None:
    assert "insufficient" in tokens(text_of("INSUFFICIENT_AVAILABLE_BALANCE", None))
    assert {"qty", "low"} <= set(tokens(text_of("qty_too_low", None)))
    assert {"insufficient", "fund"} <= set(tokens(text_of("insufficientFunds", None)))
    assert "zh:余额" in tokens("余额不足")
    assert len(tokens("x" * 100_000)) <= 2  # bounded before any expression runs


def test_model_abstains_without_known_words() -> None:
    model = TextModel(json.loads(g.model_path().read_text(encoding="utf-8")))
    assert model.classify("zzqx blorp") is None
    assert model.classify("") is None


# --------------------------------------------------------- what the profile says


@pytest.mark.parametrize(
    ("kw", "category", "subcategory"),
    [
        (
            {"code": "INSUFFICIENT_AVAILABLE_BALANCE"},
            "INSUFFICIENT_FUNDS",
            "INSUFFICIENT_FUNDS.BALANCE",
        ),
        ({"code": "qty_too_low"}, "INVALID_REQUEST", "INVALID_REQUEST.MIN_AMOUNT"),
        ({"code": "TE_QTY_TOO_SMALL"}, "INVALID_REQUEST", "INVALID_REQUEST.MIN_AMOUNT"),
        ({"code": "ORDER_NOT_FOUND"}, "NOT_FOUND", "NOT_FOUND.ORDER"),
        (
            {"body": '{"error":["EOrder:Insufficient funds"],"result":{}}'},
            "INSUFFICIENT_FUNDS",
            None,
        ),
        ({"body": '{"code":10002,"msg":"Invalid signature"}'}, "AUTH", "AUTH.SIGNATURE"),
        ({"body": '{"retCode":10006,"retMsg":"Too many visits!"}'}, "RATE_LIMIT", None),
        (
            {"body": '{"error":{"code":-32602,"message":"invalid params"}}'},
            "INVALID_REQUEST",
            None,
        ),
        (
            {"body": '{"label":"BALANCE_NOT_ENOUGH","message":"Not enough balance"}'},
            "INSUFFICIENT_FUNDS",
            None,
        ),
        (
            {"body": '{"errors":[{"id":"not_found","message":"Order not found"}]}'},
            "NOT_FOUND",
            "NOT_FOUND.ORDER",
        ),
        ({"body": '{"error":"invalid api key"}'}, "AUTH", "AUTH.API_KEY"),
        (
            {"message": "Timestamp for this request is outside of the recvWindow."},
            "AUTH",
            "AUTH.TIMESTAMP",
        ),
        ({"message": "IP address not in whitelist"}, "AUTH", "AUTH.IP_NOT_ALLOWED"),
        ({"message": "Please complete KYC verification first"}, "KYC", None),
        ({"message": "System under maintenance"}, "UNAVAILABLE", "UNAVAILABLE.MAINTENANCE"),
        ({"message": "Internal error"}, "UNKNOWN_STATE", "UNKNOWN_STATE.SERVER_ERROR"),
        ({"message": "Internal error", "operation": "query"}, "UNAVAILABLE", "UNAVAILABLE.SERVICE"),
        ({"message": "Request timeout"}, "UNKNOWN_STATE", "UNKNOWN_STATE.TIMEOUT"),
        ({"message": "Permission denied for this API key"}, "AUTH", "AUTH.PERMISSION"),
        ({"message": "Account is frozen"}, "ACCOUNT_RESTRICTED", "ACCOUNT_RESTRICTED.FROZEN"),
        ({"message": "余额不足"}, "INSUFFICIENT_FUNDS", "INSUFFICIENT_FUNDS.BALANCE"),
        ({"message": "订单不存在"}, "NOT_FOUND", "NOT_FOUND.ORDER"),
        ({"message": "签名错误"}, "AUTH", "AUTH.SIGNATURE"),
        ({"message": "请求过于频繁"}, "RATE_LIMIT", None),
        ({"http_status": 429}, "RATE_LIMIT", "RATE_LIMIT.REQUESTS"),
    ],
)
def test_generic_profile_reads_shapes_names_and_phrases(kw, category, subcategory) -> None:
    err = gen(**kw)
    assert err.category.value == category, (kw, err.rule_id, err.subcategory)
    if subcategory:
        assert err.subcategory == subcategory
    assert err.rule_id is not None
    assert err.rule_id.startswith("generic.")


def test_transport_failures_as_everywhere() -> None:
    err = gen(error=TimeoutError("read timed out"))
    assert (
        err.category is normalizer.normalize("okx", error=TimeoutError("read timed out")).category
    )


def test_a_phrase_rule_outranks_a_bare_http_status() -> None:
    err = gen(http_status=400, message="Insufficient balance")
    assert err.category is Category.INSUFFICIENT_FUNDS


def test_weak_evidence_is_unknown_not_a_guess() -> None:
    assert gen(message="zzqx blorp").category is Category.UNKNOWN
    assert gen(code="31337").category is Category.UNKNOWN


def test_explain_shows_the_model_words(capsys) -> None:
    from normalizer.cli import main

    # a message no generic rule matches; the model (or nothing) decides
    msg = "Copy trading lead trader cannot follow this instrument"
    err = gen(message=msg)
    assert main(["explain", "generic", "--message", msg]) == 0
    out = capsys.readouterr().out
    if err.rule_id == MODEL_ID:
        assert "the word model" in out
        assert "posterior" in out
    else:
        assert "none matched" in out


# --------------------------------------------------- unknown venue names: opt-in


def test_unknown_venue_raises_by_default() -> None:
    with pytest.raises(UnknownExchangeError):
        normalizer.normalize("deribit", message="Insufficient funds")


def test_unknown_venue_per_call_keeps_its_name() -> None:
    err = normalizer.normalize("deribit", message="not enough funds", unknown_exchange="generic")
    assert err.exchange == "deribit"
    assert err.category is Category.INSUFFICIENT_FUNDS
    assert err.rule_id is not None
    assert err.rule_id.startswith("generic.")
    with pytest.raises(ValueError, match="unknown_exchange"):
        normalizer.normalize("deribit", message="x", unknown_exchange="maybe")  # type: ignore[arg-type]


def test_unknown_venue_once_per_process() -> None:
    normalizer.use_generic_for_unknown()
    err = normalizer.normalize("deribit", http_status=429)
    assert (err.exchange, err.category) == ("deribit", Category.RATE_LIMIT)
    rec = normalizer.recommend(err, operation="place_order")
    assert rec.action is Action.RETRY
    assert rec.delay_s > 0
    normalizer.use_generic_for_unknown(False)
    with pytest.raises(UnknownExchangeError):
        normalizer.normalize("deribit", http_status=429)


def test_known_venues_are_untouched_by_the_opt_in() -> None:
    normalizer.use_generic_for_unknown()
    assert normalizer.normalize("okx", code="58102").rule_id == "okx.transfer-rate-limit"


def test_batch_unknown_exchange_modes(tmp_path: Path, capsys) -> None:
    from normalizer.cli import main

    src = tmp_path / "log.jsonl"
    rows = [
        {"exchange": "okx", "code": "58102"},
        {"exchange": "deribit", "message": "Order not found"},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # skip (the default): the row is reported with its line, the run goes on
    assert main(["batch", str(src), "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert "log.jsonl:2: exchange: unknown exchange 'deribit'" in err
    assert len(out.strip().splitlines()) == 2  # the header and the okx row
    assert main(["batch", str(src), "--no-progress", "--unknown-exchange", "generic"]) == 0
    out, _ = capsys.readouterr()
    assert "generic.not-found.order" in out
    assert main(["batch", str(src), "--no-progress", "--unknown-exchange", "fail"]) == 2


def test_generic_build_writes_the_model_and_check_finds_drift(
    capsys, monkeypatch, tmp_path: Path
) -> None:
    """``generic build`` writes what a fresh build gives; ``generic check`` passes
    on it (exit 0) and fails on any other text (exit 1, naming the command)."""
    from normalizer.cli import main

    target = tmp_path / "model.json"
    monkeypatch.setattr(g, "model_path", lambda root=None: target)
    assert main(["generic", "build"]) == 0
    assert "rows: catalog" in capsys.readouterr().out
    assert target.read_text(encoding="utf-8") == g.build(write=False)
    assert main(["generic", "check"]) == 0
    assert "up to date" in capsys.readouterr().out
    target.write_text(target.read_text(encoding="utf-8").replace('"alpha"', '"alpha" ', 1))
    assert main(["generic", "check"]) == 1
    assert "is stale: run `exchange-normalizer generic build`" in capsys.readouterr().err


def test_generic_evaluate_prints_the_table_and_json(capsys, monkeypatch) -> None:
    """``generic evaluate`` renders the leave-one-out scores as a table and as JSON
    (the scores themselves are the notebook's test: the whole run takes ~20 s)."""
    from normalizer.cli import main

    scores = [g.VenueScore("acme", 40, 0.875, 0.9, 0.025, 0.5, 2)]
    monkeypatch.setattr(g, "leave_one_venue_out", lambda *a, **k: scores)
    assert main(["generic", "evaluate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {
            "venue": "acme",
            "rows": 40,
            "category": 0.875,
            "write_action": 0.9,
            "abstained": 0.025,
            "by_rule": 0.5,
            "rules_left_out": 2,
        }
    ]
    assert main(["generic", "evaluate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert ["acme", "40", "88%", "90%", "2%", "50%", "2"] in [ln.split() for ln in lines]
    pairs, same = g.same_text_agreement(g.training_rows(with_rules=False))
    assert lines[-1].startswith(f"where two venue families use the very same text ({pairs} pairs")
    assert lines[-1].endswith(f"the same category {same / pairs:.0%} of the time")


def test_same_text_agreement_counts_pairs_across_families_only() -> None:
    """Equal texts (case and punctuation aside) of two venue families make a pair;
    two products of one family do not; a pair agrees when the categories match
    (subcategories aside); rule examples are not catalog rows."""
    rows = [
        g.Row("acme", "1", "Too many requests!", "RATE_LIMIT.REQUESTS"),
        g.Row("acme-futures", "2", "too many requests", "RATE_LIMIT"),  # same family as acme
        g.Row("bolt", "9", "TOO MANY  requests", "RATE_LIMIT.BLOCKED"),
        g.Row("crux", "7", "too many requests.", "INVALID_REQUEST.PARAMETER"),
        g.Row("crux", "8", "Too many requests", "RATE_LIMIT.REQUESTS", "example"),
        g.Row("dune", "3", "Not supported", "UNAVAILABLE.FEATURE"),
        g.Row("echo", "4", "not supported", "UNAVAILABLE"),
        g.Row("fable", "5", "...", "UNKNOWN_STATE"),
        g.Row("gyre", "6", "!!!", "UNKNOWN_STATE"),
    ]
    # the rate-limit text: acme x bolt, acme x crux, acme-futures x bolt, acme-futures x
    # crux, bolt x crux (5 pairs, 2 agree); "not supported": 1 pair, agrees; texts with no
    # word in them are no text
    assert g.same_text_agreement(rows) == (6, 3)
    assert g.same_text_agreement([]) == (0, 0)


# ------------------------------------------------------------------ safety


_WORDS = [
    "order",
    "insufficient",
    "balance",
    "timeout",
    "internal",
    "error",
    "api",
    "key",
    "invalid",
    "signature",
    "timestamp",
    "kyc",
    "verify",
    "identity",
    "rate",
    "limit",
    "too",
    "many",
    "requests",
    "not",
    "found",
    "account",
    "frozen",
    "permission",
    "denied",
    "ip",
    "whitelist",
    "system",
    "busy",
    "maintenance",
    "processing",
    "unknown",
    "status",
    "price",
    "qty",
    "small",
    "余额不足",
    "系统错误",
    "签名错误",
    "实名认证",
    "请求超时",
    "EOrder:",
    "EAPI:",
    "_",
    ":",
    "!",
]
_texts = st.lists(st.sampled_from(_WORDS) | st.text(max_size=8), max_size=12).map(" ".join)
_statuses = st.none() | st.sampled_from(
    [200, 400, 401, 403, 404, 408, 418, 429, 500, 502, 503, 504]
)
_bodies = st.one_of(
    st.none(),
    st.builds(lambda c, m: json.dumps({"code": c, "msg": m}), st.integers(-99999, 99999), _texts),
    st.builds(lambda m: json.dumps({"error": [m]}), _texts),
    st.builds(lambda c, m: json.dumps({"error": {"code": c, "message": m}}), _texts, _texts),
    st.builds(lambda c, m: json.dumps({"errors": [{"code": c, "message": m}]}), _texts, _texts),
    _texts,
)


@settings(max_examples=300, deadline=None)
@given(
    code=st.none() | _texts,
    message=st.none() | _texts,
    status=_statuses,
    body=_bodies,
    op=st.sampled_from(["place_order", "cancel_order", "withdraw", "transfer", "query"]),
    attempt=st.integers(1, 5),
)
def test_generic_answers_are_safe(code, message, status, body, op, attempt) -> None:
    """Whatever the input, a generic answer never makes an unknown-outcome write a
    plain RETRY, never retries AUTH (but the clock) or KYC, and its rule id says
    it came from the generic profile."""
    err = normalizer.normalize(
        "somewhere",
        code=code,
        message=message,
        http_status=status,
        body=body,
        operation=op,
        unknown_exchange="generic",
    )
    assert err.exchange == "somewhere"
    assert err.rule_id is None or err.rule_id.startswith("generic.")
    rec = normalizer.recommend(err, operation=op, attempt=attempt)
    if err.category is Category.UNKNOWN_STATE and op != "query":
        assert rec.action is not Action.RETRY
    if err.category is Category.KYC or (
        err.category is Category.AUTH and err.subcategory != "AUTH.TIMESTAMP"
    ):
        assert rec.action is not Action.RETRY
    if rec.action is Action.RETRY and err.category is Category.RATE_LIMIT:
        assert rec.delay_s > 0


# ------------------------------------------------------------ the user's rules

EXCHANGE = """name: {name}
display_name: {title}
docs_url: https://example.com/docs
response:
  code_fields: [code]
  message_fields: [msg]
"""
RULES = """exchange: {name}
source_url: https://example.com/docs
rules:
{rules}
"""


def _venue(root: Path, name: str, rules: str, exchange: bool = True) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    if exchange:
        (folder / "exchange.yaml").write_text(EXCHANGE.format(name=name, title=name.title()))
    (folder / "rules.yaml").write_text(RULES.format(name=name, rules=rules))
    return folder


RATE = """  - id: {name}.rate
    category: RATE_LIMIT.REQUESTS
    why: The venue says the request rate is too high.
    when: {{code: "{code}"}}
"""


def test_load_rules_adds_a_venue_for_every_entry_point(tmp_path: Path) -> None:
    _venue(tmp_path, "acme", RATE.format(name="acme", code="77"))
    names = normalizer.load_rules(tmp_path)
    assert "acme" in names
    assert "acme" in normalizer.exchanges()
    err = normalizer.normalize("acme", body='{"code": 77, "msg": "slow down"}')
    assert err.rule_id == "acme.rate"
    assert normalizer.recommend(err, operation="place_order").action is Action.RETRY
    rows = normalizer.normalize_many([{"exchange": "acme", "code": "77"}])
    assert rows[0].rule_id == "acme.rate"
    normalizer.reset_rules()
    with pytest.raises(UnknownExchangeError):
        normalizer.normalize("acme", code="77")


def test_user_rules_outrank_the_bundled_ones(tmp_path: Path) -> None:
    assert normalizer.normalize("okx", code="58102").rule_id == "okx.transfer-rate-limit"
    other = next(
        r for r in engine.registry().get("okx").rules if r.codes and "58102" not in r.codes
    )
    code = sorted(other.codes or ())[0]
    before = normalizer.normalize("okx", code=code).rule_id
    mine = (
        RATE.format(name="okx", code="58102")
        .replace("okx.rate", "okx.mine")
        .replace("RATE_LIMIT.REQUESTS", "INVALID_REQUEST.PARAMETER")
        + "    replaces: okx.transfer-rate-limit\n"
        + "    reason: This test's own rule outranks the bundled one on purpose.\n"
    )
    _venue(tmp_path, "okx", mine, exchange=False)
    normalizer.load_rules(tmp_path)
    assert normalizer.normalize("okx", code="58102").rule_id == "okx.mine"
    assert normalizer.normalize("okx", code=code).rule_id == before  # the rest stays


def test_bad_user_folder_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    folder = _venue(tmp_path, "acme", RATE.format(name="acme", code="77") + "    oops: 1\n")
    with pytest.raises(RuleFileError) as info:
        normalizer.load_rules(tmp_path)
    text = str(info.value)
    assert str(folder / "rules.yaml") in text
    assert "oops" in text
    assert re.search(re.escape(str(folder / "rules.yaml")) + r":\d+", text)  # file:line
    with pytest.raises(UnknownExchangeError):  # nothing changed
        normalizer.normalize("acme", code="77")


def test_rules_without_exchange_yaml_for_a_new_venue_are_refused(tmp_path: Path) -> None:
    _venue(tmp_path, "nowhere", RATE.format(name="nowhere", code="1"), exchange=False)
    with pytest.raises(RuleFileError, match=r"exchange\.yaml"):
        normalizer.load_rules(tmp_path)


def test_cli_rules_dir_on_explain_and_coverage(tmp_path: Path, capsys) -> None:
    from normalizer.cli import main

    _venue(tmp_path, "acme", RATE.format(name="acme", code="77"))
    assert main(["explain", "acme", "77", "--rules-dir", str(tmp_path)]) == 0
    assert "acme.rate" in capsys.readouterr().out
    assert main(["lint", "--rules-dir", str(tmp_path)]) in (0, 1)
    capsys.readouterr()
    with pytest.raises(UnknownExchangeError):  # a command's folders do not outlive it
        normalizer.normalize("acme", code="77")


def test_a_weak_model_guess_is_never_one_that_gets_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Invariant: when the model decides, a meaning a router retries (here an
    unavailable service) needs a posterior of at least RETRY_POSTERIOR; a weaker
    guess answers UNKNOWN (a person looks), a guess that halts is taken as is."""
    from normalizer._engine import generic as g
    from normalizer._engine.textmodel import Evidence
    from normalizer.testing import forget_memos

    class Fake:
        def __init__(self, sub: str, posterior: float) -> None:
            self.evidence = Evidence(sub, posterior, (("zzyzx", 1.0),))

        threshold = 0.35

        def classify(self, text: str) -> Evidence:
            return self.evidence

        weigh = classify

    def answer(sub: str, posterior: float) -> normalizer.NormalizedError:
        monkeypatch.setattr(g, "model_for", lambda root=None: Fake(sub, posterior))
        forget_memos()
        return normalizer.normalize("generic", message="zzyzx qwv", operation="place_order")

    try:
        weak = answer("UNAVAILABLE.SERVICE", g.RETRY_POSTERIOR - 0.1)
        assert weak.category is Category.UNKNOWN
        assert normalizer.recommend(weak).action is Action.ESCALATE
        strong = answer("UNAVAILABLE.SERVICE", g.RETRY_POSTERIOR)
        assert (strong.subcategory, strong.rule_id) == ("UNAVAILABLE.SERVICE", MODEL_ID)
        halting = answer("INVALID_REQUEST.PARAMETER", g.RETRY_POSTERIOR - 0.2)
        assert halting.subcategory == "INVALID_REQUEST.PARAMETER"
    finally:
        monkeypatch.undo()
        forget_memos()


def test_a_model_class_that_is_a_bare_category_answers_without_a_subcategory() -> None:
    """Rows that a venue labels with a category alone (``AUTH``) train a class of
    that name: when the model picks it, the decision has the category and no
    subcategory, and the leave-one-out scoring reads it (it raised
    InvalidResultError, 'AUTH' is not a subcategory of AUTH)."""
    from normalizer._engine import generic as ge
    from normalizer._engine.textmodel import TextModel
    from normalizer.testing import forget_memos

    rows = [
        g.Row("acme", "", "zork blorp refused", "AUTH"),
        g.Row("acme", "", "wibble wobble", "INVALID_REQUEST.PARAMETER"),
    ]
    rs = engine.registry().get(ge.GENERIC)
    with ge.using_model(TextModel(g.train(rows))):
        forget_memos()
        try:
            d = ge.decide(rs, None, "zork blorp", None, None, None)
            assert d is not None
            assert d.rule_id == MODEL_ID
            assert (d.category, d.subcategory) == (Category.AUTH, None)
            assert g._Actions().of(d) == ("AUTH", "ESCALATE")
            err = normalizer.normalize("nowhere", message="zork blorp", unknown_exchange="generic")
            assert (err.label, err.rule_id) == ("AUTH", MODEL_ID)
        finally:
            forget_memos()


# ------------------------------------------- issue 25: true leave-one-out, confidence


def test_leave_one_out_fold_has_nothing_of_the_venue_or_its_family() -> None:
    """A venue's fold trains on no row of its family (binance-usdm goes with
    binance) and on no generic example repeating one of its catalog texts,
    and classifies with only the generic rules that do not name it."""
    rows = g.training_rows()
    for venue in ("binance-usdm", "okx", "bybit"):
        mine = [r for r in rows if r.venue == venue and r.kind == "catalog"]
        assert mine
        kept = g._left_in(rows, venue, mine)
        assert not [r for r in kept if g.family(r.venue) == g.family(venue)]
        texts = {r.message.casefold() for r in mine}
        assert not [r for r in kept if r.venue == "generic" and r.message.casefold() in texts]
        rs = g.generic_rules_without(venue)
        assert not [r for r in rs.rules if r.exchange != "*" and g.names_venue(r, venue)]


def test_names_venue_reads_id_source_why_and_examples() -> None:
    rules = {r.id: r for r in engine.registry().get("generic").rules}
    kyc = rules["generic.kyc.region"]
    assert g.names_venue(kyc, "okx")  # its source is OKX's docs
    assert not g.names_venue(kyc, "gate")
    assert g.names_venue(rules["generic.unavailable.market-mode"], "kraken-futures")


def test_training_learns_the_real_answers_of_the_rule_tests() -> None:
    rows = [r for r in g.training_rows() if r.kind == "response"]
    assert {r.venue for r in rows} >= {"okx", "binance", "bingx", "poloniex"}
    for row in rows[:: max(1, len(rows) // 40)]:
        own = normalizer.normalize(row.venue, code=row.code or None, message=row.message or None)
        pair = {own.category.value, row.label.split(".")[0]}
        # the test's own operation may turn an unknown outcome into UNAVAILABLE on a read
        assert len(pair) == 1 or pair == {"UNKNOWN_STATE", "UNAVAILABLE"} or "UNKNOWN" in pair


def test_model_decides_the_category_then_the_subcategory_inside_it() -> None:
    """Many subcategories do not make a category win: the category comes from
    the categories' pooled counts, the subcategory is the best inside it."""
    rows = [g.Row("a", "", f"alpha word{i}", f"INVALID_REQUEST.X{i}") for i in range(6)]
    rows += [g.Row("b", "", "alpha omega", "AUTH.API_KEY") for _ in range(1)]
    model = TextModel(g.train(rows, threshold=0.0))
    ev = model.classify("omega")
    assert ev is not None
    assert ev.subcategory == "AUTH.API_KEY"


def test_below_the_threshold_the_model_abstains_and_weigh_still_reports() -> None:
    rows = [g.Row("a", "", "same words", "AUTH.API_KEY"), g.Row("b", "", "same words", "KYC")]
    model = TextModel(g.train(rows, threshold=0.8))
    assert model.classify("same words") is None  # 0.5 each: below 0.8
    weak = model.weigh("same words")
    assert weak is not None
    assert weak.posterior < 0.8


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("Insufficient balance for this order", "decided by rule generic.funds.balance"),
        ("zzqx blorp", "UNKNOWN (a person looks)"),
    ],
)
def test_a_generic_result_says_how_sure_it_is(message: str, words: str) -> None:
    err = gen(message=message, operation="place_order")
    note = next(n for n in err.notes if n.startswith("generic profile:"))
    assert words in note
    if err.category is Category.UNKNOWN:
        assert normalizer.recommend(err, operation="place_order").action is Action.ESCALATE
    else:
        assert "posterior" in note
        assert re.search(r"words \w+ [+-]\d", note)


@pytest.mark.parametrize(
    ("message", "category", "subcategory"),
    [
        # authentication worded as a missing, expired or forbidden key, a login, a privilege
        ("API key is missing", "AUTH", None),
        ("The API key has expired", "AUTH", None),
        ("Key does not exist", "AUTH", None),
        ("Please log in first", "AUTH", None),
        ("No privilege to perform this operation", "AUTH", None),
        ("Error in authentication request payload", "AUTH", None),
        # regional and identity restrictions
        ("Users from your region are restricted", "KYC", None),
        ("Please complete identity verification", "KYC", None),
        # the receive window (retry after resync) against a malformed timestamp (halt)
        ("Timestamp for this request is outside of the recvWindow", "AUTH", "AUTH.TIMESTAMP"),
        ("Invalid ACCESS_TIMESTAMP", "AUTH", "AUTH.TIMESTAMP"),
        ("Timestamp format is invalid, must be milliseconds", "INVALID_REQUEST", None),
        ("Malformed timestamp", "INVALID_REQUEST", None),
        # request-rate limits against count quotas
        ("Too many requests, please slow down", "RATE_LIMIT", None),
        ("Maximum number of open orders reached", "LIMIT_EXCEEDED", None),
        ("Exceed single user order count one day", "LIMIT_EXCEEDED", None),
        ("Too many currency pairs in batch orders creation", "INVALID_REQUEST", None),
        # quote or base shortfall
        ("Not enough base currency to sell", "INSUFFICIENT_FUNDS", None),
        ("Insufficient quote balance", "INSUFFICIENT_FUNDS", None),
        # unavailable and busy, and a bare failure, on a write
        ("Service unavailable", "UNKNOWN_STATE", None),
        ("System busy, please try again later", "UNKNOWN_STATE", None),
        ("Create order failed", "UNKNOWN_STATE", None),
    ],
)
def test_classes_of_meaning_on_a_write(message: str, category: str, subcategory: str | None):
    err = gen(message=message, operation="place_order")
    assert err.category.value == category, (message, err.label, err.rule_id)
    if subcategory is not None:
        assert err.subcategory == subcategory
    action = normalizer.recommend(err, operation="place_order", attempt=1).action
    if category in ("AUTH", "KYC", "UNKNOWN_STATE") and subcategory != "AUTH.TIMESTAMP":
        assert action is not Action.RETRY


def test_unavailable_is_retried_on_a_read_and_checked_on_a_write() -> None:
    read = gen(message="Service unavailable", operation="query")
    write = gen(message="Service unavailable", operation="place_order")
    assert read.subcategory == "UNAVAILABLE.SERVICE"
    assert normalizer.recommend(read, operation="query").action is Action.RETRY
    assert normalizer.recommend(write, operation="place_order").action is Action.QUERY_THEN_RETRY


def test_a_bare_failure_is_unknown_on_a_read() -> None:
    err = gen(message="Create order failed", operation="query")
    assert err.category is Category.UNKNOWN


def test_no_documented_auth_kyc_or_unknown_outcome_answer_is_retried_by_the_profile() -> None:
    """Invariant over every venue's documented texts: where the venue's own
    rules say AUTH (but the clock), KYC or an unknown outcome, the generic
    profile, reading the same code and message, never answers a first-attempt
    write with a plain RETRY."""
    bad = []
    for row in g.training_rows(with_rules=False):
        own = row.label
        unsafe = own.startswith(("KYC", "UNKNOWN_STATE")) or (
            own.startswith("AUTH") and own != "AUTH.TIMESTAMP"
        )
        if not unsafe:
            continue
        err = gen(code=row.code, message=row.message, operation="place_order")
        if normalizer.recommend(err, operation="place_order", attempt=1).action is Action.RETRY:
            bad.append((row.venue, row.code, err.label))
    assert not bad
