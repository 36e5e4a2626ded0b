"""The batch path on Dask: ``classify(ddf)`` runs the partition function on every partition.

    >>> from normalizer.batch import dask as nd
    >>> out = nd.classify(ddf, policy="desk.yaml", rules_dir="my-rules/", seed=7)
    >>> out.compute()

Needs the ``[dask]`` extra (``dask[distributed]``). The policy file and rules
folder are read here, checked, and shipped to the workers as data inside the
task graph, so the workers need neither file.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .._core.errors import ArgumentTypeError
from .._core.vocabulary import Operation
from ._frame import classify_partition, engine_spec, output_columns


def output_meta(meta: Any) -> Any:
    """The empty frame ``classify`` returns for an input described by ``meta``:
    the input's columns, then ``output_columns()`` (text as object, ``delay_s``
    as float64)."""
    pd = importlib.import_module("pandas")
    added = {
        c: pd.Series([], dtype="float64" if c == "delay_s" else object) for c in output_columns()
    }
    return meta.iloc[:0].assign(**added)


def classify(
    ddf: Any,
    *,
    operation: Operation | str | None = None,
    idempotent: bool | None = None,
    attempt: int | None = None,
    policy: str | Path | None = None,
    rules_dir: str | Path | None = None,
    seed: int | None = None,
    unknown_exchange: str | None = None,
) -> Any:
    """A dask DataFrame: ``ddf`` with ``output_columns()`` added, lazily.

    The arguments mean what they mean to ``classify_frame``; ``policy`` is a
    file and ``rules_dir`` a folder (both read now). Each partition is
    classified by ``classify_partition``, so the rows get what
    ``classify_frame`` gives them, each distinct error classified once per
    partition. Give ``seed`` for delays that do not depend on the partitioning.
    A row that cannot be classified (a venue no rules know, an unknown
    operation, a yes/no or attempt cell that is neither) never fails the job:
    it gets the reason in ``row_error``, the words the batch CLI writes for a
    bad row (``unknown_exchange="error"``, the default everywhere);
    ``unknown_exchange="generic"`` classifies venues no rules know by the
    generic profile, ``"raise"`` fails the job at the first such row.
    """
    try:
        dd = importlib.import_module("dask.dataframe")
    except ImportError:
        raise ImportError(
            "normalizer.batch.dask needs dask: pip install 'exchange-error-normalizer[dask]'"
        ) from None
    if not isinstance(ddf, dd.DataFrame):  # a pandas frame: classify_frame() takes it
        raise ArgumentTypeError("ddf", "a dask DataFrame (pandas: classify_frame)", ddf)
    spec = engine_spec(
        ddf.columns,
        operation=operation,
        idempotent=idempotent,
        attempt=attempt,
        policy=policy,
        rules_dir=rules_dir,
        seed=seed,
        unknown_exchange=unknown_exchange,
    )
    return ddf.map_partitions(classify_partition, spec, meta=output_meta(ddf._meta))
