"""Benchmarks for issue #4: ``python -m bench`` from the repository root.

- ``bench.latency``: per error, ccxt's ``handle_errors`` against
  ``normalize()`` + ``recommend()``, on the same raw bodies (``bench.cases``);
- ``bench.startup``: importing the package and loading every bundled rule;
- ``bench.throughput``: the batch path on a generated log against a per-row loop.

Nothing here runs under pytest: the tests check behaviour, this measures it.
"""
