#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 15), starting from the
# seed corpus in fuzz/corpus/, FUZZ_JOBS at a time (default: the number of
# CPUs, at most 2: make test runs it on CI's two cores). New inputs go to a scratch copy, so the
# committed corpus stays small. Crashes are written to build/fuzz/crashes/.
set -euo pipefail
seconds=${1:-15}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/fuzz/fuzz
crashes=$root/build/fuzz/crashes
mkdir -p "$crashes"
run() {
  local target=$1 corpus=$2
  local scratch
  scratch=$(mktemp -d)
  cp -r "$root/fuzz/corpus/$corpus/." "$scratch/"
  echo "fuzz: $target for ${seconds}s"
  if ! "$bin/$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$crashes/$target-" -print_final_stats=1 "$scratch" >"$crashes/$target.log" 2>&1; then
    tail -n 40 "$crashes/$target.log"
    echo "fuzz: $target FAILED (input saved under $crashes)" >&2
    rm -rf "$scratch"
    return 1
  fi
  grep -E '^stat::number_of_executed_units' "$crashes/$target.log" | sed "s/^/fuzz: $target /"
  rm -rf "$scratch"
}
jobs_max=${FUZZ_JOBS:-$(( $(nproc) < 2 ? $(nproc) : 2 ))}
failed=0
for spec in \
  "policy_parser_fuzz policy" \
  "small_parsers_fuzz small" \
  "dpkg_parsers_fuzz dpkg" \
  "api_input_fuzz api_input_fuzz" \
  "chat_message_fuzz chat_message" \
  "email_message_fuzz email_message" \
  "config_fuzz config" \
  "ipc_frame_fuzz ipc_frame" \
  "plugin_args_fuzz plugin_args" \
  "agent_json_fuzz agent_json" \
  "event_bounds_fuzz event_bounds" \
  "sudo_conf_fuzz sudo_conf" \
  "admin_code_fuzz admin_code" \
  "manifest_fuzz manifest" \
  "pg_dump_data_fuzz pg_dump_data" \
  "proxy_protocol_fuzz proxy_protocol" \
  ; do
  # shellcheck disable=SC2086 # "target corpus"
  run $spec &
  while (( $(jobs -rp | wc -l) >= jobs_max )); do wait -n || failed=1; done
done
while (( $(jobs -rp | wc -l) > 0 )); do wait -n || failed=1; done
if (( failed )); then
  echo "fuzz: a target found something (see above)" >&2
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a finding"
