-- ARGV 4 mode ('set' replaces the limits, 'seed' sets them only if the tenant has none yet,
-- 'pause' sets the pause flag), 5 rpm, 6 tpm, 7 max concurrent, 8 budget (-1 = unlimited), 9 paused (0/1).
-- Returns 1 if anything was written.
local mode = ARGV[4]
if mode == 'pause' then
  redis.call('HSET', S, 'paused', ARGV[9])
  return 1
end
if mode == 'seed' and redis.call('HEXISTS', S, 'configured') == 1 then return 0 end
redis.call('HSET', S, 'rpm', ARGV[5], 'tpm', ARGV[6], 'maxc', ARGV[7], 'budget', ARGV[8], 'configured', 1)
return 1
