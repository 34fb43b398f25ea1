#!/usr/bin/env bash
# Runs every test of hwkit on a fresh Debian machine (run as root; installs what it needs):
#   1. host tests (x86-64): FFI against real libc/libm and compiled C libraries, parsers, CLI
#      (ffi-core's three times: on the register path where a signature allows, then libffi
#      only with callbacks counted, then with the kernel refusing membarrier);
#      ffi-core's and hw's again under valgrind memcheck; every parser of untrusted text
#      fuzzed for a few seconds (under AddressSanitizer: the fuzz build instruments it);
#   2. the GPIO tests in an x86-64 VM on Debian 12's, 13's and sid's kernels, with gpio-sim;
#   3. the host tests again for aarch64 and armv7, cross-built in a Debian sid build root and
#      run under qemu-user (32-bit long, unsigned char, ARM calling conventions);
#   4. the libraries' GPIO tests in an arm64 VM: Debian sid's arm64 kernel with its own gpio-sim;
#   5. the Raspberry Pi tests on QEMU's Raspberry Pi 3 with the kernel's real Pi GPIO driver;
#   6. the Debian packages (hwkit, hwkitd): their contents, an install on Debian arm64, the gpio
#      group at work, hwkitd holding a line on the root's system bus.
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

# One lane of stages may run in the background, beside the foreground ones, on the core the
# x86 VMs leave idle (a VM test run keeps about one core busy; libFuzzer runs one process).
# Its output is held in a log and printed when it is joined; each of its stages reports its
# time in the log as `@@lane SECONDS EXIT NAME`, taken into the table at the join.
bg_pid='' bg_name='' bg_log='' bg_start=0
bg_stage() {
  bg_name=$1 bg_start=$SECONDS
  shift
  bg_log=$(mktemp -t hwkit-test-stage.XXXXXX)
  echo "== test.sh: $bg_name (in the background; its output comes when it ends)"
  # Its own process group (setsid), so that an early exit stops all of it.
  setsid "$@" >"$bg_log" 2>&1 &
  bg_pid=$!
}
join_stage() {
  local rc=0
  wait "$bg_pid" || rc=$?
  local took=$((SECONDS - bg_start))
  bg_pid=''
  echo "== test.sh: $bg_name (ran in the background), its output:"
  grep -v '^@@lane ' "$bg_log" || true
  local secs code name
  while read -r _ secs code name; do
    if ((code == 0)); then
      timings+=("$(printf '%5d s  %s (in the background)' "$secs" "$name")")
    else
      timings+=("$(printf '%5d s  %s (in the background; FAILED, exit %d)' "$secs" "$name" "$code")")
    fi
  done < <(grep '^@@lane ' "$bg_log")
  rm -f "$bg_log"
  timings+=("$(printf '%5d s  %s, in all' "$took" "$bg_name")")
  if ((rc != 0)); then
    report
    exit "$rc"
  fi
}
# A failing foreground stage exits: the background lane goes with it.
trap '[[ -z $bg_pid ]] || kill -- "-$bg_pid" 2>/dev/null || true' EXIT

# lane_stage NAME CMD...: one stage of a background lane (see above).
lane_stage() {
  local name=$1 start=$SECONDS rc=0
  shift
  echo "== test.sh: $name"
  "$@" || rc=$?
  echo "@@lane $((SECONDS - start)) $rc $name"
  return "$rc"
}
# The lane beside the x86 VMs: fuzzing, then the ARM builds and their qemu-user tests, then
# the release binaries the packages are made of. The builds are niced: the VMs' tests keep
# their pace and the builds take what the VMs leave.
build_lane() {
  lane_stage "fuzzing every parser of untrusted text" scripts/fuzz.sh || return
  lane_stage "host tests for aarch64 and armv7 (qemu-user)" \
    nice -n 10 "$testbed" cross test --arch aarch64,armv7 || return
  lane_stage "release binaries for the packages (amd64, arm64, armhf)" \
    nice -n 10 bash -c 'cargo build --release -p hwkit && cargo build --release -p hwkitd && "$0" cross build --arch aarch64,armv7' \
    "$testbed"
}
export -f lane_stage build_lane

stage "install the build and test dependencies" scripts/install-deps.sh
stage "host tests (x86-64)" cargo test --workspace
# ffi-core's tests again with every call on libffi and callbacks counted, and with the kernel
# refusing membarrier: the run above takes the register path and the callbacks' slots.
stage "ffi-core's tests through libffi only, and without membarrier" scripts/ffi-fallbacks.sh
stage "host tests under valgrind memcheck" scripts/valgrind.sh
stage "build the test bed" cargo build --release -p hwkit-testbed
export testbed=target/release/testbed
bg_stage "fuzzing, ARM host tests and package builds" bash -c build_lane
stage "GPIO tests, x86-64 VM (Debian 12, 13 and sid kernels)" "$testbed" test --kernel all \
  -p hw -p sysfs-gpio -p boards -p hwkit -p hwkit-testbed
# hwkitd is user space over hw (whose kernel matrix is above): its D-Bus tests, two minutes a
# kernel, run on Debian 12's 6.1, the kernel whose line-info bug the daemon works around.
stage "hwkitd's D-Bus tests, x86-64 VM (Debian 12)" "$testbed" test -p hwkitd
# The libraries' VM tests on arm64 (ioctl layouts, FFI through libgpiod, sysfs, the kernel's
# ARM build); hwkit's own VM tests run on the three x86 kernels, and the installed hwkit
# drives arm64 lines in the packages' VM test below.
stage "GPIO tests, arm64 VM" "$testbed" test --arch aarch64 -p hw -p sysfs-gpio -p boards -p hwkit-testbed
stage "Raspberry Pi tests, QEMU raspi3b" "$testbed" test --machine raspi3b
# While the background lane finishes: the Debian root the packages install into.
stage "the packages' Debian root (arm64)" scripts/test-packages.sh --roots-only
join_stage
stage "Debian packages" scripts/test-packages.sh --no-build
report
