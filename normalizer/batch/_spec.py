"""The batch path's spec: the caller's arguments, checked on the driver, as plain data.

``make_spec`` reads the arguments as ``recommend()`` reads them
(``normalizer._core.arguments``) and refuses a mistake with a
``NormalizerError`` before any row is read; ``FrameSpec`` carries them, with a
custom policy and rules folder as data (``_shipping``), to every partition.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._core.arguments import attempt_of, flag, unknown_exchange_of
from .._core.errors import ArgumentTypeError, ArgumentValueError
from .._core.frozen import frozen
from .._core.policy import Policy
from .._core.vocabulary import Operation, operation_of
from .._engine.generic import unknown_choice
from .._formats.registry import Registry
from ._shipping import PolicySource, RulesSource, policy_of, registry_of


@frozen
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


# Per process: the spec's policy and rules, loaded once (``_shipping``).


def _policy_of(spec: FrameSpec) -> Policy | None:
    """The spec's policy, as ``recommend()`` takes it (None: the bundled one)."""
    return policy_of(spec.policy)


def _registry_of(spec: FrameSpec) -> Registry | None:
    """The spec's rules, loaded (None: the bundled ones)."""
    return registry_of(spec.rules)
