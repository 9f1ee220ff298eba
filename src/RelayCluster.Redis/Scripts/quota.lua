-- Returns {rpm, tpm, maxc, budget, requests used, requests reset ms, tokens used, tokens reset ms,
--          in flight, reserved, spent, month, paused}.
local st = redis.call('HMGET', S, 'rpm', 'tpm', 'maxc', 'budget', 'spent', 'reserved', 'paused')
local requests, request_buckets = window(RQ)
local tokens, token_buckets = window(TK)
return { limit(st[1]) or -1, limit(st[2]) or -1, limit(st[3]) or -1, tonumber(st[4]) or -1,
         requests, until_empty(request_buckets), tokens, until_empty(token_buckets),
         redis.call('HLEN', RES), tonumber(st[6]) or 0, tonumber(st[5]) or 0, month, st[7] == '1' and 1 or 0 }
