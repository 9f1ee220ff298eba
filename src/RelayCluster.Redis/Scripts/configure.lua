-- ARGV 4 mode ('set' replaces the limits, 'update' replaces those not given as 'keep', 'pause' sets the pause
-- flag), 5 rpm, 6 tpm, 7 max concurrent (0 = unlimited), 8 budget (-1 = unlimited), 9 paused (0/1).
-- Returns the limits in force afterwards: {rpm, tpm, max concurrent, budget}.
local mode = ARGV[4]
if mode == 'pause' then
  redis.call('HSET', S, 'paused', ARGV[9])
else
  local fields = { 'rpm', 'tpm', 'maxc', 'budget' }
  for i, field in ipairs(fields) do
    local value = ARGV[4 + i]
    if mode == 'set' or value ~= 'keep' then redis.call('HSET', S, field, value) end
  end
end
local st = redis.call('HMGET', S, 'rpm', 'tpm', 'maxc', 'budget')
return { limit(st[1]) or -1, limit(st[2]) or -1, limit(st[3]) or -1, tonumber(st[4]) or -1 }
