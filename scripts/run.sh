#!/usr/bin/env bash
# `make run`: starts hoistd on its embedded default (SQLite) with its data
# in var/hoistd, in the foreground; Ctrl-C (SIGINT) or SIGTERM stops it
# gracefully. On first start hoistd creates its own CA and the first admin,
# and prints the URL, the CA fingerprint, the admin's password (once) and an
# enrolment token; it serves the web console (make console builds it) at /.
# Its log goes to var/hoistd.log ($HOIST_LOG), not the terminal.
# Before that, the example policy is checked.
set -euo pipefail
hoist=$1
hoistd=$2
cd "$(dirname "$0")/.."
data=${HOIST_DATA_DIR:-var/hoistd}
port=${HOIST_PORT:-8443}

echo "== hoist policy check examples/policy.toml"
"$hoist" policy check examples/policy.toml
echo
if [ -e "$data/hoist.db" ]; then
  echo "== Reusing $data (the first admin's password was printed at its first start;"
  echo "   delete $data to start over)."
fi
echo "== hoistd --data-dir $data --port $port --console-dir console/dist"
echo "   The console: https://localhost:$port/ (your browser will ask about hoistd's own CA:"
echo "   trust $data/tls/ca.crt, or accept it once for localhost)"
echo "   Try: curl --cacert $data/tls/ca.crt https://localhost:$port/api/v1/health"
echo "   Log in: curl --cacert $data/tls/ca.crt -c cookies -d '{\"user\":\"admin\",\"password\":\"...\"}' https://localhost:$port/api/v1/login"
# hoistd's log (JSON lines on stderr) goes to a file, so that the lines
# hoistd prints once (the first admin's password, the enrolment token)
# stay on the terminal instead of scrolling away under every request.
log=${HOIST_LOG:-var/hoistd.log}
mkdir -p "$(dirname "$log")"
echo "   hoistd's log: $log (tail -f $log)"
echo
"$hoistd" --data-dir "$data" --port "$port" --console-dir console/dist \
  --enrolment-token "${HOIST_ENROL_LABELS:-demo}" 2>>"$log" &
pid=$!
# Ctrl-C or SIGTERM stops hoistd gracefully (a background job of a script
# would ignore the terminal's SIGINT).
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
status=0
while :; do
  wait "$pid" && status=0 || status=$?
  kill -0 "$pid" 2>/dev/null || break  # a signal ended the wait, not hoistd
done
if [ "$status" -ne 0 ]; then
  echo "hoistd exited with status $status; the end of $log:" >&2
  tail -n 20 "$log" >&2
fi
exit "$status"
