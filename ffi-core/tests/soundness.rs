//! The promises of issue 15: a callback dropped while it runs, failures charged to the right
//! call, reports that cannot abort, re-entered lock-mode callbacks, read-only memory kept
//! out of writable `p` slots.
//!
//! A failure that aborts or hangs the process runs in a child process (this test binary run
//! again on one `child_*` test) with a bounded wait.

use std::ffi::CStr;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use ffi_core::{Arg, Callback, Error, Function, Library, Result, Value};

fn testlib() -> Library {
    // SAFETY: testlib.c, built by this crate's build script, has no initialisers.
    unsafe { Library::open(env!("FFI_TEST_LIB_TESTLIB")) }.unwrap()
}

fn call_n() -> Function {
    testlib().func("q", "call_n", "Ci").unwrap()
}

/// Calls `f`. Every call in this file shares one justification, so it is stated once here.
fn call(f: &Function, args: &[Arg<'_>]) -> Result<Value> {
    // SAFETY: every function called in this file is testlib.c's `call_n` (`int64_t
    // call_n(int (*)(int), int)`) or libc's `memset`/`strlen`, declared with their
    // prototypes' codes; each callback has the codes of `int (*)(int)` and lives until C's
    // last use of it (the tests about dropping a callback while it runs drop it from inside
    // that very invocation, which ffi-core keeps alive); buffers are as long as C uses.
    unsafe { f.call(args) }
}

/// What a child process did: its exit status (None: killed after hanging), stdout, stderr.
struct Child {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs test `name` of this binary in a child process, killing it if it runs longer than a
/// generous bound (a hang is the failure some tests look for, so the wait must end).
fn run_child(name: &str) -> Child {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("FFI_CORE_CHILD", "1")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status.code().unwrap_or(-1));
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &std::path::Path| {
        let mut s = String::new();
        std::fs::File::open(p)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    Child {
        code,
        stdout: read(&out),
        stderr: read(&err),
    }
}

/// Whether this process is a child started by [`run_child`].
fn is_child() -> bool {
    std::env::var_os("FFI_CORE_CHILD").is_some()
}

/// Makes fd 2 a pipe whose read end is closed: every write to stderr fails with EPIPE.
fn break_stderr() {
    let mut fds = [0; 2];
    // SAFETY: plain libc calls on fds this function owns; fd 2 is replaced as a whole.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        assert_eq!(libc::dup2(fds[1], 2), 2);
        libc::close(fds[1]);
        libc::close(fds[0]);
    }
}

/// Text whose heap buffer is overwritten by the allocator once freed.
const TEXT: &str = "a callback's captured text, long enough to be a heap block";

// --- 2. A callback dropped while it runs -------------------------------------------------

static SELF_DROPPING: Mutex<Option<Callback<'static>>> = Mutex::new(None);

fn self_dropping_call(locked: bool) -> Value {
    let text = String::from(TEXT);
    let body = move |_: &[Value]| {
        // The callback drops itself, then goes on using what it captured.
        drop(SELF_DROPPING.lock().unwrap().take());
        i32::from(text == TEXT)
    };
    let cb = if locked {
        Callback::new_locked("i", "i", body).unwrap()
    } else {
        Callback::new("i", "i", body).unwrap()
    };
    let code = cb.code_ptr();
    *SELF_DROPPING.lock().unwrap() = Some(cb);
    call(&call_n(), &[code.into(), 1.into()]).unwrap()
}

#[test]
fn a_callback_that_drops_itself_keeps_its_closure_until_it_returns() {
    assert_eq!(self_dropping_call(false), Value::Int(1));
    assert!(SELF_DROPPING.lock().unwrap().is_none());
}

#[test]
fn a_locked_callback_that_drops_itself_unlocks_live_memory() {
    assert_eq!(self_dropping_call(true), Value::Int(1));
    assert!(SELF_DROPPING.lock().unwrap().is_none());
}

#[test]
fn a_callback_dropped_by_another_thread_while_it_runs_finishes_intact() {
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (dropped_tx, dropped_rx) = mpsc::channel::<()>();
    let dropped_rx = Mutex::new(dropped_rx);
    let text = String::from(TEXT);
    let cb = Callback::new("i", "i", move |_: &[Value]| {
        started_tx.send(()).unwrap();
        dropped_rx.lock().unwrap().recv().unwrap();
        i32::from(text == TEXT)
    })
    .unwrap();
    let code = cb.code_ptr() as usize;
    let runner = std::thread::spawn(move || call(&call_n(), &[code.into(), 1.into()]).unwrap());
    started_rx.recv().unwrap();
    drop(cb);
    dropped_tx.send(()).unwrap();
    assert_eq!(runner.join().unwrap(), Value::Int(1));
}

/// Counts its drops: a closure capturing one shows when (and how often) it was freed.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_callback_run_by_several_threads_is_freed_once_after_the_last_returns() {
    // Rounds, so that the drop meets the runners' returns at different moments.
    for round in 0..20 {
        freed_once_after_the_last_returns(round);
    }
}

fn freed_once_after_the_last_returns(round: usize) {
    const RUNNERS: usize = 4;
    let drops = Arc::new(AtomicUsize::new(0));
    let counted = DropCount(drops.clone());
    let go = Arc::new(std::sync::Barrier::new(RUNNERS + 1));
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let text = String::from(TEXT);
    let closure_go = go.clone();
    let cb = Callback::new("i", "i", move |_: &[Value]| {
        let _alive = &counted;
        started_tx.lock().unwrap().send(()).unwrap();
        closure_go.wait();
        i32::from(text == TEXT)
    })
    .unwrap();
    let code = cb.code_ptr() as usize;
    let runners: Vec<_> = (0..RUNNERS)
        .map(|_| std::thread::spawn(move || call(&call_n(), &[code.into(), 1.into()]).unwrap()))
        .collect();
    for _ in 0..RUNNERS {
        started_rx.recv().unwrap();
    }
    drop(cb);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "round {round}: freed while {RUNNERS} threads ran it"
    );
    go.wait();
    for r in runners {
        assert_eq!(r.join().unwrap(), Value::Int(1));
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "round {round}: the closure is freed once, by the last invocation to return"
    );
}

static NESTED: Mutex<Option<Callback<'static>>> = Mutex::new(None);
static NESTED_CODE: AtomicUsize = AtomicUsize::new(0);

#[test]
fn a_callback_nested_deeper_than_tracked_and_dropped_innermost_lives_until_the_outermost_returns() {
    // Deeper than the slots a thread has (8), so the innermost invocations are counted
    // references and the outer ones slots: the drop waits for both kinds.
    const LEVELS: i32 = 12;
    let drops = Arc::new(AtomicUsize::new(0));
    let counted = DropCount(drops.clone());
    let text = String::from(TEXT);
    let inner_drops = drops.clone();
    let cb = Callback::new("i", "i", move |_: &[Value]| {
        let _alive = &counted;
        static LEVEL: AtomicUsize = AtomicUsize::new(0);
        let level = LEVEL.fetch_add(1, Ordering::SeqCst) as i32 + 1;
        let below = if level < LEVELS {
            let code = NESTED_CODE.load(Ordering::SeqCst);
            match call(&call_n(), &[code.into(), 1.into()]).unwrap() {
                Value::Int(n) => n as i32,
                other => panic!("call_n returned {other:?}"),
            }
        } else {
            drop(NESTED.lock().unwrap().take());
            assert_eq!(inner_drops.load(Ordering::SeqCst), 0, "freed while running");
            0
        };
        below + i32::from(text == TEXT)
    })
    .unwrap();
    NESTED_CODE.store(cb.code_ptr() as usize, Ordering::SeqCst);
    *NESTED.lock().unwrap() = Some(cb);
    let code = NESTED_CODE.load(Ordering::SeqCst);
    assert_eq!(
        call(&call_n(), &[code.into(), 1.into()]).unwrap(),
        Value::Int(i64::from(LEVELS))
    );
    assert!(NESTED.lock().unwrap().is_none());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

// --- 4. A failure charged to the call during which it happened ---------------------------

#[test]
fn a_failure_belongs_to_its_call_not_to_a_later_nested_one() {
    let call_n = Arc::new(call_n());
    let ok = Callback::new("i", "i", |_: &[Value]| 1).unwrap();
    let nested = Mutex::new(None);
    let invocation = AtomicUsize::new(0);
    let cb = Callback::new("i", "i", |_: &[Value]| {
        if invocation.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("first invocation");
        }
        // A later invocation of the same outer call makes a clean nested call.
        *nested.lock().unwrap() = Some(call(&call_n, &[(&ok).into(), 3.into()]));
        0
    })
    .unwrap();
    let outer = call(&call_n, &[(&cb).into(), 2.into()]);
    assert_eq!(
        nested.lock().unwrap().take().unwrap().unwrap(),
        Value::Int(3)
    );
    assert_eq!(
        outer.unwrap_err().to_string(),
        "callback panicked during the call to call_n: first invocation"
    );
    // Nothing is left over for the next call.
    assert_eq!(
        call(&call_n, &[(&ok).into(), 2.into()]).unwrap(),
        Value::Int(2)
    );
}

#[test]
fn failures_of_nested_calls_each_surface_from_their_own_call() {
    let call_n = Arc::new(call_n());
    let inner = Callback::new("i", "i", |_: &[Value]| -> i32 { panic!("inner") }).unwrap();
    let nested = Mutex::new(None);
    let cb = Callback::new("i", "i", |args: &[Value]| -> i32 {
        if args[0] == Value::Int(0) {
            panic!("outer");
        }
        *nested.lock().unwrap() = Some(call(&call_n, &[(&inner).into(), 1.into()]));
        0
    })
    .unwrap();
    let outer = call(&call_n, &[(&cb).into(), 2.into()]);
    assert_eq!(
        nested
            .lock()
            .unwrap()
            .take()
            .unwrap()
            .unwrap_err()
            .to_string(),
        "callback panicked during the call to call_n: inner"
    );
    assert_eq!(
        outer.unwrap_err().to_string(),
        "callback panicked during the call to call_n: outer"
    );
}

// --- 5. Reporting a failure never aborts -------------------------------------------------

/// A panic payload whose destructor panics too.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("the payload's drop panicked");
    }
}

#[test]
fn child_lock_mode_report_to_a_broken_stderr() {
    if !is_child() {
        return;
    }
    break_stderr();
    let cb = Callback::new_locked("i", "i", |args: &[Value]| -> i32 {
        if args[0] == Value::Int(1) {
            panic!("locked boom");
        }
        5
    })
    .unwrap();
    let r = call(&call_n(), &[(&cb).into(), 3.into()]).unwrap();
    println!("RESULT {r}");
}

#[test]
fn a_lock_mode_report_to_a_broken_stderr_does_not_abort() {
    let child = run_child("child_lock_mode_report_to_a_broken_stderr");
    assert_eq!(child.code, Some(0), "stderr: {}", child.stderr);
    assert!(child.stdout.contains("RESULT 10"), "{}", child.stdout);
}

#[test]
fn child_payloads_whose_drop_panics() {
    if !is_child() {
        return;
    }
    // Free mode inside a call: the failure surfaces from the call.
    let free = Callback::new("i", "i", |_: &[Value]| -> i32 {
        std::panic::panic_any(PanicsOnDrop)
    })
    .unwrap();
    let err = call(&call_n(), &[(&free).into(), 2.into()]).unwrap_err();
    println!("FREE {err}");
    // Lock mode: reported on stderr, the callback returns 0.
    let locked = Callback::new_locked("i", "i", |args: &[Value]| -> i32 {
        if args[0] == Value::Int(0) {
            std::panic::panic_any(PanicsOnDrop);
        }
        4
    })
    .unwrap();
    let r = call(&call_n(), &[(&locked).into(), 2.into()]).unwrap();
    println!("LOCKED {r}");
}

#[test]
fn a_panic_payload_whose_drop_panics_does_not_abort() {
    let child = run_child("child_payloads_whose_drop_panics");
    assert_eq!(child.code, Some(0), "stderr: {}", child.stderr);
    assert!(
        child.stdout.contains(
            "FREE callback panicked during the call to call_n: a non-string panic payload"
        ),
        "{}",
        child.stdout
    );
    assert!(child.stdout.contains("LOCKED 4"), "{}", child.stdout);
}

// --- 6. A lock-mode callback re-entered on its own thread --------------------------------

#[test]
fn child_reentered_lock_mode_callback() {
    if !is_child() {
        return;
    }
    static CODE: AtomicUsize = AtomicUsize::new(0);
    let call_n = call_n();
    let inner_calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&inner_calls);
    let cb = Callback::new_locked("i", "i", move |_: &[Value]| {
        seen.fetch_add(1, Ordering::SeqCst);
        // C calls this very callback again, on this thread, while it holds its lock.
        let nested = call(&call_n, &[CODE.load(Ordering::SeqCst).into(), 1.into()]).unwrap();
        7 + nested.as_i64().unwrap()
    })
    .unwrap();
    CODE.store(cb.code_ptr() as usize, Ordering::SeqCst);
    let r = call(&self::call_n(), &[(&cb).into(), 1.into()]).unwrap();
    println!(
        "RESULT {r} CLOSURE RAN {}",
        inner_calls.load(Ordering::SeqCst)
    );
}

#[test]
fn a_lock_mode_callback_reentered_on_its_thread_fails_that_invocation_instead_of_hanging() {
    let child = run_child("child_reentered_lock_mode_callback");
    assert!(child.code.is_some(), "the child hung: {}", child.stderr);
    assert_eq!(child.code, Some(0), "stderr: {}", child.stderr);
    // The re-entrant invocation returned 0 without running the closure a second time.
    assert!(
        child.stdout.contains("RESULT 7 CLOSURE RAN 1"),
        "{}",
        child.stdout
    );
    assert!(
        child.stderr.contains(
            "ffi-core: uncaught error in FFI callback (\"i\", \"i\"): re-entered on the thread \
             already running it (a lock-mode closure is FnMut and cannot run twice at once; \
             use Callback::new for a re-entrant callback); it returned 0 to C and execution goes on"
        ),
        "{}",
        child.stderr
    );
}

// --- 7. Read-only memory is refused in writable `p` slots --------------------------------

fn memset() -> Function {
    Library::this_process()
        .unwrap()
        .func("p", "memset", "piL")
        .unwrap()
}

#[test]
fn a_read_only_buffer_in_a_p_slot_is_refused() {
    let data = [7u8; 4];
    let err = call(&memset(), &[(&data).into(), 0.into(), 4usize.into()]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ArgType {
                index: 0,
                code: 'p',
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "memset: argument 0 (slot 'p', void *) expects a writable buffer (&mut), pointer, \
         string, integer address or None (read-only memory goes in a 'P' slot), got a \
         read-only buffer of 4 bytes"
    );
    assert_eq!(data, [7; 4]);
}

#[test]
fn a_c_string_in_a_p_slot_is_refused() {
    let text: &CStr = c"read-only";
    let err = call(&memset(), &[text.into(), 0.into(), 4usize.into()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "memset: argument 0 (slot 'p', void *) expects a writable buffer (&mut), pointer, \
         string, integer address or None (read-only memory goes in a 'P' slot), got a C \
         string (\"read-only\")"
    );
    assert_eq!(text.to_bytes(), b"read-only");
}

#[test]
fn writable_memory_goes_in_p_and_read_only_memory_in_p_upper_s_and_o() {
    let mut data = [7u8; 4];
    call(&memset(), &[(&mut data).into(), 1.into(), 3usize.into()]).unwrap();
    assert_eq!(data, [1, 1, 1, 7]);
    // A `&str` is copied for the call, so its copy may be written: `p` takes it.
    call(&memset(), &["abcd".into(), 0.into(), 4usize.into()]).unwrap();
    let libc = Library::this_process().unwrap();
    for sig in ["P", "s", "O"] {
        let strlen = libc.func("L", "strlen", sig).unwrap();
        let text: &CStr = c"four";
        assert_eq!(call(&strlen, &[text.into()]).unwrap().as_u64(), Some(4));
        assert_eq!(
            call(&strlen, &[(&b"five\0"[..]).into()]).unwrap().as_u64(),
            Some(4)
        );
    }
}
