-- KEYS 1 tenant ids (set), 2 key hash -> tenant id (hash), 3 the tenant (hash), 4 the tenant's keys (hash).
-- ARGV 1 tenant id, 2 models (JSON), 3 created, then per key: hash, key id, "prefix|created".
-- Every directory key shares the {relay} hash tag, so this write is atomic; it announces itself on
-- relay:changes so that every silo drops its cache.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
for i = 4, #ARGV, 3 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then return 0 end
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[3], 'models', ARGV[2], 'created', ARGV[3])
for i = 4, #ARGV, 3 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[1])
  redis.call('HSET', KEYS[4], ARGV[i + 1], ARGV[i] .. '|' .. ARGV[i + 2])
end
redis.call('PUBLISH', 'relay:changes', ARGV[1])
return 1
