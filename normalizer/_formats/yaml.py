"""Safe YAML loading that remembers where every value came from.

Rule, catalog and policy files are loaded with PyYAML's safe loader only (the
C one when PyYAML was built with libyaml). Alongside the data we keep a map
from each value's path (``("rules", 3, "when", "code")``) to its line, so that
a pydantic validation error can be reported as ``file:line: field: problem``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

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


def _walk(node: yaml.Node, loader: yaml.SafeLoader, at: PathKey, lines: dict[PathKey, int]) -> None:
    lines.setdefault(at, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int)):
                key = str(key)
            here = (*at, key)
            lines[here] = key_node.start_mark.line + 1
            _walk(value_node, loader, here, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, loader, (*at, index), lines)


def load_text(text: str, path: str, error: type[ConfigError] = ConfigError) -> Located:
    """Parse one YAML document safely; syntax errors become ``error`` with a line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(None, {}, path)
        data = loader.construct_document(node)
        lines: dict[PathKey, int] = {}
        _walk(node, loader, (), lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise error([Problem(path, line, "", f"not valid YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise error([Problem(path, None, "", f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return Located(data, lines, path)


def load_file(path: str | Path, error: type[ConfigError] = ConfigError) -> Located:
    """Read and parse a YAML file; an unreadable file is refused like a bad one."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error([Problem(str(p), None, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error([Problem(str(p), None, "", f"cannot be read: {exc}")]) from None
    return load_text(text, str(p), error)


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
