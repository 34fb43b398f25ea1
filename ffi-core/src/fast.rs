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
//!
//! # What is decided at declaration
//! [`Shape::classify`] fixes everything the signature fixes: the entry
//! ([`Function::call`](crate::Function::call) calls it through one function pointer), each
//! argument's register, the narrowing and widening of each integer argument and of the
//! return as a mask and a sign bit ([`Extension`]), which slots take raw pointers, `&str`s,
//! C strings, buffers, bools and `float`s (bit sets, [`Slots`]), and which [`Value`] the
//! return becomes ([`Returned`]). Per call, the exact entries convert every kind
//! [`call::word`] accepts inline (integers first, with one tag compare; the less usual
//! kinds out of line); a refusal, before the call, hands the whole call to the general
//! conversions ([`invoke`], the mixed shapes' path), which report it, so conversions and
//! errors stay those of [`call::word`] on every path. The entry returns the return
//! register's bits and their kind in two registers ([`Raw`]); `Function::call`, inlined
//! into its caller, builds the `Result<Value>` there.

use std::ffi::{c_char, c_int, c_void};
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use crate::call::{self, Arena, Plan, ARENA_BYTES};
use crate::callback;
use crate::errno;
use crate::error::Result;
use crate::function::Function;
use crate::types::TypeCode;
use crate::value::{Arg, Value};

/// Integer-class argument registers of the platform's C convention (0: no register path).
/// Only where it is tested: 64-bit little-endian Linux (not x32, not aarch64_be).
pub(crate) const INT_REGS: usize = if !cfg!(all(
    target_os = "linux",
    target_pointer_width = "64",
    target_endian = "little"
)) {
    0
} else if cfg!(target_arch = "x86_64") {
    6
} else if cfg!(target_arch = "aarch64") {
    8
} else {
    0
};

/// Floating-point argument registers of the platform's C convention.
pub(crate) const FLOAT_REGS: usize = if INT_REGS == 0 { 0 } else { 8 };

/// How a register-path signature is called, worked out once at declaration: the shape (an
/// index into [`SHAPES`]), where each argument goes, how each integer argument and the
/// return value are narrowed and widened, and which slots take which argument kinds
/// without the general conversion. Nothing of this is looked up per call by type code.
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    /// The call: [`Function::call`] and [`Function::call_with_errno`] jump straight here.
    pub(crate) entry: Entry,
    pub(crate) errno_entry: ErrnoEntry,
    index: u8,
    float_return: bool,
    /// Whether the shape passes more registers than the signature has arguments (those
    /// are zeroed before the call).
    padded: bool,
    /// How the return register becomes a [`Value`].
    ret: Returned,
    /// The return's narrowing and widening (integer returns).
    ret_ext: Extension,
    /// Argument i's register: `dest[i] < 8` the integer register `dest[i]`, else the
    /// vector register `dest[i] - 8` (indices into [`Registers`]).
    dest: [u8; 16],
    /// Argument i's narrowing and widening, for the first 8 arguments (integer-only
    /// shapes have at most 8).
    ext: [Extension; 8],
    /// Which argument slots take which kinds without conversion, a bit per argument.
    slots: Slots,
}

/// A register-path call of one shape: converts the arguments, calls, and hands back the
/// return register's bits, narrowed and widened, with what they are ([`Raw`]): two words,
/// returned in registers, from which [`Function::call`](crate::Function::call), inlined
/// into its caller, builds the `Result<Value>` there. (A `Result<Value>` returned from the
/// entry goes through memory, and a caller that copies it with wider loads than the entry's
/// stores stalls on store forwarding: that cost more than the whole conversion.)
///
/// # Safety
/// As [`Function::call`](crate::Function::call); the function's shape is the one this
/// entry was chosen for.
pub(crate) type Entry = unsafe fn(&Function, &[Arg<'_>]) -> Raw;

/// What an [`Entry`] hands back: the return register's bits and what they stand for, or
/// what remains to be done.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Raw {
    pub(crate) kind: Returned,
    /// The return register's bits; integers narrowed and widened per the return code.
    pub(crate) bits: u64,
}

/// What a [`Raw`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Returned {
    /// `Value::Int(bits)`.
    Int,
    /// `Value::UInt(bits)`.
    UInt,
    /// `Value::Double` of the bits.
    Double,
    /// `Value::Ptr` of the bits.
    Ptr,
    /// `Value::None`.
    Void,
    /// `Value::Float` of the low 32 bits.
    Float,
    /// A copy of the C string at the bits' address (`Value::None` for NULL).
    Str,
    /// Not called: an argument is of a kind the entry does not convert (or is refused), or
    /// the shape has no exact entry; the general conversions of the register path take
    /// the whole call, and report the error if there is one.
    General,
    /// Called (the bits are the return), and a callback failure is pending on this thread:
    /// [`callback::take_left_pending`] says whether it is this call's.
    Pending,
}

/// [`Entry`] that also stores errno (cleared before the call, read right after it).
///
/// # Safety
/// As [`Entry`].
pub(crate) type ErrnoEntry = unsafe fn(&Function, &[Arg<'_>], &mut c_int) -> Result<Value>;

/// How an integer-class word is narrowed to its C type and widened back to 64 bits, as
/// [`TypeCode::truncate`] does and the convention requires of narrow arguments and
/// libffi does to narrow returns: `((word & mask) ^ sign) - sign`, where `sign` is the
/// type's sign bit for a signed type narrower than 64 bits (0 otherwise). Three
/// operations, with no branch on the type code per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extension {
    mask: u64,
    sign: u64,
}

impl Extension {
    /// Leaves the word as it is (64-bit integers, pointers, floating-point codes).
    const NONE: Extension = Extension {
        mask: u64::MAX,
        sign: 0,
    };

    /// The extension of integer or pointer code `code` (pointers are unsigned integers of
    /// the platform's width); [`Extension::NONE`] for the others.
    const fn of(code: TypeCode) -> Extension {
        let bits = 8 * code.size() as u32;
        if !(code.is_integer() || code.is_pointer()) || bits >= 64 {
            return Extension::NONE;
        }
        Extension {
            mask: (1 << bits) - 1,
            sign: if code.is_signed() { 1 << (bits - 1) } else { 0 },
        }
    }

    #[inline(always)]
    fn apply(self, word: u64) -> u64 {
        ((word & self.mask) ^ self.sign).wrapping_sub(self.sign)
    }
}

/// Sets of argument slots (bit i: argument i), for the kinds [`call::word`] accepts in only
/// some slots, so that a call tests one bit where the general conversion matches the code.
#[derive(Clone, Copy, Default)]
struct Slots {
    /// Integer slots (`b B h H i I l L q Q`), which take a bool as 0 or 1.
    integer: u16,
    /// Pointer slots (`p P s O C`), which take raw pointers and callbacks.
    pointer: u16,
    /// Slots for memory C only reads (`P s O`), which take C strings and read-only buffers.
    read_only: u16,
    /// `p` slots, which take writable buffers (as the read-only ones do).
    writable: u16,
    /// Slots that take a `&str`, copied into the arena (`p P s O`).
    string: u16,
    /// `float` slots (the other floating-point slots are `double`).
    float32: u16,
}

impl Slots {
    fn of(args: &[TypeCode]) -> Slots {
        let mut slots = Slots::default();
        for (i, &code) in args.iter().enumerate().take(16) {
            let bit = |yes: bool| u16::from(yes) << i;
            slots.integer |= bit(code.is_integer());
            slots.pointer |= bit(code.is_pointer());
            slots.read_only |= bit(matches!(
                code,
                TypeCode::ConstPtr | TypeCode::Str | TypeCode::Object
            ));
            slots.writable |= bit(code == TypeCode::Ptr);
            slots.string |= bit(takes_str(code));
            slots.float32 |= bit(code == TypeCode::Float);
        }
        slots
    }
}

/// Whether bit `index` of `set` is set.
#[inline(always)]
fn has(set: u16, index: usize) -> bool {
    set >> index & 1 != 0
}

impl Returned {
    /// Which [`Value`] a return of `code` becomes.
    fn of(code: TypeCode) -> Returned {
        match code {
            _ if code.is_integer() && code.is_signed() => Returned::Int,
            _ if code.is_integer() => Returned::UInt,
            TypeCode::Double => Returned::Double,
            TypeCode::Float => Returned::Float,
            TypeCode::Str => Returned::Str,
            TypeCode::Void => Returned::Void,
            _ => Returned::Ptr,
        }
    }
}

/// Whether `FFI_CORE_LIBFFI_ONLY` (non-empty, not `0`) puts every function on libffi: read
/// once per process, so that a test suite can run whole on either path.
pub(crate) fn libffi_only() -> bool {
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
        let (padded_ints, padded_floats) = match (ints, floats) {
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
            .position(|&s| s == (padded_ints as u8, padded_floats as u8))
            .expect("every padded count has a shape");
        let mut dest = [0u8; 16];
        let (mut next_int, mut next_float) = (0u8, 8u8);
        for (d, code) in dest.iter_mut().zip(args) {
            let next = if code.is_float() {
                &mut next_float
            } else {
                &mut next_int
            };
            *d = *next;
            *next += 1;
        }
        let mut ext = [Extension::NONE; 8];
        for (e, &code) in ext.iter_mut().zip(args) {
            *e = Extension::of(code);
        }
        let slots = Slots::of(args);
        let (entry, errno_entry): (Entry, ErrnoEntry) = match (ints, floats) {
            // A returned string is copied after the entry has returned (see `Raw`), when
            // the arena is gone: where C may return a pointer into it (a `&str` argument's
            // copy, as `echo` does), the general path, which copies it before, takes it.
            (_, 0) if slots.string != 0 && ret == TypeCode::Str => (mixed, invoke::<true>),
            // Without a slot that takes a `&str`, the string arena compiles away.
            (i, 0) if slots.string != 0 => INTS[i],
            (i, 0) => INTS_NO_STR[i],
            // Float-only signatures have no slot that takes a `&str`.
            (0, f) if f <= 4 => FLOATS[f - 1],
            _ => (mixed, invoke::<true>),
        };
        Some(Shape {
            entry,
            errno_entry,
            index: index as u8,
            float_return: ret.is_float(),
            padded: (padded_ints, padded_floats) != (ints, floats),
            ret: Returned::of(ret),
            ret_ext: Extension::of(ret),
            dest,
            ext,
            slots,
        })
    }

    /// (integer registers, floating-point registers) of this shape.
    #[cfg(test)]
    fn registers(self) -> (u8, u8) {
        SHAPES[self.index as usize]
    }
}

/// The argument registers of one call: the 8 integer registers, then the 8 vector
/// registers' bit patterns (a `double`'s 64 bits, a `float`'s 32 in the low half).
type Registers = [u64; 16];

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
        /// `regs[..n]` and floating-point ones `regs[8..8 + m]` in order, with
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
            // puts `regs[i]` in the i-th integer argument register and `regs[8 + j]` in the
            // j-th vector register whatever the prototype's interleaving, and reads
            // the return register of the declared class; registers beyond the callee's
            // parameters are caller-saved scratch it never reads.
            unsafe {
                match (index, float_return) {
                    $(
                        ($n, false) => std::mem::transmute::<
                            *const c_void,
                            unsafe extern "C" fn($(shapes!(@int $i),)* $(shapes!(@float $f),)*) -> u64,
                        >(fun)($(regs[$i],)* $(f64::from_bits(regs[8 + $f]),)*),
                        ($n, true) => std::mem::transmute::<
                            *const c_void,
                            unsafe extern "C" fn($(shapes!(@int $i),)* $(shapes!(@float $f),)*) -> f64,
                        >(fun)($(regs[$i],)* $(f64::from_bits(regs[8 + $f]),)*)
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

/// The [`Extension`] of every code, by `TypeCode as usize` (for the mixed shapes, which
/// convert through the codes).
const EXTENSIONS: [Extension; 18] = {
    let mut table = [Extension::NONE; 18];
    let mut k = 0;
    while k < 18 {
        table[k] = Extension::of(ALL[k]);
        k += 1;
    }
    table
};

/// Every code, in declaration order (`ALL[code as usize] == code`).
const ALL: [TypeCode; 18] = {
    use TypeCode::*;
    [
        Void, I8, U8, I16, U16, Int, UInt, Long, ULong, I64, U64, Float, Double, Ptr, ConstPtr,
        Str, Object, Callback,
    ]
};

/// `bits` truncated to integer or pointer code `code`'s width and sign- or zero-extended
/// back, as [`TypeCode::truncate`] does, without a branch per code.
#[inline(always)]
fn extend(code: TypeCode, bits: u64) -> u64 {
    EXTENSIONS[code as usize].apply(bits)
}

/// Converts every argument into its register word (see [`call::word`]) and stores it in
/// the register `shape` gives it.
///
/// # Safety
/// `shape` must be `Shape::classify` of `codes`, and `args.len() == codes.len()`; `plan`
/// must be `Plan::for_codes(codes)`.
#[inline(always)]
unsafe fn marshal(
    name: &str,
    codes: &[TypeCode],
    plan: Plan,
    shape: &Shape,
    args: &[Arg<'_>],
    regs: *mut u64,
    arena: &mut Arena,
) -> Result<()> {
    for (index, ((&code, arg), &dest)) in codes.iter().zip(args).zip(&shape.dest).enumerate() {
        // The plan's own kind first: one tag check (see `Plan`).
        let word = match (plan, arg) {
            (Plan::Integers, &Arg::Int(v)) => extend(code, v as u64),
            (Plan::Integers, &Arg::UInt(v)) => extend(code, v),
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
        // SAFETY: `dest < 16` (classify numbers at most 8 registers of each class), inside
        // the caller's 16 registers.
        unsafe { regs.add(usize::from(dest)).write(word) };
    }
    Ok(())
}

/// The value of the return register's bits, as [`call::load`] reads libffi's return
/// buffer: narrow integers truncated and extended per their signedness. The kind and the
/// extension were worked out at declaration; the usual kinds are tested first.
#[inline(always)]
fn returned(shape: &Shape, bits: u64) -> Value {
    match shape.ret {
        Returned::Int => Value::Int(shape.ret_ext.apply(bits) as i64),
        Returned::UInt => Value::UInt(shape.ret_ext.apply(bits)),
        Returned::Double => Value::Double(f64::from_bits(bits)),
        _ => returned_other(shape.ret, bits),
    }
}

/// [`returned`] for the less usual kinds, out of line (inlined, the whole match becomes
/// a jump table: more instructions for the usual kinds); the [`Value`] of a [`Raw`] of a
/// return kind.
#[inline(never)]
pub(crate) fn returned_other(ret: Returned, bits: u64) -> Value {
    match ret {
        Returned::Int => Value::Int(bits as i64),
        Returned::UInt => Value::UInt(bits),
        Returned::Double => Value::Double(f64::from_bits(bits)),
        Returned::Float => Value::Float(f32::from_bits(bits as u32)),
        Returned::Ptr => Value::Ptr(bits as usize as *mut c_void),
        // SAFETY: the caller of `Function::call` vouches that an `s` function returns NULL
        // or a NUL-terminated string.
        Returned::Str => unsafe { call::load_str(bits as usize as *const c_char) },
        // `Returned::of` gives only the kinds above; the others carry no value.
        Returned::Void | Returned::General | Returned::Pending => Value::None,
    }
}

/// Ends a register-path call from its entry's [`Raw`] when [`Function::call`] does not
/// build the value inline: the less usual return kinds, a pending callback failure (the
/// call's error if it is this call's), and the calls the entry left to the general
/// conversions ([`invoke`], which converts or reports the error exactly as
/// [`call::word`] does).
///
/// # Safety
/// As [`ErrnoEntry`]; `raw` comes from an entry of `f`'s shape, for these `args`.
#[inline(never)]
pub(crate) unsafe fn finish<const ERRNO: bool>(
    f: &Function,
    args: &[Arg<'_>],
    raw: Raw,
    errno: &mut c_int,
) -> Result<Value> {
    match raw.kind {
        // SAFETY: forwarded from the caller.
        Returned::General => unsafe { invoke::<ERRNO>(f, args, errno) },
        Returned::Pending => {
            callback::take_left_pending(f.name())?;
            Ok(returned(f.register_shape().1, raw.bits))
        }
        kind => Ok(returned_other(kind, raw.bits)),
    }
}

/// The register path for any shape, mixed and padded ones in particular: every argument
/// converted into its register of a 16-word array, then a call through the shape. The same
/// conversions, errno capture, string arena, callback bookkeeping and errors as
/// [`call::invoke`], with the shape's call in place of `ffi_call`.
///
/// # Safety
/// As [`ErrnoEntry`].
#[inline(never)]
unsafe fn invoke<const ERRNO: bool>(
    f: &Function,
    args: &[Arg<'_>],
    errno: &mut c_int,
) -> Result<Value> {
    let (fun, name, codes, plan, shape) = f.register_parts();
    if args.len() != codes.len() {
        return Err(call::arg_count(name, codes.len(), args.len()));
    }
    let mut storage = MaybeUninit::<[u8; ARENA_BYTES]>::uninit();
    let mut arena = Arena::new(storage.as_mut_ptr().cast());
    let mut regs = MaybeUninit::<Registers>::uninit();
    if shape.padded {
        // The shape reads registers beyond the arguments: they must hold something.
        regs.write([0; 16]);
    }
    // SAFETY: the shape was classified from these codes, and the argument count was
    // checked; `regs` has room for 16 words.
    unsafe {
        marshal(
            name,
            codes,
            plan,
            shape,
            args,
            regs.as_mut_ptr().cast(),
            &mut arena,
        )?
    };
    callback::enter_call();
    if ERRNO {
        errno::set_errno(0);
    }
    // SAFETY: the caller vouches that `fun` has the signature the shape was classified
    // from. Every register the shape reads is initialised: the arguments' were just
    // written, and a padded shape's others were zeroed (an exact shape reads no others).
    let bits = unsafe { call_shape(shape.index, shape.float_return, fun, regs.assume_init_ref()) };
    if ERRNO {
        *errno = errno::errno();
    }
    callback::leave_call(name)?;
    Ok(returned(shape, bits))
}

/// [`Entry`] of the mixed and padded shapes: the general conversions take the call.
///
/// # Safety
/// None; `unsafe` for the [`Entry`] type.
unsafe fn mixed(_: &Function, _: &[Arg<'_>]) -> Raw {
    Raw {
        kind: Returned::General,
        bits: 0,
    }
}

/// Whether slot `code` accepts a `&str` (copied into the arena): `p P s O`.
fn takes_str(code: TypeCode) -> bool {
    code.is_pointer() && code != TypeCode::Callback
}

/// The word of integer-class argument `$index`, converted inline as [`call::word`] does
/// (integers extended per the slot, raw pointers, and with `STR`, the signature having a
/// slot that takes one, a `&str` copied into the arena; the less usual kinds through
/// [`other_int_word`]), with the slot's extension and kinds from `$shape`. Where
/// [`call::word`] refuses the kind, and for a `&str` with a NUL, it evaluates `$refused`
/// (which leaves the entry: the general conversions then report the error). A macro, so
/// that every way out is a word or that exit, with no `Option` to merge and test.
macro_rules! int_word {
    ($shape:expr, $index:expr, $arg:expr, $arena:expr, $refused:expr) => {{
        let (shape, index, arg): (&Shape, usize, &Arg<'_>) = ($shape, $index, $arg);
        // Integers first, with one compare: an integer in a pointer slot is an address,
        // and the extension of a pointer slot leaves the word as it is.
        match arg.integer_bits() {
            Some(bits) => shape.ext[index].apply(bits),
            None => match *arg {
                Arg::Ptr(p) if has(shape.slots.pointer, index) => p as usize as u64,
                Arg::Str(s) if STR && has(shape.slots.string, index) => {
                    // SAFETY: `STR`, so the entry made the arena.
                    let arena = unsafe { $arena.as_mut().unwrap_unchecked() };
                    match arena.c_str(s) {
                        Some(copy) => copy as usize as u64,
                        None => $refused,
                    }
                }
                _ => match other_int_word(&shape.slots, index, arg) {
                    Some(word) => word,
                    None => $refused,
                },
            },
        }
    }};
}

/// [`int_word!`] for the less usual kinds, out of line (the word comes back in registers).
#[inline(never)]
fn other_int_word(slots: &Slots, index: usize, arg: &Arg<'_>) -> Option<u64> {
    match *arg {
        Arg::CStr(s) if has(slots.read_only, index) => Some(s.as_ptr() as usize as u64),
        Arg::Buffer(ref b)
            if has(slots.read_only, index) || b.is_writable() && has(slots.writable, index) =>
        {
            Some(b.as_ptr() as usize as u64)
        }
        Arg::Callback(cb) if has(slots.pointer, index) => Some(cb.code_ptr() as usize as u64),
        Arg::Null => Some(0),
        Arg::Bool(v) if has(slots.integer, index) => Some(u64::from(v)),
        _ => None,
    }
}

/// The word of floating-point argument `$index`: a `double` inline (rounded to a `float`
/// where the slot is one), the other numbers through [`other_float_word`]; `$refused`
/// where [`call::word`] refuses the kind (see [`int_word`]).
macro_rules! float_word {
    ($shape:expr, $index:expr, $arg:expr, $arena:expr, $refused:expr) => {{
        let (shape, index, arg): (&Shape, usize, &Arg<'_>) = ($shape, $index, $arg);
        match *arg {
            Arg::F64(v) if has(shape.slots.float32, index) => u64::from((v as f32).to_bits()),
            Arg::F64(v) => v.to_bits(),
            _ => match other_float_word(&shape.slots, index, arg) {
                Some(word) => word,
                None => $refused,
            },
        }
    }};
}

/// [`float_word!`] for the other kinds, out of line.
#[inline(never)]
fn other_float_word(slots: &Slots, index: usize, arg: &Arg<'_>) -> Option<u64> {
    let float32 = has(slots.float32, index);
    let double = match *arg {
        Arg::F64(v) => v,
        Arg::F32(v) if float32 => return Some(u64::from(v.to_bits())),
        Arg::F32(v) => f64::from(v),
        Arg::Int(v) => v as f64,
        Arg::UInt(v) => v as f64,
        Arg::Bool(v) => f64::from(u8::from(v)),
        _ => return None,
    };
    Some(if float32 {
        u64::from((double as f32).to_bits())
    } else {
        double.to_bits()
    })
}

/// Declares the entries of the exact integer-only and float-only shapes: each converts its
/// `N` arguments unrolled, keeping the words in registers, and calls through a function
/// pointer with exactly `N` parameters of its class.
macro_rules! exact_entries {
    ($table:ident, $table_no_str:ident, $entry:ident, $entry_errno:ident, $body:ident, $word:ident, $param:ty,
     $to_param:expr, $max:literal, $( $n:literal: [$($k:literal)*] ),* $(,)?) => {
        /// The entries for 0 (or 1) to the maximum arguments of this class: `(call,
        /// call_with_errno)` each.
        #[allow(dead_code)]
        const $table: [(Entry, ErrnoEntry); $max] =
            [$( ($entry::<$n, true>, $entry_errno::<$n, true>) ),*];
        /// As above, for signatures without a slot that takes a `&str`.
        #[allow(dead_code)]
        const $table_no_str: [(Entry, ErrnoEntry); $max] =
            [$( ($entry::<$n, false>, $entry_errno::<$n, false>) ),*];

        /// [`Entry`] of an exact shape of `N` arguments of this class.
        ///
        /// # Safety
        /// As [`Entry`].
        unsafe fn $entry<const N: usize, const STR: bool>(f: &Function, args: &[Arg<'_>]) -> Raw {
            // SAFETY: forwarded from the caller.
            unsafe { $body::<N, false, STR>(f, args, &mut 0) }
        }

        /// [`ErrnoEntry`] of an exact shape of `N` arguments of this class.
        ///
        /// # Safety
        /// As [`ErrnoEntry`].
        unsafe fn $entry_errno<const N: usize, const STR: bool>(
            f: &Function,
            args: &[Arg<'_>],
            errno: &mut c_int,
        ) -> Result<Value> {
            // SAFETY: forwarded from the caller (twice: `finish` takes what the entry
            // left, for the same call).
            unsafe {
                let raw = $body::<N, true, STR>(f, args, errno);
                match raw.kind {
                    Returned::Int => Ok(Value::Int(raw.bits as i64)),
                    Returned::UInt => Ok(Value::UInt(raw.bits)),
                    Returned::Double => Ok(Value::Double(f64::from_bits(raw.bits))),
                    _ => finish::<true>(f, args, raw, errno),
                }
            }
        }

        /// The register path of an exact shape of `N` arguments of one class; with
        /// `STR`, the signature has a slot that takes a `&str` (and the call an arena).
        ///
        /// # Safety
        /// As [`ErrnoEntry`].
        #[inline(always)]
        unsafe fn $body<const N: usize, const ERRNO: bool, const STR: bool>(
            f: &Function,
            args: &[Arg<'_>],
            errno: &mut c_int,
        ) -> Raw {
            const GENERAL: Raw = Raw {
                kind: Returned::General,
                bits: 0,
            };
            let (fun, shape) = f.register_shape();
            if args.len() != N {
                // The general conversions report the count.
                return GENERAL;
            }
            let mut storage = MaybeUninit::<[u8; ARENA_BYTES]>::uninit();
            // Without a slot that takes a `&str`, no arena: `None` is known at compile
            // time, so neither its setup nor its drop is left in the code.
            #[allow(unused_mut, unused_variables)]
            let mut arena = if STR { Some(Arena::new(storage.as_mut_ptr().cast())) } else { None };
            // Unrolled (N is a constant), so the words stay in registers.
            let mut words = [0u64; 8];
            for index in 0..N {
                // SAFETY: `index < N == args.len()`.
                let arg = unsafe { args.get_unchecked(index) };
                // A kind refused (or a `&str` with a NUL) is left, before the call, to the
                // general conversions of the mixed shapes' path, which report the error:
                // this path needs no `Result` per argument and keeps no error state.
                words[index] = $word!(shape, index, arg, arena, return GENERAL);
            }
            callback::enter_call();
            if ERRNO {
                errno::set_errno(0);
            }
            let to_param = $to_param;
            // SAFETY: `fun` is a non-variadic C function with exactly N arguments, all of
            // this class (the caller vouches for the signature, `Shape::classify` chose
            // this entry from it): a pointer type with N parameters of the class places
            // them in the N first argument registers of that class, as the prototype
            // does, and reads the return register of the declared class. See the module
            // documentation for the ABI facts.
            let bits = unsafe {
                match (N, shape.float_return) {
                    $(
                        ($n, false) => std::mem::transmute::<
                            *const c_void,
                            unsafe extern "C" fn($(exact_entries!(@param $k $param),)*) -> u64,
                        >(fun)($(to_param(words[$k]),)*),
                        ($n, true) => std::mem::transmute::<
                            *const c_void,
                            unsafe extern "C" fn($(exact_entries!(@param $k $param),)*) -> f64,
                        >(fun)($(to_param(words[$k]),)*).to_bits(),
                    )*
                    // N is one of the listed counts.
                    _ => std::hint::unreachable_unchecked(),
                }
            };
            if ERRNO {
                *errno = errno::errno();
            }
            let kind = if callback::leave_call_pending() {
                Returned::Pending
            } else {
                shape.ret
            };
            // The extension of a return that is not an integer leaves the bits as they are.
            Raw {
                kind,
                bits: shape.ret_ext.apply(bits),
            }
        }
    };
    (@param $k:literal $param:ty) => { $param };
}

exact_entries!(INTS, INTS_NO_STR, ints, ints_errno, ints_body, int_word, u64, |w: u64| w, 9,
    0: [],
    1: [0],
    2: [0 1],
    3: [0 1 2],
    4: [0 1 2 3],
    5: [0 1 2 3 4],
    6: [0 1 2 3 4 5],
    7: [0 1 2 3 4 5 6],
    8: [0 1 2 3 4 5 6 7],
);

exact_entries!(FLOATS_WITH_STR, FLOATS, floats, floats_errno, floats_body, float_word, f64, f64::from_bits, 4,
    1: [0],
    2: [0 1],
    3: [0 1 2],
    4: [0 1 2 3],
);

#[cfg(test)]
mod tests {
    // The register-path tests run on x86-64 and aarch64 Linux only.
    #![cfg_attr(
        not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )),
        allow(unused_imports, dead_code)
    )]
    use super::*;
    use TypeCode::*;

    fn registers(ret: TypeCode, args: &[TypeCode]) -> Option<(u8, u8, bool)> {
        Shape::classify(ret, args).map(|s| {
            let (i, f) = s.registers();
            (i, f, s.float_return)
        })
    }

    #[test]
    fn extension_matches_truncate() {
        for code in ALL {
            assert_eq!(ALL[code as usize], code);
            if code.is_integer() {
                for bits in [0, 1, 0x7f, 0x80, 0xffff, 0x8000_0000, u64::MAX, 1 << 63] {
                    assert_eq!(
                        extend(code, bits),
                        code.truncate(bits),
                        "{code:?} {bits:#x}"
                    );
                }
            }
        }
        assert_eq!(extend(TypeCode::Ptr, u64::MAX), usize::MAX as u64);
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
