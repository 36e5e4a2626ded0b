"""Start-up cost: importing the package and loading every bundled rule, in fresh processes.

Each figure is the median of several fresh interpreters (the fastest total is
reported too: on a shared machine the median moves with the load). Bytecode is cached
(in a temporary ``PYTHONPYCACHEPREFIX``, warmed by a first run) as it is for
an installed wheel, even where ``PYTHONDONTWRITEBYTECODE`` is set. The same is
measured for importing pydantic and PyYAML and defining one pydantic model,
which is the part of the start-up this project cannot remove.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STARTUP = r"""
import json, time
t0 = time.perf_counter()
import normalizer
t1 = time.perf_counter()
normalizer._engine.normalize.registry().load_all()
normalizer.default_policy()
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "load_ms": (t2 - t1) * 1e3,
                  "total_ms": (t2 - t0) * 1e3}))
"""

FLOOR = r"""
import json, time
t0 = time.perf_counter()
import yaml
from pydantic import BaseModel
class One(BaseModel):
    x: int
print(json.dumps({"total_ms": (time.perf_counter() - t0) * 1e3}))
"""

MEMORY = r"""
import json, tracemalloc
tracemalloc.start()
import normalizer
after_import = tracemalloc.get_traced_memory()[0]
normalizer._engine.normalize.registry().load_all()
normalizer.default_policy()
loaded = tracemalloc.get_traced_memory()[0]
print(json.dumps({"import_kib": after_import / 1024, "rules_kib": (loaded - after_import) / 1024}))
"""


def _run(code: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(  # noqa: S603 - this interpreter, running this module's own code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(runs: int = 9) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="normalizer-bench-pyc-") as pyc:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pyc
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        _run(STARTUP, env)  # compile and cache the bytecode
        _run(FLOOR, env)
        startup = [_run(STARTUP, env) for _ in range(runs)]
        floor = [_run(FLOOR, env)["total_ms"] for _ in range(runs)]
        memory = _run(MEMORY, env)
    return {
        "import_ms": statistics.median(s["import_ms"] for s in startup),
        "load_ms": statistics.median(s["load_ms"] for s in startup),
        "total_ms": statistics.median(s["total_ms"] for s in startup),
        "total_min_ms": min(s["total_ms"] for s in startup),
        "pydantic_floor_ms": statistics.median(floor),
        "import_kib": memory["import_kib"],
        "rules_kib": memory["rules_kib"],
    }
