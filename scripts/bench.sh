#!/usr/bin/env bash
# `make bench`: runs the benchmarks in bench/ and prints one summary of
# figures and their ratios to baselines measured in the same run
# (docs/benchmarks.md says what each measures):
#   - decision_bench: policy decisions, SHA-256 against sha256sum;
#   - hoistd over HTTPS: an agent's policy fetch answered 304 and its
#     heartbeat under wrk, beside nginx returning a fixed 200 with the same
#     TLS; requests submitted and approved; idle push connections (memory
#     each, approve-to-push latency with and without them);
#   - endpoint (root only; skipped otherwise): `sudo -n /usr/bin/true`
#     through hoist_sudo.so and hoist-agent against stock sudoers with a
#     NOPASSWD rule, and approve-to-command-start with the real sudo on a
#     pseudo-terminal (bench/endpoint_bench.cpp: a bench user made and
#     removed, everything in a private mount namespace; the host's /etc is
#     never changed).
# hoistd and nginx run from a private temporary directory, listen on
# 127.0.0.1 only, and are stopped on exit (also on failure or Ctrl-C).
# wrk, nginx and openssl come from `scripts/install-deps.sh --bench`.
#
# Environment (defaults in brackets): HOIST_BUILD_DIR [build/default],
# HOIST_BENCH_PARTS ["decision hoistd endpoint"], HOIST_BENCH_SECONDS, each
# wrk run [10], HOIST_BENCH_REQUESTS, submitted and approved [10000],
# HOIST_BENCH_IDLE, idle push connections [10000], HOIST_BENCH_SAMPLES,
# approve-to-push samples per phase [200], HOIST_BENCH_NOTIFY_REQUESTS,
# submitted and approved per block pair with and without channels [2000],
# HOIST_BENCH_SUDO_RUNS, sudo runs
# of each kind [500], HOIST_BENCH_APPROVALS, approve-to-command-start
# samples [50]. Arguments go to decision_bench.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${HOIST_BUILD_DIR:-build/default}
parts=" ${HOIST_BENCH_PARTS:-decision hoistd endpoint} "
seconds=${HOIST_BENCH_SECONDS:-10}
requests=${HOIST_BENCH_REQUESTS:-10000}
idle=${HOIST_BENCH_IDLE:-10000}
samples=${HOIST_BENCH_SAMPLES:-200}
sudo_runs=${HOIST_BENCH_SUDO_RUNS:-500}
approvals=${HOIST_BENCH_APPROVALS:-50}

work=$(mktemp -d "${TMPDIR:-/tmp}/hoist-bench.XXXXXX") # mode 0700
pids=()
endpoint_user=""
cleanup() {
  # endpoint_bench removes its user itself; this covers its being killed.
  if [ -n "$endpoint_user" ] && id "$endpoint_user" >/dev/null 2>&1; then
    userdel "$endpoint_user" || echo "bench: userdel $endpoint_user failed; remove the user by hand" >&2
  fi
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

summary=()
die() {
  echo "bench: $*" >&2
  if [ -s "$work/hoistd.log" ]; then
    echo "bench: the end of hoistd's log:" >&2
    tail -n 5 "$work/hoistd.log" >&2
  fi
  exit 1
}

# Waits until something accepts TCP connections on 127.0.0.1:$1.
wait_for_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

requests_per_second() {
  awk '/^Requests\/sec:/ { print $2 }' "$1"
}

# wrk with one thread and 64 keep-alive connections; the output goes to $1.
run_wrk() {
  local out=$1
  shift
  wrk -t1 -c64 -d"${seconds}s" --latency "$@" | tee "$out" || die "wrk failed"
  if grep -q "Non-2xx or 3xx" "$out"; then
    die "the server answered errors during the wrk run above"
  fi
}

if [[ $parts == *" decision "* ]]; then
  echo "== decision_bench"
  "$build/bench/decision_bench" --benchmark_counters_tabular=true "$@" | tee "$work/decision.out" ||
    die "decision_bench failed"
  mapfile -t lines < <(sed -n '/^== Hoist benchmark summary/,$p' "$work/decision.out" | tail -n +2)
  summary+=("${lines[@]}")
fi

if [[ $parts == *" hoistd "* ]]; then
  for tool in wrk nginx openssl; do
    command -v "$tool" >/dev/null || die "$tool is missing: run scripts/install-deps.sh --bench (as root)"
  done
  # Both ends of the idle connections need descriptors: the drivers get
  # this shell's limit; hoistd raises its own soft limit to the hard one.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((idle + 200)) ]; then
    echo "bench: the open-files limit is $(ulimit -n); using $(($(ulimit -n) - 200)) idle connections, not $idle" >&2
    idle=$(($(ulimit -n) - 200))
  fi

  # hoistd with its defaults, except room for the idle connections, and
  # limits on submissions no driver reaches: the drivers submit thousands
  # of requests from one endpoint (a few users in turn) as fast as hoistd
  # takes them, which is what the default limits (docs/hoistd.md, 60 at
  # once per endpoint, 20 per user) are there to refuse. The figures are
  # hoistd's speed, not the limits'.
  cat >"$work/hoistd.toml" <<EOF
[limits]
max_connections = $((idle + 1000))

[requests]
endpoint_burst = 1000000
endpoint_every = "1ms"
user_burst = 1000000
user_every = "1ms"
EOF
  password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  HOIST_ADMIN_PASSWORD=$password "$build/src/server/hoistd" --config "$work/hoistd.toml" --data-dir "$work/hoistd" \
    --port 0 --ready-file "$work/ready.json" --admin-user admin >"$work/hoistd.out" 2>"$work/hoistd.log" &
  hoistd_pid=$!
  pids+=("$hoistd_pid")
  for _ in $(seq 100); do
    [ -s "$work/ready.json" ] && break
    kill -0 "$hoistd_pid" 2>/dev/null || die "hoistd did not start"
    sleep 0.1
  done
  [ -s "$work/ready.json" ] || die "hoistd did not write its ready file"
  port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/ready.json")

  HOIST_ADMIN_PASSWORD=$password "$build/bench/hoistd_api_bench" setup --ready "$work/ready.json" \
    --env-out "$work/bench.env" --heartbeat-agents 1000 --credentials-out "$work/heartbeat.credentials" ||
    die "setup failed"
  credential=$(sed -n 's/^HOIST_BENCH_AGENT_CREDENTIAL=//p' "$work/bench.env")
  etag=$(sed -n 's/^HOIST_BENCH_ETAG=//p' "$work/bench.env")

  # nginx: one worker, a fixed 200 over TLS 1.2/1.3 with an ECDSA P-256
  # certificate like hoistd's, keep-alive without a request cap (hoistd has
  # none), an access log like hoistd's request log. Nothing outside $work.
  ng="$work/nginx"
  mkdir -p "$ng/tmp"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$ng/key.pem" -out "$ng/cert.pem" 2>/dev/null
  nginx_port=$("$build/bench/hoistd_api_bench" free-port)
  cat >"$ng/nginx.conf" <<EOF
worker_processes 1;
pid $ng/nginx.pid;
lock_file $ng/nginx.lock;
error_log $ng/error.log;
events { worker_connections 1024; }
http {
  access_log $ng/access.log;
  client_body_temp_path $ng/tmp/body;
  proxy_temp_path $ng/tmp/proxy;
  fastcgi_temp_path $ng/tmp/fastcgi;
  uwsgi_temp_path $ng/tmp/uwsgi;
  scgi_temp_path $ng/tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $ng/cert.pem;
    ssl_certificate_key $ng/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      default_type application/json;
      return 200 '{"status":"ok"}';
    }
  }
}
EOF
  nginx -p "$ng" -c "$ng/nginx.conf" -e "$ng/error.log" -g 'daemon off;' &
  nginx_pid=$!
  pids+=("$nginx_pid")
  wait_for_port "$nginx_port" || die "nginx did not start: $(cat "$ng/error.log" 2>/dev/null)"

  echo
  echo "== nginx, 1 worker: fixed 200 over HTTPS (baseline)"
  run_wrk "$work/wrk-nginx.out" "https://127.0.0.1:$nginx_port/"
  echo
  echo "== hoistd: agent policy fetch with its ETag, answered 304"
  HOIST_BENCH_AGENT_CREDENTIAL=$credential HOIST_BENCH_ETAG=$etag \
    run_wrk "$work/wrk-fetch.out" -s bench/policy_fetch.lua "https://127.0.0.1:$port/"
  echo
  echo "== hoistd: GET /api/v1/health (no credentials, no database: the HTTPS server and handler hand-off alone)"
  run_wrk "$work/wrk-health.out" "https://127.0.0.1:$port/api/v1/health"
  echo
  echo "== hoistd: agent heartbeats from 1000 agents in turn (POST, one durable write each)"
  HOIST_BENCH_CREDENTIALS_FILE=$work/heartbeat.credentials \
    run_wrk "$work/wrk-heartbeat.out" -s bench/heartbeat.lua "https://127.0.0.1:$port/"
  kill "$nginx_pid"
  wait "$nginx_pid" 2>/dev/null || true

  nginx_rps=$(requests_per_second "$work/wrk-nginx.out")
  fetch_rps=$(requests_per_second "$work/wrk-fetch.out")
  heartbeat_rps=$(requests_per_second "$work/wrk-heartbeat.out")
  health_rps=$(requests_per_second "$work/wrk-health.out")
  summary+=("$(awk -v h="$fetch_rps" -v n="$nginx_rps" 'BEGIN {
    printf "hoistd 304 policy fetch: %.0f req/s; nginx fixed 200 (1 worker, same TLS): %.0f req/s: %.2fx   (target >= 0.5x)", h, n, h / n }')")
  summary+=("$(awk -v h="$health_rps" -v n="$nginx_rps" 'BEGIN {
    printf "  for comparison, hoistd health (no auth, no database): %.0f req/s: %.2fx nginx", h, h / n }')")
  summary+=("$(awk -v h="$heartbeat_rps" -v n="$nginx_rps" 'BEGIN {
    printf "hoistd heartbeat (1000 agents, one durable write each): %.0f req/s: %.3fx nginx", h, h / n }')")

  echo
  echo "== hoistd: submit and approve $requests requests"
  "$build/bench/hoistd_api_bench" lifecycle --ready "$work/ready.json" --env "$work/bench.env" \
    --requests "$requests" --sync-dir "$work/hoistd" | tee "$work/lifecycle.out" ||
    die "the submit-and-approve benchmark failed"

  echo
  echo "== hoistd: $idle idle push connections"
  "$build/bench/hoistd_push_bench" --ready "$work/ready.json" --env "$work/bench.env" --pid "$hoistd_pid" \
    --idle "$idle" --samples "$samples" | tee "$work/push.out" || die "the push benchmark failed"

  echo
  echo "== hoistd: the notification outbox (webhooks to a receiver on 127.0.0.1)"
  "$build/bench/notify_bench" --ready "$work/ready.json" --env "$work/bench.env" --cert "$ng/cert.pem" \
    --key "$ng/key.pem" --requests "${HOIST_BENCH_NOTIFY_REQUESTS:-2000}" | tee "$work/notify.out" ||
    die "the notification benchmark failed"

  mapfile -t lines < <(sed -n 's/^summary: //p' "$work/lifecycle.out" "$work/push.out" "$work/notify.out")
  summary+=("${lines[@]}")

  # A clean stop after all that is part of the result.
  kill -TERM "$hoistd_pid"
  status=0
  wait "$hoistd_pid" || status=$?
  pids=()
  [ "$status" -eq 0 ] || die "hoistd exited with status $status after the benchmarks"
  problems=$({ grep -E '"level":"(warning|error)"' "$work/hoistd.log" || true; } | sed -n 's/.*"event":"\([^"]*\)".*/\1/p' |
    sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
  summary+=("hoistd stopped cleanly (SIGTERM, exit 0); warnings and errors in its log: ${problems:-none}")
fi

if [[ $parts == *" endpoint "* ]]; then
  echo
  if [ "$(id -u)" -ne 0 ]; then
    echo "== endpoint: SKIPPED: needs root (a bench user, a private mount namespace, hoist-agent as root)"
    summary+=("endpoint (sudo through Hoist, approve to command start): skipped, not run as root")
  else
    echo "== endpoint: sudo -n /usr/bin/true through Hoist and through stock sudoers; approve to command start"
    endpoint_user=hoist-bench-$$
    if id "$endpoint_user" >/dev/null 2>&1; then
      endpoint_user=""
      die "a user hoist-bench-$$ exists already"
    fi
    # Every sudo also has its own deadline inside endpoint_bench.
    timeout -k 30 $((180 + sudo_runs / 2 + approvals * 5)) "$build/bench/endpoint_bench" --user "$endpoint_user" \
      --runs "$sudo_runs" --samples "$approvals" | tee "$work/endpoint.out" || die "the endpoint benchmark failed"
    mapfile -t lines < <(sed -n 's/^summary: //p' "$work/endpoint.out")
    summary+=("${lines[@]}")
  fi
fi

echo
echo "== Summary ($(date -u +%Y-%m-%d), $(nproc) cores; figures and ratios to baselines from this run)"
printf '%s\n' "${summary[@]}"
