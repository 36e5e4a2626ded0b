"""The batch path on Dask and Spark (issue #16): the same answers as ``classify_frame``.

Dask runs on a distributed ``LocalCluster`` with two worker processes, Spark in
local mode with two cores; one cluster (one session) per module. The custom
policy and the user rules folder exist only on the driver's side of the
shipping: the workers get them as data, and the test checks they used them
(a row whose answer only the custom rule and policy give).
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

import normalizer
from normalizer import ArgumentValueError, classify_frame
from normalizer._core.frozen import replace
from normalizer.batch import classify_partition, make_spec, output_columns

pd = pytest.importorskip("pandas")
pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

POLICY = """\
version: 1
name: desk
rules:
  - id: okx-rate-limit
    why: OKX funding limits are per account; wait longer there.
    when: {exchange: [okx], category: [RATE_LIMIT]}
    then: {scope: account, max_attempts: 8, backoff: {initial_s: 4, max_s: 120, jitter: 0.2}}
"""

ROWS = [
    {
        "exchange": "okx",
        "code": "58102",
        "message": None,
        "http_status": 429,
        "operation": "transfer",
    },
    {
        "exchange": "okx",
        "code": "58350",
        "message": "Insufficient balance.",
        "http_status": 200,
        "operation": "transfer",
    },
    {
        "exchange": "mexc",
        "code": "10101",
        "message": "Insufficient balance",
        "http_status": 400,
        "operation": "place_order",
    },
    {
        "exchange": "mexc",
        "code": None,
        "message": "504 Gateway Time-out",
        "http_status": 504,
        "operation": "place_order",
    },
    {
        "exchange": "okx",
        "code": "99999",
        "message": "our own code",
        "http_status": 200,
        "operation": "query",
    },
    {
        "exchange": "mexc",
        "code": None,
        "message": "Read timed out.",
        "http_status": None,
        "operation": "place_order",
        "error_type": "ReadTimeout",
    },
]


def log(n: int = 600) -> Any:
    rows = [dict(ROWS[i % len(ROWS)]) for i in range(n)]
    for i, r in enumerate(rows):
        r.setdefault("error_type", None)
        r["attempt"] = 1 + i % 3
        r["request_id"] = f"r-{i}"
    return pd.DataFrame(rows)  # pandas' own dtypes: text, a float status with gaps


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A custom policy file and a user rules folder with a rule of its own."""
    root = tmp_path_factory.mktemp("ship")
    policy = root / "desk.yaml"
    policy.write_text(POLICY)
    rules = root / "my-rules"  # the desk's own rules, laid over the bundled ones
    (rules / "okx").mkdir(parents=True)
    path = rules / "okx" / "rules.yaml"
    path.write_text(
        """exchange: okx
source_url: https://example.com/desk
rules:
  - id: okx.our-own-code
    category: NOT_FOUND.ORDER
    why: A code our desk's gateway returns; a test rule, not OKX's.
    when: {code: "99999"}
"""
    )
    return {"policy": str(policy), "rules_dir": str(rules)}


def expected(frame: Any, **kw: Any) -> Any:
    out = classify_frame(frame, **kw)
    return out.astype({c: object for c in output_columns() if c != "delay_s"})


def cells(column: Any) -> list[Any]:
    return [None if pd.isna(v) else v for v in column.astype(object).tolist()]


def same(got: Any, want: Any) -> None:
    got = got.reset_index(drop=True)
    want = want.reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    assert cells(got["request_id"]) == cells(want["request_id"])
    for c in output_columns():
        assert cells(got[c]) == cells(want[c]), c


def test_the_custom_rule_and_policy_change_the_answer(shipped: dict[str, str]) -> None:
    """The fixture's files matter, so equality below proves they reached the workers."""
    frame = log(12)
    plain = classify_frame(frame, seed=3)
    custom = classify_frame(frame, seed=3, **shipped)
    assert cells(plain["rule_id"])[4] is None
    assert cells(custom["rule_id"])[4] == "okx.our-own-code"
    assert "desk:okx-rate-limit" in cells(custom["policy_rule_id"])
    assert "desk:okx-rate-limit" not in cells(plain["policy_rule_id"])


def test_shipped_rules_need_no_folder_on_the_worker(
    shipped: dict[str, str], tmp_path: Path
) -> None:
    """A worker without the folder writes the shipped files to a private one."""
    spec = make_spec(**shipped, seed=3)
    assert spec.rules is not None
    elsewhere = replace(spec, rules=replace(spec.rules, name=str(tmp_path / "not-here")))
    spec2 = pickle.loads(pickle.dumps(elsewhere))  # noqa: S301 - our own bytes
    frame = log(12)
    got = classify_partition(frame, spec2)
    assert cells(got["rule_id"])[4] == "okx.our-own-code"
    same(got, classify_partition(frame, spec))


# ------------------------------------------------------------------ Dask


@pytest.fixture(scope="module")
def dask_client() -> Any:
    pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit="1GiB",
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.parametrize("custom", [False, True], ids=["bundled", "custom-policy-and-rules"])
def test_dask_equals_classify_frame(
    dask_client: Any, shipped: dict[str, str], custom: bool
) -> None:
    dd = pytest.importorskip("dask.dataframe")
    from normalizer.batch import dask as nd

    frame = log()
    kw: dict[str, Any] = {"seed": 11, **(shipped if custom else {})}
    ddf = dd.from_pandas(frame, npartitions=4)
    out = nd.classify(ddf, **kw)
    assert list(out.columns) == [*frame.columns, *output_columns()]
    assert str(out.dtypes["delay_s"]) == "float64"
    got = out.compute()
    pids = dask_client.run(os.getpid)
    assert len(set(pids.values())) == 2
    assert os.getpid() not in pids.values()
    same(got, expected(frame, **kw))


# ------------------------------------------------------------------ Spark


@pytest.fixture(scope="module")
def spark() -> Any:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java")
    from pyspark.sql import SparkSession

    # the Python workers run this interpreter (with pandas, pyarrow and this checkout)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")])
    )
    session = (
        SparkSession.builder.master("local[2]")
        .appName("normalizer-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.python.worker.reuse", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.parametrize("custom", [False, True], ids=["bundled", "custom-policy-and-rules"])
def test_spark_equals_classify_frame(spark: Any, shipped: dict[str, str], custom: bool) -> None:
    from normalizer.batch import spark as ns

    frame = log()
    kw: dict[str, Any] = {"seed": 11, **(shipped if custom else {})}
    sdf = spark.createDataFrame(frame.astype({"attempt": "int64"})).repartition(3)
    out = ns.classify(sdf, **kw)
    assert out.columns == [*frame.columns, *output_columns()]
    assert dict(out.dtypes)["delay_s"] == "double"
    got = out.toPandas().sort_values("request_id", key=lambda s: s.str[2:].astype(int))
    same(got, expected(frame, **kw))


# ------------------------------------------- one bad row never fails a job


def hostile_log(codes: Any) -> Any:
    """Good rows and, among them, rows no rules can classify: a venue nobody wrote rules
    for, an unknown operation, a yes/no cell that is neither; the codes as given."""
    rows = []
    for i in range(24):
        row = {
            "exchange": ["okx", "deribit", "OKX ", "okx"][i % 4],
            "code": codes[i % len(codes)],
            "message": None,
            "operation": ["transfer", None, "levitate", "place_order"][i % 3],
            "idempotent": ["yes", "no", "maybe", None][i % 4],
            "request_id": f"r-{i}",
        }
        rows.append(row)
    return pd.DataFrame(rows)


CODE_COLUMNS = {
    "ints": [58102, 58350],
    "floats-with-gaps": [58102.0, float("nan"), 58350.0],
    "float-text": ["58102.0", "58350.0", None],
}


def check_bad_rows(got: Any, frame: Any) -> None:
    """The job finished; every row is there, the bad ones with classify_frame's row_error,
    and the codes were read as classify_frame reads them (the float text included)."""
    want = expected(frame, seed=5)
    same(got, want)
    errors = cells(want["row_error"])
    assert any(e and e.startswith("exchange: unknown exchange 'deribit'") for e in errors)
    assert any(e and e.startswith("operation: unknown operation 'levitate'") for e in errors)
    assert any(e and e.startswith("idempotent: ") for e in errors)
    assert any(e is None for e in errors)
    rules = {r for r in cells(want["rule_id"]) if r}
    assert normalizer.normalize("okx", code="58102").rule_id in rules


@pytest.mark.parametrize("codes", list(CODE_COLUMNS), ids=list(CODE_COLUMNS))
def test_one_bad_row_never_fails_a_dask_job(dask_client: Any, codes: str) -> None:
    dd = pytest.importorskip("dask.dataframe")
    from normalizer.batch import dask as nd

    frame = hostile_log(CODE_COLUMNS[codes])
    got = nd.classify(dd.from_pandas(frame, npartitions=3), seed=5).compute()
    check_bad_rows(got.sort_values("request_id", key=lambda s: s.str[2:].astype(int)), frame)


@pytest.mark.parametrize("codes", list(CODE_COLUMNS), ids=list(CODE_COLUMNS))
def test_one_bad_row_never_fails_a_spark_job(spark: Any, codes: str) -> None:
    from normalizer.batch import spark as ns

    frame = hostile_log(CODE_COLUMNS[codes])
    if codes == "float-text":  # Spark keeps what a float column became as text
        frame = frame.astype({"code": object})
    sdf = spark.createDataFrame(frame.astype({"idempotent": object})).repartition(3)
    got = ns.classify(sdf, seed=5).toPandas()
    check_bad_rows(got.sort_values("request_id", key=lambda s: s.str[2:].astype(int)), frame)


def test_dask_and_spark_default_to_a_row_error_for_unknown_venues() -> None:
    """One default across classify_frame, the CLI, Dask and Spark: a row_error."""
    from normalizer.batch._frame import engine_spec

    assert make_spec().unknown_exchange == "error"
    assert engine_spec(["exchange"]).unknown_exchange == "error"
    assert "row_error" in output_columns()


# ------------------------------------------------------------------ the README


def _recipe(engine: str) -> str:
    import re

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = [
        b for b in re.findall(r"```python\n(.*?)```", text, re.S) if f"import {engine} as" in b
    ]
    assert len(blocks) == 1, engine
    return blocks[0]


@pytest.mark.parametrize("engine", ["dask", "spark"])
def test_the_readme_recipes_run_as_written(engine: str, tmp_path: Path) -> None:
    """Each recipe, run as a script from an empty folder, prints the classified rows."""
    pytest.importorskip("distributed" if engine == "dask" else "pyspark")
    import subprocess

    script = tmp_path / "recipe.py"
    script.write_text(_recipe(engine))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")])
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, the README's code
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RATE_LIMIT.REQUESTS" in done.stdout
    assert "INSUFFICIENT_FUNDS" in done.stdout


def test_engine_helpers_refuse_a_frame_without_exchange_and_take_unknown_exchange() -> None:
    """Both engines' helpers check the frame and the arguments on the driver, with
    the same spec as classify_frame, the generic opt-in included."""
    from normalizer.batch._frame import engine_spec

    with pytest.raises(ArgumentValueError, match="'exchange' column"):
        engine_spec(["code", "message"])
    spec = engine_spec(["exchange", "code"], unknown_exchange="generic", seed=3)
    assert (spec.unknown_exchange, spec.seed, spec.categorical) == ("generic", 3, False)


@pytest.mark.parametrize("engine", ["dask", "spark"])
@pytest.mark.parametrize("frame", [None, "log.csv", [{"exchange": "okx"}], "pandas"])
def test_engine_helpers_refuse_what_is_not_their_engines_frame(engine: str, frame: Any) -> None:
    """A pandas frame, a list or a path given to the Dask or Spark helper is an
    ArgumentTypeError naming what it takes (an AttributeError escaped from inside)."""
    pytest.importorskip("dask.dataframe" if engine == "dask" else "pyspark.sql")
    import importlib

    helper = importlib.import_module(f"normalizer.batch.{engine}")
    if frame == "pandas":
        frame = pd.DataFrame({"exchange": ["okx"], "code": ["58102"]})
    with pytest.raises(normalizer.ArgumentTypeError, match="classify_frame"):
        helper.classify(frame)
