"""Batch classification for analysis: months of logs, each distinct error decided once.

A log of millions of failed requests holds a few thousand distinct errors. Every
entry point here finds the distinct *signatures* (exchange, code, message, HTTP
status, body, error type, operation, idempotent, attempt), classifies each one
with ``normalize()`` and ``recommend()``, and hands every row the result of its
signature. So every row gets exactly what ``normalize()``/``recommend()`` return
for it, at the cost of one call per distinct error.

- ``normalize_many(records)``: an iterable of dicts in, a list of
  ``NormalizedError`` out. Rows with equal inputs share one (frozen) result.
- ``classify_partition(df, spec)``: THE partition function. A pandas frame in,
  the same frame with the added columns out. It is a module-level function of
  its two arguments only; ``spec`` (a ``FrameSpec``) is plain, picklable data:
  a custom policy travels as its YAML text and a user rules folder as the bytes
  of its YAML files, which each worker process loads once. So the same function
  runs unchanged in this process (``classify_frame``), in the file batch
  (``exchange-normalizer batch``), on Dask workers and in Spark's Python workers.
- ``classify_frame(df, ...)``: ``classify_partition`` on one pandas frame.

pandas is optional: it is imported when a frame function is called.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import itertools
import math
import operator
import os
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from .._core.arguments import (
    attempt_cell,
    attempt_of,
    code_cell,
    flag,
    flag_cell,
    status_of,
    unknown_exchange_of,
)
from .._core.errors import (
    ArgumentTypeError,
    ArgumentValueError,
    NormalizerError,
)
from .._core.policy import Policy
from .._core.vocabulary import Operation, operation_of
from .._engine.generic import UnknownExchange, unknown_choice
from .._engine.normalize import normalize
from .._engine.recommend import _policy as _policy_of_argument
from .._engine.recommend import recommend
from .._engine.results import NormalizedError
from .._formats.policy import parse_policy
from .._formats.registry import Registry, on_change

# pandas and numpy are optional and imported when a frame function runs, so their
# objects are typed Any here: a DataFrame, a Series, an ndarray.
DataFrame = Any
Series = Any
Array = Any

#: The fields of a record that ``normalize_many`` passes to ``normalize()``.
FIELDS = ("code", "message", "http_status", "body", "headers", "error", "operation")

#: The columns the partition function reads (``exchange`` is required, the
#: others optional; a column left out counts as empty).
INPUT_COLUMNS = (
    "exchange",
    "code",
    "message",
    "http_status",
    "body",
    "error_type",
    "operation",
    "idempotent",
    "attempt",
)
#: The text columns it adds (``outcome`` only where results carry one).
LABEL_COLUMNS = ("category", "subcategory", "outcome", "rule_id", "action")
#: The recommendation's columns after them; ``delay_s`` is a float, the rest text.
ACTION_COLUMNS = ("delay_s", "scope", "precondition", "policy_rule_id")
#: The last column: why a row could not be classified (None when it was), as
#: ``"<field>: <message>"``, the words the batch CLI writes for a bad row; the
#: row's other added columns are then empty.
ERROR_COLUMN = "row_error"

#: A user rules folder shipped to workers holds at most this many bytes of YAML.
MAX_RULES_BYTES = 64 * 1024 * 1024
_INT64_SAFE = 2**62
_INT32_SAFE = 2**31 - 1


# ------------------------------------------------------------ http_status


def as_http_status(value: Any) -> Any:
    """An HTTP status as ``normalize()`` reads it, from what logs store.

    ``429``, ``429.0`` (pandas stores integers with gaps as floats), ``"429"``,
    ``" 429 "`` and ``numpy.int64(429)`` all become ``429``, through the
    engine's own reading (``normalize()`` reads them the same); missing values
    (None, NaN, NA) become None; anything else is passed on as it is, for
    ``normalize()`` to judge (it ignores what is no status, with a note).
    """
    if value is None:
        return None
    status, _ = status_of(value)
    if status is not None:
        return status
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and value.strip().endswith(".0"):
        return as_http_status(value.strip()[:-2])  # a CSV written from a float column
    return value


# ------------------------------------------------------------ normalize_many


def normalize_many(
    records: Iterable[Mapping[str, Any]],
    *,
    operation: Operation | str | None = None,
    unknown_exchange: UnknownExchange | None = None,
) -> list[NormalizedError]:
    """``normalize()`` over many records, each distinct record classified once.

    Each record is a mapping with an ``exchange`` and any of ``code``,
    ``message``, ``http_status``, ``body``, ``headers``, ``error`` and
    ``operation`` (other keys are ignored); ``operation`` here is the default
    for records without one. The i-th result equals
    ``normalize(record["exchange"], **fields)``; records with equal inputs (of
    the same types) share one result object, whose ``raw`` is the first such
    record's. Records with ``headers`` or an ``error`` are classified one by
    one, as are records whose values cannot be hashed (a dict body).

    Raises what ``normalize()`` raises for a caller's mistake (an unknown
    exchange or operation), and ``ArgumentValueError`` for a record without an
    exchange (all ``NormalizerError``; it has no column to put a row's error in);
    ``unknown_exchange="generic"`` answers venue names no rules know by the
    generic profile instead, as ``normalize()`` does.
    """
    out: list[NormalizedError] = []
    memo: dict[tuple[Any, ...], NormalizedError] = {}
    for record in records:
        try:
            exchange = record["exchange"]
        except (KeyError, TypeError):
            raise ArgumentValueError(
                "records", "each record must be a mapping with an 'exchange'", record
            ) from None
        code = record.get("code")
        message = record.get("message")
        status = record.get("http_status")
        body = record.get("body")
        op = record.get("operation")
        if op is None:
            op = operation
        if record.get("headers") is not None or record.get("error") is not None:
            out.append(_one(exchange, record, op, unknown_exchange))
            continue
        # types are part of the key: True == 1 == 1.0, but not as a code
        key = (
            exchange,
            type(code),
            code,
            type(message),
            message,
            type(status),
            status,
            type(body),
            body,
            op,
        )
        try:
            hit = memo.get(key)
        except TypeError:  # an unhashable value (a dict body): classify it alone
            out.append(_one(exchange, record, op, unknown_exchange))
            continue
        if hit is None:
            hit = memo[key] = normalize(
                exchange,
                code=code,
                message=message,
                http_status=status,
                body=body,
                operation=op,
                unknown_exchange=unknown_exchange,
            )
        out.append(hit)
    return out


def _one(
    exchange: Any, record: Mapping[str, Any], op: Any, unknown_exchange: UnknownExchange | None
) -> NormalizedError:
    fields = {f: record.get(f) for f in FIELDS}
    fields["operation"] = op
    return normalize(exchange, **fields, unknown_exchange=unknown_exchange)


# ------------------------------------------------------------ what ships


@dataclass(frozen=True)
class PolicySource:
    """A policy file as data: its name (for messages) and its YAML text."""

    name: str
    text: str

    @classmethod
    def read(cls, path: str | Path) -> PolicySource:
        """Read and check a policy file here (a bad one is refused before any row)."""
        _policy_of_argument(path)  # refuses a bad or missing file with its name and line
        source = cls(str(path), Path(path).read_text(encoding="utf-8"))
        parse_policy(source.text, source.name)  # what the workers will load
        return source


@dataclass(frozen=True)
class RulesSource:
    """A rules folder as data: the bytes of its YAML files, by relative path.

    The folder has ``<exchange>/exchange.yaml``, ``rules.yaml``, optionally
    ``catalog.yaml``, and ``common/`` (what ``exchange-normalizer coverage --rules-dir``
    reads). A worker writes the files to a private temporary folder, once per
    process, and loads the rules from there; so the folder need not exist on
    the workers' machines.
    """

    name: str
    files: tuple[tuple[str, bytes], ...]
    digest: str = field(default="", compare=False)

    @classmethod
    def read(cls, root: str | Path) -> RulesSource:
        """Read a rules folder and check it here (a bad file is refused before any row)."""
        if not isinstance(root, (str, os.PathLike)):
            raise ArgumentTypeError("rules_dir", "a folder (str or Path) or None", root)
        folder = Path(root)
        if not folder.is_dir():
            raise ArgumentValueError(
                "rules_dir", f"rules folder not found: {folder}", root, whole=True
            )
        Registry(None, (folder,)).load_all()  # refuses a bad file with its name and line
        files: list[tuple[str, bytes]] = []
        total = 0
        for path in sorted(folder.rglob("*.yaml")):
            rel = path.relative_to(folder)
            if "docs" in rel.parts[:-1] or not path.is_file():
                continue
            data = path.read_bytes()
            total += len(data)
            if total > MAX_RULES_BYTES:
                raise ArgumentValueError(
                    "rules_dir",
                    f"{folder}: more than {MAX_RULES_BYTES} bytes of YAML to ship",
                    root,
                    whole=True,
                )
            files.append((rel.as_posix(), data))
        digest = hashlib.sha256()
        for rel_name, data in files:
            digest.update(rel_name.encode() + b"\0" + data + b"\0")
        return cls(str(folder), tuple(files), digest.hexdigest())


@dataclass(frozen=True)
class FrameSpec:
    """Everything the partition function needs besides the frame: plain data.

    ``operation``, ``idempotent`` and ``attempt`` apply to every row when set,
    else the row's column does (defaults: no operation, not idempotent,
    attempt 1). ``policy`` and ``rules`` are None for the bundled ones.
    ``seed`` makes each distinct error's jittered delay a function of the seed
    and the error (the same in every process and partition); None draws it at
    random. ``categorical`` returns the text columns as pandas categoricals
    (compact, for one frame) rather than plain strings (for engines' schemas).
    ``unknown_exchange`` is one of ``BATCH_UNKNOWN_EXCHANGE``
    (``normalizer._core.arguments``): ``"error"`` gives a row of a venue no
    rules know (or any row that cannot be classified) its ``row_error``,
    ``"generic"`` classifies such venues by the generic profile, ``"raise"``
    stops at the first row that cannot be classified.
    """

    operation: str | None = None
    idempotent: bool | None = None
    attempt: int | None = None
    policy: PolicySource | Policy | None = None
    rules: RulesSource | None = None
    seed: int | None = None
    categorical: bool = True
    unknown_exchange: str = "error"


def make_spec(
    *,
    operation: Operation | str | None = None,
    idempotent: bool | None = None,
    attempt: int | None = None,
    policy: Policy | str | Path | None = None,
    rules_dir: str | Path | None = None,
    seed: int | None = None,
    categorical: bool = True,
    unknown_exchange: str | None = None,
) -> FrameSpec:
    """A ``FrameSpec`` from the caller's arguments, checked here, on the driver.

    The arguments are read as ``recommend()`` reads them (``idempotent`` a
    bool, ``attempt`` an int from 1: ``normalizer._core.arguments``); a
    mistake is a ``NormalizerError``. A policy file or rules folder with a
    mistake is refused now, with its file and line, rather than in a worker.
    A policy file travels as its text; a loaded ``Policy`` is kept as it is
    (for this process: the engines' helpers take files only).
    ``unknown_exchange=None`` is ``"generic"`` after
    ``use_generic_for_unknown()``, else ``"error"``.
    """
    op = operation_of(operation).value if operation is not None else None
    idem = None if idempotent is None else flag("idempotent", idempotent)
    number = None if attempt is None else attempt_of(attempt)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ArgumentTypeError("seed", "an int or None", seed)
    choice = unknown_exchange_of(unknown_exchange, batch=True)
    if choice is None:
        choice = "generic" if unknown_choice(None) == "generic" else "error"
    shipped: PolicySource | Policy | None = None
    if isinstance(policy, Policy):
        shipped = policy
    elif policy is not None:
        shipped = PolicySource.read(policy)
    return FrameSpec(
        operation=op,
        idempotent=idem,
        attempt=number,
        policy=shipped,
        rules=RulesSource.read(rules_dir) if rules_dir is not None else None,
        seed=None if seed is None else int(seed),
        categorical=categorical,
        unknown_exchange=choice,
    )


def engine_spec(columns: Iterable[str], **arguments: Any) -> FrameSpec:
    """The spec an engine's helper (Dask, Spark) ships to its workers.

    ``arguments`` are ``make_spec``'s, checked now, on the driver; the frame
    must have an ``exchange`` column. Text columns come back as plain strings,
    which the engines' schemas declare.
    """
    names = list(columns)
    if "exchange" not in names:
        raise ArgumentValueError(
            "df", f"classify() needs an 'exchange' column; the frame has {names}", names, whole=True
        )
    return make_spec(categorical=False, **arguments)


# Per process: what a spec's data loads into, loaded once.
_loaded_lock = threading.Lock()
_policies: dict[tuple[str, str], Policy] = {}
_registries: dict[str, Registry] = {}


def _policy_of(spec: FrameSpec) -> Policy | None:
    """The spec's policy, as ``recommend()`` takes it (None: the bundled one)."""
    if spec.policy is None:
        return None
    if isinstance(spec.policy, Policy):
        return spec.policy
    key = (spec.policy.name, spec.policy.text)
    hit = _policies.get(key)
    if hit is None:
        with _loaded_lock:
            if len(_policies) >= 16:
                _policies.clear()
            hit = _policies[key] = parse_policy(spec.policy.text, spec.policy.name)
    return hit


def _registry_of(spec: FrameSpec) -> Registry | None:
    rules = spec.rules
    if rules is None:
        return None
    digest = rules.digest or hashlib.sha256(repr(rules.files).encode()).hexdigest()
    hit = _registries.get(digest)
    if hit is None:
        with _loaded_lock:
            hit = _registries.get(digest)
            if hit is None:
                hit = _registries[digest] = Registry(None, (_materialize(rules, digest),))
    return hit


def _materialize(rules: RulesSource, digest: str) -> Path:
    """The shipped rules as a folder of this machine (written once per content)."""
    import tempfile

    local = Path(rules.name)
    if local.is_dir():  # the driver, or a worker on the same machine: check it is the same
        try:
            same = all((local / rel).read_bytes() == data for rel, data in rules.files)
        except OSError:
            same = False
        if same:
            return local
    root = Path(tempfile.gettempdir()) / f"normalizer-rules-{os.getuid()}-{digest[:16]}"
    if not root.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="normalizer-rules-"))
        for rel, data in rules.files:
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        with contextlib.suppress(OSError):  # another process won the race: the same copy
            staging.rename(root)
    return root


# ------------------------------------------------------------ error_type

_KNOWN_TYPES: dict[str, str] | None = None


def _known_types() -> dict[str, str]:
    """A logged exception class name (bare or qualified) -> the qualified name we know."""
    global _KNOWN_TYPES
    if _KNOWN_TYPES is None:
        from .._engine.transport import _BY_NAME
        from .._formats.registry import bundled

        known: dict[str, str] = {}
        for entry in bundled("ccxt")["classes"]:
            known.setdefault(entry, f"ccxt.base.errors.{entry}")
        for qualified in _BY_NAME:
            known.setdefault(qualified.rsplit(".", 1)[1], qualified)
            known[qualified] = qualified
        _KNOWN_TYPES = known
    return _KNOWN_TYPES


@lru_cache(maxsize=1024)
def _exception_class(error_type: str) -> type[Exception]:
    """A stand-in class for a logged exception type, named as the live one was.

    ``normalize()`` recognises exceptions by the qualified names of their
    classes, so a class called ``ReadTimeout`` in module ``requests.exceptions``
    classifies as requests' own would. A bare name is looked up among the
    transport and ccxt classes the rules know; an unknown name stays itself (in
    no library's module), and so classifies as an unknown exception does.
    """
    name = error_type.strip()
    qualified = _known_types().get(name, name)
    module, _, qualname = qualified.rpartition(".")
    return type(
        qualname, (Exception,), {"__module__": module or "logged", "__qualname__": qualname}
    )


def logged_exception(error_type: str, message: Any) -> Exception:
    """The exception a log line ``TYPE: message`` stands for (see ``_exception_class``)."""
    return _exception_class(error_type)("" if message is None else str(message))


# ------------------------------------------------------------ one signature


def _normalize_in(
    rules: Registry | None,
    exchange: Any,
    *,
    code: Any,
    message: Any,
    http_status: Any,
    body: Any,
    error: BaseException | None,
    operation: Any,
    unknown_exchange: UnknownExchange | None = None,
) -> NormalizedError:
    """``normalize()``, against the shipped rules when there are any."""
    if rules is None:
        return normalize(
            exchange,
            code=code,
            message=message,
            http_status=http_status,
            body=body,
            error=error,
            operation=operation,
            unknown_exchange=unknown_exchange,
        )
    from .._engine import normalize as engine

    return engine.normalize_with(
        rules,
        exchange,
        code=code,
        message=message,
        http_status=http_status,
        body=body,
        error=error,
        operation=operation,
        unknown_exchange=unknown_exchange,
    )


@cache
def _has_outcome() -> bool:
    return hasattr(normalize("okx", code="58102"), "outcome")


def output_columns() -> tuple[str, ...]:
    """The columns the partition function adds, in order."""
    labels = tuple(c for c in LABEL_COLUMNS if c != "outcome" or _has_outcome())
    return (*labels, *ACTION_COLUMNS, ERROR_COLUMN)


def row_error(exc: NormalizerError) -> str:
    """A row's ``row_error``: the field and the refusal, as the batch CLI reports it."""
    argument = getattr(exc, "argument", None)
    return f"{argument}: {exc}" if argument else str(exc)


#: Results of rows without a body, by the cells that decide them (exchange,
#: code, message, HTTP status, error type; each with its type) and the
#: rules, kept across calls: a notebook classifies the same log again and
#: again. Cleared when the rules change; at most this many are kept.
MAX_DECIDED = 1 << 17
_decided: dict[tuple[Any, ...], NormalizedError] = {}
on_change(_decided.clear)


def _classify_one(
    cells: tuple[Any, ...],
    spec: FrameSpec,
    policy: Policy | None,
    rules: Registry | None,
    rand: Callable[[], float] | None,
) -> tuple[Any, ...]:
    """The added columns for one signature: its cells in ``INPUT_COLUMNS`` order
    (None for a column the frame lacks or an argument overrides)."""
    try:
        return _classified_one(cells, spec, policy, rules, rand)
    except NormalizerError as exc:  # a row that cannot be classified (never a bug of ours)
        if spec.unknown_exchange == "raise":
            raise
        return (*([None] * (len(output_columns()) - 1)), row_error(exc))


def _classified_one(
    cells: tuple[Any, ...],
    spec: FrameSpec,
    policy: Policy | None,
    rules: Registry | None,
    rand: Callable[[], float] | None,
) -> tuple[Any, ...]:
    exchange, code, logged, status, body, error_type, operation, yes_no, number = cells
    op = spec.operation if spec.operation is not None else operation
    if op is not None:
        op = operation_of(op).value
    idempotent = spec.idempotent
    if idempotent is None:
        idempotent = bool(flag_cell(yes_no, "idempotent"))
    attempt = spec.attempt if spec.attempt is not None else attempt_cell(number) or 1
    if exchange is None:
        raise ArgumentValueError(
            "exchange", "no exchange: the row's exchange cell is empty", None, whole=True
        )
    if not isinstance(exchange, str):
        raise ArgumentTypeError("exchange", "a venue name (text)", exchange)
    unknown: UnknownExchange = "generic" if spec.unknown_exchange == "generic" else "raise"
    message, error = logged, None
    if error_type is not None and str(error_type).strip():
        error, message = logged_exception(str(error_type), message), None
    key: tuple[Any, ...] | None = None
    err: NormalizedError | None = None
    if body is None:  # without a body, nothing in the result depends on the time
        key = (rules, unknown, op, type(exchange), exchange, type(code), code)
        key += (type(logged), logged, type(status), status, type(error_type), error_type)
        try:
            err = _decided.get(key)
        except TypeError:  # an unhashable cell: decided afresh
            key = None
    if err is None:
        err = _normalize_in(
            rules,
            exchange,
            code=code,
            message=message,
            http_status=status,
            body=body,
            error=error,
            operation=op,
            unknown_exchange=unknown,
        )
        if key is not None:
            with _loaded_lock:
                if len(_decided) >= MAX_DECIDED:
                    _decided.clear()
                _decided[key] = err
    # an enum member's ``_value_`` is its text, read without enum's descriptor
    labels: tuple[Any, ...] = (err.category._value_, err.subcategory)
    if _has_outcome():
        outcome = getattr(err, "outcome", None)
        labels += (None if outcome is None else outcome._value_,)
    if getattr(err, "is_error", True) is False:  # a success frame: no next action to give
        return (*labels, err.rule_id, None, None, None, None, None, None)
    if rand is None and spec.seed is not None:
        key = (spec.seed, *cells, op, idempotent, attempt)
        rand = random.Random(repr(key)).random  # noqa: S311 - jitter, not secrets
    rec = recommend(err, op, idempotent, attempt, policy, rand=rand)
    precondition = rec.precondition
    return (
        *labels,
        err.rule_id,
        rec.action._value_,
        round(float(rec.delay_s), 3),
        rec.scope._value_,
        None if precondition is None else precondition._value_,
        rec.policy_rule_id,
        None,
    )


# ------------------------------------------------------------ the partition function


def classify_partition(
    df: DataFrame, spec: FrameSpec, rand: Callable[[], float] | None = None
) -> DataFrame:
    """Classify every row of one partition: ``df`` with ``output_columns()`` added.

    Pure: its result depends on ``df`` and ``spec`` only (and on ``rand``, or
    the random jitter when neither ``rand`` nor ``spec.seed`` is given), it
    keeps no state between calls but the rules and policy it loaded from
    ``spec``, and it is picklable (a module-level function), so engines ship
    it to their workers as it is. ``rand`` is for callers in this process only.

    ``df`` has an ``exchange`` column and any of ``INPUT_COLUMNS``. Each cell
    is read as Python reads it, except that a missing value (None, NaN, NA) is
    None, a numpy scalar is its Python value, ``code`` is read by
    ``code_cell`` (``58102``, ``58102.0`` and ``"58102.0"`` are one code),
    ``idempotent`` by ``flag_cell``, ``attempt`` by ``attempt_cell``,
    ``operation`` by ``operation_of`` and ``http_status`` by
    ``as_http_status`` (``normalizer._core.arguments``: the readers of every
    entry point). A row with an ``error_type`` (a logged exception's class
    name, ``ReadTimeout``) is classified as ``normalize(error=...)``
    classifies that exception with the row's message as its text.

    A row that cannot be classified (an unknown venue, operation, a yes/no or
    attempt cell that is neither) gets its reason in ``row_error`` and empty
    added columns, and the other rows go on; under
    ``spec.unknown_exchange == "raise"`` its ``NormalizerError`` is raised
    instead. A frame without an ``exchange`` column is refused
    (``ArgumentValueError``).
    """
    pd = _pandas()
    np = _numpy()
    if not isinstance(df, pd.DataFrame):
        raise ArgumentTypeError("df", "a pandas DataFrame", df)
    if "exchange" not in df.columns:
        raise ArgumentValueError(
            "df",
            f"classify_frame() needs an 'exchange' column; the frame has {list(df)}",
            list(df),
            whole=True,
        )
    names = [c for c in INPUT_COLUMNS if c in df.columns]
    for column, value in (
        ("operation", spec.operation),
        ("idempotent", spec.idempotent),
        ("attempt", spec.attempt),
    ):
        if value is not None and column in names:
            names.remove(column)  # the argument applies to every row
    policy = _policy_of(spec)
    rules = _registry_of(spec)
    signature, codes, distinct = _signatures(pd, np, [df[c] for c in names])
    values: list[list[Any]] = []  # per column, its cell in each signature
    for name, in_signature, seen in zip(names, codes, distinct, strict=True):
        read = [*(_cell(pd, np, v, name) for v in seen), None]  # code -1 picks the None
        values.append([read[i] for i in in_signature.tolist()])
    columns = output_columns()
    # each signature's cells in INPUT_COLUMNS order; a column not read is None
    pick = operator.itemgetter(*(names.index(c) if c in names else -1 for c in INPUT_COLUMNS))
    results = [
        _classify_one(pick(cells), spec, policy, rules, rand)
        for cells in zip(*values, itertools.repeat(None))
    ]
    per_column = list(zip(*results, strict=True)) if results else [() for _ in columns]
    by_name = dict(zip(columns, per_column, strict=True))
    delays = np.asarray(by_name.pop("delay_s"), dtype=np.float64)
    added: dict[str, Any] = {}
    if spec.categorical:  # Series, so the frame takes them as they are (an array it copies)
        for name, column in _spread(pd, np, by_name, signature).items():
            added[name] = pd.Series(column, index=df.index, copy=False)
    else:  # plain objects, None where missing (pandas 3 would infer str, None -> NaN)
        for name, per_signature in by_name.items():
            array = np.asarray(list(per_signature), dtype=object)
            added[name] = pd.Series(np.take(array, signature), index=df.index, dtype=object)
    added["delay_s"] = pd.Series(np.take(delays, signature), index=df.index, copy=False)
    added = {name: added[name] for name in columns}  # in the documented order
    return df.assign(**added)


def _signatures(
    pd: Any, np: Any, columns: list[Series]
) -> tuple[Array, list[Array], list[list[Any]]]:
    """Per row, the number of its distinct signature; per column, its code in each
    signature (-1: missing) and its distinct values, in code order.

    Each column is factorized (``_factorize``) and the codes are combined, one
    column after another, into one integer key per row: a number written in
    mixed radix, one digit per column, so equal keys mean equal cells. The
    distinct keys are decoded back into each column's codes, so a signature's
    values come from the columns' own distinct values, not from a row.
    """
    stage: list[tuple[int, int]] = []  # (column, radix) of the digits in ``key``
    offset = 0  # ``key + offset`` has digits code + 1: codes start at -1 (missing)
    prefix: list[Array] | None = None  # per combination number: each earlier column's code
    factorized = [_factorize(pd, np, column) for column in columns]
    key: Array = None  # set by the first column
    size = 1
    for i, (codes, values) in enumerate(factorized):
        radix = len(values) + 1
        if size * radix >= _INT64_SAFE:  # renumber before the key could overflow
            key, combos = _integers(pd, np, key)
            key = key.astype(np.int64)  # writable, and wide enough for the next digits
            prefix = _decode(np, combos, offset, stage, prefix, len(factorized))
            stage, offset, size = [], 0, len(combos)
        if i == 0:  # the first digit: no pass over zeros
            key = codes.astype(np.int32 if radix < _INT32_SAFE else np.int64)
        else:
            if key.dtype == np.int32 and size * radix >= _INT32_SAFE:
                key = key.astype(np.int64)  # 32 bits while they do: half the memory to pass
            key *= radix
            key += codes
        offset = offset * radix + 1
        stage.append((i, radix))
        size *= radix
    signature, keys = _integers(pd, np, key)
    return (
        signature,
        _decode(np, keys, offset, stage, prefix, len(factorized)),
        [values for _, values in factorized],
    )


def _decode(
    np: Any,
    keys: Array,
    offset: int,
    stage: list[tuple[int, int]],
    prefix: list[Array] | None,
    width: int,
) -> list[Array]:
    """Each column's code in each of ``keys`` (see ``_signatures``)."""
    number = np.asarray(keys, dtype=np.int64) + offset
    digits = []
    for column, radix in reversed(stage):
        number, digit = np.divmod(number, radix)
        digits.append((column, digit - 1))
    # what is left is the number of an earlier combination (none: 0)
    codes = [earlier[number] for earlier in prefix] if prefix is not None else []
    codes += [np.full(len(number), -1, dtype=np.int64)] * (width - len(codes))
    for column, code in digits:
        codes[column] = code
    return codes


def _factorize(pd: Any, np: Any, column: Series) -> tuple[Array, list[Any]]:
    """Integer codes of a column's values (-1 where missing, or a code of its
    own), and the distinct values in code order.

    pandas takes values that compare equal for one value (``True == 1 == 1.0``)
    but normalize() does not (``True`` is no code), so in a column of Python
    objects of several types the type is part of the value. Arrow-backed text
    columns (pandas' default strings) are encoded by Arrow directly, and
    categorical columns give their own codes: both tell exactly the values
    ``pd.factorize`` tells apart, without its copies.
    """
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), dtype.categories.tolist()
    if getattr(dtype, "storage", None) == "pyarrow" or isinstance(dtype, pd.ArrowDtype):
        text = _arrow_codes(np, column)
        if text is not None:
            return text
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":  # numbers: Arrow hashes faster
        encoded = _dictionary(np, column.to_numpy())
        if encoded is not None:
            return encoded[0], encoded[1].to_pylist()
    codes, uniques = pd.factorize(column)
    if dtype == np.dtype("O") and len(uniques):
        types = np.fromiter(map(type, column.to_numpy()), dtype=object, count=len(column))
        kinds, seen = pd.factorize(types)
        if len(seen) > 1:  # codes in order of first appearance: each one's first row
            codes, _ = pd.factorize((codes + 1) * len(seen) + kinds)
            running = np.maximum.accumulate(codes)
            grows = np.flatnonzero(running[1:] != running[:-1])  # a compare: no 10 M-row difference
            first_rows = np.concatenate(([0], grows + 1))
            return codes, column.to_numpy()[first_rows].tolist()
    return codes, uniques.tolist()


def _arrow_codes(np: Any, column: Series) -> tuple[Array, list[Any]] | None:
    """Arrow's dictionary encoding of an Arrow-backed text column, or None."""
    try:
        pa = importlib.import_module("pyarrow")  # comes with pandas' Arrow strings
        data = column.array.__arrow_array__()
        if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
            return None
    except (ImportError, AttributeError, TypeError, ValueError, NotImplementedError):
        return None
    encoded = _dictionary(np, data)
    return None if encoded is None else (encoded[0], encoded[1].to_pylist())


def _dictionary(np: Any, data: Any) -> tuple[Array, Any] | None:
    """Arrow's dictionary encoding of an Arrow array or a numeric ndarray (nulls
    get a code of their own; NaN is a value, which ``_cell`` reads as missing),
    as codes and the Arrow array of the values; or None without pyarrow. Arrow
    hashes faster than pandas and reuses its memory (a 10 M-row pandas
    factorize maps fresh pages on every call)."""
    try:
        pa = importlib.import_module("pyarrow")
        pc = importlib.import_module("pyarrow.compute")

        if isinstance(data, np.ndarray):
            data = pa.array(data)  # no copy (NaN as null would cost a pass)
        if isinstance(data, pa.ChunkedArray):
            data = data.combine_chunks() if data.num_chunks != 1 else data.chunk(0)
        encoded = pc.dictionary_encode(data, null_encoding="encode")
    except (ImportError, AttributeError, TypeError, ValueError, NotImplementedError):
        return None
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary


def _integers(pd: Any, np: Any, key: Array) -> tuple[Array, Array]:
    """Codes of an integer array's values (read-only), and the values in code order."""
    encoded = _dictionary(np, key)
    if encoded is None:
        return pd.factorize(key)  # type: ignore[no-any-return]
    return encoded[0], encoded[1].to_numpy()


def _cell(pd: Any, np: Any, value: Any, column: str) -> Any:
    """A cell as ``classify_partition`` reads it (see its docstring)."""
    if column == "http_status":
        return as_http_status(None if value is pd.NA or value is pd.NaT else value)
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if column == "code":
        return code_cell(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if column == "attempt" and value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


def _spread(
    pd: Any, np: Any, per_signature: dict[str, tuple[str | None, ...]], signature: Array
) -> dict[str, Any]:
    """Categorical columns: each row gets its signature's values.

    The columns' codes are gathered for every row at once, as one array of
    records (a field per column), and each column's codes are a view of their
    field. Gathering them together costs about a third of gathering each
    column's codes on its own; the price is that the columns share that array's
    memory (a few bytes per row) for as long as any of them lives.
    """
    fields: list[tuple[str, Any]] = []
    categories: list[Any] = []
    table: list[Array] = []
    for name, values in per_signature.items():
        codes, distinct = pd.factorize(pd.Series(values, dtype=object))
        # the dtype pandas keeps for this many categories (else it converts every row's code)
        small = next(t for t in (np.int8, np.int16, np.int32) if len(distinct) < np.iinfo(t).max)
        fields.append((name, small))
        categories.append(pd.Index(distinct, dtype=object))
        table.append(codes)
    records = np.empty(len(table[0]) if table else 0, dtype=np.dtype(fields))
    for (name, _), codes in zip(fields, table, strict=True):
        records[name] = codes
    rows = np.take(records, signature)
    # the codes are in range by construction: pandas need not check ten million of them
    return {
        name: pd.Categorical.from_codes(rows[name], categories=kept, validate=False)
        for (name, _), kept in zip(fields, categories, strict=True)
    }


# ------------------------------------------------------------ one frame


def classify_frame(
    df: DataFrame,
    *,
    operation: Operation | str | None = None,
    idempotent: bool | None = None,
    attempt: int | None = None,
    policy: Policy | str | Path | None = None,
    rules_dir: str | Path | None = None,
    seed: int | None = None,
    rand: Callable[[], float] | None = None,
    unknown_exchange: str | None = None,
) -> DataFrame:
    """Classify every row of a log: ``df`` with the ontology and the action added.

    ``df`` has an ``exchange`` column and any of ``code``, ``message``,
    ``http_status``, ``body``, ``error_type``, ``operation``, ``idempotent``
    and ``attempt`` (a column left out counts as empty). ``operation``,
    ``idempotent`` and ``attempt`` apply to every row when given, else the
    row's column does. ``policy`` is a policy file (or a loaded ``Policy``),
    ``rules_dir`` a rules folder to classify with instead of the bundled one.
    Cells are read as ``classify_partition`` says.

    Returns a new frame: ``df``'s columns and index, plus ``category``,
    ``subcategory``, ``rule_id`` (what ``normalize()`` returns for the row),
    ``outcome`` (where results carry one), ``action``, ``delay_s``, ``scope``,
    ``precondition`` and ``policy_rule_id`` (what ``recommend()`` returns), and
    ``row_error``, the text ones as categorical columns, missing where the
    result is None. Each distinct row is classified once, so the jittered
    delay is drawn once per distinct error: from ``rand`` when given, from
    ``seed`` reproducibly (the same on Dask and Spark), else at random.

    The arguments are read as ``recommend()`` reads them: ``idempotent=2`` or
    ``"maybe"`` is refused (a ``NormalizerError``). A row that cannot be
    classified (a venue no rules know, an unknown operation, a yes/no or
    attempt cell that is neither) gets the reason in ``row_error`` (the
    words the batch CLI writes for a bad row) and empty added columns; the
    other rows go on. ``unknown_exchange="generic"`` classifies venues no rules
    know by the generic profile instead, ``"raise"`` raises at the first row
    that cannot be classified; ``"error"`` is the default (and the default of
    the batch CLI, Dask and Spark).
    """
    _pandas()  # says what to install, before anything else
    spec = make_spec(
        operation=operation,
        idempotent=idempotent,
        attempt=attempt,
        policy=policy,
        rules_dir=rules_dir,
        seed=seed,
        unknown_exchange=unknown_exchange,
    )
    return classify_partition(df, spec, rand)


def _pandas() -> Any:
    try:
        return importlib.import_module("pandas")
    except ImportError:
        raise ImportError(
            "classify_frame() needs pandas: pip install 'exchange-error-normalizer[batch]'"
        ) from None


@cache
def _numpy() -> Any:
    return importlib.import_module("numpy")  # comes with pandas
