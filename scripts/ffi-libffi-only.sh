#!/usr/bin/env bash
# Runs ffi-core's tests a second time with every call forced through libffi
# (FFI_CORE_LIBFFI_ONLY=1) and every callback invocation counted as a reference
# (FFI_CORE_COUNTED_CALLBACKS=1). The default run takes the register path wherever a
# signature allows it (see ffi-core/src/fast.rs) and tracks running callbacks in per-thread
# slots (ffi-core/src/guard.rs), so the conformance suite (MicroPython's ffi tests, the
# guide's examples, the integer edges, errors, callbacks, errno, strings) and the tests of
# callbacks dropped while they run go through both ways; the differential test compares
# the two call paths call by call in either run.
#
#   scripts/ffi-libffi-only.sh
#
# Uses the test binaries `cargo test --workspace` builds (a build of `-p ffi-core` alone
# resolves other features and would rebuild); takes about 10 s once built.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || {
  echo "ffi-libffi-only.sh: jq is not installed: apt-get install jq" >&2
  exit 1
}
binaries=$(cargo test --workspace --no-run --message-format=json |
  jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null
                and (.package_id | test("ffi-core"))) | .executable')
[[ -n $binaries ]] || { echo "ffi-libffi-only.sh: no test binary of ffi-core was built" >&2; exit 1; }
status=0
while read -r exe; do
  if FFI_CORE_LIBFFI_ONLY=1 FFI_CORE_COUNTED_CALLBACKS=1 "$exe" --test-threads=2 -q >/tmp/ffi-libffi-only.$$ 2>&1; then
    echo "ok      $(basename "$exe") (libffi only): $(grep -E '^test result' /tmp/ffi-libffi-only.$$ | tail -1)"
  else
    status=1
    echo "FAILED  $(basename "$exe") (libffi only):"
    sed 's/^/    /' /tmp/ffi-libffi-only.$$ | tail -40
  fi
done <<<"$binaries"
rm -f /tmp/ffi-libffi-only.$$
exit "$status"
