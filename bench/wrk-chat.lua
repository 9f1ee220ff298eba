-- wrk script for the optional cross-check in run.sh: POSTs one small non-streaming chat completion.
-- Usage: wrk ... -s bench/wrk-chat.lua URL -- MODEL KEY
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  local model = args[1] or "mock-fast"
  wrk.headers["Authorization"] = "Bearer " .. (args[2] or "sk-bench-key")
  wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"Hello benchmark"}],"max_tokens":16}'
end
-- No response() hook: it would take wrk off its fast path; wrk reports non-2xx answers by itself.
