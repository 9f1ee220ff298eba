-- KEYS 1 the tenant's task stream. ARGV 1 entry id, 2 worker, 3 'renew', 'release' or 'retry', 4 idle (ms) for 'retry'.
-- Only while this worker still holds the lease (one taken over stays taken):
--   renew   resets its idle time;
--   release (a graceful stop) marks it idle for a day, so the next XAUTOCLAIM by any worker takes it at once, and
--           hands the attempt back (the delivery count goes down by one);
--   retry   (the attempt failed) sets its idle time so that it is claimable once the retry is due; the attempt stays counted.
local pending = redis.call('XPENDING', KEYS[1], 'workers', ARGV[1], ARGV[1], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return 0 end
if ARGV[3] == 'release' then
  local deliveries = math.max(tonumber(pending[1][4]) - 1, 0)
  redis.call('XCLAIM', KEYS[1], 'workers', ARGV[2], 0, ARGV[1], 'IDLE', 86400000, 'RETRYCOUNT', deliveries, 'JUSTID')
elseif ARGV[3] == 'retry' then
  redis.call('XCLAIM', KEYS[1], 'workers', ARGV[2], 0, ARGV[1], 'IDLE', ARGV[4], 'JUSTID')
else
  redis.call('XCLAIM', KEYS[1], 'workers', ARGV[2], 0, ARGV[1], 'JUSTID')
end
return 1
