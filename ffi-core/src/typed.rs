//! Zero-overhead bindings for signatures known at compile time.

use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use crate::library::Library;

mod sealed {
    pub trait Sealed {}
}

/// A C function pointer type, `unsafe extern "C" fn(...) -> R` with up to 12 arguments.
///
/// Safe `extern "C" fn` types are deliberately not implemented: a copy of a library's
/// function pointer with a safe type could be called from safe code after the library is
/// unloaded, or with arguments the C function cannot take.
pub trait FnPtr: sealed::Sealed + Copy {
    /// Reinterprets a code address as this function pointer type.
    ///
    /// # Safety
    /// `addr` must be non-NULL and the address of a function with this exact signature.
    unsafe fn from_addr(addr: *mut c_void) -> Self;
}

macro_rules! fn_ptr {
    ($($arg:ident),*) => {
        impl<R $(, $arg)*> sealed::Sealed for unsafe extern "C" fn($($arg),*) -> R {}
        impl<R $(, $arg)*> FnPtr for unsafe extern "C" fn($($arg),*) -> R {
            #[inline]
            unsafe fn from_addr(addr: *mut c_void) -> Self {
                // SAFETY: function pointers are pointer-sized; the caller vouches for the type.
                unsafe { std::mem::transmute::<*mut c_void, Self>(addr) }
            }
        }
    };
}
fn_ptr!();
fn_ptr!(A1);
fn_ptr!(A1, A2);
fn_ptr!(A1, A2, A3);
fn_ptr!(A1, A2, A3, A4);
fn_ptr!(A1, A2, A3, A4, A5);
fn_ptr!(A1, A2, A3, A4, A5, A6);
fn_ptr!(A1, A2, A3, A4, A5, A6, A7);
fn_ptr!(A1, A2, A3, A4, A5, A6, A7, A8);
fn_ptr!(A1, A2, A3, A4, A5, A6, A7, A8, A9);
fn_ptr!(A1, A2, A3, A4, A5, A6, A7, A8, A9, A10);
fn_ptr!(A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11);
fn_ptr!(A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12);

/// A function pointer of type `F` borrowed from a [`Library`]
/// ([`Library::typed`]); it dereferences to `F`, so `typed(args)` calls it directly with
/// no conversion and no libffi.
///
/// The borrow keeps the library open: a binding cannot outlive its [`Library`].
///
/// ```compile_fail
/// use ffi_core::Library;
/// let sqrt = {
///     let libm = Library::open("libm.so.6").unwrap();
///     // SAFETY: sqrt's C signature.
///     unsafe { libm.typed::<unsafe extern "C" fn(f64) -> f64>("sqrt").unwrap() }
/// }; // error: `libm` does not live long enough
/// ```
pub struct Typed<'lib, F> {
    f: F,
    _lib: PhantomData<&'lib Library>,
}

impl<F: FnPtr> Typed<'_, F> {
    /// # Safety
    /// `addr` must be non-NULL, of type `F`, and valid for the borrow's lifetime.
    pub(crate) unsafe fn from_addr(addr: *mut c_void) -> Self {
        Typed {
            // SAFETY: forwarded from the caller.
            f: unsafe { F::from_addr(addr) },
            _lib: PhantomData,
        }
    }
}

impl<F> Deref for Typed<'_, F> {
    type Target = F;

    #[inline(always)]
    fn deref(&self) -> &F {
        &self.f
    }
}

impl<F: FnPtr> fmt::Debug for Typed<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<ffityped {}>", std::any::type_name::<F>())
    }
}
