"""The generic profile's learned evidence: the words of a message -> a subcategory.

A multinomial naive Bayes over word features (snake_case, camelCase and symbolic
names split into words, Chinese as character pairs, and adjacent word pairs),
stored as plain counts in ``rules/generic/model.json``. The trainer lives in
``normalizer.analysis.generic`` (``exchange-normalizer generic build``); this
module only scores.

Deterministic (no randomness; ties broken by name), explainable (``Evidence``
names the words that decided and their log-likelihood ratios) and abstaining:
``classify`` returns None, so the answer is UNKNOWN, when no known word is
present, when the best category's posterior is below the model's threshold, or
when too few informative words support it.

Pure: no pydantic, no YAML; the only I/O is reading the one JSON file.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections.abc import Mapping
from functools import lru_cache

from .._core.frozen import frozen

#: Text longer than this is cut before any expression sees it.
MAX_TEXT = 512
MODEL_VERSION = 1

# Linear: one alternation of simple character classes, no nested quantifiers.
# Words in ASCII letters (camelCase split into its parts), runs of CJK ideographs.
# Compiled when first used: the CJK range costs about a millisecond to compile,
# which the start-up path (a venue with rules) never needs.
_WORD_PATTERN = r"[A-Z]{2,}(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[\u3400-\u9fff]+"


@lru_cache(maxsize=1)
def _word() -> re.Pattern[str]:
    return re.compile(_WORD_PATTERN)


_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "to",
        "of",
        "for",
        "in",
        "on",
        "at",
        "by",
        "is",
        "are",
        "was",
        "be",
        "been",
        "this",
        "that",
        "it",
        "its",
        "your",
        "you",
        "or",
        "and",
        "with",
        "from",
        "as",
        "has",
        "have",
        "can",
        "will",
        "may",
        "than",
        "then",
        "please",
    }
)
# Short words that keep their meaning.
_KEEP_SHORT = frozenset({"ip", "id", "no", "not", "kyc", "api", "fok", "ioc", "tp", "sl", "qty"})


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """The features of ``text``: words, adjacent word pairs and CJK character pairs."""
    words: list[str] = []
    for m in _word().finditer(text[:MAX_TEXT]):
        w = m.group(0)
        if "\u3400" <= w[0] <= "\u9fff":
            words.extend(f"zh:{w[i : i + 2]}" for i in range(max(len(w) - 1, 1)))
            continue
        w = w.lower()
        if w in _KEEP_SHORT or (len(w) > 2 and w not in _STOP):
            words.append(_stem(w))
    pairs = [
        f"{a}_{b}"
        for a, b in itertools.pairwise(words)
        if not a.startswith("zh:") and not b.startswith("zh:")
    ]
    return words + pairs


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def spaced(name: str) -> str:
    """A symbolic name as words: ``TE_QTY_TOO_SMALL`` -> ``TE QTY TOO SMALL``,
    ``insufficientFunds`` -> ``insufficient Funds``."""
    return _CAMEL.sub(" ", name[:MAX_TEXT].replace("_", " ").replace("-", " "))


def text_of(code: str | None, message: str | None) -> str:
    """What the generic profile reads: the code when it is a word or a symbolic
    name (``qty_too_low``, ``EOrder:Insufficient funds``) as words, then the
    message."""
    parts = []
    if code and any(c.isalpha() for c in code):
        parts.append(spaced(code))
    if message and message != code:
        parts.append(spaced(message) if " " not in message[:64] else message)
    return " ".join(parts)


@frozen
class Evidence:
    """Why the model chose a subcategory: its category's posterior and the
    words that weighed most for it (log-likelihood ratio against the other
    classes, highest first)."""

    subcategory: str
    posterior: float
    words: tuple[tuple[str, float], ...]

    def describe(self) -> str:
        shown = ", ".join(f"{w} {v:+.2f}" for w, v in self.words)
        return f"model: {self.subcategory} (posterior {self.posterior:.2f}; words {shown})"


class TextModel:
    """A trained model, ready to score."""

    def __init__(self, data: Mapping[str, object]) -> None:
        if data.get("version") != MODEL_VERSION:
            raise ValueError(
                f"generic model version {data.get('version')!r} is not {MODEL_VERSION}"
            )
        classes, docs, totals, counts = (
            data["classes"],
            data["class_docs"],
            data["class_tokens"],
            data["counts"],
        )
        if not (
            isinstance(classes, list)
            and isinstance(docs, list)
            and isinstance(totals, list)
            and isinstance(counts, dict)
            and len(classes) == len(docs) == len(totals)
        ):
            raise ValueError("generic model: classes, class_docs, class_tokens and counts disagree")
        self.classes: tuple[str, ...] = tuple(str(c) for c in classes)
        self.threshold = float(data["threshold"])  # type: ignore[arg-type]
        self.alpha = float(data["alpha"])  # type: ignore[arg-type]
        self.min_words = int(data.get("min_words", 1))  # type: ignore[call-overload]
        vocab = len(counts)
        # Priors flattened (square root, or uniform: class-balanced) so that the
        # largest classes do not drown the rest.
        prior = data.get("prior", "sqrt")
        if prior not in ("sqrt", "uniform"):
            raise ValueError(f"generic model: prior {prior!r} is not 'sqrt' or 'uniform'")
        roots = [math.sqrt(float(d)) if prior == "sqrt" else 1.0 for d in docs]
        self._log_prior = [math.log(r / sum(roots)) for r in roots]
        denom = [math.log(float(t) + self.alpha * vocab) for t in totals]
        self._log_unseen = [math.log(self.alpha) - d for d in denom]
        self._log_prob: dict[str, list[float]] = {}
        for tok, per_class in counts.items():
            row = list(self._log_unseen)
            for idx, c in per_class.items():
                row[int(idx)] = math.log(float(c) + self.alpha) - denom[int(idx)]
            self._log_prob[str(tok)] = row
        self._category_of = [c.split(".", 1)[0] for c in self.classes]
        self.vocabulary = frozenset(self._log_prob)
        self._categories, self._cat_prior, self._cat_prob = _by_category(
            self._category_of, docs, totals, counts, self.alpha, prior
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TextModel:
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def classify(self, text: str) -> Evidence | None:
        """The subcategory the words of ``text`` point to, or None when the
        evidence is weak: no known word, a category posterior below the
        model's threshold, or fewer than ``min_words`` words for it."""
        evidence = self.weigh(text)
        if evidence is None or evidence.posterior < self.threshold:
            return None
        if sum(1 for _, v in evidence.words if v > 0) < self.min_words:
            return None
        return evidence

    def weigh(self, text: str) -> Evidence | None:
        """The model's best guess for ``text`` however weak (None only when it
        knows none of the words): what a result's note reports."""
        return self._weigh(text[:MAX_TEXT])

    @lru_cache(maxsize=8192)  # noqa: B019 - one model per process; the cache is the point
    def _weigh(self, text: str) -> Evidence | None:
        toks = sorted({t for t in tokens(text) if t in self._log_prob})
        if not toks:
            return None
        # The category is decided by a model of categories (each category's
        # subcategories pooled), so a category with many subcategories does not
        # win by their number; the subcategory is the best one inside it.
        k = len(self._categories)
        cat_scores = list(self._cat_prior)
        for t in toks:
            row = self._cat_prob[t]
            for j in range(k):
                cat_scores[j] += row[j]
        top = max(cat_scores)
        weights = [math.exp(s - top) for s in cat_scores]
        z = sum(weights)
        j = max(range(k), key=lambda j: (weights[j], self._categories[j]))
        category, posterior = self._categories[j], weights[j] / z
        scores = list(self._log_prior)
        n = len(self.classes)
        for t in toks:
            row = self._log_prob[t]
            for i in range(n):
                scores[i] += row[i]
        best = max(
            (i for i in range(n) if self._category_of[i] == category),
            key=lambda i: (scores[i], self.classes[i]),
        )
        contrib = []
        for t in toks:
            row = self._cat_prob[t]
            others = max(row[o] for o in range(k) if o != j) if k > 1 else 0.0
            contrib.append((t, round(row[j] - others, 2)))
        contrib.sort(key=lambda tw: (-tw[1], tw[0]))
        return Evidence(self.classes[best], round(posterior, 3), tuple(contrib[:6]))


def _by_category(
    category_of: list[str],
    docs: list[object],
    totals: list[object],
    counts: Mapping[str, Mapping[str, object]],
    alpha: float,
    prior: object,
) -> tuple[tuple[str, ...], list[float], dict[str, list[float]]]:
    """The categories' own model, pooled from their subcategories' counts:
    the categories, their log priors and each word's log likelihood per category."""
    cats = tuple(sorted(set(category_of)))
    at = {c: j for j, c in enumerate(cats)}
    k = len(cats)
    cat_docs = [0.0] * k
    cat_tokens = [0.0] * k
    for i, c in enumerate(category_of):
        cat_docs[at[c]] += float(docs[i])  # type: ignore[arg-type]
        cat_tokens[at[c]] += float(totals[i])  # type: ignore[arg-type]
    roots = [math.sqrt(d) if prior == "sqrt" else 1.0 for d in cat_docs]
    log_prior = [math.log(r / sum(roots)) for r in roots]
    vocab = len(counts)
    denom = [math.log(t + alpha * vocab) for t in cat_tokens]
    unseen = [math.log(alpha) - d for d in denom]
    prob: dict[str, list[float]] = {}
    for tok, per_class in counts.items():
        pooled = [0.0] * k
        for idx, seen in per_class.items():
            pooled[at[category_of[int(idx)]]] += float(seen)  # type: ignore[arg-type]
        prob[str(tok)] = [
            math.log(pooled[j] + alpha) - denom[j] if pooled[j] else unseen[j] for j in range(k)
        ]
    return cats, log_prior, prob
