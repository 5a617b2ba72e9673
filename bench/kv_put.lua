-- kv_put.lua - wrk script: PUT /v1/kv/<distinct key> with a 256-byte value.
--
-- Every request writes a new key: bench/put/<run>/<thread>/<n>, where
-- <run> is the first script argument (wrk ... -- <run>) so that runs do
-- not overwrite each other. done() prints one machine-readable line:
--   BENCH requests=N duration_us=N rps=F p50_us=N p99_us=N errors=N non2xx=N
-- (latencies in microseconds, from wrk's latency histogram).

local threads = {}
local value = string.rep("v", 256)

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   local run = args[1] or "0"
   prefix = "/v1/kv/bench/put/" .. run .. "/" .. tid .. "/"
   counter = 0
end

function request()
   counter = counter + 1
   return wrk.format("PUT", prefix .. counter,
                     { ["Content-Type"] = "application/octet-stream" }, value)
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d " ..
      "errors=%d non2xx=%d\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50), latency:percentile(99),
      e.connect + e.read + e.write + e.timeout, e.status))
end
