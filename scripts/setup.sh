#!/usr/bin/env bash
# Installs what the test suite and the demo need, when it is missing:
# the no_std target, mosquitto (Debian package), cargo-fuzz. Idempotent.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! rustup target list --installed | grep -qx thumbv7em-none-eabihf; then
    rustup target add thumbv7em-none-eabihf
fi
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y mosquitto
fi
# The Debian package starts a broker on port 1883; the tests start their own.

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    if ! rustup toolchain list | grep -q '^nightly'; then
        echo "the fuzz smoke run needs the nightly toolchain (rustup toolchain install nightly)" >&2
        exit 1
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        cargo install --locked cargo-fuzz
    fi
fi
