"""The one server-side script of the Redis store (``redis.py`` explains the keys).

Every key of a namespace carries the hash tag ``{<ns>}``, so they all live in
one slot: the script runs on one node of a Redis Cluster, and it declares two
of them, ``KEYS[1]`` (the clock) and ``KEYS[2]`` (the epoch), so a cluster
client routes it to that node. The other keys it touches are built from the
same tag (``ns`` below is ``{<ns>}``).

Halts are indexed by width (``ix|h0`` request .. ``ix|h3`` exchange). When the
index of a width is over ``max`` its oldest keys go, and each live halt they
held is folded into a halt of the next wider scope (source ``table-full``,
the longest ``until``): a flood of narrow halts widens, it never lifts one.
Exchange halts are never dropped for room (there are as many as the exchange
names the caller passes).
"""

SCRIPT = r"""
local p = cjson.decode(ARGV[1])
local ns = p.ns
local max = tonumber(p.max)
local null = cjson.null

local function clock()
  local now = p.now
  if now == nil or now == null then
    local t = redis.call('TIME')
    now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  end
  local last = tonumber(redis.call('GET', KEYS[1]))
  if last ~= nil and last > now then return last end
  redis.call('SET', KEYS[1], string.format('%.17g', now))
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

local SCOPES = {'request', 'symbol', 'account', 'exchange'}
local WIDTH = {request = 0, symbol = 1, account = 2, exchange = 3}

local hold

local function widen(key, now)
  -- key: a halt key dropped for room; its live halts move one scope wider
  local all = redis.call('HGETALL', key)
  redis.call('DEL', key)
  local scope_key = string.sub(key, string.len(ns) + 4)
  local parent = string.match(scope_key, '^(.*):[^:]*$')
  if parent == nil then return end
  local last, action, width = nil, 'HALT', nil
  for i = 1, #all, 2 do
    local row = cjson.decode(all[i + 1])
    local u = tonumber(row[5])
    if u > now then
      if last == nil or u > last then last = u end
      if row[3] == 'ESCALATE' then action = 'ESCALATE' end
      width = WIDTH[row[1]]
    end
  end
  if last == nil or width == nil or width >= 3 then return end
  hold({SCOPES[width + 2], parent, action, now, last,
        'the table of ' .. SCOPES[width + 1] .. ' halts is full: the halts it could not keep ' ..
        'hold their wider scope', null, 'table-full', false}, now)
end

local function track_halt(key, width, now)
  local index = ns .. '|ix|h' .. width
  redis.call('ZADD', index, now, key)
  if width >= 3 then return end
  local n = redis.call('ZCARD', index)
  if n > max then
    local old = redis.call('ZPOPMIN', index, n - max)
    for i = 1, #old, 2 do widen(old[i], now) end
  end
end

hold = function(row, now)
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
  track_halt(key, WIDTH[row[1]] or 0, now)
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
  t.epoch = p.epoch_seen
  return cjson.encode(t)
end

local now = clock()

-- the epoch: created at first use; gone (a restart without persistence, a
-- FLUSHALL) or replaced means the store lost what it held
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = p.cand
  redis.call('SET', KEYS[2], epoch)
end
p.epoch_seen = epoch
if p.epoch ~= null and p.epoch ~= epoch then
  if redis.call('GET', ns .. '|declared') ~= epoch then
    redis.call('SET', ns .. '|declared', epoch)
    redis.call('SET', ns .. '|lost', string.format('%.17g', now + p.grace),
               'PX', math.max(1, math.ceil(p.grace * 1000)))
  end
end
local lost = tonumber(redis.call('GET', ns .. '|lost'))
if lost ~= nil and lost > now then
  return result({now = now, lost = string.format('%.17g', lost)})
end

local op = p.op

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
          track('s' .. o[14], key, now)
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
          track('w' .. o[14], key, now)
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
  local out = {}
  local more = false
  for w = 3, 0, -1 do
    local keys = redis.call('ZRANGE', ns .. '|ix|h' .. w, p.start, p.start + p.size - 1)
    if #keys == p.size then more = true end
    for _, key in ipairs(keys) do
      local all = redis.call('HGETALL', key)
      for i = 1, #all, 2 do
        local row = cjson.decode(all[i + 1])
        if tonumber(row[5]) > now then out[#out + 1] = row end
      end
    end
  end
  return result({now = now, halts = out, more = more})
end
return redis.error_reply('unknown op')
"""
