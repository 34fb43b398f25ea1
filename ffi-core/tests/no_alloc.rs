//! Proves the call path does not touch the heap: a counting global allocator (one counter
//! per thread, so tests running in parallel do not disturb each other) around calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ffi_core::{CallPath, Callback, Library, Value};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards every request to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the number of heap allocations it made.
fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = std::hint::black_box(f());
    (r, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn the_counter_sees_allocations() {
    let (v, n) = allocations(|| vec![1u8; 10]);
    assert_eq!((v.len(), n), (10, 1));
}

#[test]
fn scalar_calls_do_not_allocate() {
    let libc = Library::this_process().unwrap();
    // SAFETY: libm is the system's C maths library; its initialisers are sound.
    let libm = unsafe { Library::open("libm.so.6") }.unwrap();
    let getpid = libc.func("i", "getpid", "").unwrap();
    let sqrt = libm.func("d", "sqrt", "d").unwrap();
    let pow = libm.func("d", "pow", "dd").unwrap();
    let powf = libm.func("f", "powf", "ff").unwrap();
    let labs = libc.func("l", "labs", "l").unwrap();
    let (r, n) = allocations(|| {
        // SAFETY: each is declared with its C signature (`pid_t getpid(void)`, `double
        // sqrt(double)`, `double pow(double, double)`, `float powf(float, float)`, `long
        // labs(long)`), and each takes any value of its argument types.
        unsafe {
            [
                getpid.call(&[]).unwrap(),
                sqrt.call(&[16.0.into()]).unwrap(),
                pow.call(&[2.into(), 10.into()]).unwrap(),
                powf.call(&[3.0f32.into(), 2.into()]).unwrap(),
                labs.call(&[(-5i64).into()]).unwrap(),
            ]
        }
    });
    assert_eq!(n, 0);
    assert_eq!(
        r,
        [
            Value::Int(std::process::id().into()),
            Value::Double(4.0),
            Value::Double(1024.0),
            Value::Float(9.0),
            Value::Int(5)
        ]
    );
}

#[test]
fn string_arguments_up_to_256_bytes_do_not_allocate() {
    let libc = Library::this_process().unwrap();
    let strlen = libc.func("l", "strlen", "s").unwrap();
    let strcmp = libc.func("i", "strcmp", "ss").unwrap();
    let s256 = "x".repeat(256);
    let s100 = "y".repeat(100);
    let (r, n) = allocations(|| {
        // SAFETY: `size_t strlen(const char *)` and `int strcmp(const char *, const char *)`
        // read only NUL-terminated strings: the &str arguments are copied with a NUL, the
        // &CStr has one.
        unsafe {
            [
                strlen.call(&["Hello, World!".into()]).unwrap(),
                strlen.call(&[s256.as_str().into()]).unwrap(),
                strcmp
                    .call(&[s100.as_str().into(), s100.as_str().into()])
                    .unwrap(),
                strlen.call(&[c"a C string".into()]).unwrap(),
            ]
        }
    });
    assert_eq!(n, 0);
    assert_eq!(
        r,
        [
            Value::Int(13),
            Value::Int(256),
            Value::Int(0),
            Value::Int(10)
        ]
    );
    // Beyond the stack arena the copy goes to the heap (and the counter sees it).
    let big = "z".repeat(ffi_core::ARENA_BYTES);
    // SAFETY: as above, strlen of a NUL-terminated copy.
    let (r, n) = allocations(|| unsafe { strlen.call(&[big.as_str().into()]) }.unwrap());
    assert_eq!(r, Value::Int(big.len() as i64));
    assert!(n >= 1);
}

#[test]
fn buffers_callbacks_errno_variadic_and_variables_do_not_allocate() {
    // SAFETY: mylib.c and testlib.c, built by this crate's build script, have no initialisers.
    let mylib = unsafe { Library::open(env!("FFI_TEST_LIB_MYLIB")) }.unwrap();
    // SAFETY: as above.
    let testlib = unsafe { Library::open(env!("FFI_TEST_LIB_TESTLIB")) }.unwrap();
    let libc = Library::this_process().unwrap();
    let array_sum = mylib.func("q", "array_sum", "Pl").unwrap();
    let array_multiply = mylib.func("v", "array_multiply", "pli").unwrap();
    let qsort = libc.func("v", "qsort", "pLLC").unwrap();
    let cmp = Callback::new("i", "PP", |args: &[Value]| {
        // SAFETY: qsort passes pointers to two bytes of the array.
        let (a, b) = unsafe {
            (
                *args[0].as_ptr().unwrap().cast::<u8>(),
                *args[1].as_ptr().unwrap().cast::<u8>(),
            )
        };
        i32::from(a) - i32::from(b)
    })
    .unwrap();
    let apply_dd = testlib.func("d", "apply_dd", "Cdd").unwrap();
    let add = Callback::new("d", "dd", |a: &[Value]| {
        a[0].as_f64().unwrap() + a[1].as_f64().unwrap()
    })
    .unwrap();
    let open = libc.func("i", "open", "si").unwrap();
    let snprintf = libc.func_variadic("i", "snprintf", "pLs").unwrap();
    let g_int = testlib.var("i", "g_int").unwrap();
    let mut data: Vec<i32> = (1..=1000).collect();
    let mut bytes: Vec<u8> = (0..64u8).rev().collect();
    let mut text = [0u8; 32];

    let (r, n) = allocations(|| {
        // SAFETY: `int64_t array_sum(const int32_t *, size_t)` reads 1000 ints; data holds 1000.
        let sum = unsafe { array_sum.call(&[(&data).into(), 1000.into()]) }.unwrap();
        // SAFETY: `void array_multiply(int32_t *, size_t, int32_t)` rewrites 1000 ints in
        // place; data holds 1000.
        unsafe { array_multiply.call(&[(&mut data).into(), 1000.into(), 3.into()]) }.unwrap();
        // SAFETY: `void qsort(void *, size_t, size_t, int (*)(const void *, const void *))`;
        // bytes holds 64 elements of 1 byte, cmp compares two of them and outlives the call.
        unsafe { qsort.call(&[(&mut bytes).into(), 64.into(), 1.into(), (&cmp).into()]) }.unwrap();
        // SAFETY: `double apply_dd(double (*)(double, double), double, double)` calls `add`,
        // a "d"/"dd" callback, once during the call.
        let added = unsafe { apply_dd.call(&[(&add).into(), 1.5.into(), 2.into()]) }.unwrap();
        // SAFETY: open's fixed parameters are `const char *` and `int`; with O_RDONLY (0) it
        // reads no mode argument, and the path is a NUL-terminated copy.
        let (fd, errno) =
            unsafe { open.call_with_errno(&["/no/such/file".into(), 0.into()]) }.unwrap();
        // SAFETY: `int snprintf(char *, size_t, const char *, ...)`; text is 32 bytes, the
        // size passed, and "%d %.1f" reads exactly the int and double given.
        let printed = unsafe {
            snprintf.call(
                "id",
                &[
                    (&mut text).into(),
                    32.into(),
                    "%d %.1f".into(),
                    42.into(),
                    0.5.into(),
                ],
            )
        }
        .unwrap();
        // SAFETY: testlib's g_int is an `int`; no other thread touches it in this test binary
        // (other tests here do not use it).
        unsafe { g_int.set(77) }.unwrap();
        // SAFETY: as above.
        let var = unsafe { g_int.get() };
        (sum, added, fd, errno, printed, var)
    });
    assert_eq!(n, 0);
    assert_eq!(
        r,
        (
            Value::Int(500_500),
            Value::Double(3.5),
            Value::Int(-1),
            libc::ENOENT,
            Value::Int(6),
            Value::Int(77)
        )
    );
    assert_eq!(data[999], 3000);
    assert!(bytes.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(&text[..7], b"42 0.5\0");
}

#[test]
fn typed_calls_do_not_allocate() {
    // SAFETY: libm is the system's C maths library; its initialisers are sound.
    let libm = unsafe { Library::open("libm.so.6") }.unwrap();
    // SAFETY: sqrt's C signature.
    let sqrt = unsafe { libm.typed::<unsafe extern "C" fn(f64) -> f64>("sqrt") }.unwrap();
    // SAFETY: called with its true signature while libm is open.
    let (r, n) = allocations(|| unsafe { sqrt(6.25) });
    assert_eq!((r, n), (2.5, 0));
}

/// Whether functions whose arguments all fit in registers take the register path here:
/// on x86-64 and aarch64 Linux, unless `FFI_CORE_LIBFFI_ONLY` forces libffi.
fn register_path_expected() -> bool {
    cfg!(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )) && std::env::var_os("FFI_CORE_LIBFFI_ONLY").is_none_or(|v| v.is_empty() || v == "0")
}

#[test]
fn the_register_path_does_not_allocate() {
    let libc = Library::this_process().unwrap();
    // SAFETY: libm is the system's C maths library; its initialisers are sound.
    let libm = unsafe { Library::open("libm.so.6") }.unwrap();
    // SAFETY: testlib.c, built by this crate's build script, has no initialisers.
    let testlib = unsafe { Library::open(env!("FFI_TEST_LIB_TESTLIB")) }.unwrap();
    let strlen = libc.func("L", "strlen", "s").unwrap();
    let open = libc.func("i", "open", "si").unwrap();
    let qsort = libc.func("v", "qsort", "pLLC").unwrap();
    let fma = libm.func("d", "fma", "ddd").unwrap();
    let ldexpf = libm.func("f", "ldexpf", "fi").unwrap();
    let apply_dd = testlib.func("d", "apply_dd", "Cdd").unwrap();
    let add = Callback::new("d", "dd", |a: &[Value]| {
        a[0].as_f64().unwrap() + a[1].as_f64().unwrap()
    })
    .unwrap();
    let cmp = Callback::new("i", "PP", |args: &[Value]| {
        // SAFETY: qsort passes pointers to two bytes of the array.
        let (a, b) = unsafe {
            (
                *args[0].as_ptr().unwrap().cast::<u8>(),
                *args[1].as_ptr().unwrap().cast::<u8>(),
            )
        };
        i32::from(a) - i32::from(b)
    })
    .unwrap();
    let want = if register_path_expected() {
        CallPath::Registers
    } else {
        CallPath::Libffi
    };
    for f in [&strlen, &open, &qsort, &fma, &ldexpf, &apply_dd] {
        assert_eq!(f.call_path(), want, "{f:?}");
    }
    // The comparator runs through ffi-core's own trampoline where there is one (x86-64 and
    // aarch64).
    let trampoline = if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        want
    } else {
        CallPath::Libffi
    };
    assert_eq!(cmp.call_path(), trampoline);
    let mut bytes: Vec<u8> = (0..64u8).rev().collect();
    let (r, n) = allocations(|| {
        // SAFETY: `size_t strlen(const char *)` reads the NUL-terminated copy.
        let len = unsafe { strlen.call(&["Hello, World!".into()]) }.unwrap();
        // SAFETY: open's fixed parameters are `const char *` and `int`; with O_RDONLY (0) it
        // reads no mode argument, and the path is a NUL-terminated copy.
        let (fd, errno) =
            unsafe { open.call_with_errno(&["/no/such/file".into(), 0.into()]) }.unwrap();
        // SAFETY: `void qsort(void *, size_t, size_t, int (*)(const void *, const void *))`;
        // bytes holds 64 elements of 1 byte, cmp compares two of them and outlives the call.
        unsafe { qsort.call(&[(&mut bytes).into(), 64.into(), 1.into(), (&cmp).into()]) }.unwrap();
        // SAFETY: `double fma(double, double, double)` and `float ldexpf(float, int)` take
        // any values.
        let fused = unsafe { fma.call(&[2.0.into(), 3.0.into(), 0.5.into()]) }.unwrap();
        // SAFETY: as above.
        let scaled = unsafe { ldexpf.call(&[1.5f32.into(), 4.into()]) }.unwrap();
        // SAFETY: `double apply_dd(double (*)(double, double), double, double)` calls `add`,
        // a "d"/"dd" callback, once during the call.
        let added = unsafe { apply_dd.call(&[(&add).into(), 1.5.into(), 2.into()]) }.unwrap();
        (len, fd, errno, fused, scaled, added)
    });
    assert_eq!(n, 0);
    assert_eq!(
        r,
        (
            Value::UInt(13),
            Value::Int(-1),
            libc::ENOENT,
            Value::Double(6.5),
            Value::Float(24.0),
            Value::Double(3.5)
        )
    );
    assert!(bytes.windows(2).all(|w| w[0] <= w[1]));
}
