"""Each distinct row's answer, kept across the chunks of the batch command's fast path."""

from __future__ import annotations

from typing import Any

from ..batch import _frame, _signatures

#: distinct rows whose classification is kept across chunks, at most
MEMO_ROWS = 1_000_000


def python_texts(values: list[Any]) -> list[str | None]:
    """Each value as the general path's CSV writer writes it (``str``: ``2.0``,
    ``True``), a missing one (None, NaN) as None."""
    return [None if v is None or v != v else str(v) for v in values]


class Answers:
    """Each distinct row's classification, kept across chunks: a log repeats few distinct
    errors, so a chunk asks the partition function only about the rows no earlier chunk
    had (``classify_frame`` on the whole log classifies each distinct row once, too).

    A chunk's distinct rows are found by ``signatures``, as ``classify_frame`` finds
    them; each distinct cell gets a number that holds across chunks (its type is part
    of it, as in ``signatures``; a missing cell is -1), so a row is known by its
    numbers. The answers are kept column by column, and a chunk takes its rows' answers
    with one numpy gather per column. Bounded: past ``MEMO_ROWS`` distinct rows it
    starts afresh."""

    def __init__(self, spec: Any, absent: set[str]) -> None:
        self.spec = spec
        self.absent = absent
        self.columns = [*_frame.output_columns(), "delay_text"]
        self._reset()

    def _reset(self) -> None:
        self.cells: dict[str, dict[Any, int]] = {}  # per field: a cell's number
        self.known: dict[tuple[int, ...], int] = {}  # a row's numbers -> its answers' place
        self.answers: list[list[Any]] = [[] for _ in self.columns]
        self.arrays: list[Any] = []  # ``answers`` as object arrays, while no answer is added

    def _numbers(self, field: str, values: list[Any]) -> list[int]:
        pd = _frame._pandas()
        numbers = self.cells.setdefault(field, {})
        out = []
        for v in values:
            key = (
                None
                if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                else (type(v), v)
            )
            out.append(-1 if key is None else numbers.setdefault(key, len(numbers)))
        return out

    def classify(self, fields: Any) -> tuple[Any, dict[str, Any]]:
        """Each row's distinct-row number, and the added columns per distinct row as
        object arrays (missing: None); ``delay_s`` also as the text Python writes for it
        (``delay_text``)."""
        import numpy as np

        pd = _frame._pandas()
        n = len(fields)
        names = [c for c in fields.columns if c not in self.absent]
        if names:
            signature, codes, distinct = _signatures.signatures(pd, np, [fields[c] for c in names])
            k = len(codes[0])
        else:  # no field the log gives (every row is reported aside): one distinct row
            signature, codes, distinct = np.zeros(n, dtype=np.int64), [], []
            k = 1 if n else 0
        if len(self.known) + k > MEMO_ROWS:
            self._reset()
        per_field = [
            np.asarray([*self._numbers(name, values), -1], dtype=np.int64)[in_signature]
            for name, values, in_signature in zip(names, distinct, codes, strict=True)
        ]  # code -1 (missing) reads the last entry
        keys = list(zip(*(c.tolist() for c in per_field), strict=True)) if names else [()] * k
        place = [self.known.get(key, -1) for key in keys]
        new = [i for i, p in enumerate(place) if p < 0]
        if new:
            first = np.empty(k, dtype=np.int64)
            first[signature[::-1]] = np.arange(n)[::-1]  # each distinct row's first row
            done = _frame.classify_partition(fields.iloc[first[new]], self.spec)
            cells = done[self.columns[:-1]].astype(object)
            cells = cells.where(cells.notna(), None)
            start = len(self.answers[0])
            for j, column in enumerate(self.columns[:-1]):
                self.answers[j].extend(cells[column].tolist())
            self.answers[-1].extend(python_texts(cells["delay_s"].tolist()))
            for offset, i in enumerate(new):
                self.known[keys[i]] = place[i] = start + offset
            self.arrays = []
        if not self.arrays:
            for answers in self.answers:
                array = np.empty(len(answers), dtype=object)
                array[:] = answers
                self.arrays.append(array)
        rows = np.asarray(place, dtype=np.int64)
        out = {c: array[rows] for c, array in zip(self.columns, self.arrays, strict=True)}
        return signature, out
