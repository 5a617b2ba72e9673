-- etcd_kv.lua - wrk script: etcd's v3 HTTP/JSON gateway (grpc-gateway),
-- the counterpart of kv_put.lua and kv_get.lua for bench/etcd.sh.
--
--   wrk ... -s bench/etcd_kv.lua URL -- put RUN
--     POST /v3/kv/put, a new key bench/put/<run>/<thread>/<n> per request,
--     a 256-byte value (keys and values travel base64-encoded in JSON)
--   wrk ... -s bench/etcd_kv.lua URL -- get NKEYS serializable|linearizable
--     POST /v3/kv/range of bench/get/<k>, k = 0..NKEYS-1 round-robin
--
-- done() prints the BENCH line of kv_put.lua (latencies in microseconds).

local threads = {}
local alphabet =
   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(s)
   local out = {}
   for i = 1, #s, 3 do
      local a, b, c = s:byte(i, i + 2)
      local n = a * 65536 + (b or 0) * 256 + (c or 0)
      local q = {}
      for j = 1, 4 do
         local k = math.floor(n / 64 ^ (4 - j)) % 64 + 1
         q[j] = alphabet:sub(k, k)
      end
      if not b then q[3] = "=" end
      if not c then q[4] = "=" end
      out[#out + 1] = table.concat(q)
   end
   return table.concat(out)
end

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   mode = args[1] or "put"
   hdr = { ["Content-Type"] = "application/json" }
   if mode == "put" then
      prefix = "bench/put/" .. (args[2] or "0") .. "/" .. tid .. "/"
      value = b64(string.rep("v", 256))
      counter = 0
   else
      nkeys = tonumber(args[2]) or 100
      local ser = (args[3] == "serializable") and "true" or "false"
      bodies = {}
      for k = 0, nkeys - 1 do
         bodies[k] = '{"key":"' .. b64("bench/get/" .. k) ..
            '","serializable":' .. ser .. '}'
      end
      counter = (tid * 7919) % nkeys
   end
end

function request()
   if mode == "put" then
      counter = counter + 1
      return wrk.format("POST", "/v3/kv/put", hdr,
         '{"key":"' .. b64(prefix .. counter) .. '","value":"' .. value .. '"}')
   end
   counter = (counter + 1) % nkeys
   return wrk.format("POST", "/v3/kv/range", hdr, bodies[counter])
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
