-- KEYS as in directory-create (5 the tombstones, 6 the revoked key hashes). ARGV 1 tenant id, 2 operation, then its arguments:
--   models <json> | delete | add-key <hash> <key id> <"prefix|created"> | revoke-key <key id>
-- Returns 1 if the directory changed (and announces it on relay:changes), else 0.
local id, op = ARGV[1], ARGV[2]
if redis.call('SISMEMBER', KEYS[1], id) == 0 then return 0 end
if op == 'models' then
  redis.call('HSET', KEYS[3], 'models', ARGV[3])
elseif op == 'delete' then
  for _, entry in ipairs(redis.call('HVALS', KEYS[4])) do
    redis.call('HDEL', KEYS[2], string.match(entry, '^([^|]+)'))
    redis.call('SADD', KEYS[6], string.match(entry, '^([^|]+)')) -- never seeded again, whoever gets the id next
  end
  redis.call('DEL', KEYS[3], KEYS[4])
  redis.call('SREM', KEYS[1], id)
  redis.call('SADD', KEYS[5], id)
elseif op == 'add-key' then
  if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return 0 end
  redis.call('HSET', KEYS[2], ARGV[3], id)
  redis.call('HSET', KEYS[4], ARGV[4], ARGV[3] .. '|' .. ARGV[5])
elseif op == 'revoke-key' then
  local entry = redis.call('HGET', KEYS[4], ARGV[3])
  if not entry then return 0 end
  redis.call('HDEL', KEYS[2], string.match(entry, '^([^|]+)'))
  redis.call('HDEL', KEYS[4], ARGV[3])
  redis.call('SADD', KEYS[6], string.match(entry, '^([^|]+)'))
else
  return redis.error_reply('unknown directory operation ' .. op)
end
redis.call('PUBLISH', 'relay:changes', id)
return 1
