-- KEYS 1 the tenant's task stream. ARGV 1 entry id, 2 worker, 3 'renew' or 'release'.
-- Only while this worker still holds the lease: renewing resets its idle time; releasing marks it idle for a
-- day, so the next XAUTOCLAIM by any worker takes it at once. One taken over stays taken.
local pending = redis.call('XPENDING', KEYS[1], 'workers', ARGV[1], ARGV[1], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return 0 end
if ARGV[3] == 'release' then
  redis.call('XCLAIM', KEYS[1], 'workers', ARGV[2], 0, ARGV[1], 'IDLE', 86400000, 'JUSTID')
else
  redis.call('XCLAIM', KEYS[1], 'workers', ARGV[2], 0, ARGV[1], 'JUSTID')
end
return 1
