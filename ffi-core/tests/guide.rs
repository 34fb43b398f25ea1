//! Every example of the MicroPython FFI guide, with exact values.

use std::ffi::c_void;
use std::time::{SystemTime, UNIX_EPOCH};

use ffi_core::{Callback, Library, Value};

fn libc() -> Library {
    // SAFETY: libc is already loaded in this process; opening it again runs nothing new.
    unsafe { Library::open("libc.so.6") }.unwrap()
}

fn libm() -> Library {
    // SAFETY: libm is the system's C maths library; its initialisers are sound.
    unsafe { Library::open("libm.so.6") }.unwrap()
}

fn mylib() -> Library {
    // SAFETY: mylib.c, built by this crate's build script, has no initialisers.
    unsafe { Library::open(env!("FFI_TEST_LIB_MYLIB")) }.unwrap()
}

#[test]
fn sqrt_and_pow() {
    let libm = libm();
    let sqrt = libm.func("d", "sqrt", "d").unwrap();
    // SAFETY: `double sqrt(double)` takes any value.
    let result = unsafe { sqrt.call(&[16.0.into()]) }.unwrap();
    assert_eq!(result, Value::Double(4.0));
    assert_eq!(result.to_string(), "4.0");
    let pow = libm.func("d", "pow", "dd").unwrap();
    // SAFETY: `double pow(double, double)` takes any values.
    let result = unsafe { pow.call(&[2.0.into(), 8.0.into()]) }.unwrap();
    assert_eq!(result, Value::Double(256.0));
    assert_eq!(result.to_string(), "256.0");
}

#[test]
fn time_with_null() {
    let time = libc().func("i", "time", "p").unwrap();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // SAFETY: `time_t time(time_t *)` accepts NULL (and then writes nothing); the guide's
    // `i` return reads the low 32 bits of the 64-bit time_t register, as noted below.
    let t = unsafe { time.call(&[ffi_core::Arg::Null]) }
        .unwrap()
        .as_i64()
        .unwrap();
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // "i" truncates time_t to 32 bits, as in the guide; fine until 2038.
    assert!(before <= t && t <= after, "{before} <= {t} <= {after}");
}

#[test]
fn getpid() {
    let getpid = libc().func("i", "getpid", "").unwrap();
    // SAFETY: `pid_t getpid(void)` (pid_t is int) has no preconditions.
    assert_eq!(
        unsafe { getpid.call(&[]) }.unwrap(),
        Value::Int(std::process::id().into())
    );
}

#[test]
fn gethostname() {
    let gethostname = libc().func("i", "gethostname", "pl").unwrap();
    let mut hostname = [0u8; 256];
    // SAFETY: `int gethostname(char *, size_t)` (size_t is `l`-sized); hostname is 256 bytes
    // and it writes at most the 256 we pass.
    let ret = unsafe { gethostname.call(&[(&mut hostname).into(), 256.into()]) }.unwrap();
    assert_eq!(ret, Value::Int(0));
    let end = hostname.iter().position(|b| *b == 0).unwrap();
    let ours = std::str::from_utf8(&hostname[..end]).unwrap();

    let mut theirs = [0u8; 256];
    // SAFETY: the buffer is 256 writable bytes.
    assert_eq!(
        unsafe { libc::gethostname(theirs.as_mut_ptr().cast(), theirs.len()) },
        0
    );
    let theirs_end = theirs.iter().position(|b| *b == 0).unwrap();
    assert_eq!(ours.as_bytes(), &theirs[..theirs_end]);
    let proc = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(ours, proc.trim_end());
}

#[test]
fn strlen_and_memcpy() {
    let strlen = libc().func("l", "strlen", "s").unwrap();
    // SAFETY: `size_t strlen(const char *)` on a NUL-terminated copy.
    assert_eq!(
        unsafe { strlen.call(&["Hello, World!".into()]) }.unwrap(),
        Value::Int(13)
    );
    let memcpy = libc().func("p", "memcpy", "pPl").unwrap();
    let src = *b"Source";
    let mut dst = [0u8; 6];
    let dst_addr = dst.as_ptr() as *mut c_void;
    // SAFETY: `void *memcpy(void *, const void *, size_t)`; both buffers are 6 bytes, the
    // length passed, and distinct.
    let ret = unsafe { memcpy.call(&[(&mut dst).into(), (&src).into(), 6.into()]) }.unwrap();
    assert_eq!(ret, Value::Ptr(dst_addr));
    assert_eq!(&dst, b"Source");
}

#[test]
fn file_operations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.txt");
    let path = path.to_str().unwrap();
    let libc = libc();
    // open(2) is variadic: with O_CREAT its mode is a variadic unsigned int.
    let open_create = libc.func_variadic("i", "open", "si").unwrap();
    let open_func = libc.func("i", "open", "si").unwrap();
    let close_func = libc.func("i", "close", "i").unwrap();
    let read_func = libc.func("l", "read", "ipl").unwrap();
    let write_func = libc.func("l", "write", "iPl").unwrap();
    let (o_rdonly, o_wronly, o_creat, o_trunc) = (0, 1, 64, 512);

    // SAFETY: `int open(const char *, int, ...)` with O_CREAT reads one variadic mode_t,
    // typed `I`; the path is a NUL-terminated copy.
    let fd = unsafe {
        open_create.call(
            "I",
            &[
                path.into(),
                (o_wronly | o_creat | o_trunc).into(),
                0o644u32.into(),
            ],
        )
    }
    .unwrap()
    .as_i64()
    .unwrap();
    assert!(fd >= 0, "open failed: {fd}");
    let data = b"Hello from FFI!\n";
    // SAFETY: `ssize_t write(int, const void *, size_t)` reads data.len() bytes of data.
    let written = unsafe { write_func.call(&[fd.into(), data.into(), data.len().into()]) }.unwrap();
    assert_eq!(written, Value::Int(16));
    // SAFETY: `int close(int)` on the fd this test opened, closed once.
    assert_eq!(
        unsafe { close_func.call(&[fd.into()]) }.unwrap(),
        Value::Int(0)
    );
    assert_eq!(std::fs::read(path).unwrap(), data);

    // SAFETY: open's fixed parameters are `const char *` and `int`; with O_RDONLY it reads
    // no mode argument, and the path is a NUL-terminated copy.
    let fd = unsafe { open_func.call(&[path.into(), o_rdonly.into()]) }
        .unwrap()
        .as_i64()
        .unwrap();
    assert!(fd >= 0);
    let mut buf = vec![0u8; 1024];
    // SAFETY: `ssize_t read(int, void *, size_t)` writes at most 1024 bytes; buf is 1024.
    let n = unsafe { read_func.call(&[fd.into(), (&mut buf).into(), 1024.into()]) }.unwrap();
    assert_eq!(n, Value::Int(16));
    assert_eq!(&buf[..16], data);
    // SAFETY: `int close(int)` on the fd this test opened, closed once.
    assert_eq!(
        unsafe { close_func.call(&[fd.into()]) }.unwrap(),
        Value::Int(0)
    );
}

#[test]
fn qsort_with_pp_callback_and_piic() {
    let compare = |args: &[Value]| {
        // SAFETY: qsort passes pointers to elements of the byte array being sorted.
        let (a, b) = unsafe {
            (
                *args[0].as_ptr().unwrap().cast::<u8>(),
                *args[1].as_ptr().unwrap().cast::<u8>(),
            )
        };
        i32::from(a) - i32::from(b)
    };
    let cmp_callback = Callback::new("i", "PP", compare).unwrap();
    let qsort = libc().func("v", "qsort", "piiC").unwrap();
    let mut data = *b"dcba";
    let len = data.len();
    // SAFETY: qsort is `void qsort(void *, size_t, size_t, int (*)(const void *, const void
    // *))`. The guide declares the sizes `i`: libffi passes an int sign-extended to the full
    // register on the 64-bit targets supported, so qsort reads 4 and 1. data holds 4
    // elements of 1 byte; the callback compares two of them and outlives the call.
    unsafe {
        qsort.call(&[
            (&mut data).into(),
            len.into(),
            1.into(),
            (&cmp_callback).into(),
        ])
    }
    .unwrap();
    assert_eq!(&data, b"abcd");
}

#[test]
fn errno_as_a_variable() {
    let libc = libc();
    let open = libc.func("i", "open", "si").unwrap();
    let errno = libc.var("i", "errno").unwrap();
    // SAFETY: open's fixed parameters are `const char *` and `int`; with O_RDONLY (0) it
    // reads no mode argument, and the path is a NUL-terminated copy.
    assert_eq!(
        unsafe { open.call(&["/nonexistent/dir/file".into(), 0.into()]) }.unwrap(),
        Value::Int(-1)
    );
    // SAFETY (each errno access below): glibc's errno is an `int`, and `dlsym` resolved
    // this thread's own, which no other thread writes.
    assert_eq!(unsafe { errno.get() }, Value::Int(libc::ENOENT.into()));
    // SAFETY: as above.
    unsafe { errno.set(0) }.unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { errno.get() }, Value::Int(0));
    // It is the real errno of this thread, not a copy.
    assert_eq!(ffi_core::errno(), 0);
    ffi_core::set_errno(libc::EINTR);
    // SAFETY: as above.
    assert_eq!(unsafe { errno.get() }, Value::Int(libc::EINTR.into()));
    // SAFETY: as above.
    unsafe { errno.set(libc::EAGAIN) }.unwrap();
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EAGAIN)
    );
}

#[test]
fn custom_library_array_sum_and_multiply() {
    let mylib = mylib();
    let array_sum = mylib.func("q", "array_sum", "Pl").unwrap();
    let array_multiply = mylib.func("v", "array_multiply", "pli").unwrap();
    let mut data: [i32; 5] = [1, 2, 3, 4, 5];
    // SAFETY: `int64_t array_sum(const int32_t *, size_t)` reads data.len() ints of data.
    let total = unsafe { array_sum.call(&[(&data).into(), data.len().into()]) }.unwrap();
    assert_eq!(total, Value::Int(15));
    // SAFETY: `void array_multiply(int32_t *, size_t, int32_t)` rewrites 5 ints; data holds 5.
    let ret =
        unsafe { array_multiply.call(&[(&mut data[..]).into(), 5.into(), 2.into()]) }.unwrap();
    assert_eq!(ret, Value::None);
    assert_eq!(data, [2, 4, 6, 8, 10]);
    // A Vec<i32> and negative totals.
    let v: Vec<i32> = vec![i32::MIN, i32::MIN, -1];
    // SAFETY: as above: array_sum reads 3 ints; v holds 3.
    assert_eq!(
        unsafe { array_sum.call(&[(&v).into(), 3.into()]) }.unwrap(),
        Value::Int(2 * i64::from(i32::MIN) - 1)
    );
}

#[test]
fn math_functions_match_rust() {
    let libm = libm();
    #[allow(clippy::approx_constant)] // the guide's literal, not π/4 itself
    let angle = 0.785398;
    type Math = fn(f64) -> f64;
    let cases: [(&str, Math); 5] = [
        ("sin", f64::sin),
        ("cos", f64::cos),
        ("tan", f64::tan),
        ("log", f64::ln),
        ("exp", f64::exp),
    ];
    for (name, rust) in cases {
        let f = libm.func("d", name, "d").unwrap();
        for x in [angle, 0.5, 2.0, 10.0] {
            // SAFETY: sin, cos, tan, log and exp are all `double f(double)` and take any
            // value.
            assert_eq!(
                unsafe { f.call(&[x.into()]) }.unwrap(),
                Value::Double(rust(x)),
                "{name}({x})"
            );
        }
    }
}

#[test]
fn open_none_reaches_libc_and_addr_is_the_symbol() {
    let main = Library::this_process().unwrap();
    let addr = main.addr("getpid").unwrap();
    assert_eq!(addr, libc::getpid as *mut c_void);
    // ffi.func at a raw address.
    // SAFETY: `addr` is getpid, `pid_t getpid(void)`.
    let getpid = unsafe { ffi_core::Function::from_addr(addr, "i", "") }.unwrap();
    // SAFETY: as declared above, getpid has no preconditions.
    assert_eq!(
        unsafe { getpid.call(&[]) }.unwrap(),
        Value::Int(std::process::id().into())
    );
}

#[test]
fn close_is_explicit_and_idempotent() {
    let mut libm = libm();
    let sqrt = libm.func("d", "sqrt", "d").unwrap();
    libm.close().unwrap();
    assert!(libm.is_closed());
    libm.close().unwrap();
    // A function declared before closing keeps the library loaded.
    // SAFETY: `double sqrt(double)` takes any value; the function keeps libm loaded.
    assert_eq!(
        unsafe { sqrt.call(&[2.25.into()]) }.unwrap(),
        Value::Double(1.5)
    );
    drop(sqrt);
    let mut mylib = mylib();
    mylib.close().unwrap();
    mylib.close().unwrap();
}
