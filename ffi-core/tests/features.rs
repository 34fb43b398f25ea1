//! Variables, memory views, variadic calls, the typed binding, errno capture, and calls
//! beyond the inline limits.

use std::ffi::{c_long, c_ulong, c_void, CStr};

use ffi_core::{memory, Arg, Library, TypeCode, Value, Variable, ARENA_BYTES, INLINE_ARGS};

fn testlib() -> Library {
    // SAFETY: testlib.c, built by this crate's build script, has no initialisers.
    unsafe { Library::open(env!("FFI_TEST_LIB_TESTLIB")) }.unwrap()
}

fn libm() -> Library {
    // SAFETY: libm is the system's C maths library; its initialisers are sound.
    unsafe { Library::open("libm.so.6") }.unwrap()
}

// Every variable access in this file shares one justification, stated once in `get`/`set`.

/// Reads `v`.
fn get(v: &Variable) -> Value {
    // SAFETY: every variable in this file is one of testlib.c's globals, declared with the
    // code of its C type there (g_ptr, a `void *`, as `p`; g_str and g_null_str, `const char
    // *` holding a string literal or NULL, as `s`), and only `variables_of_every_kind`, on
    // one thread, touches them in this test binary.
    unsafe { v.get() }
}

/// Writes `value` into `v`.
fn set<'a>(v: &Variable, value: impl Into<Arg<'a>>) -> ffi_core::Result<()> {
    // SAFETY: as in `get`; the pointers stored (a static and NULL) are never dereferenced
    // by C.
    unsafe { v.set(value) }
}

/// `v` as C's `(long)v` gives it on this target, widened back (32 bits on armv7).
fn c_long_value(v: i64) -> i64 {
    // A no-op conversion on 64-bit targets, a widening on armv7.
    #[allow(clippy::useless_conversion)]
    i64::from(v as c_long)
}

#[test]
fn variables_of_every_kind() {
    let lib = testlib();
    let g_i8 = lib.var("b", "g_i8").unwrap();
    assert_eq!(get(&g_i8), Value::Int(-5));
    set(&g_i8, 300).unwrap(); // truncated like a C cast: 300 as int8_t == 44
    assert_eq!(get(&g_i8), Value::Int(44));
    let g_u16 = lib.var("H", "g_u16").unwrap();
    assert_eq!(get(&g_u16), Value::UInt(65535));
    set(&g_u16, -2).unwrap();
    assert_eq!(get(&g_u16), Value::UInt(65534));
    let g_uint = lib.var("I", "g_uint").unwrap();
    assert_eq!(get(&g_uint), Value::UInt(4_000_000_000));
    let g_long = lib.var("l", "g_long").unwrap();
    // `long` is the target's: 64 bits on aarch64 and x86-64, 32 on armv7 (see testlib.c).
    assert_eq!(get(&g_long), Value::Int(c_long_value(-1_234_567_890_123)));
    let g_u64 = lib.var("Q", "g_u64").unwrap();
    assert_eq!(get(&g_u64), Value::UInt(u64::MAX));
    let g_float = lib.var("f", "g_float").unwrap();
    assert_eq!(get(&g_float), Value::Float(1.5));
    set(&g_float, 2).unwrap();
    assert_eq!(get(&g_float).to_string(), "2.0");
    let g_double = lib.var("d", "g_double").unwrap();
    assert_eq!(get(&g_double), Value::Double(2.25));
    set(&g_double, true).unwrap();
    assert_eq!(get(&g_double), Value::Double(1.0));
    assert_eq!(
        get(&lib.var("s", "g_str").unwrap()),
        Value::Str("hello from C".into())
    );
    assert_eq!(get(&lib.var("s", "g_null_str").unwrap()), Value::None);
    let g_ptr = lib.var("p", "g_ptr").unwrap();
    assert_eq!(get(&g_ptr), Value::Ptr(std::ptr::null_mut()));
    static TARGET: u32 = 7;
    set(&g_ptr, &TARGET as *const u32).unwrap();
    assert_eq!(
        get(&g_ptr),
        Value::Ptr(&TARGET as *const u32 as *mut c_void)
    );
    set(&g_ptr, Arg::Null).unwrap();
    assert_eq!(get(&g_ptr).as_ptr(), Some(std::ptr::null_mut()));
    // A variable declared at the same address as the library's sees the same memory.
    // SAFETY: g_int is a live, aligned int in the test library, used by this thread only.
    let alias = unsafe { ffi_core::Variable::from_addr(lib.addr("g_int").unwrap(), "i") }.unwrap();
    set(&lib.var("i", "g_int").unwrap(), -9).unwrap();
    assert_eq!(get(&alias), Value::Int(-9));
    assert_eq!(alias.code(), TypeCode::Int);
}

#[test]
fn plain_char_reads_as_its_code_says_on_signed_and_unsigned_char_targets() {
    let lib = testlib();
    let is_signed = lib.func("i", "char_is_signed", "").unwrap();
    // SAFETY: `int char_is_signed(void)` has no preconditions.
    let signed = unsafe { is_signed.call(&[]) }.unwrap();
    // The C compiler and Rust agree on the platform's `char` (unsigned on ARM).
    assert_eq!(
        signed,
        Value::Int(i64::from(i32::from(std::ffi::c_char::MIN) < 0))
    );
    assert_eq!(get(&lib.var("b", "g_char_ff").unwrap()), Value::Int(-1));
    assert_eq!(get(&lib.var("B", "g_char_ff").unwrap()), Value::UInt(255));
    for (code, want) in [("b", Value::Int(-1)), ("B", Value::UInt(255))] {
        let f = lib.func(code, "char_ff", "").unwrap();
        // SAFETY: `char char_ff(void)` has no preconditions; `b`/`B` are char-sized.
        assert_eq!(unsafe { f.call(&[]) }.unwrap(), want, "{code}");
    }
}

#[test]
fn variadic_64_bit_values_after_32_bit_ones_keep_their_alignment() {
    // 32-bit ARM passes a variadic 64-bit value in an even register pair or an 8-aligned
    // stack slot, skipping a word after an odd number of ints; AArch64 and x86-64 do not.
    let libc = Library::this_process().unwrap();
    let snprintf = libc.func_variadic("i", "snprintf", "pLs").unwrap();
    let mut buf = [0u8; 96];
    // SAFETY: `int snprintf(char *, size_t, const char *, ...)`; buf is 96 bytes, the size
    // passed, and the conversions (%d %lld %d %.2f %lld %d %.1f) are exactly the codes
    // "iqidqid".
    unsafe {
        snprintf.call(
            "iqidqid",
            &[
                (&mut buf).into(),
                96.into(),
                "%d %lld %d %.2f %lld %d %.1f".into(),
                1.into(),
                (-(1_i64 << 40)).into(),
                3.into(),
                2.5.into(),
                i64::MAX.into(),
                7.into(),
                0.5.into(),
            ],
        )
    }
    .unwrap();
    assert_eq!(
        CStr::from_bytes_until_nul(&buf).unwrap().to_str().unwrap(),
        "1 -1099511627776 3 2.50 9223372036854775807 7 0.5"
    );
}

#[test]
fn memory_views_write_through_to_c() {
    let lib = testlib();
    let get_shared = lib.func("p", "get_shared", "").unwrap();
    let shared_at = lib.func("i", "shared_at", "i").unwrap();
    // SAFETY: `unsigned char *get_shared(void)` has no preconditions.
    let ptr = unsafe { get_shared.call(&[]) }.unwrap().as_ptr().unwrap();
    // SAFETY: get_shared returns a static 16-byte array; this test is its only user.
    let view = unsafe { memory::as_bytes_mut(ptr, 16) }.unwrap();
    assert_eq!(&view[..15], b"0123456789abcde");
    view[0] = b'X';
    view[15] = b'!';
    // SAFETY: `int shared_at(int i)` reads shared_buf[i]; 0 and 15 are within its 16 bytes.
    assert_eq!(
        unsafe { shared_at.call(&[0.into()]) }.unwrap(),
        Value::Int(i64::from(b'X'))
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { shared_at.call(&[15.into()]) }.unwrap(),
        Value::Int(i64::from(b'!'))
    );
    // SAFETY: as above, read-only now.
    let ro = unsafe { memory::as_bytes(ptr, 2) }.unwrap();
    assert_eq!(ro, b"X1");
    // A view over a buffer passed to C and filled by it.
    let count = lib.func("L", "count_bytes", "PLB").unwrap();
    // SAFETY: `size_t count_bytes(const unsigned char *, size_t, unsigned char)` reads 2
    // bytes; the view is 2 bytes long.
    assert_eq!(
        unsafe { count.call(&[ro.into(), 2.into(), b'X'.into()]) }.unwrap(),
        Value::UInt(1)
    );
}

#[test]
fn variadic_snprintf() {
    let libc = Library::this_process().unwrap();
    let snprintf = libc.func_variadic("i", "snprintf", "pLs").unwrap();
    let mut buf = [0u8; 64];
    // SAFETY: `int snprintf(char *, size_t, const char *, ...)`; buf is 64 bytes, the size
    // passed, and the format's conversions (%d %.3f %s %ld %lu %lld) are exactly the
    // variadic codes "idslLq".
    let n = unsafe {
        snprintf.call(
            "idslLq",
            &[
                (&mut buf).into(),
                64.into(),
                "%d|%.3f|%s|%ld|%lu|%lld".into(),
                (-42).into(),
                3.25.into(),
                "str".into(),
                i64::MIN.into(),
                u64::MAX.into(),
                7.into(),
            ],
        )
    }
    .unwrap();
    let text = CStr::from_bytes_until_nul(&buf).unwrap().to_str().unwrap();
    // `l`/`L` are the target's `long`: on armv7 (32 bits) the 64-bit values are truncated
    // as MicroPython truncates them, to 0 and 4294967295, and C prints what it was given.
    assert_eq!(
        text,
        format!(
            "-42|3.250|str|{}|{}|7",
            i64::MIN as c_long,
            u64::MAX as c_ulong
        )
    );
    assert_eq!(n, Value::Int(text.len() as i64));
    // Prepared once, called many times.
    let fmt_int = snprintf.prepare("i").unwrap();
    assert_eq!(fmt_int.signature().args_string(), "pLsi");
    // A variadic callee reads its arguments differently: never the register path.
    assert_eq!(fmt_int.call_path(), ffi_core::CallPath::Libffi);
    for i in [0, 5, -17] {
        let mut buf = [0u8; 16];
        // SAFETY: as above: buf is 16 bytes, the size passed, and "<%d>" reads the one int.
        unsafe { fmt_int.call(&[(&mut buf).into(), 16.into(), "<%d>".into(), i.into()]) }.unwrap();
        assert_eq!(
            CStr::from_bytes_until_nul(&buf).unwrap().to_str().unwrap(),
            format!("<{i}>")
        );
    }
    // More than INLINE_ARGS arguments take the prepared path.
    let many = "i".repeat(INLINE_ARGS);
    let fmt = "%d".repeat(INLINE_ARGS);
    let mut args: Vec<Arg> = vec![(&mut buf).into(), 64.into(), fmt.as_str().into()];
    args.extend((0..INLINE_ARGS as i32).map(|i| Arg::from(i % 10)));
    // SAFETY: as above: buf is 64 bytes, the size passed, and the format has one %d per
    // variadic int.
    unsafe { snprintf.call(&many, &args) }.unwrap();
    assert_eq!(
        CStr::from_bytes_until_nul(&buf).unwrap().to_str().unwrap(),
        "0123456789012345"
    );
}

#[test]
fn typed_binding_calls_directly() {
    let libm = libm();
    // SAFETY: these are the C signatures of sqrt and ldexp.
    let sqrt = unsafe { libm.typed::<unsafe extern "C" fn(f64) -> f64>("sqrt") }.unwrap();
    let ldexp = unsafe { libm.typed::<unsafe extern "C" fn(f64, i32) -> f64>("ldexp") }.unwrap();
    // SAFETY: called with their true signatures while libm is open.
    unsafe {
        assert_eq!(sqrt(16.0), 4.0);
        assert_eq!(ldexp(1.5, 4), 24.0);
    }
    let libc = Library::this_process().unwrap();
    // SAFETY: getpid is pid_t getpid(void).
    let getpid = unsafe { libc.typed::<unsafe extern "C" fn() -> i32>("getpid") }.unwrap();
    // SAFETY: getpid takes nothing and the process's libc stays loaded.
    assert_eq!(unsafe { getpid() } as u32, std::process::id());
    // SAFETY: the symbol does not exist; nothing is called.
    assert!(unsafe { libc.typed::<unsafe extern "C" fn()>("no_such_fn") }.is_err());
}

#[test]
fn errno_is_captured_right_after_the_call() {
    let libc = Library::this_process().unwrap();
    let open = libc.func("i", "open", "si").unwrap();
    let close = libc.func("i", "close", "i").unwrap();
    // SAFETY: open's fixed parameters are `const char *` and `int`; with O_RDONLY (0) it
    // reads no mode argument, and the path is a NUL-terminated copy.
    let (fd, errno) =
        unsafe { open.call_with_errno(&["/no/such/dir/x".into(), 0.into()]) }.unwrap();
    assert_eq!((fd, errno), (Value::Int(-1), libc::ENOENT));
    // SAFETY: `int close(int)` takes any integer; -1 is no fd, so nothing is closed.
    let (r, errno) = unsafe { close.call_with_errno(&[(-1).into()]) }.unwrap();
    assert_eq!((r, errno), (Value::Int(-1), libc::EBADF));
    // errno is cleared before the call: a succeeding call reports 0, not a stale value.
    let getpid = libc.func("i", "getpid", "").unwrap();
    ffi_core::set_errno(libc::EPERM);
    // SAFETY: `pid_t getpid(void)` has no preconditions.
    assert_eq!(unsafe { getpid.call_with_errno(&[]) }.unwrap().1, 0);
}

#[test]
fn more_arguments_than_inline_slots() {
    let lib = testlib();
    let sum20 = lib.func("q", "sum20", &"i".repeat(20)).unwrap();
    let args: Vec<Arg> = (1..=20).map(Arg::from).collect();
    // SAFETY: sum20 takes 20 ints and returns int64_t; it takes any values.
    assert_eq!(unsafe { sum20.call(&args) }.unwrap(), Value::Int(210));
    let args: Vec<Arg> = (1..=20).map(|i| Arg::from(-i)).collect();
    // SAFETY: as above.
    assert_eq!(unsafe { sum20.call(&args) }.unwrap(), Value::Int(-210));
}

#[test]
fn strings_beyond_the_stack_arena_spill_to_the_heap() {
    let lib = testlib();
    let total_len = lib.func("L", "total_len", "ssss").unwrap();
    let a = "a".repeat(ARENA_BYTES / 2);
    let b = "b".repeat(ARENA_BYTES / 2);
    let c = "c".repeat(ARENA_BYTES * 2);
    let d = "d";
    // SAFETY: `size_t total_len(const char *, ... x4)` reads four NUL-terminated strings,
    // which ffi-core passes as copies.
    let r =
        unsafe { total_len.call(&[a.as_str().into(), b.as_str().into(), (&c).into(), d.into()]) }
            .unwrap();
    assert_eq!(
        r,
        Value::UInt((a.len() + b.len() + c.len() + d.len()) as u64)
    );
    let echo = lib.func("s", "echo", "s").unwrap();
    // SAFETY: `const char *echo(const char *)` returns its argument, a NUL-terminated copy
    // that lives until the call has copied the returned string.
    assert_eq!(
        unsafe { echo.call(&[(&c).into()]) }.unwrap(),
        Value::Str(c.clone())
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { echo.call(&["héllo ✓".into()]) }.unwrap(),
        Value::Str("héllo ✓".into())
    );
    // The returned string is copied while the arena still holds the argument's copy, on
    // every path and entry (with errno too).
    // SAFETY: as above.
    assert_eq!(
        unsafe { echo.call_with_errno(&["on the stack".into()]) }.unwrap(),
        (Value::Str("on the stack".into()), 0)
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { echo.call_with_errno(&[(&c).into()]) }.unwrap(),
        (Value::Str(c.clone()), 0)
    );
}

#[test]
fn mixed_arguments_and_narrow_returns() {
    let lib = testlib();
    let mixed = lib.func("d", "mixed", "idflB").unwrap();
    // SAFETY: `double mixed(int, double, float, long, unsigned char)` takes any values.
    let r = unsafe {
        mixed.call(&[
            1.into(),
            0.5.into(),
            0.25.into(),
            (-10).into(),
            0x1ff.into(),
        ])
    }
    .unwrap();
    assert_eq!(r, Value::Double(1.0 + 0.5 + 0.25 - 10.0 + 255.0));
    let ret_float = lib.func("f", "ret_float", "").unwrap();
    // SAFETY: `float ret_float(void)`, no preconditions.
    assert_eq!(unsafe { ret_float.call(&[]) }.unwrap(), Value::Float(1.25));
    let ret_neg8 = lib.func("b", "ret_neg8", "").unwrap();
    // SAFETY: `int8_t ret_neg8(void)`, no preconditions.
    assert_eq!(unsafe { ret_neg8.call(&[]) }.unwrap(), Value::Int(-7));
    let ret_u8_max = lib.func("B", "ret_u8_max", "").unwrap();
    // SAFETY: `uint8_t ret_u8_max(void)`, no preconditions.
    assert_eq!(unsafe { ret_u8_max.call(&[]) }.unwrap(), Value::UInt(255));
    // Narrow returns read as wider codes are the caller's declaration; "s" NULL is None.
    let maybe_null = lib.func("s", "maybe_null", "i").unwrap();
    // SAFETY: `const char *maybe_null(int)` returns a string literal or NULL for any int.
    assert_eq!(
        unsafe { maybe_null.call(&[1.into()]) }.unwrap(),
        Value::Str("not null".into())
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { maybe_null.call(&[0.into()]) }.unwrap(),
        Value::None
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { maybe_null.call(&[0.into()]) }.unwrap().to_string(),
        "None"
    );
}

#[test]
fn functions_are_shared_between_threads() {
    let libm = libm();
    let sqrt = std::sync::Arc::new(libm.func("d", "sqrt", "d").unwrap());
    drop(libm); // the function keeps libm loaded
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let sqrt = sqrt.clone();
            // SAFETY: `double sqrt(double)` takes any value and is thread-safe.
            std::thread::spawn(move || unsafe { sqrt.call(&[f64::from(i * i).into()]) }.unwrap())
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), Value::Double(i as f64));
    }
    assert_eq!(
        format!("{:?}", crate::libm()),
        "Library { name: \"libm.so.6\", closed: false }"
    );
    assert!(format!("{sqrt:?}").starts_with("<ffifunc sqrt (\"d\", \"d\") at 0x"));
}
