//! Injected faults (issue 14 §3) on the legacy sysfs interface, through both I/O paths: the
//! chip removed in the middle of export, value I/O, direction changes and edge waits; a signal
//! every 100 us during edge waits; a line's files made read-only under an unprivileged
//! process. No panic, no hang, a clear one-line error, no fd left open.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::SimChip;
use sysfs_gpio::{Edge, Error, IoPath, Sysfs};

/// One test at a time in this process: the fd count of the process is the measure.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Whether `e` says, in one line, that the line or its chip went away.
fn says_gone(e: &Error) -> bool {
    !e.to_string().contains('\n')
        && (matches!(e, Error::LineGone { .. } | Error::ChipNotFound { .. })
            || e.raw_os_error() == Some(libc::ENODEV))
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Open,
    Get,
    Set,
    Direction,
    TimedEdgeWait,
    EdgeWait,
}

/// Runs `op` on line 0 of the chip labelled `label` until it fails; says on `ready` when the
/// line is open.
///
/// Exports start only once the removal is done (`removed`): 6.1's `export_store` reads the
/// chip without a guard, and an export racing the removal dereferences NULL in the kernel
/// (`gpiochip_line_is_valid`), which no user-space code can prevent.
fn until_failure(
    io: IoPath,
    op: Op,
    label: String,
    ready: mpsc::Sender<()>,
    removed: mpsc::Receiver<()>,
) -> Error {
    let sysfs = Sysfs::new();
    let mut line = match op {
        Op::Open => None,
        _ => Some(sysfs.open_line(label.as_str(), 0, io).expect("open line 0")),
    };
    if let (Op::Set, Some(l)) = (op, line.as_mut()) {
        l.set_output(false).unwrap();
    }
    if let (Op::TimedEdgeWait | Op::EdgeWait, Some(l)) = (op, line.as_mut()) {
        l.set_input().unwrap();
        l.set_edge(Edge::Both).unwrap();
    }
    let _ = ready.send(());
    if let Op::Open = op {
        let _ = removed.recv();
    }
    let mut flip = false;
    loop {
        flip = !flip;
        let r = match (op, line.as_mut()) {
            (Op::Open, _) => sysfs.open_line(label.as_str(), 1, io).map(drop),
            (Op::Get, Some(l)) => l.get_value().map(drop),
            (Op::Set, Some(l)) => l.set_value(flip),
            (Op::Direction, Some(l)) if flip => l.set_input(),
            (Op::Direction, Some(l)) => l.set_output(false),
            (Op::TimedEdgeWait, Some(l)) => {
                l.wait_for_edge(Some(Duration::from_millis(20))).map(drop)
            }
            (Op::EdgeWait, Some(l)) => l.wait_for_edge(None).map(drop),
            (_, None) => unreachable!(),
        };
        if let Err(e) = r {
            return e;
        }
    }
}

fn chip_removed_in_the_middle_of_each_operation(io: IoPath) {
    let _one = serial();
    for op in [
        Op::Open,
        Op::Get,
        Op::Set,
        Op::Direction,
        Op::TimedEdgeWait,
        Op::EdgeWait,
    ] {
        let before = fd_count();
        let chip = SimChip::new(2);
        let label = chip.label.clone();
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (removed_tx, removed_rx) = mpsc::channel();
        let worker =
            std::thread::spawn(move || tx.send(until_failure(io, op, label, ready_tx, removed_rx)));
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{io:?} {op:?}: the line did not open"));
        std::thread::sleep(Duration::from_millis(30));
        drop(chip);
        let _ = removed_tx.send(());
        let e = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{io:?} {op:?}: no end within 30 s of the removal"));
        worker.join().unwrap().unwrap();
        assert!(says_gone(&e), "{io:?} {op:?}: unclear error: {e:?}: {e}");
        assert_eq!(fd_count(), before, "{io:?} {op:?}: fds leaked");
    }
}

/// A line whose chip was removed closes without writing `unexport`: the kernel unexported it
/// (and on 6.17+ that write, racing the removal, deadlocks in the kernel). Before, `close`
/// wrote it and failed on the number or the file that was no longer there.
fn a_line_of_a_removed_chip_closes_cleanly(io: IoPath) {
    let _one = serial();
    let before = fd_count();
    let chip = SimChip::new(2);
    let line = Sysfs::new()
        .open_line(chip.label.as_str(), 0, io)
        .expect("open line 0");
    drop(chip);
    line.close()
        .unwrap_or_else(|e| panic!("{io:?}: close after the chip's removal: {e}"));
    assert_eq!(fd_count(), before, "{io:?}: fds leaked");
}

static HANDLED: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::Relaxed);
}

/// SIGUSR1 to the calling thread every 100 us, through a handler without `SA_RESTART` (so
/// the waits see `EINTR`), until the returned flag is set; the handle counts what was sent.
fn storm() -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(count_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only increments an atomic, which is async-signal-safe.
    unsafe { sigaction(Signal::SIGUSR1, &action) }.unwrap();
    // SAFETY: pthread_self has no preconditions.
    let target = unsafe { libc::pthread_self() };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut sent = 0;
        while !flag.load(Ordering::Relaxed) {
            // SAFETY: the target thread joins this one before it ends, so it is alive.
            assert_eq!(unsafe { libc::pthread_kill(target, libc::SIGUSR1) }, 0);
            sent += 1;
            std::thread::sleep(Duration::from_micros(100));
        }
        sent
    });
    (stop, handle)
}

const STORM_EDGES: usize = 16;

/// Signals a storm must have delivered before it ends.
const STORM_SIGNALS: u64 = 200;

fn edge_waits_go_on_through_a_storm_of_signals(io: IoPath) {
    let _one = serial();
    let chip = SimChip::new(1);
    let mut line = Sysfs::new().open_line(chip.label.as_str(), 0, io).unwrap();
    line.set_input().unwrap();
    line.set_edge(Edge::Both).unwrap();
    let (made_tx, made_rx) = mpsc::channel::<()>();
    let (seen_tx, seen_rx) = mpsc::channel();
    let handled = HANDLED.load(Ordering::Relaxed);
    let reader = std::thread::spawn(move || {
        let (stop, storm) = storm();
        let mut values = Vec::new();
        let mut err = None;
        let started = Instant::now();
        // Nothing pending: a bounded wait sleeps its time out through the storm.
        match line.wait_for_edge(Some(Duration::from_millis(100))) {
            Ok(None) if started.elapsed() >= Duration::from_millis(100) => {}
            other => err = Some(format!("an idle wait gave {other:?}")),
        }
        let _ = seen_tx.send(());
        while err.is_none() && made_rx.recv().is_ok() {
            let timeout = values
                .len()
                .is_multiple_of(2)
                .then_some(Duration::from_secs(5));
            match line.wait_for_edge(timeout) {
                Ok(Some(e)) => values.push(e.value),
                other => err = Some(format!("edge {}: {other:?}", values.len() + 1)),
            }
            let _ = seen_tx.send(());
        }
        // Idle bounded waits until the storm has surely hit them (under load its thread
        // gets little time): each must time out cleanly.
        let idle = Instant::now();
        while err.is_none()
            && HANDLED.load(Ordering::Relaxed) - handled < STORM_SIGNALS
            && idle.elapsed() < Duration::from_secs(20)
        {
            if let Err(e) = line.wait_for_edge(Some(Duration::from_millis(20))) {
                err = Some(format!("an idle wait after the edges: {e}"));
            }
        }
        stop.store(true, Ordering::Relaxed);
        let sent = storm.join().unwrap();
        (values, err, sent)
    });
    seen_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    for i in 0..STORM_EDGES {
        chip.pull(0, i.is_multiple_of(2));
        made_tx.send(()).unwrap();
        if seen_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            break;
        }
    }
    drop(made_tx);
    let (values, err, sent) = reader.join().unwrap();
    assert_eq!(err, None, "{io:?}");
    let expect: Vec<bool> = (0..STORM_EDGES).map(|i| i.is_multiple_of(2)).collect();
    assert_eq!(values, expect, "{io:?}: every edge, in order");
    let handled = HANDLED.load(Ordering::Relaxed) - handled;
    assert!(
        handled >= STORM_SIGNALS,
        "{io:?}: {sent} sent, {handled} handled"
    );
}

const ROLE: &str = "HWKIT_SYSFS_FAULTS_CHILD";

fn await_file(path: &Path) {
    let end = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < end, "{} did not appear", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// As nobody: the exported line's `value` and `direction` are writable, then made
/// read-only. The open value fd keeps working (the kernel checks at open); changing the
/// direction and opening the line again fail with a clear permission error.
fn unprivileged_child(io: IoPath, label: &str, dir: &Path) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    assert_ne!(unsafe { libc::geteuid() }, 0, "the child runs unprivileged");
    let sysfs = Sysfs::new();
    let mut line = sysfs.open_line(label, 0, io).unwrap();
    assert!(!line.exported_by_us(), "the parent exported it");
    line.set_value(true).unwrap();
    std::fs::write(dir.join("ready"), "").unwrap();
    await_file(&dir.join("go"));
    line.set_value(false)
        .expect("the value fd opened before the chmod still writes");
    for e in [
        line.set_input().unwrap_err(),
        sysfs.open_line(label, 0, io).map(drop).unwrap_err(),
    ] {
        let msg = e.to_string();
        assert!(
            matches!(e, Error::PermissionDenied { .. }) && !msg.contains('\n'),
            "{io:?}: {e:?}: {msg}"
        );
        assert!(msg.contains("/sys/class/gpio/gpio"), "{io:?}: {msg}");
    }
}

fn a_line_made_read_only_mid_session_gives_a_clear_error(io: IoPath, test: &str) {
    if let Ok(role) = std::env::var(ROLE) {
        let (label, dir) = role.split_once(' ').unwrap();
        unprivileged_child(io, label, Path::new(dir));
        return;
    }
    let _one = serial();
    let chip = SimChip::new(2);
    let mut line = Sysfs::new().open_line(chip.label.as_str(), 0, io).unwrap();
    line.set_output(false).unwrap();
    let files: Vec<PathBuf> = ["value", "direction"]
        .iter()
        .map(|f| line.dir().join(f))
        .collect();
    let mode = |m| {
        for f in &files {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(m)).unwrap();
        }
    };
    mode(0o666);
    let dir = std::env::temp_dir().join(format!("sysfs-faults-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, format!("{} {}", chip.label, dir.display()))
        .uid(65534)
        .gid(65534)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while !dir.join("ready").exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(chip.level(0), "the child drove the line high");
    mode(0o444);
    std::fs::write(dir.join("go"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{io:?}: the unprivileged child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!chip.level(0), "the child's held fd drove it low");
}

mod native {
    use super::*;
    #[test]
    fn chip_removed_in_the_middle_of_each_operation() {
        super::chip_removed_in_the_middle_of_each_operation(IoPath::Native)
    }
    #[test]
    fn a_line_of_a_removed_chip_closes_cleanly() {
        super::a_line_of_a_removed_chip_closes_cleanly(IoPath::Native)
    }
    #[test]
    fn edge_waits_go_on_through_a_storm_of_signals() {
        super::edge_waits_go_on_through_a_storm_of_signals(IoPath::Native)
    }
    #[test]
    fn a_line_made_read_only_mid_session_gives_a_clear_error() {
        super::a_line_made_read_only_mid_session_gives_a_clear_error(
            IoPath::Native,
            "native::a_line_made_read_only_mid_session_gives_a_clear_error",
        )
    }
}

mod ffi {
    use super::*;
    #[test]
    fn chip_removed_in_the_middle_of_each_operation() {
        super::chip_removed_in_the_middle_of_each_operation(IoPath::Ffi)
    }
    #[test]
    fn a_line_of_a_removed_chip_closes_cleanly() {
        super::a_line_of_a_removed_chip_closes_cleanly(IoPath::Ffi)
    }
    #[test]
    fn edge_waits_go_on_through_a_storm_of_signals() {
        super::edge_waits_go_on_through_a_storm_of_signals(IoPath::Ffi)
    }
    #[test]
    fn a_line_made_read_only_mid_session_gives_a_clear_error() {
        super::a_line_made_read_only_mid_session_gives_a_clear_error(
            IoPath::Ffi,
            "ffi::a_line_made_read_only_mid_session_gives_a_clear_error",
        )
    }
}
