-- ARGV 4 request id, 5 estimated tokens, 6 reserved nano-dollars, 7 capacity share (0-1] of the
-- concurrency, RPM and TPM limits this request may fill (batch work leaves the rest to interactive calls).
-- Returns {outcome, retry ms, rpm, requests used, requests reset ms, tpm, tokens used, tokens reset ms}.
local rid, estimate, hold, share = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local function shared(l)
  if not l or share >= 1 then return l end
  return math.max(1, math.floor(l * share))
end
local st = redis.call('HMGET', S, 'rpm', 'tpm', 'maxc', 'budget', 'spent', 'reserved', 'paused')
local rpm, tpm, maxc, budget = limit(st[1]), limit(st[2]), limit(st[3]), tonumber(st[4])
local spent, reserved = tonumber(st[5]) or 0, tonumber(st[6]) or 0
local requests, request_buckets = window(RQ)
local tokens, token_buckets = window(TK)

-- The grain's own bounds (ReservationLimits in C#): a negative, absurd or unreadable request is refused here
-- whatever the caller computed. Both bounds are far below 2^53, where Lua's doubles stop being exact.
local MAX_TOKENS, MAX_NANOS = 1000000000000, 1000000000000000
local out_of_range = rid == nil or rid == '' or not estimate or not hold or not share
  or estimate ~= math.floor(estimate) or hold ~= math.floor(hold)
  or estimate < 0 or estimate > MAX_TOKENS or hold < 0 or hold > MAX_NANOS or not (share > 0 and share <= 1)

local outcome, retry = 'admitted', 0
if out_of_range then
  outcome = 'out_of_range'
elseif st[7] == '1' then
  outcome = 'paused'
elseif maxc and redis.call('HLEN', RES) >= shared(maxc) then
  outcome, retry = 'concurrency', 1000
elseif rpm and wait_to_fit(requests, request_buckets, 1, shared(rpm)) > 0 then
  outcome, retry = 'rpm', wait_to_fit(requests, request_buckets, 1, shared(rpm))
elseif tpm and estimate > tpm then
  outcome = 'too_large'
elseif tpm and wait_to_fit(tokens, token_buckets, estimate, shared(tpm)) > 0 then
  outcome, retry = 'tpm', wait_to_fit(tokens, token_buckets, estimate, shared(tpm))
elseif budget and budget >= 0 and hold > 0 and spent + reserved + hold > budget then -- a call that costs nothing risks nothing
  outcome = 'budget'
end

local requests_reset, tokens_reset = until_empty(request_buckets), until_empty(token_buckets)
if outcome == 'admitted' then
  local deadline = now + ttl
  redis.call('HINCRBY', RQ, sec, 1)
  redis.call('HINCRBY', TK, sec, estimate)
  redis.call('HINCRBY', S, 'reserved', hold)
  redis.call('HSET', RES, rid, sec .. ':' .. estimate .. ':' .. hold .. ':' .. deadline)
  redis.call('ZADD', DL, deadline, rid)
  requests, tokens = requests + 1, tokens + estimate
  requests_reset = (sec + WINDOW) * 1000 - now
  if estimate > 0 then tokens_reset = requests_reset end
end

return { outcome, retry, rpm or -1, requests, requests_reset, tpm or -1, tokens, tokens_reset }
