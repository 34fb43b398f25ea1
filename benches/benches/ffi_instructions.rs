//! Instruction counts of ffi-core's calls, for callgrind (deterministic where wall-clock
//! times on a shared machine are not): each workload of `ffi_call` runs `CALLS` times inside
//! its own named function, once per contender, and `benches/instructions.sh` reads each
//! function's inclusive count from callgrind and prints instructions per call, and the
//! excess over the direct call (the instructions spent outside the callee).
//!
//! ```text
//! benches/instructions.sh        # builds this bench, runs it under callgrind, prints a table
//! ```
//!
//! Run on its own (outside callgrind) it only checks its results.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};

use ffi_core::{Callback, Function, Library, Value};

#[link(name = "benchlib", kind = "static")]
unsafe extern "C" {
    fn add(a: c_int, b: c_int) -> c_int;
    fn addd(a: f64, b: f64) -> f64;
    fn cmp_i32(a: *const c_void, b: *const c_void) -> c_int;
}

/// Calls per workload and contender (sorts for W5).
const CALLS: u32 = 10_000;

const TEXT: &str = "Hello, World!";
const CTEXT: &CStr = c"Hello, World!";

static COMPARISONS: AtomicU32 = AtomicU32::new(0);

extern "C" fn counting_cmp(a: *const c_void, b: *const c_void) -> c_int {
    COMPARISONS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: qsort passes pointers to two i32 elements.
    unsafe { cmp_i32(a, b) }
}

type Comparator = unsafe extern "C" fn(*const c_void, *const c_void) -> c_int;

#[inline(never)]
fn w1_direct(f: unsafe extern "C" fn(c_int, c_int) -> c_int) {
    for _ in 0..CALLS {
        // SAFETY: `int add(int, int)`.
        black_box(unsafe { f(black_box(20), black_box(22)) });
    }
}

#[inline(never)]
fn w1_dynamic(f: &Function) {
    for _ in 0..CALLS {
        // SAFETY: add is `int add(int, int)` and takes any values.
        black_box(unsafe { f.call(&[black_box(20).into(), black_box(22).into()]) }.unwrap());
    }
}

#[inline(never)]
fn w2_direct(f: unsafe extern "C" fn(f64, f64) -> f64) {
    for _ in 0..CALLS {
        // SAFETY: `double addd(double, double)`.
        black_box(unsafe { f(black_box(1.5), black_box(2.25)) });
    }
}

#[inline(never)]
fn w2_dynamic(f: &Function) {
    for _ in 0..CALLS {
        // SAFETY: addd is `double addd(double, double)` and takes any values.
        black_box(unsafe { f.call(&[black_box(1.5).into(), black_box(2.25).into()]) }.unwrap());
    }
}

#[inline(never)]
fn w4_direct(f: unsafe extern "C" fn(*const c_char) -> usize) {
    for _ in 0..CALLS {
        // SAFETY: a NUL-terminated string.
        black_box(unsafe { f(black_box(CTEXT.as_ptr())) });
    }
}

#[inline(never)]
fn w4_dynamic(f: &Function) {
    for _ in 0..CALLS {
        // SAFETY: strlen is `size_t strlen(const char *)`; the &str is passed as a
        // NUL-terminated copy.
        black_box(unsafe { f.call(&[black_box(TEXT).into()]) }.unwrap());
    }
}

/// 64 distinct values in a fixed order (as `ffi_call`'s W5).
fn qsort_input() -> [i32; 64] {
    let mut v: [i32; 64] = std::array::from_fn(|i| i as i32 * 7 - 200);
    let mut state = 0x2545_f491_u32;
    for i in (1..64).rev() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        v.swap(i, (state >> 8) as usize % (i + 1));
    }
    v
}

fn sort(input: &[i32; 64], cmp: Comparator) {
    let mut work = *black_box(input);
    // SAFETY: 64 four-byte elements and a comparator over them.
    unsafe { libc::qsort(work.as_mut_ptr().cast(), 64, 4, Some(cmp)) };
    assert!(black_box(&work).windows(2).all(|w| w[0] < w[1]));
}

#[inline(never)]
fn w5_direct(input: &[i32; 64], cmp: Comparator) {
    // A distinct constant per twin: identical bodies would be folded into one symbol.
    black_box(1u8);
    for _ in 0..CALLS {
        sort(input, cmp);
    }
}

#[inline(never)]
fn w5_callback(input: &[i32; 64], cmp: Comparator) {
    black_box(2u8);
    for _ in 0..CALLS {
        sort(input, cmp);
    }
}

fn main() {
    // SAFETY: benchlib.c has no initialisers.
    let lib = unsafe { Library::open(env!("BENCH_LIB_SO")) }.unwrap();
    let libc = Library::this_process().unwrap();
    let add_fn = lib.func("i", "add", "ii").unwrap();
    let addd_fn = lib.func("d", "addd", "dd").unwrap();
    let strlen_fn = libc.func("L", "strlen", "s").unwrap();
    // SAFETY: the same C functions, called as their C prototypes say.
    unsafe {
        assert_eq!(
            add_fn.call(&[20.into(), 22.into()]).unwrap(),
            Value::Int(42)
        );
        assert_eq!(add(20, 22), 42);
        assert_eq!(addd(1.5, 2.25), 3.75);
    }
    let cb = Callback::new("i", "PP", |args: &[Value]| {
        // SAFETY: qsort passes pointers to two i32 elements.
        let (x, y) = unsafe {
            (
                *args[0].as_ptr().unwrap().cast::<i32>(),
                *args[1].as_ptr().unwrap().cast::<i32>(),
            )
        };
        i32::from(x > y) - i32::from(x < y)
    })
    .unwrap();
    // SAFETY: the callback implements the comparator signature and outlives its uses.
    let cb_fn: Comparator = unsafe { std::mem::transmute(cb.code_ptr()) };
    let input = qsort_input();
    sort(&input, counting_cmp);
    println!(
        "comparator calls per sort: {}",
        COMPARISONS.load(Ordering::Relaxed)
    );
    // `libffi` as the first argument forces ffi-core's dynamic calls onto libffi.
    let (add_fn, addd_fn, strlen_fn) = if std::env::args().nth(1).as_deref() == Some("libffi") {
        (
            add_fn.on_libffi(),
            addd_fn.on_libffi(),
            strlen_fn.on_libffi(),
        )
    } else {
        (add_fn, addd_fn, strlen_fn)
    };
    println!(
        "paths: W1 {:?}, W2 {:?}, W4 {:?}",
        add_fn.call_path(),
        addd_fn.call_path(),
        strlen_fn.call_path()
    );
    w1_dynamic(&add_fn);
    w2_dynamic(&addd_fn);
    w4_dynamic(&strlen_fn);
    w1_direct(black_box(add));
    w2_direct(black_box(addd));
    w4_direct(black_box(libc::strlen));
    w5_direct(&input, black_box(cmp_i32));
    w5_callback(&input, black_box(cb_fn));
}
