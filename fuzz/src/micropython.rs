//! MicroPython's `ffi` conversions (ports/unix/modffi.c, see
//! shared/notes/micropython-ffi-semantics.md), written as plainly as possible so that
//! ffi-core's optimised conversions can be checked against them.
//!
//! Where MicroPython crashes (`True`/`False` in an integer slot) the model says what
//! ffi-core documents instead (1/0).

use ffi_core::{TypeCode, Value};

/// A value on MicroPython's side of a call.
#[derive(Clone, Copy, Debug, PartialEq, arbitrary::Arbitrary)]
pub enum PyValue {
    /// `None`.
    None,
    /// A Python `int` that fits 64 bits, signed.
    Int(i64),
    /// A Python `int` above `i64::MAX` (MicroPython's mpz).
    BigInt(u64),
    /// `True`/`False`.
    Bool(bool),
    /// A Python `float` (a C double on the unix port).
    Float(f64),
}

/// The width in bits of integer code `code` on this machine.
fn width(code: TypeCode) -> u32 {
    8 * code.size() as u32
}

/// Keeps the low `bits` bits of `v`, then sign-extends them (signed codes) or not.
fn truncate(v: u64, bits: u32, signed: bool) -> u64 {
    if bits >= 64 {
        return v;
    }
    let low = v & ((1u64 << bits) - 1);
    if signed && low >> (bits - 1) == 1 {
        low | !((1u64 << bits) - 1)
    } else {
        low
    }
}

/// `mp_obj_get_float`: a Python number as a C double (mpz digits are 16 bits, accumulated
/// most significant first; for a 64-bit magnitude that rounds once, as a cast does).
fn as_double(v: PyValue) -> Option<f64> {
    Some(match v {
        PyValue::Int(i) => i as f64,
        PyValue::BigInt(u) => {
            let mut val = 0f64;
            for shift in [48, 32, 16, 0] {
                val = val * 65536.0 + ((u >> shift) & 0xffff) as f64;
            }
            val
        }
        PyValue::Bool(b) => f64::from(u8::from(b)),
        PyValue::Float(f) => f,
        PyValue::None => return None,
    })
}

/// What C receives in slot `code` for `v`, then hands back unchanged (an identity function
/// declared `code` -> `code`), as the Python value MicroPython returns; `None` for a
/// `TypeError` (MicroPython's "don't know how to pass object"), e.g. a float in an integer
/// slot or `None` in a float slot.
pub fn round_trip(code: TypeCode, v: PyValue) -> Option<Value> {
    if code.is_float() {
        // `f`: the double is narrowed to float (`mp_obj_get_float_to_f`), a second rounding.
        let d = as_double(v)?;
        return Some(if code == TypeCode::Float {
            Value::Float(d as f32)
        } else {
            Value::Double(d)
        });
    }
    let bits = match v {
        PyValue::None => 0,
        PyValue::Int(i) => i as u64,
        PyValue::BigInt(u) => u,
        PyValue::Bool(b) => u64::from(b),
        PyValue::Float(_) => return None,
    };
    if code.is_pointer() {
        return Some(Value::Ptr(bits as usize as *mut std::ffi::c_void));
    }
    let t = truncate(bits, width(code), code.is_signed());
    Some(if code.is_signed() {
        Value::Int(t as i64)
    } else {
        Value::UInt(t)
    })
}

/// Whether two values are the same, floats by bit pattern (NaN equals NaN).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}
