"""The batch path: a log of errors in, each row classified, each distinct error once.

- ``normalize_many(records)`` and ``classify_frame(df)`` (also exported from
  ``normalizer``), in this process;
- ``classify_partition(df, spec)``: the one partition function they use, pure
  and picklable, with ``make_spec(...)`` for its plain-data ``FrameSpec``;
- ``normalizer.batch.dask.classify(ddf)`` and ``normalizer.batch.spark.classify(df)``
  (extras ``[dask]`` and ``[spark]``): the same function on a cluster;
- ``run_batch(...)``: the file batch behind ``exchange-normalizer batch`` (CSV, JSON Lines
  and Parquet, streamed in chunks).
"""

from ._frame import (
    FrameSpec,
    as_http_status,
    classify_frame,
    classify_partition,
    make_spec,
    normalize_many,
    output_columns,
)
from ._stream import BatchSummary, run_batch

__all__ = [
    "BatchSummary",
    "FrameSpec",
    "as_http_status",
    "classify_frame",
    "classify_partition",
    "make_spec",
    "normalize_many",
    "output_columns",
    "run_batch",
]
