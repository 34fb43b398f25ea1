//! Every example of the MicroPython FFI guide, with exact values.

use std::ffi::c_void;
use std::time::{SystemTime, UNIX_EPOCH};

use ffi_core::{Callback, Library, Value};

fn libc() -> Library {
    Library::open("libc.so.6").unwrap()
}

#[test]
fn sqrt_and_pow() {
    let libm = Library::open("libm.so.6").unwrap();
    let sqrt = libm.func("d", "sqrt", "d").unwrap();
    let result = sqrt.call(&[16.0.into()]).unwrap();
    assert_eq!(result, Value::Double(4.0));
    assert_eq!(result.to_string(), "4.0");
    let pow = libm.func("d", "pow", "dd").unwrap();
    let result = pow.call(&[2.0.into(), 8.0.into()]).unwrap();
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
    let t = time.call(&[ffi_core::Arg::Null]).unwrap().as_i64().unwrap();
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
    assert_eq!(
        getpid.call(&[]).unwrap(),
        Value::Int(std::process::id().into())
    );
}

#[test]
fn gethostname() {
    let gethostname = libc().func("i", "gethostname", "pl").unwrap();
    let mut hostname = [0u8; 256];
    let ret = gethostname
        .call(&[(&mut hostname).into(), 256.into()])
        .unwrap();
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
    assert_eq!(
        strlen.call(&["Hello, World!".into()]).unwrap(),
        Value::Int(13)
    );
    let memcpy = libc().func("p", "memcpy", "ppl").unwrap();
    let src = *b"Source";
    let mut dst = [0u8; 6];
    let dst_addr = dst.as_ptr() as *mut c_void;
    let ret = memcpy
        .call(&[(&mut dst).into(), (&src).into(), 6.into()])
        .unwrap();
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
    let write_func = libc.func("l", "write", "ipl").unwrap();
    let (o_rdonly, o_wronly, o_creat, o_trunc) = (0, 1, 64, 512);

    let fd = open_create
        .call(
            "I",
            &[
                path.into(),
                (o_wronly | o_creat | o_trunc).into(),
                0o644u32.into(),
            ],
        )
        .unwrap()
        .as_i64()
        .unwrap();
    assert!(fd >= 0, "open failed: {fd}");
    let data = b"Hello from FFI!\n";
    let written = write_func
        .call(&[fd.into(), data.into(), data.len().into()])
        .unwrap();
    assert_eq!(written, Value::Int(16));
    assert_eq!(close_func.call(&[fd.into()]).unwrap(), Value::Int(0));
    assert_eq!(std::fs::read(path).unwrap(), data);

    let fd = open_func
        .call(&[path.into(), o_rdonly.into()])
        .unwrap()
        .as_i64()
        .unwrap();
    assert!(fd >= 0);
    let mut buf = vec![0u8; 1024];
    let n = read_func
        .call(&[fd.into(), (&mut buf).into(), 1024.into()])
        .unwrap();
    assert_eq!(n, Value::Int(16));
    assert_eq!(&buf[..16], data);
    assert_eq!(close_func.call(&[fd.into()]).unwrap(), Value::Int(0));
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
    qsort
        .call(&[
            (&mut data).into(),
            len.into(),
            1.into(),
            (&cmp_callback).into(),
        ])
        .unwrap();
    assert_eq!(&data, b"abcd");
}

#[test]
fn errno_as_a_variable() {
    let libc = libc();
    let open = libc.func("i", "open", "si").unwrap();
    let errno = libc.var("i", "errno").unwrap();
    assert_eq!(
        open.call(&["/nonexistent/dir/file".into(), 0.into()])
            .unwrap(),
        Value::Int(-1)
    );
    assert_eq!(errno.get(), Value::Int(libc::ENOENT.into()));
    errno.set(0).unwrap();
    assert_eq!(errno.get(), Value::Int(0));
    // It is the real errno of this thread, not a copy.
    assert_eq!(ffi_core::errno(), 0);
    ffi_core::set_errno(libc::EINTR);
    assert_eq!(errno.get(), Value::Int(libc::EINTR.into()));
    errno.set(libc::EAGAIN).unwrap();
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EAGAIN)
    );
}

#[test]
fn custom_library_array_sum_and_multiply() {
    let mylib = Library::open(env!("FFI_TEST_LIB_MYLIB")).unwrap();
    let array_sum = mylib.func("q", "array_sum", "pl").unwrap();
    let array_multiply = mylib.func("v", "array_multiply", "pli").unwrap();
    let mut data: [i32; 5] = [1, 2, 3, 4, 5];
    let total = array_sum
        .call(&[(&data).into(), data.len().into()])
        .unwrap();
    assert_eq!(total, Value::Int(15));
    let ret = array_multiply
        .call(&[(&mut data[..]).into(), 5.into(), 2.into()])
        .unwrap();
    assert_eq!(ret, Value::None);
    assert_eq!(data, [2, 4, 6, 8, 10]);
    // A Vec<i32> and negative totals.
    let v: Vec<i32> = vec![i32::MIN, i32::MIN, -1];
    assert_eq!(
        array_sum.call(&[(&v).into(), 3.into()]).unwrap(),
        Value::Int(2 * i64::from(i32::MIN) - 1)
    );
}

#[test]
fn math_functions_match_rust() {
    let libm = Library::open("libm.so.6").unwrap();
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
            assert_eq!(
                f.call(&[x.into()]).unwrap(),
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
    assert_eq!(
        getpid.call(&[]).unwrap(),
        Value::Int(std::process::id().into())
    );
}

#[test]
fn close_is_explicit_and_idempotent() {
    let mut libm = Library::open("libm.so.6").unwrap();
    let sqrt = libm.func("d", "sqrt", "d").unwrap();
    libm.close().unwrap();
    assert!(libm.is_closed());
    libm.close().unwrap();
    // A function declared before closing keeps the library loaded.
    assert_eq!(sqrt.call(&[2.25.into()]).unwrap(), Value::Double(1.5));
    drop(sqrt);
    let mut mylib = Library::open(env!("FFI_TEST_LIB_MYLIB")).unwrap();
    mylib.close().unwrap();
    mylib.close().unwrap();
}
