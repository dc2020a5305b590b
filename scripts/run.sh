#!/usr/bin/env bash
# `make run`: until the server exists, the main job is the offline policy
# tool. It validates the example policy and shows one decision of each kind
# against it, with the facts read from this machine where the file exists.
set -euo pipefail
hoist=$1
policy=examples/policy.toml
cd "$(dirname "$0")/.."
echo "== hoist policy check $policy"
"$hoist" policy check "$policy"
show() {
  echo
  echo "== hoist $*"
  set +e
  "$hoist" "$@"
  echo "(exit status $?: 0 allow, 1 deny, 2 request)"
  set -e
}
at=2026-11-24T10:00:00Z
show policy test "$policy" --user alice --groups staff --at "$at" -- apt-get update
show policy test "$policy" --user dev1 --groups developers --at "$at" --no-inspect -- /usr/bin/docker ps
show policy test "$policy" --user carol --groups contractors --at "$at" -- bash
echo
echo "Try your own: $hoist policy test $policy --user USER --groups G1,G2 -- COMMAND [ARGS]"
echo "The policy format is described in docs/policy.md."
