#!/usr/bin/env bash
# The public API of `staso` is the same with and without its `enable` feature: every item,
# variant, field, method and trait impl (auto traits included). Compares the rustdoc JSON of
# both builds (scripts/api_parity.py); the `testing` module exists only with `enable`.
# rustdoc's JSON output is unstable: RUSTC_BOOTSTRAP lets the stable toolchain emit it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/api-parity
mkdir -p "$out"
doc() { RUSTC_BOOTSTRAP=1 cargo rustdoc -q "$@" -- -Z unstable-options --output-format json; }
features="${STASO_API_FEATURES:-}"
doc -p staso-types --lib && cp target/doc/staso_types.json "$out/"
doc -p staso-core --lib ${features:+--features "$features"} && cp target/doc/staso_core.json "$out/"
doc -p staso --lib ${features:+--features "$features"} && cp target/doc/staso.json "$out/enabled.json"
doc -p staso --lib --no-default-features ${features:+--features "$features"} && cp target/doc/staso.json "$out/disabled.json"
python3 scripts/api_parity.py "$out/enabled.json" "$out/disabled.json" "$out/staso_core.json" "$out/staso_types.json" "$@"
