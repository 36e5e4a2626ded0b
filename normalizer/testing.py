"""Helpers for the tests of code that uses the normalizer (and for ours).

``reset()`` puts the package back as a fresh process has it: the bundled rules
only (any ``load_rules()`` folder dropped) and every memo of the engine empty,
so that the next ``normalize()`` sees each input for the first time. Tests call
it instead of clearing the engine's caches by name::

    import normalizer.testing

    def teardown_function() -> None:
        normalizer.testing.reset()

The supervisor's store contract suite is ``normalizer.supervisor.testing``.
"""

from __future__ import annotations

from ._engine.memo import reset_caches
from ._formats.registry import reset_rules

__all__ = ["forget_memos", "reset"]


def forget_memos() -> None:
    """Empty every memo of the engine (decisions, folded text, resolved codes), keeping
    the rules loaded: each input is then seen for the first time."""
    reset_caches()


def reset() -> None:
    """The bundled rules only, and every memo of the engine empty."""
    reset_rules()
    reset_caches()
