#!/usr/bin/env bash
# `make bench`: runs the benchmarks in bench/ and prints their summaries.
set -euo pipefail
cd "$(dirname "$0")/.."
build/default/bench/decision_bench --benchmark_counters_tabular=true "$@"
