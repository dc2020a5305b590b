#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 15), starting from the
# seed corpus in fuzz/corpus/. New inputs go to a scratch copy, so the
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
run policy_parser_fuzz policy
run small_parsers_fuzz small
run dpkg_parsers_fuzz dpkg
run api_input_fuzz api_input_fuzz
run config_fuzz config
run ipc_frame_fuzz ipc_frame
run plugin_args_fuzz plugin_args
run agent_json_fuzz agent_json
run event_bounds_fuzz event_bounds
run sudo_conf_fuzz sudo_conf
run admin_code_fuzz admin_code
echo "fuzz: all targets ran ${seconds}s without a finding"
