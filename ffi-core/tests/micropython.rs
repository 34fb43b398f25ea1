//! Ports of MicroPython's own ffi tests (tests/ports/unix/ffi_*.py).

use ffi_core::{Callback, Library, Value};

fn libc() -> Library {
    Library::open("libc.so.6").unwrap()
}

fn libm() -> Library {
    Library::open("libm.so.6").unwrap()
}

/// ffi_callback.py: qsort declared "piip" with an ("i", cmp, "pp") callback.
#[test]
fn ffi_callback_qsort_foobar() {
    let qsort = libc().func("v", "qsort", "piip").unwrap();
    let cmp = Callback::new("i", "pp", |args: &[Value]| {
        // SAFETY: qsort passes pointers to two bytes of `data`.
        let (a, b) = unsafe {
            (
                *args[0].as_ptr().unwrap().cast::<u8>(),
                *args[1].as_ptr().unwrap().cast::<u8>(),
            )
        };
        i32::from(a) - i32::from(b)
    })
    .unwrap();
    let mut data = *b"foobar";
    let ret = qsort
        .call(&[(&mut data).into(), 6.into(), 1.into(), (&cmp).into()])
        .unwrap();
    assert_eq!(ret, Value::None);
    assert_eq!(&data, b"abfoor");
}

/// ffi_float.py: strtof/strtod, tgamma on ints and floats, powf/pow.
#[test]
fn ffi_float() {
    let strtof = libc().func("f", "strtof", "sp").unwrap();
    let strtod = libc().func("d", "strtod", "sp").unwrap();
    let f = strtof.call(&["1.23".into(), None::<i32>.into()]).unwrap();
    assert_eq!(f, Value::Float(1.23f32));
    assert_eq!(f.to_string(), "1.23");
    let d = strtod.call(&["1.23".into(), ().into()]).unwrap();
    assert_eq!(d, Value::Double(1.23));
    assert_eq!(d.to_string(), "1.23");

    let tgamma = libm().func("d", "tgamma", "d").unwrap();
    let inputs: [ffi_core::Arg; 6] = [
        0.5.into(),
        1.into(),
        1.0.into(),
        1.5.into(),
        4.into(),
        4.0.into(),
    ];
    let want = [
        "1.77245", "1.00000", "1.00000", "0.88623", "6.00000", "6.00000",
    ];
    for (arg, want) in inputs.into_iter().zip(want) {
        let got = tgamma.call(&[arg]).unwrap().as_f64().unwrap();
        assert_eq!(format!("{got:.5}"), want);
    }
    assert_eq!(tgamma.call(&[1.into()]).unwrap(), Value::Double(1.0));
    assert_eq!(tgamma.call(&[4.into()]).unwrap(), Value::Double(6.0));
    let sqrt_pi = std::f64::consts::PI.sqrt();
    let g = tgamma.call(&[0.5.into()]).unwrap().as_f64().unwrap();
    assert!(
        (g - sqrt_pi).abs() <= 2.0 * f64::EPSILON,
        "{g} vs {sqrt_pi}"
    );

    let powf = libm().func("f", "powf", "ff").unwrap();
    let pow = libm().func("d", "pow", "dd").unwrap();
    for (x, y, want) in [
        (0.0, 1.0, 0.0),
        (1.0, 0.0, 1.0),
        (2.0, 0.5, 2f64.sqrt()),
        (3.0, 4.0, 81.0),
    ] {
        assert_eq!(
            pow.call(&[x.into(), y.into()]).unwrap(),
            Value::Double(want)
        );
        assert_eq!(
            powf.call(&[(x as f32).into(), (y as f32).into()]).unwrap(),
            Value::Float(want as f32)
        );
    }
    assert_eq!(
        format!(
            "{:.5}",
            pow.call(&[2.into(), 0.5.into()]).unwrap().as_f64().unwrap()
        ),
        "1.41421"
    );
}

/// ffi_float2.py: tgammaf with the same values.
#[test]
fn ffi_float2() {
    let tgammaf = libm().func("f", "tgammaf", "f").unwrap();
    let inputs: [ffi_core::Arg; 6] = [
        0.5.into(),
        1.into(),
        1.0.into(),
        1.5.into(),
        4.into(),
        4.0.into(),
    ];
    let want = [
        "1.77245", "1.00000", "1.00000", "0.88623", "6.00000", "6.00000",
    ];
    for (arg, want) in inputs.into_iter().zip(want) {
        let got = tgammaf.call(&[arg]).unwrap();
        assert!(matches!(got, Value::Float(_)), "{got:?}");
        assert_eq!(format!("{:.5}", got.as_f64().unwrap()), want);
    }
    // glibc's tgammaf(4) is 6.0000005 (1 ulp off); MicroPython's test prints "%.5f" too.
    let g = tgammaf.call(&[4.into()]).unwrap().as_f64().unwrap() as f32;
    assert!((g - 6.0).abs() <= 6.0 * f32::EPSILON, "{g}");
}

/// The 17 values of ffi_int_types.py: every 8/16/32/64-bit edge from 0 to 2**64 - 1.
const EDGES: [u64; 17] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_ffff,
];

/// ffi_int_types.py (+ ffi_int_long64.py): each C function returns `x ^ 1` at its width;
/// the expectation is computed here with Rust's own casts, the truncation rule of the note.
#[test]
#[allow(clippy::unnecessary_cast)] // long is 32 bits on armv7
fn ffi_int_types() {
    let lib = Library::open(env!("FFI_TEST_LIB_INT_TYPES")).unwrap();
    type Expect = fn(u64) -> Value;
    let cases: [(&str, &str, Expect); 10] = [
        ("b", "f8i", |v| Value::Int(((v as i8) ^ 1).into())),
        ("B", "f8u", |v| Value::UInt(((v as u8) ^ 1).into())),
        ("h", "f16i", |v| Value::Int(((v as i16) ^ 1).into())),
        ("H", "f16u", |v| Value::UInt(((v as u16) ^ 1).into())),
        ("i", "f32i", |v| Value::Int(((v as i32) ^ 1).into())),
        ("I", "f32u", |v| Value::UInt(((v as u32) ^ 1).into())),
        ("q", "f64i", |v| Value::Int((v as i64) ^ 1)),
        ("Q", "f64u", |v| Value::UInt(v ^ 1)),
        ("l", "fli", |v| {
            Value::Int(((v as std::ffi::c_long) ^ 1) as i64)
        }),
        ("L", "flu", |v| {
            Value::UInt(((v as std::ffi::c_ulong) ^ 1) as u64)
        }),
    ];
    for (code, name, expect) in cases {
        let f = lib.func(code, name, code).unwrap();
        for v in EDGES {
            assert_eq!(f.call(&[v.into()]).unwrap(), expect(v), "{name}({v:#x})");
        }
        // Negative Python ints are truncated the same way (two's complement).
        for v in [-1i64, -0x80, -0x8000, i64::MIN] {
            assert_eq!(
                f.call(&[v.into()]).unwrap(),
                expect(v as u64),
                "{name}({v})"
            );
        }
    }
}

/// The semantics note's literal edge cases.
#[test]
fn int_edge_literals_from_the_note() {
    let lib = Library::open(env!("FFI_TEST_LIB_INT_TYPES")).unwrap();
    let f8i = lib.func("b", "f8i", "b").unwrap();
    let f32i = lib.func("i", "f32i", "i").unwrap();
    let f32u = lib.func("I", "f32u", "I").unwrap();
    assert_eq!(f8i.call(&[0x80.into()]).unwrap(), Value::Int(-0x7f));
    assert_eq!(f32i.call(&[0xffff_ffffu32.into()]).unwrap(), Value::Int(-2));
    assert_eq!(
        f32u.call(&[0x8000_0000u32.into()]).unwrap(),
        Value::UInt(0x8000_0001)
    );
    // bool is 1/0 in integer slots (MicroPython segfaults here).
    assert_eq!(f32i.call(&[true.into()]).unwrap(), Value::Int(0));
    assert_eq!(f32i.call(&[false.into()]).unwrap(), Value::Int(1));
    // None is 0 in integer slots.
    assert_eq!(f32i.call(&[ffi_core::Arg::Null]).unwrap(), Value::Int(1));
}
