//! Helpers shared by the command's tests: running the built `hwkit`, checking how a run ended,
//! and (for the VM tests) simulated chips, among them a Raspberry Pi 4 header chip.
// Each test crate uses only some of these.
#![allow(dead_code)]

use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gpiosim::{Bank, Sim};
use hwkit_testbed::spec::{PI4_LABEL, PI4_LINE_NAMES};

/// Runs `hwkit ARGS` to the end.
pub fn hwkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(args)
        .output()
        .expect("run hwkit")
}

/// Runs `hwkit gpio ARGS` to the end.
pub fn gpio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .arg("gpio")
        .args(args)
        .output()
        .expect("run hwkit")
}

/// Runs `hwkit pinout ARGS` to the end.
pub fn pinout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .arg("pinout")
        .args(args)
        .output()
        .expect("run hwkit")
}

/// Starts `hwkit gpio ARGS` with its output captured.
pub fn spawn_gpio(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .arg("gpio")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hwkit")
}

/// The stdout of a run that must have succeeded.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "hwkit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The `hwkit gpio --backend` values to run a check through: v2, then v1 where the kernel
/// has uAPI v1. Where it lacks v1 (Debian's 7.x: told by the kernel's symbol table, not by
/// hwkit), checks instead that `--backend v1` is refused with the reason and the way out.
pub fn cdev_backends() -> Vec<&'static str> {
    if hwkit_testbed::sim::kernel_has_uapi_v1() {
        return vec!["v2", "v1"];
    }
    let s = gpiosim::builder()
        .with_bank(&Bank::new(2, unique("no-v1")))
        .live()
        .unwrap();
    let chip = s.chips()[0].dev_path().display().to_string();
    let e = err(&gpio(&["--backend", "v1", "get", "-c", &chip, "0"]));
    assert!(
        e.contains("GPIO uAPI v1 is not available")
            && e.contains("CONFIG_GPIO_CDEV_V1 is not set")
            && e.contains("use uAPI v2"),
        "{e}"
    );
    vec!["v2"]
}

/// The one-line error of a failed run.
pub fn err(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "hwkit succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let e = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(e.lines().count(), 1, "errors are one line: {e:?}");
    assert!(e.starts_with("hwkit: "), "{e}");
    e
}

/// Waits (boundedly) for a child to exit; a child still running after 10 s is killed and the
/// test fails with what it printed. `what` names the run in that failure.
pub fn finish(mut child: Child, what: &str) -> (ExitStatus, String, String) {
    let end = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "hwkit {what:?} did not exit; stdout: {:?} stderr: {:?}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Polls `f` for up to 10 s; the test fails if it never holds.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

/// Blocks until `watcher`, watching a line's info, reports the line requested; the test fails
/// with `what` if 30 s pass without it (a debug `hwkit` starting under software emulation
/// next to the other tests' processes has been seen to take more than 10 s).
pub fn wait_requested(watcher: &hw::Chip, what: &str) {
    loop {
        let e = watcher
            .read_info_event_timeout(Duration::from_secs(30))
            .unwrap()
            .expect(what);
        if e.kind == hw::InfoChangeKind::Requested {
            return;
        }
    }
}

/// A name no other test in this process uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// What the kernel says about line `offset` of the simulator's chip number `chip`.
pub fn info(sim: &Sim, chip: usize, offset: u32) -> hw::LineInfo {
    hw::Chip::open(sim.chips()[chip].dev_path())
        .unwrap()
        .line_info(offset)
        .unwrap()
}

/// Holds line `offset` of the simulator's chip number `chip` as an input for `consumer`, as
/// another program would.
pub fn hold(sim: &Sim, chip: usize, offset: u32, consumer: &str) -> hw::Request {
    hw::Request::builder()
        .on_chip(sim.chips()[chip].dev_path())
        .consumer(consumer)
        .with_line(offset)
        .as_input()
        .request()
        .unwrap()
}

/// One `pinctrl-bcm2711` chip at a time: two would make the label ambiguous (by design).
static ONE_PI4: Mutex<()> = Mutex::new(());

/// Held while a test has a simulated Pi 4.
pub fn one_pi4() -> MutexGuard<'static, ()> {
    ONE_PI4.lock().unwrap_or_else(|e| e.into_inner())
}

/// A simulated Pi 4 header chip (the test bed's Pi 4 preset), and optionally a second chip.
pub fn pi4(extra: Option<&Bank>) -> Sim {
    let mut bank = Bank::new(58, PI4_LABEL);
    for (o, n) in PI4_LINE_NAMES.iter().enumerate() {
        bank.name(o as u32, *n);
    }
    let mut b = gpiosim::builder();
    b.with_bank(&bank);
    if let Some(e) = extra {
        b.with_bank(e);
    }
    b.live().unwrap()
}
