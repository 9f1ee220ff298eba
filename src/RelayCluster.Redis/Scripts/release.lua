-- ARGV 4 request id.
-- Frees a reservation (budget hold, concurrency slot, token estimate) without booking anything: the work it
-- held for was booked under another request already. Returns 1, or 0 if there was no such reservation.
local r = redis.call('HGET', RES, ARGV[4])
if not r then return 0 end
local bucket, estimate, held = string.match(r, '^([^:]+):([^:]+):([^:]+)')
redis.call('HDEL', RES, ARGV[4])
redis.call('ZREM', DL, ARGV[4])
redis.call('HINCRBY', S, 'reserved', 0 - tonumber(held))
bucket = tonumber(bucket)
if bucket > sec - WINDOW then
  local current = tonumber(redis.call('HGET', TK, bucket))
  if current then redis.call('HSET', TK, bucket, math.max(0, current - tonumber(estimate))) end
end
return 1
