#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this). Works on a fresh
# machine: it installs what it needs (the official Python SDK, for the compatibility test;
# Chromium and chromedriver from the distribution, for the trace viewer's browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step prints its name; the time the previous one took is printed when the next
# starts (and at the end), so a slow step is visible in CI's log.
STEP_NAME="" STEP_START=$SECONDS SUITE_START=$SECONDS
step() {
  if [ -n "$STEP_NAME" ]; then
    printf '<== %s: %ds\n' "$STEP_NAME" $((SECONDS - STEP_START))
  fi
  STEP_NAME="$*" STEP_START=$SECONDS
  printf '\n==> %s\n' "$*"
}

step "Python reference SDK (staso==0.5.25) for the compatibility test"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check "staso==0.5.25"
export STASO_PYTHON="$PWD/.venv/bin/python"

step "Chromium and chromedriver (Debian packages) for the viewer's browser tests"
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  # Not fatal here: without them the browser tests fail under CI and say what is missing.
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver; } \
    || echo "could not install chromium and chromium-driver: the viewer's browser tests will fail"
fi

step "format"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "tests (unit, integration, UI, doc)"
cargo test --workspace

# Its own crate and target directory: loom needs `--cfg loom`, which would rebuild the
# workspace if it shared one.
step "loom: the lanes' ring under every interleaving (tests/loom)"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
  cargo test --manifest-path tests/loom/Cargo.toml --release

step "one API in both builds (rustdoc of staso with and without enable)"
bash scripts/api_parity.sh
STASO_API_FEATURES=async-openai bash scripts/api_parity.sh
STASO_API_FEATURES=otlp bash scripts/api_parity.sh

step "compile-out proof (standalone crate, default features off)"
bash scripts/compile_out_proof.sh

step "examples build without the default feature"
cargo build -p staso --examples --no-default-features
cargo build -p staso --examples --features otlp

step "the quickstart runs (the README's first command; embedded collector, loopback only)"
quick_out="$(cargo run --quiet -p staso --example quickstart -- --exit)"
printf '%s\n' "$quick_out"
grep -qF "(ok = true)" <<<"$quick_out"

step "the LLM example runs (embedded fake provider and collector, loopback only)"
cargo run --quiet -p staso --example llm --features async-openai

step "guard example (offline, against its embedded collector: delete_file is refused)"
guard_out="$(cargo run --quiet -p staso --example guard)"
printf '%s\n' "$guard_out"
grep -qF "delete_file refused: Guard blocked tool 'delete_file'" <<<"$guard_out"
grep -qxF "delivery ok = true" <<<"$guard_out"

step "feature combinations of staso (none, default, tracing, http, async-openai, otlp, all)"
cargo clippy -p staso --lib --no-default-features -- -D warnings
cargo clippy -p staso --lib --no-default-features --features tracing,http,async-openai,otlp -- -D warnings
cargo clippy -p staso --lib -- -D warnings
cargo clippy -p staso --lib --features tracing -- -D warnings
cargo clippy -p staso --lib --features http -- -D warnings
cargo clippy -p staso --lib --features async-openai -- -D warnings
cargo clippy -p staso --lib --features otlp -- -D warnings
cargo clippy -p staso --lib --all-features -- -D warnings

step "crates package for crates.io (cargo package, verified by building each packaged crate)"
# cargo package unpacks each packaged crate into $CARGO_HOME/registry/src/-<hash>/ (the
# hash taken from the path of the checkout's own package registry) and reuses an unpacked
# copy of the same name and version as it finds it. A machine that packaged an older commit
# from the same path would verify that old source instead of this one (it did: CI verified
# a staso-core that still used rtrb). Our crates' unpacked copies are ours alone: remove
# them first.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/staso-*
cargo package --quiet --allow-dirty -p staso-types -p staso-macros -p staso-core -p staso

# The bench targets only: without `--bench '*'`, `cargo bench` also builds every
# package's library and binaries as benchmarks, optimised, the integration tests' rig and
# genai included, which no benchmark uses.
step "benchmarks compile"
cargo bench --workspace --bench '*' --no-run

# A smoke check, not a timed test: every bench runs once (criterion's test mode), and the
# sustained bench for a second at a low rate, so that they keep running, not only
# compiling. The figures come from scripts/bench.sh.
step "benchmarks run once (criterion --test; the sustained bench for one second; the examples bench.sh runs)"
# --workspace, as in the step above, so that features resolve the same way and nothing is
# built again (with -p the staso crates would be rebuilt for the benches' features alone).
cargo bench --workspace --bench span --bench bridge --bench llm -- --test
STASO_SUSTAINED_SECS=1 STASO_SUSTAINED_RATE=50000 cargo bench --workspace --bench sustained
# The examples scripts/bench.sh measures targets 1, 3 and 4 with, in the benches' profile
# and features (only they are compiled), each for a moment: their output is what the
# script parses.
cargo build --profile bench --workspace --example hot --example fastrace_hot \
  --example design_floor --example paired --example first_span
examples="${CARGO_TARGET_DIR:-target}/release/examples"
for mode in nothing capture; do NOPIN=1 BURST=100 EVERY=1 "$examples/hot" "$mode" 1000; done
BURST=100 "$examples/fastrace_hot" 1000
for design in ring buffer; do NOPIN=1 BURST=100 "$examples/design_floor" "$design" 1000; done
for mode in fastrace capture; do NOPIN=1 PAIRS=2 BURST=100 "$examples/paired" "$mode"; done
"$examples/first_span"

if [ -x scripts/soak.sh ]; then
  step "soak (time-limited)"
  bash scripts/soak.sh
fi

step "all green"
printf 'whole suite: %ds\n' $((SECONDS - SUITE_START))
