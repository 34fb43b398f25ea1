#!/usr/bin/env bash
# Runs every test of hwkit on a fresh Debian machine (run as root; installs what it needs):
#   1. host tests (x86-64): FFI against real libc/libm and compiled C libraries, parsers, CLI;
#      ffi-core's and hw's again under valgrind memcheck, ffi-core's under AddressSanitizer
#      and LeakSanitizer (nightly); every parser of untrusted text fuzzed for a few seconds;
#   2. the GPIO tests in an x86-64 VM: Debian 12's kernel with gpio-sim;
#   3. the host tests again for aarch64 and armv7, cross-built in a Debian sid build root and
#      run under qemu-user (32-bit long, unsigned char, ARM calling conventions);
#   4. the GPIO tests in an arm64 VM: Debian sid's arm64 kernel with its own gpio-sim;
#   5. the Raspberry Pi tests on QEMU's Raspberry Pi 3 with the kernel's real Pi GPIO driver;
#   6. the Debian packages: their contents, an install on Debian arm64, the gpio group at work.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --workspace
scripts/valgrind.sh
scripts/sanitize.sh
scripts/fuzz.sh
cargo build --release -p hwkit-testbed
testbed=target/release/testbed
"$testbed" test
"$testbed" cross test --arch aarch64,armv7
"$testbed" test --arch aarch64
"$testbed" test --machine raspi3b
scripts/test-packages.sh
