//! Differential: ffi-core's argument and return conversions against a plain model of
//! MicroPython's (`hwkit_fuzz::micropython`), through real libffi calls of identity
//! functions defined here, a real libffi closure (callback arguments and returns) and a
//! variable in memory of our own. No foreign code runs.
#![no_main]

use std::ffi::{c_int, c_long, c_uint, c_ulong, c_void};
use std::sync::Mutex;

use ffi_core::{Arg, Callback, Function, TypeCode, Value, Variable};
use hwkit_fuzz::micropython::{round_trip, same, PyValue};
use libfuzzer_sys::fuzz_target;

macro_rules! identity {
    ($($name:ident: $t:ty),* $(,)?) => {$(
        extern "C" fn $name(x: $t) -> $t {
            x
        }
    )*};
}
identity!(
    id_b: i8, id_bu: u8, id_h: i16, id_hu: u16, id_i: c_int, id_iu: c_uint,
    id_l: c_long, id_lu: c_ulong, id_q: i64, id_qu: u64, id_f: f32, id_d: f64,
    id_p: *mut c_void,
);

// The identity function for `code` and the return code it is declared with (pointers,
// strings included, come back as `p`: nothing here reads what they point to).
fn identity(code: TypeCode) -> (*const c_void, char) {
    let f: *const c_void = match code {
        TypeCode::I8 => id_b as *const c_void,
        TypeCode::U8 => id_bu as *const c_void,
        TypeCode::I16 => id_h as *const c_void,
        TypeCode::U16 => id_hu as *const c_void,
        TypeCode::Int => id_i as *const c_void,
        TypeCode::UInt => id_iu as *const c_void,
        TypeCode::Long => id_l as *const c_void,
        TypeCode::ULong => id_lu as *const c_void,
        TypeCode::I64 => id_q as *const c_void,
        TypeCode::U64 => id_qu as *const c_void,
        TypeCode::Float => id_f as *const c_void,
        TypeCode::Double => id_d as *const c_void,
        _ => id_p as *const c_void,
    };
    let ret = if code.is_pointer() {
        'p'
    } else {
        code.as_char()
    };
    (f, ret)
}

fn arg(v: PyValue) -> Arg<'static> {
    match v {
        PyValue::None => Arg::Null,
        PyValue::Int(i) => Arg::Int(i),
        PyValue::BigInt(u) => Arg::UInt(u),
        PyValue::Bool(b) => Arg::Bool(b),
        PyValue::Float(f) => Arg::F64(f),
    }
}

// ffi-core accepts booleans in integer and float slots only (MicroPython has no rule for
// them: it crashes).
fn model(code: TypeCode, v: PyValue) -> Option<Value> {
    if matches!(v, PyValue::Bool(_)) && code.is_pointer() {
        return None;
    }
    round_trip(code, v)
}

fn check(what: &str, code: TypeCode, v: PyValue, got: ffi_core::Result<Value>) {
    match (model(code, v), got) {
        (Some(want), Ok(got)) => assert!(
            same(&want, &got),
            "{what}: {v:?} in slot {code}: MicroPython gives {want:?}, ffi-core {got:?}"
        ),
        (None, Err(e)) => hwkit_fuzz::assert_one_line("", &e.to_string()),
        (want, got) => {
            panic!("{what}: {v:?} in slot {code}: MicroPython {want:?}, ffi-core {got:?}")
        }
    }
}

fuzz_target!(|input: (u8, PyValue, u8)| {
    let (code_index, v, paths) = input;
    let codes = &ffi_core::types::ALL_CODES[1..]; // no `v`: every path needs a value
    let c = codes.as_bytes()[code_index as usize % codes.len()] as char;
    let code = TypeCode::from_char(c).unwrap();

    // 1. An argument into a call and the return value back (ffi_call, widened returns).
    if paths & 1 != 0 {
        let (f, ret) = identity(code);
        // SAFETY: `f` is an identity function of exactly `code` -> `ret` (pointers all
        // pass as `void *`), defined above.
        let function = unsafe { Function::from_addr(f, &ret.to_string(), &c.to_string()) }.unwrap();
        // SAFETY: as above; it reads nothing through a pointer.
        let got = unsafe { function.call(&[arg(v)]) };
        check("call", code, v, got);
    }

    // 2. A callback's return value (a closure's return buffer), read back through a call.
    if paths & 2 != 0 {
        let ret = if code == TypeCode::Str { 'p' } else { c };
        let returned: Value = match v {
            PyValue::None => Value::None,
            PyValue::Int(i) => Value::Int(i),
            PyValue::BigInt(u) => Value::UInt(u),
            PyValue::Bool(b) => Value::from(b),
            PyValue::Float(f) => Value::Double(f),
        };
        let as_int = match v {
            PyValue::Bool(b) => PyValue::Int(b.into()),
            other => other,
        };
        let cb = Callback::new(&ret.to_string(), "", move |_| returned.clone()).unwrap();
        // SAFETY: the callback's code is a C function `ret (void)`.
        let function = unsafe { Function::from_addr(cb.code_ptr(), &ret.to_string(), "") }.unwrap();
        // SAFETY: as above.
        let got = unsafe { function.call(&[]) };
        check(
            "callback return",
            TypeCode::from_char(ret).unwrap(),
            as_int,
            got,
        );
    }

    // 3. A callback's argument, as the closure receives it. Strings are not read: an
    // arbitrary address is no C string.
    if paths & 4 != 0 && code != TypeCode::Str {
        let seen = Mutex::new(None);
        let cb = Callback::new("v", &c.to_string(), |args| {
            *seen.lock().unwrap() = Some(args[0].clone());
        })
        .unwrap();
        // SAFETY: the callback's code is a C function `void (code)`.
        let function = unsafe { Function::from_addr(cb.code_ptr(), "v", &c.to_string()) }.unwrap();
        // SAFETY: as above.
        let got = unsafe { function.call(&[arg(v)]) }
            .map(|_| seen.lock().unwrap().take().expect("the callback ran"));
        check("callback argument", code, v, got);
    }

    // 4. A variable: written at its exact width, read back.
    if paths & 8 != 0 && code != TypeCode::Str {
        let mut cell = 0u64;
        // SAFETY: `cell` is 8 aligned bytes, enough for every code, used by this thread only.
        let var =
            unsafe { Variable::from_addr(std::ptr::addr_of_mut!(cell).cast(), &c.to_string()) }
                .unwrap();
        // SAFETY: as above.
        let got = unsafe { var.set(arg(v)) }.map(|()| unsafe { var.get() });
        check("variable", code, v, got);
    }
});
