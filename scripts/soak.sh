#!/usr/bin/env bash
# The soak test: ≥ 500 000 spans from 2 threads through a collector failing a random 20%
# of requests. Too slow for the main test run, so it runs here under a hard time limit,
# optimised with the bench profile the benchmarks step has just built (no release build).
# `--workspace`, as that step: features resolve the same way, so only the soak's own
# targets are built (with `-p` the SDK's crates would be built again for its features).
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SPANS="${SOAK_SPANS:-500000}" timeout "${SOAK_TIMEOUT:-600}" \
  cargo test --profile bench --workspace --test soak -- --ignored --nocapture
