"""Safe YAML loading that remembers where every value came from.

Rule, catalog and policy files are loaded with PyYAML's safe loader only (the
C one when PyYAML was built with libyaml). Alongside the data we keep a map
from each value's path (``("rules", 3, "when", "code")``) to its line, so that
a pydantic validation error can be reported as ``file:line: field: problem``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .._core.arguments import path_of
from .._core.errors import ConfigError, Problem

try:  # libyaml's safe loader, when PyYAML was built with it
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment,unused-ignore]
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class Located:
    """Parsed YAML data plus the line of every value in it."""

    __slots__ = ("data", "lines", "path")

    def __init__(self, data: Any, lines: dict[PathKey, int], path: str) -> None:
        self.data = data
        self.lines = lines
        self.path = path

    def line_of(self, loc: PathKey) -> int | None:
        """The line of ``loc`` or of its nearest ancestor that has one."""
        loc = tuple(loc)
        while True:
            if loc in self.lines:
                return self.lines[loc]
            if not loc:
                return None
            loc = loc[:-1]


#: Bounds for a file we are asked to trust: its size, how deep it nests, and
#: how many values it stands for once its aliases are expanded (an "alias
#: bomb" of a few hundred bytes stands for billions). Real rule, catalog and
#: policy files are far below each.
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 250_000
_SURROGATE = re.compile("[\ud800-\udfff]")
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: How the problems of a file that cannot be used at all begin (not YAML, not
#: text, not a regular file, too large, hostile); ``lint`` exits 2 on them.
UNUSABLE = (
    "not valid YAML",
    "not valid text",
    "not UTF-8",
    "cannot be read",
    "cannot be parsed",
    "no such file",
    "larger than",
    "expected text",
    "duplicate key",
    "a recursive alias",
    "aliases expand",
    "nested more than",
    "more than",
    "a key must be",
)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _check_and_map(
    root: yaml.Node, loader: yaml.SafeLoader, path: str, error: type[ConfigError]
) -> dict[PathKey, int]:
    """Check the node graph and map each value's path to its line.

    In one pass without recursion, over each distinct node once: refuses a
    recursive alias, nesting deeper than ``MAX_DEPTH``, a mapping with a
    duplicate key, and a document whose aliases expand to more than
    ``MAX_NODES`` values (each with the file and the line). A node reached
    again through an alias is counted by its expanded size, not walked again,
    so the work stays linear in the file's size.
    """

    def refuse(node: yaml.Node | None, message: str) -> ConfigError:
        line = _line(node) if node is not None else None
        return error([Problem(path, line, "", message)])

    lines: dict[PathKey, int] = {}
    size: dict[int, int] = {}  # id(node) -> values it stands for, once finished
    open_: set[int] = set()  # nodes being walked (an alias to one is a cycle)
    total = 0
    # (node, path, depth, entered?)
    stack: list[tuple[yaml.Node, PathKey, int, bool]] = [(root, (), 0, False)]
    while stack:
        node, at, depth, entered = stack.pop()
        key = id(node)
        if entered:
            open_.discard(key)
            n = 1
            if isinstance(node, yaml.MappingNode):
                n += sum(size[id(v)] for _, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                n += sum(size[id(v)] for v in node.value)
            size[key] = n
            continue
        lines.setdefault(at, _line(node))
        if key in open_:
            raise refuse(node, "a recursive alias: this anchor refers to itself")
        if key in size:  # an alias to a finished node: counted, not walked again
            total += size[key]
            if total > MAX_NODES:
                raise refuse(
                    node,
                    f"aliases expand to more than {MAX_NODES:,} values (an alias bomb?); "
                    "write the values out instead",
                )
            continue
        total += 1
        if total > MAX_NODES:
            raise refuse(node, f"more than {MAX_NODES:,} values")
        if depth > MAX_DEPTH:
            raise refuse(node, f"nested more than {MAX_DEPTH} levels deep")
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            size[key] = 1
            continue
        open_.add(key)
        stack.append((node, at, depth, True))
        children: list[tuple[yaml.Node, PathKey]] = []
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    children.append((value_node, at))
                    continue
                if isinstance(key_node, yaml.ScalarNode):
                    k = loader.construct_object(key_node)
                else:
                    raise refuse(key_node, "a key must be a plain value, not a list or mapping")
                if not isinstance(k, (str, int)):
                    k = str(k)
                if k in seen:
                    raise refuse(
                        key_node,
                        f"duplicate key {k!r} (also on line {seen[k]}); "
                        "a second one would silently replace the first",
                    )
                seen[k] = _line(key_node)
                here = (*at, k)
                lines[here] = _line(key_node)
                children.append((value_node, here))
        else:
            children = [(item, (*at, i)) for i, item in enumerate(node.value)]
        for child, here in reversed(children):
            stack.append((child, here, depth + 1, False))
    return lines


def load_text(text: str, path: str, error: type[ConfigError] = ConfigError) -> Located:
    """Parse one YAML document safely; any problem becomes ``error`` with a line.

    Refused: syntax errors, lone surrogates, duplicate keys, recursive aliases,
    nesting deeper than ``MAX_DEPTH``, more than ``MAX_NODES`` values once
    aliases are expanded, text over ``MAX_FILE_BYTES``.
    """
    if not isinstance(text, str):
        raise error([Problem(path, None, "", f"expected text, not {type(text).__name__}")])
    if len(text) > MAX_FILE_BYTES:
        raise error([Problem(path, None, "", f"larger than {MAX_FILE_BYTES:,} characters")])
    bad = _SURROGATE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise error([Problem(path, line, "", "not valid text: a lone surrogate character")])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(None, {}, path)
        lines = _check_and_map(node, loader, path, error)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = mark.line + 1 if mark is not None else None
        raise error([Problem(path, at, "", f"not valid YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise error([Problem(path, None, "", f"not valid YAML: {exc}")]) from None
    except (RecursionError, MemoryError, UnicodeError) as exc:  # pragma: no cover - belt and braces
        raise error([Problem(path, None, "", f"cannot be parsed: {type(exc).__name__}")]) from None
    finally:
        loader.dispose()
    return Located(data, lines, path)


def read_text(path: str | Path, error: type[ConfigError] = ConfigError) -> str:
    """The UTF-8 text of a regular file of at most ``MAX_FILE_BYTES``, or ``error``.

    A folder, a device (``/dev/zero``), a FIFO or a socket is refused without
    reading it; a file that is too large is refused after reading at most one
    byte more than the cap; invalid UTF-8 is refused with its line.
    """
    p = Path(path)
    name = str(p)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error([Problem(name, None, "", "no such file")]) from None
    except OSError as exc:
        raise error([Problem(name, None, "", f"cannot be read: {exc.strerror or exc}")]) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise error([Problem(name, None, "", f"cannot be read: {kind}")])
    if st.st_size > MAX_FILE_BYTES:
        raise error([Problem(name, None, "", f"larger than {MAX_FILE_BYTES:,} bytes")])
    try:
        # O_NONBLOCK: should the path have become a FIFO since stat(), do not wait on it
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise error([Problem(name, None, "", "cannot be read: not a regular file")])
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error([Problem(name, None, "", f"cannot be read: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise error([Problem(name, None, "", f"larger than {MAX_FILE_BYTES:,} bytes")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise error(
            [Problem(name, line, "", f"not UTF-8 text (byte {exc.start}: {exc.reason})")]
        ) from None


def load_file(path: str | Path, error: type[ConfigError] = ConfigError) -> Located:
    """Read and parse a YAML file; an unreadable file is refused like a bad one
    (a ``path`` that is not a str or ``os.PathLike`` is an ``ArgumentTypeError``)."""
    path = path_of("path", path)
    return load_text(read_text(path, error), str(path), error)


def field_name(loc: PathKey) -> str:
    """``("rules", 3, "when", "code")`` -> ``rules[3].when.code``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def problems_from_validation(
    exc: ValidationError, located: Located, prefix: PathKey = ()
) -> list[Problem]:
    """Turn pydantic's errors into file/line/field problems."""
    problems = []
    for err in exc.errors(include_url=False):
        loc: PathKey = (*prefix,)
        for part in err["loc"]:
            candidate = (*loc, part)
            # pydantic inserts labels of its own into loc (a union member such
            # as "str" or "list[str]", a validator name): keep only the parts
            # that exist in the document.
            if isinstance(part, (str, int)) and (
                candidate in located.lines or not _is_pydantic_label(part)
            ):
                loc = candidate
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (a typo?)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        problems.append(Problem(located.path, located.line_of(loc), field_name(loc), msg))
    return problems


_LABEL = re.compile(r"^(str|int|float|bool|none|list\[.*\]|tuple\[.*\]|dict\[.*\]|[a-z-]+\[.*\])$")


def _is_pydantic_label(part: str | int) -> bool:
    return isinstance(part, str) and bool(_LABEL.match(part))


def validate(
    model: type[M],
    located: Located,
    error: type[ConfigError] = ConfigError,
    context: Mapping[str, Any] | None = None,
) -> M:
    """Validate parsed YAML against a pydantic model, or refuse with lines."""
    if located.data is None:
        raise error([Problem(located.path, None, "", "the file is empty")])
    try:
        return model.model_validate(located.data, context=dict(context or {}))
    except ValidationError as exc:
        raise error(problems_from_validation(exc, located)) from None
