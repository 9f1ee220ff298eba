-- One group commit of a tenant grain: every turn since the last commit, applied together or not at all.
-- KEYS (all under the tenant's hash tag {t:id}): 1 epoch, 2 state hash, 3 request buckets, 4 token buckets,
-- 5 reservations, 6 reclaimed reservations, 7 ledger stream, 8.. usage totals of a month (one key per month).
-- ARGV 1 the activation's epoch, 2 ledger length kept; then sections, each a count followed by its items:
--   state field/value pairs; request buckets set (second/amount pairs); request buckets dropped (seconds);
--   token buckets set; token buckets dropped; reservations set (id/value pairs); reservations removed (ids);
--   reclaimed set (id/value pairs); reclaimed removed (ids); ledger records (JSON, appended as one stream entry with
--   one field r per record, in order; 500 records an entry at most);
--   then for each usage key in order: field/increment pairs (the caller leaves out increments of 0).
-- Values are absolute (the grain's own), except usage totals, which only ever grow by what this commit books.
-- Returns 0, or -1 when a newer activation raised the epoch: then nothing was written.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local i = 3
local function count()
  local n = tonumber(ARGV[i]); i = i + 1; return n
end
-- A script that fails midway keeps what it wrote, so nothing below may fail: Lua's unpack (and a command's arguments)
-- stop at about 8000 values, which a group commit of 4000 admissions or a dead silo's reclaim passes; hence chunks.
local CHUNK = 1000
local function chunked(command, key, first, last)
  for from = first, last, CHUNK do
    redis.call(command, key, unpack(ARGV, from, math.min(from + CHUNK - 1, last)))
  end
end
local function pairs_into(command, key)
  local n = count()
  chunked(command, key, i, i + 2 * n - 1)
  i = i + 2 * n
end
local function list_into(command, key)
  local n = count()
  chunked(command, key, i, i + n - 1)
  i = i + n
end
pairs_into('HSET', KEYS[2])
pairs_into('HSET', KEYS[3])
list_into('HDEL', KEYS[3])
pairs_into('HSET', KEYS[4])
list_into('HDEL', KEYS[4])
pairs_into('HSET', KEYS[5])
list_into('HDEL', KEYS[5])
pairs_into('HSET', KEYS[6])
list_into('HDEL', KEYS[6])
-- One XADD per commit rather than per record: a command, its trimming and its AOF header per record are what a group
-- commit saves. Chunked as above (two values a record).
local records = count()
for from = i, i + records - 1, CHUNK / 2 do
  local entry = {}
  for k = from, math.min(from + CHUNK / 2 - 1, i + records - 1) do
    entry[#entry + 1] = 'r'; entry[#entry + 1] = ARGV[k]
  end
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[2], '*', unpack(entry))
end
i = i + records
for k = 8, #KEYS do
  local n = count()
  for _ = 1, n do
    redis.call('HINCRBY', KEYS[k], ARGV[i], ARGV[i + 1]); i = i + 2
  end
end
return 0
