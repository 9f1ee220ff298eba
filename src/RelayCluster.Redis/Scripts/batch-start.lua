-- KEYS 1 batch hash, 2 chunk table (hash), 3 the tenant's task stream.
-- ARGV 1 batch id, 2 now, 3 model ('' for none), 4 total items, then one "first:count:offset" per chunk.
-- validating → in_progress (a batch cancelled meanwhile stays cancelling), its chunks recorded and queued
-- in the same turn, so a validator that dies can never leave a started batch without its work.
local st = redis.call('HMGET', KEYS[1], 'status', 'in_progress_at')
if (st[1] ~= 'validating' and st[1] ~= 'cancelling') or st[2] then return 0 end
local chunks = #ARGV - 4
if st[1] == 'validating' then redis.call('HSET', KEYS[1], 'status', 'in_progress') end
redis.call('HSET', KEYS[1], 'in_progress_at', ARGV[2], 'total', ARGV[4], 'chunks', chunks)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'model', ARGV[3]) end
for i = 1, chunks do
  redis.call('HSET', KEYS[2], i - 1, ARGV[4 + i])
  redis.call('XADD', KEYS[3], '*', 'k', 'chunk', 'b', ARGV[1], 'c', i - 1)
end
return 1
