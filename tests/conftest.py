from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
