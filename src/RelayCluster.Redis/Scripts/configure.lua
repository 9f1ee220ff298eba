-- ARGV 4 mode ('set' replaces the limits, 'pause' sets the pause flag), 5 rpm, 6 tpm, 7 max concurrent,
-- 8 budget (-1 = unlimited), 9 paused (0/1).
local mode = ARGV[4]
if mode == 'pause' then
  redis.call('HSET', S, 'paused', ARGV[9])
  return 1
end
redis.call('HSET', S, 'rpm', ARGV[5], 'tpm', ARGV[6], 'maxc', ARGV[7], 'budget', ARGV[8])
return 1
