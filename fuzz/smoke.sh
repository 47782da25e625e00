#!/usr/bin/env bash
# Runs every fuzz target for a short time (FUZZ_SECONDS, default 30) on the seed
# corpus. Needs the nightly toolchain and cargo-fuzz (installed when missing).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-30}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
for target in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$target"
    # Fresh findings go to a scratch copy so the committed seed corpus stays small.
    work=$(mktemp -d)
    cp -r "corpus/$target/." "$work/"
    echo "== fuzz $target for ${seconds}s"
    cargo +nightly fuzz run "$target" "$work" -- -max_total_time="$seconds" -max_len=4096
    rm -rf "$work"
done
