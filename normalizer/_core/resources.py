"""Where the bundled data lives.

An installed wheel carries ``ontology/``, ``rules/`` and ``policies/`` inside the
package as ``normalizer/_data/``; a source checkout (or an editable install)
reads them from the repository's top level.
"""

from __future__ import annotations

import os
from functools import cache

TYPE_CHECKING = False  # pathlib is not imported at start-up (see data_path)
if TYPE_CHECKING:
    from pathlib import Path

_PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
#: The package's version (``normalizer.__version__``; pyproject.toml says the same).
VERSION = "0.1.0"


@cache
def data_path(name: str) -> str:
    """The folder of bundled data called ``name``, as a string (the start-up
    path uses ``os.path``: importing ``pathlib`` costs more than the rest of it)."""
    for candidate in (
        os.path.join(_PACKAGE, "_data", name),
        os.path.join(os.path.dirname(_PACKAGE), name),
    ):
        if os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError(
        f"bundled data folder {name!r} not found next to {_PACKAGE}; the installation is incomplete"
    )


@cache
def data_dir(name: str) -> Path:
    """The folder of bundled data called ``name`` (ontology, rules, policies)."""
    from pathlib import Path

    return Path(data_path(name))
