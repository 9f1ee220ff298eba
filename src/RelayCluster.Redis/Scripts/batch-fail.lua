-- KEYS 1 batch hash. ARGV 1 now, 2 errors (JSON array).
-- A bad input file fails a batch that never started; one cancelled while it was validated ends cancelled (a
-- cancelling batch always ends cancelled), the errors kept to say why nothing ran.
local st = redis.call('HMGET', KEYS[1], 'status', 'in_progress_at')
local status = st[1]
if not status or st[2] or status == 'failed' or status == 'completed' or status == 'expired' or status == 'cancelled' then
  return 0
end
if status == 'cancelling' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', ARGV[1], 'errors', ARGV[2])
else
  redis.call('HSET', KEYS[1], 'status', 'failed', 'failed_at', ARGV[1], 'errors', ARGV[2])
end
return 1
