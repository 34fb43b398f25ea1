//! Values crossing the boundary: [`Arg`] goes into a call, [`Value`] comes out.
//!
//! `Arg` borrows what it points to (strings, buffers, callbacks) for the duration of the
//! call, so a buffer cannot be freed while C uses it. Conversions per slot follow
//! MicroPython's rules; see [`crate`]'s documentation for the table.

use std::ffi::{c_void, CStr, CString};
use std::fmt;
use std::marker::PhantomData;

use crate::callback::Callback;

/// One argument of a call, converted into its C slot at call time.
///
/// Build it with `From`/`Into`: integers of every width, `bool`, `f32`/`f64`, `&str`
/// (copied and NUL-terminated), `&CStr` (passed as is), byte and typed slices (`&[u8]`,
/// `&mut [i32]`, ...), raw pointers, `&Callback`, and `Option<T>` (`None` is NULL / 0).
///
/// ```
/// use ffi_core::Arg;
/// let mut buf = [0u8; 16];
/// let args: [Arg; 4] = [42.into(), "text".into(), (&mut buf[..]).into(), Arg::Null];
/// # let _ = args;
/// ```
#[derive(Debug)]
#[non_exhaustive]
// An explicit one-byte tag: telling the kinds apart on the call path is one compare, where
// the default layout hides the tag in a niche of `Buffer` and decodes it with arithmetic.
#[repr(u8)]
pub enum Arg<'a> {
    /// A signed integer (any Rust signed integer converts to this).
    Int(i64),
    /// An unsigned integer (any Rust unsigned integer converts to this).
    UInt(u64),
    /// A bool: 1 or 0 in integer slots.
    Bool(bool),
    /// A `float`.
    F32(f32),
    /// A `double`.
    F64(f64),
    /// NULL in pointer slots, 0 in integer slots (MicroPython's `None`).
    Null,
    /// A Rust string, copied into a NUL-terminated C string for the call.
    Str(&'a str),
    /// A C string, passed without a copy (read-only: refused in `p` slots).
    CStr(&'a CStr),
    /// Borrowed memory: a byte or typed slice, read-only or writable. A writable `p` slot
    /// takes only writable buffers; read-only ones go in `P`, `s` or `O` slots.
    Buffer(Buffer<'a>),
    /// A raw pointer; what it points to is the caller's business.
    Ptr(*mut c_void),
    /// A callback, passed as its code pointer (borrowed, so the callback outlives the call).
    Callback(CallbackRef<'a>),
}

// SAFETY: an Arg only carries addresses and borrows: `Buffer` stands for a `&[T]`/`&mut [T]`
// (both `Send`), `Ptr` is an address the caller vouches for when passing it to C. It is not
// `Sync`: sharing one writable buffer between threads could let two C calls write it at once.
unsafe impl Send for Arg<'_> {}

/// Borrowed memory passed to C as a pointer to its first element.
///
/// Created from `&[T]` (read-only: refused in `p` slots, which C may write through) or
/// `&mut [T]` (writable) for any [`Plain`] `T`; the borrow lasts as long as the [`Arg`]
/// holding it.
#[derive(Debug)]
pub struct Buffer<'a> {
    ptr: *mut c_void,
    len: usize,
    writable: bool,
    _borrow: PhantomData<&'a mut [u8]>,
}

// SAFETY: a Buffer stands for a `&'a [T]` or `&'a mut [T]` of plain data, which are Send.
unsafe impl Send for Buffer<'_> {}

impl<'a> Buffer<'a> {
    /// A read-only buffer over `data`.
    pub fn new<T: Plain>(data: &'a [T]) -> Self {
        Buffer {
            ptr: data.as_ptr() as *mut c_void,
            len: std::mem::size_of_val(data),
            writable: false,
            _borrow: PhantomData,
        }
    }

    /// A writable buffer over `data`; C's writes land in it.
    pub fn new_mut<T: Plain>(data: &'a mut [T]) -> Self {
        Buffer {
            ptr: data.as_mut_ptr().cast(),
            len: std::mem::size_of_val(data),
            writable: true,
            _borrow: PhantomData,
        }
    }

    /// Address of the first byte.
    pub fn as_ptr(&self) -> *mut c_void {
        self.ptr
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether C may write to it (created from a `&mut` slice).
    pub fn is_writable(&self) -> bool {
        self.writable
    }
}

/// A borrowed [`Callback`]'s code pointer, as carried by [`Arg::Callback`].
#[derive(Clone, Copy, Debug)]
pub struct CallbackRef<'a> {
    code: *mut c_void,
    _borrow: PhantomData<&'a ()>,
}

// SAFETY: a code address of a Callback, which is itself Send + Sync.
unsafe impl Send for CallbackRef<'_> {}
// SAFETY: as above.
unsafe impl Sync for CallbackRef<'_> {}

impl CallbackRef<'_> {
    /// The C function pointer.
    pub fn code_ptr(&self) -> *mut c_void {
        self.code
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Plain old data that can be passed to C as a typed slice: every bit pattern is valid,
/// no padding, no pointers. Implemented for the primitive integers and floats.
pub trait Plain: sealed::Sealed + Copy + 'static {}

macro_rules! plain {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Plain for $t {}
    )*};
}
plain!(i8, u8, i16, u16, i32, u32, i64, u64, isize, usize, f32, f64);

macro_rules! arg_from_int {
    ($variant:ident: $($t:ty),*) => {$(
        impl From<$t> for Arg<'_> {
            #[inline]
            fn from(v: $t) -> Self {
                Arg::$variant(v as _)
            }
        }
    )*};
}
arg_from_int!(Int: i8, i16, i32, i64, isize);
arg_from_int!(UInt: u8, u16, u32, u64, usize);

impl From<bool> for Arg<'_> {
    #[inline]
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

impl From<f32> for Arg<'_> {
    #[inline]
    fn from(v: f32) -> Self {
        Arg::F32(v)
    }
}

impl From<f64> for Arg<'_> {
    #[inline]
    fn from(v: f64) -> Self {
        Arg::F64(v)
    }
}

impl From<()> for Arg<'_> {
    /// `()` is NULL / 0, like MicroPython's `None`.
    #[inline]
    fn from(_: ()) -> Self {
        Arg::Null
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    #[inline]
    fn from(v: &'a str) -> Self {
        Arg::Str(v)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    #[inline]
    fn from(v: &'a String) -> Self {
        Arg::Str(v)
    }
}

impl<'a> From<&'a CStr> for Arg<'a> {
    #[inline]
    fn from(v: &'a CStr) -> Self {
        Arg::CStr(v)
    }
}

impl<'a> From<&'a CString> for Arg<'a> {
    #[inline]
    fn from(v: &'a CString) -> Self {
        Arg::CStr(v)
    }
}

impl<'a, T: Plain> From<&'a [T]> for Arg<'a> {
    #[inline]
    fn from(v: &'a [T]) -> Self {
        Arg::Buffer(Buffer::new(v))
    }
}

impl<'a, T: Plain> From<&'a mut [T]> for Arg<'a> {
    #[inline]
    fn from(v: &'a mut [T]) -> Self {
        Arg::Buffer(Buffer::new_mut(v))
    }
}

impl<'a, T: Plain, const N: usize> From<&'a [T; N]> for Arg<'a> {
    #[inline]
    fn from(v: &'a [T; N]) -> Self {
        Arg::Buffer(Buffer::new(v))
    }
}

impl<'a, T: Plain, const N: usize> From<&'a mut [T; N]> for Arg<'a> {
    #[inline]
    fn from(v: &'a mut [T; N]) -> Self {
        Arg::Buffer(Buffer::new_mut(v))
    }
}

impl<'a, T: Plain> From<&'a Vec<T>> for Arg<'a> {
    #[inline]
    fn from(v: &'a Vec<T>) -> Self {
        Arg::Buffer(Buffer::new(v))
    }
}

impl<'a, T: Plain> From<&'a mut Vec<T>> for Arg<'a> {
    #[inline]
    fn from(v: &'a mut Vec<T>) -> Self {
        Arg::Buffer(Buffer::new_mut(v))
    }
}

impl<'a> From<Buffer<'a>> for Arg<'a> {
    #[inline]
    fn from(v: Buffer<'a>) -> Self {
        Arg::Buffer(v)
    }
}

impl<T> From<*mut T> for Arg<'_> {
    #[inline]
    fn from(v: *mut T) -> Self {
        Arg::Ptr(v.cast())
    }
}

impl<T> From<*const T> for Arg<'_> {
    #[inline]
    fn from(v: *const T) -> Self {
        Arg::Ptr(v as *mut c_void)
    }
}

impl<'a, 'f: 'a> From<&'a Callback<'f>> for Arg<'a> {
    #[inline]
    fn from(v: &'a Callback<'f>) -> Self {
        Arg::Callback(CallbackRef {
            code: v.code_ptr(),
            _borrow: PhantomData,
        })
    }
}

impl<'a, T: Into<Arg<'a>>> From<Option<T>> for Arg<'a> {
    /// `None` is NULL / 0.
    #[inline]
    fn from(v: Option<T>) -> Self {
        v.map_or(Arg::Null, Into::into)
    }
}

impl Arg<'_> {
    /// The bits of an [`Arg::Int`] or [`Arg::UInt`] (an `i64` as its two's complement),
    /// told apart from the other kinds with one compare of the tag: the register path's
    /// integer slots treat both alike.
    #[inline(always)]
    pub(crate) fn integer_bits(&self) -> Option<u64> {
        let base = (self as *const Self).cast::<u8>();
        // SAFETY: `Arg` is `repr(u8)`, so (per the reference's "primitive representation"
        // of enums with fields) its first byte is the tag, numbered in declaration order
        // (`Int` 0, `UInt` 1), and each variant is laid out as a `repr(C)` struct of the
        // tag and its field: the `i64`/`u64` of those two is at the offset of its
        // alignment. The read is within `self` and only made for those two tags.
        unsafe {
            if *base <= 1 {
                Some(base.add(std::mem::align_of::<u64>()).cast::<u64>().read())
            } else {
                None
            }
        }
    }

    /// Describes the argument for error messages, e.g. `a float (1.5)`.
    pub fn describe(&self) -> String {
        match self {
            Arg::Int(v) => format!("an integer ({v})"),
            Arg::UInt(v) => format!("an integer ({v})"),
            Arg::Bool(v) => format!("a bool ({v})"),
            Arg::F32(v) => format!("a float ({})", Value::Float(*v)),
            Arg::F64(v) => format!("a float ({})", Value::Double(*v)),
            Arg::Null => "None".to_owned(),
            Arg::Str(s) => format!("a string ({s:?})"),
            Arg::CStr(s) => format!("a C string ({s:?})"),
            Arg::Buffer(b) if b.writable => format!("a writable buffer of {} bytes", b.len),
            Arg::Buffer(b) => format!("a read-only buffer of {} bytes", b.len),
            Arg::Ptr(p) => format!("a pointer ({p:p})"),
            Arg::Callback(_) => "a callback".to_owned(),
        }
    }
}

/// A value coming back from C: a return value, a callback argument, a variable's content.
///
/// `Display` prints it the way MicroPython's `print()` does: integers in decimal, floats
/// as Python's `repr` (`4.0`, `1.5`, `1.23`, `1e+16`), strings as they are, `None` for
/// void and NULL strings, pointers as their address in decimal.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `v`, or a NULL `s` return.
    None,
    /// A signed integer (`b h i l q`), sign-extended.
    Int(i64),
    /// An unsigned integer (`B H I L Q`), zero-extended.
    UInt(u64),
    /// A `float` (`f`).
    Float(f32),
    /// A `double` (`d`).
    Double(f64),
    /// A pointer (`p P O C`).
    Ptr(*mut c_void),
    /// A C string (`s`), copied; invalid UTF-8 becomes U+FFFD.
    Str(String),
}

// SAFETY: `Value::Ptr` is an address only; nothing in `Value` dereferences it, and using it
// as a pointer takes `unsafe` code that answers for the target.
unsafe impl Send for Value {}
// SAFETY: as above; a `&Value` gives nothing but the address.
unsafe impl Sync for Value {}

impl Value {
    /// The value as an `i64`: integers (unsigned ones by bit pattern), bool-like, and
    /// pointer addresses; `None` for floats, strings and `None`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(v) => Some(v),
            Value::UInt(v) => Some(v as i64),
            Value::Ptr(p) => Some(p as usize as i64),
            _ => None,
        }
    }

    /// The value as a `u64`: integers (signed ones by bit pattern) and pointer addresses.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i64().map(|v| v as u64)
    }

    /// The value as an `f64`: floats, and integers converted.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(v) => Some(v.into()),
            Value::Double(v) => Some(v),
            Value::Int(v) => Some(v as f64),
            Value::UInt(v) => Some(v as f64),
            _ => None,
        }
    }

    /// The value as a pointer: pointers, integers taken as addresses, NULL for `None`.
    pub fn as_ptr(&self) -> Option<*mut c_void> {
        match *self {
            Value::Ptr(p) => Some(p),
            Value::None => Some(std::ptr::null_mut()),
            Value::Int(v) => Some(v as usize as *mut c_void),
            Value::UInt(v) => Some(v as usize as *mut c_void),
            _ => None,
        }
    }

    /// The string of an `s` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is [`Value::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// Borrows the value as an argument for another call (strings are passed as strings).
    pub fn as_arg(&self) -> Arg<'_> {
        match *self {
            Value::None => Arg::Null,
            Value::Int(v) => Arg::Int(v),
            Value::UInt(v) => Arg::UInt(v),
            Value::Float(v) => Arg::F32(v),
            Value::Double(v) => Arg::F64(v),
            Value::Ptr(p) => Arg::Ptr(p),
            Value::Str(ref s) => Arg::Str(s),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Int(v) => write!(f, "{v}"),
            Value::UInt(v) => write!(f, "{v}"),
            Value::Float(v) => write_py_float(f, &format!("{v:e}"), v.is_finite()),
            Value::Double(v) => write_py_float(f, &format!("{v:e}"), v.is_finite()),
            Value::Ptr(p) => write!(f, "{}", *p as usize),
            Value::Str(s) => f.write_str(s),
        }
    }
}

/// Lays out Rust's shortest round-trip digits (`{:e}`, e.g. `1.23e0`) the way Python's
/// `repr(float)` does: positional for exponents -4..16 with at least one decimal,
/// scientific otherwise with a signed two-digit exponent.
fn write_py_float(f: &mut fmt::Formatter<'_>, sci: &str, finite: bool) -> fmt::Result {
    if !finite {
        return f.write_str(match sci {
            "NaN" => "nan",
            "inf" => "inf",
            _ => "-inf",
        });
    }
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    f.write_str(sign)?;
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            write!(f, "0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            write!(
                f,
                "{}{}.0",
                digits,
                "0".repeat(point as usize - digits.len())
            )
        } else {
            let (int, frac) = digits.split_at(point as usize);
            write!(f, "{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let sign = if exp < 0 { '-' } else { '+' };
        if rest.is_empty() {
            write!(f, "{first}e{sign}{:02}", exp.abs())
        } else {
            write!(f, "{first}.{rest}e{sign}{:02}", exp.abs())
        }
    }
}

macro_rules! value_from {
    ($variant:ident: $($t:ty),*) => {$(
        impl From<$t> for Value {
            #[inline]
            fn from(v: $t) -> Self {
                Value::$variant(v as _)
            }
        }
    )*};
}
value_from!(Int: i8, i16, i32, i64, isize);
value_from!(UInt: u8, u16, u32, u64, usize);

impl From<bool> for Value {
    #[inline]
    fn from(v: bool) -> Self {
        Value::Int(v.into())
    }
}

impl From<f32> for Value {
    #[inline]
    fn from(v: f32) -> Self {
        Value::Float(v)
    }
}

impl From<f64> for Value {
    #[inline]
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}

impl From<()> for Value {
    #[inline]
    fn from(_: ()) -> Self {
        Value::None
    }
}

impl<T> From<*mut T> for Value {
    #[inline]
    fn from(v: *mut T) -> Self {
        Value::Ptr(v.cast())
    }
}

impl<T> From<*const T> for Value {
    #[inline]
    fn from(v: *const T) -> Self {
        Value::Ptr(v as *mut c_void)
    }
}

impl From<String> for Value {
    #[inline]
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python_repr() {
        let cases: &[(f64, &str)] = &[
            (4.0, "4.0"),
            (1.5, "1.5"),
            (1.23, "1.23"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (256.0, "256.0"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e100, "1.2345e+100"),
            (-2.5, "-2.5"),
            (1.7724538509055159, "1.7724538509055159"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (v, want) in cases {
            assert_eq!(Value::Double(*v).to_string(), *want, "{v:?}");
        }
        assert_eq!(Value::Float(1.23).to_string(), "1.23");
        assert_eq!(Value::Float(6.0).to_string(), "6.0");
    }

    #[test]
    fn other_values_print_like_micropython() {
        assert_eq!(Value::None.to_string(), "None");
        assert_eq!(Value::Int(-2).to_string(), "-2");
        assert_eq!(Value::UInt(u64::MAX).to_string(), "18446744073709551615");
        assert_eq!(Value::Str("abc".into()).to_string(), "abc");
        assert_eq!(Value::Ptr(16 as *mut c_void).to_string(), "16");
    }

    #[test]
    fn describe_names_the_kind() {
        assert_eq!(Arg::from(1.5).describe(), "a float (1.5)");
        assert_eq!(Arg::from("x").describe(), "a string (\"x\")");
        assert_eq!(
            Arg::from(&[1u8, 2][..]).describe(),
            "a read-only buffer of 2 bytes"
        );
        assert_eq!(Arg::from(None::<i32>).describe(), "None");
    }

    #[test]
    fn integer_bits_reads_int_and_uint_only() {
        assert_eq!(Arg::from(-2i64).integer_bits(), Some(-2i64 as u64));
        assert_eq!(Arg::from(i64::MIN).integer_bits(), Some(1 << 63));
        assert_eq!(Arg::from(u64::MAX).integer_bits(), Some(u64::MAX));
        assert_eq!(Arg::from(7u8).integer_bits(), Some(7));
        let text = String::from("x");
        let others = [
            Arg::from(true),
            Arg::from(1.0f32),
            Arg::from(1.0f64),
            Arg::Null,
            Arg::from(text.as_str()),
            Arg::from(c"x"),
            Arg::from(&[1u8][..]),
            Arg::Ptr(8 as *mut c_void),
        ];
        for arg in &others {
            assert_eq!(arg.integer_bits(), None, "{arg:?}");
        }
    }
}
