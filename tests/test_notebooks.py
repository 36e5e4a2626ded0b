"""The notebooks run top to bottom, and save their plots.

Each notebook is executed with nbclient in a kernel running this interpreter,
from ``notebooks/`` as its working directory, with its figures sent to a
temporary folder (``NORMALIZER_FIGURES``) so that a test run never rewrites
the committed images. A cell that raises fails the test, so a broken notebook
fails CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
PNG = b"\x89PNG\r\n\x1a\n"

#: notebook -> the figures it saves (the README links the committed copies)
FIGURES = {
    "coverage.ipynb": [
        "coverage_heatmap.png",
        "coverage_subcategories.png",
        "coverage_levels.png",
        "coverage_sections.png",
    ],
    "ccxt_comparison.ipynb": ["ccxt_verdicts.png", "ccxt_confusion.png"],
    "error_log_analysis.ipynb": [
        "log_errors_over_time.png",
        "log_actions.png",
        "log_halts.png",
    ],
    "generic_profile.ipynb": ["generic_confusion.png"],
}
NEEDS = {
    "coverage.ipynb": ["pandas", "matplotlib"],
    "ccxt_comparison.ipynb": ["pandas", "matplotlib", "ccxt"],
    "error_log_analysis.ipynb": ["pandas", "matplotlib", "dask.dataframe", "distributed"],
    "generic_profile.ipynb": ["pandas", "matplotlib"],
}


def _execute(name: str, figures: Path) -> object:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    for module in NEEDS[name]:
        pytest.importorskip(module)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    env = dict(os.environ)
    # the kernel imports this checkout's package, wherever pytest runs from
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["NORMALIZER_FIGURES"] = str(figures)
    env["MPLBACKEND"] = "Agg"
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",  # jupyter_client runs "python" kernels with sys.executable
        timeout=120,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute(env=env)
    return nb


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_runs_and_saves_its_figures(name: str, tmp_path: Path) -> None:
    nb: object = _execute(name, tmp_path)
    errors = [
        output
        for cell in nb.cells  # type: ignore[attr-defined]
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert errors == []
    # every label is drawn: matplotlib warns of a character its font has no glyph for
    # (OKX's Chinese section names drew as empty boxes)
    missing = [
        output.get("text", "")
        for cell in nb.cells  # type: ignore[attr-defined]
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "missing from font" in str(output.get("text", ""))
    ]
    assert missing == []
    for figure in FIGURES[name]:
        saved = tmp_path / figure
        assert saved.is_file(), f"{name} did not save {figure}"
        assert saved.read_bytes()[:8] == PNG
        assert saved.stat().st_size > 5_000  # a drawn plot, not an empty canvas


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_committed_figures_exist(name: str) -> None:
    assert (NOTEBOOKS / name).is_file()
    for figure in FIGURES[name]:
        committed = NOTEBOOKS / "figures" / figure
        assert committed.is_file(), f"run {name} to produce {committed}"
        assert committed.read_bytes()[:8] == PNG


def test_notebooks_are_valid() -> None:
    nbformat = pytest.importorskip("nbformat")
    for name in FIGURES:
        nbformat.validate(nbformat.read(NOTEBOOKS / name, as_version=4))


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebooks_use_only_the_public_api_and_are_committed_with_outputs(name: str) -> None:
    """A reader browsing a notebook sees its tables and plots; it imports nothing private."""
    import json

    nb = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    source = "\n".join("".join(c["source"]) for c in code)
    import re

    assert not re.search(r"normalizer\._[a-z]|from normalizer import _", source)
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert not [o for o in outputs if o.get("output_type") == "error"]
