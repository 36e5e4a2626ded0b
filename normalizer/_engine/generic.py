"""The generic profile: classifying errors of a venue nobody wrote rules for.

``rules/generic/`` is an ordinary rule folder (its envelope reads the common
body shapes; its rules are venue-free phrases and symbolic names) plus
``model.json``, a word model learned from every venue's catalog, rules and
rule tests (``normalizer._engine.textmodel``). What decides, strongest first:

1. a transport failure (as for every venue);
2. a phrase or symbolic-name rule (rules with a code or message condition,
   generic or common); the rules read the symbolic code and the message
   together; unless the model is at least ``OVERRIDE_POSTERIOR`` sure of
   another category that is not retried (``_outweighs``);
3. the word model, when its category posterior reaches its threshold
   (``RETRY_POSTERIOR`` for a meaning a router retries);
4. a bare HTTP-status rule;
5. UNKNOWN, whose recommendation is the safe one (a person looks).

Every rule id of a generic answer starts with ``generic.``; the model's is
``generic.model``. An outcome-unknown category on a query is reported as
UNAVAILABLE.SERVICE, as the rubric says for every venue, except a failure that
names no reason (``BARE_FAILURE``), which is UNKNOWN on a read.
``confidence_note`` says in every generic result's notes how sure it is: the
model's posterior and the words that weighed most.

Whether an unknown venue name falls back to this profile is the caller's
choice (``unknown_exchange="generic"`` per call, ``use_generic_for_unknown()``
for the process); by default an unknown name raises.
"""

from __future__ import annotations

import _thread  # not threading: its import costs a millisecond at start-up

from .._core.frozen import frozen
from .._core.resources import data_dir
from .._core.table import Probe, Rule, RuleSet
from .._core.text import bound
from .._core.vocabulary import Category, Operation, Outcome
from .._formats.registry import GENERIC, ONTOLOGY, changed

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from pathlib import Path  # not imported at start-up
    from typing import Literal

    # the word model is read only when the generic profile answers (not at start-up)
    from .textmodel import Evidence, TextModel

__all__ = ["GENERIC", "MODEL_ID", "Decision", "decide", "use_generic_for_unknown"]
MODEL_ID = "generic.model"
PREFIX = "generic."
MODEL_FILE = "model.json"

if TYPE_CHECKING:
    UnknownExchange = Literal["raise", "generic"]
else:
    UnknownExchange = str
_UNKNOWN_CHOICES = ("raise", "generic")

_lock = _thread.allocate_lock()
_default_unknown: UnknownExchange = "raise"
_models: dict[Path, TextModel | None] = {}
_override: list[TextModel | None] = []


def use_generic_for_unknown(enabled: bool = True) -> None:
    """Once per process: let every ``normalize()`` (and so ``recommend``, the
    Supervisor, batch) answer an unknown venue name with the generic profile.
    ``use_generic_for_unknown(False)`` restores the default (raise)."""
    global _default_unknown
    _default_unknown = "generic" if enabled else "raise"


def unknown_choice(value: object) -> UnknownExchange:
    """The caller's choice for unknown names, or the process default."""
    if value is None:
        return _default_unknown
    if value not in _UNKNOWN_CHOICES:  # folded, or refused as a NormalizerError
        from .._core.arguments import unknown_exchange_of

        return unknown_exchange_of(value)  # type: ignore[return-value]
    return value  # type: ignore[return-value]


def model_for(root: Path | None = None) -> TextModel | None:
    """The model of the generic folder under ``root`` (default: the bundled
    rules), loaded once; None when there is none."""
    if _override:
        return _override[-1]
    folder = (root if root is not None else data_dir("rules")) / GENERIC
    path = folder / MODEL_FILE
    if path not in _models:
        with _lock:
            if path not in _models:
                from .textmodel import TextModel

                _models[path] = TextModel.load(path) if path.is_file() else None
    return _models[path]


class using_model:
    """Classify with this model instead of the stored one (for evaluation:
    leave-one-venue-out builds a model without the venue under test)."""

    def __init__(self, model: TextModel | None) -> None:
        self.model = model

    def __enter__(self) -> TextModel | None:
        _override.append(self.model)
        _clear_caches()
        return self.model

    def __exit__(self, *exc: object) -> None:
        _override.pop()
        _clear_caches()


def _clear_caches() -> None:
    changed()  # the engine forgets what it decided with the other model


def _weak(rule: Rule) -> bool:
    """A rule that knows no code and no message: a bare HTTP status (perhaps
    with an operation). The model outranks it."""
    w = rule.when
    return (
        w.code is None
        and w.code_range is None
        and w.message is None
        and w.message_regex is None
        and w.transport is None
    )


@frozen
class Decision:
    category: Category
    subcategory: str | None
    outcome: Outcome
    rule_id: str | None
    why: str | None
    source_url: str | None
    evidence: Evidence | None = None


def decide(
    rs: RuleSet,
    code: str | None,
    message: str | None,
    status: int | None,
    operation: Operation | None,
    transport: str | None,
    root: Path | None = None,
) -> Decision | None:
    """The generic profile's answer, or None (UNKNOWN)."""
    from .textmodel import text_of

    text = bound(text_of(code, message)) or None
    rule, _entry = rs.select(Probe(code, text, status, operation, transport))
    model = model_for(root) if transport is None and text else None
    evidence = model.classify(text) if model is not None and text else None
    if rule is not None and not _weak(rule) and not _outweighs(evidence, rule):
        return _from_rule(rule, operation)
    if (
        evidence is not None
        and _retried(evidence.subcategory)
        and (evidence.posterior < RETRY_POSTERIOR)
    ):
        evidence = None  # a guess that would be retried must be a confident one
    if evidence is not None:
        label = evidence.subcategory
        if label.startswith("UNKNOWN_STATE.") and operation is Operation.QUERY:
            label = "UNAVAILABLE.SERVICE"
        category = Category(label.split(".", 1)[0])
        # a class of rows their venue labels with a category alone has no subcategory
        sub = label if "." in label else None
        return Decision(
            category,
            sub,
            ONTOLOGY.outcome_of(category, sub),
            MODEL_ID,
            evidence.describe(),
            None,
            evidence,
        )
    if rule is not None:
        return _from_rule(rule, operation)
    return None


#: The model outweighs a phrase rule only from this posterior up, and only for
#: an answer that is not retried: a phrase rule is wrong about a class of
#: wordings more often than a model this sure of another category
#: (measured leaving one venue out), but a retry is never taken on the
#: model's word against a rule's.
OVERRIDE_POSTERIOR = 0.9
#: What an AUTH or KYC rule may be outweighed by: answers a person must look at too.
_ESCALATED = ("AUTH", "KYC", "ACCOUNT_RESTRICTED")


def _outweighs(evidence: Evidence | None, rule: Rule) -> bool:
    if evidence is None or evidence.posterior < OVERRIDE_POSTERIOR:
        return False
    category = evidence.subcategory.split(".", 1)[0]
    if category == rule.category.value or _retried(evidence.subcategory):
        return False
    if rule.id.endswith(BARE_FAILURE):
        return False  # a failure that names no reason is not the words' guess
    return rule.category.value not in _ESCALATED[:2] or category in _ESCALATED


#: The model's answer is taken for a meaning a router retries (a rate limit, a
#: service or market that is unavailable for now, a temporary restriction, the
#: clock) only from this posterior up: were the words wrong and the request an
#: AUTH, KYC or unknown-outcome one, a retry would be unsafe, so weaker evidence
#: answers UNKNOWN (a person looks) instead.
RETRY_POSTERIOR = 0.6
_RETRIED = ("RATE_LIMIT", "UNAVAILABLE.", "ACCOUNT_RESTRICTED.TEMPORARY", "AUTH.TIMESTAMP")


def _retried(subcategory: str) -> bool:
    return subcategory.startswith(_RETRIED)


def confidence_note(
    code: str | None, message: str | None, rule_id: str | None, root: Path | None = None
) -> str:
    """How sure the generic profile is of its answer, for the result's notes:
    the word model's category posterior and the words that weighed most (also
    when a rule decided, and when the posterior was too low and the answer is
    UNKNOWN, whose recommendation is the safe one: a person looks)."""
    from .textmodel import text_of

    text = bound(text_of(code, message))
    model = model_for(root) if text else None
    evidence = model.weigh(text) if model is not None else None
    if evidence is None:
        said = "the word model knows none of its words"
    else:
        words = ", ".join(f"{w} {v:+.2f}" for w, v in evidence.words) or "none"
        said = (
            f"the word model says {evidence.subcategory} with posterior "
            f"{evidence.posterior:.2f} (threshold {model.threshold:.2f}; words {words})"  # type: ignore[union-attr]
        )
    if rule_id is None:
        return f"generic profile: UNKNOWN (a person looks), no rule or sure guess decides; {said}"
    if rule_id == MODEL_ID:
        return f"generic profile: decided by the word model; {said}"
    return f"generic profile: decided by rule {rule_id}; {said}"


#: The id suffix of the rule for a failure that names no reason ("create order
#: failed"): UNKNOWN_STATE on a write (check first), UNKNOWN on a read (a person
#: looks), as the rubric says.
BARE_FAILURE = ".bare-failure"


def _from_rule(rule: Rule, operation: Operation | None) -> Decision | None:
    if operation is Operation.QUERY and rule.id.endswith(BARE_FAILURE):
        return None
    rid = rule.id if rule.id.startswith(PREFIX) else PREFIX + rule.id
    if operation is Operation.QUERY and rule.category is Category.UNKNOWN_STATE:
        sub = "UNAVAILABLE.SERVICE"  # a read changed nothing: the service failed for now
        outcome = ONTOLOGY.outcome_of(Category.UNAVAILABLE, sub)
        why = f"{rule.why} On a read nothing changed: unavailable for now."
        return Decision(Category.UNAVAILABLE, sub, outcome, rid, why, rule.source_url)
    return Decision(rule.category, rule.subcategory, rule.outcome, rid, rule.why, rule.source_url)
