//! Ports of MicroPython's own ffi tests (tests/ports/unix/ffi_*.py).

use ffi_core::{Arg, Callback, Function, Library, Value};

fn libc() -> Library {
    // SAFETY: libc is already loaded in this process; opening it again runs nothing new.
    unsafe { Library::open("libc.so.6") }.unwrap()
}

fn libm() -> Library {
    // SAFETY: libm is the system's C maths library; its initialisers are sound.
    unsafe { Library::open("libm.so.6") }.unwrap()
}

fn int_types() -> Library {
    // SAFETY: ffi_int_types.c, built by this crate's build script, has no initialisers.
    unsafe { Library::open(env!("FFI_TEST_LIB_INT_TYPES")) }.unwrap()
}

/// Calls a numeric C function: one that takes and returns only numbers.
fn numeric(f: &Function, args: &[Arg<'_>]) -> Value {
    // SAFETY: every function given to this helper (tgamma, tgammaf, pow, powf and
    // ffi_int_types.c's f8i..flu) is declared with its C prototype's codes, takes only
    // numbers, accepts every value of its argument types and touches no memory.
    unsafe { f.call(args) }.unwrap()
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
    // SAFETY: qsort is `void qsort(void *, size_t, size_t, int (*)(const void *, const void
    // *))`. MicroPython's test declares the sizes `i`: libffi passes an int sign-extended to
    // the full register on the 64-bit targets supported, so qsort reads 6 and 1; the
    // callback in the `p` slot is a code pointer like the `C` slot's. data holds 6 elements
    // of 1 byte, cmp compares two of them and outlives the call.
    let ret =
        unsafe { qsort.call(&[(&mut data).into(), 6.into(), 1.into(), (&cmp).into()]) }.unwrap();
    assert_eq!(ret, Value::None);
    assert_eq!(&data, b"abfoor");
}

/// ffi_float.py: strtof/strtod, tgamma on ints and floats, powf/pow.
#[test]
fn ffi_float() {
    let strtof = libc().func("f", "strtof", "sp").unwrap();
    let strtod = libc().func("d", "strtod", "sp").unwrap();
    // SAFETY: `float strtof(const char *, char **endptr)`: it reads the NUL-terminated copy
    // of "1.23", and a NULL endptr is allowed (nothing is written).
    let f = unsafe { strtof.call(&["1.23".into(), None::<i32>.into()]) }.unwrap();
    assert_eq!(f, Value::Float(1.23f32));
    assert_eq!(f.to_string(), "1.23");
    // SAFETY: as strtof, for `double strtod(const char *, char **)`.
    let d = unsafe { strtod.call(&["1.23".into(), ().into()]) }.unwrap();
    assert_eq!(d, Value::Double(1.23));
    assert_eq!(d.to_string(), "1.23");

    let tgamma = libm().func("d", "tgamma", "d").unwrap();
    for (arg, want) in tgamma_cases() {
        let got = numeric(&tgamma, &[arg]).as_f64().unwrap();
        assert_eq!(format!("{got:.5}"), want);
    }
    assert_eq!(numeric(&tgamma, &[1.into()]), Value::Double(1.0));
    assert_eq!(numeric(&tgamma, &[4.into()]), Value::Double(6.0));
    let sqrt_pi = std::f64::consts::PI.sqrt();
    let g = numeric(&tgamma, &[0.5.into()]).as_f64().unwrap();
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
        assert_eq!(numeric(&pow, &[x.into(), y.into()]), Value::Double(want));
        assert_eq!(
            numeric(&powf, &[(x as f32).into(), (y as f32).into()]),
            Value::Float(want as f32)
        );
    }
    assert_eq!(
        format!(
            "{:.5}",
            numeric(&pow, &[2.into(), 0.5.into()]).as_f64().unwrap()
        ),
        "1.41421"
    );
}

/// The inputs of ffi_float.py's and ffi_float2.py's tgamma loops (ints and floats mixed, as
/// MicroPython passes them) and what `"%.5f"` prints for each.
fn tgamma_cases() -> [(ffi_core::Arg<'static>, &'static str); 6] {
    [
        (0.5.into(), "1.77245"),
        (1.into(), "1.00000"),
        (1.0.into(), "1.00000"),
        (1.5.into(), "0.88623"),
        (4.into(), "6.00000"),
        (4.0.into(), "6.00000"),
    ]
}

/// ffi_float2.py: tgammaf with the same values.
#[test]
fn ffi_float2() {
    let tgammaf = libm().func("f", "tgammaf", "f").unwrap();
    for (arg, want) in tgamma_cases() {
        let got = numeric(&tgammaf, &[arg]);
        assert!(matches!(got, Value::Float(_)), "{got:?}");
        assert_eq!(format!("{:.5}", got.as_f64().unwrap()), want);
    }
    // glibc's tgammaf(4) is 6.0000005 (1 ulp off); MicroPython's test prints "%.5f" too.
    let g = numeric(&tgammaf, &[4.into()]).as_f64().unwrap() as f32;
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
    let lib = int_types();
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
            assert_eq!(numeric(&f, &[v.into()]), expect(v), "{name}({v:#x})");
        }
        // Negative Python ints are truncated the same way (two's complement).
        for v in [-1i64, -0x80, -0x8000, i64::MIN] {
            assert_eq!(numeric(&f, &[v.into()]), expect(v as u64), "{name}({v})");
        }
    }
}

/// The semantics note's literal edge cases.
#[test]
fn int_edge_literals_from_the_note() {
    let lib = int_types();
    let f8i = lib.func("b", "f8i", "b").unwrap();
    let f32i = lib.func("i", "f32i", "i").unwrap();
    let f32u = lib.func("I", "f32u", "I").unwrap();
    assert_eq!(numeric(&f8i, &[0x80.into()]), Value::Int(-0x7f));
    assert_eq!(numeric(&f32i, &[0xffff_ffffu32.into()]), Value::Int(-2));
    assert_eq!(
        numeric(&f32u, &[0x8000_0000u32.into()]),
        Value::UInt(0x8000_0001)
    );
    // bool is 1/0 in integer slots (MicroPython segfaults here).
    assert_eq!(numeric(&f32i, &[true.into()]), Value::Int(0));
    assert_eq!(numeric(&f32i, &[false.into()]), Value::Int(1));
    // None is 0 in integer slots.
    assert_eq!(numeric(&f32i, &[ffi_core::Arg::Null]), Value::Int(1));
}
