"""``python -m bench``: this project against ccxt, start-up, and the batch path.

Run it from the repository root (``pip install -e '.[bench]'`` first). It
prints Markdown: the tables the README quotes. ``--quick`` runs
fewer rounds on a smaller log (for a smoke test, not for quoting).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from . import body_size, latency, startup, supervisor, throughput, user_rules

#: Targets (issue 22), ratios to ccxt in the same run, thread CPU time. The
#: read-timeout and first-sight targets of issue 9 are retired.
TARGET_SEEN_GEOMEAN = 0.4  # seen before: geometric mean over the cases
TARGET_NEW_GEOMEAN = 1.0  # never seen (bodies new for the whole run): geometric mean
TARGET_STARTUP_RATIO = 3.0  # import + first call, vs import json, re, random
TARGET_RULES_MIB = 10.0
TARGET_USER_RULES_RATIO = 2.0  # first sight of a bundled code, 10,000 user rules vs none
TARGET_ROWS_S = 10_000_000

#: Why a case is slower than ccxt, printed when it is.
WHY_SLOWER = {
    "never seen": (
        "a new body is parsed (the C scanner), read by the venue's envelope (code and "
        "message fields, batch items, success flags, retry hints), classified (kept per "
        "code and message) and built into a result; ccxt does json.loads and one dict lookup."
    ),
}


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # not on every platform
        load = "unknown"
    return {
        "load": load,
        "cpu": cpu,
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "ccxt": version("ccxt"),
        "pydantic": version("pydantic"),
        "pandas": version("pandas"),
        "pyarrow": version("pyarrow"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run, not for quoting")
    parser.add_argument("--rows", type=int, help="rows of the generated log (10,000,000)")
    parser.add_argument("--rounds", type=int, help="alternating rounds per case (21)")
    parser.add_argument(
        "--skip",
        choices=[
            "latency",
            "startup",
            "rules",
            "sizes",
            "batch",
            "batch-cli",
            "engines",
            "supervisor",
            "wrapper",
        ],
        action="append",
        default=[],
        help="leave a part out (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    try:
        import ccxt  # noqa: F401
        import pandas  # noqa: F401
    except ImportError as exc:
        print(f"the benchmark needs the bench extra: pip install -e '.[bench]' ({exc})")
        return 2

    rounds = args.rounds or (5 if args.quick else 21)
    seconds = 0.005 if args.quick else 0.02
    rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    report: dict[str, object] = {"machine": machine()}
    m = report["machine"]
    assert isinstance(m, dict)
    print(f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['system']}, Python {m['python']}")
    print(f"Load average when started: {m['load']} (figures from a busy machine are slower)")
    print(
        f"ccxt {m['ccxt']}, pydantic {m['pydantic']}, pandas {m['pandas']}, "
        f"pyarrow {m['pyarrow']}\n"
    )
    verdicts = []

    def verdict(name: str, value: float, target: float, fmt: str = ".2f", low: bool = True) -> str:
        ok = value <= target if low else value >= target
        sign = "<=" if low else ">="
        return f"{name}: {value:{fmt}} (target {sign} {target:{fmt}}) {'met' if ok else 'MISSED'}"

    if "latency" not in args.skip:
        rows_ = latency.run(rounds, seconds)
        floor = latency.floor_us(rounds, seconds)
        gm = latency.geomean([r.ratio for r in rows_])
        news = [r.ratio_new for r in rows_ if r.ratio_new is not None]
        gm_new = latency.geomean(news)
        print(f"## Per error (us of thread CPU time per call, median of {rounds} rounds)\n")
        print(
            "| case | ccxt json.loads + handle_errors | ours, seen before | ratio "
            "| ccxt, new body | ours, new body | ratio |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in rows_:
            new = (
                f"{r.ccxt_new_us:.2f} | {r.ours_new_us:.2f} | {r.ratio_new:.2f}"
                if r.ratio_new is not None and r.ccxt_new_us is not None and r.ours_new_us
                else "| |"
            )
            print(f"| {r.case.name} | {r.ccxt_us:.2f} | {r.ours_us:.2f} | {r.ratio:.2f} | {new} |")
        print(
            f"| **geometric mean** | | | **{gm:.2f}** (<= {TARGET_SEEN_GEOMEAN:g}) | | | "
            f"**{gm_new:.2f}** (<= {TARGET_NEW_GEOMEAN:g}) |\n"
        )
        print(f"Floor (a dict lookup, raise and catch): {floor:.2f} us.")
        print(
            "'seen before': the same body again (a fresh but equal string each call). "
            "'new body': every call a body no call of the run has had (one more key, "
            '`{"n": 123, ...}`), on both sides; nothing is cleared between calls.\n'
        )
        for line in latency.check_same_answers():
            print(f"- {line}")
        print()
        verdicts.append(verdict("seen before, geometric mean", gm, TARGET_SEEN_GEOMEAN))
        verdicts.append(verdict("never seen, geometric mean (bodies)", gm_new, TARGET_NEW_GEOMEAN))
        report["latency"] = {
            "rows": [
                {"case": r.case.name, **{k: v for k, v in asdict(r).items() if k != "case"}}
                for r in rows_
            ],
            "geomean": gm,
            "geomean_never_seen": gm_new,
            "floor_us": floor,
        }

    if "startup" not in args.skip:
        s = startup.measure(5 if args.quick else 21)
        print("## Start-up (fresh interpreters, median)\n")
        print(
            "| import normalizer | first normalize + recommend | total (fastest) "
            "| import json, re, random | ratio (target) | pydantic/PyYAML imported "
            "| every venue's rules in memory |"
        )
        print("|---:|---:|---:|---:|---:|---|---:|")
        print(
            f"| {s['import_ms']:.1f} ms | {s['first_call_ms']:.1f} ms | {s['total_ms']:.1f} ms "
            f"({s['total_min_ms']:.1f} ms) | {s['floor_ms']:.1f} ms "
            f"| {s['ratio']:.2f} (<= {TARGET_STARTUP_RATIO:g}) "
            f"| {', '.join(s['heavy_imports']) or 'neither'} "
            f"| {s['rules_kib'] / 1024:.1f} MiB ({s['exchanges']} venues) |\n"
        )
        verdicts.append(verdict("start-up ratio", s["ratio"], TARGET_STARTUP_RATIO))
        verdicts.append(
            "start-up imports neither pydantic nor PyYAML: "
            + ("met" if not s["heavy_imports"] else f"MISSED ({s['heavy_imports']})")
        )
        verdicts.append(
            verdict("rules in memory (MiB)", s["rules_kib"] / 1024, TARGET_RULES_MIB, ".1f")
        )
        report["startup"] = s

    if "rules" not in args.skip:
        u = user_rules.run(500 if args.quick else 2000)
        print("## A user's rules folder (okx/rules.yaml, code-less message rules)\n")
        print("| rules | load CPU s | per 1,000 rules | resident memory added |")
        print("|---:|---:|---:|---:|")
        for row in u["loads"]:
            print(
                f"| {row['n']:,} | {row['cpu_s']:.2f} | {row['cpu_s'] / row['n'] * 1000:.2f} "
                f"| {row['mib']:.0f} MiB |"
            )
        print(
            f"\nFirst sight of a bundled code (OKX 58102, nothing memoised): "
            f"{u['first_sight_bundled_us']:.1f} us with the bundled rules only, "
            f"{u['first_sight_user_us']:.1f} us with {user_rules.SIZES[-1]:,} user rules: "
            f"{u['ratio']:.2f} x (target <= {TARGET_USER_RULES_RATIO:g}).\n"
        )
        verdicts.append(
            verdict(
                "10,000 user rules, first sight of a bundled code",
                u["ratio"],
                TARGET_USER_RULES_RATIO,
            )
        )
        verdicts.append(
            verdict(
                "loading 10,000 vs 1,000 user rules, CPU per rule (1 = linear)",
                u["cpu_growth"],
                1.5,
            )
        )
        report["user_rules"] = u

    if "sizes" not in args.skip:
        rows_s = body_size.run(3 if args.quick else 5)
        print("## Cost against body size (OKX body padded; us of thread CPU per call)\n")
        print("| characters | never seen | per KB | seen before |")
        print("|---:|---:|---:|---:|")
        for r in rows_s:
            print(
                f"| {r['size']:,} | {r['new_us']:.1f} | {r['new_us'] / (r['size'] / 1000):.2f} "
                f"| {r['seen_us']:.1f} |"
            )
        stepped = body_size.step(rows_s)
        spread = body_size.per_kb_spread(rows_s)
        note = body_size.over_cap_note()
        print(
            f"\n4,096 -> 4,097 characters: {stepped:.2f} x. Per-KB cost from 16 KB to 1 MB: "
            f'largest / smallest {spread:.2f}. Over the cap: notes say "{note}".\n'
        )
        verdicts.append(verdict("body size: step at 4,097 characters", stepped, 1.25))
        verdicts.append(
            "body over the size cap says so in notes: "
            + ("met" if "size cap" in note else "MISSED")
        )
        report["body_size"] = {"rows": rows_s, "step": stepped, "spread": spread, "note": note}

    if "batch" not in args.skip:
        t = throughput.run(rows, many_rows=min(rows, 1_000_000), naive_rows=min(rows, 50_000))
        print(f"## Batch ({t.rows:,} rows, {t.distinct:,} distinct errors)\n")
        print("| path | rows/s | vs the naive loop |")
        print("|---|---:|---:|")
        for name, rate in (
            ("classify_frame (string columns)", t.frame_rows_s),
            ("classify_frame (categorical columns)", t.frame_categorical_rows_s),
            (f"normalize_many ({t.many_rows:,} dicts)", t.many_rows_s),
            (f"naive loop: normalize + recommend per row ({t.naive_rows:,} rows)", t.naive_rows_s),
        ):
            print(f"| {name} | {rate:,.0f} | {rate / t.naive_rows_s:,.0f}x |")
        print(f"\nclassify_frame matched the per-row calls on {t.checked_rows:,} rows.\n")
        verdicts.append(
            verdict(
                "classify_frame (M rows/s)",
                t.frame_rows_s / 1e6,
                TARGET_ROWS_S / 1e6,
                ".1f",
                low=False,
            )
        )
        report["batch"] = asdict(t)

    if "engines" not in args.skip:
        from . import engines

        cluster_rows = min(rows, 200_000 if args.quick else 2_000_000)
        rates = engines.run(rows, cluster_rows)
        print(
            f"## The batch path per engine (pandas {rows:,} rows; "
            f"Dask and Spark {cluster_rows:,})\n"
        )
        print(engines.table(rates) + "\n")
        report["engines"] = [asdict(r) for r in rates]

    if "supervisor" not in args.skip:
        rates = supervisor.run(10_000 if args.quick else 100_000, os.environ.get("BENCH_REDIS_URL"))
        print("## Supervisor: observe() on the bundled policy (one thread)\n")
        print("| store | events/s (thread CPU) | events/s (wall) | events |")
        print("|---|---:|---:|---:|")
        for r in rates:
            print(f"| {r.store} | {r.cpu_events_s:,.0f} | {r.wall_events_s:,.0f} | {r.events:,} |")
        print("\nMemory over a long stream: `python bench/supervisor_memory.py` (1M events).\n")
        targets = {
            "memory": supervisor.TARGET_MEMORY_EVENTS_S,
            "redis (127.0.0.1)": supervisor.TARGET_REDIS_EVENTS_S,
        }
        for r in rates:
            target = targets[r.store]
            verdicts.append(
                f"supervisor {r.store} {r.cpu_events_s:,.0f} events/s of thread CPU "
                f"(target >= {target:,}): " + ("met" if r.cpu_events_s >= target else "MISSED")
            )
        verdicts.extend(supervisor.verdicts())  # the Redis ratio target (issue 23)
        report["supervisor"] = [asdict(r) for r in rates]

    if "batch-cli" not in args.skip:  # the batch command end to end (bench/batch_cli.py)
        from . import batch_cli

        cli_rates = batch_cli.run(rows)
        print(f"## The batch command end to end ({rows:,} rows, CSV and Parquet files)\n")
        print(batch_cli.table(cli_rates) + "\n")
        verdicts += batch_cli.verdicts(cli_rates)
        report["batch_cli"] = [asdict(r) for r in cli_rates]

    if "wrapper" not in args.skip:  # the ccxt wrapper: its cost and the chaos run (issue 27)
        from . import wrapper

        text, figures = wrapper.report(quick=args.quick)
        print(text + "\n")
        verdicts.append(wrapper.verdict(figures))
        report["wrapper"] = figures

    print("## Targets\n")
    for v in verdicts:
        print(f"- {v}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
