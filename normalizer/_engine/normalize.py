"""``normalize()``: any failed request in, a classified error out, never an exception.

Only caller mistakes raise (an unknown exchange or operation). Whatever the
exchange sent, however malformed, yields a ``NormalizedError``; when nothing
can be made of it the category is UNKNOWN and ``raw`` keeps the input.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from .._core.errors import Problem, RuleFileError, UnknownExchangeError
from .._core.resources import data_dir
from .._core.text import bound, html_title, strip_tags
from .._formats.catalog import Catalog, CatalogEntry, load_catalog
from .._formats.ontology import Category, Operation, operation_of
from .._formats.rules import ExchangeSpec, Probe, Rule, RuleSet, load_rules_file
from .._formats.yaml import load_file, validate
from . import generic
from .envelope import as_code, body_hint, extract, header_hint, longest
from .generic import GENERIC
from .results import NormalizedError, RawInput, _build
from .transport import response_of, transport_kind

log = logging.getLogger("normalizer")

#: Bodies longer than this are not parsed (an error body is small); raw keeps them.
MAX_BODY_BYTES = 256 * 1024
#: ``NormalizedError.message`` keeps at most this many characters; raw keeps all.
MAX_KEPT_MESSAGE = 4096

COMMON = "common"


class Registry:
    """The rule sets of every exchange found under a rules folder, and of the
    user's rule folders laid over it (``overlays``, later ones stronger).

    An overlay's venues are added; for a venue both have, the overlay's
    ``exchange.yaml`` and ``catalog.yaml`` replace the bundled ones when given,
    and its rules outrank the bundled rules (a rule with a bundled rule's id
    replaces it). Each exchange is loaded (and checked) on first use, once,
    under a lock.
    """

    def __init__(self, root: Path | None = None, overlays: Sequence[Path] = ()) -> None:
        self.root = Path(root) if root is not None else data_dir("rules")
        self.overlays: tuple[Path, ...] = tuple(Path(o) for o in overlays)
        self._sets: dict[str, RuleSet] = {}
        self._lock = threading.Lock()
        self._common: list[Rule] | None = None
        found = set(self._folders(self.root, needs_exchange=True))
        for overlay in self.overlays:
            found |= set(self._folders(overlay, needs_exchange=True))
        #: Overlay folders with rules but no exchange.yaml for a venue nobody knows.
        self.orphans: tuple[Path, ...] = tuple(
            overlay / n
            for overlay in self.overlays
            for n in self._folders(overlay, needs_exchange=False)
            if n not in found
        )
        self.names: tuple[str, ...] = tuple(sorted(found))

    @staticmethod
    def _folders(root: Path, needs_exchange: bool) -> list[str]:
        marker = "exchange.yaml" if needs_exchange else "rules.yaml"
        return [
            p.name
            for p in root.iterdir()
            if p.is_dir() and p.name != COMMON and (p / marker).is_file()
        ]

    def get(self, name: object) -> RuleSet:
        rs = self._sets.get(name) if isinstance(name, str) else None
        if rs is not None:
            return rs
        key = name.lower() if isinstance(name, str) else name
        if key not in self.names:
            raise UnknownExchangeError(name, [n for n in self.names if n != GENERIC])
        assert isinstance(key, str)
        with self._lock:
            rs = self._sets.get(key)
            if rs is None:
                rs = self._load(key)
                self._sets[key] = rs
            if isinstance(name, str):
                self._sets[name] = rs
        return rs

    def load_all(self) -> list[RuleSet]:
        """Load every exchange now (and so refuse any bad file now)."""
        return [self.get(n) for n in self.names]

    def common_rules(self) -> list[Rule]:
        if self._common is None:
            common: list[Rule] = []
            for root in (self.root, *self.overlays):
                path = root / COMMON / "rules.yaml"
                if path.is_file():
                    common += load_rules_file(path, "*")
            self._common = common
        return self._common

    def _load(self, name: str) -> RuleSet:
        layers = [r / name for r in (self.root, *self.overlays) if (r / name).is_dir()]
        spec_folder = next(f for f in reversed(layers) if (f / "exchange.yaml").is_file())
        spec = validate(
            ExchangeSpec,
            load_file(spec_folder / "exchange.yaml", RuleFileError),
            RuleFileError,
            {"exchange": name},
        )
        catalog: Catalog | None = None
        with_catalog = [f for f in layers if (f / "catalog.yaml").is_file()]
        if with_catalog:
            catalog = load_catalog(with_catalog[-1] / "catalog.yaml")
        if not self.overlays:
            own = load_rules_file(layers[0] / "rules.yaml", name)
            return RuleSet(spec, catalog, own, self.common_rules())
        # Layered: every rule's precedence key starts with its layer, so an
        # overlay's rule outranks any bundled one; same id: the overlay's replaces.
        by_id: dict[str, Rule] = {}
        for layer, folder in enumerate(layers, start=1):
            if (folder / "rules.yaml").is_file():
                for rule in load_rules_file(folder / "rules.yaml", name):
                    by_id.pop(rule.id, None)
                    by_id[rule.id] = replace(rule, specificity=(layer, *rule.specificity))
        common = [replace(r, specificity=(0, *r.specificity)) for r in self.common_rules()]
        return RuleSet(spec, catalog, list(by_id.values()), common)


_registry: Registry | None = None
_registry_lock = threading.Lock()


def registry() -> Registry:
    """The registry every entry point uses: the bundled rules and the user's
    folders added with ``load_rules``."""
    global _registry
    if _registry is None:
        with _registry_lock:
            if _registry is None:
                _registry = Registry()
    return _registry


def load_rules(path: str | Path) -> tuple[str, ...]:
    """Add a folder of the user's rules beside the bundled ones, for every
    entry point of this process (normalize, recommend, the Supervisor,
    explain, batch, lint, coverage).

    The folder holds one sub-folder per venue (``exchange.yaml``,
    ``rules.yaml``, optionally ``catalog.yaml``; a bundled venue's folder may
    hold only ``rules.yaml``) and optionally ``common/rules.yaml``. New venues
    are added; the folder's rules for a bundled venue outrank the bundled ones.
    Every file is checked now: a bad one raises ``RuleFileError`` naming the
    file, line and field, and nothing changes. Returns the venue names now known.
    """
    global _registry
    folder = Path(path)
    if not folder.is_dir():
        raise RuleFileError([Problem(str(folder), None, "path", "no rules folder here")])
    with _registry_lock:
        current = registry() if _registry is not None else Registry()
        candidate = Registry(current.root, (*current.overlays, folder))
        if candidate.orphans:
            raise RuleFileError(
                [
                    Problem(
                        str(o / "exchange.yaml"),
                        None,
                        "exchange.yaml",
                        "a new venue needs "
                        "an exchange.yaml (only a bundled venue's folder may hold rules alone)",
                    )
                    for o in candidate.orphans
                ]
            )
        candidate.load_all()
        _registry = candidate
        _classify.cache_clear()
        _seen.cache_clear()
        generic_cache_clear()
    return candidate.names


def current_registry() -> Registry | None:
    return _registry


def restore_registry(saved: Registry | None) -> None:
    """Put back a registry saved with ``current_registry()``."""
    global _registry
    if saved is _registry:
        return
    with _registry_lock:
        _registry = saved
        _classify.cache_clear()
        _seen.cache_clear()
        generic_cache_clear()


def reset_rules() -> None:
    """Forget the folders added with ``load_rules``: the bundled rules only."""
    global _registry
    with _registry_lock:
        _registry = None
        _classify.cache_clear()
        _seen.cache_clear()
        generic_cache_clear()


def exchanges() -> tuple[str, ...]:
    """The names of the exchanges with rules (bundled, or added with
    ``load_rules``); the generic profile is not one of them."""
    return tuple(n for n in registry().names if n != GENERIC)


# ------------------------------------------------------------- the inputs


def _status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 100 <= value <= 599 else None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) == 3:
        return _status(int(value.strip()))
    return None


def _code(value: Any) -> str | None:
    return as_code(value)


def _message(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value[: MAX_KEPT_MESSAGE * 4].decode("utf-8", "replace")
    return None


def _text_message(text: str) -> str | None:
    """A message from a non-JSON body: an HTML page's title, else its text."""
    head = text[:8192]
    title = html_title(head)  # both linear: no backtracking over crafted pages
    if title is not None:
        return title
    plain = " ".join(strip_tags(head).split())
    return plain[:MAX_KEPT_MESSAGE] or None


def _parse_body(body: Any) -> tuple[Any, str | None, bool]:
    """``(parsed JSON or None, text message or None, malformed?)``."""
    if body is None:
        return None, None, False
    if isinstance(body, Mapping):
        return body, None, False
    if isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body[: MAX_BODY_BYTES + 1])
        if len(raw) > MAX_BODY_BYTES:
            return None, None, True
        text = raw.decode("utf-8", "replace")
    elif isinstance(body, str):
        if len(body) > MAX_BODY_BYTES:
            return None, None, True
        text = body
    elif isinstance(body, list):
        return body, None, True
    else:
        return None, None, True
    stripped = text.strip()
    if not stripped:  # an empty answer: only its HTTP status can tell anything
        return None, None, True
    if stripped[0] in "{[":
        try:
            return json.loads(stripped), None, False
        except (ValueError, RecursionError):
            return None, _text_message(stripped), True
    return None, _text_message(stripped), True


def retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    return header_hint(None, headers, now=now)


# ------------------------------------------------------------- classifying


@lru_cache(maxsize=16384)
def _classify(
    rs: RuleSet,
    code: str | None,
    message: str | None,
    status: int | None,
    operation: Operation | None,
    transport: str | None,
) -> tuple[Rule | None, CatalogEntry | None]:
    return rs.select(Probe(code, message, status, operation, transport))


def _result(
    rs: RuleSet,
    *,
    code: str | None,
    message: str | None,
    status: int | None,
    operation: Operation | None,
    transport: str | None,
    retry_s: float | None,
    raw: RawInput,
    no_match: str,
    item_index: int | None = None,
    items: tuple[NormalizedError, ...] = (),
) -> NormalizedError:
    bounded = bound(message) if message is not None else None
    if rs.name == GENERIC:
        return _generic_result(
            rs,
            code,
            message,
            status,
            operation,
            transport,
            retry_s,
            raw,
            no_match,
            item_index,
            items,
        )
    rule, entry = _classify(rs, code, bounded, status, operation, transport)
    if rule is None:
        category: Category = Category.UNKNOWN
        sub: str | None = no_match
        rule_id: str | None = None
        why: str | None = None
        url: str | None = None
    else:
        category, sub, rule_id, why, url = (
            rule.category,
            rule.subcategory,
            rule.id,
            rule.why,
            rule.source_url,
        )
    kept = (
        message
        if message is None or len(message) <= MAX_KEPT_MESSAGE
        else message[:MAX_KEPT_MESSAGE]
    )
    return _build(  # type: ignore[no-any-return]
        NormalizedError,
        {
            "exchange": rs.name,
            "category": category,
            "subcategory": sub,
            "code": code,
            "http_status": status,
            "message": kept,
            "rule_id": rule_id,
            "rationale": why,
            "source_url": url,
            "retry_after_s": retry_s,
            "operation": operation,
            "documented_code": entry.code if entry is not None and entry.code != code else None,
            "item_index": item_index,
            "items": items,
            "raw": raw,
        },
    )


@lru_cache(maxsize=16384)
def _classify_generic(
    rs: RuleSet,
    code: str | None,
    message: str | None,
    status: int | None,
    operation: Operation | None,
    transport: str | None,
) -> generic.Decision | None:
    return generic.decide(rs, code, message, status, operation, transport)


def _generic_result(
    rs: RuleSet,
    code: str | None,
    message: str | None,
    status: int | None,
    operation: Operation | None,
    transport: str | None,
    retry_s: float | None,
    raw: RawInput,
    no_match: str,
    item_index: int | None,
    items: tuple[NormalizedError, ...],
) -> NormalizedError:
    """``_result`` for the generic profile (see ``_engine/generic.py``)."""
    d = _classify_generic(
        rs, code, message[:MAX_KEPT_MESSAGE] if message else message, status, operation, transport
    )
    kept = (
        message
        if message is None or len(message) <= MAX_KEPT_MESSAGE
        else message[:MAX_KEPT_MESSAGE]
    )
    return _build(  # type: ignore[no-any-return]
        NormalizedError,
        {
            "exchange": rs.name,
            "category": Category.UNKNOWN if d is None else d.category,
            "subcategory": no_match if d is None else d.subcategory,
            "code": code,
            "http_status": status,
            "message": kept,
            "rule_id": None if d is None else d.rule_id,
            "rationale": None if d is None else d.why,
            "source_url": None if d is None else d.source_url,
            "retry_after_s": retry_s,
            "operation": operation,
            "documented_code": None,
            "item_index": item_index,
            "items": items,
            "raw": raw,
        },
    )


def generic_cache_clear() -> None:
    _classify_generic.cache_clear()


def _operation(value: object) -> Operation | None:
    return None if value is None else operation_of(value)


def normalize(
    exchange: str,
    *,
    code: Any = None,
    message: Any = None,
    http_status: Any = None,
    body: Any = None,
    headers: Any = None,
    error: BaseException | None = None,
    operation: Operation | str | None = None,
    unknown_exchange: generic.UnknownExchange | None = None,
) -> NormalizedError:
    """Classify one failed request of ``exchange``.

    Give whatever you have: the exchange's ``code`` and ``message``, the
    ``http_status``, the response ``body`` (bytes, str or parsed dict) and
    ``headers``, or the transport ``error`` you caught. ``operation`` (what
    the request was doing) lets rules tell a failed query from a failed write.
    Explicit ``code``/``message`` win over what the body says.

    Never raises on exchange input; raises ``UnknownExchangeError`` for an
    unknown exchange and ``ValueError`` for an unknown operation. With
    ``unknown_exchange="generic"`` (or after ``use_generic_for_unknown()``)
    an unknown name is answered by the generic profile instead: the result
    keeps the name given, and its ``rule_id`` starts with ``generic.``.
    """
    rs, alias = ruleset_for(exchange, unknown_exchange)
    if alias is not None:
        return _renamed(
            normalize(
                GENERIC,
                code=code,
                message=message,
                http_status=http_status,
                body=body,
                headers=headers,
                error=error,
                operation=operation,
            ),
            alias,
        )
    op = _operation(operation)
    raw = _build(
        RawInput,
        {
            "body": body,
            "http_status": http_status,
            "headers": headers,
            "code": code,
            "message": message,
            "error": error,
        },
    )
    try:
        return _normalize(rs, code, message, http_status, body, headers, error, op, raw)
    except Exception:  # a bug of ours must not break the caller's error path
        log.exception("normalize() failed on %s input; returning UNKNOWN", rs.name)
        return _unknown(rs, "UNKNOWN.MALFORMED", None, None, None, op, None, raw)


def ruleset_for(exchange: object, unknown_exchange: object = None) -> tuple[RuleSet, str | None]:
    """The rule set answering for ``exchange``, and the caller's name when the
    generic profile answers for a name no rule folder has."""
    choice = generic.unknown_choice(unknown_exchange)
    try:
        return registry().get(exchange), None
    except UnknownExchangeError:
        if choice != "generic" or not isinstance(exchange, str) or not exchange.strip():
            raise
        return registry().get(GENERIC), exchange


def _renamed(result: NormalizedError, name: str) -> NormalizedError:
    items = tuple(_renamed(i, name) for i in result.items) if result.items else ()
    return _build(  # type: ignore[no-any-return]
        NormalizedError, {**result.__dict__, "exchange": name, "items": items}
    )


def _unknown(
    rs: RuleSet,
    sub: str,
    code: str | None,
    message: str | None,
    status: int | None,
    op: Operation | None,
    retry_s: float | None,
    raw: RawInput,
) -> NormalizedError:
    return _build(  # type: ignore[no-any-return]
        NormalizedError,
        {
            "exchange": rs.name,
            "category": Category.UNKNOWN,
            "subcategory": sub,
            "code": code,
            "http_status": status,
            "message": message,
            "rule_id": None,
            "rationale": None,
            "source_url": None,
            "retry_after_s": retry_s,
            "operation": op,
            "documented_code": None,
            "item_index": None,
            "items": (),
            "raw": raw,
        },
    )


@cache
def _ccxt_support() -> tuple[Callable[[object], bool], Callable[..., NormalizedError]]:
    """``_ccxt``'s two entry points, imported when first needed (an import
    statement inside ``_normalize`` cost ~1 us per call)."""
    from .._ccxt import from_ccxt, is_ccxt_error

    return is_ccxt_error, from_ccxt


def _normalize(
    rs: RuleSet,
    code: Any,
    message: Any,
    http_status: Any,
    body: Any,
    headers: Any,
    error: BaseException | None,
    op: Operation | None,
    raw: RawInput,
) -> NormalizedError:
    transport = None
    if error is not None and isinstance(error, BaseException):
        is_ccxt_error, from_ccxt = _ccxt_support()  # ccxt's exceptions, by class name
        if is_ccxt_error(error):
            return from_ccxt(rs, code, message, http_status, body, headers, error, op, raw)
        carried = response_of(error)
        if carried is not None:
            c_status, c_body, c_headers = carried
            http_status = http_status if http_status is not None else c_status
            body = body if body is not None else c_body
            headers = headers if headers is not None else c_headers
        else:
            transport = transport_kind(error)
            if message is None:
                text = str(error)
                message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    status = _status(http_status)
    if _memoizable(code, message, body):
        seen, at = _seen(rs, code, message, status, body, op, transport)
    else:
        seen, at = _decide_hinted(rs, code, message, status, body, op, transport, None, raw)
    return _reuse(seen, raw, _wait(rs, seen, headers, status, at))


def _wait(
    rs: RuleSet, seen: NormalizedError, headers: Any, status: int | None, at: float | None
) -> float | None:
    """The longest wait asked for: by the headers, the body, or a deadline in the body."""
    now = time.time()
    from_headers = (
        header_hint(rs.spec.response, headers, code=seen.code, status=status, now=now)
        if headers is not None
        else None
    )
    return longest(from_headers, seen.retry_after_s, None if at is None else max(at - now, 0.0))


# ------------------------------------------------------------ inputs seen before
#
# A router sees the same few error bodies over and over (a rate-limit storm is
# thousands of identical answers). Parsing the JSON and asking the rules again
# each time was most of normalize()'s cost (see bench/), so the result for an
# input seen before is kept, keyed by exactly what decides it, and only the
# caller's raw input and Retry-After are put into a fresh copy. Inputs of other
# types (a dict body, an exception's response) and long texts are not kept.

#: Bodies and messages longer than this are decided afresh every time.
MAX_MEMO_TEXT = 4096
_KEY_CODE = (type(None), str, int)  # exact types: no bool, whose True == 1
_KEY_TEXT = (type(None), str, bytes)


def _memoizable(code: Any, message: Any, body: Any) -> bool:
    return (
        type(code) in _KEY_CODE
        and type(message) in _KEY_TEXT
        and type(body) in _KEY_TEXT
        and (message is None or len(message) <= MAX_MEMO_TEXT)
        and (body is None or len(body) <= MAX_MEMO_TEXT)
    )


@lru_cache(maxsize=4096)
def _seen(
    rs: RuleSet,
    code: str | int | None,
    message: str | bytes | None,
    status: int | None,
    body: str | bytes | None,
    op: Operation | None,
    transport: str | None,
) -> tuple[NormalizedError, float | None]:
    """The result for these inputs, with no raw input and no header hint, and
    the absolute deadline (epoch seconds) the body named, if any."""
    return _decide_hinted(rs, code, message, status, body, op, transport, None, _NO_RAW)


_NO_RAW = RawInput()


def _reuse(seen: NormalizedError, raw: RawInput, retry_s: float | None) -> NormalizedError:
    """A copy of a kept result (and of its items) carrying this call's raw input."""
    items = tuple(_reuse(item, raw, retry_s) for item in seen.items) if seen.items else ()
    return _build(  # type: ignore[no-any-return]
        NormalizedError,
        {**seen.__dict__, "retry_after_s": retry_s, "items": items, "raw": raw},
    )


def _decide(
    rs: RuleSet,
    code: Any,
    message: Any,
    status: int | None,
    body: Any,
    op: Operation | None,
    transport: str | None,
    retry_s: float | None,
    raw: RawInput,
) -> NormalizedError:
    """The result once the caller's inputs are sorted out: parse the body, ask the rules."""
    return _decide_hinted(rs, code, message, status, body, op, transport, retry_s, raw)[0]


def _decide_hinted(
    rs: RuleSet,
    code: Any,
    message: Any,
    status: int | None,
    body: Any,
    op: Operation | None,
    transport: str | None,
    retry_s: float | None,
    raw: RawInput,
) -> tuple[NormalizedError, float | None]:
    """``_decide``, and the absolute deadline the body named (epoch seconds).

    The body is read by the exchange's envelope (``_envelope``): a batch
    answer's result is its first failed item's (code, message, category),
    with every failed item in ``items``.
    """
    parsed, text_message, malformed = _parse_body(body)
    shape = rs.spec.response
    the_code = _code(code)
    the_message = _message(message)
    at: float | None = None
    if parsed is not None:
        env = extract(shape, parsed, known_codes=rs.known_codes)
        malformed = env.malformed
        if the_code is None:
            the_code = env.code
        if the_message is None:
            the_message = env.message
        rel, at = body_hint(shape, parsed, the_message, code=the_code, status=status)
        retry_s = longest(retry_s, rel)
        if env.items:
            items = tuple(
                _result(
                    rs,
                    code=item.code,
                    message=item.message,
                    status=status,
                    operation=op,
                    transport=None,
                    retry_s=retry_s,
                    raw=raw,
                    no_match="UNKNOWN.UNMAPPED",
                    item_index=item.index,
                )
                for item in env.items
            )
            first = (
                items[0]
                if the_code == env.code and the_message == env.message
                else _result(
                    rs,
                    code=the_code,
                    message=the_message,
                    status=status,
                    operation=op,
                    transport=None,
                    retry_s=retry_s,
                    raw=raw,
                    no_match="UNKNOWN.UNMAPPED",
                )
            )
            result = _build(
                NormalizedError,
                {**first.__dict__, "item_index": None, "items": items, "raw": raw},
            )
            return result, at
        said_ok = env.success or (the_code is not None and the_code in shape.success_codes)
        if said_ok and (status is None or status < 400):
            return _unknown(
                rs, "UNKNOWN.NO_ERROR", the_code, the_message, status, op, retry_s, raw
            ), at
    if the_message is None and text_message is not None:
        the_message = text_message
    nothing = the_code is None and the_message is None and status is None and transport is None
    return _result(
        rs,
        code=the_code,
        message=the_message,
        status=status,
        operation=op,
        transport=transport,
        retry_s=retry_s,
        raw=raw,
        no_match="UNKNOWN.MALFORMED" if malformed or nothing else "UNKNOWN.UNMAPPED",
    ), at
