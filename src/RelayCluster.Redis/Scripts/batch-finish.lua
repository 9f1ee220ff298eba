-- KEYS 1 batch hash, 2 its chunk table, 3 its ended items, 4 its unbooked usage (booked by the caller just before). ARGV 1 now, 2 output file id, 3 error file id ('' for none).
-- A batch whose items have all ended gets its final status and files: cancelled if it was being cancelled,
-- expired if any item missed the completion window, else completed. The per-item and per-chunk tables are only
-- needed while the batch runs and is assembled, so they go with it (100,000 items would otherwise stay forever).
local st = redis.call('HMGET', KEYS[1], 'status', 'finalizing_at', 'expired_items')
local status = st[1]
if not st[2] or status == 'failed' or status == 'completed' or status == 'expired' or status == 'cancelled' then return 0 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'output_file_id', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error_file_id', ARGV[3]) end
if status == 'cancelling' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', ARGV[1])
elseif tonumber(st[3] or '0') > 0 then
  redis.call('HSET', KEYS[1], 'status', 'expired', 'expired_at', ARGV[1])
else
  redis.call('HSET', KEYS[1], 'status', 'completed', 'completed_at', ARGV[1])
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return 1
