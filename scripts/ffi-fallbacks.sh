#!/usr/bin/env bash
# Runs ffi-core's tests again on the paths the default run does not take:
#   1. every call forced through libffi (FFI_CORE_LIBFFI_ONLY=1) and every callback
#      invocation counted as a reference (FFI_CORE_COUNTED_CALLBACKS=1). The default run
#      takes the register path wherever a signature allows it (see ffi-core/src/fast.rs) and
#      tracks running callbacks in per-thread slots (ffi-core/src/guard.rs), so the
#      conformance suite (MicroPython's ffi tests, the guide's examples, the integer edges,
#      errors, callbacks, errno, strings) and the tests of callbacks dropped while they run
#      go through both ways; the differential test compares the two call paths call by call
#      in either run;
#   2. the kernel refusing membarrier (`testbed without-syscall membarrier`, a seccomp
#      filter), as kernels before 4.14, some sandboxes and emulators do: callbacks must find
#      that out themselves and count references (guard.rs's unit test checks they do).
#
#   scripts/ffi-fallbacks.sh
#
# Uses the test binaries `cargo test --workspace` builds (a build of `-p ffi-core` alone
# resolves other features and would rebuild); takes about 20 s once built.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || {
  echo "ffi-fallbacks.sh: jq is not installed: apt-get install jq" >&2
  exit 1
}
artifacts=$(cargo test --workspace --no-run --message-format=json)
binaries=$(jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null
                  and (.package_id | test("ffi-core"))) | .executable' <<<"$artifacts")
testbed=$(jq -r 'select(.reason == "compiler-artifact" and .target.name == "testbed"
                 and .target.kind == ["bin"] and (.profile.test | not)) | .executable' <<<"$artifacts")
[[ -n $binaries ]] || { echo "ffi-fallbacks.sh: no test binary of ffi-core was built" >&2; exit 1; }
[[ -x $testbed ]] || { echo "ffi-fallbacks.sh: the testbed binary was not built" >&2; exit 1; }
status=0
log=$(mktemp -t ffi-fallbacks.XXXXXX)
# run WHAT EXE CMD...: test binary EXE run one way, by CMD, reported in a line (with its
# output's end if it fails).
run() {
  local what=$1 exe=$2
  shift 2
  if "$@" --test-threads=2 -q >"$log" 2>&1; then
    echo "ok      $(basename "$exe") ($what): $(grep -E '^test result' "$log" | tail -1)"
  else
    status=1
    echo "FAILED  $(basename "$exe") ($what):"
    sed 's/^/    /' "$log" | tail -40
  fi
}
while read -r exe; do
  run "libffi only, callbacks counted" "$exe" \
    env FFI_CORE_LIBFFI_ONLY=1 FFI_CORE_COUNTED_CALLBACKS=1 "$exe"
  run "membarrier refused" "$exe" "$testbed" without-syscall membarrier -- "$exe"
done <<<"$binaries"
rm -f "$log"
exit "$status"
