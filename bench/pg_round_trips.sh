#!/usr/bin/env bash
# Counts what hoistd asks PostgreSQL for each submit and approval
# (docs/benchmarks.md, "Round trips per write"): a cluster of its own in a
# temporary directory with log_statement = all, one hoistd on it, one
# driver submitting and approving N requests (hoistd_api_bench lifecycle),
# then, from the server's log, the round trips of each write transaction
# from BEGIN to COMMIT (the time a write holds the cluster's write lock is
# these round trips and the commit's flush) and the statements outside
# them. A count, not a time: the same on a busy machine as on a quiet one.
# Everything runs on 127.0.0.1 and is stopped and removed on exit.
#
# Environment: HOIST_BUILD_DIR [build/default], HOIST_BENCH_REQUESTS [200].
set -euo pipefail
cd "$(dirname "$0")/.."
build=${HOIST_BUILD_DIR:-build/default}
requests=${HOIST_BENCH_REQUESTS:-200}
pg_bin=/usr/lib/postgresql/15/bin
die() { echo "pg_round_trips: $*" >&2; exit 1; }
[ -x "$pg_bin/postgres" ] || die "PostgreSQL 15 is missing (apt-get install postgresql-15)"
for b in src/server/hoistd bench/hoistd_api_bench; do
  [ -x "$build/$b" ] || die "$build/$b is missing (cmake --build --preset default --target hoistd hoistd_api_bench)"
done
work=$(mktemp -d "${TMPDIR:-/tmp}/hoist-bench-rt.XXXXXX")
chmod 755 "$work"
pg_dir=$work/pg
mkdir "$pg_dir"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "there is no postgres user (install postgresql-15)"
  chown postgres: "$pg_dir"
  as_pg=(runuser -u postgres --)
fi
hoistd_pid=
pg_started=
cleanup() {
  if [ -n "$hoistd_pid" ]; then kill -TERM "$hoistd_pid" 2>/dev/null || true; wait "$hoistd_pid" 2>/dev/null || true; fi
  if [ -n "$pg_started" ]; then "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port=$("$build/bench/hoistd_api_bench" free-port)
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U hoist -E UTF8 --locale=C --no-instructions \
  >"$pg_dir/initdb.log" 2>&1 || die "initdb failed: $(tail -n 5 "$pg_dir/initdb.log")"
cat >>"$pg_dir/data/postgresql.conf" <<PGCONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$pg_dir'
log_statement = 'all'
log_line_prefix = '[%p] '
PGCONF
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 start >/dev/null ||
  die "PostgreSQL did not start: $(tail -n 5 "$pg_dir/server.log")"
pg_started=1
"$pg_bin/psql" -X -q -h 127.0.0.1 -p "$port" -U hoist -d postgres -c "CREATE DATABASE hoist" >/dev/null
cat >"$work/hoistd.toml" <<TOML
[requests]
endpoint_burst = 1000000
endpoint_every = "1ms"
user_burst = 1000000
user_every = "1ms"

[database]
backend = "postgres"
url = "host=127.0.0.1 port=$port user=hoist dbname=hoist"
TOML
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
HOIST_ADMIN_PASSWORD=$password "$build/src/server/hoistd" --config "$work/hoistd.toml" --data-dir "$work/data" \
  --port 0 --ready-file "$work/ready" --admin-user admin >"$work/hoistd.out" 2>"$work/hoistd.log" &
hoistd_pid=$!
for _ in $(seq 200); do
  [ -s "$work/ready" ] && break
  kill -0 "$hoistd_pid" 2>/dev/null || die "hoistd did not start: $(tail -n 3 "$work/hoistd.log")"
  sleep 0.1
done
[ -s "$work/ready" ] || die "hoistd wrote no ready file"
HOIST_ADMIN_PASSWORD=$password "$build/bench/hoistd_api_bench" setup --ready "$work/ready" --env-out "$work/env" \
  >/dev/null || die "setup failed"
from=$(($(wc -l <"$pg_dir/server.log") + 1))
"$build/bench/hoistd_api_bench" lifecycle --ready "$work/ready" --env "$work/env" --requests "$requests" \
  --baselines no --hostname bench-rt --samples-out "$work/samples" >"$work/lifecycle.out" 2>&1 ||
  die "the driver failed: $(tail -n 3 "$work/lifecycle.out")"
to=$(wc -l <"$pg_dir/server.log")
sed -n "${from},${to}p" "$pg_dir/server.log" | awk -v requests="$requests" '
  match($0, /^\[[0-9]+\]/) { pid = substr($0, RSTART, RLENGTH) }
  !/ LOG: +(statement|execute [^:]*): / { next }
  /: BEGIN/ { open[pid] = 1; n[pid] = 1; next }
  /: COMMIT$/ { if (open[pid]) { trips += n[pid] + 1; writes++ } open[pid] = 0; next }
  { if (open[pid]) n[pid]++; else outside++ }
  END {
    if (writes == 0) { print "pg_round_trips: no write transaction in the log" > "/dev/stderr"; exit 1 }
    printf "%d requests submitted and approved: %d write transactions, %.2f round trips each from BEGIN to COMMIT; %.2f statements outside them per request\n",
      requests, writes, trips / writes, outside / requests
  }'
