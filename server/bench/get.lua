-- wrk script: GET /api/v1/cases/{n} spread over cases 1..MAX_CASE (fill the store first,
-- e.g. with post.lua).
--   MAX_CASE=100000 wrk -t2 -c64 -d10s --latency -s server/bench/get.lua http://127.0.0.1:18080
-- Loopback only.
local max = tonumber(os.getenv("MAX_CASE") or "100000")
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/v1/cases/" .. ((n * 7919) % max + 1))
end
