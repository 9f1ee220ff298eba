-- A tenant grain's activation. KEYS (all under the tenant's hash tag {t:id}): 1 epoch, 2 state hash,
-- 3 request buckets, 4 token buckets, 5 reservations, 6 reclaimed reservations.
-- Raises the epoch first, which fences every older activation (their commits check it), then reads the state
-- they committed, in the same atomic step. Returns {epoch, state, requests, tokens, reservations, reclaimed},
-- each hash as a flat field/value list.
local epoch = redis.call('INCR', KEYS[1])
return { epoch, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[4]),
  redis.call('HGETALL', KEYS[5]), redis.call('HGETALL', KEYS[6]) }
