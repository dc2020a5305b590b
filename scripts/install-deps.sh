#!/usr/bin/env bash
# Installs the Debian 12 packages Hoist needs to build and test, and nothing
# else. Idempotent: packages already present are not touched, and apt-get runs
# only when something is missing. Only Debian's own archive is used.
#   scripts/install-deps.sh           what `make build` and `make test` need
#   scripts/install-deps.sh --bench   also the load tools `make bench` uses
set -euo pipefail

bench=0
case "${1:-}" in
  "") ;;
  --bench) bench=1 ;;
  *)
    echo "usage: scripts/install-deps.sh [--bench]" >&2
    exit 64
    ;;
esac

# Build and core libraries.
packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libssl-dev libre2-dev libtomlplusplus-dev libcli11-dev libfmt-dev
  libhowardhinnant-date-dev tzdata libsqlite3-dev
  # hoistd's PostgreSQL backend (libpq), and the PostgreSQL 15 server the
  # tests start themselves as private clusters on loopback (never the
  # machine's own cluster, which Debian's package makes and may start).
  libpq-dev postgresql-15
  # hoistd: HTTPS and JSON (Boost 1.81: Beast coroutines, JSON, URL),
  # Argon2id passwords, journald logging and sd_notify; libcurl's SMTP
  # (STARTTLS, SMTPS) for the email channels.
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libsodium-dev libsystemd-dev
  libcurl4-openssl-dev
  # hoist_sudo.so: sudo's plugin header (the sudo package, whose unmodified
  # sudo is also what the end-to-end tests run, always inside a private
  # mount namespace with their own sudo.conf) and PAM for re-authentication.
  sudo libpam0g-dev
  # Tests, benchmarks, fuzzing (clang provides libFuzzer).
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev clang-format clang-tidy
  # Used by the tests and the benchmark baselines.
  coreutils util-linux groff-base man-db bash-completion faketime
  # Receivers the tests start themselves on loopback, never as services:
  # rsyslog with TLS (the SIEM stream over RFC 5425); a real Prometheus
  # scraping hoistd, and promtool to check the agent's textfile; an SMTP
  # server with STARTTLS and AUTH for the email channels
  # (tests/support/smtp_receiver.py, run by Debian's /usr/bin/python3).
  rsyslog rsyslog-gnutls prometheus python3-aiosmtpd
  # HAProxy in front of several hoistd replicas (examples/haproxy/hoistd.cfg;
  # the replica fault tests run it on loopback as their own child).
  haproxy
  # make deb and the package tests: debhelper builds the packages, lintian
  # checks them, debootstrap makes the Debian root they are installed in,
  # systemd-nspawn boots it.
  debhelper dpkg-dev lintian debootstrap systemd-container
)
# The web console (console/): Debian's Chromium runs its browser tests.
# Node.js and npm build it, with packages from the npm registry pinned by
# console/package-lock.json; Debian's nodejs and npm are installed only when
# the machine has no node and npm of its own (a packaged newer Node.js
# provides both, and Debian's npm would conflict with it).
packages+=(chromium)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if [ "$bench" -eq 1 ]; then
  # The HTTP load generator and the nginx the hoistd benchmarks compare
  # against (scripts/bench.sh runs it in a temporary directory, never as a
  # service), and openssl for its throw-away certificate.
  packages+=(wrk nginx-light openssl)
fi

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
starts_service=0
for p in "${missing[@]}"; do
  case "$p" in nginx-light | prometheus | rsyslog | haproxy) starts_service=1 ;; esac
done
if [ "$starts_service" -eq 1 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  # nginx's, prometheus's, rsyslog's and haproxy's packages would start them
  # as system services (port 80, port 9090, /dev/log); the tests and benchmarks run
  # their own on loopback.
  # policy-rc.d (exit 101: "action forbidden") is Debian's way to keep a
  # package from starting services; removed after.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
