"""``exchange-normalizer batch``: the file batch, streamed (issue #15).

Memory is measured in a subprocess (peak RSS) on generated inputs of two sizes;
nothing here asserts a time.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from normalizer.batch import output_columns
from normalizer.cli import main

REPO = Path(__file__).resolve().parents[1]

LOG = [
    {
        "ts": "2026-01-01T00:00:00Z",
        "exchange": "okx",
        "code": "58102",
        "http_status": 429,
        "operation": "transfer",
    },
    {
        "ts": "2026-01-01T00:00:01Z",
        "exchange": "mexc",
        "body": {"code": 10101, "msg": "Insufficient balance"},
        "http_status": 400,
        "operation": "place_order",
    },
    {
        "ts": "2026-01-01T00:00:02Z",
        "exchange": "okx",
        "message": "nothing we know",
        "operation": "query",
    },
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def problems(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_batch_jsonl_to_csv(capsys, tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "log.jsonl", LOG)
    dst = tmp_path / "out.csv"
    code, out, err = run(capsys, "batch", str(src), "-o", str(dst), "--no-progress")
    assert (code, out) == (0, "")
    assert err.startswith(f"3 rows -> {dst} (csv)")
    assert "0 bad rows" in err
    rows = list(csv.DictReader(dst.open()))
    written = [c for c in output_columns() if c != "row_error"]  # bad rows go aside
    assert list(rows[0])[-len(written) :] == written
    assert [r["ts"] for r in rows] == [r["ts"] for r in LOG]  # kept, in order
    assert [r["category"] for r in rows] == ["RATE_LIMIT", "INSUFFICIENT_FUNDS", "UNKNOWN"]
    assert [r["action"] for r in rows] == ["RETRY", "HALT", "ESCALATE"]
    assert rows[0]["rule_id"] == "okx.transfer-rate-limit"
    assert rows[2]["rule_id"] == ""  # missing, not "nan"
    assert float(rows[0]["delay_s"]) >= 1.0
    assert json.loads(rows[1]["body"]) == {"code": 10101, "msg": "Insufficient balance"}
    assert problems(tmp_path / "out.errors.jsonl") == []


def test_batch_csv_to_stdout_with_default_exchange(capsys, tmp_path: Path) -> None:
    src = tmp_path / "log.csv"
    src.write_text("code,message,http_status\n58102,,429\n,Insufficient balance.,\n")
    code, out, _ = run(capsys, "batch", str(src), "--exchange", "okx")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["subcategory"] for r in rows] == ["RATE_LIMIT.REQUESTS", "INSUFFICIENT_FUNDS.BALANCE"]


def test_batch_progress_bar_and_standard_input(capsys, monkeypatch, tmp_path: Path) -> None:
    pytest.importorskip("tqdm")
    src = _jsonl(tmp_path / "log.jsonl", LOG)
    dst = tmp_path / "out.csv"
    code, _, err = run(capsys, "batch", str(src), "-o", str(dst), "--progress")
    assert code == 0
    assert "normalizing: 3row" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(src.read_text()))
    code, out, err = run(capsys, "batch", "-")
    assert (code, err) == (0, "")  # not a terminal: no bar
    assert [r["action"] for r in csv.DictReader(io.StringIO(out))] == ["RETRY", "HALT", "ESCALATE"]


def test_usage_mistakes_are_refused_before_any_row(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "batch", str(tmp_path / "none.jsonl"))
    assert code == 2
    assert err.strip().endswith(f": no such file: {tmp_path / 'none.jsonl'}")
    src = _jsonl(tmp_path / "log.jsonl", LOG)
    code, _, err = run(capsys, "batch", str(src), "--format", "parquet")
    assert code == 2
    assert "Parquet cannot go to standard output" in err
    for name in ("out.txt", "out.json", "out"):
        code, _, err = run(capsys, "batch", str(src), "-o", str(tmp_path / name))
        assert code == 2, name
        assert "unknown output type" in err
        assert not (tmp_path / name).exists()
    code, _, err = run(capsys, "batch", str(src), "--exchange", "nowhere")
    assert (code, "unknown exchange 'nowhere'" in err) == (2, True)


BAD = [
    (b'{"exchange": "okx", "code": "58102"}', None),
    (b"{not json", "not valid JSON"),
    (b'{"exchange": "okx", "message": "\\ud800 lone"}', "lone surrogate"),
    (b'{"exchange": "okx", "message": "' + b"x" * 131_072 + b'"}', "131072 characters"),
    (b'{"exchange": "nowhere", "code": "1"}', "unknown exchange 'nowhere'"),
    (b'{"code": "58102"}', "no exchange"),
    (b'{"exchange": "okx", "operation": "levitate"}', "unknown operation 'levitate'"),
    (b'{"exchange": "okx", "attempt": "two"}', "attempt must be a whole number"),
    (b'{"exchange": "okx", "http_status": "teapot"}', "not an HTTP status"),
    (b'{"exchange": "okx", "message": "caf\xe9"}', "not UTF-8"),
    (b"[1, 2]", "JSON object"),
    (b'{"exchange": "mexc", "code": "10101"}', None),
]


def test_bad_rows_are_reported_with_their_line_and_counted(capsys, tmp_path: Path) -> None:
    """One bad row does not abort the run; each is in the errors file, none is lost."""
    src = tmp_path / "log.jsonl"
    src.write_bytes(b"\n".join(line for line, _ in BAD) + b"\n")
    dst = tmp_path / "out.csv"
    code, _, err = run(capsys, "batch", str(src), "-o", str(dst), "--no-progress")
    assert code == 1  # written, with problems
    bad = [(i, why) for i, (_, why) in enumerate(BAD, 1) if why]
    assert f"2 rows -> {dst}" in err
    assert f"{len(bad)} bad rows not written" in err
    reported = problems(tmp_path / "out.errors.jsonl")
    assert [p["line"] for p in reported] == [i for i, _ in bad]
    for p, (_, why) in zip(reported, bad, strict=True):
        assert why in p["problem"], p
        assert p["written"] is False
    assert [r["code"] for r in csv.DictReader(dst.open())] == ["58102", "10101"]


def test_strict_stops_at_the_first_bad_row(capsys, tmp_path: Path) -> None:
    src = tmp_path / "log.jsonl"
    src.write_bytes(b"\n".join(line for line, _ in BAD) + b"\n")
    dst = tmp_path / "out.csv"
    code, _, err = run(capsys, "batch", str(src), "-o", str(dst), "--strict")
    assert code == 2
    assert f"{src}:2: not valid JSON" in err
    assert not dst.exists()  # no half-written output
    assert not Path(f"{dst}.partial").exists()


def test_csv_bad_rows_keep_their_line_numbers(capsys, tmp_path: Path) -> None:
    src = tmp_path / "log.csv"
    src.write_bytes(
        b"exchange,code,message\n"
        b"okx,58102,\n"
        b"okx,1," + b"y" * 131_072 + b"\n"
        b"okx,1,2,3\n"
        b"okx,58350,caf\xe9\n"
        b"mexc,10101,Insufficient balance\n"
    )
    dst = tmp_path / "out.csv"
    code, _, _ = run(capsys, "batch", str(src), "-o", str(dst))
    assert code == 1
    reported = problems(tmp_path / "out.errors.jsonl")
    assert [(p["line"], p["field"]) for p in reported] == [
        (3, "message"),
        (4, None),
        (5, "message"),
    ]
    assert [r["code"] for r in csv.DictReader(dst.open())] == ["58102", "10101"]


def test_error_type_classifies_like_the_live_exception(capsys, tmp_path: Path) -> None:
    requests = pytest.importorskip("requests")
    import normalizer

    text = "HTTPSConnectionPool(host='api.mexc.com', port=443): Read timed out. (read timeout=10)"
    src = _jsonl(
        tmp_path / "log.jsonl",
        [
            {
                "exchange": "mexc",
                "operation": "place_order",
                "error_type": "ReadTimeout",
                "message": text,
            },
            {
                "exchange": "mexc",
                "operation": "place_order",
                "error_type": "requests.exceptions.ConnectTimeout",
                "message": "timed out",
            },
            {"exchange": "mexc", "operation": "place_order", "message": "ReadTimeout: " + text},
        ],
    )
    code, out, _ = run(capsys, "batch", str(src))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    live = normalizer.normalize(
        "mexc", error=requests.exceptions.ReadTimeout(text), operation="place_order"
    )
    assert (rows[0]["subcategory"], rows[0]["rule_id"]) == (live.subcategory, live.rule_id)
    assert rows[0]["category"] == "UNKNOWN_STATE"
    assert rows[0]["action"] == "QUERY_THEN_RETRY"
    live = normalizer.normalize(
        "mexc", error=requests.exceptions.ConnectTimeout("timed out"), operation="place_order"
    )
    assert rows[1]["rule_id"] == live.rule_id
    assert rows[2]["error_type"] == ""  # no column: the text alone is a message


def test_seed_makes_the_delays_reproducible(capsys, tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "log.jsonl", LOG * 5)
    outs = []
    for seed in ("7", "7", "8"):
        code, out, _ = run(capsys, "batch", str(src), "--seed", seed, "--chunk-rows", "4")
        assert code == 0
        outs.append([r["delay_s"] for r in csv.DictReader(io.StringIO(out))])
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]
    assert outs[0][0] == outs[0][3] == outs[0][12]  # the same error, in other chunks


def test_parquet_keeps_types(capsys, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    rows = [
        {**r, "flag": i % 2 == 0, "n": i, "x": i + 0.5, "note": None} for i, r in enumerate(LOG * 3)
    ]
    rows[-1]["n"] = "not a number"  # a later chunk's misfit: written empty, reported
    src = _jsonl(tmp_path / "log.jsonl", rows)
    dst = tmp_path / "out.parquet"
    code, _, _ = run(capsys, "batch", str(src), "-o", str(dst), "--chunk-rows", "3")
    assert code == 1
    table = pq.read_table(dst)
    types = {f.name: f.type for f in table.schema}
    assert types["flag"] == pa.bool_()
    assert types["n"] == pa.int64()
    assert types["x"] == pa.float64()
    assert types["http_status"] == pa.int64()
    assert types["delay_s"] == pa.float64()
    assert types["category"] == pa.string()
    got = table.to_pylist()
    assert [r["flag"] for r in got[:3]] == [True, False, True]
    assert got[-1]["n"] is None
    (note,) = problems(tmp_path / "out.errors.jsonl")
    assert (note["line"], note["field"], note["written"]) == (9, "n", True)
    # Parquet in, Parquet out: the input's own schema is kept
    again = tmp_path / "again.parquet"
    code, _, _ = run(capsys, "batch", str(dst), "-o", str(again))
    assert code == 0
    assert pq.read_table(again).schema == table.schema


def test_rules_dir_and_policy(capsys, tmp_path: Path) -> None:
    rules = tmp_path / "rules"  # the desk's own rules, beside the bundled ones
    (rules / "okx").mkdir(parents=True)
    (rules / "okx" / "rules.yaml").write_text(
        "exchange: okx\nsource_url: https://example.com/desk\nrules:\n"
        "  - id: okx.desk-code\n    category: NOT_FOUND.ORDER\n    why: a test rule.\n"
        '    when: {code: "99999"}\n'
    )
    src = _jsonl(tmp_path / "log.jsonl", [{"exchange": "okx", "code": "99999"}])
    code, out, _ = run(capsys, "batch", str(src), "--rules-dir", str(rules))
    assert code == 0
    assert next(csv.DictReader(io.StringIO(out)))["rule_id"] == "okx.desk-code"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules: [\n")
    code, _, err = run(capsys, "batch", str(src), "--policy", str(bad))
    assert code == 2
    assert str(bad) in err


MEMORY = """
import json, os, resource, sys
from normalizer.batch import run_batch
src, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "w") as fh:
    for i in range(rows):
        fh.write(json.dumps({"ts": i, "exchange": "okx" if i % 3 else "mexc",
                             "code": str(58000 + i % 400), "message": "m" * 40 + str(i % 50),
                             "http_status": 200 if i % 3 else 400, "request_id": "r-%d" % i}))
        fh.write("\\n")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
summary = run_batch(src, out, chunk_rows=5000)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": summary.rows, "bad": summary.bad_rows, "grew_kb": peak - base,
                  "size": os.path.getsize(src)}))
"""


def _grew(tmp_path: Path, rows: int, suffix: str) -> dict[str, int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(  # noqa: S603 - this interpreter, our script
        [
            sys.executable,
            "-c",
            MEMORY,
            str(tmp_path / f"in{rows}.jsonl"),
            str(tmp_path / f"out{rows}.{suffix}"),
            str(rows),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_memory_stays_flat_whatever_the_input_size(tmp_path: Path, suffix: str) -> None:
    """Ten times the rows (5,000-row chunks): the peak grows by far less than the input.

    The old batch held the whole input (16 MB of memory per input MB); a streamed
    one holds a chunk, so its peak does not follow the input's size.
    """
    if suffix == "parquet":
        pytest.importorskip("pyarrow")
    small = _grew(tmp_path, 10_000, suffix)
    large = _grew(tmp_path, 100_000, suffix)
    assert (small["rows"], large["rows"], large["bad"]) == (10_000, 100_000, 0)
    extra_input_kb = (large["size"] - small["size"]) // 1024  # ~ 14 MB more input
    assert large["grew_kb"] - small["grew_kb"] < extra_input_kb // 2, (small, large)


def test_unknown_exchange_skip_generic_or_fail(capsys, tmp_path: Path) -> None:
    """A row of a venue no rules know is a reported bad row by default (the run goes
    on), is classified by the generic profile on request, or stops the run."""
    rows = [
        {"exchange": "okx", "code": "58102", "http_status": 429},
        {"exchange": "Deribit", "message": "Insufficient balance", "http_status": 400},
    ]
    src = _jsonl(tmp_path / "log.jsonl", rows)
    dst = tmp_path / "out.csv"
    code, _, err = run(capsys, "batch", str(src), "-o", str(dst), "--no-progress")
    assert code == 1  # problems found, output still written
    assert [r["exchange"] for r in csv.DictReader(dst.open())] == ["okx"]
    problems = [json.loads(x) for x in (tmp_path / "out.errors.jsonl").read_text().splitlines()]
    assert [(p["line"], p["field"]) for p in problems] == [(2, "exchange")]
    assert "unknown exchange 'Deribit'" in problems[0]["problem"]

    code, _, _ = run(
        capsys, "batch", str(src), "-o", str(dst), "--no-progress", "--unknown-exchange", "generic"
    )
    assert code == 0
    out = list(csv.DictReader(dst.open()))
    assert [r["exchange"] for r in out] == ["okx", "Deribit"]  # the name given is kept
    assert out[1]["category"] == "INSUFFICIENT_FUNDS"
    assert out[1]["rule_id"].startswith("generic.")

    code, _, err = run(
        capsys, "batch", str(src), "-o", str(dst), "--no-progress", "--unknown-exchange", "fail"
    )
    assert code == 2
    assert f"{src}:2: exchange: unknown exchange 'Deribit'" in err
