from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]


def _durable_rules_importable() -> bool:
    """Whether durable-rules imports here (it may be installed yet not import).

    On Python 3.13 or with a hand-built copy, ``import durable.engine`` can fail
    with something other than ImportError, which ``pytest.importorskip``
    does not turn into a skip: the supervisor tests would error at collection.
    Such a copy is hidden (as if not installed), so they skip instead, and
    ``Supervisor()`` raises ``SupervisorUnavailable`` as it does without it.
    """
    try:
        import durable.engine  # noqa: F401
    except ImportError:
        return False
    except Exception:  # a broken build: hide it
        for name in [m for m in sys.modules if m == "durable" or m.startswith("durable.")]:
            del sys.modules[name]
        sys.modules["durable"] = None  # type: ignore[assignment]
        sys.modules["durable.engine"] = None  # type: ignore[assignment]
        return False
    return True


DURABLE_RULES = _durable_rules_importable()
SEEDS = REPO.parent / "shared" / "seeds"

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def seeds() -> Path:
    if not SEEDS.is_dir():  # pragma: no cover - CI always has shared/ beside the clone
        pytest.skip(f"the docs seeds are not at {SEEDS}")
    return SEEDS
