-- KEYS 1 batch hash, 2 ended items (hash item → "o|e:owner"), 3 the tenant's task stream, 4 the batch's unbooked
-- usage (hash item → settlement). ARGV 1 item, 2 'o' (succeeded) or 'e' (failed), 3 owner (the lease whose part file
-- holds the line), 4 input tokens, 5 output tokens, 6 expired (0/1), 7 the item call's settlement ('' for none),
-- 8 batch id, 9 now (s).
-- Records an item's end once. The first end's settlement is kept in the batch's unbooked usage in this same step; the
-- caller then books it on the tenant grain and removes it, and whatever a dead worker left there is booked before the
-- batch finishes (settles are idempotent per request id), so usage is booked once whoever dies when. A second end (a
-- worker whose lease was taken over) keeps nothing: the caller only frees its reservation. A batch that already ended
-- (its task was given up on) counts nothing more, but its items' calls are still booked.
-- Returns {first (0/1), status, completed, failed, total}.
local B, ITEMS, TASKS, UNBOOKED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
-- A batch that is gone (its tenant was deleted and purged) records and books nothing: the caller frees the item's
-- reservation, and 'cancelling' stops the chunk, so a tenant created later with the same id never pays for it.
if redis.call('EXISTS', B) == 0 then
  return { 0, 'cancelling', 0, 0, 0 }
end
local first = redis.call('HSETNX', ITEMS, ARGV[1], ARGV[2] .. ':' .. ARGV[3])
if first == 1 and ARGV[7] ~= '' then redis.call('HSET', UNBOOKED, ARGV[1], ARGV[7]) end
local current = redis.call('HGET', B, 'status')
local ended = current == 'failed' or current == 'completed' or current == 'expired' or current == 'cancelled'
if ended then
  if redis.call('TTL', ITEMS) < 0 then redis.call('EXPIRE', ITEMS, 86400) end
  if first == 1 and ARGV[7] ~= '' and redis.call('TTL', UNBOOKED) < 0 then redis.call('EXPIRE', UNBOOKED, 86400) end
elseif first == 1 then
  redis.call('HINCRBY', B, ARGV[2] == 'o' and 'completed' or 'failed', 1)
  redis.call('HINCRBY', B, 'input_tokens', ARGV[4])
  redis.call('HINCRBY', B, 'output_tokens', ARGV[5])
  if ARGV[6] == '1' then redis.call('HINCRBY', B, 'expired_items', 1) end
end

local st = redis.call('HMGET', B, 'status', 'completed', 'failed', 'total', 'finalizing_at')
local completed, failed, total = tonumber(st[2] or '0'), tonumber(st[3] or '0'), tonumber(st[4] or '0')
local status = st[1]
if first == 1 and not ended and total > 0 and completed + failed >= total and not st[5] then
  if status ~= 'cancelling' then status = 'finalizing' end
  redis.call('HSET', B, 'status', status, 'finalizing_at', ARGV[9])
  redis.call('XADD', TASKS, '*', 'k', 'finalize', 'b', ARGV[8], 'c', -1)
end
return { first, status, completed, failed, total }
