-- KEYS 1 batch hash. ARGV 1 now (unix seconds).
-- validating | in_progress → cancelling. Returns the batch's fields, or nil if there is no such batch.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return nil end
if status == 'validating' or status == 'in_progress' then
  redis.call('HSET', KEYS[1], 'status', 'cancelling', 'cancelling_at', ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
