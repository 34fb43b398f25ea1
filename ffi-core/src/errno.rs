//! The calling thread's `errno`.

use std::ffi::c_int;

#[cfg(any(target_os = "linux", target_os = "emscripten", target_os = "hurd"))]
use libc::__errno_location as errno_location;

#[cfg(any(target_os = "android", target_os = "netbsd", target_os = "openbsd"))]
use libc::__errno as errno_location;

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
use libc::__error as errno_location;

/// The calling thread's current `errno`.
#[inline]
pub fn errno() -> c_int {
    // SAFETY: the errno location is a valid thread-local int for the calling thread.
    unsafe { *errno_location() }
}

/// Sets the calling thread's `errno`.
#[inline]
pub fn set_errno(value: c_int) {
    // SAFETY: as in `errno`.
    unsafe { *errno_location() = value }
}
