-- KEYS 1 the entries (a Redis Stream), 2 the channel's meta hash (sequence, ended); both under {s:<id>}.
-- ARGV 1 kind (token | progress | completed | failed), 2 data, 3 entries kept, 4 seconds kept after the end,
--      5 seconds an abandoned live stream is kept, 6 pub/sub channel to notify.
-- Numbers the entry (so sequences are gap-free and unique even with several writers), stores it under the
-- id "<sequence>-1" (so readers can start after any sequence), and tells the followers. Only completed and
-- failed are terminal; each other append pushes the abandoned-stream expiry back.
if redis.call('HGET', KEYS[2], 'ended') == '1' then
  return redis.error_reply('ENDED the stream has ended; nothing can follow its terminal entry')
end
local sequence = redis.call('HINCRBY', KEYS[2], 'seq', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], sequence .. '-1', 'k', ARGV[1], 'd', ARGV[2])
local keep = ARGV[5]
if ARGV[1] == 'completed' or ARGV[1] == 'failed' then
  redis.call('HSET', KEYS[2], 'ended', 1)
  keep = ARGV[4]
end
redis.call('EXPIRE', KEYS[1], keep)
redis.call('EXPIRE', KEYS[2], keep)
redis.call('PUBLISH', ARGV[6], sequence)
return sequence
