"""Compiled readers: ``envelope.extract`` specialised to one exchange's shape.

``normalize(exchange, body=text)`` reads most bodies with the exchange's
reader. ``extract`` interprets the shape on every call: for each dotted path
it splits, walks and type-checks, and calls ``as_code`` and ``_pick_code`` for
each candidate. The reader is the same reading written out once per shape as a
plain Python function: the fields are constants, a path is a chain of
``dict.get``, a shape's unused features leave no code. On the bench's bodies
a reader costs 45-70 % of the interpreted reading (Kraken's 90 %: its time is
mostly the error string's code lookup). ``normalize()`` compiles an exchange's
reader at its second body (``_engine/normalize.py``, ``_reading_of``).

The function's text is made here from the shape's field names, each written
as a ``repr`` literal (nothing else from the shape reaches the text; the
values it compares with are passed in as objects), and compiled with
``compile``/``exec``, as ``collections.namedtuple`` and ``dataclasses`` make
their methods. ``reader_source(shape)`` shows the text.

A reader answers ``(code, message, items)`` exactly when ``extract`` would
answer an ``Envelope`` with that code, message and items that is neither a
success nor malformed and has no warnings; for anything else (a success, a
malformed body, warnings in a list of error strings, a list of more than
``FAST_STRINGS`` error strings) it answers None and the caller asks
``extract``. Property tests hold the two equal on the venues' recorded bodies,
on generated hostile bodies, and on generated shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._core.arguments import MAX_CODE_CHARS
from .._core.literals import prefilter
from .envelope import (
    MAX_ITEMS,
    MAX_TEXT,
    FailedItem,
    _failed_items,
    _pick_code,
    _squashed,
    _walk,
    as_code,
    as_message,
    resolve_code,
)

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

    ShapeSpec = Any
    ItemsSpec = Any
    #: ``read(parsed, known_codes)``
    Reader = Callable[[dict[str, Any], frozenset[str]], Any]
    #: ``may_hint(parsed, message)``
    HintCheck = Callable[[dict[str, Any], str | None], bool]

#: A body whose error strings are more than this many is left to ``extract``.
FAST_STRINGS = 8
#: ``as_code``'s bound on an integer code, as a comparison
_INT_LIMIT = 10**30


class _Source:
    """Lines of Python, indented by block, and the objects they name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, object] = {}
        self.depth = 1
        #: a body's key -> the name its value was read into (``_hoist``)
        self.heads: dict[str, str] = {}

    def add(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def constant(self, prefix: str, value: object) -> str:
        """A name for ``value`` in the function's globals."""
        name = f"{prefix}{len(self.names)}"
        self.names[name] = value
        return name

    def block(self, header: str, body: Callable[[], None]) -> None:
        self.add(header)
        self.depth += 1
        body()
        self.depth -= 1


def _get(src: _Source, target: str, holder: str, path: str) -> None:
    """``target = get_path(holder, path)`` for a JSON object ``holder`` and a
    path other than ``""``: a ``dict.get`` per part, ``_walk`` for anything
    that is not a dict (a list indexed by a part, a mapping, a dead end)."""
    parts = path.split(".")
    head = src.heads.get(parts[0]) if holder == "d" else None
    src.add(f"{target} = {head}" if head else f"{target} = {holder}.get({parts[0]!r})")
    for part in parts[1:]:
        src.add(f"if type({target}) is dict:")
        src.add(f"    {target} = {target}.get({part!r})")
        src.add(f"elif {target} is not None:")
        src.add(f"    {target} = _walk({target}, ({part!r},))")


def _hoist(src: _Source, code_fields: Sequence[str], message_fields: Sequence[str]) -> None:
    """Read once the body's keys that several dotted paths start from, when a
    code path is among them (the code paths are all read)."""
    firsts = [p.split(".")[0] for p in (*code_fields, *message_fields) if "." in p]
    for key in dict.fromkeys(p.split(".")[0] for p in code_fields if "." in p):
        if firsts.count(key) > 1:
            name = f"head{len(src.heads)}"
            src.add(f"{name} = d.get({key!r})")
            src.heads[key] = name


def _message(src: _Source, holder: str, fields: Sequence[str], target: str = "message") -> None:
    """``target``: the first of ``fields`` present in ``holder``, as a message."""
    if not fields:
        src.add(f"{target} = None")
        return
    temp = f"{target}_value"
    _get(src, temp, holder, fields[0])
    for field in fields[1:]:

        def next_field(field: str = field) -> None:
            _get(src, temp, holder, field)

        src.block(f"if {temp} is None:", next_field)
    src.add(f"{target} = {temp} if type({temp}) is str or {temp} is None else as_message({temp})")


def _strings(src: _Source, strings: Any, known: frozenset[str] | None) -> None:
    """A list of error strings (Kraken): the first decides, every one is an item.
    With the exchange's ``known`` codes, the first string is looked up in their
    squashed table (``resolve_code``'s first step) before ``resolve_code`` is
    asked, when the reader is called with those codes."""
    _get(src, "value", "d", strings.field)
    prefixes = tuple(strings.warning_prefixes)
    warn = src.constant("WARN", prefixes) if prefixes else None
    sep = strings.separator
    if known is not None:
        codes = src.constant("KNOWN", known)
        table = src.constant("SQUASHED", _squashed(known) if known else {})

    def listed() -> None:
        src.add(f"if not value or len(value) > {FAST_STRINGS}:")
        src.add("    return None")
        src.add("errors = []")

        def each() -> None:
            src.add("if type(entry) is not str:")
            src.add("    return None")
            src.add(f"text = entry.strip()[:{MAX_TEXT}]")
            src.add("if not text:")
            src.add("    continue")
            if warn is not None:
                src.add(f"if text.startswith({warn}):")
                src.add("    return None")
            src.add("errors.append(text)")

        src.block("for entry in value:", each)
        src.add("if not errors:")
        src.add("    return None")
        src.add("text = errors[0]")
        if known is not None:
            src.add(f"code = {table}.get(text) if known is {codes} else None")
            src.add("if code is None:")
            src.add(f"    code = resolve_code(text, known, {sep!r})")
        else:
            src.add(f"code = resolve_code(text, known, {sep!r})")
        src.add("found = (_new(FailedItem, (0, code, text)),)")
        src.add("if len(errors) > 1:")
        src.add("    found += tuple([")
        src.add(f"        _new(FailedItem, (i, resolve_code(e, known, {sep!r}), e))")
        src.add("        for i, e in enumerate(errors[1:], 1)")
        src.add("    ])")
        src.add("return code, text, found")

    src.block("if type(value) is list:", listed)
    src.add("if value is not None:")
    src.add("    return None  # a lone string, or something odd: extract decides")


def _one_code(src: _Source, field: str, failed: bool) -> None:
    """One top-level code field: a code that cannot be used is malformed,
    which ``extract`` says (None), unless the body said it failed."""
    unless = " and not failed" if failed else ""
    src.add(f"v = d.get({field!r})")
    src.add("if v is None:")
    src.add("    code = None")
    src.add("elif type(v) is str:")
    src.add("    code = v.strip()")
    src.add(f"    if not 0 < len(code) <= {MAX_CODE_CHARS}:")
    src.add(f'        if v != ""{unless}:')
    src.add("            return None  # unusable: malformed, extract says so")
    src.add("        code = None")
    src.add("else:")
    src.add("    code = (str(v) if -LIMIT < v < LIMIT else None) if type(v) is int else as_code(v)")
    src.add(f"    if code is None{unless}:")
    src.add("        return None")


def _codes(src: _Source, fields: Sequence[str], failed: bool, vague: str) -> None:
    """Several code fields (or a dotted one): the first documented, informative
    code wins (``_pick_code``); a present value that is no code is malformed."""
    src.add("codes = []")
    src.add("unusable = False")
    for field in fields:
        _get(src, "v", "d", field)
        src.add("if type(v) is str:")
        src.add("    c = v.strip()")
        src.add(f"    if 0 < len(c) <= {MAX_CODE_CHARS}:")
        src.add("        codes.append(c)")
        src.add('    elif v != "":')
        src.add("        unusable = True")
        src.add("elif v is not None:")
        src.add("    c = as_code(v)")
        src.add("    if c is None:")
        src.add('        unusable = unusable or v != ""')
        src.add("    else:")
        src.add("        codes.append(c)")
    src.add("if not codes:")
    src.add("    code = None")
    src.add("elif len(codes) == 1:")
    src.add("    code = codes[0]")
    src.add("else:")
    src.add(f"    code = _pick_code(codes, known, {vague})")
    unless = " and not failed" if failed else ""
    src.add(f"if unusable and code is None{unless}:")
    src.add("    return None")


def _items(src: _Source, s: ItemsSpec, vague: str) -> None:
    """The failed items of one list (``_failed_items``, written out)."""
    codes = tuple(s.code_fields)
    messages = tuple(s.message_fields)
    flag = s.success_field or None
    _get(src, "data", "d", s.field)
    if not all(f and "." not in f for f in (*codes, *messages, flag or "x")):
        # dotted fields inside an item: extract's own loop
        spec = src.constant("ITEMS", s)
        src.add("if type(data) is list and data:")
        src.add(f"    items += _failed_items(data, {spec}, known, {vague})")
        return
    ok = src.constant("OK", frozenset(s.success_codes))

    def each() -> None:
        # names of its own: the body's code and message are still to be used
        src.add("if type(item) is not dict:  # a JSON value: no other mapping")
        src.add("    continue")
        if flag is not None:
            src.add(f"item_flag = item.get({flag!r})")
            src.add("if item_flag is True:")
            src.add("    continue")
        if len(codes) == 1:  # _pick_code of one candidate is it
            src.add(f"item_code = item.get({codes[0]!r})")
            src.add("if type(item_code) is str:")
            src.add("    item_code = item_code.strip()")
            src.add(f"    if not 0 < len(item_code) <= {MAX_CODE_CHARS}:")
            src.add("        item_code = None")
            src.add("elif item_code is not None:")
            src.add("    item_code = as_code(item_code)")
        elif codes:
            listed = ", ".join(f"as_code(item.get({f!r}))" for f in codes)
            src.add(f"item_codes = [c for c in ({listed},) if c is not None]")
            src.add(f"item_code = _pick_code(item_codes, known, {vague})")
        else:
            src.add("item_code = None")
        if not s.all_failed:
            told = f"(item_code is not None and item_code not in {ok})"
            if flag is not None:
                told = f"item_flag is False or {told}"
            src.add(f"if not ({told}):")
            src.add("    continue")
        _message(src, "item", messages, "item_message")
        src.add("items.append(_new(FailedItem, (index, item_code, item_message)))")

    def listed() -> None:
        src.add(f"if len(data) > {MAX_ITEMS}:")
        src.add(f"    data = data[:{MAX_ITEMS}]")
        src.block("for index, item in enumerate(data):", each)

    src.block("if type(data) is list and data:", listed)


def reader_source(
    shape: ShapeSpec, known: frozenset[str] | None = None
) -> tuple[str, dict[str, object]]:
    """The text of ``shape``'s reader and the objects it names (``known``: the
    exchange's codes, see ``_strings``)."""
    src = _Source()
    flag_field = shape.success_field or None
    strings = shape.error_strings
    code_fields = tuple(shape.code_fields)
    message_fields = tuple(shape.message_fields)
    item_shapes = tuple(s for s in shape.item_shapes if s.field != "")
    success_codes = frozenset(shape.success_codes)
    vague = src.constant("VAGUE", tuple(shape.vague_codes))
    failed = flag_field is not None
    if flag_field is not None:
        _get(src, "flag", "d", flag_field)
        src.add("if flag is True:")
        src.add("    return None")
        src.add("failed = flag is False")
    if strings is not None:
        _strings(src, strings, known)
    _hoist(src, code_fields, message_fields)
    if len(code_fields) == 1 and "." not in code_fields[0]:
        _one_code(src, code_fields[0], failed)
    elif code_fields:
        _codes(src, code_fields, failed, vague)
    else:
        src.add("code = None")
    _message(src, "d", message_fields)
    if item_shapes:
        src.add("items = []")
        for s in item_shapes:
            _items(src, s, vague)
        src.add("if items:")
        src.add("    first = items[0]")
        src.add("    return first[1], first[2], tuple(items)")
    if success_codes:
        ok = src.constant("SUCCESS", success_codes)
        src.add(f"if code is not None and code in {ok}:")
        src.add("    if not failed:" if failed else "    return None  # a success")
        if failed:
            src.add("        return None  # a success")
            src.add("    code = None")
    src.add("return code, message, ()")
    text = "def read(d, known):\n" + "\n".join(src.lines) + "\n"
    return text, src.names


_GLOBALS: dict[str, object] = {
    "FailedItem": FailedItem,
    "LIMIT": _INT_LIMIT,
    "_failed_items": _failed_items,
    "_new": tuple.__new__,
    "_pick_code": _pick_code,
    "_walk": _walk,
    "as_code": as_code,
    "as_message": as_message,
    "resolve_code": resolve_code,
}


def compile_reader(shape: ShapeSpec, name: str = "", known: frozenset[str] | None = None) -> Reader:
    """The reader of ``shape``: ``read(parsed, known_codes)`` for a JSON
    object body, answering ``(code, message, items)`` or None (module
    docstring). ``name`` (the exchange's) names the compiled text in a
    traceback; ``known``, the exchange's codes, lets it resolve an error
    string without a call when it is called with them."""
    strings = shape.error_strings
    if (
        not all(shape.code_fields)
        or not all(shape.message_fields)
        or (strings is not None and not strings.field)
    ):
        return _leave  # a field at "" (the body itself): extract reads it
    if _parts(shape) > MAX_PARTS:
        return _leave  # a shape this large is read by extract: its text stays small
    text, names = reader_source(shape, known)
    read: Reader = _defined(text, names, "read", f"<reader of {name or 'a shape'}>")
    return read


def _defined(text: str, names: dict[str, object], function: str, filename: str) -> Any:
    """The function ``text`` defines, compiled with ``_GLOBALS`` and ``names``
    as its globals (the module docstring says what reaches the text)."""
    scope = {**_GLOBALS, **names}
    exec(compile(text, filename, "exec"), scope)  # noqa: S102 - see the docstring
    return scope[function]


def _leave(d: dict[str, Any], known: frozenset[str]) -> None:
    return None


#: The most path parts a compiled reader or hint check reads (the bundled
#: venues' shapes name at most 22); a larger shape is read by ``extract``, so
#: the text compiled stays small whatever a rules folder declares.
MAX_PARTS = 256


def _parts(shape: ShapeSpec) -> int:
    """How many path parts the shape names, in all its fields."""
    paths = [*shape.code_fields, *shape.message_fields, shape.success_field or ""]
    if shape.error_strings is not None:
        paths.append(shape.error_strings.field)
    for s in shape.item_shapes:
        paths += [s.field, *s.code_fields, *s.message_fields, s.success_field or ""]
    paths += [h.body_field or "" for h in shape.retry_hints]
    parts: int = sum(p.count(".") + 1 for p in paths) + len(shape.retry_hints)
    return parts


def _every_body(d: dict[str, Any], message: str | None) -> bool:
    return True


#: how much of a message a hint's regex is asked about (``envelope.body_hint``)
HINT_TEXT = 1024


def hint_check_source(shape: ShapeSpec) -> str | None:
    """The text of ``shape``'s hint check, None when the body cannot hint."""
    src = _Source()
    fields = [h.body_field for h in shape.retry_hints if not h.header and h.body_field]
    regexes = [h.message_regex for h in shape.retry_hints if not h.header and h.message_regex]
    if not fields and not regexes:
        return None
    for field in fields:
        _get(src, "v", "d", field)
        src.add("if v is not None:")
        src.add("    return True")
    if regexes:
        needs = [prefilter(r).need for r in regexes]

        def told() -> None:
            if any(need is None for need in needs):
                src.add("return True  # a regex with no literal it needs")
                return
            src.add(f"text = message[:{HINT_TEXT}]")
            src.add("if not text.isascii():")
            src.add("    return True  # (not prefiltered: Prefilter.may_match)")
            literals = dict.fromkeys(lit for need in needs for lit in need or ())
            if literals:  # (none: the regexes need text that is not ASCII)
                src.add("lowered = text.lower()")
                tests = " or ".join(f"{lit!r} in lowered" for lit in literals)
                src.add(f"if {tests}:")
                src.add("    return True")

        src.block("if message:", told)
    src.add("return False")
    return "def may_hint(d, message):\n" + "\n".join(src.lines) + "\n"


def compile_hint_check(shape: ShapeSpec, name: str = "") -> HintCheck | None:
    """``may_hint(parsed, message)`` for ``shape``: False when ``body_hint``
    surely finds no wait in this JSON object body and message (no hinted
    field present, no message a hint's regex could match); None when the
    shape has no body or message hint at all."""
    if _parts(shape) > MAX_PARTS:
        return _every_body  # (as compile_reader: body_hint decides)
    text = hint_check_source(shape)
    if text is None:
        return None
    check: HintCheck = _defined(text, {}, "may_hint", f"<hint check of {name or 'a shape'}>")
    return check
