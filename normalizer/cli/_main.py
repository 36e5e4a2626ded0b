"""The ``exchange-normalizer`` command (also ``python -m normalizer``).

    exchange-normalizer explain EXCHANGE CODE   how a code is classified and what to do
    exchange-normalizer lint [PATHS]            check rule, catalog, policy files
    exchange-normalizer coverage [--json]       documented codes: specific, generic, none
    exchange-normalizer ingest EXCHANGE PAGE... docs pages -> catalog, with the drift
    exchange-normalizer generic build|check|evaluate   the generic profile's word model
    exchange-normalizer batch INPUT -o OUT      classify a CSV, JSON Lines or Parquet log
    exchange-normalizer test                    policy tests and rule tests, as data

The package does not install a script called ``normalizer``: charset-normalizer
(which ``requests`` pulls in) installs one, and a shared name would run
whichever package was installed last. Usage lines and messages name the
program as it was invoked.

Exit status: 0 success, 1 the check found problems (lint errors, codes
without a rule), 2 a usage mistake or a file that cannot be used (missing,
malformed, unknown exchange), 130 interrupted. Errors are messages a person
can act on, never a traceback (set ``NORMALIZER_DEBUG=1`` to see one).

Each command is a module of this package with ``add_parser(sub)`` (its
arguments, ``set_defaults(func=run)``) and ``run(args) -> int``; ``COMMANDS``
lists them in the order ``--help`` shows. A command module may also set
``check`` (``check(parser, args) -> int | None``) for usage mistakes argparse
cannot see. A new command is one module and one entry in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from .._core.errors import ConfigError, NormalizerError
from .._formats.registry import current_registry, load_rules, restore_registry
from . import batch, coverage, explain, generic, ingest, lint, test
from ._common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOFTWARE,
    EXIT_USAGE,
    PROG,
    Usage,
)

#: the commands, in the order ``--help`` lists them
COMMANDS: list[ModuleType] = [explain, ingest, lint, coverage, generic, batch, test]


#: which extra brings each optional module a command may need
EXTRAS = {
    "pandas": "batch",
    "pyarrow": "batch",
    "numpy": "batch",
    "tqdm": "batch",
    "durable_rules": "supervisor",
    "redis": "supervisor",
    "dask": "dask",
    "pyspark": "spark",
}


def missing_extra(exc: ImportError) -> str:
    """What to install when an optional module is missing: the extra that brings it."""
    text = str(exc)
    if "pip install" in text:  # the message already says how
        return text
    module = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return f"{text}: a module this command needs is not installed"
    return (
        f"this command needs {module}, which is not installed: "
        f"pip install 'exchange-error-normalizer[{extra}]'"
    )


def prog_name(argv0: str | None = None) -> str:
    """The program's name as the user invoked it, for usage lines and messages."""
    name = os.path.basename(argv0 if argv0 is not None else (sys.argv[0] if sys.argv else ""))
    if name in ("", "-c", "-m"):
        return "exchange-normalizer"
    if name == "__main__.py":
        return "python -m normalizer"
    return name


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from .._core.resources import VERSION as __version__

    p = argparse.ArgumentParser(
        prog=prog or prog_name(),
        description="Normalize crypto-exchange errors and recommend what to do about them.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line; returns the exit status (argparse's own included).

    ``prog`` names the program in usage lines and messages: by default the
    name it was invoked by (``sys.argv[0]``) when ``argv`` is None, else
    ``exchange-normalizer``.
    """
    if prog is None:
        prog = prog_name() if argv is None else "exchange-normalizer"
    PROG[0] = prog
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage mistake argparse reported
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    check = getattr(args, "check", None)
    status = check(parser, args) if check is not None else None
    if status is not None:
        return int(status)
    saved = current_registry()
    try:
        for folder in getattr(args, "user_rules", None) or ():
            if not os.path.isdir(folder):
                raise Usage(
                    f"--rules-dir {folder}: no such folder; give a folder holding one folder "
                    "per venue (VENUE/rules.yaml; a new venue also needs VENUE/exchange.yaml)"
                )
            load_rules(folder)
        return int(args.func(args))
    except Usage as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (NormalizerError, ValueError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # pragma: no cover - `normalizer ... | head`
        return EXIT_OK
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ImportError as exc:  # an optional dependency this command needs is missing
        print(f"{prog}: {missing_extra(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        name = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(
            f"{prog}: cannot use{name}: {exc.strerror or exc} (check the path and that you "
            "may read it)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get("NORMALIZER_DEBUG"):
            raise
        print(
            f"{prog}: unexpected {type(exc).__name__}: {exc}. This is a bug; please report "
            "it with the command you ran (NORMALIZER_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_SOFTWARE
    finally:
        restore_registry(saved)  # main() called in-process (tests) leaves no folders behind
