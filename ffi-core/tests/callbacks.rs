//! Callbacks: conversions per declared code, lock mode, panics, freeing.

use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ffi_core::{Arg, Callback, Error, Function, Library, Result, Value};

fn testlib() -> Library {
    // SAFETY: testlib.c, built by this crate's build script, has no initialisers.
    unsafe { Library::open(env!("FFI_TEST_LIB_TESTLIB")) }.unwrap()
}

/// Calls `f`. Every call in this file shares one justification, so it is stated once here.
fn call(f: &Function, args: &[Arg<'_>]) -> Result<Value> {
    // SAFETY: every function called in this file is one of testlib.c's callback runners
    // (apply_dd, apply_ff, apply_di, apply_ints, call_n, call_str, call_void, run_threads),
    // declared with exactly its prototype's codes; each callback passed is declared with the
    // codes of the function pointer type C calls it through, and C calls it only during the
    // call (run_threads joins its threads before returning), while the borrow keeps it alive.
    unsafe { f.call(args) }
}

#[test]
fn double_arguments_arrive_as_floats() {
    let lib = testlib();
    let apply_dd = lib.func("d", "apply_dd", "Cdd").unwrap();
    let seen = Mutex::new(Vec::new());
    let cb = Callback::new("d", "dd", |args: &[Value]| {
        seen.lock().unwrap().extend_from_slice(args);
        args[0].as_f64().unwrap() * args[1].as_f64().unwrap()
    })
    .unwrap();
    let r = call(&apply_dd, &[(&cb).into(), 1.5.into(), 2.25.into()]).unwrap();
    assert_eq!(r, Value::Double(3.375));
    assert_eq!(
        *seen.lock().unwrap(),
        [Value::Double(1.5), Value::Double(2.25)]
    );
}

#[test]
fn float_arguments_and_float_return() {
    let lib = testlib();
    let apply_ff = lib.func("f", "apply_ff", "Cff").unwrap();
    let cb = Callback::new("f", "ff", |args: &[Value]| match args {
        [Value::Float(a), Value::Float(b)] => a - b,
        other => panic!("unexpected {other:?}"),
    })
    .unwrap();
    let r = call(&apply_ff, &[(&cb).into(), 5.5f32.into(), 0.25f32.into()]).unwrap();
    assert_eq!(r, Value::Float(5.25));
    // An integer returned for "d" is converted, like an argument would be.
    let apply_di = lib.func("d", "apply_di", "Cdi").unwrap();
    let cb = Callback::new("d", "di", |args: &[Value]| {
        assert_eq!(args[1], Value::Int(-3));
        args[0].as_f64().unwrap() as i64 * args[1].as_i64().unwrap()
    })
    .unwrap();
    assert_eq!(
        call(&apply_di, &[(&cb).into(), 7.9.into(), (-3).into()]).unwrap(),
        Value::Double(-21.0)
    );
}

#[test]
fn every_integer_width_is_sign_or_zero_extended() {
    let lib = testlib();
    let apply_ints = lib.func("q", "apply_ints", "C").unwrap();
    let seen = Mutex::new(Vec::new());
    let cb = Callback::new("q", "bBhHiIqQ", |args: &[Value]| {
        seen.lock().unwrap().extend_from_slice(args);
        -77i64
    })
    .unwrap();
    assert_eq!(call(&apply_ints, &[(&cb).into()]).unwrap(), Value::Int(-77));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Value::Int(-1),
            Value::UInt(255),
            Value::Int(-300),
            Value::UInt(65535),
            Value::Int(-70000),
            Value::UInt(4_000_000_000),
            Value::Int(-5_000_000_000),
            Value::UInt(u64::MAX),
        ]
    );
}

#[test]
fn return_values_are_truncated_to_the_return_code() {
    let lib = testlib();
    let call_n = lib.func("q", "call_n", "Ci").unwrap();
    // 0x1_0000_0005 returned as "i" is 5; bool true is 1.
    let wide = Callback::new("i", "i", |_: &[Value]| 0x1_0000_0005i64).unwrap();
    assert_eq!(
        call(&call_n, &[(&wide).into(), 3.into()]).unwrap(),
        Value::Int(15)
    );
    let yes = Callback::new("i", "i", |_: &[Value]| true).unwrap();
    assert_eq!(
        call(&call_n, &[(&yes).into(), 4.into()]).unwrap(),
        Value::Int(4)
    );
    let ident = Callback::new("i", "i", |a: &[Value]| a[0].as_i64().unwrap()).unwrap();
    assert_eq!(
        call(&call_n, &[(&ident).into(), 5.into()]).unwrap(),
        Value::Int(10)
    );
}

#[test]
fn string_arguments_void_returns_and_null_returns() {
    let lib = testlib();
    let call_str = lib.func("s", "call_str", "Cs").unwrap();
    static HELLO: &CStr = c"static C string";
    let seen = Mutex::new(None);
    let cb = Callback::new("s", "s", |args: &[Value]| {
        *seen.lock().unwrap() = Some(args[0].clone());
        HELLO.as_ptr()
    })
    .unwrap();
    let r = call(&call_str, &[(&cb).into(), "from Rust".into()]).unwrap();
    assert_eq!(r, Value::Str("static C string".into()));
    assert_eq!(*seen.lock().unwrap(), Some(Value::Str("from Rust".into())));
    // A NULL string argument arrives as None; returning None gives NULL, which is None.
    let null = Callback::new("s", "s", |args: &[Value]| {
        assert_eq!(args[0], Value::None);
    })
    .unwrap();
    assert_eq!(
        call(&call_str, &[(&null).into(), ().into()]).unwrap(),
        Value::None
    );

    let call_void = lib.func("v", "call_void", "Ci").unwrap();
    let got = AtomicUsize::new(0);
    let cb = Callback::new("v", "i", |args: &[Value]| {
        got.store(args[0].as_u64().unwrap() as usize, Ordering::SeqCst);
    })
    .unwrap();
    assert_eq!(
        call(&call_void, &[(&cb).into(), 99.into()]).unwrap(),
        Value::None
    );
    assert_eq!(got.load(Ordering::SeqCst), 99);
}

#[test]
fn a_callback_returning_the_wrong_kind_is_an_error_of_the_outer_call() {
    let lib = testlib();
    let call_n = lib.func("q", "call_n", "Ci").unwrap();
    let bad = Callback::new("i", "i", |_: &[Value]| 1.5).unwrap();
    let err = call(&call_n, &[(&bad).into(), 2.into()]).unwrap_err();
    assert!(
        matches!(&err, Error::CallbackReturn { function, code: 'i', .. } if function == "call_n"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "callback with return code 'i' returned a float (1.5) during the call to call_n; expected an integer, bool or None"
    );
    // A Rust String cannot be returned as "s": it would dangle.
    let call_str = lib.func("s", "call_str", "Cs").unwrap();
    let dangling = Callback::new("s", "s", |_: &[Value]| String::from("gone")).unwrap();
    let err = call(&call_str, &[(&dangling).into(), "x".into()]).unwrap_err();
    assert!(
        matches!(err, Error::CallbackReturn { code: 's', .. }),
        "{err:?}"
    );
    // The callback returned NULL to C instead; the next call is clean.
    assert_eq!(
        call(
            &call_n,
            &[
                (&Callback::new("i", "i", |_: &[Value]| 1).unwrap()).into(),
                3.into()
            ]
        )
        .unwrap(),
        Value::Int(3)
    );
}

#[test]
fn a_panic_surfaces_from_the_outer_call_and_returns_zero_to_c() {
    let lib = testlib();
    let call_n = lib.func("q", "call_n", "Ci").unwrap();
    let calls = AtomicUsize::new(0);
    let cb = Callback::new("i", "i", |args: &[Value]| {
        calls.fetch_add(1, Ordering::SeqCst);
        if args[0] == Value::Int(3) {
            panic!("boom at {}", args[0]);
        }
        10
    })
    .unwrap();
    let err = call(&call_n, &[(&cb).into(), 6.into()]).unwrap_err();
    match &err {
        Error::CallbackPanicked { function, message } => {
            assert_eq!(function, "call_n");
            assert_eq!(message, "boom at 3");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "callback panicked during the call to call_n: boom at 3"
    );
    // C went on: all six calls ran, the panicking one returned 0.
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    // Nothing stale is left for the next call.
    assert_eq!(
        call(&call_n, &[(&cb).into(), 3.into()]).unwrap(),
        Value::Int(30)
    );
}

#[test]
fn a_panic_in_a_nested_call_belongs_to_the_inner_call() {
    let lib = testlib();
    let call_n = Arc::new(lib.func("q", "call_n", "Ci").unwrap());
    let inner = Callback::new("i", "i", |_: &[Value]| -> i32 { panic!("inner") }).unwrap();
    let inner_result = Mutex::new(None);
    let outer = Callback::new("i", "i", |_: &[Value]| {
        let r = call(&call_n, &[(&inner).into(), 1.into()]);
        *inner_result.lock().unwrap() = Some(r.map_err(|e| e.to_string()));
        2
    })
    .unwrap();
    assert_eq!(
        call(&call_n, &[(&outer).into(), 2.into()]).unwrap(),
        Value::Int(4)
    );
    assert_eq!(
        inner_result.lock().unwrap().clone().unwrap(),
        Err("callback panicked during the call to call_n: inner".to_owned())
    );
}

#[test]
fn lock_mode_serialises_calls_from_many_threads() {
    let lib = testlib();
    let run_threads = lib.func("i", "run_threads", "Cii").unwrap();
    let inside = AtomicBool::new(false);
    let overlaps = AtomicUsize::new(0);
    // A plain counter mutated by an FnMut: only sound because lock mode serialises calls.
    let mut count = 0u64;
    let mut sum = 0u64;
    {
        let cb = Callback::new_locked("i", "i", |args: &[Value]| {
            if inside.swap(true, Ordering::SeqCst) {
                overlaps.fetch_add(1, Ordering::SeqCst);
            }
            count += 1;
            sum += args[0].as_u64().unwrap();
            std::hint::spin_loop();
            inside.store(false, Ordering::SeqCst);
            0
        })
        .unwrap();
        assert!(cb.is_locked());
        assert_eq!(
            call(&run_threads, &[(&cb).into(), 8.into(), 2000.into()]).unwrap(),
            Value::Int(0)
        );
    }
    assert_eq!(count, 8 * 2000);
    assert_eq!(sum, 8 * (1999 * 2000 / 2));
    assert_eq!(overlaps.load(Ordering::SeqCst), 0);
}

#[test]
fn free_mode_callbacks_run_concurrently_from_c_threads() {
    let lib = testlib();
    let run_threads = lib.func("i", "run_threads", "Cii").unwrap();
    let count = AtomicUsize::new(0);
    let cb = Callback::new("i", "i", |_: &[Value]| {
        count.fetch_add(1, Ordering::Relaxed);
        0
    })
    .unwrap();
    assert_eq!(
        call(&run_threads, &[(&cb).into(), 4.into(), 5000.into()]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(count.load(Ordering::Relaxed), 20_000);
}

/// Runs in a child process (see `lock_mode_panic_is_reported_on_stderr`).
#[test]
fn child_lock_mode_panic() {
    if std::env::var_os("FFI_CORE_CHILD").is_none() {
        return;
    }
    let lib = testlib();
    let call_n = lib.func("q", "call_n", "Ci").unwrap();
    let cb = Callback::new_locked("i", "i", |args: &[Value]| {
        if args[0] == Value::Int(1) {
            panic!("locked boom");
        }
        5
    })
    .unwrap();
    // Lock mode: reported on stderr, the callback returned 0, the call succeeds.
    let r = call(&call_n, &[(&cb).into(), 3.into()]).unwrap();
    println!("RESULT {r}");
}

#[test]
fn lock_mode_panic_is_reported_on_stderr() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_lock_mode_panic",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FFI_CORE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("RESULT 10"), "stdout: {stdout}");
    assert!(
        stderr.contains(
            "ffi-core: uncaught error in FFI callback (\"i\", \"i\"): panicked: locked boom; it returned 0 to C and execution goes on"
        ),
        "stderr: {stderr}"
    );
}

#[test]
fn dropping_a_callback_frees_its_closure() {
    let state = Arc::new(5);
    let cb = {
        let state = Arc::clone(&state);
        Callback::new("i", "", move |_: &[Value]| *state).unwrap()
    };
    assert_eq!(Arc::strong_count(&state), 2);
    // The code pointer is a real C function.
    // SAFETY: the callback's signature is int(void) and it is alive.
    let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(cb.code_ptr()) };
    assert_eq!(f(), 5);
    drop(cb);
    assert_eq!(Arc::strong_count(&state), 1);
}

#[test]
fn code_ptr_can_be_passed_as_an_address() {
    let lib = testlib();
    let call_n = lib.func("q", "call_n", "Ci").unwrap();
    let cb = Callback::new("i", "i", |a: &[Value]| a[0].as_i64().unwrap() * 2).unwrap();
    let addr: *mut c_void = cb.code_ptr();
    assert_eq!(
        call(&call_n, &[addr.into(), 4.into()]).unwrap(),
        Value::Int(12)
    );
    assert_eq!(
        call(&call_n, &[(addr as usize).into(), 4.into()]).unwrap(),
        Value::Int(12)
    );
    assert_eq!(
        format!("{:?}", cb.signature()),
        "Signature { ret: Int, args: [Int] }"
    );
}

/// Whether callbacks of at most 5 integer-class arguments get ffi-core's own trampoline:
/// on x86-64 and aarch64 Linux, unless `FFI_CORE_LIBFFI_ONLY` forces libffi's closures.
fn trampolines_expected() -> bool {
    cfg!(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )) && std::env::var_os("FFI_CORE_LIBFFI_ONLY").is_none_or(|v| v.is_empty() || v == "0")
}

#[test]
fn register_path_callbacks_take_narrow_arguments_and_return_floats() {
    let lib = testlib();
    let want = if trampolines_expected() {
        ffi_core::CallPath::Registers
    } else {
        ffi_core::CallPath::Libffi
    };
    let ratio = Callback::new("f", "ii", |a: &[Value]| {
        a[0].as_f64().unwrap() as f32 / a[1].as_f64().unwrap() as f32
    })
    .unwrap();
    assert_eq!(ratio.call_path(), want);
    let apply_ii_f = lib.func("f", "apply_ii_f", "Cii").unwrap();
    // SAFETY: `float apply_ii_f(float (*)(int, int), int, int)` calls `ratio`, an "f"/"ii"
    // callback, once during the call.
    let r = unsafe { apply_ii_f.call(&[(&ratio).into(), 7.into(), (-2).into()]) }.unwrap();
    assert_eq!(r, Value::Float(-3.5));

    let seen = std::sync::Mutex::new(Vec::new());
    let five = Callback::new("B", "bHiqs", |a: &[Value]| {
        seen.lock().unwrap().extend_from_slice(a);
        // 0x1ff: returned as uint8_t, C sees 0xff.
        0x1ff
    })
    .unwrap();
    assert_eq!(five.call_path(), want);
    let apply_five = lib.func("Q", "apply_five", "C").unwrap();
    // SAFETY: `uint64_t apply_five(uint8_t (*)(int8_t, uint16_t, int32_t, int64_t, const char
    // *))` calls `five`, a "B"/"bHiqs" callback, once with a string literal.
    let r = unsafe { apply_five.call(&[(&five).into()]) }.unwrap();
    assert_eq!(r, Value::UInt(0xff));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Value::Int(-2),
            Value::UInt(65535),
            Value::Int(-70000),
            Value::Int(-5_000_000_000),
            Value::Str("five".into())
        ]
    );
    // No arguments: a trampoline on x86-64 and aarch64, libffi's closure elsewhere.
    let none = Callback::new("v", "", |_: &[Value]| ()).unwrap();
    assert_eq!(none.call_path(), want);
    // Floating-point arguments and more than 5 arguments stay on libffi's closures.
    let dd = Callback::new("d", "dd", |_: &[Value]| 0.0).unwrap();
    assert_eq!(dd.call_path(), ffi_core::CallPath::Libffi);
    let six = Callback::new("i", "iiiiii", |_: &[Value]| 0).unwrap();
    assert_eq!(six.call_path(), ffi_core::CallPath::Libffi);
}

/// Runs in a child process (see `a_callback_falls_back_to_libffi_without_executable_memory`):
/// with the address space capped at its current size, no new page can be mapped for a
/// trampoline, and the callback takes libffi's closure (from the pool the first one made).
#[test]
// x86-64 only: the fallback is the same code on aarch64, but the aarch64 runs are under
// qemu-user, which reserves the guest's address space up front, so a capped RLIMIT_AS does
// not stop the guest's mmap there (the page is found, the trampoline made).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn child_no_new_mappings() {
    if std::env::var_os("FFI_CORE_CHILD").is_none() {
        return;
    }
    let lib = testlib();
    let call_n = lib.func("q", "call_n", "Ci").unwrap();
    let first = Callback::new("i", "i", |_: &[Value]| 1).unwrap();
    // Room on the heap for the second callback's allocations, freed back to malloc.
    drop(std::hint::black_box(vec![vec![0u8; 256]; 256]));
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let limit = libc::rlimit {
        rlim_cur: kb * 1024,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct; lowering the soft limit only makes later mappings fail.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
    let second = Callback::new("i", "i", |args: &[Value]| {
        args[0].as_i64().unwrap() as i32 * 2
    })
    .unwrap();
    println!("PATHS {:?} {:?}", first.call_path(), second.call_path());
    let r = call(&call_n, &[(&second).into(), 4.into()]).unwrap();
    println!("RESULT {r}");
}

#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn a_callback_falls_back_to_libffi_without_executable_memory() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_no_new_mappings",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FFI_CORE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let first = if trampolines_expected() {
        "Registers"
    } else {
        "Libffi"
    };
    assert!(
        stdout.contains(&format!("PATHS {first} Libffi")),
        "stdout: {stdout}"
    );
    // 0*2 + 1*2 + 2*2 + 3*2: the fallback calls the closure as well.
    assert!(stdout.contains("RESULT 12"), "stdout: {stdout}");
}
