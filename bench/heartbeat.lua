-- wrk script: agent heartbeats (POST /api/v1/agent/heartbeat) from many
-- enrolled agents in turn. Each must be a durable write, as in a fleet where
-- every heartbeat moves an agent's last_seen; but hoistd keeps last_seen in
-- whole seconds and SQLite skips an update that changes nothing, so on
-- every pass through the agents each reports the other of two versions.
-- The credentials file (one a line, 0600) is named in the environment by
-- scripts/bench.sh; no secret is on a command line.
local path = os.getenv("HOIST_BENCH_CREDENTIALS_FILE") or error("HOIST_BENCH_CREDENTIALS_FILE is not set")
local credentials = {}
for line in io.lines(path) do
  if line ~= "" then
    credentials[#credentials + 1] = line
  end
end
assert(#credentials > 0, "no credentials in " .. path)

local requests = { {}, {} } -- [pass parity][agent]
local sent = 0

function init(args)
  -- wrk has set the Host header by now; build every request once.
  for parity, version in ipairs({ "0.1.0", "0.1.1" }) do
    for i, credential in ipairs(credentials) do
      requests[parity][i] = wrk.format("POST", "/api/v1/agent/heartbeat", {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. credential,
      }, '{"agent_version":"' .. version .. '"}')
    end
  end
end

function request()
  local n = #credentials
  local parity = math.floor(sent / n) % 2 + 1
  local agent = sent % n + 1
  sent = sent + 1
  return requests[parity][agent]
end
