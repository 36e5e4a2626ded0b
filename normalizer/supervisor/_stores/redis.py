"""The Redis state store: one view of the stream for a fleet of routers.

    Supervisor(store="redis://127.0.0.1:6379/0", namespace="desk1")

Every supervisor with the same server and ``namespace`` shares counts,
windows, streaks, request attempts, event ids and halts. Each call is ONE
server-side Lua script (``SCRIPT`` below, run with EVALSHA), so an event is
applied atomically: five rate limits sent by four processes at once are five
in the window, and exactly one of them fires the venue halt.

Keys (``<ns>|...``): ``clock`` the latest time seen; ``a|<request>|<op>`` a
request's failures; ``e|<event id>`` an event already applied (its attempt and
what it fired, returned again for a redelivery); ``w|<rule>|<group>`` a
window's times (a list); ``s|<rule>|<group>`` a streak; ``h|<scope key>`` the
halts of a scope (a hash: source -> halt). Every key has a TTL (a halt's
lasts until it ends, in the server's seconds), and each kind is indexed in a
sorted set ``ix|<kind>`` trimmed to ``max_tracked`` (the oldest keys deleted
first), so the namespace stays bounded even when TTLs are longer than needed.

Time: with no ``clock`` the server's ``TIME``; with one, its readings. Either
way the namespace's time never goes back (``clock`` keeps the latest).

Unreachable server: every method raises ``StoreUnavailable`` (a connection
refused, a timeout: ``socket_timeout`` 0.5 s by default); the supervisor turns
it into a HALT of the exchange (or re-raises, ``on_store_error="raise"``).
The asyncio methods (``aapply`` ...) use ``redis.asyncio`` with the same script.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from ..._core.errors import StoreUnavailable, SupervisorArgumentError
from .._types import WIDTH, Halt
from ._plan import Applied, Plan

__all__ = ["SCRIPT", "RedisStore"]

SCRIPT = r"""
local p = cjson.decode(ARGV[1])
local ns = p.ns
local max = tonumber(p.max)
local null = cjson.null

local function clock()
  local now = p.now
  if now == nil or now == null then
    if p.server then
      local t = redis.call('TIME')
      now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    else
      now = nil
    end
  end
  local last = tonumber(redis.call('GET', ns .. '|clock'))
  if now == nil then now = last or 0 end
  if last ~= nil and last > now then return last end
  redis.call('SET', ns .. '|clock', string.format('%.17g', now))
  return now
end

local function track(kind, key, now)
  local index = ns .. '|ix|' .. kind
  redis.call('ZADD', index, now, key)
  local n = redis.call('ZCARD', index)
  if n > max then
    local old = redis.call('ZPOPMIN', index, n - max)
    for i = 1, #old, 2 do redis.call('DEL', old[i]) end
  end
end

local function expire(key, seconds)
  local ms = math.ceil(seconds * 1000) + 1000
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end

local function hold(row, now)
  local key = ns .. '|h|' .. row[2]
  local source = row[7]
  if source == nil or source == null or source == '' then source = 'policy:' .. tostring(row[8]) end
  local cur = redis.call('HGET', key, source)
  local until_ = tonumber(row[5])
  row[4] = string.format('%.17g', tonumber(row[4]))  -- cjson keeps 14 digits of a number
  row[5] = string.format('%.17g', until_)
  if cur then
    local c = cjson.decode(cur)
    if tonumber(c[5]) > now and until_ <= tonumber(c[5]) then return end
  end
  redis.call('HSET', key, source, cjson.encode(row))
  expire(key, until_ - now)
  track('h', key, now)
end

local function holding(chain, now)
  local out = {}
  for _, k in ipairs(chain) do
    local key = ns .. '|h|' .. k
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      local row = cjson.decode(all[i + 1])
      if tonumber(row[5]) > now then out[#out + 1] = row else redis.call('HDEL', key, all[i]) end
    end
  end
  return out
end

local function result(t)
  t.now = string.format('%.17g', t.now)
  return cjson.encode(t)
end

local op = p.op
local now = clock()

if op == 'apply' then
  if p.eid ~= null then
    local seen = redis.call('GET', ns .. '|e|' .. p.eid)
    if seen then
      local s = cjson.decode(seen)
      return result({now = now, attempt = s[1], dup = true, fired = s[2],
                     halts = holding(p.chain, now)})
    end
  end
  local attempt = p.attempt
  if attempt == null then
    attempt = 1
    if p.akey ~= null then
      local key = ns .. '|a|' .. p.akey
      local got = redis.call('HMGET', key, 'n', 't')
      local n = tonumber(got[1]) or 0
      local t = tonumber(got[2])
      if t ~= nil and now - t > p.mem then n = 0 end
      attempt = n + 1
      redis.call('HSET', key, 'n', attempt, 't', string.format('%.17g', now))
      expire(key, p.mem)
      track('a', key, now)
    end
  end
  local exhausted = p.xfrom > 0 and attempt >= p.xfrom
  local fired = {}
  for _, o in ipairs(p.ops) do
    local variant = o[1]
    if variant == 0 or ((variant == 2) == exhausted) then
      local rule, group, mode, count, window, ident = o[2], o[3], o[4], o[5], o[6], o[7]
      local note = nil
      if mode == 2 then
        redis.call('DEL', ns .. '|s|' .. rule .. '|' .. group)
      elseif mode == 1 then
        local key = ns .. '|s|' .. rule .. '|' .. group
        local cur = redis.call('GET', key)
        local times = {}
        if cur then
          local c = cjson.decode(cur)
          if c[1] == ident then times = c[2] end
        end
        times[#times + 1] = now
        local kept = {}
        for _, t in ipairs(times) do if now - t <= window then kept[#kept + 1] = t end end
        if #kept >= count then
          redis.call('DEL', key)
          note = string.format('%d in a row within %gs', count, window)
        else
          redis.call('SET', key, cjson.encode({ident, kept}))
          expire(key, window)
          track('s', key, now)
        end
      else
        local key = ns .. '|w|' .. rule .. '|' .. group
        if ident ~= '' then key = key .. '|' .. ident end
        redis.call('RPUSH', key, string.format('%.17g', now))
        redis.call('LTRIM', key, -count, -1)
        local times = redis.call('LRANGE', key, 0, -1)
        local n = 0
        for _, t in ipairs(times) do if now - tonumber(t) <= window then n = n + 1 end end
        if n >= count then
          redis.call('DEL', key)
          note = 'at once'
          if count > 1 then note = string.format('%d within %gs', count, window) end
        else
          expire(key, window)
          track('w', key, now)
        end
      end
      if note ~= nil then
        fired[#fired + 1] = {rule, note}
        if o[11] > 0 then
          hold({o[8], o[9], o[10], now, now + o[11], o[13], rule, null, o[12]}, now)
        end
      end
    end
  end
  for _, h in ipairs(p.holds) do
    if h[1] == 0 or ((h[1] == 2) == exhausted) then
      hold({h[2], h[3], 'HALT', now, now + h[4], h[5], null, h[6], false}, now)
    end
  end
  if p.eid ~= null then
    local key = ns .. '|e|' .. p.eid
    redis.call('SET', key, cjson.encode({attempt, fired}), 'PX', math.ceil(p.mem * 1000))
    track('e', key, now)
  end
  return result({now = now, attempt = attempt, dup = false, fired = fired,
                 halts = holding(p.chain, now)})
elseif op == 'hold' then
  hold(p.row, now)
  return result({now = now})
elseif op == 'halts' then
  return result({now = now, halts = holding(p.chain, now)})
elseif op == 'success' then
  local lifted = {}
  for _, k in ipairs(p.chain) do
    local key = ns .. '|h|' .. k
    local all = redis.call('HGETALL', key)
    local was = false
    for i = 1, #all, 2 do
      local row = cjson.decode(all[i + 1])
      local live = tonumber(row[5]) > now
      if (not live) or row[9] == true then
        redis.call('HDEL', key, all[i])
        if live then was = true end
      end
    end
    if was then lifted[#lifted + 1] = k end
  end
  for _, k in ipairs(p.streaks) do redis.call('DEL', ns .. '|s|' .. k) end
  for _, k in ipairs(p.attempts) do redis.call('DEL', ns .. '|a|' .. k) end
  return result({now = now, lifted = lifted})
elseif op == 'lift' then
  local key = ns .. '|h|' .. p.key
  local all = redis.call('HGETALL', key)
  local n = 0
  for i = 1, #all, 2 do
    if tonumber(cjson.decode(all[i + 1])[5]) > now then n = n + 1 end
  end
  redis.call('DEL', key)
  return result({now = now, n = n})
elseif op == 'status' then
  local keys = redis.call('ZRANGE', ns .. '|ix|h', p.start, p.start + p.size - 1)
  local out = {}
  for _, key in ipairs(keys) do
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      local row = cjson.decode(all[i + 1])
      if tonumber(row[5]) > now then out[#out + 1] = row end
    end
  end
  return result({now = now, halts = out, more = #keys == p.size})
end
return redis.error_reply('unknown op')
"""

_NAMESPACE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_STATUS_CHUNK = 500


def _rows(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []  # cjson writes {} for empty


class RedisStore:
    """Counts, windows, streaks, attempts and halts in Redis, shared by a fleet."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "normalizer",
        max_tracked: int = 100_000,
        socket_timeout: float = 0.5,
    ) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - the supervisor extra installs it
            raise StoreUnavailable(
                "a Redis store needs redis-py: pip install 'exchange-error-normalizer[supervisor]'"
            ) from exc
        if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
            raise SupervisorArgumentError(
                f"namespace must be 1-64 of A-Z a-z 0-9 _ . : -, not {namespace!r}"
            )
        self.url = url
        self.namespace = namespace
        self.max_tracked = int(max_tracked)
        self._timeout = socket_timeout
        self._redis = redis
        self._client = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        self._script = self._client.register_script(SCRIPT)
        #: with no reading (``now`` None), use the server's TIME; the supervisor
        #: sets it False when it has a clock of its own (a NaN reading then
        #: counts as the latest time seen, never as the server's)
        self.server_time = True
        self._aclient: Any = None
        self._aloop: Any = None
        self._ascript: Any = None

    def __repr__(self) -> str:
        return f"<RedisStore {self.url} namespace={self.namespace!r}>"

    def close(self) -> None:
        self._client.close()
        self._aclient = None

    # ------------------------------------------------------------ calling

    def _payload(self, op: str, now: float | None, **fields: Any) -> str:
        return json.dumps(
            {
                "op": op,
                "ns": self.namespace,
                "max": self.max_tracked,
                "now": now,
                "server": now is None and self.server_time,
                **fields,
            },
            separators=(",", ":"),
        )

    def _call(self, payload: str) -> dict[str, Any]:
        try:
            raw = self._script(args=[payload])
        except (self._redis.exceptions.ConnectionError, self._redis.exceptions.TimeoutError) as exc:
            raise StoreUnavailable(f"{self!r}: {exc}") from exc
        out: dict[str, Any] = json.loads(raw)
        out["now"] = float(out["now"])
        return out

    async def _acall(self, payload: str) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aloop is not loop:
            import redis.asyncio as aredis

            self._aclient = aredis.Redis.from_url(
                self.url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
            )
            self._ascript = self._aclient.register_script(SCRIPT)
            self._aloop = loop
        try:
            raw = await self._ascript(args=[payload])
        except (self._redis.exceptions.ConnectionError, self._redis.exceptions.TimeoutError) as exc:
            raise StoreUnavailable(f"{self!r}: {exc}") from exc
        out: dict[str, Any] = json.loads(raw)
        out["now"] = float(out["now"])
        return out

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

    @staticmethod
    def _applied(out: dict[str, Any]) -> Applied:
        return Applied(
            out["now"],
            int(out["attempt"]),
            bool(out["dup"]),
            tuple((str(r), str(n)) for r, n in _rows(out.get("fired"))),
            tuple(Halt.from_row(r) for r in _rows(out.get("halts"))),
        )

    # ------------------------------------------------------------ sync

    def apply(self, plan: Plan) -> Applied:
        return self._applied(self._call(self._apply_payload(plan)))

    def hold(self, halt: Halt, now: float | None) -> None:
        self._call(self._payload("hold", now, row=halt.to_row()))

    def halts_on(self, chain: list[str], now: float | None) -> tuple[float, tuple[Halt, ...]]:
        out = self._call(self._payload("halts", now, chain=chain))
        return out["now"], tuple(Halt.from_row(r) for r in _rows(out.get("halts")))

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
            halts.extend(Halt.from_row(r) for r in _rows(out.get("halts")))
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
        out = await self._acall(self._payload("halts", now, chain=chain))
        return out["now"], tuple(Halt.from_row(r) for r in _rows(out.get("halts")))

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
            halts.extend(Halt.from_row(r) for r in _rows(out.get("halts")))
            if not out.get("more"):
                break
            start += _STATUS_CHUNK
        return _sorted(halts)


def _sorted(halts: list[Halt]) -> tuple[Halt, ...]:
    seen: dict[tuple[str, str], Halt] = {}
    for h in halts:
        seen[(h.scope_key, h.source)] = h
    return tuple(sorted(seen.values(), key=lambda h: (-WIDTH[h.scope], h.scope_key, h.until)))
