-- wrk script: durable POST /api/v1/contacts, varying channel and subject.
-- Start the server (release build), then:
--   wrk -t2 -c64 -d10s --latency -s server/bench/post.lua http://127.0.0.1:18080
-- Loopback only.
local channels = {"phone", "web_form", "email", "pec", "fax", "letter"}
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"channel":"%s","request_type":"information","event":"load-test","subject":"load %d",'
      .. '"message":"where is the nearest shelter?"}',
    channels[(n % 6) + 1], n)
  return wrk.format("POST", "/api/v1/contacts", {["content-type"] = "application/json"}, body)
end
