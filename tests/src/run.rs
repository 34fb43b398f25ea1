//! The three things the bed does: prepare the cache, run the VM tests, run a command in a
//! VM with simulated chips.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::arch::{Arch, Machine};
use crate::build::{self, BuildRequest, Built, TestBinary};
use crate::buildroot::BuildRoot;
use crate::cache::{self, CacheLock};
use crate::error::{io_err, Error, Result};
use crate::host;
use crate::initramfs::{sh_quote, Initramfs, LibrarySource};
use crate::kernel::{self, Kernel};
use crate::qemu;
use crate::spec::ChipSpec;
use crate::suite::Suite;
use crate::vm::{self, BootConfig, BootOutcome, Marker};

/// Time the guest gets to boot and load its modules, on top of the job's own time (a
/// boot takes about 3 s under TCG; this leaves room for a loaded machine).
pub const BOOT_ALLOWANCE: Duration = Duration::from_secs(60);
/// Default limit for one test binary in the guest.
pub const DEFAULT_BINARY_TIMEOUT: Duration = Duration::from_secs(300);
/// How long past its guest-side timeout a test binary may run before the VM is killed: the
/// guest's `timeout -s KILL` ends it at once unless the guest kernel is stuck (a task in
/// uninterruptible sleep after an oops), and then only killing the VM ends the run.
pub const STUCK_GRACE: Duration = Duration::from_secs(30);
/// Default limit for a `vm` command.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(600);
/// Where `hwkit vm` puts the binary in the guest.
pub const GUEST_BIN_DIR: &str = "/usr/local/bin";

/// A prepared cache, locked shared for as long as this lives.
pub struct Session {
    /// The cache directory.
    pub cache: PathBuf,
    /// The machine to boot.
    pub machine: Machine,
    /// The prepared kernel.
    pub kernel: Kernel,
    /// QEMU accelerators to use (see [`vm::choose_accel`]).
    pub accel: Vec<String>,
    _lock: CacheLock,
}

impl Session {
    /// Installs missing host packages, then prepares (or finds) the kernel of `suite` for
    /// `machine` in the cache.
    pub fn start(machine: Machine, suite: Suite) -> Result<Session> {
        let cache = cache::cache_dir();
        host::ensure_host_packages()?;
        if machine.arch() != Arch::host() {
            // readelf lists foreign binaries' libraries, which ldd cannot run.
            host::ensure_packages(&[
                qemu::host_package(machine),
                ("binutils", "/usr/bin/readelf"),
            ])?;
        }
        let lock = CacheLock::shared(
            &cache,
            cache::USE_LOCK,
            "the cache is being cleaned or pruned",
        )?;
        let kernel = kernel::prepare_for(machine.arch(), suite, &cache, &lock)?;
        let accel = if machine == Machine::Pc {
            qemu::pc_accel(vm::choose_accel(&cache, &kernel.boot_image()), suite)
        } else {
            vec![qemu::ARM_ACCEL.to_string()]
        };
        Ok(Session {
            cache,
            machine,
            kernel,
            accel,
            _lock: lock,
        })
    }

    /// Where the guest's libraries come from: the host's for a guest of its architecture,
    /// else the build root's (made if needed, when `needs_libraries`).
    fn libraries(&self, needs_libraries: bool) -> Result<LibrarySource> {
        let arch = self.machine.arch();
        if arch == Arch::host() {
            return Ok(LibrarySource::Host);
        }
        if !needs_libraries {
            return Ok(LibrarySource::Foreign {
                arch,
                dirs: Vec::new(),
                sysroot: None,
            });
        }
        let root = BuildRoot::ensure()?;
        Ok(LibrarySource::Foreign {
            arch,
            dirs: root.lib_dirs(arch),
            sysroot: Some(root.path().to_path_buf()),
        })
    }

    /// A run directory, the initramfs being written in it, and the run's marker; the
    /// guest's libraries come from the host or the build root (`needs_libraries`: only if
    /// something but busybox goes in).
    fn initramfs(
        &self,
        needs_libraries: bool,
    ) -> Result<(tempfile::TempDir, PathBuf, String, Initramfs)> {
        let scratch = self.scratch()?;
        let marker = vm::new_marker();
        let initrd = scratch.path().join("initrd.cpio");
        let libraries = self.libraries(needs_libraries)?;
        let ird = Initramfs::create(&initrd, &self.kernel, self.machine, libraries, &marker)?;
        Ok((scratch, initrd, marker, ird))
    }

    fn scratch(&self) -> Result<tempfile::TempDir> {
        let tmp = std::env::temp_dir();
        tempfile::Builder::new()
            .prefix("hwkit-testbed-")
            .tempdir_in(&tmp)
            .map_err(io_err("cannot create a run directory in", tmp))
    }
}

/// Options of `testbed test`.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// What to build.
    pub build: BuildRequest,
    /// Arguments for every test binary (libtest's: filters, `--nocapture`, ...).
    pub libtest_args: Vec<String>,
    /// Limit for each test binary in the guest.
    pub binary_timeout: Duration,
    /// Show the whole console, boot messages included.
    pub verbose: bool,
    /// The kernel to boot (one of the machine's: [`Suite::for_machine`]).
    pub kernel: Suite,
}

/// The outcome of `testbed test`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TestReport {
    /// Tests passed, summed over libtest's `test result:` lines.
    pub passed: u64,
    /// Tests failed, plus one for each binary that failed without a `test result:` line.
    pub failed: u64,
    /// Each binary's name and exit status (`None`: it never finished).
    pub binaries: Vec<(String, Option<i32>)>,
    /// Why the run is a failure beyond failed tests (VM problems, missing markers).
    pub problems: Vec<String>,
}

impl TestReport {
    /// Whether everything passed.
    pub fn success(&self) -> bool {
        self.failed == 0
            && self.problems.is_empty()
            && !self.binaries.is_empty()
            && self.binaries.iter().all(|(_, c)| *c == Some(0))
    }

    /// The closing line CI reads: `N passed, N failed`.
    pub fn summary_line(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// Parses libtest's `test result: ok. 3 passed; 1 failed; ...` into (passed, failed).
pub fn parse_test_result(line: &str) -> Option<(u64, u64)> {
    let rest = &line[line.find("test result: ")? + "test result: ".len()..];
    let count = |word: &str| -> Option<u64> {
        rest.split(';').find_map(|part| {
            let mut it = part.split_whitespace().rev();
            (it.next()? == word).then_some(())?;
            it.next()?.parse().ok()
        })
    };
    let passed = count("passed")?;
    let failed = count("failed")?;
    Some((passed, failed))
}

/// Builds a report from the console of a test run.
pub fn report_from(outcome: &BootOutcome, expected: &[TestBinary], marker: &str) -> TestReport {
    let mut report = TestReport::default();
    let mut current: Option<(String, bool)> = None;
    let mut results: Vec<(String, Option<i32>, bool)> = Vec::new();
    for line in &outcome.log {
        match vm::parse_marker(line, marker) {
            Some(Marker::Begin(name)) => current = Some((name, false)),
            Some(Marker::End(name, code)) => {
                let saw = current.take().map(|(_, s)| s).unwrap_or(false);
                results.push((name, Some(code), saw));
            }
            Some(_) => {}
            None => {
                if let Some((p, f)) = parse_test_result(line) {
                    report.passed += p;
                    report.failed += f;
                    if let Some((_, saw)) = current.as_mut() {
                        *saw = true;
                    }
                }
            }
        }
    }
    if let Some((name, _)) = current {
        results.push((name, None, false));
    }
    for t in expected {
        let label = t.label();
        match results.iter().find(|(n, _, _)| *n == label) {
            Some((_, code, saw)) => {
                if *code != Some(0) && !saw {
                    // It died (panic outside a test, signal, timeout) before libtest's summary.
                    report.failed += 1;
                }
                let what = match code {
                    Some(0) => None,
                    Some(137) => Some(format!(
                        "{} was killed (timeout, signal 9) or crashed",
                        label
                    )),
                    Some(c) => Some(format!("{label} exited with status {c}")),
                    None => Some(format!("{label} never finished")),
                };
                if let (Some(w), false) = (what, *saw) {
                    report.problems.push(w);
                }
                report.binaries.push((label.clone(), *code));
            }
            None => {
                report.failed += 1;
                report
                    .problems
                    .push(format!("{label} never ran (no result marker)"));
                report.binaries.push((label, None));
            }
        }
    }
    if let Some(f) = outcome.failure() {
        report.problems.push(f);
    }
    report
}

/// The guest job that runs every test binary with a timeout, between markers.
pub fn test_job(tests: &[TestBinary], libtest_args: &[String], timeout: Duration) -> String {
    // A binary still there 10 s after its SIGKILL is stuck in the kernel: the blocked
    // tasks' kernel stacks (sysrq w) go to the console for the failure report, before the
    // host kills the VM (STUCK_GRACE).
    let mut job = String::from(
        "tb_run() {\n  n=$1; d=$2; t=$3; shift 3\n  echo \"$M BEGIN $n\"\n  \
         ( cd \"$d\" && CARGO_MANIFEST_DIR=\"$d\" exec timeout -s KILL \"$t\" \"$@\" </dev/null ) &\n  \
         p=$!\n  \
         ( sleep $((t + 10)); kill -0 $p 2>/dev/null || exit 0\n    \
         echo \"testbed: $n outlived its SIGKILL: stuck in the kernel; the blocked tasks:\"\n    \
         echo 7 > /proc/sys/kernel/printk; echo w > /proc/sysrq-trigger ) &\n  \
         w=$!\n  wait $p\n  rc=$?\n  kill $w 2>/dev/null\n  \
         echo \"$M END $n $rc\"\n}\n",
    );
    for t in tests {
        let mut line = format!(
            "tb_run {} {} {} {}",
            sh_quote(&t.label()),
            sh_quote(&t.manifest_dir.to_string_lossy()),
            timeout.as_secs().max(1),
            sh_quote(&t.executable.to_string_lossy())
        );
        for a in libtest_args {
            line.push(' ');
            line.push_str(&sh_quote(a));
        }
        job.push_str(&line);
        job.push('\n');
    }
    job
}

/// Builds the VM tests, boots the VM, runs them, and returns the report. Prints the guest's
/// output live and, at the end, the summary line.
pub fn run_tests(opts: &TestOptions) -> Result<TestReport> {
    let built = build::build(&opts.build)?;
    Ok(run_built(opts, &built)?.1)
}

/// One kernel's line of a matrix run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRun {
    /// The suite whose kernel ran the tests.
    pub suite: Suite,
    /// Its ABI and package version, if it was prepared.
    pub kernel: Option<(String, String)>,
    /// The tests' report, or why the kernel could not run them.
    pub outcome: std::result::Result<TestReport, String>,
}

impl KernelRun {
    /// Whether every test passed on this kernel.
    pub fn success(&self) -> bool {
        self.outcome.as_ref().is_ok_and(TestReport::success)
    }
}

/// The outcome of `testbed test` on several kernels.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MatrixReport {
    /// One entry per kernel, in the order they ran.
    pub runs: Vec<KernelRun>,
}

impl MatrixReport {
    /// Whether every kernel ran every test and all passed.
    pub fn success(&self) -> bool {
        !self.runs.is_empty() && self.runs.iter().all(KernelRun::success)
    }

    /// The tests passed and failed over all kernels; a kernel that could not run counts
    /// as one failure.
    pub fn totals(&self) -> (u64, u64) {
        self.runs.iter().fold((0, 0), |(p, f), r| match &r.outcome {
            Ok(t) => (p + t.passed, f + t.failed),
            Err(_) => (p, f + 1),
        })
    }

    /// The closing line CI reads: `N passed, N failed`, summed over the kernels.
    pub fn summary_line(&self) -> String {
        let (p, f) = self.totals();
        format!("{p} passed, {f} failed")
    }

    /// The per-kernel table: kernel, version, passed, failed (and what went wrong).
    pub fn table(&self) -> String {
        let rows: Vec<[String; 4]> = self
            .runs
            .iter()
            .map(|r| {
                let version = r
                    .kernel
                    .as_ref()
                    .map_or("-".into(), |(abi, v)| format!("{abi} ({v})"));
                let (passed, failed) = match &r.outcome {
                    Ok(t) if t.success() => (t.passed.to_string(), t.failed.to_string()),
                    Ok(t) => (t.passed.to_string(), format!("{} FAILED", t.failed)),
                    Err(_) => ("-".into(), "did not run".into()),
                };
                [r.suite.to_string(), version, passed, failed]
            })
            .collect();
        let head = ["kernel", "version", "passed", "failed"].map(String::from);
        let mut width = [0; 4];
        for row in std::iter::once(&head).chain(&rows) {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&head).chain(&rows) {
            let line = format!(
                "{:<w0$}  {:<w1$}  {:>w2$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = width[0],
                w1 = width[1],
                w2 = width[2]
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for r in &self.runs {
            if let Err(e) = &r.outcome {
                out.push_str(&format!("{}: {e}\n", r.suite));
            }
        }
        out
    }
}

/// Builds the VM tests once and runs them on each kernel of `kernels` in turn (one VM
/// each, [`TestOptions::kernel`] ignored); a kernel that cannot be prepared or booted is
/// reported and the others still run.
pub fn run_matrix(opts: &TestOptions, kernels: &[Suite]) -> Result<MatrixReport> {
    let built = build::build(&opts.build)?;
    let mut report = MatrixReport::default();
    for &suite in kernels {
        eprintln!("testbed: ==== the VM tests on Debian {suite}'s kernel ====");
        let one = TestOptions {
            kernel: suite,
            ..opts.clone()
        };
        let run = match run_built(&one, &built) {
            Ok((k, t)) => {
                println!("testbed: {suite}: {}", t.summary_line());
                KernelRun {
                    suite,
                    kernel: Some((k.info.abi, k.info.version)),
                    outcome: Ok(t),
                }
            }
            Err(e) => {
                eprintln!("testbed: {suite}: error: {e}");
                KernelRun {
                    suite,
                    kernel: None,
                    outcome: Err(e.to_string()),
                }
            }
        };
        report.runs.push(run);
    }
    Ok(report)
}

/// Boots `opts.kernel` with the already built tests, runs them, and returns the kernel
/// and the report.
fn run_built(opts: &TestOptions, built: &Built) -> Result<(Kernel, TestReport)> {
    let session = Session::start(opts.build.machine, opts.kernel)?;
    let t0 = Instant::now();
    // `_scratch` holds the run directory until the run ends.
    let (_scratch, initrd, marker, mut ird) = session.initramfs(true)?;
    pack_build(&mut ird, built)?;
    crate::debian_libs::pack(&mut ird, &built.debian_libs, &session.cache)?;
    crate::debian_bins::pack(&mut ird, &built.debian_bins, &session.cache)?;
    ird.tree(&opts.build.workspace)?;
    let job = test_job(&built.tests, &opts.libtest_args, opts.binary_timeout);
    ird.bytes("/testbed/job.sh", 0o644, job.as_bytes())?;
    let size = ird.finish()?;
    eprintln!(
        "testbed: {} test binar{} packed ({:.1} MiB initramfs in {:.1} s); booting {} ({}) on {}",
        built.tests.len(),
        if built.tests.len() == 1 { "y" } else { "ies" },
        size as f64 / (1 << 20) as f64,
        t0.elapsed().as_secs_f64(),
        session.kernel.info.abi,
        session.kernel.info.version,
        session.machine,
    );
    let timeout = BOOT_ALLOWANCE + opts.binary_timeout * built.tests.len() as u32;
    let mut cfg = boot_config(&session, &initrd, size, timeout, opts.verbose, &marker)?;
    cfg.step_limit = Some(opts.binary_timeout + STUCK_GRACE);
    let mut started = Instant::now();
    let outcome = vm::boot(&cfg, |line, marker, ready| {
        let mut out = std::io::stdout().lock();
        match marker {
            Some(Marker::Begin(n)) => {
                started = Instant::now();
                let _ = writeln!(out, "testbed: running {n} in the VM");
            }
            Some(Marker::End(n, code)) => {
                let secs = started.elapsed().as_secs_f64();
                let _ = writeln!(
                    out,
                    "testbed: {n} exited with status {code} after {secs:.1} s"
                );
            }
            Some(_) => {}
            None if ready || opts.verbose => {
                let _ = writeln!(out, "{line}");
            }
            None => {}
        }
    })?;
    let report = report_from(&outcome, &built.tests, &marker);
    // The timing helps with failures too (CI's budget, a slow boot).
    eprintln!(
        "testbed: VM ran {:.1} s (booted and ready in {:.1} s)",
        outcome.elapsed.as_secs_f64(),
        outcome.ready_after.unwrap_or_default().as_secs_f64()
    );
    if !report.success() {
        show_failure(&outcome, &report.problems, opts.verbose);
    }
    Ok((session.kernel.clone(), report))
}

fn boot_config(
    s: &Session,
    initrd: &Path,
    size: u64,
    timeout: Duration,
    verbose: bool,
    marker: &str,
) -> Result<BootConfig> {
    let memory_mib = guest_memory(s.machine, size)?;
    Ok(BootConfig {
        kernel: s.kernel.boot_image(),
        initrd: initrd.to_path_buf(),
        memory_mib,
        cpus: qemu::cpus(s.machine).unwrap_or(1),
        timeout,
        step_limit: None,
        verbose,
        marker: marker.to_string(),
        accel: s.accel.clone(),
        machine: s.machine,
        dtb: qemu::device_tree(s.machine).map(|rel| s.kernel.device_tree(rel)),
    })
}

/// The guest memory (MiB) for an initramfs of `size` bytes on `machine`; an initramfs too
/// big for a board with fixed memory is refused before booting.
pub fn guest_memory(machine: Machine, size: u64) -> Result<u64> {
    let memory_mib = vm::memory_for(size);
    match qemu::fixed_memory_mib(machine) {
        Some(fixed) if memory_mib > fixed => Err(Error::Usage(format!(
            "the initramfs is {:.0} MiB, too big for the {machine} machine's {fixed} MiB of \
             memory (at most {} MiB boots): narrow the run with --test or -p, or build with \
             CARGO_PROFILE_TEST_DEBUG=line-tables-only",
            size as f64 / (1 << 20) as f64,
            vm::largest_initramfs_mib(fixed)
        ))),
        Some(fixed) => Ok(fixed),
        None => Ok(memory_mib),
    }
}

fn pack_build(ird: &mut Initramfs, built: &Built) -> Result<()> {
    for t in &built.tests {
        ird.elf(&t.executable.to_string_lossy(), &t.executable)?;
    }
    for b in &built.bins {
        ird.elf(&b.to_string_lossy(), b)?;
    }
    for d in &built.out_dirs {
        if d.is_dir() {
            pack_dir_with_libs(ird, d)?;
        }
    }
    // Packages name their includes by guest path; on a foreign guest the file comes
    // from the build root.
    for inc in &built.includes {
        let host = ird.host_file_for(inc).ok_or_else(|| {
            Error::Usage(format!(
                "[package.metadata.hwkit-testbed] include names `{}`, which does not exist{}",
                inc.display(),
                match ird.arch() {
                    a if a == Arch::host() => String::new(),
                    a => format!(
                        " for {a} (looked in the build root {} too)",
                        crate::buildroot::buildroot_dir().display()
                    ),
                }
            ))
        })?;
        if host.is_dir() {
            pack_dir_with_libs(ird, &host)?;
        } else {
            ird.elf(&inc.to_string_lossy(), &host)?;
        }
    }
    Ok(())
}

/// Packs each host path at the same path: directories whole, files with their libraries.
fn pack_includes(ird: &mut Initramfs, paths: &[PathBuf], what: &str) -> Result<()> {
    for inc in paths {
        if inc.is_dir() {
            pack_dir_with_libs(ird, inc)?;
        } else if inc.is_file() {
            ird.elf(&inc.to_string_lossy(), inc)?;
        } else {
            return Err(Error::Usage(format!(
                "{what} names `{}`, which does not exist",
                inc.display()
            )));
        }
    }
    Ok(())
}

/// Packs a directory tree; shared objects in it bring their libraries along.
fn pack_dir_with_libs(ird: &mut Initramfs, dir: &Path) -> Result<()> {
    ird.tree(dir)?;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().contains(".so") {
                ird.libraries_of(&p)?;
            }
        }
    }
    Ok(())
}

fn show_failure(outcome: &BootOutcome, problems: &[String], verbose: bool) {
    let mut err = std::io::stderr().lock();
    if !verbose {
        let _ = writeln!(err, "testbed: ---- console log (last 60 lines) ----");
        let _ = writeln!(err, "{}", outcome.tail(60));
        let _ = writeln!(err, "testbed: ---- end of console log ----");
    }
    let log = std::env::temp_dir().join(format!(
        "hwkit-testbed-console-{}-{}.log",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    ));
    if std::fs::write(&log, outcome.log.join("\n") + "\n").is_ok() {
        let _ = writeln!(err, "testbed: full console log: {}", log.display());
    }
    for p in problems {
        let _ = writeln!(err, "testbed: FAILED: {p}");
    }
}

/// A host executable to put on the guest's PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestBinary {
    /// The file on the host.
    pub host: PathBuf,
    /// Its name in the guest's `/usr/local/bin`.
    pub name: String,
}

impl GuestBinary {
    /// `host`, under its own file name.
    pub fn new(host: impl Into<PathBuf>) -> GuestBinary {
        let host = host.into();
        let name = host
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        GuestBinary { host, name }
    }

    /// `host`, installed as `name`.
    pub fn named(host: impl Into<PathBuf>, name: &str) -> GuestBinary {
        GuestBinary {
            host: host.into(),
            name: name.to_string(),
        }
    }
}

/// Options of `testbed vm` and `hwkit vm`.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// Chips created before the command runs.
    pub chips: Vec<ChipSpec>,
    /// Host executables to install in the guest's `/usr/local/bin` (with their libraries).
    pub binaries: Vec<GuestBinary>,
    /// Host files or directories to put in the guest at the same paths (shared objects
    /// bring the libraries `ldd` lists), e.g. a library the command opens with `dlopen`.
    pub include: Vec<PathBuf>,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Kill the command after this long (in the guest).
    pub timeout: Duration,
    /// Kill the whole VM if it has not finished this long after the command's timeout.
    pub boot_timeout: Duration,
    /// Show the boot messages too.
    pub verbose: bool,
    /// Print the chips created (to stderr).
    pub show_chips: bool,
    /// The machine to boot.
    pub machine: Machine,
    /// The kernel to boot (one of the machine's: [`Suite::for_machine`]).
    pub kernel: Suite,
}

impl Default for VmOptions {
    fn default() -> Self {
        VmOptions {
            chips: ChipSpec::default_set(),
            binaries: Vec::new(),
            include: Vec::new(),
            command: Vec::new(),
            timeout: DEFAULT_COMMAND_TIMEOUT,
            boot_timeout: BOOT_ALLOWANCE,
            verbose: false,
            show_chips: true,
            machine: Machine::default(),
            kernel: Suite::default_for(Machine::default()),
        }
    }
}

/// The guest job that creates `chips` through gpio-sim's configfs and runs `command`,
/// killing it after `timeout`.
pub fn command_job(chips: &[ChipSpec], command: &[String], timeout: Duration) -> String {
    let mut job = String::from(
        "tb_chip() {\n  d=/sys/kernel/config/gpio-sim/hwkit-chip$1; label=$2; lines=$3; shift 3\n  \
         mkdir \"$d\" \"$d/bank0\" || tb_fatal \"cannot create gpio-sim device $d\"\n  \
         printf %s \"$label\" > \"$d/bank0/label\"\n  echo \"$lines\" > \"$d/bank0/num_lines\"\n  \
         off=0\n  for n in \"$@\"; do\n    if [ -n \"$n\" ]; then mkdir \"$d/bank0/line$off\"; \
         printf %s \"$n\" > \"$d/bank0/line$off/name\"; fi\n    off=$((off+1))\n  done\n  \
         echo 1 > \"$d/live\" || tb_fatal \"gpio-sim refused chip $label\"\n  \
         echo \"$M CHIP $(cat \"$d/bank0/chip_name\") $label $lines\"\n}\n",
    );
    for (i, c) in chips.iter().enumerate() {
        job.push_str(&format!("tb_chip {i} {} {}", sh_quote(&c.label), c.lines));
        for n in &c.names {
            job.push(' ');
            job.push_str(&sh_quote(n.as_deref().unwrap_or("")));
        }
        job.push('\n');
    }
    let cmd: Vec<String> = command.iter().map(|a| sh_quote(a)).collect();
    job.push_str(&format!(
        "( exec timeout -s KILL {} {} </dev/null )\necho \"$M EXIT $?\"\n",
        timeout.as_secs().max(1),
        cmd.join(" ")
    ));
    job
}

/// Boots a VM with `opts.chips`, runs `opts.command` as root and returns its exit status.
/// The command's output (stdout and stderr together, via the serial console) goes to stdout.
pub fn run_command(opts: &VmOptions) -> Result<i32> {
    if opts.command.is_empty() {
        return Err(Error::Usage(
            "no command given: write it after `--`, e.g. `-- hwkit gpio detect`".into(),
        ));
    }
    for b in &opts.binaries {
        if b.name.is_empty() || b.name.contains('/') {
            return Err(Error::Usage(format!(
                "`{}` is not a usable program name",
                b.name
            )));
        }
        if !b.host.is_file() {
            return Err(Error::Usage(format!(
                "`{}` is not a file",
                b.host.display()
            )));
        }
        crate::initramfs::check_arch(&b.host, opts.machine.arch())?;
    }
    for inc in &opts.include {
        if !inc.is_absolute() || !inc.exists() {
            return Err(Error::Usage(format!(
                "--include `{}`: give an existing absolute path",
                inc.display()
            )));
        }
        crate::initramfs::check_arch(inc, opts.machine.arch())?;
    }
    let session = Session::start(opts.machine, opts.kernel)?;
    // `_scratch` holds the run directory until the run ends.
    let (_scratch, initrd, marker, mut ird) =
        session.initramfs(!opts.binaries.is_empty() || !opts.include.is_empty())?;
    for b in &opts.binaries {
        ird.elf(&format!("{GUEST_BIN_DIR}/{}", b.name), &b.host)?;
    }
    pack_includes(&mut ird, &opts.include, "--include")?;
    ird.bytes(
        "/testbed/job.sh",
        0o644,
        command_job(&opts.chips, &opts.command, opts.timeout).as_bytes(),
    )?;
    let size = ird.finish()?;
    let cfg = boot_config(
        &session,
        &initrd,
        size,
        opts.timeout + opts.boot_timeout,
        opts.verbose,
        &marker,
    )?;
    let outcome = vm::boot(&cfg, |line, marker, ready| match marker {
        Some(Marker::Chip(c)) if opts.show_chips => eprintln!("testbed: chip {c} lines"),
        Some(_) => {}
        None if ready || opts.verbose => println!("{line}"),
        None => {}
    })?;
    let exit = outcome.markers.iter().find_map(|m| match m {
        Marker::Exit(c) => Some(*c),
        _ => None,
    });
    match (exit, outcome.failure()) {
        (Some(code), None) => {
            if code == 137 {
                eprintln!(
                    "testbed: the command was killed (SIGKILL): it ran past --timeout {} s, or \
                     something killed it",
                    opts.timeout.as_secs()
                );
            }
            Ok(code)
        }
        (_, Some(f)) => {
            show_failure(&outcome, &[], opts.verbose);
            Err(Error::Vm(f))
        }
        (None, None) => {
            show_failure(&outcome, &[], opts.verbose);
            Err(Error::Vm("the command's exit marker is missing".into()))
        }
    }
}

/// Prepares the cache (packages, the kernel of `suite` for `machine`, gpio-sim) without
/// booting; returns the kernel.
pub fn prepare(machine: Machine, suite: Suite) -> Result<Kernel> {
    Ok(Session::start(machine, suite)?.kernel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(name: &str) -> TestBinary {
        TestBinary {
            name: name.into(),
            package: "p".into(),
            manifest_dir: "/w/p".into(),
            executable: format!("/t/{name}").into(),
        }
    }

    const M: &str = "@@m@@";

    fn outcome(lines: &[&str]) -> BootOutcome {
        let mut o = BootOutcome::default();
        for l in lines {
            if let Some(m) = vm::parse_marker(l, M) {
                o.markers.push(m);
            }
            o.log.push(l.to_string());
        }
        o
    }

    #[test]
    fn libtest_summaries_are_parsed() {
        assert_eq!(
            parse_test_result("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"),
            Some((3, 0))
        );
        assert_eq!(
            parse_test_result(
                "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out"
            ),
            Some((1, 2))
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
    }

    #[test]
    fn a_clean_run_passes() {
        let o = outcome(&[
            "@@m@@ READY",
            "@@m@@ BEGIN p/a",
            "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
            "@@m@@ END p/a 0",
            "@@m@@ BEGIN p/b",
            "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
            "@@m@@ END p/b 0",
            "@@m@@ DONE",
        ]);
        let r = report_from(&o, &[bin("a"), bin("b")], M);
        assert!(r.success(), "{r:?}");
        assert_eq!(r.summary_line(), "5 passed, 0 failed");
    }

    #[test]
    fn failures_crashes_and_missing_markers_fail() {
        let o = outcome(&[
            "@@m@@ READY",
            "@@m@@ BEGIN p/a",
            "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
            "@@m@@ END p/a 101",
            "@@m@@ BEGIN p/b",
            "@@m@@ END p/b 137",
            "@@m@@ BEGIN p/c",
            "[   9.1] Kernel panic - not syncing",
        ]);
        let r = report_from(&o, &[bin("a"), bin("b"), bin("c"), bin("d")], M);
        assert!(!r.success());
        // a: 1 failed test; b: killed without summary (+1); c: never finished (+1); d: never ran (+1).
        assert_eq!(r.summary_line(), "1 passed, 4 failed");
        let all = r.problems.join("\n");
        assert!(all.contains("p/b was killed"), "{all}");
        assert!(all.contains("p/c never finished"), "{all}");
        assert!(all.contains("p/d never ran"), "{all}");
        assert!(all.contains("before its DONE"), "{all}");
    }

    #[test]
    fn same_target_names_in_two_packages_are_kept_apart() {
        let mut other = bin("a");
        other.package = "q".into();
        let o = outcome(&[
            "@@m@@ READY",
            "@@m@@ BEGIN p/a",
            "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
            "@@m@@ END p/a 0",
            "@@m@@ BEGIN q/a",
            "test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
            "@@m@@ END q/a 101",
            "@@m@@ DONE",
        ]);
        let r = report_from(&o, &[bin("a"), other], M);
        assert!(!r.success());
        assert_eq!(
            r.binaries,
            vec![("p/a".to_string(), Some(0)), ("q/a".to_string(), Some(101))]
        );
        assert_eq!(r.summary_line(), "1 passed, 1 failed");
    }

    #[test]
    fn an_initramfs_too_big_for_the_pi_is_refused() {
        assert_eq!(guest_memory(Machine::Raspi3b, 97 << 20).unwrap(), 1024);
        assert_eq!(guest_memory(Machine::Virt, 645 << 20).unwrap(), 2447);
        let e = guest_memory(Machine::Raspi3b, 200 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the initramfs is 200 MiB, too big for the raspi3b machine's 1024 MiB")
                && e.contains("at most 170 MiB"),
            "{e}"
        );
    }

    fn kernel_run(suite: Suite, outcome: std::result::Result<TestReport, String>) -> KernelRun {
        KernelRun {
            suite,
            kernel: outcome
                .is_ok()
                .then(|| (format!("{suite}-abi"), "1.0-1".to_string())),
            outcome,
        }
    }

    fn passing(passed: u64) -> TestReport {
        TestReport {
            passed,
            failed: 0,
            binaries: vec![("p/a".into(), Some(0))],
            problems: vec![],
        }
    }

    #[test]
    fn the_matrix_passes_only_if_every_kernel_passed() {
        let mut m = MatrixReport::default();
        assert!(!m.success(), "no kernel ran");
        m.runs.push(kernel_run(Suite::Bookworm, Ok(passing(156))));
        m.runs.push(kernel_run(Suite::Trixie, Ok(passing(156))));
        assert!(m.success());
        assert_eq!(m.summary_line(), "312 passed, 0 failed");
        assert_eq!(
            m.table(),
            "kernel    version               passed  failed\n\
             bookworm  bookworm-abi (1.0-1)     156  0\n\
             trixie    trixie-abi (1.0-1)       156  0\n"
        );

        let mut failed = passing(150);
        failed.failed = 6;
        failed.binaries = vec![("p/a".into(), Some(101))];
        m.runs.push(kernel_run(Suite::Sid, Ok(failed)));
        assert!(!m.success());
        assert_eq!(m.summary_line(), "462 passed, 6 failed");
        assert!(
            m.table()
                .contains("sid       sid-abi (1.0-1)          150  6 FAILED\n"),
            "{}",
            m.table()
        );
    }

    #[test]
    fn a_kernel_that_could_not_run_fails_the_matrix_and_says_why() {
        let m = MatrixReport {
            runs: vec![
                kernel_run(Suite::Bookworm, Ok(passing(3))),
                kernel_run(Suite::Sid, Err("no usable kernel: mirror down".into())),
            ],
        };
        assert!(!m.success());
        assert_eq!(m.summary_line(), "3 passed, 1 failed");
        let t = m.table();
        assert!(
            t.contains("sid       -                          -  did not run\n"),
            "{t}"
        );
        assert!(t.ends_with("sid: no usable kernel: mirror down\n"), "{t}");
    }

    #[test]
    fn no_binary_at_all_is_not_a_pass() {
        let o = outcome(&["@@m@@ READY", "@@m@@ DONE"]);
        assert!(!report_from(&o, &[], M).success());
    }

    #[test]
    fn jobs_quote_everything() {
        let job = test_job(
            &[bin("a")],
            &["--exact".into(), "it's".into()],
            Duration::from_secs(30),
        );
        assert!(
            job.contains("tb_run 'p/a' '/w/p' 30 '/t/a' '--exact' 'it'\\''s'"),
            "{job}"
        );
        let job = command_job(
            &[ChipSpec {
                label: "x".into(),
                lines: 3,
                names: vec![Some("A".into()), None],
            }],
            &["echo".into(), "a b".into()],
            Duration::from_secs(7),
        );
        assert!(job.contains("tb_chip 0 'x' 3 'A' ''"), "{job}");
        assert!(
            job.contains("( exec timeout -s KILL 7 'echo' 'a b' </dev/null )"),
            "{job}"
        );
    }
}
