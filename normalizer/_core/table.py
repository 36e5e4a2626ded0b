"""The compiled rule table of one exchange and its selector: ``RuleSet``.

What the rule files compile to (``rule.py``: ``Rule``; ``documented.py``: the
catalog; ``spec.py``: the exchange's spec) is gathered here per exchange, and
``RuleSet.select`` picks the winning rule for an input by the precedence of
``precedence.py``. Load-time checks (ties that disagree, witnesses) are in
``conflicts.py``.

Rules with a code are found by the code. The code-less rules are grouped by
what the input's status, operation and transport admit (each group kept once
made), and a rule with a message condition is shown a message only when its
gate lets it (``Rule.gate``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence

from .documented import CompiledCatalog, Entry
from .literals import ascii_lowered
from .precedence import WEIGHTS, specificity
from .rule import (
    _UNSET,
    TRANSPORT_KINDS,
    Condition,
    Probe,
    Rule,
    condition_kinds,
    make_probe,
)
from .spec import Frozen
from .text import Template, fold

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "TRANSPORT_KINDS",
    "WEIGHTS",
    "CompiledCatalog",
    "Condition",
    "Entry",
    "Frozen",
    "Probe",
    "Rule",
    "RuleSet",
    "Template",
    "condition_kinds",
    "make_probe",
    "specificity",
]


_HEAD = 3


class Sieve:
    """What every rule of a code-less group needs of a message: one of the keys
    of their gates (``Rule.gate``) in the folded message, or one of their
    literals in the lowered ASCII message. A message holding none of them
    passes no rule's gate, so none of the group is tried. Indexed by word
    (``TextIndex``): a group of thousands of rules costs a lookup per word
    of the message, not a search per rule."""

    __slots__ = ("keys", "literals")

    def __init__(self, keys: Iterable[str], literals: Iterable[str]) -> None:
        from .textindex import TextIndex  # with the first group's sieve (not at start-up)

        self.keys = TextIndex((k, k) for k in dict.fromkeys(keys))
        self.literals = TextIndex((lit, lit) for lit in dict.fromkeys(literals))

    def passes(self, folded: str, lowered: str) -> bool:
        """Whether a message (folded, and lowered ASCII) holds a key or a literal."""
        return self.keys.any_in(folded) or self.literals.any_in(lowered)


def _sieve(group: Sequence[Rule]) -> Sieve | None:
    """The group's sieve; None when some rule has no gate (no message
    condition, or one that needs no literal): then every message is tried."""
    keys: list[str] = []
    literals: list[str] = []
    for rule in group:
        gate = rule.gate
        if gate is None:
            return None
        keys += gate[0]
        literals += gate[1] or ()
    return Sieve(keys, literals)


#: a group of code-less rules larger than this is narrowed through the index of
#: the rule set's gates (``GateIndex``) instead of being walked rule by rule
LARGE = 48


class GateIndex:
    """The gates (``Rule.gate``) of a rule set's code-less rules, indexed by
    word: which of them a message may pass, without trying each. Built once,
    when a large group is first narrowed (a user's folder of thousands)."""

    __slots__ = ("keys", "literals", "regexed")

    def __init__(self, rules: Sequence[Rule]) -> None:
        keys: list[tuple[str, int]] = []
        literals: list[tuple[str, int]] = []
        regexed: list[int] = []
        for i, rule in enumerate(rules):
            gate = rule.gate
            if gate is None:
                continue
            keys += [(k, i) for k in gate[0]]
            if gate[1] is not None:
                regexed.append(i)
                literals += [(lit, i) for lit in gate[1]]
        from .textindex import TextIndex  # a large group's index (not at start-up)

        self.keys = TextIndex(keys)
        self.literals = TextIndex(literals)
        #: the rules with a regex part, which a non-ASCII message always passes
        self.regexed = tuple(regexed)

    def passed(self, folded: str, lowered: str | None) -> set[int]:
        """The positions of the rules whose gate the message passes."""
        found = set(self.keys.found(folded))
        if lowered is None:
            found.update(self.regexed)
        else:
            found.update(self.literals.found(lowered))
        return found


class Group:
    """The code-less rules an input's status, operation and transport admit,
    strongest first: their positions among the rule set's code-less rules,
    those with no gate (tried on every input), and, for a small group whose
    every rule has a gate, its sieve."""

    __slots__ = ("members", "open", "positions", "rules", "sieve")

    def __init__(self, others: Sequence[Rule], positions: Sequence[int]) -> None:
        self.positions = tuple(positions)
        self.members = frozenset(self.positions)
        self.rules = tuple(others[p] for p in self.positions)
        self.open = tuple(p for p in self.positions if others[p].gate is None)
        self.sieve = _sieve(self.rules) if len(self.rules) <= LARGE else None


class RuleSet:
    """Everything needed to classify one exchange's errors.

    ``spec`` is the exchange's compiled ``exchange.yaml`` (attribute access
    over plain data), ``catalog`` its compiled catalog or None.
    """

    def __init__(
        self,
        spec: Any,
        catalog: CompiledCatalog | None,
        own: Sequence[Rule],
        common: Sequence[Rule],
        *,
        check: bool = True,
    ) -> None:
        self.name: str = spec.name
        self.spec = spec
        self.catalog = catalog
        self.rules: tuple[Rule, ...] = tuple(own) + tuple(common)
        self.by_id: Mapping[str, Rule] = {r.id: r for r in self.rules}
        self.documented_codes = catalog.documented_codes() if catalog else frozenset()
        # message -> catalog entry: built when a message is first looked up
        # (``_message_index``), since most first calls carry a known code
        self._exact: dict[str, Entry] | None = None
        self._templated: tuple[tuple[Template, Entry], ...] = ()
        self._head: dict[str, list[int]] = {}
        self._tail: dict[str, list[int]] = {}
        self._headless: list[int] = []
        # candidate lists, each sorted strongest first
        self._by_code: dict[str, list[Rule]] = {}
        other: list[Rule] = []
        for rule in sorted(self.rules, key=lambda r: r.specificity, reverse=True):
            if rule.codes is not None:
                for c in rule.codes:
                    self._by_code.setdefault(c, []).append(rule)
            else:
                other.append(rule)
        self._other = tuple(other)
        #: the strongest code-less rule's precedence (``()`` sorts below any)
        self._strongest_other = other[0].specificity if other else ()
        # (status, operation, transport) -> the code-less rules it admits, strongest first
        self._groups: dict[tuple[Any, ...], Group] = {}
        #: how many code-less rules rank above a best rule's rank -> their gates' index
        self._gates: dict[int, GateIndex] = {}
        self._cuts: dict[tuple[int, ...], int] = {}
        self.known_codes = self.documented_codes | frozenset(self._by_code)
        #: code -> what its code alone decides (``select``'s answer for any input
        #: with that code): the code's strongest rule asks nothing else of an
        #: input, and no code-less rule is as strong (ties go to the first)
        code_only = WEIGHTS["code"]  # a rule's condition bits when it names codes alone
        self.decided_by_code: dict[str | None, tuple[Any, ...]] = {
            c: rules[0].verdict
            for c, rules in self._by_code.items()
            if rules[0].specificity[1] & ~WEIGHTS["own"] == code_only
            and rules[0].specificity >= self._strongest_other
        }
        if check:
            self.check()

    def __repr__(self) -> str:
        return f"RuleSet({self.name!r}, {len(self.rules)} rules)"

    # -------------------------------------------------------------- checks
    # (load time: ``conflicts.py``)

    def check(self) -> None:
        """Refuse duplicate ids and rules that tie, overlap and disagree."""
        from .conflicts import check

        check(self)

    def witnesses(self, rule: Rule) -> list[str]:
        """Messages that the rule's message condition is meant to match."""
        from .conflicts import witnesses

        return witnesses(self, rule)

    def conflicts(self) -> list[tuple[Rule, Rule]]:
        """Pairs of this exchange's rules that tie, overlap and disagree."""
        from .conflicts import conflicts

        return conflicts(self)

    def witness_probes(self, rule: Rule) -> list[Probe]:
        """Inputs this rule is meant to decide: one per witness message (or one)."""
        from .conflicts import witness_probes

        return witness_probes(self, rule)

    def witness_probe(self, rule: Rule) -> Probe | None:
        """An input that selects this rule, or None when no witness does."""
        from .conflicts import witness_probe

        return witness_probe(self, rule)

    # ------------------------------------------------------------ matching

    def _message_index(self) -> dict[str, Entry]:
        """Exact folded texts, and templates by weight with an index on their heads."""
        exact: dict[str, Entry] = {}
        templated: list[tuple[Template, Entry]] = []
        for entry in self.catalog.entries if self.catalog else ():
            t = entry.compiled()
            if not t.recognisable:
                continue  # only its code decides
            if len(t.parts) == 1:
                exact.setdefault(t.parts[0], entry)
            else:
                templated.append((t, entry))
        templated.sort(key=lambda te: -te[0].weight)
        # a template's message starts with its first piece and ends with its last:
        # filed under the first piece's head, else the last piece's tail, else loose
        head: dict[str, list[int]] = {}
        tail: dict[str, list[int]] = {}
        headless: list[int] = []
        for i, (t, _) in enumerate(templated):
            if len(t.parts[0]) >= _HEAD:
                head.setdefault(t.parts[0][:_HEAD], []).append(i)
            elif len(t.parts[-1]) >= _HEAD:
                tail.setdefault(t.parts[-1][-_HEAD:], []).append(i)
            else:
                headless.append(i)
        # published last: another thread sees either nothing or the whole index
        self._templated, self._head, self._tail = tuple(templated), head, tail
        self._headless = headless
        self._exact = exact
        return exact

    def documented(self, message: str | None) -> Entry | None:
        """The catalog entry whose template the message fits, if any."""
        if not message:
            return None
        folded = fold(message)
        exact = self._exact
        if exact is None:
            exact = self._message_index()
        hit = exact.get(folded)
        if hit is not None:
            return hit
        found = self._head.get(folded[:_HEAD])
        tail = self._tail.get(folded[-_HEAD:])
        if tail:
            found = found + tail if found else tail
        order = sorted(found + self._headless) if found else self._headless
        templated = self._templated
        for i in order:  # strongest (most literal text) first
            template, entry = templated[i]
            if template.key in folded and template.matches(folded):
                return entry
        return None

    def _group(self, status: int | None, operation: Any, transport: str | None) -> Group:
        """The code-less rules an input with this status, operation and
        transport admits (strongest first)."""
        key = (status, operation, transport)
        grouped = self._groups.get(key)
        if grouped is None:
            others = self._other
            admitted = [i for i, r in enumerate(others) if r.admits(status, operation, transport)]
            grouped = Group(others, admitted)
            if len(self._groups) >= 1024:
                self._groups.clear()
            self._groups[key] = grouped
        return grouped

    def _narrowed(
        self, group: Group, folded: str | None, lowered: str | None, best: Rule | None
    ) -> list[Rule]:
        """The rules of a large group that can beat ``best`` and whose gate a
        message may pass (with those that have none), strongest first; for no
        message, those with none."""
        others = self._other
        cut = len(others) if best is None else self._cut(best.specificity)
        open_ = group.open[: bisect_left(group.open, cut)]  # (positions ascend)
        if folded is None:
            return [others[p] for p in open_]
        gates = self._gates.get(cut)
        if gates is None:  # the index of the rules stronger than a best: made once
            if len(self._gates) >= 64:
                self._gates.clear()
            gates = self._gates[cut] = GateIndex(others[:cut])
        found = [p for p in gates.passed(folded, lowered) if p in group.members]
        if not found:
            return [others[p] for p in open_]
        return [others[p] for p in sorted({*found, *open_})]

    def _cut(self, rank: tuple[int, ...]) -> int:
        """How many code-less rules (strongest first) rank above ``rank``."""
        cut = self._cuts.get(rank)
        if cut is None:
            others = self._other
            lo, hi = 0, len(others)
            while lo < hi:  # ranks descend along the list
                mid = (lo + hi) // 2
                if others[mid].specificity > rank:
                    lo = mid + 1
                else:
                    hi = mid
            cut = self._cuts[rank] = lo
        return cut

    def select(self, probe: Probe) -> tuple[Rule | None, Entry | None]:
        """The winning rule for a probe, and the catalog entry its message fit.

        When the probe has no code, or a code no rule or catalog knows, a
        message that fits a documented template lends the code of that entry.
        """
        code, message, status, operation, transport = probe
        entry = None
        if message is not None and (code is None or code not in self.known_codes):
            entry = self.documented(message)
            if entry is not None:
                code = entry.code
                probe = make_probe(code, message, status, operation, transport)
        folded = lowered = None  # the message is folded when a rule first needs it
        best: Rule | None = None
        # the code's rules, then the code-less ones its input admits; each sorted
        # strongest first: past a rule no stronger than the best so far, none of
        # the rest of that list can win
        by_code: Sequence[Rule] = self._by_code.get(code, ()) if code is not None else ()
        for listed in (by_code, None):
            rules: Sequence[Rule] | None = listed
            if rules is None:  # the code-less rules, unless none can beat the best
                if best is not None and best.specificity >= self._strongest_other:
                    break
                grouped = self._groups.get((status, operation, transport))
                if grouped is None:
                    grouped = self._group(status, operation, transport)
                rules = grouped.rules
                sieve = grouped.sieve
                if len(rules) > LARGE:  # only the rules whose gate the message passes
                    if folded is None and message is not None:
                        folded, lowered = fold(message), ascii_lowered(message)
                    rules = self._narrowed(grouped, folded, lowered, best)
                elif sieve is not None and message is not None:
                    # every one of them needs text: is any of it there at all?
                    if folded is None:
                        folded, lowered = fold(message), ascii_lowered(message)
                    if lowered is not None and not sieve.passes(folded, lowered):
                        break  # none is: no code-less rule can match
            for rule in rules:
                if best is not None and rule.specificity <= best.specificity:
                    break
                if rule.has_message:
                    if folded is None:
                        if message is None:
                            continue  # a message condition, and no message
                        folded, lowered = fold(message), ascii_lowered(message)
                    gate = rule._gate
                    if gate is _UNSET:
                        gate = rule.gate
                    if gate is not None:  # is the text its message condition needs there?
                        keys, literals = gate
                        for key in keys:
                            if key in folded:
                                break
                        else:
                            if literals is None:
                                continue
                            if lowered is not None:
                                for literal in literals:
                                    if literal in lowered:
                                        break
                                else:
                                    continue
                if rule.matches(probe, folded, lowered):
                    best = rule
        return best, entry
