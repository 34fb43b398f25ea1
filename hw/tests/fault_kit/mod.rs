//! What the fault and soak tests share: every backend behind the generic `Lines` API, the
//! process's fd count and memory read from `/proc/self`, a storm of signals that interrupt
//! blocking system calls, and child processes made from this same test binary.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};

use std::thread::JoinHandle;
use std::time::Duration;

use hw::line::Backend;
use hw::{CdevBackend, LibgpiodBackend, LibgpiodVersion, SysfsBackend, Uapi};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// A backend under test: its name, and how to make it (in whichever thread needs it).
#[derive(Clone, Copy)]
pub struct Subject {
    pub name: &'static str,
    make: fn() -> Box<dyn Backend>,
}

impl Subject {
    /// A fresh instance of the backend.
    pub fn backend(&self) -> Box<dyn Backend> {
        (self.make)()
    }

    /// Whether the backend is the character device's (line info shows its consumer name;
    /// sysfs shows "sysfs").
    pub fn is_sysfs(&self) -> bool {
        self.name.starts_with("sysfs")
    }
}

fn libgpiod_v1() -> Box<dyn Backend> {
    Box::new(
        LibgpiodBackend::open_version(LibgpiodVersion::V1)
            .expect("libgpiod.so.2 (packed into the VM by the test bed)"),
    )
}

fn libgpiod_v2() -> Box<dyn Backend> {
    let path = hwkit_testbed::debian_libs::guest_path("trixie", "libgpiod.so.3");
    // SAFETY: Debian trixie's own libgpiod 2.x build, which the test bed packed at this path
    // (hw's `debian-libs`); its initialisers are sound and its API is libgpiod 2.x's.
    let b = unsafe { LibgpiodBackend::open_library(&path.to_string_lossy()) }
        .unwrap_or_else(|e| panic!("trixie's libgpiod.so.3 at {}: {e}", path.display()));
    Box::new(b)
}

/// Every backend this kernel and system can run: uAPI v2, v1 where the kernel has it, sysfs
/// natively and through ffi-core, and the libgpiod backend where it can request lines here.
///
/// libgpiod 1.x speaks only uAPI v1: on a kernel without v1 its refusal is what
/// `vm_backend_libgpiod` checks, and it is left out here. libgpiod 2.x (trixie's, packed by
/// the test bed) speaks uAPI v2 and runs on every kernel.
pub fn subjects() -> Vec<Subject> {
    let v1 = hwkit_testbed::sim::kernel_has_uapi_v1();
    let mut out = vec![Subject {
        name: "cdev-v2",
        make: || Box::new(CdevBackend::forced(Uapi::V2)),
    }];
    if v1 {
        out.push(Subject {
            name: "cdev-v1",
            make: || Box::new(CdevBackend::forced(Uapi::V1)),
        });
    }
    out.push(Subject {
        name: "sysfs-native",
        make: || Box::new(SysfsBackend::native()),
    });
    out.push(Subject {
        name: "sysfs-ffi",
        make: || Box::new(SysfsBackend::ffi()),
    });
    if v1 {
        out.push(Subject {
            name: "libgpiod-v1",
            make: libgpiod_v1,
        });
    }
    out.push(Subject {
        name: "libgpiod-v2",
        make: libgpiod_v2,
    });
    out
}

/// One test at a time in this process: the fd count of the process is the measure.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The open fds of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// The open fds, with what they point at (for a failure message).
pub fn fd_list() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok())
        .map(|e| {
            let target = std::fs::read_link(e.path())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            format!("{} -> {target}", e.file_name().to_string_lossy())
        })
        .collect();
    v.sort();
    v
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Waits up to 30 s for `what` (a result sent on `rx`): a fault must never hang a call. (The
/// calls end within a second; the margin is for TCG beside other work.)
pub fn bounded<T>(rx: &std::sync::mpsc::Receiver<T>, what: &str) -> T {
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} did not come back within 30 s (a hang)"))
}

static DELIVERED: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    DELIVERED.fetch_add(1, Ordering::Relaxed);
}

/// SIGUSR1 gets a handler without `SA_RESTART`, so a blocking system call it interrupts
/// fails with `EINTR` instead of being restarted by the kernel.
fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let action = SigAction::new(
            SigHandler::Handler(count_signal),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: the handler only increments an atomic, which is async-signal-safe.
        unsafe { sigaction(Signal::SIGUSR1, &action) }.expect("sigaction SIGUSR1");
    });
}

/// SIGUSR1 sent to one thread every 100 us until stopped.
pub struct Storm {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Storm {
    /// Starts a storm at the calling thread. Stop it before the thread ends.
    pub fn at_this_thread() -> Storm {
        install_handler();
        // SAFETY: pthread_self has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut sent = 0;
            while !flag.load(Ordering::Relaxed) {
                // SAFETY: the target thread is alive: it stops the storm (joining this thread)
                // before it ends, so `target` still names it.
                let rc = unsafe { libc::pthread_kill(target, libc::SIGUSR1) };
                assert_eq!(rc, 0, "pthread_kill");
                sent += 1;
                std::thread::sleep(Duration::from_micros(100));
            }
            sent
        });
        Storm {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the storm; returns how many signals it sent.
    pub fn stop(mut self) -> u64 {
        self.halt()
    }

    fn halt(&mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().expect("storm thread"))
            .unwrap_or(0)
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        // The target thread must outlive every signal sent to it.
        self.halt();
    }
}

/// Signals handled so far in this process.
pub fn signals_delivered() -> u64 {
    DELIVERED.load(Ordering::Relaxed)
}

/// The environment variable that makes a test of this binary run its child part.
pub const CHILD_ROLE: &str = "HWKIT_FAULTS_CHILD";

/// The child part's role, when this process is a child started by [`child`].
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ROLE).ok()
}

/// A command running test `name` of this binary alone as a child with `role` (and `env`).
pub fn child(name: &str, role: &str, env: &[(&str, String)]) -> Command {
    let mut c = Command::new(std::env::current_exe().expect("current_exe"));
    c.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE, role)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    c
}

/// Checks a child's output: it passed, and ran the one test (not zero: a renamed test
/// would otherwise pass by running nothing).
pub fn assert_child_passed(out: &Output, what: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

/// Waits up to 60 s for `path` to exist (a child's signal to its parent: a debug test binary
/// starting under TCG beside other VM work can take tens of seconds).
pub fn await_file(path: &Path, what: &str) {
    hwkit_testbed::sim::wait_for_path(path, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{what}: {} did not appear: {e}", path.display()));
}

/// A new empty directory under the temporary directory, for files a child and its parent
/// signal each other with.
pub fn scratch_dir() -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hwkit-faults-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
