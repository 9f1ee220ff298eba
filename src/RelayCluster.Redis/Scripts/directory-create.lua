-- KEYS 1 tenant ids (set), 2 key hash -> tenant id (hash), 3 the tenant (hash), 4 the tenant's keys (hash),
-- 5 deleted tenant ids (set, the tombstones), 6 revoked key hashes (set).
-- ARGV 1 tenant id, 2 models (JSON), 3 created, 4 incarnation, 5 mode, then per key: hash, key id, "prefix|created".
-- Mode 'admin' (an explicit create) may reuse a deleted id and lifts its tombstone; mode 'configured' (seeding)
-- refuses a deleted id and leaves revoked keys out, so no silo's start can bring a delete back.
-- Every directory key shares the {relay} hash tag, so this write is atomic; it announces itself on
-- relay:changes so that every silo drops its cache.
local configured = ARGV[5] == 'configured'
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if configured and redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 1 then return 0 end
local keys = {}
for i = 6, #ARGV, 3 do
  if not (configured and redis.call('SISMEMBER', KEYS[6], ARGV[i]) == 1) then
    if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then return 0 end
    keys[#keys + 1] = i
  end
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('HSET', KEYS[3], 'models', ARGV[2], 'created', ARGV[3], 'incarnation', ARGV[4])
for _, i in ipairs(keys) do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[1])
  redis.call('HSET', KEYS[4], ARGV[i + 1], ARGV[i] .. '|' .. ARGV[i + 2])
end
redis.call('PUBLISH', 'relay:changes', ARGV[1])
return 1
