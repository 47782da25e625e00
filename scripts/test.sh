#!/usr/bin/env bash
# The whole test suite: what CI runs. Installs what is missing first (scripts/setup.sh).
# SKIP_FUZZ=1 leaves out the fuzz smoke run; FUZZ_SECONDS sets its length (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "clippy (all workspace members and targets)"
cargo clippy --workspace --all-targets -- -D warnings

step "no_std, no allocator: mqtt-proto for thumbv7em-none-eabihf"
cargo build -p mqtt-proto --no-default-features --target thumbv7em-none-eabihf

step "no_std with alloc: mqtt-proto with Bytes for thumbv7em-none-eabihf"
cargo build -p mqtt-proto --target thumbv7em-none-eabihf

step "no_std with alloc: mqtt-session for thumbv7em-none-eabihf"
cargo build -p mqtt-session --target thumbv7em-none-eabihf

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

step "tests"
log=$(mktemp)
cargo test --workspace 2>&1 | tee "$log"

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    step "fuzz smoke run"
    bash fuzz/smoke.sh
fi

# One closing line for the whole suite (cargo prints one per test binary).
grep -E '^test result: ' "$log" | awk '{p += $4; f += $6} END {print "tests: " p " passed, " f " failed"}'
rm -f "$log"
