"""The ``exchange-normalizer`` command line (also ``python -m normalizer``).

One module per command (``explain``, ``ingest``, ``lint``, ``coverage``,
``generic``, ``batch``, ``test``); the wiring, exit statuses and error messages are in
``_main.py``, which describes them.
"""

from ._main import COMMANDS, build_parser, main, prog_name

__all__ = ["COMMANDS", "build_parser", "main", "prog_name"]
