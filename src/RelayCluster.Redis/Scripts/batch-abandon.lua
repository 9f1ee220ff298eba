-- KEYS 1 the tenant's task stream, 2 batch hash, 3 its chunk table, 4 its ended items.
-- ARGV 1 entry id, 2 now (s), 3 errors (JSON array).
-- Gives up on a task that keeps failing: the task goes, and its batch ends in the same turn, cancelled if it was
-- being cancelled, else failed with the errors. A batch that already ended keeps its status. Its per-chunk table goes
-- with it; its item table stays a day, so an item that ends late is still recorded (and booked) exactly once.
-- Returns the batch's fields, or nil if there is no such batch.
redis.call('XACK', KEYS[1], 'workers', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
local status = redis.call('HGET', KEYS[2], 'status')
if not status then return nil end
if status == 'cancelling' then
  redis.call('HSET', KEYS[2], 'status', 'cancelled', 'cancelled_at', ARGV[2])
elseif status ~= 'failed' and status ~= 'completed' and status ~= 'expired' and status ~= 'cancelled' then
  redis.call('HSET', KEYS[2], 'status', 'failed', 'failed_at', ARGV[2], 'errors', ARGV[3])
end
if status ~= 'completed' and status ~= 'expired' and status ~= 'cancelled' and status ~= 'failed' then
  redis.call('DEL', KEYS[3])
  redis.call('EXPIRE', KEYS[4], 86400)
end
return redis.call('HGETALL', KEYS[2])
