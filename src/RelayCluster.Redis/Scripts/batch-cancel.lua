-- KEYS 1 batch hash, 2 the tenant's task stream. ARGV 1 now (unix seconds), 2 batch id.
-- validating | in_progress | finalizing → cancelling. A cancelling batch with no task left in the stream (queued,
-- leased or waiting for a retry: completed and abandoned tasks are deleted) has nothing that will ever end it, so it
-- ends cancelled here: a cancel always ends. Returns the batch's fields, or nil if there is no such batch.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return nil end
if status == 'validating' or status == 'in_progress' or status == 'finalizing' then
  redis.call('HSET', KEYS[1], 'status', 'cancelling', 'cancelling_at', ARGV[1])
  status = 'cancelling'
end
if status == 'cancelling' then
  local live = false
  if redis.call('EXISTS', KEYS[2]) == 1 then
    for _, entry in ipairs(redis.call('XRANGE', KEYS[2], '-', '+')) do
      local fields = entry[2]
      for i = 1, #fields, 2 do
        if fields[i] == 'b' and fields[i + 1] == ARGV[2] then live = true end
      end
      if live then break end
    end
  end
  if not live then redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', ARGV[1]) end
end
return redis.call('HGETALL', KEYS[1])
