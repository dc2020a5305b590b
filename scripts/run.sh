#!/usr/bin/env bash
# `make run`: starts hoistd on its embedded default (SQLite) with its data
# in var/hoistd, in the foreground; Ctrl-C (SIGINT) or SIGTERM stops it
# gracefully. On first start hoistd creates its own CA and the first admin,
# and prints the URL, the CA fingerprint, the admin's password (once) and an
# enrolment token; it serves the web console (make console builds it) at /.
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
echo
exec "$hoistd" --data-dir "$data" --port "$port" --console-dir console/dist --enrolment-token "${HOIST_ENROL_LABELS:-demo}"
