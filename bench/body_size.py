"""Cost against body size: an OKX error body from 1 KB to 1 MB.

The body is ``{"n": i, "code": "58102", "msg": ..., "data": [...]}`` whose
``data`` list pads it to the size; each call gets a body no call has had
(``n`` differs), and the same body again is timed as "seen before". Thread CPU
time per call, best of several rounds. The cost should grow with the size and
show no step (today's target: none at 4,096 -> 4,097 characters, where a
memo limit once sat); a body over ``MAX_BODY_BYTES`` is not read and says so
in ``notes``.
"""

from __future__ import annotations

import json
import time
from typing import Any

SIZES = (1_000, 4_096, 4_097, 16_000, 64_000, 256_000, 1_000_000)
MSG = "Rate limit reached. Please refer to API docs and throttle requests accordingly."


def body_of(size: int, n: int) -> str:
    """An OKX body of exactly ``size`` characters, numbered ``n``."""
    head = json.dumps({"n": n, "code": "58102", "msg": MSG, "data": []}, separators=(",", ":"))
    pad = size - len(head) - 2  # '["' + ... + '"]' replaces '[]'
    if pad < 0:
        raise ValueError(size)
    return head[:-3] + '["' + "x" * pad + '"]}'


def _per_call(fn: Any, bodies: list[str]) -> float:
    clock = time.thread_time
    start = clock()
    for b in bodies:
        fn(b)
    return (clock() - start) / len(bodies)


def run(rounds: int = 5) -> list[dict[str, Any]]:
    import normalizer

    normalize = normalizer.normalize
    out = []
    serial = 0
    for size in SIZES:
        calls = max(8, min(2_000, 4_000_000 // size))

        def call(body: str) -> object:
            return normalize("okx", body=body, http_status=200)

        new_best = seen_best = float("inf")
        for _ in range(rounds):
            bodies = [body_of(size, serial + i) for i in range(calls)]
            serial += calls
            new_best = min(new_best, _per_call(call, bodies))
            same = bodies[:1] * calls
            call(same[0])
            call(same[0])  # kept from its second sight
            fresh = [b.encode().decode() for b in same]  # equal strings, new objects
            seen_best = min(seen_best, _per_call(call, fresh))
        err = call(body_of(size, -1))
        assert err.code == "58102", (size, err)
        out.append({"size": size, "new_us": new_best * 1e6, "seen_us": seen_best * 1e6})
    return out


def over_cap_note() -> str:
    """What a body over the size cap says (in ``notes``)."""
    import normalizer
    from normalizer._engine.inputs import MAX_BODY_BYTES

    err = normalizer.normalize("okx", body=body_of(MAX_BODY_BYTES + 1, 0))
    return "; ".join(err.notes)


def step(rows: list[dict[str, Any]]) -> float:
    """The cost at 4,097 characters over that at 4,096 (never seen)."""
    at = {r["size"]: r["new_us"] for r in rows}
    return float(at[4_097] / at[4_096])


def per_kb_spread(rows: list[dict[str, Any]]) -> float:
    """Largest over smallest cost per KB, from 16 KB up (never seen): 1 is linear."""
    per_kb = [r["new_us"] / (r["size"] / 1000) for r in rows if r["size"] >= 16_000]
    return max(per_kb) / min(per_kb)
