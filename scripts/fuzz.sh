#!/usr/bin/env bash
# Fuzzes every parser of untrusted text (the cargo-fuzz targets in fuzz/, on the nightly
# toolchain with AddressSanitizer): builds all targets once, runs each for SECONDS (default
# 10) from its checked-in seed corpus, and fails on any crash, leak, timeout or
# out-of-memory. Prints each target's executions and libFuzzer's coverage (`cov`: edges,
# `ft`: features) and the totals as `N passed, N failed` (targets).
#
#   scripts/fuzz.sh            # every target, 10 s each
#   scripts/fuzz.sh 60         # a minute each
#   scripts/fuzz.sh 30 ffi_convert hwkit_argv
#
# A crash leaves its input in fuzz/artifacts/<target>/: reproduce it with
# `cd fuzz && cargo +nightly fuzz run <target> artifacts/<target>/<file>`; the fix gets a
# regression test in the owning crate and the input goes into fuzz/corpus/<target>/.
# New inputs found while running go to a scratch directory, not into the checked-in corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
shift || true
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || {
  echo "fuzz.sh: SECONDS must be a whole number of seconds, 1 or more; got '$seconds'" >&2
  exit 2
}

# cargo-fuzz, pinned; installed once into ~/.cargo/bin and reused from there.
cargo_fuzz_version=0.13.2
if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]]; then
  cargo install --locked --version "$cargo_fuzz_version" cargo-fuzz
fi
rustup run nightly rustc --version >/dev/null || {
  echo "fuzz.sh: the nightly toolchain is missing: rustup toolchain install nightly" >&2
  exit 1
}

cd fuzz
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo +nightly fuzz list)
# One build for every target: debug assertions on, so integer overflow is a crash too.
cargo +nightly fuzz build --debug-assertions

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0
failures=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target" "$scratch/$target"
  dict=()
  [[ -f "dicts/$target.dict" ]] && dict=(-dict="dicts/$target.dict")
  log="$scratch/$target.log"
  # Found inputs go to the scratch corpus (first directory); the seeds are only read.
  # -rss_limit_mb/-timeout: a parser that eats memory or hangs on one input fails.
  if cargo +nightly fuzz run --debug-assertions "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    "${dict[@]}" >"$log" 2>&1; then
    status=ok
    passed=$((passed + 1))
  else
    status=FAILED
    failed=$((failed + 1))
    failures+=("$target")
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  last=$(grep -E "^#[0-9]+" "$log" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
  corpus=$(grep -o 'corp: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
  printf '%-7s %-20s %10s execs  cov %5s  ft %6s  corpus %5s\n' "$status" "$target" "${runs:-0}" "$cov" "$ft" "$corpus"
  if [[ $status == FAILED ]]; then
    grep -E 'panicked|ERROR: |SUMMARY|Test unit written|assert' "$log" | head -20 | sed 's/^/    /'
  fi
done
echo "fuzz: $passed passed, $failed failed"
if ((failed)); then
  echo "fuzz.sh: crashes in: ${failures[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
