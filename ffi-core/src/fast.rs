//! The register path: calls whose every argument and return value travel in registers
//! under the platform's C calling convention go through a function pointer of a fixed
//! shape instead of libffi's `ffi_call`.
//!
//! # Why this is sound
//! On x86-64 System V and AArch64 AAPCS64 (Linux), a non-variadic function takes its
//! integer-class arguments (integers, pointers) in the integer argument registers in order
//! (`rdi rsi rdx rcx r8 r9`; `x0`-`x7`) and its floating-point arguments in the vector
//! registers in order (`xmm0`-`xmm7`; `v0`-`v7`), each class counted on its own: where the
//! two classes interleave in the C prototype does not change which register an argument is
//! in. So `int f(double, int, double)` is called correctly through
//! `extern "C" fn(u64, f64, f64) -> u64`: the int in `rdi`/`x0`, the doubles in the first
//! two vector registers, the result in `rax`/`x0`. A signature is on this path only when
//! every argument finds a register (at most [`INT_REGS`] integer-class and [`FLOAT_REGS`]
//! floating-point arguments), so nothing goes on the stack.
//!
//! The words are written as the convention and MicroPython's conversions require, and as
//! libffi writes them: integers narrower than 64 bits sign- or zero-extended to the whole
//! register per their signedness (GCC and Clang callees rely on the extension of 8- and
//! 16-bit arguments), a `float` as its 32 bits in the low half of its vector register (the
//! callee reads only those), a `double` as its 64 bits, pointers and callbacks as
//! addresses. A register the callee does not have a parameter for (a shape is padded to
//! cover several counts) holds 0 and is never read: argument registers are caller-saved
//! scratch registers. The return comes back as the whole `rax`/`x0` (narrow integers are
//! truncated and extended per the return code, as libffi does: the bits above the type's
//! width are unspecified) or the whole first vector register (a `float` is its low half).
//! A `void` function leaves the return register with garbage, which is never read.
//!
//! Variadic functions never take this path (a variadic callee on x86-64 reads the count of
//! vector registers in `al`), nor do signatures with stack arguments, armv7 (its 64-bit
//! integers take register pairs and its `float`s back-fill single-precision halves), or
//! any other platform: they stay on libffi.
//!
//! # Shapes
//! One monomorphic function-pointer type per shape: integer-only signatures get the exact
//! count (0 to [`INT_REGS`] arguments: most C APIs take only integers and pointers, and
//! every padding register costs an instruction), float-only ones 1 to 4 exactly and 8
//! otherwise, and mixed ones are padded to 2 or all registers of each class. That is 20
//! shapes (x2 return classes), not the 63 exact combinations.

use std::ffi::{c_char, c_int, c_ulong, c_void};
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use crate::call::{self, Arena, Plan, Target, ARENA_BYTES};
use crate::callback;
use crate::errno;
use crate::error::Result;
use crate::types::TypeCode;
use crate::value::{Arg, Value};

/// Integer-class argument registers of the platform's C convention (0: no register path).
pub(crate) const INT_REGS: usize = if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
    6
} else if cfg!(all(target_os = "linux", target_arch = "aarch64")) {
    8
} else {
    0
};

/// Floating-point argument registers of the platform's C convention.
pub(crate) const FLOAT_REGS: usize = if INT_REGS == 0 { 0 } else { 8 };

/// Which shape a register-path signature is called through: an index into [`SHAPES`] and
/// the return register's class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    index: u8,
    float_return: bool,
}

/// Whether `FFI_CORE_LIBFFI_ONLY` (non-empty, not `0`) puts every function on libffi: read
/// once per process, so that a test suite can run whole on either path.
fn libffi_only() -> bool {
    static ONLY: OnceLock<bool> = OnceLock::new();
    *ONLY.get_or_init(|| {
        std::env::var_os("FFI_CORE_LIBFFI_ONLY").is_some_and(|v| !v.is_empty() && v != "0")
    })
}

impl Shape {
    /// The shape for a non-variadic signature, or `None` when it stays on libffi (an
    /// argument would go on the stack, the platform has no register path, or
    /// `FFI_CORE_LIBFFI_ONLY` is set).
    pub(crate) fn classify(ret: TypeCode, args: &[TypeCode]) -> Option<Shape> {
        if INT_REGS == 0 || libffi_only() {
            return None;
        }
        let floats = args.iter().filter(|c| c.is_float()).count();
        let ints = args.len() - floats;
        if ints > INT_REGS || floats > FLOAT_REGS {
            return None;
        }
        let (ints, floats) = match (ints, floats) {
            (i, 0) => (i, 0),
            (0, f) if f <= 4 => (0, f),
            (0, _) => (0, 8),
            (i, f) => (
                if i <= 2 { 2 } else { INT_REGS },
                if f <= 2 { 2 } else { 8 },
            ),
        };
        let index = SHAPES
            .iter()
            .position(|&s| s == (ints as u8, floats as u8))
            .expect("every padded count has a shape");
        Some(Shape {
            index: index as u8,
            float_return: ret.is_float(),
        })
    }

    /// (integer registers, floating-point registers) of this shape.
    #[cfg(test)]
    fn registers(self) -> (u8, u8) {
        SHAPES[self.index as usize]
    }
}

/// The argument registers of one call, in the order of their class.
struct Registers {
    ints: [u64; 8],
    /// Bit patterns: a `double`'s 64 bits or a `float`'s 32 in the low half.
    floats: [u64; 8],
}

/// Declares [`SHAPES`] and [`call_shape`] from one list of shapes, each given as its index
/// and the indices of the integer and floating-point registers it passes.
macro_rules! shapes {
    ($( $n:literal: [$($i:literal)*] [$($f:literal)*] ),* $(,)?) => {
        /// (integer registers, floating-point registers) of every shape, by index.
        const SHAPES: &[(u8, u8)] = &[$( (shapes!(@count $($i)*), shapes!(@count $($f)*)) ),*];

        /// Calls `fun` through shape `index` with the words in `regs`; returns the integer
        /// return register, or the bits of the first vector register when `float_return`.
        ///
        /// # Safety
        /// `fun` must be a non-variadic C function whose integer-class arguments are
        /// `regs.ints[..n]` and floating-point ones `regs.floats[..m]` in order, with
        /// `(n, m)` at most shape `index`'s counts, returning a value of that class (or
        /// nothing); see the module's documentation for the ABI facts this relies on.
        #[inline(always)]
        unsafe fn call_shape(
            index: u8,
            float_return: bool,
            fun: *const c_void,
            regs: &Registers,
        ) -> u64 {
            // SAFETY: `fun` is a code address of a function whose arguments of each class
            // fit this shape's registers (the caller's guarantee, established by
            // `Shape::classify`). Under the platform's convention a call through this type
            // puts `regs.ints[i]` in the i-th integer argument register and `regs.floats[j]`
            // in the j-th vector register whatever the prototype's interleaving, and reads
            // the return register of the declared class; registers beyond the callee's
            // parameters are caller-saved scratch it never reads.
            unsafe {
                match (index, float_return) {
                    $(
                        ($n, false) => std::mem::transmute::<
                            *const c_void,
                            unsafe extern "C" fn($(shapes!(@int $i),)* $(shapes!(@float $f),)*) -> u64,
                        >(fun)($(regs.ints[$i],)* $(f64::from_bits(regs.floats[$f]),)*),
                        ($n, true) => std::mem::transmute::<
                            *const c_void,
                            unsafe extern "C" fn($(shapes!(@int $i),)* $(shapes!(@float $f),)*) -> f64,
                        >(fun)($(regs.ints[$i],)* $(f64::from_bits(regs.floats[$f]),)*)
                        .to_bits(),
                    )*
                    // Shapes come from `classify`, which indexes SHAPES.
                    _ => std::hint::unreachable_unchecked(),
                }
            }
        }
    };
    (@count) => { 0 };
    (@count $x:literal $($rest:literal)*) => { 1 + shapes!(@count $($rest)*) };
    (@int $i:literal) => { u64 };
    (@float $f:literal) => { f64 };
}

shapes! {
    // Integers and pointers only: exact counts.
    0: [] [],
    1: [0] [],
    2: [0 1] [],
    3: [0 1 2] [],
    4: [0 1 2 3] [],
    5: [0 1 2 3 4] [],
    6: [0 1 2 3 4 5] [],
    7: [0 1 2 3 4 5 6] [],
    8: [0 1 2 3 4 5 6 7] [],
    // Floating-point only: exact up to 4, then all 8.
    9: [] [0],
    10: [] [0 1],
    11: [] [0 1 2],
    12: [] [0 1 2 3],
    13: [] [0 1 2 3 4 5 6 7],
    // Mixed: 2 or all of each class.
    14: [0 1] [0 1],
    15: [0 1] [0 1 2 3 4 5 6 7],
    16: [0 1 2 3 4 5] [0 1],
    17: [0 1 2 3 4 5] [0 1 2 3 4 5 6 7],
    18: [0 1 2 3 4 5 6 7] [0 1],
    19: [0 1 2 3 4 5 6 7] [0 1 2 3 4 5 6 7],
}

/// Converts every argument into its register word, in the order of its class.
///
/// # Safety
/// `codes` must fit `regs` (at most 8 of each class, as [`Shape::classify`] ensures) and
/// `args.len() == codes.len()`; `plan` must be `Plan::for_codes(codes)`.
#[inline(always)]
unsafe fn marshal(
    name: &str,
    codes: &[TypeCode],
    plan: Plan,
    args: &[Arg<'_>],
    regs: &mut Registers,
    arena: &mut Arena,
) -> Result<()> {
    let (mut ints, mut floats) = (0usize, 0usize);
    for (index, (&code, arg)) in codes.iter().zip(args).enumerate() {
        // The plan's own kind first: one tag check (see `Plan`).
        let word = match (plan, arg) {
            (Plan::Integers, &Arg::Int(v)) => code.truncate(v as u64),
            (Plan::Integers, &Arg::UInt(v)) => code.truncate(v),
            (Plan::Doubles, &Arg::F64(v)) => v.to_bits(),
            (Plan::Pointers, &Arg::Ptr(p)) => p as usize as u64,
            (Plan::Pointers, &Arg::CStr(s)) if code != TypeCode::Ptr => s.as_ptr() as usize as u64,
            _ => match call::word(code, arg) {
                Ok(word) => word,
                // A `&str` is the one kind `word` leaves to the arena.
                Err(expected) => match arg {
                    Arg::Str(s) if code.is_pointer() && code != TypeCode::Callback => arena
                        .c_str(s)
                        .ok_or_else(|| call::nul_in_string(name, index, s))?
                        as usize
                        as u64,
                    _ => return Err(call::arg_type(name, index, code, expected, arg)),
                },
            },
        };
        // SAFETY: the caller guarantees at most 8 arguments of each class.
        unsafe {
            if code.is_float() {
                *regs.floats.get_unchecked_mut(floats) = word;
                floats += 1;
            } else {
                *regs.ints.get_unchecked_mut(ints) = word;
                ints += 1;
            }
        }
    }
    Ok(())
}

/// The value of return code `ret` from its return register's bits, as [`call::load`] reads
/// libffi's return buffer: narrow integers truncated and extended per their signedness.
#[inline(always)]
fn returned(ret: TypeCode, bits: u64) -> Value {
    // `long` is the platform's; the casts are real where it is 32 bits.
    #[allow(clippy::unnecessary_cast)]
    match ret {
        TypeCode::Void => Value::None,
        TypeCode::I8 | TypeCode::I16 | TypeCode::Int | TypeCode::Long | TypeCode::I64 => {
            Value::Int(ret.truncate(bits) as i64)
        }
        TypeCode::U8 | TypeCode::U16 | TypeCode::UInt => Value::UInt(ret.truncate(bits)),
        TypeCode::ULong => Value::UInt(bits as c_ulong as u64),
        TypeCode::U64 => Value::UInt(bits),
        TypeCode::Float => Value::Float(f32::from_bits(bits as u32)),
        TypeCode::Double => Value::Double(f64::from_bits(bits)),
        // SAFETY: the caller of `invoke` vouches that an `s` function returns NULL or a
        // NUL-terminated string.
        TypeCode::Str => unsafe { call::load_str(bits as usize as *const c_char) },
        TypeCode::Ptr | TypeCode::ConstPtr | TypeCode::Object | TypeCode::Callback => {
            Value::Ptr(bits as usize as *mut c_void)
        }
    }
}

/// [`call::invoke`] on the register path: the same conversions, errno capture, string
/// arena, callback bookkeeping and errors, with a call through the function's shape in
/// place of `ffi_call`.
///
/// # Safety
/// As [`call::invoke`]; `shape` must be `Shape::classify` of the target's signature.
#[inline(always)]
pub(crate) unsafe fn invoke<const ERRNO: bool>(
    target: &Target<'_>,
    shape: Shape,
    args: &[Arg<'_>],
    errno: &mut c_int,
) -> Result<Value> {
    if args.len() != target.codes.len() {
        return Err(call::arg_count(target.name, target.codes.len(), args.len()));
    }
    let mut storage = MaybeUninit::<[u8; ARENA_BYTES]>::uninit();
    let mut arena = Arena::new(storage.as_mut_ptr().cast());
    let mut regs = Registers {
        ints: [0; 8],
        floats: [0; 8],
    };
    // SAFETY: the shape was classified from these codes: at most 8 of each class; the
    // argument count was checked.
    unsafe {
        marshal(
            target.name,
            target.codes,
            target.plan,
            args,
            &mut regs,
            &mut arena,
        )?
    };
    callback::enter_call();
    if ERRNO {
        errno::set_errno(0);
    }
    // SAFETY: the caller vouches that `fun` has the signature the shape was classified
    // from; `regs` holds its arguments (and zeros in the padding).
    let bits = unsafe { call_shape(shape.index, shape.float_return, target.fun, &regs) };
    if ERRNO {
        *errno = errno::errno();
    }
    callback::leave_call(target.name)?;
    Ok(returned(target.ret, bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use TypeCode::*;

    fn registers(ret: TypeCode, args: &[TypeCode]) -> Option<(u8, u8, bool)> {
        Shape::classify(ret, args).map(|s| {
            let (i, f) = s.registers();
            (i, f, s.float_return)
        })
    }

    #[test]
    fn every_shape_is_reachable_and_listed_once() {
        for (k, a) in SHAPES.iter().enumerate() {
            assert!(SHAPES[k + 1..].iter().all(|b| a != b), "{a:?} twice");
        }
    }

    #[test]
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    fn signatures_classify_by_register_counts() {
        if libffi_only() {
            return assert_eq!(registers(Int, &[Int, Int]), None);
        }
        let n = INT_REGS;
        assert_eq!(registers(Int, &[Int, Int]), Some((2, 0, false)));
        assert_eq!(registers(Void, &[]), Some((0, 0, false)));
        assert_eq!(registers(Double, &[Double, Double]), Some((0, 2, true)));
        assert_eq!(registers(Float, &[Float; 5]), Some((0, 8, true)));
        assert_eq!(registers(Str, &[Ptr, Double, Int]), Some((2, 2, false)));
        assert_eq!(
            registers(Int, &[Ptr, Int, Long, Double]),
            Some((n as u8, 2, false))
        );
        assert_eq!(
            registers(Int, &[Ptr, Int, Float, Float, Double]),
            Some((2, 8, false))
        );
        let all_ints = vec![Int; n];
        assert_eq!(registers(U64, &all_ints), Some((n as u8, 0, false)));
        let too_many_ints = vec![Int; n + 1];
        assert_eq!(registers(Int, &too_many_ints), None);
        assert_eq!(registers(Int, &[Double; 9]), None);
        assert_eq!(registers(Int, &[Double; 8]), Some((0, 8, false)));
    }
}
