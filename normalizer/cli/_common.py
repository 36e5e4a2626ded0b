"""What every command shares: exit statuses, the usage error, the program's name, paths."""

from __future__ import annotations

import argparse
import os

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_SOFTWARE, EXIT_INTERRUPTED = 0, 1, 2, 70, 130

#: the program's name as invoked (set by main()); messages begin with it
PROG = ["exchange-normalizer"]


class Usage(Exception):
    """A usage mistake a command found: printed as ``PROG: message``, exit 2."""


def shown(path: str) -> str:
    """A path relative to the working directory when it lies under it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


#: what each command module's ``add_parser(sub)`` receives
SubParsers = argparse._SubParsersAction  # the type argparse's add_subparsers() returns


def user_rules(parser: argparse.ArgumentParser) -> None:
    """``--rules-dir DIR`` (repeatable): the user's rule folders, loaded by ``main`` for the
    whole command over the bundled rules."""
    parser.add_argument(
        "--rules-dir",
        dest="user_rules",
        action="append",
        metavar="DIR",
        help="a folder of your own rules, added beside the bundled ones (repeatable; later "
        "folders outrank earlier ones, and both outrank the bundled rules)",
    )
