"""Every check ``exchange-normalizer lint`` runs, in one registry.

Each check has an id (what ``--select``, ``--ignore`` and ``--explain`` take,
and what a finding ends with in brackets), a severity (an error fails lint; a
warning fails it only with ``--strict``), why it matters and an example of
what it reports. ``lint --explain ID`` prints one; a test holds that every
check a finding can carry is registered here and documented.
"""

from __future__ import annotations

from typing import Literal

from .._core.errors import ArgumentValueError
from .._core.frozen import frozen

Severity = Literal["error", "warning"]


@frozen
class Check:
    """One lint check: its id, how bad its findings are, why, and an example."""

    id: str
    severity: Severity
    why: str
    example: str

    def explain(self) -> str:
        return f"{self.id} ({self.severity})\n  why:     {self.why}\n  example: {self.example}"


_ALL = (
    Check(
        "unusable",
        "error",
        "The file cannot be read at all (not text, too large, an alias bomb, nesting too "
        "deep); nothing in it can be checked. Lint exits 2 for it.",
        "rules.yaml: not valid YAML: found undefined alias",
    ),
    Check(
        "invalid",
        "error",
        "load_rules() and the rules compiler refuse the file: bad YAML, an unknown field (a "
        "typo), a value outside the ontology, a field of the wrong type.",
        "okx/rules.yaml:4: rules[0].category: 'RATE_LIMT' is not a category",
    ),
    Check(
        "missing-source",
        "error",
        "Every rule must say where its meaning comes from: a `source:` of its own or the "
        "file's `source_url:`. Without one, load_rules() refuses the file.",
        "okx/rules.yaml:3: rule 'okx.mine' has no source URL",
    ),
    Check(
        "orphan-venue",
        "error",
        "A folder of rules for a venue that neither the bundled rules nor the folder's "
        "exchange.yaml describes: load_rules() refuses it, because nobody says how that "
        "venue's bodies are read.",
        "acme/rules.yaml: a new venue needs an exchange.yaml",
    ),
    Check(
        "conflict",
        "error",
        "Two rules of one venue tie on precedence, can match the same input and disagree: "
        "which one decides would be an accident, so the rules refuse to load.",
        "rule 'acme.dead' (UNAVAILABLE.SERVICE) and rule 'acme.rate' (RATE_LIMIT) tie on code 1",
    ),
    Check(
        "duplicate-id",
        "error",
        "Two rules of one venue share an id; results name the rule that decided, so an id "
        "must name one rule.",
        "rule id 'okx.mine' is used twice",
    ),
    Check(
        "catalog-exchange",
        "error",
        "A catalog whose `exchange:` is not the folder it is in would document another "
        "venue's codes.",
        "catalog.yaml:1: exchange is 'okx' but the file is in the 'bybit' folder",
    ),
    Check(
        "unreachable",
        "error",
        "A rule that never decides any input it was written for (each of its codes, each "
        "witness message): stronger rules take every one, so the rule is dead text that "
        "misleads its reader.",
        "rule 'acme.dead' never decides: on code 1 rule 'acme.rate' wins",
    ),
    Check(
        "uncovered",
        "error",
        "A documented code of the catalog that no rule maps to anything: a router would see "
        "UNKNOWN and escalate. The same definition serves lint, coverage and ingest.",
        "catalog.yaml:6: documented code 9 ('Nobody maps this') maps to nothing",
    ),
    Check(
        "shadowed",
        "warning",
        "A rule that loses some of the inputs it was written for to another rule; often "
        "intended (an exception carved out), sometimes a rule that should be narrower.",
        "rule 'acme.dead' loses 1 of its 2 inputs, e.g. code 1 goes to rule 'acme.rate'",
    ),
    Check(
        "overlap",
        "warning",
        "Two rules of one file constrain the same kind of condition, can match the same input "
        "and disagree; only precedence settles it. Make the conditions disjoint if that is "
        "not intended.",
        "rule 'acme.range-a' and rule 'acme.range-b' both match code 150",
    ),
    Check(
        "capitals",
        "warning",
        "A message_regex written with capital letters matches ignoring case all the same; in "
        "lowercase it gets the faster case-sensitive twin.",
        "message_regex '\\\\bIP banned' has capital letters",
    ),
    Check(
        "undeclared-override",
        "error",
        "A rule of your folder decides an input differently from a bundled rule (or reuses "
        "a bundled rule's id) without saying `replaces: <id>` and a `reason:`; load_rules() "
        "refuses it, so that no bundled meaning changes by accident.",
        "u/okx/rules.yaml:4: decides code 58102 as UNAVAILABLE.SERVICE, where the bundled "
        "rule okx.transfer-rate-limit decides RATE_LIMIT.REQUESTS: say replaces: ...",
    ),
    Check(
        "override",
        "warning",
        "A rule of your folder changes what a bundled rule decides (declared with "
        "`replaces:`): it has a bundled rule's id and says something else, or it outranks the "
        "bundled rule on an input the bundled rule was written for. Intended overrides are "
        "the point of a rules folder; lint lists each so that a reviewer sees them all.",
        "u/okx/rules.yaml:3: rule 'okx.mine' overrides bundled rule 'okx.transfer-rate-limit' "
        "(rules/okx/rules.yaml:12) on code 58102",
    ),
    Check(
        "ignored",
        "warning",
        "A file in a rules folder that load_rules() never reads (a catalog for a venue that "
        "has no exchange.yaml, a stray YAML file): what it says has no effect.",
        "u/acme/catalog.yaml: no exchange.yaml beside it, so load_rules() ignores it",
    ),
)

#: every check, by id
CHECKS: dict[str, Check] = {c.id: c for c in _ALL}


def severity(check: str) -> Severity:
    """The registered severity of a check (unknown ids are errors: a check must be registered)."""
    c = CHECKS.get(check)
    return c.severity if c is not None else "error"


def check_ids(text: str) -> list[str]:
    """The ids of a ``--select``/``--ignore`` value (comma-separated); unknown ids refused."""
    ids = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [i for i in ids if i not in CHECKS]
    if unknown:
        raise ArgumentValueError(
            "check",
            f"unknown lint check {', '.join(map(repr, unknown))}; the checks are: "
            f"{', '.join(CHECKS)} (exchange-normalizer lint --explain ID says what each is)",
            text,
            whole=True,
        )
    return ids


__all__ = ["CHECKS", "Check", "Severity", "check_ids", "severity"]
