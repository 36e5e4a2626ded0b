"""Building and measuring the generic profile's word model.

``build()`` trains ``rules/generic/model.json`` from every catalog row of the
bundled venues, each labelled by its own venue's rules (the rule the registry
selects for that row's code and message, exactly what ``normalize(venue,
code=..., message=...)`` answers). ``exchange-normalizer generic build``
rewrites the file; a test checks that the committed file equals a fresh build.

``leave_one_venue_out()`` measures how well the generic profile (its rules and
a model trained without venue V) agrees with V's own rules on V's catalog rows:
per venue, the share of rows with the same category, the same write action
(``recommend(..., operation="place_order")``), and where the profile abstained.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._core.table import Probe
from .._core.text import bound
from .._engine import generic
from .._engine.normalize import Registry, normalize, registry
from .._engine.results import NormalizedError
from .._engine.textmodel import MODEL_VERSION, TextModel, text_of, tokens

#: The training settings; part of the model file, so a change shows as drift.
#: Chosen by ``calibrate()`` (leave-one-venue-out, mean write-action agreement,
#: then category agreement): alpha 0.5 beat 0.03-0.3 and 1.0; thresholds 0.25-0.35
#: tie and higher ones abstain more without gaining, so the threshold stays at 0.35
#: (UNKNOWN only when the evidence is weak); sqrt and uniform priors tie.
ALPHA = 0.5
THRESHOLD = 0.35
MIN_WORDS = 1
PRIOR = "sqrt"


@dataclass(frozen=True)
class Row:
    """One labelled catalog row."""

    venue: str
    code: str
    message: str
    label: str  # CATEGORY.SUBCATEGORY (or CATEGORY) of the venue's own rule
    kind: str = "catalog"  # "catalog" (a documented row), "example" or "why" (a rule's own text)


def training_rows(
    root: Path | None = None, exclude: Iterable[str] = (), *, with_rules: bool = True
) -> list[Row]:
    """Every catalog row of every venue under ``root`` (default: the bundled
    rules) that its venue's rules map onto a category, in a fixed order; then
    (``with_rules``) the rules' examples and ``why`` lines."""
    reg = registry() if root is None else Registry(root)
    skip = {generic.GENERIC, *exclude}
    out: list[Row] = []
    for name in reg.names:
        if name in skip:
            continue
        rs = reg.get(name)
        if rs.catalog is None:
            continue
        for entry in rs.catalog.entries:
            rule, _ = rs.select(Probe(entry.code, bound(entry.message), None, None, None))
            if rule is None or rule.category.value == "UNKNOWN":
                continue
            out.append(Row(name, entry.code, entry.message, rule.label))
    if with_rules:
        out.extend(_rule_rows(reg, skip))
    return out


def _rule_rows(reg: Registry, skip: set[str]) -> list[Row]:
    """The rules' own words as training rows: each rule's documented examples
    and its one-line ``why``, labelled by the rule. A venue's rules count as
    that venue (left out with it); the generic and common rules as themselves."""
    out: list[Row] = []
    seen: set[str] = set()
    names = [n for n in reg.names if n not in skip or n == generic.GENERIC]
    for name in names:
        for rule in reg.get(name).rules:
            if rule.id in seen or rule.category.value == "UNKNOWN" or rule.transports:
                continue
            seen.add(rule.id)
            venue = rule.exchange or name
            for example in rule.examples:
                out.append(Row(venue, "", example, rule.label, "example"))
            if rule.why:
                out.append(Row(venue, "", rule.why, rule.label, "why"))
    return out


def train(
    rows: Iterable[Row],
    *,
    alpha: float = ALPHA,
    threshold: float = THRESHOLD,
    min_words: int = MIN_WORDS,
    prior: str = PRIOR,
) -> dict[str, object]:
    """Model data (JSON-ready) from labelled rows: per class, in how many rows
    each feature occurs. Duplicate (text, label) rows count once."""
    per_class: dict[str, Counter[str]] = defaultdict(Counter)
    docs: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    for row in rows:
        text = text_of(row.code, row.message)
        key = (text.casefold(), row.label)
        if key in seen:
            continue
        seen.add(key)
        toks = set(tokens(text))
        if not toks:
            continue
        per_class[row.label].update(toks)
        docs[row.label] += 1
    classes = sorted(per_class)
    index = {c: i for i, c in enumerate(classes)}
    vocabulary = sorted({t for c in classes for t in per_class[c]})
    counts = {
        tok: {str(index[c]): per_class[c][tok] for c in classes if per_class[c][tok]}
        for tok in vocabulary
    }
    return {
        "version": MODEL_VERSION,
        "alpha": alpha,
        "threshold": threshold,
        "min_words": min_words,
        "prior": prior,
        "classes": classes,
        "class_docs": [docs[c] for c in classes],
        "class_tokens": [sum(per_class[c].values()) for c in classes],
        "counts": counts,
    }


def dumps(model: dict[str, object]) -> str:
    """The model as the stored text: sorted keys, deterministic."""
    return json.dumps(model, sort_keys=True, ensure_ascii=False, indent=0) + "\n"


def model_path(root: Path | None = None) -> Path:
    return (root if root is not None else registry().root) / generic.GENERIC / generic.MODEL_FILE


def build(root: Path | None = None, *, write: bool = True) -> str:
    """Train on every bundled venue and (by default) write the model file;
    returns the model's text."""
    text = dumps(train(training_rows(root)))
    if write:
        model_path(root).write_text(text, encoding="utf-8")
    return text


@dataclass(frozen=True)
class VenueScore:
    venue: str
    rows: int
    category: float  # share of rows whose category agrees with the venue's rules
    write_action: float  # share whose write action (place_order, attempt 1) agrees
    abstained: float  # share answered UNKNOWN
    by_rule: float  # share decided by a generic/common rule (not the model)


def _action(err: NormalizedError) -> str:
    from .._engine.recommend import recommend

    return str(recommend(err, operation="place_order", attempt=1).action.value)


def classify_with(
    model: TextModel | None, rows: Sequence[Row]
) -> list[tuple[Row, NormalizedError, NormalizedError]]:
    """``(row, the venue's answer, the generic answer)`` for each row, the
    generic profile using ``model``."""
    out = []
    with generic.using_model(model):
        for row in rows:
            own = normalize(row.venue, code=row.code, message=row.message)
            gen = normalize(generic.GENERIC, code=row.code, message=row.message)
            out.append((row, own, gen))
    return out


def _venues(rows: Sequence[Row]) -> list[str]:
    return sorted({r.venue for r in rows if r.kind == "catalog"})


def leave_one_venue_out(
    root: Path | None = None, settings: dict[str, Any] | None = None
) -> list[VenueScore]:
    """For each venue V: train without V, classify V's rows generically,
    compare with V's own rules."""
    rows = training_rows(root)
    settings = settings or {}
    scores = []
    for v in _venues(rows):
        model = TextModel(train((r for r in rows if r.venue != v), **settings))
        mine = [r for r in rows if r.venue == v and r.kind == "catalog"]
        triples = classify_with(model, mine)
        n = len(triples)
        cat = sum(own.category == gen.category for _, own, gen in triples)
        act = sum(_action(own) == _action(gen) for _, own, gen in triples)
        unk = sum(gen.category.value == "UNKNOWN" for _, _, gen in triples)
        rule = sum(
            gen.rule_id is not None and gen.rule_id != generic.MODEL_ID for _, _, gen in triples
        )
        scores.append(VenueScore(v, n, cat / n, act / n, unk / n, rule / n))
    return scores


GRID: tuple[dict[str, Any], ...] = tuple(
    {"alpha": a, "threshold": t} for a in (0.1, 0.5, 1.0) for t in (0.25, 0.35, 0.5)
)


def calibrate(
    root: Path | None = None, grid: Sequence[dict[str, Any]] = GRID
) -> list[tuple[dict[str, Any], float, float]]:
    """Each setting of ``grid`` with its leave-one-venue-out mean write-action
    and category agreement, best first (ties: the earlier setting)."""
    out = []
    for i, settings in enumerate(grid):
        scores = leave_one_venue_out(root, settings)
        act = sum(s.write_action for s in scores) / len(scores)
        cat = sum(s.category for s in scores) / len(scores)
        out.append((i, settings, round(act, 4), round(cat, 4)))
    out.sort(key=lambda x: (-x[2], -x[3], x[0]))
    return [(s, a, c) for _, s, a, c in out]


def confusion(root: Path | None = None) -> dict[tuple[str, str], int]:
    """Leave-one-venue-out pairs (venue's category, generic category) -> rows, all venues."""
    rows = training_rows(root)
    out: Counter[tuple[str, str]] = Counter()
    for v in _venues(rows):
        model = TextModel(train(r for r in rows if r.venue != v))
        mine = [r for r in rows if r.venue == v and r.kind == "catalog"]
        for _, own, gen in classify_with(model, mine):
            out[(own.category.value, gen.category.value)] += 1
    return dict(out)
