"""The safety guards bound to the bundled ontology (defined in ``normalizer._core.guards``).

``recommend()`` passes every cascaded proposal through ``guard()``; the
policy loader refuses, with ``refusal()``, a rule asking what a guard forbids.
"""

from __future__ import annotations

from .._core.guards import RATE_LIMIT_MIN_DELAY_S, Guard, GuardSet, Proposal, Situation
from .._formats.compiled import GUARDS as GUARD_SET

__all__ = [
    "AUTH_WORDS",
    "GUARDS",
    "GUARD_SET",
    "NEVER_RETRY",
    "QUERY_NEEDS_PRECONDITION",
    "RATE_LIMIT_BACKOFF",
    "RATE_LIMIT_MIN_DELAY_S",
    "RESEND_NEEDS_DEDUPE",
    "STATUS_QUERIES",
    "UNKNOWN_OUTCOME_WRITE",
    "Guard",
    "GuardSet",
    "Proposal",
    "Situation",
    "delay_bounds",
    "guard",
    "refusal",
    "unknown_outcome_write",
]

#: in the order recommend() applies them
GUARDS = GUARD_SET.guards
STATUS_QUERIES = GUARD_SET.status_queries
NEVER_RETRY = GUARD_SET.never_retry
UNKNOWN_OUTCOME_WRITE = GUARD_SET.unknown_outcome_write
RESEND_NEEDS_DEDUPE = GUARD_SET.resend_needs_dedupe
AUTH_WORDS = GUARD_SET.auth_words
RATE_LIMIT_BACKOFF = GUARD_SET.rate_limit_backoff
QUERY_NEEDS_PRECONDITION = GUARD_SET.query_needs_precondition
guard = GUARD_SET.guard
refusal = GUARD_SET.refusal
delay_bounds = GUARD_SET.delay_bounds


def unknown_outcome_write(s: Situation) -> bool:
    """A non-idempotent write whose outcome is not known."""
    return UNKNOWN_OUTCOME_WRITE.writes_unknown(s)
