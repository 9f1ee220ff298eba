-- Runs after the tenant prelude, with settle() and release() defined (KEYS 1-9 and ARGV 4-14 are theirs).
-- KEYS 10 batch hash, 11 ended items (hash item → "o|e:owner"), 12 the tenant's task stream.
-- ARGV 15 item, 16 'o' (succeeded) or 'e' (failed), 17 owner (the lease whose part file holds the line),
-- 18 input tokens, 19 output tokens, 20 expired (0/1), 21 has a settlement (0/1), 22 batch id, 23 now (s).
-- Records an item's end once. The first end books the item's usage in this same turn; a second end (a worker
-- whose lease was taken over) only frees its reservation. A batch that already ended (its task was given up on)
-- counts nothing more, but its items' calls are still booked. Returns {first (0/1), status, completed, failed, total}.
local B, ITEMS, TASKS = KEYS[10], KEYS[11], KEYS[12]
-- A batch that is gone (its tenant was deleted and purged) records and books nothing: the item's reservation is
-- freed, and 'cancelling' stops the chunk, so a tenant created later with the same id never pays for it.
if redis.call('EXISTS', B) == 0 then
  if ARGV[21] == '1' then release() end
  return { 0, 'cancelling', 0, 0, 0 }
end
local first = redis.call('HSETNX', ITEMS, ARGV[15], ARGV[16] .. ':' .. ARGV[17])
local current = redis.call('HGET', B, 'status')
local ended = current == 'failed' or current == 'completed' or current == 'expired' or current == 'cancelled'
if ended then
  if redis.call('TTL', ITEMS) < 0 then redis.call('EXPIRE', ITEMS, 86400) end
  if first == 1 and ARGV[21] == '1' then settle() elseif ARGV[21] == '1' then release() end
elseif first == 1 then
  redis.call('HINCRBY', B, ARGV[16] == 'o' and 'completed' or 'failed', 1)
  redis.call('HINCRBY', B, 'input_tokens', ARGV[18])
  redis.call('HINCRBY', B, 'output_tokens', ARGV[19])
  if ARGV[20] == '1' then redis.call('HINCRBY', B, 'expired_items', 1) end
  if ARGV[21] == '1' then settle() end
elseif ARGV[21] == '1' then
  release()
end

local st = redis.call('HMGET', B, 'status', 'completed', 'failed', 'total', 'finalizing_at')
local completed, failed, total = tonumber(st[2] or '0'), tonumber(st[3] or '0'), tonumber(st[4] or '0')
local status = st[1]
if first == 1 and not ended and total > 0 and completed + failed >= total and not st[5] then
  if status ~= 'cancelling' then status = 'finalizing' end
  redis.call('HSET', B, 'status', status, 'finalizing_at', ARGV[23])
  redis.call('XADD', TASKS, '*', 'k', 'finalize', 'b', ARGV[22], 'c', -1)
end
return { first, status, completed, failed, total }
