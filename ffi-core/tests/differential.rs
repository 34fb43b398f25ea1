//! One behaviour, two paths: every function of a generated C library (400 random signatures
//! over all 18 type codes, 0 to 12 arguments, see build/differential.rs) is called with
//! random arguments through the path ffi-core chose for it (registers where the signature
//! allows) and through libffi (`Function::on_libffi`). Results, errors, errno and what C
//! received must be identical.
//!
//! The values include the edges: integer extremes, negative values into unsigned slots,
//! NaN with a payload, infinities, -0.0, subnormals, NULL, empty, long (beyond the stack
//! arena) and NUL-carrying strings, buffers, callbacks, and arguments of the wrong kind or
//! count. The seed is fixed; `FFI_DIFFERENTIAL_ROUNDS=N` (default 25) calls every
//! signature N times, `FFI_DIFFERENTIAL_SEED=S` picks other values.

use std::ffi::{c_int, CStr};

use ffi_core::{Arg, Buffer, CallPath, Callback, Function, Library, Value};

include!(env!("FFI_DIFFERENTIAL_SIGNATURES"));

/// What a generated function received (differential.c's `struct record`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    id: u32,
    n: u32,
    words: [u64; 16],
}

// splitmix64, the build script's generator.
#[path = "../build/splitmix.rs"]
mod splitmix;
use splitmix::Rng;

impl Rng {
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }

    /// One time in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

const INT_EDGES: &[i64] = &[
    0,
    1,
    -1,
    i64::MIN,
    i64::MAX,
    0x7f,
    0x80,
    -0x80,
    -0x81,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    -0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    -0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    -0x1_0000_0001,
];

const UINT_EDGES: &[u64] = &[
    0,
    1,
    u64::MAX,
    u64::MAX - 1,
    0x8000_0000_0000_0000,
    0xff,
    0xffff,
    0xffff_ffff,
    0x8000_0000,
    0x1_0000_0000,
];

const F64_EDGES: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.5,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324,
    1e300,
    -1e-300,
    16_777_217.0,
    9_007_199_254_740_993.0,
];

const F32_EDGES: &[f32] = &[
    0.0,
    -0.0,
    1.0,
    -2.5,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    1e-45,
];

/// Everything the arguments of one case borrow.
struct Data {
    strings: Vec<String>,
    read_only: Vec<u8>,
    callback: Callback<'static>,
}

impl Data {
    fn new() -> Data {
        Data {
            strings: vec![
                String::new(),
                "a".into(),
                "hello, world".into(),
                "é ü 😀".into(),
                "x".repeat(300),
                // Beyond the stack arena (512 bytes): copied to the heap.
                "long ".repeat(130),
                // A NUL inside: refused.
                "nul\0inside".into(),
            ],
            read_only: b"read-only buffer\0".to_vec(),
            callback: Callback::new("v", "", |_: &[Value]| ()).unwrap(),
        }
    }
}

const C_STRINGS: &[&CStr] = &[c"", c"a C string", c"another"];

/// A NaN with a payload, to see the bits travel unchanged.
fn payload_nan() -> f64 {
    f64::from_bits(0x7ff8_0000_dead_beef)
}

fn int_value(rng: &mut Rng) -> Arg<'static> {
    match rng.below(10) {
        0..=3 => Arg::Int(rng.pick(INT_EDGES)),
        4..=5 => Arg::UInt(rng.pick(UINT_EDGES)),
        6 => Arg::Int(rng.next() as i64),
        7 => Arg::UInt(rng.next()),
        8 => Arg::Bool(rng.one_in(2)),
        _ => Arg::Null,
    }
}

fn float_value(rng: &mut Rng) -> Arg<'static> {
    match rng.below(10) {
        0..=3 => Arg::F64(rng.pick(F64_EDGES)),
        4 => Arg::F64(if rng.one_in(2) {
            payload_nan()
        } else {
            f64::from_bits(rng.next())
        }),
        5..=6 => Arg::F32(rng.pick(F32_EDGES)),
        7 => Arg::Int(rng.pick(INT_EDGES)),
        8 => Arg::UInt(rng.pick(UINT_EDGES)),
        _ => Arg::Bool(rng.one_in(2)),
    }
}

/// An address nobody dereferences (C records it only).
fn address(rng: &mut Rng) -> Arg<'static> {
    match rng.below(4) {
        0 => Arg::Ptr(std::ptr::null_mut()),
        1 => Arg::Ptr(rng.next() as usize as *mut _),
        2 => Arg::Int(rng.pick(INT_EDGES)),
        _ => Arg::UInt(rng.pick(UINT_EDGES)),
    }
}

/// A value of the wrong kind for slot `code` (ffi-core must refuse it the same way on both
/// paths), or `None` if `code` takes every kind tried here.
fn wrong_kind<'a>(rng: &mut Rng, code: char, data: &'a Data) -> Option<Arg<'a>> {
    let candidate = |k: usize| match k {
        0 => Arg::F64(1.5),
        1 => Arg::Null,
        2 => Arg::Str("text"),
        3 => Arg::CStr(c"c string"),
        4 => Arg::Buffer(Buffer::new(&data.read_only)),
        _ => Arg::from(&data.callback),
    };
    let refused = |arg: &Arg<'_>| match code {
        'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'l' | 'L' | 'q' | 'Q' => !matches!(arg, Arg::Null),
        'f' | 'd' => true,
        'p' => matches!(arg, Arg::F64(_) | Arg::CStr(_) | Arg::Buffer(_)),
        'C' => matches!(
            arg,
            Arg::F64(_) | Arg::Str(_) | Arg::CStr(_) | Arg::Buffer(_)
        ),
        _ => matches!(arg, Arg::F64(_)),
    };
    let start = rng.below(6);
    (start..start + 6).map(|k| candidate(k % 6)).find(refused)
}

/// A value for slot `code`, and whether C may read it as a string.
fn value<'a>(
    rng: &mut Rng,
    code: char,
    data: &'a Data,
    writable: &mut impl Iterator<Item = &'a mut [u8; 16]>,
) -> (Arg<'a>, bool) {
    if rng.one_in(60) {
        if let Some(wrong) = wrong_kind(rng, code, data) {
            return (wrong, false);
        }
    }
    match code {
        'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'l' | 'L' | 'q' | 'Q' => (int_value(rng), false),
        'f' | 'd' => (float_value(rng), false),
        // C reads an `s` argument: only NULL and real strings.
        's' => match rng.below(6) {
            0 => (Arg::Null, true),
            1 => (Arg::CStr(rng.pick(C_STRINGS)), true),
            2 => (Arg::Ptr(rng.pick(C_STRINGS).as_ptr() as *mut _), true),
            3 => (Arg::Buffer(Buffer::new(&data.read_only)), true),
            4 => match writable.next() {
                Some(buffer) => (Arg::Buffer(Buffer::new_mut(buffer)), true),
                None => (Arg::Null, true),
            },
            _ => (Arg::Str(&data.strings[rng.below(data.strings.len())]), true),
        },
        'C' => match rng.below(3) {
            0 => (Arg::from(&data.callback), false),
            _ => (address(rng), false),
        },
        // p P O: C records the address, or the string when it is one.
        _ => match rng.below(7) {
            0..=1 => (address(rng), false),
            2 => (Arg::Str(&data.strings[rng.below(data.strings.len())]), true),
            3 if code != 'p' => (Arg::CStr(rng.pick(C_STRINGS)), true),
            4 if code != 'p' => (Arg::Buffer(Buffer::new(&data.read_only)), false),
            5 => match writable.next() {
                Some(buffer) => (Arg::Buffer(Buffer::new_mut(buffer)), false),
                None => (Arg::Null, false),
            },
            6 => (Arg::from(&data.callback), false),
            _ => (Arg::Null, true),
        },
    }
}

/// A call's outcome as text, with floats as their bits (NaN payloads and -0.0 included).
fn outcome(result: ffi_core::Result<(Value, c_int)>) -> String {
    match result {
        Ok((Value::Float(v), errno)) => format!("Float({:#x}) errno {errno}", v.to_bits()),
        Ok((Value::Double(v), errno)) => format!("Double({:#x}) errno {errno}", v.to_bits()),
        Ok((v, errno)) => format!("{v:?} errno {errno}"),
        Err(e) => format!("error: {e}"),
    }
}

struct Recorder {
    last: unsafe extern "C" fn() -> *const Record,
    reset: unsafe extern "C" fn(u32),
}

impl Recorder {
    /// Calls `f` with `args` after clearing the record; returns the outcome and the record.
    fn call(&self, f: &Function, args: &[Arg<'_>], readable: u32, errno: bool) -> (String, Record) {
        // SAFETY: `recorder_reset(uint32_t)` only writes the thread's record.
        unsafe { (self.reset)(readable) };
        // SAFETY: `f` is declared with the codes its generated C function was written with
        // (SIGNATURES, from the same generator); that function reads only the `s` arguments
        // and the pointer arguments flagged in `readable`, which are NULL or NUL-terminated
        // (see `value`), and writes nothing but the thread's record and errno.
        let result = unsafe {
            if errno {
                f.call_with_errno(args)
            } else {
                f.call(args).map(|v| (v, 0))
            }
        };
        // SAFETY: the record is a thread-local of the library, alive while it is loaded.
        let record = unsafe { *(self.last)() };
        (outcome(result), record)
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?}: expected a number")),
        Err(_) => default,
    }
}

#[test]
fn register_path_and_libffi_agree_on_random_signatures_and_values() {
    let rounds = env_number("FFI_DIFFERENTIAL_ROUNDS", 25);
    let mut rng = Rng(env_number("FFI_DIFFERENTIAL_SEED", 0x5eed_d1ff));
    // SAFETY: the generated library has no initialisers.
    let lib = unsafe { Library::open(env!("FFI_TEST_LIB_DIFFERENTIAL")) }.unwrap();
    // SAFETY: the C prototypes of differential.c's recorder functions.
    let recorder = unsafe {
        Recorder {
            last: *lib
                .typed::<unsafe extern "C" fn() -> *const Record>("recorder_last")
                .unwrap(),
            reset: *lib
                .typed::<unsafe extern "C" fn(u32)>("recorder_reset")
                .unwrap(),
        }
    };
    let functions: Vec<(Function, Function, &str)> = SIGNATURES
        .iter()
        .map(|&(id, ret, args)| {
            let name = format!("sig_{id}");
            let chosen = lib.func(ret, &name, args).unwrap();
            let libffi = lib.func(ret, &name, args).unwrap().on_libffi();
            assert_eq!(libffi.call_path(), CallPath::Libffi);
            (chosen, libffi, args)
        })
        .collect();
    let data = Data::new();
    let (mut calls, mut refused) = (0u64, 0u64);
    for _ in 0..rounds {
        for (chosen, libffi, codes) in &functions {
            let mut pool = [*b"writable buffer\0"; 12];
            let mut writable = pool.iter_mut();
            let mut readable = 0u32;
            let mut args: Vec<Arg<'_>> = Vec::new();
            for (i, code) in codes.chars().enumerate() {
                let (arg, is_string) = value(&mut rng, code, &data, &mut writable);
                if is_string {
                    readable |= 1 << i;
                }
                args.push(arg);
            }
            // Now and then one argument too few or too many.
            // (Popping one gives one too few; pushing two after it, one too many.)
            if rng.one_in(50) && (args.pop().is_none() || rng.one_in(2)) {
                args.push(Arg::Int(7));
                args.push(Arg::Int(8));
            }
            let errno = rng.one_in(2);
            let a = recorder.call(chosen, &args, readable, errno);
            let b = recorder.call(libffi, &args, readable, errno);
            assert_eq!(
                a,
                b,
                "{} {:?} (path {:?}) with {args:?}: chosen path (left) and libffi (right) differ",
                chosen.name(),
                chosen.signature().to_string(),
                chosen.call_path(),
            );
            calls += 1;
            refused += u64::from(a.0.starts_with("error"));
        }
    }
    let registers = functions
        .iter()
        .filter(|(f, _, _)| f.call_path() == CallPath::Registers)
        .count();
    eprintln!(
        "differential: {calls} calls on each path ({refused} refused), {registers} of {} \
         signatures on the register path",
        functions.len()
    );
    // The register path is taken where the platform has one (unless forced off).
    let expected = cfg!(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )) && std::env::var_os("FFI_CORE_LIBFFI_ONLY")
        .is_none_or(|v| v.is_empty() || v == "0");
    if expected {
        assert!(registers > functions.len() / 2, "{registers} on registers");
    } else {
        assert_eq!(registers, 0);
    }
    // Enough refusals that every error path is compared too.
    assert!(refused > calls / 100, "{refused} of {calls} refused");
}
