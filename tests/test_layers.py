"""The package's layers (issue 10): imports flow one way, with no cycle; one error tree.

Layers, lowest first: ``_core`` <- ``_formats`` <- ``_engine`` <- the edges
(supervisor, batch, analysis: lint, coverage, ingest, ccxt comparison) <- the
command line (``cli/``, one module per command) <- the public
``normalizer/__init__.py``. Every import counts, the ones inside functions
included.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import normalizer
from normalizer._core import errors

PACKAGE = Path(normalizer.__file__).resolve().parent

# module name (relative to the package) -> layer rank; prefixes match folders
LAYERS: list[tuple[str, int]] = [
    ("_core", 0),
    ("_formats", 1),
    ("_engine", 2),
    ("supervisor", 3),
    ("batch", 3),
    ("analysis", 3),
    ("_build", 3),  # the wheel build hook: compiles with the file formats
    ("integrations", 3),  # adapters that act on the advice (the ccxt wrapper)
    ("ccxt", 3),  # the public face of integrations.ccxt: ``normalizer.ccxt.wrap``
    ("testing", 3),  # reset() for tests of code that uses the package
    ("cli", 4),
    ("__main__", 4),
    ("", 5),  # the package itself: the curated public API
]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _rank(module: str) -> int:
    for prefix, rank in LAYERS:
        if prefix and (module == prefix or module.startswith(prefix + ".")):
            return rank
    if module == "":
        return 5
    raise AssertionError(f"normalizer.{module} is in no layer; add it to LAYERS")


def _imports(path: Path) -> set[str]:
    """The package modules ``path`` imports, at any depth of its code."""
    me = _module_name(path)
    package_parts = me.split(".") if me else []
    if path.name != "__init__.py":
        package_parts = package_parts[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.startswith("normalizer"):
                target = node.module.removeprefix("normalizer").lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            for name in names:  # "from . import _supervisor" imports a module
                candidate = f"{target}.{name}" if target else name
                if _exists(candidate):
                    out.add(candidate)
                    break
            else:
                out.add(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("normalizer."):
                    out.add(alias.name.removeprefix("normalizer."))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            args = node.args
            if args and isinstance(args[0], ast.Constant) and str(args[0].value).startswith("."):
                out.add(str(args[0].value).lstrip("."))
    return {m for m in out if m != me}


def _exists(module: str) -> bool:
    p = PACKAGE.joinpath(*module.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        graph[_module_name(path)] = {m for m in _imports(path) if _exists(m) or m == ""}
    return graph


def test_no_module_imports_a_higher_layer() -> None:
    """Invariant: every import (function-level included) points to the same layer or below."""
    upward = [
        f"normalizer.{a} (layer {_rank(a)}) imports normalizer.{b} (layer {_rank(b)})"
        for a, deps in _graph().items()
        for b in deps
        if _rank(b) > _rank(a)
    ]
    assert upward == []


def test_the_import_graph_has_no_cycle() -> None:
    """Invariant: following imports (function-level included) never comes back to a module."""
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == []


def test_the_graph_walker_sees_function_level_imports() -> None:
    imports = _imports(PACKAGE / "_formats" / "registry.py")
    assert "_formats.compile" in imports  # imported inside _compiled() only


def test_the_core_imports_neither_pydantic_nor_yaml() -> None:
    for path in (PACKAGE / "_core").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) (pydantic|yaml)\b", text, re.M), path


# -------------------------------------------------------------- the error tree


def _drawn_tree() -> list[tuple[int, str]]:
    """``(depth, class name)`` for each line of the tree in the module docstring."""
    doc = inspect.getdoc(errors) or ""
    out = []
    for line in doc.splitlines():
        if line.strip() == "NormalizerError":
            out.append((0, "NormalizerError"))
            continue
        m = re.search(r"[├└]── ([A-Z][A-Za-z]+)", line)
        if m:
            out.append(((m.start() - 1) // 5 + 1, m.group(1)))
    return out


def test_the_error_tree_docstring_is_true() -> None:
    """Invariant: the tree drawn in normalizer._core.errors is the tree of the classes."""
    drawn = _drawn_tree()
    assert drawn[0] == (0, "NormalizerError")
    parents: dict[int, str] = {}
    for depth, name in drawn:
        cls = getattr(errors, name)
        parents[depth] = name
        if depth:
            parent = getattr(errors, parents[depth - 1])
            assert parent in cls.__bases__, f"{name} is drawn under {parent.__name__}"
    classes = {
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type) and issubclass(obj, errors.NormalizerError)
    }
    assert classes == {name for _, name in drawn}


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("ArgumentTypeError", TypeError),
        ("ArgumentValueError", ValueError),
        ("UnknownOperationError", ValueError),
        ("UnknownExchangeError", ValueError),
        ("ConfigError", ValueError),
    ],
)
def test_caller_mistakes_are_also_the_builtin_errors(name: str, builtin: type) -> None:
    assert issubclass(getattr(errors, name), builtin)
    assert issubclass(getattr(errors, name), errors.NormalizerError)


#: "about 500 lines" (issue 22): a module may pass it by a little without a word
LONG_MODULE = 510


def test_a_module_over_about_500_lines_says_why_at_its_top() -> None:
    """Invariant: every module of the package longer than ``LONG_MODULE`` lines states,
    in its docstring, why it is one module ("Over 500 lines: ...")."""
    long = {
        str(path.relative_to(PACKAGE)): path
        for path in PACKAGE.rglob("*.py")
        if len(path.read_text(encoding="utf-8").splitlines()) > LONG_MODULE
    }
    assert long, "no module is long: the check would pass by itself"
    silent = [
        name
        for name, path in sorted(long.items())
        if "Over 500 lines:" not in (ast.get_docstring(ast.parse(path.read_text("utf-8"))) or "")
    ]
    assert not silent, silent
