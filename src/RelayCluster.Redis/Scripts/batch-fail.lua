-- KEYS 1 batch hash. ARGV 1 now, 2 errors (JSON array).
-- A bad input file fails a batch that never started, even one cancelled while it was validated.
local st = redis.call('HMGET', KEYS[1], 'status', 'in_progress_at')
local status = st[1]
if not status or st[2] or status == 'failed' or status == 'completed' or status == 'expired' or status == 'cancelled' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'failed', 'failed_at', ARGV[1], 'errors', ARGV[2])
return 1
