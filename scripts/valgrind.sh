#!/usr/bin/env bash
# Runs the host tests of ffi-core and hw under valgrind's memcheck: every invalid read or
# write, use of uninitialised memory or bad free fails the run, and so does a definite leak
# (memory no pointer reaches any more: a callback or buffer never freed). Memory still
# reachable at exit is not a leak here: a test binary exits with thread-locals, statics and
# libtest's state allocated, and "possibly lost" blocks are std's thread stacks and the like.
#
#   scripts/valgrind.sh                # ffi-core and hw
#   scripts/valgrind.sh -p ffi-core    # one package (any cargo package selection)
#
# Builds the test binaries with the dev profile (debug info for readable reports), runs each
# whole under valgrind with libtest's own threads, and prints `N passed, N failed` (test
# binaries) per package. Doc tests are compiled by rustdoc on the fly and are not run here.
# Test binaries that start child processes (a panic that must not abort, a hang) run those
# children natively: they check exit codes, and the parent's own calls are checked here.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || {
  echo "valgrind.sh: valgrind is not installed: apt-get install valgrind" >&2
  exit 1
}
command -v jq >/dev/null || {
  echo "valgrind.sh: jq is not installed: apt-get install jq" >&2
  exit 1
}
packages=("$@")
wanted='.'
if ((${#packages[@]} == 0)); then
  # The whole workspace's test build, as `cargo test --workspace` just made it (a build of
  # `-p ffi-core -p hw` alone resolves other features and rebuilds half the tree), then
  # only ffi-core's and hw's binaries run.
  packages=(--workspace)
  wanted='^(ffi-core|hw)$'
fi

# "package<TAB>executable" for every test binary cargo builds.
binaries=$(cargo test --no-run --message-format=json "${packages[@]}" |
  jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
         | "\(.package_id | sub(".*[/#](?<n>[^@#/]+)[@#].*"; "\(.n)"))\t\(.executable)"')

declare -A passed failed
failures=()
while IFS=$'\t' read -r package exe; do
  [[ -n "$exe" ]] || continue
  log=$(mktemp)
  # No suppressions: libffi, libloading and std run clean under memcheck.
  if valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --quiet "$exe" --test-threads=2 >"$log" 2>&1; then
    passed[$package]=$((${passed[$package]:-0} + 1))
    echo "ok      $package $(basename "$exe")"
  else
    failed[$package]=$((${failed[$package]:-0} + 1))
    failures+=("$exe")
    echo "FAILED  $package $(basename "$exe"):"
    grep -E '^==[0-9]+==|^test .* FAILED|panicked' "$log" | head -40 | sed 's/^/    /'
  fi
  rm -f "$log"
done < <(awk -F'\t' -v re="$wanted" '$1 ~ re' <<<"$binaries")

for package in $(printf '%s\n' "${!passed[@]}" "${!failed[@]}" | sort -u); do
  echo "$package: ${passed[$package]:-0} passed, ${failed[$package]:-0} failed"
done
if ((${#failures[@]})); then
  echo "valgrind.sh: memcheck found errors in: ${failures[*]}" >&2
  exit 1
fi
