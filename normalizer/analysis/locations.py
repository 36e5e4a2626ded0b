"""Where a rule is written, as a person can find it wherever the package was built or installed.

A bundled rule's recorded path is the file it was compiled from: on a wheel,
a build folder that no longer exists; from a checkout, a path of that
machine. So it is shown relative to the rules root, ``rules/okx/rules.yaml``
(the file's place in the repository and in the installed package's
``normalizer/_data/``). A rule of a user's folder is shown under the folder as
the user gave it (``my-rules/okx/rules.yaml``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .._formats.rules import Rule


def _under(path: str, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(folder.resolve())
    except OSError:  # pragma: no cover - a folder that vanished
        return False


def rule_file(rule: Rule, overlays: Iterable[Path] = ()) -> str:
    """The file of ``rule``: under its user folder as given, else ``rules/VENUE/FILE``."""
    for folder in overlays:
        if _under(rule.path, folder):
            rel = Path(rule.path).resolve().relative_to(folder.resolve())
            return str(folder / rel)
    head, name = os.path.split(rule.path.replace("\\", "/"))
    return f"rules/{os.path.basename(head)}/{name}"


def rule_location(rule: Rule, overlays: Iterable[Path] = ()) -> str:
    """``rule_file(rule)`` and its line: ``rules/okx/rules.yaml:12``."""
    where = rule_file(rule, overlays)
    return f"{where}:{rule.line}" if rule.line is not None else where
