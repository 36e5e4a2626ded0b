"""The batch path on Spark: ``classify(df)`` runs the partition function through ``mapInPandas``.

    >>> from normalizer.batch import spark as ns
    >>> out = ns.classify(df, policy="desk.yaml", rules_dir="my-rules/", seed=7)

Needs the ``[spark]`` extra (pyspark; and Java). The policy file and rules folder
are read on the driver, checked, and shipped to the Python workers inside the
pickled function, so the executors need neither file.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._core.errors import ArgumentTypeError
from .._core.frozen import frozen
from .._core.vocabulary import Operation
from ._frame import FrameSpec, classify_partition, engine_spec, output_columns


def output_schema(schema: Any) -> Any:
    """The Spark schema ``classify`` returns for an input of ``schema``: its fields,
    then ``output_columns()`` (strings; ``delay_s`` a double), all nullable."""
    types = importlib.import_module("pyspark.sql.types")
    fields = [f for f in schema.fields if f.name not in output_columns()]
    for c in output_columns():
        kind = types.DoubleType() if c == "delay_s" else types.StringType()
        fields.append(types.StructField(c, kind, True))
    return types.StructType(fields)


@frozen
class _Partitions:
    """The function ``mapInPandas`` calls: picklable, carrying only the spec."""

    spec: FrameSpec
    columns: tuple[str, ...]

    def __call__(self, frames: Iterator[Any]) -> Iterator[Any]:
        for frame in frames:
            yield classify_partition(frame, self.spec)[list(self.columns)]


def classify(
    df: Any,
    *,
    operation: Operation | str | None = None,
    idempotent: bool | None = None,
    attempt: int | None = None,
    policy: str | Path | None = None,
    rules_dir: str | Path | None = None,
    seed: int | None = None,
    unknown_exchange: str | None = None,
) -> Any:
    """A Spark DataFrame: ``df`` with ``output_columns()`` added, lazily.

    The arguments mean what they mean to ``classify_frame``; ``policy`` is a
    file and ``rules_dir`` a folder (both read now, on the driver). Each Arrow
    batch is classified by ``classify_partition``; the output schema is
    ``output_schema(df.schema)``. Give ``seed`` for delays that do not depend
    on the partitioning. A row that cannot be classified (a venue no rules
    know, an unknown operation, a yes/no or attempt cell that is neither)
    never fails the job:
    it gets the reason in ``row_error``, the words the batch CLI writes for a
    bad row (``unknown_exchange="error"``, the default everywhere);
    ``unknown_exchange="generic"`` classifies venues no rules know by the
    generic profile, ``"raise"`` fails the job at the first such row.
    """
    try:
        sql = importlib.import_module("pyspark.sql")
    except ImportError:
        raise ImportError(
            "normalizer.batch.spark needs pyspark: pip install 'exchange-error-normalizer[spark]'"
        ) from None
    if not isinstance(df, sql.DataFrame):  # a pandas frame: classify_frame() takes it
        raise ArgumentTypeError("df", "a Spark DataFrame (pandas: classify_frame)", df)
    spec = engine_spec(
        df.columns,
        operation=operation,
        idempotent=idempotent,
        attempt=attempt,
        policy=policy,
        rules_dir=rules_dir,
        seed=seed,
        unknown_exchange=unknown_exchange,
    )
    schema = output_schema(df.schema)
    return df.mapInPandas(_Partitions(spec, tuple(schema.names)), schema=schema)
