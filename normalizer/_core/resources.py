"""Where the bundled data lives.

An installed wheel carries ``ontology/``, ``rules/`` and ``policies/`` inside the
package as ``normalizer/_data/``; a source checkout (or an editable install)
reads them from the repository's top level.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
#: The package's version (``normalizer.__version__``; pyproject.toml says the same).
VERSION = "0.1.0"


@cache
def data_dir(name: str) -> Path:
    """The folder of bundled data called ``name`` (ontology, rules, policies)."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"bundled data folder {name!r} not found next to {_PACKAGE}; the installation is incomplete"
    )
