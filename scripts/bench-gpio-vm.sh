#!/usr/bin/env bash
# Runs the gpio_toggle benchmark (toggle latency per GPIO backend) inside the test bed's VM,
# where gpio-sim exists. Arguments go to the benchmark (criterion's, e.g. a filter or
# `--measurement-time 5`). Under TCG emulation absolute times are inflated: compare the
# ratios between backends of one run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exe=$(cargo bench -p hwkit-benches --bench gpio_toggle --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*gpio_toggle[^"]*\)".*/\1/p' | tail -1)
[ -x "$exe" ] || { echo "bench-gpio-vm: building the gpio_toggle benchmark failed" >&2; exit 1; }
# libgpiod is opened with dlopen, so the bed's ldd pass cannot find it: include it at its path.
lib=$(ldconfig -p | sed -n 's/.*libgpiod\.so\.2 (libc6,x86-64) => \(.*\)$/\1/p' | head -1)
[ -n "$lib" ] || { echo "bench-gpio-vm: libgpiod.so.2 not found: apt-get install libgpiod2" >&2; exit 1; }
exec cargo run --release -p hwkit-testbed -- vm --timeout 900 --bin "$exe" --include "$lib" -- \
  env HWKIT_BENCH_OUT=/tmp/criterion "$(basename "$exe")" --bench "$@"
