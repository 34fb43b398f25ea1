//! FFI call overhead, side by side per workload: a direct call through a function pointer,
//! a raw libffi `ffi_call` with a pre-prepared cif, ffi-core's dynamic call, and ffi-core's
//! typed binding.
//!
//! ffi-core's dynamic call is measured on the path it chooses (registers, where the
//! signature allows: every workload here) and forced onto libffi (`Function::on_libffi`).
//! The dynamic call is measured returning its `Value` (which the harness copies: a 24-byte
//! enum in memory) and with the value read in place (`.as_i64()`, `.as_f64()`), as a
//! program that uses the result does.
//!
//! W1 `int add(int, int)`, W2 `double addd(double, double)`, W3 `int64_t sum(const
//! int32_t *, size_t)` over 1000 elements, W4 `strlen` of a 13-character string, W5 a
//! qsort comparator (reported per comparator call: each sample's time is divided by the
//! number of comparator calls one sort of the fixed 64-element input makes).
//!
//! ```text
//! cargo bench -p hwkit-benches --bench ffi_call -- --warm-up-time 1 --measurement-time 3
//! ```

use std::ffi::{c_char, c_int, c_void, CStr};
use std::hint::black_box;
use std::ptr::addr_of_mut;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use ffi_core::{Callback, Library, Value};
use libffi::low::{self, ffi_cif, ffi_type, types};
use libffi::raw;

// The statically linked copy of benches/c/benchlib.c (see build.rs).
#[link(name = "benchlib", kind = "static")]
unsafe extern "C" {
    fn add(a: c_int, b: c_int) -> c_int;
    fn addd(a: f64, b: f64) -> f64;
    fn sum(values: *const i32, n: usize) -> i64;
    fn cmp_i32(a: *const c_void, b: *const c_void) -> c_int;
}

/// A raw libffi call interface with its argument type array.
struct RawCif {
    cif: ffi_cif,
    _types: Box<[*mut ffi_type]>,
}

impl RawCif {
    fn new(ret: *mut ffi_type, args: &[*mut ffi_type]) -> Box<RawCif> {
        let mut raw = Box::new(RawCif {
            cif: ffi_cif::default(),
            _types: args.into(),
        });
        let types = raw._types.as_ptr() as *mut *mut ffi_type;
        // SAFETY: the type array lives in the same box as the cif.
        unsafe {
            low::prep_cif(
                &mut raw.cif,
                low::ffi_abi_FFI_DEFAULT_ABI,
                args.len(),
                ret,
                types,
            )
            .unwrap();
        }
        raw
    }

    fn ptr(&mut self) -> *mut ffi_cif {
        &mut self.cif
    }
}

fn sint32() -> *mut ffi_type {
    // SAFETY: only the address of libffi's predeclared type is taken.
    addr_of_mut!(types::sint32)
}
fn double() -> *mut ffi_type {
    addr_of_mut!(types::double)
}
fn pointer() -> *mut ffi_type {
    addr_of_mut!(types::pointer)
}
fn sint64() -> *mut ffi_type {
    addr_of_mut!(types::sint64)
}
fn uint64() -> *mut ffi_type {
    addr_of_mut!(types::uint64)
}

fn code(addr: *mut c_void) -> Option<unsafe extern "C" fn()> {
    // SAFETY: a non-NULL code address from dlsym.
    Some(unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn()>(addr) })
}

fn benchlib() -> Library {
    // SAFETY: benchlib.c, built by this package's build script, has no initialisers.
    unsafe { Library::open(env!("BENCH_LIB_SO")) }.expect("open the benchmark library")
}

fn w1_int_add(c: &mut Criterion) {
    let lib = benchlib();
    let f = lib.func("i", "add", "ii").unwrap();
    let f_libffi = lib.func("i", "add", "ii").unwrap().on_libffi();
    // SAFETY: add's C signature.
    let typed = unsafe { lib.typed::<unsafe extern "C" fn(c_int, c_int) -> c_int>("add") }.unwrap();
    let mut cif = RawCif::new(sint32(), &[sint32(), sint32()]);
    let fun = code(lib.addr("add").unwrap());
    let mut g = c.benchmark_group("W1 int add");
    g.bench_function("direct", |b| {
        let direct: unsafe extern "C" fn(c_int, c_int) -> c_int = black_box(add);
        // SAFETY: a C function with this signature.
        b.iter(|| unsafe { direct(black_box(20), black_box(22)) })
    });
    g.bench_function("raw libffi", |b| {
        b.iter(|| {
            let mut x: c_int = black_box(20);
            let mut y: c_int = black_box(22);
            let mut args = [addr_of_mut!(x).cast::<c_void>(), addr_of_mut!(y).cast()];
            let mut ret: low::ffi_arg = 0;
            // SAFETY: the cif matches add; args point to two ints.
            unsafe { raw::ffi_call(cif.ptr(), fun, addr_of_mut!(ret).cast(), args.as_mut_ptr()) };
            ret as c_int
        })
    });
    g.bench_function("ffi-core dynamic", |b| {
        b.iter(|| {
            // SAFETY: add is `int add(int, int)` and takes any values.
            unsafe { f.call(&[black_box(20).into(), black_box(22).into()]) }.unwrap()
        })
    });
    g.bench_function("ffi-core dynamic, .as_i64()", |b| {
        b.iter(|| {
            // SAFETY: as above.
            unsafe { f.call(&[black_box(20).into(), black_box(22).into()]) }
                .unwrap()
                .as_i64()
        })
    });
    g.bench_function("ffi-core dynamic, libffi path", |b| {
        b.iter(|| {
            // SAFETY: as above.
            unsafe { f_libffi.call(&[black_box(20).into(), black_box(22).into()]) }.unwrap()
        })
    });
    g.bench_function("ffi-core typed", |b| {
        // SAFETY: called with its true signature while the library is open.
        b.iter(|| unsafe { typed(black_box(20), black_box(22)) })
    });
    g.finish();
    // SAFETY: as above.
    assert_eq!(
        unsafe { f.call(&[20.into(), 22.into()]) }.unwrap(),
        Value::Int(42)
    );
}

fn w2_double_add(c: &mut Criterion) {
    let lib = benchlib();
    let f = lib.func("d", "addd", "dd").unwrap();
    let f_libffi = lib.func("d", "addd", "dd").unwrap().on_libffi();
    // SAFETY: addd's C signature.
    let typed = unsafe { lib.typed::<unsafe extern "C" fn(f64, f64) -> f64>("addd") }.unwrap();
    let mut cif = RawCif::new(double(), &[double(), double()]);
    let fun = code(lib.addr("addd").unwrap());
    let mut g = c.benchmark_group("W2 double add");
    g.bench_function("direct", |b| {
        let direct: unsafe extern "C" fn(f64, f64) -> f64 = black_box(addd);
        // SAFETY: a C function with this signature.
        b.iter(|| unsafe { direct(black_box(1.5), black_box(2.25)) })
    });
    g.bench_function("raw libffi", |b| {
        b.iter(|| {
            let mut x = black_box(1.5f64);
            let mut y = black_box(2.25f64);
            let mut args = [addr_of_mut!(x).cast::<c_void>(), addr_of_mut!(y).cast()];
            let mut ret = 0f64;
            // SAFETY: the cif matches addd; args point to two doubles.
            unsafe { raw::ffi_call(cif.ptr(), fun, addr_of_mut!(ret).cast(), args.as_mut_ptr()) };
            ret
        })
    });
    g.bench_function("ffi-core dynamic", |b| {
        b.iter(|| {
            // SAFETY: addd is `double addd(double, double)` and takes any values.
            unsafe { f.call(&[black_box(1.5).into(), black_box(2.25).into()]) }.unwrap()
        })
    });
    g.bench_function("ffi-core dynamic, .as_f64()", |b| {
        b.iter(|| {
            // SAFETY: as above.
            unsafe { f.call(&[black_box(1.5).into(), black_box(2.25).into()]) }
                .unwrap()
                .as_f64()
        })
    });
    g.bench_function("ffi-core dynamic, libffi path", |b| {
        b.iter(|| {
            // SAFETY: as above.
            unsafe { f_libffi.call(&[black_box(1.5).into(), black_box(2.25).into()]) }.unwrap()
        })
    });
    g.bench_function("ffi-core typed", |b| {
        // SAFETY: called with its true signature while the library is open.
        b.iter(|| unsafe { typed(black_box(1.5), black_box(2.25)) })
    });
    g.finish();
    assert_eq!(
        // SAFETY: as above.
        unsafe { f.call(&[1.5.into(), 2.25.into()]) }.unwrap(),
        Value::Double(3.75)
    );
}

fn w3_sum_1000(c: &mut Criterion) {
    let lib = benchlib();
    let f = lib.func("q", "sum", "PL").unwrap();
    let f_libffi = lib.func("q", "sum", "PL").unwrap().on_libffi();
    // SAFETY: sum's C signature.
    let typed =
        unsafe { lib.typed::<unsafe extern "C" fn(*const i32, usize) -> i64>("sum") }.unwrap();
    let mut cif = RawCif::new(sint64(), &[pointer(), uint64()]);
    let fun = code(lib.addr("sum").unwrap());
    let values: Vec<i32> = (0..1000).collect();
    let mut g = c.benchmark_group("W3 sum 1000 i32");
    g.bench_function("direct", |b| {
        let direct: unsafe extern "C" fn(*const i32, usize) -> i64 = black_box(sum);
        // SAFETY: `values` holds 1000 ints.
        b.iter(|| unsafe { direct(black_box(values.as_ptr()), black_box(1000)) })
    });
    g.bench_function("raw libffi", |b| {
        b.iter(|| {
            let mut p = black_box(values.as_ptr());
            let mut n = black_box(1000usize);
            let mut args = [addr_of_mut!(p).cast::<c_void>(), addr_of_mut!(n).cast()];
            let mut ret = 0i64;
            // SAFETY: the cif matches sum; args point to a pointer and a size.
            unsafe { raw::ffi_call(cif.ptr(), fun, addr_of_mut!(ret).cast(), args.as_mut_ptr()) };
            ret
        })
    });
    g.bench_function("ffi-core dynamic", |b| {
        b.iter(|| {
            // SAFETY: sum is `int64_t sum(const int32_t *, size_t)`; it reads 1000 ints and
            // `values` holds 1000.
            unsafe { f.call(&[black_box(&values[..]).into(), black_box(1000usize).into()]) }
                .unwrap()
        })
    });
    g.bench_function("ffi-core dynamic, libffi path", |b| {
        b.iter(|| {
            // SAFETY: as above.
            unsafe { f_libffi.call(&[black_box(&values[..]).into(), black_box(1000usize).into()]) }
                .unwrap()
        })
    });
    g.bench_function("ffi-core typed", |b| {
        // SAFETY: called with its true signature while the library is open.
        b.iter(|| unsafe { typed(black_box(values.as_ptr()), black_box(1000)) })
    });
    g.finish();
    assert_eq!(
        // SAFETY: as above.
        unsafe { f.call(&[(&values).into(), 1000.into()]) }.unwrap(),
        Value::Int(499_500)
    );
}

fn w4_strlen(c: &mut Criterion) {
    const TEXT: &str = "Hello, World!";
    const CTEXT: &CStr = c"Hello, World!";
    let libc = Library::this_process().unwrap();
    let f = libc.func("L", "strlen", "s").unwrap();
    let f_libffi = libc.func("L", "strlen", "s").unwrap().on_libffi();
    // SAFETY: strlen's C signature.
    let typed =
        unsafe { libc.typed::<unsafe extern "C" fn(*const c_char) -> usize>("strlen") }.unwrap();
    let mut cif = RawCif::new(uint64(), &[pointer()]);
    let fun = code(libc.addr("strlen").unwrap());
    let mut g = c.benchmark_group("W4 strlen 13 chars");
    g.bench_function("direct", |b| {
        let direct: unsafe extern "C" fn(*const c_char) -> usize = black_box(libc::strlen);
        // SAFETY: a NUL-terminated string.
        b.iter(|| unsafe { direct(black_box(CTEXT.as_ptr())) })
    });
    g.bench_function("raw libffi", |b| {
        b.iter(|| {
            let mut p = black_box(CTEXT.as_ptr());
            let mut args = [addr_of_mut!(p).cast::<c_void>()];
            let mut ret = 0usize;
            // SAFETY: the cif matches strlen; args point to a string pointer.
            unsafe { raw::ffi_call(cif.ptr(), fun, addr_of_mut!(ret).cast(), args.as_mut_ptr()) };
            ret
        })
    });
    g.bench_function("ffi-core dynamic &str (copied)", |b| {
        // SAFETY: strlen is `size_t strlen(const char *)`; the &str is passed as a
        // NUL-terminated copy.
        b.iter(|| unsafe { f.call(&[black_box(TEXT).into()]) }.unwrap())
    });
    g.bench_function("ffi-core dynamic &str (copied), .as_i64()", |b| {
        // SAFETY: as above.
        b.iter(|| {
            unsafe { f.call(&[black_box(TEXT).into()]) }
                .unwrap()
                .as_i64()
        })
    });
    g.bench_function("ffi-core dynamic &str, libffi path", |b| {
        // SAFETY: as above.
        b.iter(|| unsafe { f_libffi.call(&[black_box(TEXT).into()]) }.unwrap())
    });
    g.bench_function("ffi-core dynamic &CStr", |b| {
        // SAFETY: strlen on a NUL-terminated &CStr.
        b.iter(|| unsafe { f.call(&[black_box(CTEXT).into()]) }.unwrap())
    });
    g.bench_function("ffi-core typed", |b| {
        // SAFETY: called with its true signature and a NUL-terminated string.
        b.iter(|| unsafe { typed(black_box(CTEXT.as_ptr())) })
    });
    g.finish();
    // SAFETY: as for the &str benchmark.
    assert_eq!(unsafe { f.call(&[TEXT.into()]) }.unwrap(), Value::UInt(13));
}

/// 64 distinct values in a fixed pseudo-random order (a linear congruential shuffle).
fn qsort_input() -> [i32; 64] {
    let mut v: [i32; 64] = std::array::from_fn(|i| i as i32 * 7 - 200);
    let mut state = 0x2545_f491_u32;
    for i in (1..64).rev() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        v.swap(i, (state >> 8) as usize % (i + 1));
    }
    v
}

static CALLS: AtomicU32 = AtomicU32::new(0);

extern "C" fn counting_cmp(a: *const c_void, b: *const c_void) -> c_int {
    CALLS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: qsort passes pointers to two i32 elements.
    unsafe { cmp_i32(a, b) }
}

/// The libffi closure body for the raw-libffi comparator.
unsafe extern "C" fn raw_cmp(
    _cif: &ffi_cif,
    result: &mut low::ffi_sarg,
    args: *const *const c_void,
    _data: &(),
) {
    // SAFETY: libffi passes two argument pointers, each to a `const void *` element pointer.
    unsafe {
        let x = **(*args.add(0)).cast::<*const i32>();
        let y = **(*args.add(1)).cast::<*const i32>();
        *result = (i32::from(x > y) - i32::from(x < y)).into();
    }
}

type Comparator = unsafe extern "C" fn(*const c_void, *const c_void) -> c_int;

/// Sorts a fresh copy of `input` `iters` times with `sort` and returns the time per comparator call.
fn per_comparator_call(
    iters: u64,
    input: &[i32; 64],
    calls_per_sort: u32,
    sort: impl Fn(&mut [i32; 64]),
) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let mut work = *black_box(input);
        sort(&mut work);
        black_box(&work);
    }
    start.elapsed() / calls_per_sort
}

fn libc_qsort(work: &mut [i32; 64], cmp: Comparator) {
    // SAFETY: 64 four-byte elements and a comparator over them.
    unsafe { libc::qsort(work.as_mut_ptr().cast(), 64, 4, Some(cmp)) }
}

fn w5_qsort_callback(c: &mut Criterion) {
    let input = qsort_input();
    let mut check = input;
    CALLS.store(0, Ordering::Relaxed);
    libc_qsort(&mut check, counting_cmp);
    let calls = CALLS.load(Ordering::Relaxed);
    assert!(check.windows(2).all(|w| w[0] < w[1]));

    // Raw libffi closure with a "i" ("PP") cif.
    let mut cif = RawCif::new(sint32(), &[pointer(), pointer()]);
    let (closure, code_ptr) = low::closure_alloc();
    // SAFETY: the cif (boxed) and the unit userdata outlive the closure, freed below.
    unsafe { low::prep_closure(closure, cif.ptr(), raw_cmp, &(), code_ptr).unwrap() };
    // SAFETY: the closure implements the comparator signature.
    let raw_fn: Comparator = unsafe { std::mem::transmute(code_ptr.as_ptr()) };

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
    let libc = Library::this_process().unwrap();
    let qsort = libc.func("v", "qsort", "pLLC").unwrap();

    let mut g = c.benchmark_group("W5 qsort comparator (per call)");
    g.bench_function("direct (C comparator)", |b| {
        b.iter_custom(|iters| {
            per_comparator_call(iters, &input, calls, |w| libc_qsort(w, black_box(cmp_i32)))
        })
    });
    g.bench_function("raw libffi closure", |b| {
        b.iter_custom(|iters| {
            per_comparator_call(iters, &input, calls, |w| libc_qsort(w, black_box(raw_fn)))
        })
    });
    g.bench_function("ffi-core callback", |b| {
        b.iter_custom(|iters| {
            per_comparator_call(iters, &input, calls, |w| libc_qsort(w, black_box(cb_fn)))
        })
    });
    g.bench_function("ffi-core callback + dynamic qsort", |b| {
        b.iter_custom(|iters| {
            per_comparator_call(iters, &input, calls, |w| {
                // SAFETY: qsort is `void qsort(void *, size_t, size_t, int (*)(const void *,
                // const void *))`; `w` holds 64 elements of 4 bytes, and `cb` compares two
                // i32s and outlives the call (qsort keeps no reference to it).
                unsafe {
                    qsort.call(&[
                        (&mut w[..]).into(),
                        64usize.into(),
                        4usize.into(),
                        (&cb).into(),
                    ])
                }
                .unwrap();
            })
        })
    });
    g.finish();

    let mut sorted = input;
    // SAFETY: as above; `sorted` holds 64 i32s.
    unsafe { qsort.call(&[(&mut sorted).into(), 64.into(), 4.into(), (&cb).into()]) }.unwrap();
    assert_eq!(sorted, check);
    // SAFETY: allocated above; nothing calls it any more.
    unsafe { low::closure_free(closure) };
}

criterion_group!(
    benches,
    w1_int_add,
    w2_double_add,
    w3_sum_1000,
    w4_strlen,
    w5_qsort_callback
);
criterion_main!(benches);
