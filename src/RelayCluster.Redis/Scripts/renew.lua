-- ARGV 4 request id. Pushes a live reservation's deadline out by the reservation lifetime.
local rid = ARGV[4]
local r = redis.call('HGET', RES, rid)
if not r then return 0 end
local head = string.match(r, '^([^:]+:[^:]+:[^:]+):')
local deadline = now + ttl
redis.call('HSET', RES, rid, head .. ':' .. deadline)
redis.call('ZADD', DL, deadline, rid)
return 1
