"""The Redis state store: one view of the stream for a fleet of routers.

    Supervisor(store="redis://127.0.0.1:6379/0", namespace="desk1")
    Supervisor(store="redis+cluster://127.0.0.1:7000", namespace="desk1")  # Redis Cluster

Every supervisor with the same server and ``namespace`` shares counts,
windows, streaks, request attempts, event ids and halts. Each call is ONE
server-side Lua script (``_lua.SCRIPT``, run with EVALSHA), so an event is
applied atomically: five rate limits sent by four processes at once are five
in the window, and exactly one of them fires the venue halt.

Keys (``{<ns>}|...``, one hash tag, so a namespace lives in one cluster slot):
``clock`` the latest time seen; ``epoch`` a token made at first use;
``a|<request>|<op>`` a request's failures; ``e|<event id>`` an event already
applied; ``w|<rule>|<group>`` a window's times; ``s|<rule>|<group>`` a
streak; ``h|<scope key>`` the halts of a scope (a hash: source -> halt).
Every key has a TTL (a halt's lasts until it ends), and each kind is indexed
in a sorted set trimmed to ``max_tracked`` (halts per width: a narrower halt
never pushes out a wider one, and one pushed out widens, see ``_lua``).

Time: the server's ``TIME``, the one clock of the fleet (never going back).

Failures: anything that keeps the script from answering (a refused or reset
connection, a timeout, out of memory, a read-only replica, a server loading
its data, MOVED/ASK to a plain client, a cluster that is down) raises
``StoreUnavailable``, which the supervisor answers with ``on_store_error``.
NOSCRIPT (the script cache flushed or a fresh server) is not a failure: the
script is loaded again and the call repeated. A store that lost its data
(the epoch key gone or replaced: a restart without persistence, a FLUSHALL)
raises ``StoreUnavailable`` for ``lost_grace_s`` from when it is noticed.
The asyncio methods (``aapply`` ...) use ``redis.asyncio`` with the same script.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
from typing import Any

from ..._core.errors import StoreUnavailable, SupervisorArgumentError
from .._types import WIDTH, Halt, seconds_setting, tables_setting
from ._lua import SCRIPT
from ._plan import Applied, Plan

__all__ = ["SCRIPT", "RedisStore"]

_NAMESPACE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_STATUS_CHUNK = 500
_CLUSTER_SCHEMES = {"redis+cluster://": "redis://", "rediss+cluster://": "rediss://"}
#: the URLs a Redis store takes
URL_SCHEMES = ("redis://", "rediss://", "unix://", *_CLUSTER_SCHEMES)
#: how long a store that lost its data answers as failed, by default (seconds)
LOST_GRACE_S = 900.0


def _rows(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []  # cjson writes {} for empty


def _failures(redis: Any) -> tuple[type[BaseException], ...]:
    """What a call may raise when the store cannot answer (mapped to StoreUnavailable)."""
    return (
        redis.exceptions.RedisError,  # ResponseError (OOM, READONLY, MOVED...), timeouts, ...
        OSError,  # resets the client did not wrap
        asyncio.TimeoutError,  # not an OSError before Python 3.11
        ValueError,  # an answer that is not the script's JSON
        KeyError,
        TypeError,
    )


class RedisStore:
    """Counts, windows, streaks, attempts and halts in Redis, shared by a fleet.

    ``url``: ``redis://``, ``rediss://`` or ``unix://`` for one server (or a
    primary with replicas behind a proxy); ``redis+cluster://host:port`` (or
    ``cluster=True``) for a Redis Cluster, any node as the seed.
    ``socket_timeout``: seconds a call may wait (a slower answer is a store
    failure). ``lost_grace_s``: how long store failures are reported after
    the store is found to have lost its data.
    """

    #: shared by a fleet: time is the server's (a per-process clock is refused)
    shared = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "normalizer",
        max_tracked: int = 100_000,
        socket_timeout: float = 0.5,
        cluster: bool = False,
        lost_grace_s: float = LOST_GRACE_S,
    ) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - the supervisor extra installs it
            raise StoreUnavailable(
                "a Redis store needs redis-py: pip install 'exchange-error-normalizer[supervisor]'"
            ) from exc
        if not isinstance(url, str) or not url.startswith(URL_SCHEMES):
            raise SupervisorArgumentError(
                f"url must be a str starting {', '.join(URL_SCHEMES)}, not {url!r}"
            )
        if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
            raise SupervisorArgumentError(
                f"namespace must be 1-64 of A-Z a-z 0-9 _ . : -, not {namespace!r}"
            )
        for scheme, plain in _CLUSTER_SCHEMES.items():
            if url.startswith(scheme):
                url, cluster = plain + url[len(scheme) :], True
        if cluster is not True and cluster is not False:
            raise SupervisorArgumentError(f"cluster must be True or False, not {cluster!r}")
        self.url = url
        self.cluster = cluster
        self.namespace = namespace
        self.max_tracked = tables_setting(max_tracked)
        self.lost_grace_s = seconds_setting(lost_grace_s, "lost_grace_s")
        self._timeout = seconds_setting(socket_timeout, "socket_timeout", positive=True)
        self._redis = redis
        self._failures = _failures(redis)
        tag = "{" + namespace + "}"
        self._tag = tag
        self._keys = [f"{tag}|clock", f"{tag}|epoch"]
        self._epoch: str | None = None
        self._client: Any = None
        self._script: Any = None
        self._aclient: Any = None
        self._aloop: Any = None
        self._ascript: Any = None

    def __repr__(self) -> str:
        kind = "cluster " if self.cluster else ""
        return f"<RedisStore {kind}{self.url} namespace={self.namespace!r}>"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = self._script = None
        self._aclient = None

    # ------------------------------------------------------------ calling

    def _connect(self) -> Any:
        """The client, made on first use (a cluster client asks a node for the slots)."""
        if self._script is None:
            kw: dict[str, Any] = {
                "socket_timeout": self._timeout,
                "socket_connect_timeout": self._timeout,
            }
            if self.cluster:
                from redis.cluster import RedisCluster

                self._client = RedisCluster.from_url(self.url, **kw)
            else:
                self._client = self._redis.Redis.from_url(self.url, **kw)
            self._script = self._client.register_script(SCRIPT)
        return self._script

    async def _aconnect(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._ascript is None or self._aloop is not loop:
            kw: dict[str, Any] = {
                "socket_timeout": self._timeout,
                "socket_connect_timeout": self._timeout,
            }
            if self.cluster:
                from redis.asyncio.cluster import RedisCluster

                self._aclient = RedisCluster.from_url(self.url, **kw)
            else:
                import redis.asyncio as aredis

                self._aclient = aredis.Redis.from_url(self.url, **kw)
            self._ascript = self._aclient.register_script(SCRIPT)
            self._aloop = loop
        return self._ascript

    def _payload(self, op: str, now: float | None, **fields: Any) -> str:
        return json.dumps(
            {
                "op": op,
                "ns": self._tag,
                "max": self.max_tracked,
                "now": now,
                "epoch": self._epoch,
                "cand": secrets.token_hex(8),  # the epoch to make if there is none
                "grace": self.lost_grace_s,
                **fields,
            },
            separators=(",", ":"),
        )

    def _read(self, raw: Any) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(raw)
        out["now"] = float(out["now"])
        self._epoch = str(out["epoch"])
        if "lost" in out:
            raise StoreUnavailable(
                f"{self!r} lost its data (a restart without persistence, a FLUSHALL, an "
                f"eviction): the fleet's halts are unknown until {float(out['lost']):.3f} "
                "(server time)"
            )
        return out

    def _call(self, payload: str) -> dict[str, Any]:
        try:
            return self._read(self._connect()(keys=self._keys, args=[payload]))
        except StoreUnavailable:
            raise
        except self._failures as exc:
            self._drop_after(exc)
            raise StoreUnavailable(f"{self!r}: {type(exc).__name__}: {exc}") from exc

    async def _acall(self, payload: str) -> dict[str, Any]:
        try:
            script = await self._aconnect()
            return self._read(await script(keys=self._keys, args=[payload]))
        except StoreUnavailable:
            raise
        except self._failures as exc:
            self._ascript = None  # a fresh client next time
            raise StoreUnavailable(f"{self!r}: {type(exc).__name__}: {exc}") from exc

    def _drop_after(self, exc: BaseException) -> None:
        """After a failure a cluster client asks for the slots again on the next call."""
        if self.cluster and self._client is not None:
            with contextlib.suppress(Exception):  # the client is dropped either way
                self._client.close()
            self._client = self._script = None

    # ------------------------------------------------------------ payloads

    def _apply_payload(self, plan: Plan) -> str:
        ops = [
            [
                o.variant,
                o.rule,
                o.group,
                o.mode,
                o.count,
                o.window_s,
                o.ident,
                o.scope,
                o.scope_key,
                o.action,
                o.hold_s,
                o.lifted_by_success,
                o.reason,
                o.width,
            ]
            for o in plan.ops
        ]
        holds = [
            [h.variant, h.halt_scope, h.scope_key, h.hold_s, h.reason, h.policy_rule_id]
            for h in plan.holds
        ]
        return self._payload(
            "apply",
            plan.now,
            eid=plan.event_id,
            akey=plan.attempt_key,
            attempt=plan.attempt,
            xfrom=plan.exhausted_from,
            mem=plan.memory_s,
            ops=ops,
            holds=holds,
            chain=plan.chain,
        )

    def _applied(self, out: dict[str, Any]) -> Applied:
        try:
            return Applied(
                out["now"],
                int(out["attempt"]),
                bool(out["dup"]),
                tuple((str(r), str(n)) for r, n in _rows(out.get("fired"))),
                tuple(Halt.from_row(r) for r in _rows(out.get("halts"))),
            )
        except self._failures as exc:
            raise StoreUnavailable(f"{self!r}: an answer it cannot read: {exc}") from exc

    def _halts(self, out: dict[str, Any]) -> tuple[float, tuple[Halt, ...]]:
        try:
            return out["now"], tuple(Halt.from_row(r) for r in _rows(out.get("halts")))
        except self._failures as exc:
            raise StoreUnavailable(f"{self!r}: an answer it cannot read: {exc}") from exc

    # ------------------------------------------------------------ sync

    def apply(self, plan: Plan) -> Applied:
        return self._applied(self._call(self._apply_payload(plan)))

    def hold(self, halt: Halt, now: float | None) -> None:
        self._call(self._payload("hold", now, row=halt.to_row()))

    def halts_on(self, chain: list[str], now: float | None) -> tuple[float, tuple[Halt, ...]]:
        return self._halts(self._call(self._payload("halts", now, chain=chain)))

    def success(
        self, chain: list[str], streaks: list[str], attempt_keys: list[str], now: float | None
    ) -> tuple[float, tuple[str, ...]]:
        out = self._call(
            self._payload("success", now, chain=chain, streaks=streaks, attempts=attempt_keys)
        )
        return out["now"], tuple(str(k) for k in _rows(out.get("lifted")))

    def lift(self, scope_key: str, now: float | None) -> int:
        return int(self._call(self._payload("lift", now, key=scope_key))["n"])

    def status(self, now: float | None) -> tuple[Halt, ...]:
        """The halts in force, read in chunks (no call holds the server for long)."""
        halts: list[Halt] = []
        start = 0
        while True:
            out = self._call(self._payload("status", now, start=start, size=_STATUS_CHUNK))
            halts.extend(self._halts(out)[1])
            if not out.get("more"):
                break
            start += _STATUS_CHUNK
        return _sorted(halts)

    # ----------------------------------------------------------- asyncio

    async def aapply(self, plan: Plan) -> Applied:
        return self._applied(await self._acall(self._apply_payload(plan)))

    async def ahold(self, halt: Halt, now: float | None) -> None:
        await self._acall(self._payload("hold", now, row=halt.to_row()))

    async def ahalts_on(
        self, chain: list[str], now: float | None
    ) -> tuple[float, tuple[Halt, ...]]:
        return self._halts(await self._acall(self._payload("halts", now, chain=chain)))

    async def asuccess(
        self, chain: list[str], streaks: list[str], attempt_keys: list[str], now: float | None
    ) -> tuple[float, tuple[str, ...]]:
        out = await self._acall(
            self._payload("success", now, chain=chain, streaks=streaks, attempts=attempt_keys)
        )
        return out["now"], tuple(str(k) for k in _rows(out.get("lifted")))

    async def alift(self, scope_key: str, now: float | None) -> int:
        return int((await self._acall(self._payload("lift", now, key=scope_key)))["n"])

    async def astatus(self, now: float | None) -> tuple[Halt, ...]:
        halts: list[Halt] = []
        start = 0
        while True:
            out = await self._acall(self._payload("status", now, start=start, size=_STATUS_CHUNK))
            halts.extend(self._halts(out)[1])
            if not out.get("more"):
                break
            start += _STATUS_CHUNK
        return _sorted(halts)


def _sorted(halts: list[Halt]) -> tuple[Halt, ...]:
    seen: dict[tuple[str, str], Halt] = {}
    for h in halts:
        seen[(h.scope_key, h.source)] = h
    return tuple(sorted(seen.values(), key=lambda h: (-WIDTH[h.scope], h.scope_key, h.until)))
