#!/usr/bin/env bash
# Runs every test of hwkit on a fresh Debian machine (run as root; installs what it needs):
#   1. host tests (x86-64): FFI against real libc/libm and compiled C libraries, parsers, CLI;
#      ffi-core's and hw's again under valgrind memcheck; every parser of untrusted text
#      fuzzed for a few seconds (under AddressSanitizer: the fuzz build instruments it);
#   2. the GPIO tests in an x86-64 VM on Debian 12's, 13's and sid's kernels, with gpio-sim;
#   3. the host tests again for aarch64 and armv7, cross-built in a Debian sid build root and
#      run under qemu-user (32-bit long, unsigned char, ARM calling conventions);
#   4. the GPIO tests in an arm64 VM: Debian sid's arm64 kernel with its own gpio-sim;
#   5. the Raspberry Pi tests on QEMU's Raspberry Pi 3 with the kernel's real Pi GPIO driver;
#   6. the Debian packages: their contents, an install on Debian arm64, the gpio group at work.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's wall time, printed at the end (and when a stage fails): the CI budget is spent
# stage by stage, and this is where to see it.
timings=()
stage() {
  local name=$1 start=$SECONDS
  shift
  echo "== test.sh: $name"
  if "$@"; then
    timings+=("$(printf '%5d s  %s' $((SECONDS - start)) "$name")")
  else
    local rc=$?
    timings+=("$(printf '%5d s  %s (FAILED, exit %d)' $((SECONDS - start)) "$name" "$rc")")
    report
    exit "$rc"
  fi
}
report() {
  echo "== test.sh: stage times"
  printf '%s\n' "${timings[@]}"
  echo "$(printf '%5d s' "$SECONDS")  in all"
}

stage "install the build and test dependencies" scripts/install-deps.sh
stage "host tests (x86-64)" cargo test --workspace
stage "host tests under valgrind memcheck" scripts/valgrind.sh
stage "fuzzing every parser of untrusted text" scripts/fuzz.sh
stage "build the test bed" cargo build --release -p hwkit-testbed
testbed=target/release/testbed
stage "GPIO tests, x86-64 VM (Debian 12, 13 and sid kernels)" "$testbed" test --kernel all
stage "host tests for aarch64 and armv7 (qemu-user)" "$testbed" cross test --arch aarch64,armv7
stage "GPIO tests, arm64 VM" "$testbed" test --arch aarch64
stage "Raspberry Pi tests, QEMU raspi3b" "$testbed" test --machine raspi3b
stage "Debian packages" scripts/test-packages.sh
report
