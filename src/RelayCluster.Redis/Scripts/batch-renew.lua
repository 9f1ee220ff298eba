-- KEYS 1 the tenant's task stream. ARGV 1 entry id, 2 worker.
-- Resets a lease's idle time only while this worker still holds it; one taken over stays taken.
local pending = redis.call('XPENDING', KEYS[1], 'workers', ARGV[1], ARGV[1], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], 'workers', ARGV[2], 0, ARGV[1], 'JUSTID')
return 1
