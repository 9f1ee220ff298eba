-- KEYS 1 the tenant's task stream. ARGV 1 worker, 2 lease time (ms).
-- Leases one task: first one whose lease expired or whose retry is due (pending and idle for a lease time), else a
-- new one. Returns {entry id, fields, deliveries} or nil. Deliveries is the stream's own count of leases of the entry
-- (this one included): it lives in the pending list, so it survives restarts of every silo and is the attempt count.
-- XAUTOCLAIM looks at ten pending entries a call; leases still held (or retries not yet due) may come first, so the
-- scan goes on from its cursor, up to a bound, rather than missing an expired lease further down.
local cursor = '0-0'
for _ = 1, 20 do
  local claimed = redis.call('XAUTOCLAIM', KEYS[1], 'workers', ARGV[1], ARGV[2], cursor, 'COUNT', 1)
  local entry = claimed[2][1]
  if entry then
    local pending = redis.call('XPENDING', KEYS[1], 'workers', entry[1], entry[1], 1)
    return { entry[1], entry[2], pending[1][4] }
  end
  cursor = claimed[1]
  if cursor == '0-0' then break end
end
local read = redis.call('XREADGROUP', 'GROUP', 'workers', ARGV[1], 'COUNT', 1, 'STREAMS', KEYS[1], '>')
if not read then return nil end
local entry = read[1][2][1]
return { entry[1], entry[2], 1 }
