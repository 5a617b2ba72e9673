-- kv_get.lua - wrk script: GET /v1/kv/bench/get/<k> over a fixed key set.
--
-- bench/run.sh writes the keys bench/get/0 .. bench/get/<nkeys-1> (256-byte
-- values) before the run; nkeys is the first script argument (default
-- 100), the second, if any, a query string for every GET ("?stale",
-- "?consistent"; bench/etcd.sh). Each connection walks the set
-- round-robin from its own offset.
-- done() prints the same BENCH line as kv_put.lua.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   nkeys = tonumber(args[1]) or 100
   query = args[2] or ""
   counter = (tid * 7919) % nkeys
end

function request()
   counter = (counter + 1) % nkeys
   return wrk.format("GET", "/v1/kv/bench/get/" .. counter .. query)
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
