//! Byte views over C memory (MicroPython's `ffi.as_bytearray`): views, not copies, so
//! writes through a mutable view reach C.

use std::ffi::c_void;

use crate::error::{Error, Result};

/// A read-only byte view of `len` bytes at `ptr`.
///
/// # Safety
/// `ptr` must be valid for reads of `len` bytes for `'a`, and nothing may write that
/// memory while the view lives.
///
/// # Errors
/// [`Error::NullPointer`] if `ptr` is NULL and `len > 0` (a NULL pointer with length 0
/// gives an empty slice).
pub unsafe fn as_bytes<'a>(ptr: *const c_void, len: usize) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Error::NullPointer { len })
        };
    }
    // SAFETY: non-NULL; validity for `len` bytes and the absence of writers are the
    // caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// A writable byte view of `len` bytes at `ptr`; writes go straight to C's memory.
///
/// ```
/// let mut c_memory = [0u8; 4];
/// // SAFETY: the array is valid for 4 bytes and not otherwise used while the view lives.
/// let view = unsafe { ffi_core::memory::as_bytes_mut(c_memory.as_mut_ptr().cast(), 4)? };
/// view[1] = 7;
/// assert_eq!(c_memory, [0, 7, 0, 0]);
/// # Ok::<(), ffi_core::Error>(())
/// ```
///
/// # Safety
/// `ptr` must be valid for reads and writes of `len` bytes for `'a`, and nothing else may
/// access that memory while the view lives.
///
/// # Errors
/// [`Error::NullPointer`] if `ptr` is NULL and `len > 0`.
pub unsafe fn as_bytes_mut<'a>(ptr: *mut c_void, len: usize) -> Result<&'a mut [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&mut [])
        } else {
            Err(Error::NullPointer { len })
        };
    }
    // SAFETY: non-NULL; validity and exclusivity are the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) })
}
