-- wrk script: an enrolled agent's policy fetch with its ETag, which hoistd
-- answers 304 (GET /api/v1/agent/policy, If-None-Match). The credential and
-- the ETag come from the environment (scripts/bench.sh), not the command
-- line, so other local users cannot read them in ps.
wrk.method = "GET"
wrk.path = "/api/v1/agent/policy"
local credential = os.getenv("HOIST_BENCH_AGENT_CREDENTIAL") or error("HOIST_BENCH_AGENT_CREDENTIAL is not set")
local etag = os.getenv("HOIST_BENCH_ETAG") or error("HOIST_BENCH_ETAG is not set")
wrk.headers["Authorization"] = "Bearer " .. credential
wrk.headers["If-None-Match"] = etag
