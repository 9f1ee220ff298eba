-- ARGV 4 request id, 5 actual tokens, 6 cost (nano-dollars), 7 usage record (JSON), 8 model, 9 ending,
-- 10 prompt tokens, 11 completion tokens, 12 estimated (0/1), 13 ledger length kept, 14 unreserved (0/1:
-- served fail-open while Redis was away, so booked without a reservation).
-- Books the cost, frees the hold and slot, and appends the record to the ledger, all in this one turn:
-- spend and ledger can never disagree. Returns 1, or 0 when the request was settled already.
-- Clamped to the grain's bounds (ReservationLimits in C#): a misbehaving upstream's usage can neither refund
-- spend (negative) nor overflow a counter.
local function bounded(v, max) v = tonumber(v) or 0; if v ~= v or v < 0 then return 0 end; return math.min(math.floor(v), max) end
local rid, actual, cost = ARGV[4], bounded(ARGV[5], 1000000000000), bounded(ARGV[6], 1000000000000000)
local r = redis.call('HGET', RES, rid)
if r then
  redis.call('HDEL', RES, rid)
  redis.call('ZREM', DL, rid)
  redis.call('HINCRBY', S, 'reserved', 0 - tonumber(string.match(r, '^[^:]+:[^:]+:([^:]+)')))
else
  r = redis.call('HGET', RC, rid)
  if r then
    redis.call('HDEL', RC, rid)
    redis.call('ZREM', RCT, rid)
  elseif ARGV[14] == '1' then
    r = sec .. ':' .. actual .. ':0:' .. now
    redis.call('HINCRBY', TK, sec, actual) -- counted now, since it was never counted at admission
  else
    return 0
  end
end

-- Replace the admission's token estimate with the actual tokens, if its bucket is still in the window.
local bucket, estimate = string.match(r, '^([^:]+):([^:]+):')
bucket, estimate = tonumber(bucket), tonumber(estimate)
if bucket > sec - WINDOW then
  local current = tonumber(redis.call('HGET', TK, bucket))
  if current then redis.call('HSET', TK, bucket, math.max(0, current + actual - estimate)) end
end

redis.call('HINCRBY', S, 'spent', cost)
redis.call('XADD', LEDGER, 'MAXLEN', '~', ARGV[13], '*', 'r', ARGV[7])
local model, ending = ARGV[8], ARGV[9]
local prompt, completion = bounded(ARGV[10], 1000000000000), bounded(ARGV[11], 1000000000000)
redis.call('HINCRBY', USAGE, 'requests', 1)
redis.call('HINCRBY', USAGE, 'prompt', prompt)
redis.call('HINCRBY', USAGE, 'completion', completion)
redis.call('HINCRBY', USAGE, 'cost', cost)
redis.call('HINCRBY', USAGE, 'estimated', ARGV[12])
redis.call('HINCRBY', USAGE, 'm:' .. model .. ':requests', 1)
redis.call('HINCRBY', USAGE, 'm:' .. model .. ':prompt', prompt)
redis.call('HINCRBY', USAGE, 'm:' .. model .. ':completion', completion)
redis.call('HINCRBY', USAGE, 'm:' .. model .. ':cost', cost)
redis.call('HINCRBY', USAGE, 'e:' .. ending, 1)
return 1
