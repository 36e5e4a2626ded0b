"""A user's rules folder of thousands of rules: what it costs to load and to use.

A desk that routes through its own gateway may write a rule per gateway
message: ``okx/rules.yaml`` with N code-less message rules (each its own
template, four categories in turn). Measured in fresh interpreters, the same
way for every N:

- loading: CPU seconds of ``load_rules(folder)`` plus building OKX's rule set,
  and the growth of the process's resident memory it leaves; for N = 1,000 to
  10,000, so that growth can be seen to be linear (``per_rule`` figures);
- first sight of a bundled code (OKX 58102 in a body) with nothing memoised
  (``reset_caches()`` before every call, its own cost timed alone and taken
  off), with the 10,000-rule folder loaded and with the bundled rules only.
  Target: at most 2 times the bundled-only figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1_000, 2_500, 5_000, 10_000)
CATEGORIES = (
    "INVALID_REQUEST.PARAMETER",
    "INSUFFICIENT_FUNDS.BALANCE",
    "NOT_FOUND.ORDER",
    "RATE_LIMIT.REQUESTS",
)


def write_folder(root: Path, n: int) -> Path:
    """``root/okx/rules.yaml`` with ``n`` code-less message rules."""
    (root / "okx").mkdir(parents=True, exist_ok=True)
    lines = ["exchange: okx", "source_url: https://example.com/our-gateway", "rules:"]
    for i in range(n):
        lines += [
            f"  - id: desk.gateway-{i}",
            f"    category: {CATEGORIES[i % len(CATEGORIES)]}",
            f"    why: Our gateway's failure number {i}.",
            "    when:",
            f'      message: "gateway failure {i:05d}q on {{venue}}"',
        ]
    (root / "okx" / "rules.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


LOAD = r"""
import gc, json, os, sys, time
import normalizer
from normalizer._formats.registry import registry

def resident():  # current resident memory in bytes (Linux), not the peak
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0

registry().get("okx")
gc.collect()
before = resident()
t = time.process_time()
normalizer.load_rules(sys.argv[1])
rs = registry().get("okx")
spent = time.process_time() - t
gc.collect()
grew = resident() - before
print(json.dumps({"cpu_s": spent, "mib": grew / 2**20, "rules": len(rs.rules)}))
"""

FIRST_SIGHT = r"""
import json, sys, time
import normalizer
from normalizer._engine.normalize import reset_caches
if sys.argv[1] != "-":
    normalizer.load_rules(sys.argv[1])
body = '{"code":"58102","msg":"Rate limit reached.","data":[]}'
normalizer.normalize("okx", body='{"code":"1","msg":"warm up","data":[]}')
clock, n = time.thread_time, int(sys.argv[2])
best_call = best_reset = float("inf")
for _ in range(7):
    t = clock()
    for _ in range(n):
        reset_caches()
        normalizer.normalize("okx", body=body, http_status=200)
    best_call = min(best_call, (clock() - t) / n)
    t = clock()
    for _ in range(n):
        reset_caches()
    best_reset = min(best_reset, (clock() - t) / n)
err = normalizer.normalize("okx", body=body, http_status=200)
print(json.dumps({"us": (best_call - best_reset) * 1e6, "rule": err.rule_id}))
"""


def _run(code: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603 - this interpreter, this module's own code
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(calls: int = 2000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="normalizer-bench-rules-") as tmp:
        loads = []
        for n in SIZES:
            folder = write_folder(Path(tmp) / f"f{n}", n)
            got = _run(LOAD, str(folder))
            loads.append({"n": n, **got})
        largest = str(Path(tmp) / f"f{SIZES[-1]}")
        bundled = _run(FIRST_SIGHT, "-", str(calls))
        with_user = _run(FIRST_SIGHT, largest, str(calls))
    assert bundled["rule"] == with_user["rule"] == "okx.transfer-rate-limit", (bundled, with_user)
    return {
        "loads": loads,
        "first_sight_bundled_us": bundled["us"],
        "first_sight_user_us": with_user["us"],
        "ratio": with_user["us"] / bundled["us"],
        # linear: the cost per rule of the largest folder over that of the smallest
        "cpu_growth": (loads[-1]["cpu_s"] / loads[-1]["n"]) / (loads[0]["cpu_s"] / loads[0]["n"]),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
