//! Booting QEMU and reading the guest's serial console: markers, live output, timeouts.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::arch::Machine;
use crate::error::{Error, Result};
use crate::qemu;

/// One line the guest's `/init` printed after the run's marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// Modules loaded, gpio-sim present, the job starts.
    Ready,
    /// A test binary starts.
    Begin(String),
    /// A test binary ended with this exit status.
    End(String, i32),
    /// The user's command ended with this exit status (`vm`).
    Exit(i32),
    /// A simulated chip is live: `<chip name> <label> <lines>`.
    Chip(String),
    /// The guest could not set itself up.
    Fatal(String),
    /// The job is over; the guest powers off.
    Done,
}

/// Parses a console line into a marker, if it carries the run's `marker`.
pub fn parse_marker(line: &str, marker: &str) -> Option<Marker> {
    let rest = line[line.find(marker)? + marker.len()..].trim();
    let (word, arg) = rest
        .split_once(' ')
        .map_or((rest, ""), |(w, a)| (w, a.trim()));
    Some(match word {
        "READY" => Marker::Ready,
        "DONE" => Marker::Done,
        "BEGIN" => Marker::Begin(arg.to_string()),
        "END" => {
            let (name, code) = arg.rsplit_once(' ')?;
            Marker::End(name.to_string(), code.trim().parse().ok()?)
        }
        "EXIT" => Marker::Exit(arg.parse().ok()?),
        "CHIP" => Marker::Chip(arg.to_string()),
        "FATAL" => Marker::Fatal(arg.to_string()),
        _ => return None,
    })
}

/// Drops the line end, carriage returns and terminal escape sequences (the firmware clears
/// the screen) from a console line.
pub fn clean_line(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.trim_end_matches(['\n', '\r']).chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                // ESC [ params letter, or ESC and one character.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A fresh marker for one run: tests cannot print it by accident.
pub fn new_marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("@@testbed-{:x}-{:x}@@", std::process::id(), nanos)
}

/// How to boot.
#[derive(Debug, Clone)]
pub struct BootConfig {
    /// Kernel image (ELF `vmlinux` for the fast PVH entry, or `vmlinuz`).
    pub kernel: PathBuf,
    /// The initramfs.
    pub initrd: PathBuf,
    /// Guest memory in MiB.
    pub memory_mib: u64,
    /// Virtual CPUs.
    pub cpus: u32,
    /// Kill the VM after this long.
    pub timeout: Duration,
    /// Kill the VM when one step (between a BEGIN marker and its END) runs this long: the
    /// guest kills a step at its own timeout, so a step past this one means the guest
    /// kernel is stuck, and waiting for [`BootConfig::timeout`] would waste the run.
    pub step_limit: Option<Duration>,
    /// Show the kernel's boot messages (no `quiet`) and every console line as it comes.
    pub verbose: bool,
    /// The run's marker.
    pub marker: String,
    /// `-accel` values to try in order (QEMU falls back to the next when one fails).
    pub accel: Vec<String>,
    /// The emulated machine.
    pub machine: Machine,
    /// The device tree blob, for boards that need one.
    pub dtb: Option<PathBuf>,
}

/// What happened in the VM.
#[derive(Debug, Default)]
pub struct BootOutcome {
    /// Every console line, carriage returns removed.
    pub log: Vec<String>,
    /// Markers seen, in order.
    pub markers: Vec<Marker>,
    /// The VM ran past its timeout and was killed.
    pub timed_out: bool,
    /// QEMU's exit status.
    pub qemu_status: Option<ExitStatus>,
    /// How long the VM ran.
    pub elapsed: Duration,
    /// When the guest reported READY (booted, modules loaded), from QEMU's start.
    pub ready_after: Option<Duration>,
    /// The run was stopped by SIGINT or SIGTERM.
    pub interrupted: bool,
    /// The step (BEGIN marker's name) that ran past [`BootConfig::step_limit`]; the VM was
    /// killed.
    pub stuck_in: Option<String>,
}

impl BootOutcome {
    /// Whether the guest reached its DONE marker.
    pub fn done(&self) -> bool {
        self.markers.contains(&Marker::Done)
    }

    /// The first FATAL message, if any.
    pub fn fatal(&self) -> Option<&str> {
        self.markers.iter().find_map(|m| match m {
            Marker::Fatal(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// The last `n` console lines, for a failure report.
    pub fn tail(&self, n: usize) -> String {
        self.log[self.log.len().saturating_sub(n)..].join("\n")
    }

    /// A failure description when the guest did not run to its end, else `None`.
    pub fn failure(&self) -> Option<String> {
        if self.interrupted {
            return Some("interrupted (SIGINT or SIGTERM): the VM was stopped".into());
        }
        if let Some(f) = self.fatal() {
            return Some(format!("the guest could not start the job: {f}"));
        }
        if let Some(step) = &self.stuck_in {
            return Some(format!(
                "{step} went on past its timeout in the guest, which could not kill it: the guest \
                 kernel is stuck (see the console log for an oops or a hung task); the VM was \
                 killed after {:.0} s",
                self.elapsed.as_secs_f64()
            ));
        }
        if self.timed_out {
            return Some(format!(
                "the VM was still running after {:.0} s and was killed",
                self.elapsed.as_secs_f64()
            ));
        }
        if !self.markers.contains(&Marker::Ready) {
            return Some("the guest never got ready (kernel panic or boot failure?)".into());
        }
        if !self.done() {
            return Some(
                "the guest stopped before its DONE marker (kernel panic? killed init?)".into(),
            );
        }
        None
    }
}

/// The step the guest is in (between a BEGIN marker and its END) and since when.
#[derive(Debug, Default)]
struct StepWatch(Option<(String, Instant)>);

impl StepWatch {
    fn observe(&mut self, m: &Marker, at: Instant) {
        match m {
            Marker::Begin(name) => self.0 = Some((name.clone(), at)),
            Marker::End(..) | Marker::Done => self.0 = None,
            _ => {}
        }
    }

    /// The step's name if it has run longer than `limit` at `now`.
    fn past(&self, limit: Duration, now: Instant) -> Option<&str> {
        let (name, since) = self.0.as_ref()?;
        (now.saturating_duration_since(*since) > limit).then_some(name.as_str())
    }
}

/// Environment variable naming the QEMU accelerators to use, comma-separated (e.g. `tcg`);
/// it skips the KVM probe.
pub const ACCEL_ENV: &str = "HWKIT_TESTBED_ACCEL";

/// The accelerators to boot with: `$HWKIT_TESTBED_ACCEL` if set; else KVM (with TCG as
/// QEMU's fallback) when a probe boot under KVM reached userspace, else TCG. `/dev/kvm`
/// exists on machines where KVM hangs, so only a real boot tells; the answer is kept in
/// `<cache>/accel.json` for as long as the host is not rebooted.
pub fn choose_accel(cache: &Path, kernel: &Path) -> Vec<String> {
    if let Ok(v) = std::env::var(ACCEL_ENV) {
        if !v.trim().is_empty() {
            return v.split(',').map(|s| s.trim().to_string()).collect();
        }
    }
    let tcg = vec!["tcg".to_string()];
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return tcg;
    }
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let boot_id = boot_id.trim();
    let saved = cache.join("accel.json");
    let known = std::fs::read_to_string(&saved)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter(|v| v["boot_id"] == boot_id)
        .and_then(|v| v["kvm"].as_bool());
    let kvm = match known {
        Some(k) => k,
        None => {
            eprintln!("testbed: checking whether KVM works on this host (once per host boot)");
            let k = kvm_boots(kernel).unwrap_or(false);
            eprintln!(
                "testbed: KVM {}",
                if k {
                    "works: using it"
                } else {
                    "does not work here: using TCG"
                }
            );
            let json = serde_json::json!({ "boot_id": boot_id, "kvm": k }).to_string();
            let tmp = cache.join(format!(".accel-{}.json", std::process::id()));
            if std::fs::write(&tmp, json).is_ok() {
                let _ = std::fs::rename(&tmp, &saved);
            }
            k
        }
    };
    if kvm {
        vec!["kvm".into(), "tcg".into()]
    } else {
        tcg
    }
}

/// Boots `kernel` under KVM with an initramfs that only prints a word and powers off.
fn kvm_boots(kernel: &Path) -> Result<bool> {
    let dir = tempfile::Builder::new()
        .prefix("hwkit-testbed-kvm-")
        .tempdir()
        .map_err(crate::error::io_err(
            "cannot create a temporary directory in",
            std::env::temp_dir(),
        ))?;
    let initrd = dir.path().join("probe.cpio");
    let file =
        std::fs::File::create(&initrd).map_err(crate::error::io_err("cannot create", &initrd))?;
    let mut cpio = crate::cpio::CpioWriter::new(file);
    let write = |c: &mut crate::cpio::CpioWriter<std::fs::File>| -> std::io::Result<()> {
        c.file_from(
            crate::initramfs::BUSYBOX,
            Path::new(crate::initramfs::BUSYBOX),
        )?;
        c.file_bytes(
            "/init",
            0o755,
            b"#!/bin/busybox sh\n/bin/busybox echo KVM-PROBE-OK\n/bin/busybox poweroff -f\n",
        )
    };
    write(&mut cpio).map_err(crate::error::io_err("cannot write", &initrd))?;
    cpio.finish()
        .map_err(crate::error::io_err("cannot write", &initrd))?;
    let cfg = BootConfig {
        kernel: kernel.to_path_buf(),
        initrd,
        memory_mib: 256,
        cpus: 1,
        timeout: Duration::from_secs(15),
        step_limit: None,
        verbose: false,
        marker: "KVM-PROBE-NO-MARKER".into(),
        accel: vec!["kvm".into()],
        machine: Machine::Pc,
        dtb: None,
    };
    let out = boot(&cfg, |_, _, _| {})?;
    Ok(!out.timed_out && out.log.iter().any(|l| l.contains("KVM-PROBE-OK")))
}

fn qemu_command(cfg: &BootConfig) -> Command {
    let mut append = String::from("panic=-1 oops=panic rdinit=/init");
    if cfg.machine == Machine::Pc {
        append.push_str(" no_timer_check");
    }
    if cfg.machine == Machine::Raspi3b {
        // Debian's kernels have CONFIG_IO_STRICT_DEVMEM: without this, /dev/mem refuses the
        // GPIO registers the pin controller claimed, and hw's register backend (tested here,
        // as on a board whose kernel has no /dev/gpiomem) cannot map them.
        append.push_str(" iomem=relaxed");
    }
    if !cfg.verbose {
        append.push_str(" quiet loglevel=3");
    }
    qemu::command(
        cfg.machine,
        &qemu::QemuArgs {
            kernel: &cfg.kernel,
            initrd: &cfg.initrd,
            dtb: cfg.dtb.clone(),
            memory_mib: cfg.memory_mib,
            cpus: cfg.cpus,
            accel: &cfg.accel,
            append: &append,
        },
    )
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While a VM runs, SIGINT and SIGTERM stop it and let the run clean up (its temporary
/// directory, the cache lock) and report, instead of killing the process on the spot.
/// The previous handlers come back on drop.
struct SignalGuard {
    previous: [(libc::c_int, libc::sighandler_t); 2],
}

impl SignalGuard {
    fn install() -> SignalGuard {
        INTERRUPTED.store(false, Ordering::SeqCst);
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let previous =
            [libc::SIGINT, libc::SIGTERM].map(|sig| (sig, unsafe { libc::signal(sig, handler) }));
        SignalGuard { previous }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for (sig, old) in self.previous {
            // SAFETY: restores the handler that was in place before `install`.
            unsafe { libc::signal(sig, old) };
        }
    }
}

/// Kills the child on drop, so an early return or a panic never leaves a VM behind.
struct Reaper(Child);
impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Boots the VM and reads its console until it powers off or times out. `on_line` gets
/// every line, its marker, and whether the job is running (past READY, before DONE), to
/// print what the caller wants.
pub fn boot(
    cfg: &BootConfig,
    mut on_line: impl FnMut(&str, Option<&Marker>, bool),
) -> Result<BootOutcome> {
    let mut cmd = qemu_command(cfg);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = Reaper(cmd.spawn().map_err(|e| Error::Command {
        command: crate::host::show(&cmd),
        detail: format!(
            "cannot start: {e} (is {} installed?)",
            qemu::host_package(cfg.machine).0
        ),
    })?);
    let stdout = child.0.stdout.take().expect("piped stdout");
    let mut stderr = child.0.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = clean_line(&line);
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let mut out = BootOutcome::default();
    let deadline = start + cfg.timeout;
    let mut ready = false;
    let _signals = SignalGuard::install();
    let mut step = StepWatch::default();
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            out.interrupted = true;
            let _ = child.0.kill();
            break;
        }
        if let Some(name) = cfg.step_limit.and_then(|l| step.past(l, Instant::now())) {
            out.stuck_in = Some(name.to_string());
            let _ = child.0.kill();
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(line) => {
                let marker = parse_marker(&line, &cfg.marker);
                match &marker {
                    Some(Marker::Ready) => {
                        ready = true;
                        out.ready_after = Some(start.elapsed());
                    }
                    // What follows DONE is the kernel powering off.
                    Some(Marker::Done) => ready = false,
                    _ => {}
                }
                if let Some(m) = &marker {
                    step.observe(m, Instant::now());
                }
                on_line(&line, marker.as_ref(), ready);
                if let Some(m) = marker {
                    out.markers.push(m);
                }
                out.log.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                out.timed_out = true;
                let _ = child.0.kill();
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    out.qemu_status = child.0.wait().ok();
    out.elapsed = start.elapsed();
    let _ = reader.join();
    let qemu_err = err_reader.join().unwrap_or_default();
    for l in qemu_err.lines().filter(|l| !l.trim().is_empty()) {
        out.log.push(format!("[qemu] {l}"));
    }
    if !out.timed_out && !out.markers.contains(&Marker::Ready) && out.log.is_empty() {
        return Err(Error::Vm(format!(
            "QEMU printed nothing: {}",
            qemu_err.trim()
        )));
    }
    Ok(out)
}

/// Guest memory for an initramfs of `initrd_bytes`: the kernel holds the archive and its
/// unpacked copy at once, so three times its size plus room to run, at least 1 GiB.
pub fn memory_for(initrd_bytes: u64) -> u64 {
    let mib = initrd_bytes.div_ceil(1 << 20);
    (mib * 3 + 512).max(1024)
}

/// The largest initramfs (MiB) that boots in `memory_mib` by [`memory_for`]'s rule.
pub fn largest_initramfs_mib(memory_mib: u64) -> u64 {
    memory_mib.saturating_sub(512) / 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_parsed() {
        let m = "@@testbed-1-2@@";
        assert_eq!(
            parse_marker("@@testbed-1-2@@ READY", m),
            Some(Marker::Ready)
        );
        assert_eq!(
            parse_marker("junk @@testbed-1-2@@ DONE", m),
            Some(Marker::Done)
        );
        assert_eq!(
            parse_marker("@@testbed-1-2@@ END vm smoke 101", m),
            Some(Marker::End("vm smoke".into(), 101))
        );
        assert_eq!(
            parse_marker("@@testbed-1-2@@ BEGIN vm_smoke", m),
            Some(Marker::Begin("vm_smoke".into()))
        );
        assert_eq!(
            parse_marker("@@testbed-1-2@@ EXIT 3", m),
            Some(Marker::Exit(3))
        );
        assert_eq!(
            parse_marker("@@testbed-1-2@@ FATAL insmod x failed", m),
            Some(Marker::Fatal("insmod x failed".into()))
        );
        assert_eq!(
            parse_marker("@@testbed-9-9@@ READY", m),
            None,
            "another run's marker"
        );
        assert_eq!(parse_marker("@@testbed-1-2@@ END x notanumber", m), None);
        assert_eq!(parse_marker("@@testbed-1-2@@ WHAT", m), None);
        assert_eq!(parse_marker("plain output", m), None);
    }

    #[test]
    fn console_lines_lose_escapes_and_carriage_returns() {
        assert_eq!(
            clean_line("c\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2)\r\n"),
            "cSeaBIOS (version 1.16.2)"
        );
        assert_eq!(clean_line("\x1bcBooting\r"), "Booting");
        assert_eq!(clean_line("a\tb\r\r\n"), "a\tb");
    }

    #[test]
    fn outcome_failures_are_named() {
        let mut o = BootOutcome::default();
        assert!(o.failure().unwrap().contains("never got ready"));
        o.markers.push(Marker::Ready);
        assert!(o.failure().unwrap().contains("before its DONE"));
        o.markers.push(Marker::Done);
        assert_eq!(o.failure(), None);
        o.timed_out = true;
        assert!(o.failure().unwrap().contains("killed"));
        o.markers.push(Marker::Fatal("no gpio-sim".into()));
        assert!(o.failure().unwrap().contains("no gpio-sim"));
        let o = BootOutcome {
            stuck_in: Some("hw/vm_faults".into()),
            ..BootOutcome::default()
        };
        let f = o.failure().unwrap();
        assert!(
            f.contains("hw/vm_faults") && f.contains("kernel is stuck"),
            "{f}"
        );
    }

    #[test]
    fn a_step_past_its_limit_is_named_and_an_ended_one_is_not() {
        let t0 = Instant::now();
        let limit = Duration::from_secs(330);
        let mut w = StepWatch::default();
        assert_eq!(w.past(limit, t0 + Duration::from_secs(9999)), None);
        w.observe(&Marker::Begin("hw/vm_soak".into()), t0);
        assert_eq!(w.past(limit, t0 + Duration::from_secs(330)), None);
        assert_eq!(
            w.past(limit, t0 + Duration::from_secs(331)),
            Some("hw/vm_soak")
        );
        w.observe(&Marker::Ready, t0);
        assert!(w.past(limit, t0 + Duration::from_secs(331)).is_some());
        w.observe(&Marker::End("hw/vm_soak".into(), 0), t0);
        assert_eq!(w.past(limit, t0 + Duration::from_secs(9999)), None);
        w.observe(&Marker::Begin("hw/vm_hal".into()), t0);
        w.observe(&Marker::Done, t0);
        assert_eq!(w.past(limit, t0 + Duration::from_secs(9999)), None);
    }

    #[test]
    fn memory_grows_with_the_initramfs() {
        assert_eq!(memory_for(0), 1024);
        assert_eq!(memory_for(100 << 20), 1024);
        assert_eq!(memory_for(400 << 20), 1712);
        assert_eq!(largest_initramfs_mib(1024), 170);
        assert_eq!(memory_for(170 << 20), 1024);
        assert!(memory_for(171 << 20) > 1024);
    }

    #[test]
    fn markers_differ_between_runs() {
        let a = new_marker();
        std::thread::sleep(Duration::from_millis(2));
        assert_ne!(a, new_marker());
    }
}
