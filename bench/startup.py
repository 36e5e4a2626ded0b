"""Start-up cost: ``import normalizer`` + the first ``normalize()`` + ``recommend()``.

Measured in fresh interpreters beside ``import json, re, random`` (the floor a
router pays anyway), both timed the same way (``import sys, time`` before the
clock starts, ``json`` inside the timed region on both sides), and reported as
the ratio of the two medians (the target: at most 3). Each figure is the
median of several fresh interpreters.
Bytecode is cached (in a temporary ``PYTHONPYCACHEPREFIX``, warmed by a first
run) as it is for an installed wheel, and so is the compiled rule store. Each
run also reports whether pydantic or PyYAML were imported on that path (they
must not be). Memory: every venue's rules loaded.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

STARTUP = r"""
import sys, time
t0 = time.perf_counter()
import json
import normalizer
t1 = time.perf_counter()
err = normalizer.normalize("okx", body='{"code":"58102","msg":"Rate limit reached.","data":[]}',
                           http_status=200)
normalizer.recommend(err, operation="transfer")
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_call_ms": (t2 - t1) * 1e3,
                  "total_ms": (t2 - t0) * 1e3,
                  "heavy": sorted(m for m in ("pydantic", "yaml") if m in sys.modules)}))
"""

FLOOR = r"""
import time
t0 = time.perf_counter()
import json, re, random
t1 = time.perf_counter()
print(json.dumps({"total_ms": (t1 - t0) * 1e3}))
"""

MEMORY = r"""
import json, tracemalloc
tracemalloc.start()
import normalizer
after_import = tracemalloc.get_traced_memory()[0]
from normalizer._formats.registry import registry  # internal on purpose: loads every
registry().load_all()  # venue at once, which the public API only does lazily
normalizer.default_policy()
loaded = tracemalloc.get_traced_memory()[0]
print(json.dumps({"import_kib": after_import / 1024, "rules_kib": (loaded - after_import) / 1024,
                  "exchanges": len(registry().names)}))
"""


def _run(code: str, env: dict[str, str]) -> dict[str, Any]:
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
        # interleaved, as the latency sides are: a shared machine's slow spell
        # falls on both sides, not on one
        startup: list[dict[str, Any]] = []
        floor: list[float] = []
        for _ in range(runs):
            startup.append(_run(STARTUP, env))
            floor.append(_run(FLOOR, env)["total_ms"])
        memory = _run(MEMORY, env)
    total = statistics.median(s["total_ms"] for s in startup)
    floor_ms = statistics.median(floor)
    return {
        "import_ms": statistics.median(s["import_ms"] for s in startup),
        "first_call_ms": statistics.median(s["first_call_ms"] for s in startup),
        "total_ms": total,
        "total_min_ms": min(s["total_ms"] for s in startup),
        "floor_ms": floor_ms,
        "ratio": total / floor_ms,
        "heavy_imports": sorted({m for s in startup for m in s["heavy"]}),
        "import_kib": memory["import_kib"],
        "rules_kib": memory["rules_kib"],
        "exchanges": memory["exchanges"],
    }
