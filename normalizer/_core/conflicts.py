"""Load-time checks of a rule set: duplicate ids, and rules that tie, overlap and disagree.

Two rules of one exchange that tie on precedence (``precedence.py``), can
match the same input, and disagree on the category are refused when the
rules compile. Whether two message conditions can match the same input is
decided on witnesses: each rule's examples, its templates and the catalog
messages of its codes. ``witness_probe`` finds an input a rule decides (the
linter's "reached by no input" check).

None of this runs on the engine's hot path (``table.RuleSet.select``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .errors import Problem, RuleFileError
from .literals import ascii_lowered
from .rule import Probe, Rule
from .text import bound, fold
from .textindex import TextIndex

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

    #: ``table.RuleSet`` (which calls these checks: named here without an import)
    RuleSet = Any


def check(rs: RuleSet) -> None:
    """Refuse duplicate ids and rules that tie, overlap and disagree."""
    problems: list[Problem] = []
    seen: dict[str, Rule] = {}
    for rule in rs.rules:
        if rule.id in seen:
            other = seen[rule.id]
            problems.append(
                Problem(
                    rule.path,
                    rule.line,
                    "id",
                    f"{rule.id!r} is also defined at {other.path}:{other.line}",
                )
            )
        seen[rule.id] = rule
    for a, b in conflicts(rs):
        problems.append(
            Problem(
                b.path,
                b.line,
                "when",
                f"rule {b.id!r} ({b.label}) and rule {a.id!r} ({a.label}, {a.path}:{a.line}) "
                "can match the same input with the same precedence; make one more specific "
                "or give one a priority",
            )
        )
    if problems:
        raise RuleFileError(problems)


def witnesses(rs: RuleSet, rule: Rule) -> list[str]:
    """Messages that the rule's message condition is meant to match."""
    out = list(rule.examples)
    out += [t.fill(["x" * 3] * len(t.source)) for t in rule.templates]
    if rule.codes is not None and rs.catalog is not None:
        out += [e.message for e in rs.catalog.entries if e.code in rule.codes]
    return [m for m in out if rule.message_matches(m)]


#: rules tying on precedence, up to this many, are compared pair by pair;
#: more (a user's folder of thousands of message rules) through an index
PAIRWISE = 64


def conflicts(rs: RuleSet) -> list[tuple[Rule, Rule]]:
    """Pairs of this exchange's rules that tie, overlap and disagree."""
    groups: dict[tuple[int, ...], list[Rule]] = {}
    for rule in rs.rules:
        groups.setdefault(rule.specificity, []).append(rule)
    found = []
    for rules in groups.values():
        if len({(r.category, r.subcategory) for r in rules}) < 2:
            continue  # they all agree
        pairs = _all_pairs(rules) if len(rules) <= PAIRWISE else _candidate_pairs(rs, rules)
        for a, b in pairs:
            if (a.category, a.subcategory) != (b.category, b.subcategory) and _overlap(rs, a, b):
                found.append((a, b))
    return found


def _all_pairs(rules: list[Rule]) -> Iterator[tuple[Rule, Rule]]:
    for i, a in enumerate(rules):
        for b in rules[i + 1 :]:
            yield a, b


def _candidate_pairs(rs: RuleSet, rules: list[Rule]) -> list[tuple[Rule, Rule]]:
    """The pairs of ``rules`` (in their order) whose messages may overlap: a
    rule whose message condition needs no literal (or that has none) with
    every other; two message rules when a witness of one passes the other's
    gate (``Rule.gate``: a message it matches always does), found through an
    index of the gates' texts (``TextIndex``) instead of trying every pair."""
    order = {id(r): i for i, r in enumerate(rules)}
    gated = [r for r in rules if r.gate is not None]
    keys = TextIndex((k, r) for r in gated for k in r.gate[0])  # type: ignore[index]
    literals = TextIndex((lit, r) for r in gated for lit in r.gate[1] or ())  # type: ignore[index]
    regex_rules = [r for r in gated if r.gate[1] is not None]  # type: ignore[index]
    pairs: set[tuple[int, int]] = set()

    def add(a: Rule, b: Rule) -> None:
        i, j = order[id(a)], order[id(b)]
        if i != j:
            pairs.add((i, j) if i < j else (j, i))

    for a in rules:
        if a.gate is None:
            for b in rules:
                add(a, b)
            continue
        for w in witnesses(rs, a):
            message = bound(w)
            for b in keys.found(fold(message)):
                add(a, b)
            lowered = ascii_lowered(message)
            if lowered is None:  # a non-ASCII message passes every regex part of a gate
                for b in regex_rules:
                    add(a, b)
            else:
                for b in literals.found(lowered):
                    add(a, b)
    return [(rules[i], rules[j]) for i, j in sorted(pairs)]


def _overlap(rs: RuleSet, a: Rule, b: Rule) -> bool:
    wa, wb = a.when, b.when
    if a.codes is not None and b.codes is not None and not (a.codes & b.codes):
        return False
    if (
        wa.code_range
        and wb.code_range
        and (wa.code_range[1] < wb.code_range[0] or wb.code_range[1] < wa.code_range[0])
    ):
        return False
    if a.statuses is not None and b.statuses is not None and not (a.statuses & b.statuses):
        return False
    if (
        wa.http_status_range
        and wb.http_status_range
        and (
            wa.http_status_range[1] < wb.http_status_range[0]
            or wb.http_status_range[1] < wa.http_status_range[0]
        )
    ):
        return False
    if a.operations is not None and b.operations is not None and not (a.operations & b.operations):
        return False
    if a.transports is not None and b.transports is not None and not (a.transports & b.transports):
        return False
    if a.has_message and b.has_message:
        same = {t.source.casefold() for t in a.templates} & {
            t.source.casefold() for t in b.templates
        }
        same |= {r.pattern for r in a.regexes} & {r.pattern for r in b.regexes}
        if (
            not same
            and not any(b.message_matches(m) for m in witnesses(rs, a))
            and not any(a.message_matches(m) for m in witnesses(rs, b))
        ):
            return False
    return True


def witness_probes(rs: RuleSet, rule: Rule) -> list[Probe]:
    """Inputs this rule is meant to decide: one per witness message (or one)."""
    w = rule.when
    codes: Sequence[str | None] = [None]
    if rule.codes is not None:
        codes = [*sorted(rule.codes)]
    elif w.code_range is not None:
        lo, hi = w.code_range
        codes = [
            next(
                (
                    str(n)
                    for n in range(lo, min(hi, lo + 100_000) + 1)
                    if str(n) not in rs.known_codes
                ),
                str(lo),
            )
        ]
    messages: list[str | None] = [None]
    if rule.has_message:
        messages = list(dict.fromkeys(witnesses(rs, rule))) or [None]
    status = None
    if rule.statuses is not None:
        status = min(rule.statuses)
    elif w.http_status_range is not None:
        status = w.http_status_range[0]
    operation = sorted(rule.operations)[0] if rule.operations else None
    transport = sorted(rule.transports)[0] if rule.transports else None
    return [
        Probe(code, bound(m) if m else None, status, operation, transport)
        for code in codes
        for m in messages
    ]


def witness_probe(rs: RuleSet, rule: Rule) -> Probe | None:
    """An input that selects this rule, or None when no witness does.

    None means the rule is shadowed by stronger rules for every input it
    was written for (or, with a message condition, has no example).
    """
    for probe in witness_probes(rs, rule):
        if rs.select(probe)[0] is rule:
            return probe
    return None
