//! Inputs the fuzz targets in `fuzz/` found (each also in `fuzz/corpus/<target>/`), kept as
//! ordinary tests of the fixed behaviour.

use std::ffi::c_void;

use ffi_core::{Callback, Function, Value, Variable};

/// 2**53 + 2**29 + 1: rounded once to a float it is 2**53 + 2**30; MicroPython rounds it to
/// a double first (2**53 + 2**29, a tie) and then to a float (2**53, ties to even).
const TWICE_ROUNDED: i64 = (1 << 53) + (1 << 29) + 1;

/// ffi_convert: an integer in an `f` slot goes through a double, as in MicroPython.
#[test]
fn an_integer_reaches_a_float_slot_through_a_double() {
    let want = Value::Float((1u64 << 53) as f32);
    let mut cell = 0f32;
    // SAFETY: `cell` is a live, aligned float of this frame, used by this thread only.
    let var =
        unsafe { Variable::from_addr(std::ptr::addr_of_mut!(cell).cast::<c_void>(), "f") }.unwrap();
    let values: [ffi_core::Arg; 2] = [TWICE_ROUNDED.into(), (TWICE_ROUNDED as u64).into()];
    for v in values {
        // SAFETY: as above.
        unsafe { var.set(v) }.unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { var.get() }, want);
    }

    // The same conversion for a call's argument and a callback's return value.
    extern "C" fn id(x: f32) -> f32 {
        x
    }
    // SAFETY: `id` is `float (float)`.
    let f = unsafe { Function::from_addr(id as *const c_void, "f", "f") }.unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { f.call(&[TWICE_ROUNDED.into()]) }.unwrap(), want);
    let cb = Callback::new("f", "", |_| Value::Int(TWICE_ROUNDED)).unwrap();
    // SAFETY: the callback is `float (void)`.
    let f = unsafe { Function::from_addr(cb.code_ptr(), "f", "") }.unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { f.call(&[]) }.unwrap(), want);
}
