#!/usr/bin/env bash
# `make bench`: runs the benchmarks in bench/ and prints one summary of
# figures and their ratios to baselines measured in the same run
# (docs/benchmarks.md says what each measures):
#   - decision_bench: policy decisions, SHA-256 against sha256sum;
#   - hoistd over HTTPS: an agent's policy fetch answered 304 and its
#     heartbeat under wrk, beside nginx returning a fixed 200 with the same
#     TLS; requests submitted and approved; idle push connections (memory
#     each, approve-to-push latency with and without them);
#   - replicas (not in the default set; PostgreSQL 15, and about 10 GB
#     free for the largest idle step): submit and approve
#     with one hoistd on SQLite, one on PostgreSQL and three replicas on
#     one PostgreSQL database (a cluster of its own, fsync on); approve-to-
#     push with the approval on another replica than the poll; idle push
#     connections over the three replicas in steps, memory per connection
#     and a policy change's time to reach them all (bench/replicas_bench.cpp);
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
# samples [50]; for the replicas part: HOIST_BENCH_REPLICA_REQUESTS, per
# driver [2000], HOIST_BENCH_REPLICA_SAMPLES, approve-to-push samples of
# each kind [300], HOIST_BENCH_REPLICA_STEPS [10000,30000,58500: 100,000
# needs an open-files hard limit above 34,000 for each replica],
# HOIST_BENCH_REPLICA_SOURCES, loopback source addresses [8],
# HOIST_BENCH_MEM_FLOOR_MIB, opening stops when the machine's MemAvailable
# falls below it [6144], HOIST_BENCH_REPLICA_DRIVERS, driver processes for
# the idle connections [as many as the open-files limit needs]. Arguments go
# to decision_bench.
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
pg_dir=""
pg_started=""
as_pg=()
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
  # The replicas part's PostgreSQL: stopped after every hoistd is.
  if [ -n "$pg_dir" ]; then
    if [ -n "$pg_started" ]; then
      "${as_pg[@]}" /usr/lib/postgresql/15/bin/pg_ctl -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 ||
        echo "bench: pg_ctl stop failed; PostgreSQL in $pg_dir may still run" >&2
    fi
    rm -rf "$pg_dir"
  fi
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

if [[ $parts == *" replicas "* ]]; then
  # Several hoistd replicas on one PostgreSQL (docs/benchmarks.md, "Several
  # replicas on PostgreSQL"): a cluster of this run's own in a temporary
  # directory (fsync on, 127.0.0.1 and a free port), one hoistd on SQLite
  # as the baseline, one on PostgreSQL, then three on one database.
  pg_bin=/usr/lib/postgresql/15/bin
  [ -x "$pg_bin/postgres" ] || die "PostgreSQL 15 is missing (apt-get install postgresql-15)"
  replica_requests=${HOIST_BENCH_REPLICA_REQUESTS:-2000}
  replica_samples=${HOIST_BENCH_REPLICA_SAMPLES:-300}
  replica_steps=${HOIST_BENCH_REPLICA_STEPS:-10000,30000,58500}
  replica_sources=${HOIST_BENCH_REPLICA_SOURCES:-8}
  mem_floor_mib=${HOIST_BENCH_MEM_FLOOR_MIB:-6144}
  max_step=$(tr ',' '\n' <<<"$replica_steps" | sort -n | tail -n 1)

  # Descriptors: each replica holds a third of the idle connections, the
  # drivers all of them. Root with CAP_SYS_RESOURCE may raise this shell's
  # hard limit (only for this script and its children); otherwise the hard
  # limit stands: the drivers are then several processes, each below it,
  # but a replica still holds at most about that many connections.
  want_fds=$((max_step + 2000))
  if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
    ulimit -Hn "$want_fds" 2>/dev/null || true
  fi
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  fd_limit=$(ulimit -n)
  [ "$fd_limit" = unlimited ] && fd_limit=1048576
  per_driver=$((fd_limit - 1000))
  drivers=$(((max_step + per_driver - 1) / per_driver))
  if [ "${HOIST_BENCH_REPLICA_DRIVERS:-0}" -gt "$drivers" ]; then drivers=$HOIST_BENCH_REPLICA_DRIVERS; fi
  if [ $(((max_step + 2) / 3 + 500)) -gt "$fd_limit" ]; then
    echo "bench: the open-files limit is $fd_limit per process (hard): a replica holds at most about $((fd_limit - 500)) connections, fewer than a third of $max_step" >&2
  fi

  # PostgreSQL refuses to run as root: as root the cluster belongs to the
  # postgres user, in a directory of its own outside $work (mode 0700).
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/hoist-bench-pg.XXXXXX")
  as_pg=()
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "there is no postgres user (install postgresql-15)"
    chown postgres: "$pg_dir"
    as_pg=(runuser -u postgres --)
  fi
  pg_port=$("$build/bench/hoistd_api_bench" free-port)
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U hoist -E UTF8 --locale=C --no-instructions \
    >"$pg_dir/initdb.log" 2>&1 || die "initdb failed: $(tail -n 5 "$pg_dir/initdb.log")"
  cat >>"$pg_dir/data/postgresql.conf" <<PGCONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pg_dir'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 300
PGCONF
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 start >/dev/null ||
    die "PostgreSQL did not start: $(tail -n 5 "$pg_dir/server.log")"
  pg_started=1
  for db in single multi; do
    "$pg_bin/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U hoist -d postgres -c "CREATE DATABASE $db" ||
      die "CREATE DATABASE $db failed"
  done

  # The same hoistd.toml for every hoistd, bar [database]: room for the
  # idle connections (a third of the largest step per replica, and any
  # number per source address), and the submission limits out of reach
  # (as in the hoistd part).
  replica_toml() {
    cat <<TOML
[limits]
max_connections = $((max_step + 2000))
max_connections_per_address = $((max_step + 2000))

[requests]
endpoint_burst = 1000000
endpoint_every = "1ms"
user_burst = 1000000
user_every = "1ms"
TOML
    if [ -n "${1:-}" ]; then
      printf '\n[database]\nbackend = "postgres"\nurl = "host=127.0.0.1 port=%s user=hoist dbname=%s"\n' "$pg_port" "$1"
    fi
  }
  password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  # start_hoistd NAME [DATABASE]: data in $work/NAME; sets started_pid.
  start_hoistd() {
    local name=$1
    replica_toml "${2:-}" >"$work/$name.toml"
    HOIST_ADMIN_PASSWORD=$password "$build/src/server/hoistd" --config "$work/$name.toml" --data-dir "$work/$name" \
      --port 0 --ready-file "$work/$name.ready" --admin-user admin >"$work/$name.out" 2>"$work/$name.log" &
    started_pid=$!
    pids+=("$started_pid")
    for _ in $(seq 200); do
      [ -s "$work/$name.ready" ] && return 0
      kill -0 "$started_pid" 2>/dev/null || die "$name did not start: $(tail -n 3 "$work/$name.log")"
      sleep 0.1
    done
    die "$name did not write its ready file"
  }
  # stop_hoistd PID NAME: SIGTERM; it must drain and exit 0.
  stop_hoistd() {
    local status=0
    kill -TERM "$1"
    wait "$1" || status=$?
    [ "$status" -eq 0 ] || die "$2 exited with status $status"
    local problems
    problems=$({ grep -E '"level":"(warning|error)"' "$work/$2.log" || true; } |
      sed -n 's/.*"event":"\([^"]*\)".*/\1/p' | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
    stopped+=("$2: ${problems:-none}")
  }
  stopped=()
  declare -A ops

  # lifecycle SLUG LABEL CLIENTS ENV READY...: CLIENTS drivers at once, each its
  # own endpoint, on the READY files in turn; each submits and approves
  # $replica_requests requests. Throughput over the wall time of them all;
  # percentiles over every sample.
  lifecycle() {
    local slug=$1 label=$2 clients=$3 env=$4
    shift 4
    local readies=("$@") lpids=() i
    local start end
    start=$(date +%s.%N)
    for ((i = 0; i < clients; i++)); do
      "$build/bench/hoistd_api_bench" lifecycle --ready "${readies[$((i % ${#readies[@]}))]}" --env "$env" \
        --requests "$replica_requests" --baselines no --hostname "bench-$slug-$i" \
        --samples-out "$work/$slug-$i.samples" >"$work/$slug-$i.out" 2>&1 &
      lpids+=($!)
      pids+=($!)
    done
    for pid in "${lpids[@]}"; do
      wait "$pid" || die "the submit-and-approve driver of $label failed: $(cat "$work/$slug"-*.out | tail -n 3)"
    done
    end=$(date +%s.%N)
    ops[$label]=$(awk -v s="$start" -v e="$end" -v n=$((2 * clients * replica_requests)) 'BEGIN { printf "%.1f", n / (e - s) }')
    local line
    line=$(cat "$work/$slug"-*.samples | sort -k1,1 -k2,2g | awk -v label="$label" -v ops="${ops[$label]}" '
      { v[$1, ++n[$1]] = $2 }
      function pct(k, p,   r) { r = int(p * n[k] + 0.999999); if (r < 1) r = 1; return v[k, r] }
      END { printf "%-34s %7.0f ops/s | submit p50 %6.2f p99 %6.2f ms | approve p50 %6.2f p99 %6.2f ms",
        label, ops, pct("submit", 0.5), pct("submit", 0.99), pct("approve", 0.5), pct("approve", 0.99) }')
    echo "$line"
    lifecycle_lines+=("$line")
  }
  lifecycle_lines=()

  echo
  echo "== replicas: submit and approve, $replica_requests requests per driver (PostgreSQL: fsync on)"
  start_hoistd sqlite
  sqlite_pid=$started_pid
  HOIST_ADMIN_PASSWORD=$password "$build/bench/hoistd_api_bench" setup --ready "$work/sqlite.ready" \
    --env-out "$work/sqlite.env" >/dev/null || die "setup on SQLite failed"
  lifecycle sqlite-1 "SQLite, 1 driver" 1 "$work/sqlite.env" "$work/sqlite.ready"
  lifecycle sqlite-3 "SQLite, 3 drivers" 3 "$work/sqlite.env" "$work/sqlite.ready"
  stop_hoistd "$sqlite_pid" sqlite

  start_hoistd pg1 single
  pg1_pid=$started_pid
  HOIST_ADMIN_PASSWORD=$password "$build/bench/hoistd_api_bench" setup --ready "$work/pg1.ready" \
    --env-out "$work/pg1.env" >/dev/null || die "setup on PostgreSQL failed"
  lifecycle pg1-1 "PostgreSQL x1, 1 driver" 1 "$work/pg1.env" "$work/pg1.ready"
  lifecycle pg1-3 "PostgreSQL x1, 3 drivers" 3 "$work/pg1.env" "$work/pg1.ready"
  stop_hoistd "$pg1_pid" pg1

  # Three replicas on database "multi": the first makes the shared keys,
  # the others get copies before their first start.
  start_hoistd replica-a multi
  replica_pids=("$started_pid")
  for name in replica-b replica-c; do
    (umask 077 && mkdir -p "$work/$name/tls" "$work/$name/codes" "$work/$name/notify")
    cp -p "$work/replica-a/tls/ca.crt" "$work/replica-a/tls/ca.key" "$work/$name/tls/"
    cp -p "$work/replica-a/codes/master.key" "$work/$name/codes/"
    cp -p "$work/replica-a/notify/secrets.key" "$work/$name/notify/"
    start_hoistd "$name" multi
    replica_pids+=("$started_pid")
  done
  HOIST_ADMIN_PASSWORD=$password "$build/bench/hoistd_api_bench" setup --ready "$work/replica-a.ready" \
    --env-out "$work/multi.env" >/dev/null || die "setup on the replicas failed"
  lifecycle pg3-3 "PostgreSQL x3, 3 drivers (1 each)" 3 "$work/multi.env" \
    "$work/replica-a.ready" "$work/replica-b.ready" "$work/replica-c.ready"
  summary+=("replicas: submit+approve, $replica_requests requests per driver, sequential per driver (PostgreSQL fsync on):")
  for line in "${lifecycle_lines[@]}"; do summary+=("  $line"); done
  summary+=("$(awk -v s1="${ops["SQLite, 1 driver"]}" -v s3="${ops["SQLite, 3 drivers"]}" \
    -v p1="${ops["PostgreSQL x1, 1 driver"]}" -v p13="${ops["PostgreSQL x1, 3 drivers"]}" \
    -v p3="${ops["PostgreSQL x3, 3 drivers (1 each)"]}" 'BEGIN {
    printf "  ratios to SQLite: PostgreSQL x1 %.2fx (1 driver), %.2fx (3 drivers); PostgreSQL x3 %.2fx (3 drivers, vs SQLite 3 drivers)", p1 / s1, p13 / s3, p3 / s3 }')")

  echo
  echo "== replicas: approve-to-push across replicas; idle push connections in steps ($replica_steps)"
  ready_list="$work/replica-a.ready,$work/replica-b.ready,$work/replica-c.ready"
  pid_list=$(IFS=,; echo "${replica_pids[*]}")
  # $drivers processes (each below the open-files limit), meeting in
  # $work/sync; the first measures and prints.
  mkdir -p "$work/sync"
  driver_pids=()
  for ((d = 1; d < drivers; d++)); do
    "$build/bench/replicas_bench" --ready "$ready_list" --env "$work/multi.env" --pids "$pid_list" \
      --steps "$replica_steps" --sources "$replica_sources" --mem-floor-mib "$mem_floor_mib" \
      --shard "$d/$drivers" --sync-dir "$work/sync" >"$work/replicas-$d.out" 2>&1 &
    driver_pids+=($!)
    pids+=($!)
  done
  "$build/bench/replicas_bench" --ready "$ready_list" --env "$work/multi.env" --pids "$pid_list" \
    --samples "$replica_samples" --steps "$replica_steps" --sources "$replica_sources" \
    --mem-floor-mib "$mem_floor_mib" --shard "0/$drivers" --sync-dir "$work/sync" | tee "$work/replicas.out" ||
    die "the replicas benchmark failed: $(tail -n 3 "$work"/replicas-*.out 2>/dev/null)"
  for pid in "${driver_pids[@]}"; do
    wait "$pid" || die "a replicas benchmark driver failed: $(tail -n 3 "$work"/replicas-*.out)"
  done
  for ((d = 1; d < drivers; d++)); do sed 's/^/  /' "$work/replicas-$d.out"; done
  mapfile -t lines < <(sed -n 's/^summary: /replicas: /p' "$work/replicas.out")
  summary+=("${lines[@]}")
  i=0
  for name in replica-a replica-b replica-c; do
    stop_hoistd "${replica_pids[$i]}" "$name"
    i=$((i + 1))
  done
  summary+=("replicas: every hoistd stopped cleanly (SIGTERM, exit 0); warnings and errors in their logs: $(IFS=';'; echo "${stopped[*]}")")
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
