#!/usr/bin/env bash
# Runs one golden case: tests/golden/cases/NAME.args holds the arguments to
# `hoist`, one per line; NAME.out holds the expected stdout, stderr and exit
# status. Runs from the repository root so paths in the output are stable.
# With UPDATE_GOLDEN=1 the expected output is rewritten instead.
set -euo pipefail
hoist=$1
case_file=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
expected=${case_file%.args}.out
mapfile -t args < <(grep -v '^#' "$case_file")
cd "$root"
set +e
actual=$("$hoist" "${args[@]}" 2>&1; echo "exit: $?")
set -e
if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
  printf '%s\n' "$actual" > "$expected"
  exit 0
fi
if ! diff -u "$expected" <(printf '%s\n' "$actual"); then
  echo "golden case $(basename "$case_file" .args) differs (run with UPDATE_GOLDEN=1 to accept a deliberate change)" >&2
  exit 1
fi
