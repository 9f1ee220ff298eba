-- Shared by every tenant turn. KEYS (all under the tenant's hash tag, so one turn is atomic and
-- single-writer on any Redis, Cluster included):
--   1 state hash   2 request buckets   3 token buckets   4 reservations   5 deadlines (zset)
--   6 reclaimed    7 reclaimed times (zset)   8 ledger stream   9 this month's usage totals
-- ARGV: 1 now (ms)  2 month (YYYY-MM)  3 reservation lifetime (ms); a turn's own arguments follow.
local S, RQ, TK, RES, DL, RC, RCT, LEDGER, USAGE = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local now = tonumber(ARGV[1])
local month = ARGV[2]
local ttl = tonumber(ARGV[3])
local sec = math.floor(now / 1000)
local WINDOW = 60
local KEEP_RECLAIMED_MS = 86400000

-- Budgets are per calendar month (UTC); open reservations carry over into the new month.
if redis.call('HGET', S, 'month') ~= month then
  redis.call('HSET', S, 'month', month, 'spent', 0)
end

-- A reservation (budget hold + concurrency slot) past its deadline belongs to a silo that stopped
-- renewing it: free it, but remember it, so that a late settle still books the usage once.
local expired = redis.call('ZRANGEBYSCORE', DL, '-inf', now)
for _, rid in ipairs(expired) do
  local r = redis.call('HGET', RES, rid)
  if r then
    local held = tonumber(string.match(r, '^[^:]+:[^:]+:([^:]+)'))
    redis.call('HINCRBY', S, 'reserved', 0 - held) -- not -held: Lua's -0 is no integer to Redis
    redis.call('HDEL', RES, rid)
    redis.call('HSET', RC, rid, r)
    redis.call('ZADD', RCT, now, rid)
  end
  redis.call('ZREM', DL, rid)
end
if #expired > 0 then
  local old = redis.call('ZRANGEBYSCORE', RCT, '-inf', now - KEEP_RECLAIMED_MS)
  for _, rid in ipairs(old) do
    redis.call('HDEL', RC, rid)
    redis.call('ZREM', RCT, rid)
  end
end

-- A sliding window of one-second buckets (field = unix second). Returns the sum of the live buckets
-- and the live buckets oldest first; buckets that slid out are deleted, so the hash stays small.
-- A bucket newer than this turn's second is live too: silos stamp a turn before sending it, so one stamped
-- at :00.999 can run after turns stamped at :01.001, and leaving theirs out would admit past the limit.
local function window(key)
  local flat = redis.call('HGETALL', key)
  local used, live, dead = 0, {}, {}
  for i = 1, #flat, 2 do
    local s, amount = tonumber(flat[i]), tonumber(flat[i + 1])
    if s > sec - WINDOW then
      used = used + amount
      live[#live + 1] = { s, amount }
    else
      dead[#dead + 1] = flat[i]
    end
  end
  if #dead > 0 then redis.call('HDEL', key, unpack(dead)) end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  return used, live
end

-- Milliseconds until `amount` more fits under `limit`, as enough of the oldest buckets slide out.
local function wait_to_fit(used, live, amount, limit)
  local excess = used + amount - limit
  if excess <= 0 then return 0 end
  for _, bucket in ipairs(live) do
    excess = excess - bucket[2]
    if excess <= 0 then return math.max(1, (bucket[1] + WINDOW) * 1000 - now) end
  end
  return WINDOW * 1000
end

-- Milliseconds until every live bucket has slid out (the x-ratelimit-reset-* value).
local function until_empty(live)
  for i = #live, 1, -1 do
    if live[i][2] > 0 then return math.max(1, (live[i][1] + WINDOW) * 1000 - now) end
  end
  return 0
end

local function limit(value)
  local n = tonumber(value)
  if n and n > 0 then return n end
  return nil
end
