-- Shared by the wrk scripts of bench-http (docs/PERFORMANCE.md).
-- Loaded with dofile() from the scenario scripts in this directory.

-- A JSON POST with the bearer token, as the vault CLI sends it.
function vaultd_request(token)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- Strings shaped like what a client stores: base64url of ciphertexts
-- (entry username 48 bytes, password 64 bytes, sealed by the client).
USERNAME = string.rep("dXNlcm5hbWUtY2lwaGVydGV4dC0", 3):sub(1, 64)
PASSWORD = string.rep("cGFzc3dvcmQtY2lwaGVydGV4dC0", 4):sub(1, 88)

-- One machine-readable line for bench-http; latencies in microseconds.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d mean_us=%.1f max_us=%d\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end

-- Profiling (bench/profile.sh): with BENCH_COUNT=N in the environment, wrk
-- exits right after the N-th response, so the server has served exactly N
-- requests; a status of 400 or more stops it with an error.
local count = tonumber(os.getenv("BENCH_COUNT") or "")
if count then
  local seen = 0
  function response(status, headers, body)
    if status >= 400 then
      io.stderr:write("BENCH_COUNT: status " .. status .. "\n")
      os.exit(2)
    end
    seen = seen + 1
    if seen >= count then
      os.exit(0)
    end
  end
end
