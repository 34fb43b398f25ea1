#!/usr/bin/env bash
# Runs every test of hwkit on a fresh Debian machine: host tests, then the GPIO tests inside a
# QEMU VM with gpio-sim chips. Installs what it needs (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --workspace
cargo run --release -p hwkit-testbed -- test
