-- KEYS 1 batch hash, 2 the tenant's batch index (zset), 3 the tenant's task stream.
-- ARGV 1 batch id, 2 created_at, then field/value pairs of the new batch.
-- Creates the batch and queues its validation in one turn.
redis.pcall('XGROUP', 'CREATE', KEYS[3], 'workers', '0', 'MKSTREAM') -- BUSYGROUP when it exists: fine
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'k', 'validate', 'b', ARGV[1], 'c', -1)
return 1
