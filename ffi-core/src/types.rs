//! The 18 type codes of MicroPython's `ffi` module, parsed and validated into [`TypeCode`].
//!
//! Each code maps to a C type, a libffi type, a width and a signedness. This module is the
//! single place that knows those facts; every conversion in the crate asks it.

use std::ffi::{c_long, c_void};
use std::fmt;
use std::ptr::addr_of_mut;

use libffi::low::{ffi_type, types};

/// One of MicroPython's one-character type codes (Python `struct`-module style).
///
/// | code | C type | Rust variant |
/// |---|---|---|
/// | `v` | `void` (return only) | [`Void`](TypeCode::Void) |
/// | `b` `B` | `int8_t` / `uint8_t` | [`I8`](TypeCode::I8) / [`U8`](TypeCode::U8) |
/// | `h` `H` | `int16_t` / `uint16_t` | [`I16`](TypeCode::I16) / [`U16`](TypeCode::U16) |
/// | `i` `I` | `int` / `unsigned int` | [`Int`](TypeCode::Int) / [`UInt`](TypeCode::UInt) |
/// | `l` `L` | `long` / `unsigned long` | [`Long`](TypeCode::Long) / [`ULong`](TypeCode::ULong) |
/// | `q` `Q` | `int64_t` / `uint64_t` | [`I64`](TypeCode::I64) / [`U64`](TypeCode::U64) |
/// | `f` `d` | `float` / `double` | [`Float`](TypeCode::Float) / [`Double`](TypeCode::Double) |
/// | `p` | `void *` (writable memory) | [`Ptr`](TypeCode::Ptr) |
/// | `P` | `const void *` (read-only memory) | [`ConstPtr`](TypeCode::ConstPtr) |
/// | `s` | `char *` (argument: NUL-terminated string; return: copied string) | [`Str`](TypeCode::Str) |
/// | `O` | an opaque object pointer, passed as is | [`Object`](TypeCode::Object) |
/// | `C` | a function pointer (callback) | [`Callback`](TypeCode::Callback) |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TypeCode {
    /// `v`: `void`; valid only as a return code.
    Void,
    /// `b`: `int8_t`.
    I8,
    /// `B`: `uint8_t`.
    U8,
    /// `h`: `int16_t`.
    I16,
    /// `H`: `uint16_t`.
    U16,
    /// `i`: `int`.
    Int,
    /// `I`: `unsigned int`.
    UInt,
    /// `l`: `long` (32 bits on armv7, 64 on aarch64 and x86-64).
    Long,
    /// `L`: `unsigned long`.
    ULong,
    /// `q`: `int64_t`.
    I64,
    /// `Q`: `uint64_t`.
    U64,
    /// `f`: `float`.
    Float,
    /// `d`: `double`.
    Double,
    /// `p`: `void *`, memory C may write.
    Ptr,
    /// `P`: `const void *`, memory C only reads.
    ConstPtr,
    /// `s`: `char *`; an argument is passed NUL-terminated, a return value is copied.
    Str,
    /// `O`: an opaque object pointer passed as is (MicroPython's `mp_obj_t`).
    Object,
    /// `C`: a function pointer, typically a [`Callback`](crate::Callback).
    Callback,
}

/// Every valid code character, in the order of the table above (used in error messages).
pub const ALL_CODES: &str = "vbBhHiIlLqQfdpPsOC";

impl TypeCode {
    /// Parses one code character; `None` if `c` is not one of [`ALL_CODES`].
    pub const fn from_char(c: char) -> Option<TypeCode> {
        Some(match c {
            'v' => TypeCode::Void,
            'b' => TypeCode::I8,
            'B' => TypeCode::U8,
            'h' => TypeCode::I16,
            'H' => TypeCode::U16,
            'i' => TypeCode::Int,
            'I' => TypeCode::UInt,
            'l' => TypeCode::Long,
            'L' => TypeCode::ULong,
            'q' => TypeCode::I64,
            'Q' => TypeCode::U64,
            'f' => TypeCode::Float,
            'd' => TypeCode::Double,
            'p' => TypeCode::Ptr,
            'P' => TypeCode::ConstPtr,
            's' => TypeCode::Str,
            'O' => TypeCode::Object,
            'C' => TypeCode::Callback,
            _ => return None,
        })
    }

    /// The code character, e.g. `'i'` for [`TypeCode::Int`].
    pub const fn as_char(self) -> char {
        match self {
            TypeCode::Void => 'v',
            TypeCode::I8 => 'b',
            TypeCode::U8 => 'B',
            TypeCode::I16 => 'h',
            TypeCode::U16 => 'H',
            TypeCode::Int => 'i',
            TypeCode::UInt => 'I',
            TypeCode::Long => 'l',
            TypeCode::ULong => 'L',
            TypeCode::I64 => 'q',
            TypeCode::U64 => 'Q',
            TypeCode::Float => 'f',
            TypeCode::Double => 'd',
            TypeCode::Ptr => 'p',
            TypeCode::ConstPtr => 'P',
            TypeCode::Str => 's',
            TypeCode::Object => 'O',
            TypeCode::Callback => 'C',
        }
    }

    /// The C type the code stands for, e.g. `"unsigned long"`.
    pub const fn c_name(self) -> &'static str {
        match self {
            TypeCode::Void => "void",
            TypeCode::I8 => "int8_t",
            TypeCode::U8 => "uint8_t",
            TypeCode::I16 => "int16_t",
            TypeCode::U16 => "uint16_t",
            TypeCode::Int => "int",
            TypeCode::UInt => "unsigned int",
            TypeCode::Long => "long",
            TypeCode::ULong => "unsigned long",
            TypeCode::I64 => "int64_t",
            TypeCode::U64 => "uint64_t",
            TypeCode::Float => "float",
            TypeCode::Double => "double",
            TypeCode::Ptr => "void *",
            TypeCode::ConstPtr => "const void *",
            TypeCode::Str => "char *",
            TypeCode::Object => "object pointer",
            TypeCode::Callback => "function pointer",
        }
    }

    /// Size of the C type in bytes (0 for `void`).
    pub const fn size(self) -> usize {
        match self {
            TypeCode::Void => 0,
            TypeCode::I8 | TypeCode::U8 => 1,
            TypeCode::I16 | TypeCode::U16 => 2,
            TypeCode::Int | TypeCode::UInt | TypeCode::Float => 4,
            TypeCode::Long | TypeCode::ULong => std::mem::size_of::<c_long>(),
            TypeCode::I64 | TypeCode::U64 | TypeCode::Double => 8,
            TypeCode::Ptr
            | TypeCode::ConstPtr
            | TypeCode::Str
            | TypeCode::Object
            | TypeCode::Callback => std::mem::size_of::<*mut c_void>(),
        }
    }

    /// Whether the code is a signed integer (`b h i l q`).
    pub const fn is_signed(self) -> bool {
        matches!(
            self,
            TypeCode::I8 | TypeCode::I16 | TypeCode::Int | TypeCode::Long | TypeCode::I64
        )
    }

    /// Whether the code is an integer, signed or unsigned (`b B h H i I l L q Q`).
    pub const fn is_integer(self) -> bool {
        matches!(
            self,
            TypeCode::I8
                | TypeCode::U8
                | TypeCode::I16
                | TypeCode::U16
                | TypeCode::Int
                | TypeCode::UInt
                | TypeCode::Long
                | TypeCode::ULong
                | TypeCode::I64
                | TypeCode::U64
        )
    }

    /// Whether the code is a floating-point type (`f d`).
    pub const fn is_float(self) -> bool {
        matches!(self, TypeCode::Float | TypeCode::Double)
    }

    /// Whether the code is passed as a pointer (`p P s O C`).
    pub const fn is_pointer(self) -> bool {
        matches!(
            self,
            TypeCode::Ptr
                | TypeCode::ConstPtr
                | TypeCode::Str
                | TypeCode::Object
                | TypeCode::Callback
        )
    }

    /// The libffi type describing the code, one of libffi's predeclared `ffi_type` objects.
    pub fn ffi_type(self) -> *mut ffi_type {
        // Only the addresses of libffi's predeclared type objects are taken (no reference to
        // the `static mut`s is created); libffi reads them through these pointers.
        {
            match self {
                TypeCode::Void => addr_of_mut!(types::void),
                TypeCode::I8 => addr_of_mut!(types::sint8),
                TypeCode::U8 => addr_of_mut!(types::uint8),
                TypeCode::I16 => addr_of_mut!(types::sint16),
                TypeCode::U16 => addr_of_mut!(types::uint16),
                TypeCode::Int => addr_of_mut!(types::sint32),
                TypeCode::UInt => addr_of_mut!(types::uint32),
                TypeCode::Long if std::mem::size_of::<c_long>() == 8 => addr_of_mut!(types::sint64),
                TypeCode::Long => addr_of_mut!(types::sint32),
                TypeCode::ULong if std::mem::size_of::<c_long>() == 8 => {
                    addr_of_mut!(types::uint64)
                }
                TypeCode::ULong => addr_of_mut!(types::uint32),
                TypeCode::I64 => addr_of_mut!(types::sint64),
                TypeCode::U64 => addr_of_mut!(types::uint64),
                TypeCode::Float => addr_of_mut!(types::float),
                TypeCode::Double => addr_of_mut!(types::double),
                TypeCode::Ptr
                | TypeCode::ConstPtr
                | TypeCode::Str
                | TypeCode::Object
                | TypeCode::Callback => addr_of_mut!(types::pointer),
            }
        }
    }

    /// Truncates the 64-bit pattern `bits` to this integer code's width, then sign- or
    /// zero-extends it back to 64 bits, exactly as MicroPython stores an int in a slot.
    ///
    /// Non-integer codes return `bits` unchanged.
    // `long` is 32 bits on armv7: the casts through c_long/c_ulong are real there.
    #[allow(clippy::unnecessary_cast)]
    #[inline(always)]
    pub const fn truncate(self, bits: u64) -> u64 {
        match self {
            TypeCode::I8 => bits as i8 as i64 as u64,
            TypeCode::U8 => bits as u8 as u64,
            TypeCode::I16 => bits as i16 as i64 as u64,
            TypeCode::U16 => bits as u16 as u64,
            TypeCode::Int => bits as i32 as i64 as u64,
            TypeCode::UInt => bits as u32 as u64,
            TypeCode::Long => bits as c_long as i64 as u64,
            TypeCode::ULong => bits as std::ffi::c_ulong as u64,
            _ => bits,
        }
    }
}

impl fmt::Display for TypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' ({})", self.as_char(), self.c_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        assert_eq!(ALL_CODES.chars().count(), 18);
        for c in ALL_CODES.chars() {
            let code = TypeCode::from_char(c).unwrap();
            assert_eq!(code.as_char(), c);
        }
        assert_eq!(TypeCode::from_char('x'), None);
    }

    #[test]
    fn truncation_matches_c_casts() {
        assert_eq!(TypeCode::I8.truncate(0x80) as i64, -0x80);
        assert_eq!(TypeCode::U8.truncate(0x1ff), 0xff);
        assert_eq!(TypeCode::Int.truncate(0xffff_ffff) as i64, -1);
        assert_eq!(TypeCode::UInt.truncate(u64::MAX), 0xffff_ffff);
        assert_eq!(TypeCode::U64.truncate(u64::MAX), u64::MAX);
    }
}
