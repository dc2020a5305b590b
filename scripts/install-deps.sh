#!/usr/bin/env bash
# Installs the Debian 12 packages Hoist needs to build and test, and nothing
# else. Idempotent: packages already present are not touched, and apt-get runs
# only when something is missing. Only Debian's own archive is used.
set -euo pipefail

# Build and core libraries.
packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libssl-dev libre2-dev libtomlplusplus-dev libcli11-dev libfmt-dev
  libhowardhinnant-date-dev tzdata libsqlite3-dev
  # hoistd: HTTPS and JSON (Boost 1.81: Beast coroutines, JSON, URL),
  # Argon2id passwords, journald logging and sd_notify.
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libsodium-dev libsystemd-dev
  # Tests, benchmarks, fuzzing (clang provides libFuzzer).
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev clang-format clang-tidy
  # Used by the tests and the benchmark baselines.
  coreutils util-linux
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: these Debian packages are missing: ${missing[*]}" >&2
  echo "install-deps: run 'make deps' as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
