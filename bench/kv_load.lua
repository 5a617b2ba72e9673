-- kv_load.lua - wrk script for bench/etcd.sh: write a fixed set of keys
-- to Proconsul or to etcd, then idle.
--
--   wrk -t T ... -s bench/kv_load.lua URL -- SYSTEM PHASE N T MARKER
--
-- SYSTEM is proconsul (PUT /v1/kv/load/<phase><thread>-<i>) or etcd
-- (POST /v3/kv/put of the same key, base64 in JSON); thread t writes
-- i = 1..quota(t), the N keys split over T threads, 256-byte values cut
-- from a per-thread pool of random base64 characters. Once a thread has
-- seen quota answers to its writes (acknowledged or not) it creates the file
-- MARKER<thread> and its connections only poll, 5 times a second; the
-- caller stops wrk (SIGINT) once all T markers exist.
-- done() prints "BENCH requests=... errors=... non2xx=...".

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
   system = args[1]
   local n, nt = tonumber(args[3]), tonumber(args[4])
   marker = args[5] .. tid
   quota = math.floor(n / nt) + ((tid <= n % nt) and 1 or 0)
   prefix = "load/" .. args[2] .. tid .. "-"
   issued, acked, failed, marked = 0, 0, 0, false
   math.randomseed(tid * 7919)
   local t = {}
   for i = 1, 65536 do
      local r = math.random(64)
      t[i] = alphabet:sub(r, r)
   end
   pool = table.concat(t)
   if system == "etcd" then
      hdr = { ["Content-Type"] = "application/json" }
      idle = wrk.format("GET", "/health")
   else
      hdr = { ["Content-Type"] = "application/octet-stream" }
      idle = wrk.format("GET", "/v1/status/leader")
   end
   if quota == 0 then mark() end
end

function mark()
   if marked then return end
   marked = true
   local f = io.open(marker, "w")
   if f then
      f:write(acked, "\n")
      f:close()
   end
end

function request()
   -- wrk calls thread 1's request() once before the run to check the
   -- script; that request is never sent, so it must not use up a key.
   if tid == 1 and not checked then
      checked = true
      return idle
   end
   if issued >= quota then return idle end
   issued = issued + 1
   local o = math.random(65536 - 256)
   local v = pool:sub(o, o + 255)
   if system == "etcd" then
      return wrk.format("POST", "/v3/kv/put", hdr, '{"key":"' ..
         b64(prefix .. issued) .. '","value":"' .. b64(v) .. '"}')
   end
   return wrk.format("PUT", "/v1/kv/" .. prefix .. issued, hdr, v)
end

function delay()
   return issued >= quota and 200 or 0
end

-- A write answered with an error counts as answered (done() reports it
-- in non2xx), or the thread would never mark; a write lost to a socket
-- error leaves it unmarked, and bench/etcd.sh stops wrk once nothing
-- has been acknowledged for a while.
function response(status, headers, body)
   if status == 200 and (body == "true" or body:sub(1, 10) == '{"header":') then
      acked = acked + 1
   elseif status ~= 200 and issued > 0 then
      failed = failed + 1
   end
   if acked + failed >= quota then mark() end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
      "errors=%d non2xx=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99),
      e.connect + e.read + e.write + e.timeout, e.status))
end
