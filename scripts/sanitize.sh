#!/usr/bin/env bash
# Runs ffi-core's tests (calls, callbacks, closures dropped, memory views, variadic calls,
# error paths) under AddressSanitizer with LeakSanitizer, built by the nightly toolchain:
# any invalid access, use after free, double free or leaked allocation fails the run.
#
#   scripts/sanitize.sh
#
# Only the project's crates and their Rust dependencies are instrumented: the nightly
# toolchain here has no rust-src, so std is not rebuilt (-Zbuild-std) and stays
# uninstrumented. The C libraries the tests call (ffi-core/c, libffi) are plain builds too:
# cc would compile them with -fsanitize=address, but ffi-core's build script links them
# into shared objects itself, which then need gcc's libasan.so, and gcc's runtime cannot
# share a process with rustc's ("ASan runtime does not come first in initial library
# list"); rustc's executables do not export their runtime for dlopened objects either.
# Builds go to target/asan.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup run nightly rustc --version >/dev/null || {
  echo "sanitize.sh: the nightly toolchain is missing: rustup toolchain install nightly" >&2
  exit 1
}
host=$(rustc -vV | sed -n 's/^host: //p')
# An explicit --target keeps the flags off build scripts and proc macros (host code).
export RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes"
export RUSTDOCFLAGS="$RUSTFLAGS"
export CFLAGS="-fno-sanitize=address"
# Leaks are checked at exit; a leak report fails the binary (exit code 23).
export ASAN_OPTIONS="detect_leaks=1:exitcode=23:abort_on_error=0:detect_stack_use_after_return=1"
# Suppressed: only leaks that are the design (scripts/lsan.supp says which and why).
LSAN_OPTIONS="exitcode=23:suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export LSAN_OPTIONS
cargo +nightly test -p ffi-core --target "$host" --target-dir target/asan --lib --tests -- --test-threads=2
