//! The call path: converting [`Arg`]s into C slots, calling through libffi, converting the
//! result back. Shared by [`Function`](crate::Function), variadic calls, callbacks (their
//! arguments and returns) and variables.
//!
//! Nothing here allocates for calls of up to [`INLINE_ARGS`] arguments whose strings fit
//! in [`ARENA_BYTES`]: slots, the pointer array and string copies live on the stack.

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use std::mem::{size_of, MaybeUninit};
use std::ptr;

use libffi::low::{ffi_arg, ffi_cif, ffi_type};
use libffi::raw;

use crate::callback;
use crate::errno;
use crate::error::{Error, Result};
use crate::types::TypeCode;
use crate::value::{Arg, Value};

/// Calls with at most this many arguments keep their slots on the stack.
pub const INLINE_ARGS: usize = 16;

/// Bytes of stack storage for copies of `&str` arguments (with their NULs) per call;
/// strings beyond it are copied to the heap.
pub const ARENA_BYTES: usize = 512;

/// One argument slot: 8 bytes, 8-aligned, enough for every type code.
type Slot = u64;

/// What a slot accepts, for error messages.
pub(crate) fn expected(code: TypeCode) -> &'static str {
    if code.is_integer() {
        "an integer, bool or None"
    } else if code.is_float() {
        "a number (integer, bool or float)"
    } else if code == TypeCode::Callback {
        "a callback, function pointer, integer address or None"
    } else if code == TypeCode::Ptr {
        "a writable buffer (&mut), pointer, string, integer address or None (read-only \
         memory goes in a 'P' slot)"
    } else {
        "a pointer, buffer, string, integer address or None"
    }
}

/// Converts `arg` for slot `code` and writes it at `dst`, following MicroPython's order:
/// floats accept numbers, `None` is 0/NULL, integers are truncated to the slot's width,
/// pointers take buffers, C strings and callbacks. `&str` needs a copy and is handled by
/// the caller; here it is a mismatch. `Err` carries what the slot would accept.
///
/// `DST` says what `dst` is (see [`dest`]): a C object of exactly the code's type
/// ([`dest::EXACT`], variables), an 8-byte argument slot ([`dest::SLOT`]: libffi reads only
/// the type's bytes from it) or a closure's return buffer ([`dest::RETURN`]: integers
/// narrower than a register are written as a whole, sign- or zero-extended `ffi_arg`, as
/// libffi requires).
///
/// The conversion writes straight into the slot, with no intermediate value in memory:
/// this is the hot path of every call.
///
/// # Safety
/// `dst` must be valid for a write of `code.size()` bytes (8 bytes for a slot, an
/// `ffi_arg` for a return buffer), aligned for that type.
#[inline(always)]
pub(crate) unsafe fn write<const DST: u8>(
    code: TypeCode,
    arg: &Arg<'_>,
    dst: *mut c_void,
) -> Result<(), &'static str> {
    // SAFETY: every arm writes one value of `code`'s type (or an ffi_arg with WIDE) at
    // `dst`, which the caller guarantees is valid and aligned for it.
    unsafe {
        match *arg {
            // An integer reaches a `float` through a double, as in MicroPython
            // (`(float)mp_obj_get_float(o)`): rounded twice, which differs from one rounding
            // for some integers above 2**53.
            Arg::Int(v) => match code {
                TypeCode::Float => dst.cast::<f32>().write(v as f64 as f32),
                TypeCode::Double => dst.cast::<f64>().write(v as f64),
                _ => write_bits::<DST>(code, v as u64, dst),
            },
            Arg::UInt(v) => match code {
                TypeCode::Float => dst.cast::<f32>().write(v as f64 as f32),
                TypeCode::Double => dst.cast::<f64>().write(v as f64),
                _ => write_bits::<DST>(code, v, dst),
            },
            Arg::Bool(v) => match code {
                TypeCode::Float => dst.cast::<f32>().write(u8::from(v).into()),
                TypeCode::Double => dst.cast::<f64>().write(u8::from(v).into()),
                _ if code.is_integer() => write_bits::<DST>(code, v.into(), dst),
                _ => return Err(expected(code)),
            },
            Arg::F64(v) => match code {
                TypeCode::Double => dst.cast::<f64>().write(v),
                TypeCode::Float => dst.cast::<f32>().write(v as f32),
                _ => return Err(expected(code)),
            },
            Arg::F32(v) => match code {
                TypeCode::Float => dst.cast::<f32>().write(v),
                TypeCode::Double => dst.cast::<f64>().write(v.into()),
                _ => return Err(expected(code)),
            },
            Arg::Null if !code.is_float() => write_bits::<DST>(code, 0, dst),
            Arg::Ptr(p) if code.is_pointer() => dst.cast::<*mut c_void>().write(p),
            Arg::Callback(cb) if code.is_pointer() => {
                dst.cast::<*mut c_void>().write(cb.code_ptr())
            }
            // C may write through a `p` (`void *`): only `P`, `s` and `O` take read-only
            // memory, as MicroPython's `p`/`P` distinction intends.
            Arg::CStr(s) if takes_read_only(code) => dst.cast::<*const c_char>().write(s.as_ptr()),
            Arg::Buffer(ref b)
                if takes_read_only(code) || b.is_writable() && code == TypeCode::Ptr =>
            {
                dst.cast::<*mut c_void>().write(b.as_ptr())
            }
            _ => return Err(expected(code)),
        }
    }
    Ok(())
}

/// Converts `arg` for slot `code` into the 64-bit word a register holds under the register
/// path's conventions (see [`fast`](crate::fast)): integers truncated to the slot's width and
/// sign- or zero-extended to 64 bits, a `float` as its 32 bits (upper half 0), a `double` as
/// its 64 bits, pointers and callbacks as addresses. The rules and errors are exactly
/// [`write()`]'s (`&str` is left to the caller as a mismatch); the differential test
/// (tests/differential.rs) calls through both and compares what C receives.
#[inline(always)]
pub(crate) fn word(code: TypeCode, arg: &Arg<'_>) -> Result<u64, &'static str> {
    /// Integer bits into an integer slot (truncated, extended) or a pointer slot (an
    /// address of the platform's width).
    #[inline(always)]
    fn bits(code: TypeCode, bits: u64) -> u64 {
        if code.is_pointer() {
            bits as usize as u64
        } else {
            code.truncate(bits)
        }
    }
    let float = |v: f32| u64::from(v.to_bits());
    Ok(match *arg {
        // Through a double first, as in `write`.
        Arg::Int(v) => match code {
            TypeCode::Float => float(v as f64 as f32),
            TypeCode::Double => (v as f64).to_bits(),
            _ => bits(code, v as u64),
        },
        Arg::UInt(v) => match code {
            TypeCode::Float => float(v as f64 as f32),
            TypeCode::Double => (v as f64).to_bits(),
            _ => bits(code, v),
        },
        Arg::Bool(v) => match code {
            TypeCode::Float => float(u8::from(v).into()),
            TypeCode::Double => f64::from(u8::from(v)).to_bits(),
            _ if code.is_integer() => u64::from(v),
            _ => return Err(expected(code)),
        },
        Arg::F64(v) => match code {
            TypeCode::Double => v.to_bits(),
            TypeCode::Float => float(v as f32),
            _ => return Err(expected(code)),
        },
        Arg::F32(v) => match code {
            TypeCode::Float => float(v),
            TypeCode::Double => f64::from(v).to_bits(),
            _ => return Err(expected(code)),
        },
        Arg::Null if !code.is_float() => 0,
        Arg::Ptr(p) if code.is_pointer() => p as usize as u64,
        Arg::Callback(cb) if code.is_pointer() => cb.code_ptr() as usize as u64,
        Arg::CStr(s) if takes_read_only(code) => s.as_ptr() as usize as u64,
        Arg::Buffer(ref b) if takes_read_only(code) || b.is_writable() && code == TypeCode::Ptr => {
            b.as_ptr() as usize as u64
        }
        _ => return Err(expected(code)),
    })
}

/// Whether slot `code` accepts read-only memory (`&CStr`, `&[T]`): the data pointers C
/// does not write through (`P s O`).
#[inline(always)]
fn takes_read_only(code: TypeCode) -> bool {
    matches!(code, TypeCode::ConstPtr | TypeCode::Str | TypeCode::Object)
}

/// What the destination of [`write()`] is.
pub(crate) mod dest {
    /// A C object of exactly the code's type (a variable).
    pub const EXACT: u8 = 0;
    /// An 8-byte, 8-aligned argument slot.
    pub const SLOT: u8 = 1;
    /// A libffi closure's return buffer.
    pub const RETURN: u8 = 2;
}

/// Writes integer bits into an integer or pointer destination, truncated to its width.
///
/// # Safety
/// As [`write()`].
#[inline(always)]
unsafe fn write_bits<const DST: u8>(code: TypeCode, bits: u64, dst: *mut c_void) {
    // SAFETY: forwarded from the caller; each arm writes what the destination holds.
    unsafe {
        if DST == dest::SLOT && cfg!(target_endian = "little") {
            // libffi reads only the type's width from the slot, and on a little-endian
            // machine those are the low bytes of `bits` at offset 0: the truncation is free.
            return dst.cast::<u64>().write(bits);
        }
        match code {
            TypeCode::I8
            | TypeCode::U8
            | TypeCode::I16
            | TypeCode::U16
            | TypeCode::Int
            | TypeCode::UInt
                if DST == dest::RETURN =>
            {
                dst.cast::<ffi_arg>().write(code.truncate(bits) as ffi_arg)
            }
            TypeCode::I8 | TypeCode::U8 => dst.cast::<u8>().write(bits as u8),
            TypeCode::I16 | TypeCode::U16 => dst.cast::<u16>().write(bits as u16),
            TypeCode::Int | TypeCode::UInt => dst.cast::<u32>().write(bits as u32),
            TypeCode::Long | TypeCode::ULong => dst.cast::<c_ulong>().write(bits as c_ulong),
            TypeCode::I64 | TypeCode::U64 => dst.cast::<u64>().write(bits),
            TypeCode::Void => {}
            // Float codes never reach here; pointer codes take the bits as an address.
            _ => dst
                .cast::<*mut c_void>()
                .write(bits as usize as *mut c_void),
        }
    }
}

/// Reads a value of type `code` at `src`. With `WIDENED`, integers narrower than a
/// register were written as a whole `ffi_arg` (libffi return values) rather than at their
/// width (arguments, variables).
///
/// # Safety
/// `src` must point to a readable, aligned value of `code`'s type (or an `ffi_arg` when
/// `WIDENED`); for `s`, the pointer read must be NULL or a NUL-terminated string.
#[inline(always)]
pub(crate) unsafe fn load<const WIDENED: bool>(code: TypeCode, src: *const c_void) -> Value {
    /// Reads integer type `$t` (from a whole `ffi_arg` when widened and narrower).
    macro_rules! int {
        ($t:ty, $variant:ident) => {{
            let v: $t = if WIDENED && size_of::<$t>() <= size_of::<ffi_arg>() {
                src.cast::<ffi_arg>().read() as $t
            } else {
                src.cast::<$t>().read()
            };
            Value::$variant(v as _)
        }};
    }
    // SAFETY: the caller guarantees `src` holds a value of `code`'s type.
    unsafe {
        match code {
            TypeCode::Void => Value::None,
            TypeCode::I8 => int!(i8, Int),
            TypeCode::U8 => int!(u8, UInt),
            TypeCode::I16 => int!(i16, Int),
            TypeCode::U16 => int!(u16, UInt),
            TypeCode::Int => int!(c_int, Int),
            TypeCode::UInt => int!(std::ffi::c_uint, UInt),
            TypeCode::Long => int!(std::ffi::c_long, Int),
            TypeCode::ULong => int!(c_ulong, UInt),
            TypeCode::I64 => int!(i64, Int),
            TypeCode::U64 => int!(u64, UInt),
            TypeCode::Float => Value::Float(src.cast::<f32>().read()),
            TypeCode::Double => Value::Double(src.cast::<f64>().read()),
            TypeCode::Str => load_str(src.cast::<*const c_char>().read()),
            TypeCode::Ptr | TypeCode::ConstPtr | TypeCode::Object | TypeCode::Callback => {
                Value::Ptr(src.cast::<*mut c_void>().read())
            }
        }
    }
}

/// Copies a C string (`None` for NULL); kept out of line, off the scalar hot path.
///
/// # Safety
/// `s` must be NULL or point to a NUL-terminated string.
#[inline(never)]
pub(crate) unsafe fn load_str(s: *const c_char) -> Value {
    if s.is_null() {
        Value::None
    } else {
        // SAFETY: forwarded from the caller.
        Value::Str(unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned())
    }
}

/// Stack storage for the NUL-terminated copies of `&str` arguments of one call.
pub(crate) struct Arena {
    base: *mut u8,
    used: usize,
    /// Heap copies of strings that did not fit; `None` (one word) until the first.
    spill: Option<Vec<Vec<u8>>>,
}

impl Arena {
    /// An empty arena over `ARENA_BYTES` bytes at `base`.
    #[inline(always)]
    pub(crate) fn new(base: *mut u8) -> Arena {
        Arena {
            base,
            used: 0,
            spill: None,
        }
    }

    /// Copies `s` with a trailing NUL; the pointer stays valid while the arena lives.
    /// `None` if `s` contains a NUL byte (C would see a shorter string).
    #[inline(always)]
    pub(crate) fn c_str(&mut self, s: &str) -> Option<*mut c_void> {
        let s = s.as_bytes();
        let need = s.len() + 1;
        if ARENA_BYTES - self.used < need {
            return self.spill(s);
        }
        // SAFETY: `base` points to ARENA_BYTES writable bytes (see `invoke`), of which
        // `used..used + need` are free; the source is a distinct Rust string.
        unsafe {
            let dst = self.base.add(self.used);
            if !copy_checked(s, dst) {
                return None;
            }
            dst.add(s.len()).write(0);
            self.used += need;
            Some(dst.cast())
        }
    }

    /// Copies a string that does not fit the stack storage to the heap.
    #[cold]
    #[inline(never)]
    fn spill(&mut self, s: &[u8]) -> Option<*mut c_void> {
        if s.contains(&0) {
            return None;
        }
        let mut copy = Vec::with_capacity(s.len() + 1);
        copy.extend_from_slice(s);
        copy.push(0);
        let p = copy.as_mut_ptr().cast();
        // Moving the Vec into `spill` does not move its heap buffer.
        self.spill.get_or_insert_with(Vec::new).push(copy);
        Some(p)
    }
}

/// Copies `src` to `dst` a word at a time, checking for NUL bytes on the way (one pass
/// instead of a scan and a `memcpy` call: most C strings are short). The tail is one more
/// word (or half-word) that overlaps what was already copied, not a byte loop. Returns
/// whether `src` is free of NULs; `dst` is partly written either way.
///
/// # Safety
/// `dst` must be valid for `src.len()` bytes of writes.
#[inline(always)]
unsafe fn copy_checked(src: &[u8], dst: *mut u8) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_nul = |w: u64| w.wrapping_sub(LO) & !w & HI != 0;
    let len = src.len();
    let p = src.as_ptr();
    // SAFETY: every read is of bytes `at..at + 8` (or `+ 4`) with `at + 8 <= len` (or
    // `at + 4 <= len`), inside `src`; every write is to the same offsets of `dst`, valid for
    // `len` bytes by the caller's guarantee. Unaligned accesses are used throughout.
    unsafe {
        if len >= 8 {
            let mut at = 0;
            while at + 8 <= len {
                let word = p.add(at).cast::<u64>().read_unaligned();
                if has_nul(word) {
                    return false;
                }
                dst.add(at).cast::<u64>().write_unaligned(word);
                at += 8;
            }
            if at < len {
                let at = len - 8;
                let word = p.add(at).cast::<u64>().read_unaligned();
                if has_nul(word) {
                    return false;
                }
                dst.add(at).cast::<u64>().write_unaligned(word);
            }
            true
        } else if len >= 4 {
            let has_nul32 = |w: u32| w.wrapping_sub(LO as u32) & !w & HI as u32 != 0;
            let head = p.cast::<u32>().read_unaligned();
            let tail = p.add(len - 4).cast::<u32>().read_unaligned();
            if has_nul32(head) || has_nul32(tail) {
                return false;
            }
            dst.cast::<u32>().write_unaligned(head);
            dst.add(len - 4).cast::<u32>().write_unaligned(tail);
            true
        } else {
            for at in 0..len {
                let b = *p.add(at);
                if b == 0 {
                    return false;
                }
                dst.add(at).write(b);
            }
            true
        }
    }
}

/// How [`marshal`] converts arguments, chosen once per signature when it is declared.
///
/// When every argument slot is of one class, the argument kind that fits that class
/// without any conversion is stored with one tag check; any other kind (and every
/// argument of a [`Plan::Generic`] signature) takes the general conversion, so the
/// behaviour is the same whichever plan is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Mixed slots: the general conversion for every argument.
    Generic,
    /// Every slot is an integer code: `Arg::Int`/`Arg::UInt` bits go straight into the
    /// slot, as [`write_bits`] does on a little-endian machine (only chosen there).
    Integers,
    /// Every slot is `d`: `Arg::F64` goes straight into the slot.
    Doubles,
    /// Every slot is a data pointer (`p P s O`, not `C`): `Arg::Ptr` goes straight into
    /// the slot, `Arg::CStr` too unless the slot is a writable `p`, `Arg::Str` straight to
    /// the arena.
    Pointers,
}

impl Plan {
    /// The plan for argument codes `codes`.
    pub(crate) fn for_codes(codes: &[TypeCode]) -> Plan {
        if cfg!(target_endian = "little") && codes.iter().all(|c| c.is_integer()) {
            Plan::Integers
        } else if codes.iter().all(|&c| c == TypeCode::Double) {
            Plan::Doubles
        } else if codes
            .iter()
            .all(|&c| c.is_pointer() && c != TypeCode::Callback)
        {
            Plan::Pointers
        } else {
            Plan::Generic
        }
    }
}

/// Converts every argument into its slot and points `ptrs[i]` at slot `i`.
///
/// # Safety
/// `slots` and `ptrs` must be valid for `codes.len()` writes; `args.len() == codes.len()`;
/// `plan` must be `Plan::for_codes(codes)`.
#[inline(always)]
unsafe fn marshal(
    name: &str,
    codes: &[TypeCode],
    plan: Plan,
    args: &[Arg<'_>],
    slots: *mut Slot,
    ptrs: *mut *mut c_void,
    arena: &mut Arena,
) -> Result<()> {
    for (index, (&code, arg)) in codes.iter().zip(args).enumerate() {
        // SAFETY: `index < codes.len()`, within both arrays by the caller's guarantee.
        let slot = unsafe { slots.add(index) }.cast::<c_void>();
        // The plan's own kind first: one tag check and a store (see `Plan`).
        // SAFETY: as above; a slot is 8 bytes, 8-aligned, and the plan says what every
        // slot's code is.
        let done = unsafe {
            match (plan, arg) {
                (Plan::Integers, &Arg::Int(v)) => {
                    slot.cast::<u64>().write(v as u64);
                    true
                }
                (Plan::Integers, &Arg::UInt(v)) => {
                    slot.cast::<u64>().write(v);
                    true
                }
                (Plan::Doubles, &Arg::F64(v)) => {
                    slot.cast::<f64>().write(v);
                    true
                }
                (Plan::Pointers, &Arg::Ptr(p)) => {
                    slot.cast::<*mut c_void>().write(p);
                    true
                }
                (Plan::Pointers, &Arg::CStr(s)) if code != TypeCode::Ptr => {
                    slot.cast::<*const c_char>().write(s.as_ptr());
                    true
                }
                // The same copy and error as the general path below, without first
                // trying the scalar kinds.
                (Plan::Pointers, &Arg::Str(s)) => {
                    let copy = arena
                        .c_str(s)
                        .ok_or_else(|| nul_in_string(name, index, s))?;
                    slot.cast::<*mut c_void>().write(copy);
                    true
                }
                _ => false,
            }
        };
        if done {
            // SAFETY: as above.
            unsafe { ptrs.add(index).write(slot) };
            continue;
        }
        // Scalars first: a `&str` is the one kind `write` leaves to the arena, so strings
        // take the second branch and everything else pays no check for them.
        // SAFETY: as above; a slot is 8 bytes, 8-aligned, enough for every code.
        if let Err(expected) = unsafe { write::<{ dest::SLOT }>(code, arg, slot) } {
            match arg {
                Arg::Str(s) if code.is_pointer() && code != TypeCode::Callback => {
                    let copy = arena
                        .c_str(s)
                        .ok_or_else(|| nul_in_string(name, index, s))?;
                    // SAFETY: as above; a pointer slot holds a pointer.
                    unsafe { slot.cast::<*mut c_void>().write(copy) };
                }
                _ => return Err(arg_type(name, index, code, expected, arg)),
            }
        }
        // SAFETY: as above.
        unsafe { ptrs.add(index).write(slot) };
    }
    Ok(())
}

#[cold]
pub(crate) fn arg_type(
    name: &str,
    index: usize,
    code: TypeCode,
    expected: &'static str,
    arg: &Arg<'_>,
) -> Error {
    Error::ArgType {
        function: name.to_owned(),
        index,
        code: code.as_char(),
        ctype: code.c_name(),
        expected,
        got: arg.describe(),
    }
}

#[cold]
pub(crate) fn nul_in_string(name: &str, index: usize, s: &str) -> Error {
    Error::NulInString {
        function: name.to_owned(),
        index,
        offset: s.bytes().position(|b| b == 0).unwrap_or_default(),
    }
}

#[cold]
pub(crate) fn arg_count(name: &str, expected: usize, got: usize) -> Error {
    Error::ArgCount {
        function: name.to_owned(),
        expected,
        got,
    }
}

/// A prepared call: everything `invoke` needs besides the arguments.
#[derive(Clone, Copy)]
pub(crate) struct Target<'t> {
    pub cif: *mut ffi_cif,
    pub fun: *const c_void,
    pub name: &'t str,
    pub codes: &'t [TypeCode],
    /// `Plan::for_codes(codes)`.
    pub plan: Plan,
    pub ret: TypeCode,
}

/// Converts `args`, calls through libffi, converts the result. With `ERRNO`, errno is
/// cleared just before `ffi_call` and read right after it, before anything else runs, and
/// stored in `errno`.
///
/// This is the single place every dynamic call goes through, so a faster strategy for
/// particular signatures (e.g. direct calls for known shapes) can be chosen here without
/// any change to the public API. It is inlined into the caller so that the returned
/// `Result<Value>` stays in registers; calls with more than [`INLINE_ARGS`] arguments and
/// argument-count errors take the out-of-line [`invoke_spilled`].
///
/// # Safety
/// `target.cif` must be prepared for `target.codes` and `target.ret`, and `target.fun`
/// must be a function with that C signature.
#[inline(always)]
pub(crate) unsafe fn invoke<const ERRNO: bool>(
    target: &Target<'_>,
    args: &[Arg<'_>],
    errno: &mut c_int,
) -> Result<Value> {
    let n = target.codes.len();
    if args.len() != n || n > INLINE_ARGS {
        // The target goes by value and errno comes back as a value: nothing of this
        // cold call's needs escapes to memory on the hot path.
        // SAFETY: forwarded from the caller.
        let (result, captured) = unsafe { invoke_spilled::<ERRNO>(*target, args) };
        if ERRNO {
            *errno = captured;
        }
        return result;
    }
    let mut storage = MaybeUninit::<[u8; ARENA_BYTES]>::uninit();
    let mut arena = Arena::new(storage.as_mut_ptr().cast());
    let mut slots = MaybeUninit::<[Slot; INLINE_ARGS]>::uninit();
    let mut ptrs = MaybeUninit::<[*mut c_void; INLINE_ARGS]>::uninit();
    let ptrs = ptrs.as_mut_ptr().cast::<*mut c_void>();
    // SAFETY: both arrays hold INLINE_ARGS >= n elements; the argument count was checked.
    unsafe {
        marshal(
            target.name,
            target.codes,
            target.plan,
            args,
            slots.as_mut_ptr().cast(),
            ptrs,
            &mut arena,
        )?
    };
    let mut ret = MaybeUninit::<[u64; 2]>::uninit();
    let ret_ptr = ret.as_mut_ptr().cast::<c_void>();
    // SAFETY: every slot is initialised and `ptrs` points at them; the caller vouches for
    // the cif and the function.
    let captured = unsafe { ffi_call::<ERRNO>(target, ret_ptr, ptrs) };
    if ERRNO {
        *errno = captured;
    }
    callback::leave_call(target.name)?;
    // SAFETY: libffi wrote a value of the return type (an ffi_arg for narrow integers) to
    // `ret`, which is 16 bytes and 8-aligned; nothing is read for void.
    Ok(unsafe { load::<true>(target.ret, ret_ptr) })
}

/// [`invoke`] for a wrong argument count (the error) or more than [`INLINE_ARGS`]
/// arguments (slots on the heap).
///
/// # Safety
/// As [`invoke`].
#[cold]
#[inline(never)]
unsafe fn invoke_spilled<const ERRNO: bool>(
    target: Target<'_>,
    args: &[Arg<'_>],
) -> (Result<Value>, c_int) {
    let n = target.codes.len();
    if args.len() != n {
        return (Err(arg_count(target.name, n, args.len())), 0);
    }
    let mut storage = MaybeUninit::<[u8; ARENA_BYTES]>::uninit();
    let mut arena = Arena::new(storage.as_mut_ptr().cast());
    let mut slots: Vec<Slot> = vec![0; n];
    let mut ptrs: Vec<*mut c_void> = vec![ptr::null_mut(); n];
    let mut ret = MaybeUninit::<[u64; 2]>::uninit();
    let ret_ptr = ret.as_mut_ptr().cast::<c_void>();
    // SAFETY: heap arrays of exactly n elements.
    let marshalled = unsafe {
        marshal(
            target.name,
            target.codes,
            target.plan,
            args,
            slots.as_mut_ptr(),
            ptrs.as_mut_ptr(),
            &mut arena,
        )
    };
    if let Err(e) = marshalled {
        return (Err(e), 0);
    }
    // SAFETY: as in `invoke`.
    let errno = unsafe { ffi_call::<ERRNO>(&target, ret_ptr, ptrs.as_mut_ptr()) };
    if let Err(e) = callback::leave_call(target.name) {
        return (Err(e), errno);
    }
    // SAFETY: as in `invoke`.
    (Ok(unsafe { load::<true>(target.ret, ret_ptr) }), errno)
}

/// Calls `ffi_call` inside [`callback::enter_call`]; the caller ends the call with
/// [`callback::leave_call`] once errno is read. Returns errno with `ERRNO`, else 0.
///
/// # Safety
/// See [`invoke`]; `ptrs` must point at initialised slots, one per argument.
#[inline(always)]
unsafe fn ffi_call<const ERRNO: bool>(
    target: &Target<'_>,
    ret: *mut c_void,
    ptrs: *mut *mut c_void,
) -> c_int {
    callback::enter_call();
    if ERRNO {
        errno::set_errno(0);
    }
    // SAFETY: `fun` is a non-NULL code address, so transmuting it to a function pointer is
    // valid; the caller vouches that it matches the cif.
    unsafe {
        let fun = std::mem::transmute::<*const c_void, unsafe extern "C" fn()>(target.fun);
        raw::ffi_call(target.cif, Some(fun), ret, ptrs);
    }
    if ERRNO {
        errno::errno()
    } else {
        0
    }
}

/// An owned libffi call interface together with the argument type array it points to.
pub(crate) struct Cif {
    raw: ffi_cif,
    // Referenced by `raw.arg_types`; a boxed slice keeps its address when `Cif` moves.
    _types: Box<[*mut ffi_type]>,
}

impl Cif {
    /// Prepares a call interface (`ffi_prep_cif`, or `ffi_prep_cif_var` when `fixed` is
    /// `Some(number of fixed arguments)`).
    pub(crate) fn new(
        ret: TypeCode,
        args: &[TypeCode],
        fixed: Option<usize>,
    ) -> Result<Cif, String> {
        let mut types: Box<[*mut ffi_type]> = args.iter().map(|c| c.ffi_type()).collect();
        let mut cif = ffi_cif::default();
        // SAFETY: `types` holds `args.len()` valid libffi type pointers and is kept alive
        // (and in place) inside the returned `Cif` together with `cif`.
        let status = unsafe { prepare(&mut cif, ret, types.as_mut_ptr(), args.len(), fixed) };
        status.map(|()| Cif {
            raw: cif,
            _types: types,
        })
    }

    /// The raw cif, for `ffi_call` and closures (libffi does not write through it there).
    pub(crate) fn as_ptr(&self) -> *mut ffi_cif {
        &self.raw as *const ffi_cif as *mut ffi_cif
    }
}

/// Runs `ffi_prep_cif` or `ffi_prep_cif_var`, turning a bad status into its name.
///
/// # Safety
/// `types` must point to `n` valid type pointers that outlive every use of `cif`.
pub(crate) unsafe fn prepare(
    cif: *mut ffi_cif,
    ret: TypeCode,
    types: *mut *mut ffi_type,
    n: usize,
    fixed: Option<usize>,
) -> Result<(), String> {
    let abi = libffi::low::ffi_abi_FFI_DEFAULT_ABI;
    // SAFETY: forwarded from the caller; the return type is a predeclared libffi type.
    let status = unsafe {
        match fixed {
            Some(fixed) => libffi::low::prep_cif_var(cif, abi, fixed, n, ret.ffi_type(), types),
            None => libffi::low::prep_cif(cif, abi, n, ret.ffi_type(), types),
        }
    };
    status.map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_checked_copies_every_length_and_finds_every_nul() {
        let text: Vec<u8> = (1..=40u8).collect();
        for len in 0..text.len() {
            let mut dst = [0xAAu8; 40];
            // SAFETY: `dst` holds 40 bytes >= len.
            assert!(unsafe { copy_checked(&text[..len], dst.as_mut_ptr()) });
            assert_eq!(&dst[..len], &text[..len]);
            for nul in 0..len {
                let mut with_nul = text[..len].to_vec();
                with_nul[nul] = 0;
                // SAFETY: as above.
                assert!(
                    !unsafe { copy_checked(&with_nul, dst.as_mut_ptr()) },
                    "len {len} nul {nul}"
                );
            }
        }
    }

    #[test]
    fn the_plan_follows_the_argument_codes() {
        use TypeCode::*;
        let integers = if cfg!(target_endian = "little") {
            Plan::Integers
        } else {
            Plan::Generic
        };
        assert_eq!(Plan::for_codes(&[Int, Int]), integers);
        assert_eq!(Plan::for_codes(&[I8, U64, Long, ULong]), integers);
        assert_eq!(Plan::for_codes(&[Double, Double]), Plan::Doubles);
        assert_eq!(
            Plan::for_codes(&[Str, Ptr, ConstPtr, Object]),
            Plan::Pointers
        );
        assert_eq!(Plan::for_codes(&[Ptr, Callback]), Plan::Generic);
        assert_eq!(Plan::for_codes(&[Float, Float]), Plan::Generic);
        assert_eq!(Plan::for_codes(&[Int, Double]), Plan::Generic);
        assert_eq!(Plan::for_codes(&[Ptr, ULong]), Plan::Generic);
    }

    #[test]
    fn the_arena_fills_then_spills() {
        let mut storage = [0u8; ARENA_BYTES];
        let mut arena = Arena::new(storage.as_mut_ptr());
        let a = arena.c_str(&"a".repeat(ARENA_BYTES - 1)).unwrap();
        assert_eq!(a.cast::<u8>(), storage.as_mut_ptr());
        let b = arena.c_str("b").unwrap();
        assert!(arena.spill.as_ref().is_some_and(|s| s.len() == 1));
        // SAFETY: both point to NUL-terminated copies that live as long as `arena`.
        unsafe {
            assert_eq!(CStr::from_ptr(b.cast()).to_bytes(), b"b");
            assert_eq!(CStr::from_ptr(a.cast()).to_bytes().len(), ARENA_BYTES - 1);
        }
        assert!(arena.c_str("x\0y").is_none());
    }
}
