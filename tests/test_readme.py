"""The README stays true: every command and snippet in it runs as written.

Every fenced block is extracted and checked:

- ``python`` blocks run, in order, in one namespace per block, from a
  temporary folder holding the ``yaml`` block the README says to save as
  ``desk.yaml``; the values their comments promise are checked where the
  comment is an exact value;
- ``console``/``text`` blocks with ``$ exchange-normalizer ...`` lines run that
  command (as ``python -m normalizer``, from the repository) and must print
  the lines shown (a ``...`` line stands for any lines; the jittered delay
  ``after 1.23s`` may differ);
- ``sh`` blocks: the project's own commands run (``exchange-normalizer``,
  ``python -m bench --help``, ``jupyter execute --help``); the installs must
  install from the clone (``.``), never from a package index; commands with
  placeholders (``EXCHANGE``) are checked against the command's ``--help``.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import normalizer

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
TEXT = README.read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
BLOCKS = [
    (m.group(1), m.group(2), TEXT.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(TEXT)
]
PROGRAM = "exchange-normalizer"
#: the maintainer's walk-through (adding a venue), run on its own in an empty folder
WALK_START = TEXT.index("### Adding a venue")
WALK_END = TEXT.index("\n### ", WALK_START + 1)


def _in_walkthrough(offset: int) -> bool:
    return WALK_START <= offset < WALK_END


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    return env


def _run(argv: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter and the README's own commands
        argv, capture_output=True, text=True, cwd=cwd, env=_env(), timeout=300, check=False
    )


def _ours(command: str) -> list[str]:
    """``exchange-normalizer ARGS`` -> this interpreter's ``-m normalizer ARGS``."""
    argv = shlex.split(command)
    name = Path(argv[0]).name
    assert name == PROGRAM, command
    return [sys.executable, "-m", "normalizer", *argv[1:]]


def test_the_first_lines_are_the_two_commands() -> None:
    lines = TEXT.splitlines()
    assert lines[0] == "```sh"
    assert lines[3] == "```"
    main, tests = lines[1], lines[2]
    assert ".venv/bin/pip install '.[supervisor]' &&" in main  # the supervisor's extra included
    assert main.endswith(f".venv/bin/{PROGRAM} explain okx 58102")
    assert ".venv/bin/pip install '.[test]' &&" in tests
    assert tests.endswith("pytest")


def test_the_first_command_runs() -> None:
    command = TEXT.splitlines()[1].split("&&")[-1].strip()
    done = _run(_ours(command))
    assert done.returncode == 0, done.stderr
    assert "category:       RATE_LIMIT" in done.stdout


def test_the_readme_leads_with_a_name_no_other_package_uses() -> None:
    """charset-normalizer installs `normalizer`: no command line may begin with it."""
    bare = re.findall(
        r"(?m)^(?:\$ |\| `)?normalizer (?:explain|lint|coverage|ingest|batch|test)", TEXT
    )
    assert bare == []


def test_relative_links_and_images_exist() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)\)", TEXT)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert any(t.endswith(".png") for t in local)
    missing = [t for t in local if not (README.parent / t).exists()]
    assert missing == []


# ------------------------------------------------------------------ python


def _saved_files() -> dict[str, str]:
    """Blocks the README says to save: "Saved as `NAME`:" right before the block."""
    out = {}
    for m in FENCE.finditer(TEXT):
        if _in_walkthrough(m.start()):  # written as the walk-through goes
            continue
        before = TEXT[max(0, m.start() - 200) : m.start()]
        saved = re.search(r"[Ss]aved as `([^`]+)`:\s*$", before)
        if saved:
            out[saved.group(1)] = m.group(2)
    return out


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only loopback (the test's own Redis server) may be reached."""
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        if not (isinstance(address, tuple) and address[0] in LOOPBACK):
            raise OSError("the README test does not use the network")
        connect(sock, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK:
            raise OSError("the README test does not use the network")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


PYTHON = [(code, line) for kind, code, line in BLOCKS if kind == "python"]


@pytest.mark.parametrize(("code", "line"), PYTHON, ids=[f"line-{line}" for _, line in PYTHON])
def test_every_python_snippet_runs_as_written(
    code: str,
    line: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if "redis://127.0.0.1:6379/0" in code:  # the fleet example: our own real Redis server
        code = code.replace("redis://127.0.0.1:6379/0", request.getfixturevalue("redis_url"))
    if "import ccxt" in code:
        pytest.importorskip("ccxt")
    if "Supervisor(" in code:
        pytest.importorskip("durable.engine")  # hidden by conftest when it cannot import
    if "pyspark" in code:  # Spark's Python workers import this checkout, from any folder
        pytest.importorskip("pyspark")
        paths = [str(README.parent), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p and p != "."))
    if "distributed import" in code:
        pytest.importorskip("distributed")
    for name, content in _saved_files().items():
        (tmp_path / name).write_text(content)
    monkeypatch.chdir(tmp_path)
    _no_network(monkeypatch)
    scope: dict[str, object] = {"__name__": "readme"}
    lines = code.splitlines()
    promise = re.compile(r"#\s+(\"[^\"]*\"|-?\d+(?:\.\d+)?|True|False)\s*$")
    # statement by statement, so that `expr   # "value"` is checked where it stands
    for node in ast.parse(code).body:
        where = f"README.md:{line + node.lineno}"
        exec(compile(ast.Module([node], []), where, "exec"), scope)  # noqa: S102 - README code
        m = promise.search(lines[(node.end_lineno or node.lineno) - 1])
        if isinstance(node, ast.Expr) and m:
            got = eval(compile(ast.Expression(node.value), where, "eval"), scope)  # noqa: S307
            assert got == ast.literal_eval(m.group(1)), f"{where}: {lines[node.lineno - 1]}"


def test_the_quick_start_does_what_it_says() -> None:
    scope: dict[str, object] = {}
    exec(compile(PYTHON[0][0], "README quick start", "exec"), scope)  # noqa: S102
    rec = scope["rec"]
    assert isinstance(rec, normalizer.Recommendation)
    assert (rec.action, rec.precondition) == (
        normalizer.Action.QUERY_THEN_RETRY,
        normalizer.Precondition.QUERY_ORDER_STATUS,
    )


def test_the_policy_snippet_uses_the_desk_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (code,) = [c for c, _ in PYTHON if 'policy="desk.yaml"' in c]
    (tmp_path / "desk.yaml").write_text(_saved_files()["desk.yaml"])
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(code, "README policy", "exec"), scope)  # noqa: S102
    assert scope["rec"].policy_rule_id == "desk:okx-rate-limit"  # type: ignore[attr-defined]


# ---------------------------------------------------------------- console


def _sessions(walkthrough: bool = False) -> list[tuple[int, str, list[str]]]:
    """(line, command, expected output lines) of every ``$ exchange-normalizer`` line
    outside the walk-through (inside it, with ``walkthrough``)."""
    out = []
    for m in FENCE.finditer(TEXT):
        kind, code = m.group(1), m.group(2)
        start = TEXT.count("\n", 0, m.start()) + 1
        if kind not in ("console", "text") or _in_walkthrough(m.start()) != walkthrough:
            continue
        lines = code.splitlines()
        for i, text in enumerate(lines):
            if text.startswith(f"$ {PROGRAM} "):
                expected = []
                for following in lines[i + 1 :]:
                    if following.startswith("$ "):
                        break
                    expected.append(following)
                out.append((start + 1 + i, text[2:], expected))
    return out


SESSIONS = _sessions()
_DELAY = re.compile(r"after \d+\.\d+s")


def _matches(expected: list[str], got: list[str]) -> bool:
    """Expected lines appear in order; ``...`` skips any number of lines."""
    pos = 0
    skipping = False
    for want in expected:
        if want == "...":
            skipping = True
            continue
        want = _DELAY.sub("after Xs", want)
        while pos < len(got) and _DELAY.sub("after Xs", got[pos]) != want:
            if not skipping:
                return False
            pos += 1
        if pos == len(got):
            return False
        pos += 1
        skipping = False
    return True


def test_there_are_console_sessions() -> None:
    commands = {shlex.split(c)[1] for _, c, _ in SESSIONS + _sessions(walkthrough=True)}
    assert {"explain", "lint", "coverage", "test", "ingest"} <= commands


def test_the_walkthrough_adds_a_venue_from_its_docs_page_to_full_coverage(
    tmp_path: Path,
) -> None:
    """The maintainer's walk-through, in an empty folder, in order: each file it says to
    save is saved when it comes, each command prints what the README shows. Only
    ``ingest`` may exit 1, and only where the README shows codes without a rule."""
    walk = [m for m in FENCE.finditer(TEXT) if _in_walkthrough(m.start())]
    sessions = {line: (command, expected) for line, command, expected in _sessions(True)}
    ran = []
    for m in walk:
        start = TEXT.count("\n", 0, m.start()) + 1
        before = TEXT[max(0, m.start() - 300) : m.start()]
        saved = re.search(r"[Ss]aved as `([^`]+)`:\s*$", before)
        if saved:
            target = tmp_path / saved.group(1)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(m.group(2))
            continue
        assert m.group(1) == "console", f"README.md:{start}: a block the walk-through skips"
        for line in sorted(n for n in sessions if start < n <= start + m.group(2).count("\n")):
            command, expected = sessions[line]
            done = _run(_ours(command), cwd=tmp_path)
            allowed = {0, 1} if any(x.startswith("codes without a rule") for x in expected) else {0}
            assert done.returncode in allowed, f"README.md:{line}: $ {command}\n{done.stderr}"
            assert _matches(expected, done.stdout.splitlines()), (
                f"README.md:{line}: $ {command}\n" + done.stdout
            )
            ran.append(shlex.split(command)[1])
    assert ran[0] == "ingest"
    assert {"lint", "coverage", "test", "explain"} <= set(ran)
    coverage = next(c for _, (c, _) in sorted(sessions.items()) if " coverage " in f" {c} ")
    assert "3 (100%)" in _run(_ours(coverage), cwd=tmp_path).stdout


@pytest.mark.parametrize(
    ("line", "command", "expected"), SESSIONS, ids=[f"line-{s[0]}" for s in SESSIONS]
)
def test_every_console_session_prints_what_the_readme_shows(
    line: int, command: str, expected: list[str]
) -> None:
    done = _run(_ours(command))
    assert done.returncode == 0, done.stderr
    got = done.stdout.splitlines()
    assert _matches(expected, got), f"README.md:{line}: $ {command}\n" + done.stdout


# --------------------------------------------------------------------- sh

SH = [
    (line + 1 + i, cmd)
    for kind, code, line in BLOCKS
    if kind == "sh"
    for i, cmd in enumerate(code.splitlines())
    if cmd.strip()
]


@pytest.mark.parametrize(("line", "command"), SH, ids=[f"line-{s[0]}" for s in SH])
def test_every_shell_command_is_ours_and_runs(line: int, command: str) -> None:
    command = command.split("  #")[0].strip()
    for part in (p.strip() for p in command.split("&&")):
        argv = shlex.split(part)
        tool = Path(argv[0]).name
        if (tool in ("pip", "python3") and "install" in argv) or tool == "python3":
            # installs from the clone, never from a package index
            if "install" in argv:
                targets = [a for a in argv[argv.index("install") + 1 :] if not a.startswith("-")]
                assert targets, part
                assert all(t == "." or t.startswith(".[") for t in targets), f"line {line}: {part}"
            continue
        if tool == "pytest":
            continue  # this very run
        if tool == PROGRAM:
            if re.search(r"\b[A-Z][A-Z_]{2,}\b", part):  # placeholders: the options exist
                help_text = _run([*_ours(part.split()[0] + " " + argv[1]), "--help"]).stdout
                for option in re.findall(r"--[a-z-]+", part):
                    assert option in help_text, f"line {line}: {option}"
                continue
            done = _run(_ours(part))
            assert done.returncode == 0, f"line {line}: {part}\n{done.stderr}"
            continue
        if tool == "python" and argv[1:3] == ["-m", "bench"]:
            done = _run([sys.executable, "-m", "bench", "--help"])
            assert done.returncode == 0, done.stderr
            for option in [a for a in argv if a.startswith("--")]:
                assert option in done.stdout, f"line {line}: {option}"
            continue
        if tool == "jupyter":
            assert argv[1] == "execute", "jupyter nbconvert is not installed; jupyter execute is"
            jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent))
            if jupyter is None:
                pytest.skip("jupyter is not installed here")
            done = _run([jupyter, "execute", "--help"])
            assert done.returncode == 0, done.stderr
            for option in [a for a in argv if a.startswith("--")]:
                assert option in done.stdout
            notebook = REPO / "notebooks" / argv[-1]
            assert notebook.is_file(), f"line {line}: {notebook}"
            continue
        raise AssertionError(f"README.md:{line}: a command this test does not know: {part}")


# ------------------------------------------- pointers: commands and files exist (issue 26)

RULES_README = REPO / "rules" / "README.md"
#: a path into the repository, as docs and comments name one
_PATH = re.compile(
    r"(?<![\w./-])((?:normalizer|tests|bench|notebooks|policies|ontology|rules)/[\w./-]*[\w/])"
)
_COMMAND = re.compile(rf"{PROGRAM} ([a-z][a-z-]*)((?: [^`|\n]*)?)")


def _subcommands() -> dict[str, str]:
    """Each subcommand's --help text."""
    from normalizer.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return {name: p.format_help() for name, p in sub.choices.items()}  # type: ignore[union-attr]


def _placeholder(path: str) -> bool:
    """``rules/EXCHANGE/catalog.yaml``, ``rules/VENUE/...``: a pattern, not a file."""
    return bool(re.search(r"[A-Z]{3,}|\*|my-rules", path))


def _missing_paths(text: str) -> list[str]:
    out = []
    for m in _PATH.finditer(text):
        path = m.group(1).rstrip("/.")
        if _placeholder(path) or path.startswith("normalizer/_data"):  # the wheel's folder
            continue
        if not (REPO / path).exists():
            out.append(path)
    return out


@pytest.mark.parametrize("doc", [README, RULES_README], ids=["README", "rules-README"])
def test_the_readmes_name_only_commands_options_and_files_that_exist(doc: Path) -> None:
    """Every `exchange-normalizer CMD --option` the README and rules/README.md name is a
    command with that option, no command is spelled with the bare `normalizer` (the name
    charset-normalizer owns), and every file they name exists."""
    text = doc.read_text(encoding="utf-8")
    helps = _subcommands()
    for m in _COMMAND.finditer(text):
        name, rest = m.group(1), m.group(2)
        assert name in helps, f"{doc.name}: `{m.group(0)}`: no command {name!r}"
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
            assert option in helps[name], f"{doc.name}: `{m.group(0)}`: {name} has no {option}"
    bare = re.findall(r"(?<![\w./-])normalizer (?:explain|lint|coverage|ingest|batch|test)\b", text)
    assert bare == [], f"{doc.name}: commands must be spelled {PROGRAM}"
    assert _missing_paths(text) == []


def _sources() -> list[Path]:
    """The repository's code, data and docs (not the generated catalogs or docs pages)."""
    done = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("not a git checkout")
    out = []
    for name in done.stdout.split():
        path = REPO / name
        if path.suffix not in (".py", ".md", ".yaml", ".toml") or not path.is_file():
            continue
        if name.startswith("rules/") and ("/docs/" in name or name.endswith("catalog.yaml")):
            continue
        out.append(path)
    return out


def test_every_comment_names_files_and_commands_that_exist() -> None:
    """Every path to a file of this repository named in code, comments, data or docs exists,
    and no comment names the command by the bare name `normalizer`."""
    stale = []
    for path in _sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(REPO)
        stale += [f"{rel}: {p}" for p in _missing_paths(text)]
        for m in re.finditer(
            r"(?<![\w./-])(?<!-m )normalizer (?:explain|lint|coverage|ingest|batch|test|generic)\b",
            text,
        ):
            line = text.count("\n", 0, m.start()) + 1
            stale.append(f"{rel}:{line}: `{m.group(0)}` (the command is {PROGRAM})")
    assert stale == []


def test_generated_catalogs_name_the_command_that_made_them() -> None:
    for catalog in sorted((REPO / "rules").glob("*/catalog.yaml")):
        first = catalog.read_text(encoding="utf-8").split("\n", 1)[0]
        if first.startswith("# Generated by"):
            assert first.startswith(f"# Generated by `{PROGRAM} ingest "), catalog
