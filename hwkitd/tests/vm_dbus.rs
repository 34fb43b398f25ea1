//! hwkitd on a real bus in the VM: `dbus-daemon` with a bus configuration of the test's
//! own, gpio-sim chips, and `gdbus` (GLib's generic client, not hwkit code) as the client.
//! Each test starts its own bus and daemon.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use gpiosim::{Bank, Level, Sim};
use hwkit_testbed::dbus::{self, stop, PrivateBus};

/// A name no other test in this process uses.
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn sim(lines: u32) -> Sim {
    gpiosim::builder()
        .with_bank(&Bank::new(lines, unique("dbus")))
        .live()
        .expect("gpio-sim chip")
}

fn level(sim: &Sim, offset: u32) -> Level {
    sim.chips()[0].get_level(offset).expect("sim level")
}

/// The daemon's object path of the sim's chip.
fn chip_path(sim: &Sim) -> String {
    format!("/io/gpiod1/chips/{}", sim.chips()[0].chip_name)
}

fn line_path(sim: &Sim, offset: u32) -> String {
    format!("{}/line{offset}", chip_path(sim))
}

/// Every test's daemon watches every chip of the VM. On Linux 6.1, releasing a request of a
/// removed chip while any fd watches its lines dereferences the gone chip (a kernel NULL
/// dereference; see `Daemon::unexport_chip`): a daemon closes its own watch first, but not
/// another test's daemon's. So the hot-plug test runs alone, the others side by side.
static TURNS: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn side_by_side() -> std::sync::RwLockReadGuard<'static, ()> {
    TURNS.read().unwrap_or_else(|e| e.into_inner())
}

fn alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    TURNS.write().unwrap_or_else(|e| e.into_inner())
}

/// How long anything the test waits for may take: the VM is emulated and may be shared.
const PATIENCE: Duration = dbus::PATIENCE;

/// A private system bus with hwkitd on it (the test bed's [`dbus::PrivateBus`]), and the
/// clients this test calls it with.
struct Bus {
    inner: PrivateBus,
    daemon_args: Vec<String>,
}

impl std::ops::Deref for Bus {
    type Target = PrivateBus;
    fn deref(&self) -> &PrivateBus {
        &self.inner
    }
}

impl std::ops::DerefMut for Bus {
    fn deref_mut(&mut self) -> &mut PrivateBus {
        &mut self.inner
    }
}

impl Bus {
    /// Starts the bus (anyone may do anything) and the daemon, and waits until the daemon
    /// owns `io.gpiod1`.
    fn start() -> Bus {
        Bus::start_with(Access::Open)
    }

    fn start_with(access: Access) -> Bus {
        Bus::start_full(access, &[])
    }

    /// The bus, and the daemon with extra arguments.
    fn start_full(access: Access, daemon_args: &[&str]) -> Bus {
        let mut b = Bus::without_daemon(access, daemon_args);
        b.start_daemon();
        b
    }

    /// The bus alone; [`Bus::start_daemon`] starts the daemon with `daemon_args`.
    fn without_daemon(access: Access, daemon_args: &[&str]) -> Bus {
        let access = match access {
            Access::Open => dbus::Access::Open,
            Access::Shipped => dbus::Access::Policy(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("data/io.gpiod1.conf"),
            ),
        };
        Bus {
            inner: PrivateBus::start(&access),
            daemon_args: daemon_args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Starts the daemon expecting it to refuse to run: its log once it has exited.
    fn daemon_refuses(&mut self) -> String {
        let args = self.daemon_args.clone();
        self.inner
            .daemon_refuses(Path::new(env!("CARGO_BIN_EXE_hwkitd")), &args)
    }

    fn start_daemon(&mut self) {
        let args = self.daemon_args.clone();
        self.inner
            .start_daemon(Path::new(env!("CARGO_BIN_EXE_hwkitd")), &args);
    }

    /// Runs `gdbus ARGS --system` against this bus as user `uid` (root if `None`).
    fn gdbus_as(&self, uid: Option<u32>, args: &[&str]) -> Output {
        let mut cmd = Command::new("gdbus");
        if let Some(uid) = uid {
            // The user's groups as login would set them (the bus reads the caller's
            // supplementary groups from the socket): its own, and gpio for the members.
            let groups: Vec<libc::gid_t> = if uid == MEMBER || uid == MEMBER2 {
                vec![uid, GPIO_GID]
            } else {
                vec![uid]
            };
            // SAFETY: setgroups, setgid and setuid are async-signal-safe, as pre_exec needs;
            // `groups` is moved into the closure and outlives the call.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                    if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                        || libc::setgid(uid) != 0
                        || libc::setuid(uid) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            cmd.env("HOME", "/");
        }
        cmd.args(&args[..1])
            .arg("--system")
            .args(&args[1..])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .stdin(Stdio::null())
            .output()
            .expect("gdbus (packed by the test bed from the host's libglib2.0-bin)")
    }

    /// Calls `method` (`Interface.Method`) on `object` of io.gpiod1; stdout on success,
    /// the error line on failure.
    fn call(&self, object: &str, method: &str, args: &[&str]) -> Result<String, String> {
        self.call_as(None, object, method, args)
    }

    /// [`Bus::call`] as user `uid`.
    fn call_as(
        &self,
        uid: Option<u32>,
        object: &str,
        method: &str,
        args: &[&str],
    ) -> Result<String, String> {
        self.call_to(uid, "io.gpiod1", object, method, args)
    }

    /// [`Bus::call_as`] addressed to `dest` (`io.gpiod1` or `io.hwkit1`).
    fn call_to(
        &self,
        uid: Option<u32>,
        dest: &str,
        object: &str,
        method: &str,
        args: &[&str],
    ) -> Result<String, String> {
        let mut all = vec![
            "call",
            "--dest",
            dest,
            "--object-path",
            object,
            "--method",
            method,
        ];
        all.extend_from_slice(args);
        let out = self.gdbus_as(uid, &all);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    fn ok(&self, object: &str, method: &str, args: &[&str]) -> String {
        self.call(object, method, args)
            .unwrap_or_else(|e| panic!("{method} on {object} {args:?}: {e}\n{}", self.log()))
    }

    fn err(&self, object: &str, method: &str, args: &[&str]) -> String {
        match self.call(object, method, args) {
            Ok(out) => panic!("{method} on {object} {args:?} succeeded: {out}"),
            Err(e) => e,
        }
    }

    /// A property, as gdbus prints it (`(<true>,)`).
    fn property(&self, object: &str, interface: &str, name: &str) -> String {
        self.ok(
            object,
            "org.freedesktop.DBus.Properties.Get",
            &[interface, name],
        )
    }

    /// `RequestLines` on the sim's chip; the request path.
    fn request(
        &self,
        sim: &Sim,
        line_config: &str,
        request_config: &str,
    ) -> Result<String, String> {
        self.call(
            &chip_path(sim),
            "io.gpiod1.Chip.RequestLines",
            &[line_config, request_config],
        )
        .map(|out| {
            // (objectpath '/io/gpiod1/requests/request0',)
            out.split('\'').nth(1).unwrap_or_default().to_owned()
        })
    }
}

/// Who may do what on a test's bus.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone may own names and call anything.
    Open,
    /// A system bus's defaults (method calls denied) plus hwkitd's own policy file.
    Shipped,
}

fn hold(sim: &Sim, offset: u32, consumer: &str) -> hw::Request {
    hw::Request::builder()
        .on_chip(PathBuf::from(sim.chips()[0].dev_path()))
        .consumer(consumer)
        .with_line(offset)
        .as_input()
        .request()
        .expect("a request of the test's own")
}

fn kernel_info(sim: &Sim, offset: u32) -> hw::LineInfo {
    hw::Chip::open(sim.chips()[0].dev_path())
        .and_then(|c| c.line_info(offset))
        .expect("line info")
}

#[test]
fn a_line_stays_driven_after_the_client_exits() {
    let _turn = side_by_side();
    let s = sim(8);
    let bus = Bus::start();
    let req = bus
        .request(
            &s,
            "([([3, 5], {'direction': <'output'>})], [1, 0])",
            "{'consumer': <'vm-dbus'>}",
        )
        .unwrap_or_else(|e| panic!("RequestLines: {e}\n{}", bus.log()));
    assert!(req.starts_with("/io/gpiod1/requests/request"), "{req}");
    // gdbus has exited; the daemon holds the lines and drives them.
    assert_eq!((level(&s, 3), level(&s, 5)), (Level::High, Level::Low));
    let info = kernel_info(&s, 3);
    assert!(info.used && info.consumer == "vm-dbus", "{info:?}");
    let line = line_path(&s, 3);
    assert_eq!(
        bus.property(&line, "io.gpiod1.Line", "Managed"),
        "(<true>,)"
    );
    assert_eq!(
        bus.property(&line, "io.gpiod1.Line", "RequestPath"),
        format!("(<objectpath '{req}'>,)")
    );
    assert_eq!(
        bus.property(&line, "io.gpiod1.Line", "Direction"),
        "(<'output'>,)"
    );
    assert_eq!(
        bus.property(&line, "io.gpiod1.Line", "Consumer"),
        "(<'vm-dbus'>,)"
    );
    assert_eq!(
        bus.property(&req, "io.gpiod1.Request", "ChipPath"),
        format!("(<objectpath '{}'>,)", chip_path(&s))
    );
    assert_eq!(
        bus.property(&req, "io.gpiod1.Request", "LinePaths"),
        format!("(<[objectpath '{}', '{}']>,)", line, line_path(&s, 5))
    );

    // Still there a moment later, after another client came and went.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(level(&s, 3), Level::High);

    bus.ok(&req, "io.gpiod1.Request.SetValues", &["{3: 0, 5: 1}"]);
    assert_eq!((level(&s, 3), level(&s, 5)), (Level::Low, Level::High));
    assert_eq!(
        bus.ok(&req, "io.gpiod1.Request.GetValues", &["[5, 3]"]),
        "([1, 0],)"
    );
    assert_eq!(
        bus.ok(&req, "io.gpiod1.Request.GetValues", &["@au []"]),
        "([0, 1],)"
    );

    // Reconfigured as an input, line 5 follows the simulator's pull.
    bus.ok(
        &req,
        "io.gpiod1.Request.ReconfigureLines",
        &["([([5], {'direction': <'input'>, 'bias': <'pull-up'>})], @ai [])"],
    );
    assert_eq!(kernel_info(&s, 5).direction, hw::Direction::Input);
    s.chips()[0].set_pull(5, Level::Low).expect("pull");
    assert_eq!(
        bus.ok(&req, "io.gpiod1.Request.GetValues", &["[5]"]),
        "([0],)"
    );
    s.chips()[0].set_pull(5, Level::High).expect("pull");
    assert_eq!(
        bus.ok(&req, "io.gpiod1.Request.GetValues", &["[5]"]),
        "([1],)"
    );
    assert_eq!(
        bus.property(&line_path(&s, 5), "io.gpiod1.Line", "Bias"),
        "(<'pull-up'>,)"
    );

    // Release frees the lines and removes the object.
    bus.ok(&req, "io.gpiod1.Request.Release", &[]);
    assert!(!kernel_info(&s, 3).used);
    assert!(!kernel_info(&s, 5).used);
    assert_eq!(
        bus.property(&line, "io.gpiod1.Line", "Managed"),
        "(<false>,)"
    );
    assert_eq!(
        bus.property(&line, "io.gpiod1.Line", "RequestPath"),
        "(<objectpath '/'>,)"
    );
    let e = bus.err(&req, "io.gpiod1.Request.GetValues", &["@au []"]);
    assert!(e.contains("UnknownObject") && e.contains(&req), "{e}");
    // The line is free for anyone again.
    drop(hold(&s, 3, "after"));
}

#[test]
fn chips_and_lines_describe_themselves() {
    let _turn = side_by_side();
    let s = gpiosim::builder()
        .with_bank(Bank::new(4, unique("dbus-props")).name(2, "RELAY"))
        .live()
        .expect("gpio-sim chip");
    let bus = Bus::start();
    let chip = chip_path(&s);
    let c = &s.chips()[0];
    assert_eq!(
        bus.property(&chip, "io.gpiod1.Chip", "Name"),
        format!("(<'{}'>,)", c.chip_name)
    );
    assert_eq!(
        bus.property(&chip, "io.gpiod1.Chip", "Label"),
        format!("(<'{}'>,)", c.config().label)
    );
    assert_eq!(
        bus.property(&chip, "io.gpiod1.Chip", "NumLines"),
        "(<uint32 4>,)"
    );
    // gdbus prints a NUL-terminated byte array as a bytestring.
    assert_eq!(
        bus.property(&chip, "io.gpiod1.Chip", "Path"),
        format!("(<b'{}'>,)", c.dev_path().display())
    );
    let relay = line_path(&s, 2);
    assert_eq!(
        bus.property(&relay, "io.gpiod1.Line", "Name"),
        "(<'RELAY'>,)"
    );
    assert_eq!(
        bus.property(&relay, "io.gpiod1.Line", "Offset"),
        "(<uint32 2>,)"
    );
    assert_eq!(bus.property(&relay, "io.gpiod1.Line", "Used"), "(<false>,)");

    // A line another process requests shows as used, by that consumer, not managed.
    let other = hold(&s, 2, "someone-else");
    assert_eq!(bus.property(&relay, "io.gpiod1.Line", "Used"), "(<true>,)");
    assert_eq!(
        bus.property(&relay, "io.gpiod1.Line", "Consumer"),
        "(<'someone-else'>,)"
    );
    assert_eq!(
        bus.property(&relay, "io.gpiod1.Line", "Managed"),
        "(<false>,)"
    );
    drop(other);
    assert_eq!(bus.property(&relay, "io.gpiod1.Line", "Used"), "(<false>,)");

    // The object managers list the chip, its lines and (later) the requests. (gdbus writes
    // the type of a dictionary's keys on its first key only, so paths are matched quoted.)
    let objects = bus.ok(
        "/io/gpiod1/chips",
        "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
        &[],
    );
    assert!(objects.contains(&format!("'{chip}'")), "{objects}");
    let lines = bus.ok(
        &chip,
        "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
        &[],
    );
    assert!(lines.contains(&format!("'{relay}'")), "{lines}");
    let req = bus
        .request(
            &s,
            "([([0], {'direction': <'input'>})], @ai [])",
            "@a{sv} {}",
        )
        .expect("RequestLines");
    let requests = bus.ok(
        "/io/gpiod1/requests",
        "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
        &[],
    );
    assert!(requests.contains(&format!("'{req}'")), "{requests}");
    // With no consumer given, the kernel shows the daemon's.
    assert_eq!(kernel_info(&s, 0).consumer, "hwkitd");
}

#[test]
fn bad_input_is_a_clear_dbus_error_and_the_daemon_serves_on() {
    let _turn = side_by_side();
    let s = sim(8);
    let mut bus = Bus::start();
    let out = "{'direction': <'output'>}";

    // An unknown chip, a request that does not exist.
    let e = bus.err(
        "/io/gpiod1/chips/gpiochip999",
        "io.gpiod1.Chip.RequestLines",
        &["([([0], {})], @ai [])", "@a{sv} {}"],
    );
    assert!(
        e.contains("UnknownObject") && e.contains("gpiochip999"),
        "{e}"
    );
    let e = bus.err(
        "/io/gpiod1/requests/request77",
        "io.gpiod1.Request.Release",
        &[],
    );
    assert!(
        e.contains("UnknownObject") && e.contains("request77"),
        "{e}"
    );

    // An offset past the chip's last line.
    let e = bus
        .request(&s, &format!("([([99], {out})], [1])"), "@a{sv} {}")
        .unwrap_err();
    assert!(
        e.contains("io.gpiod1.RequestFailed") && e.contains("99") && e.contains("8 lines"),
        "{e}"
    );

    // Malformed settings dictionaries.
    for (cfg, wanted) in [
        ("([([1], {'direction': <'sideways'>})], @ai [])", "sideways"),
        (
            "([([1], {'active-low': <'yes'>})], @ai [])",
            "must be a boolean (b)",
        ),
        (
            "([([1], {'colour': <'red'>})], @ai [])",
            "unknown line setting 'colour'",
        ),
        (
            "([([1], {'debounce-period': <uint32 5>})], @ai [])",
            "signed 64-bit",
        ),
        (
            "([([1], {'direction': <'output'>})], [5])",
            "expected 0 (inactive) or 1",
        ),
        ("([([1, 1], @a{sv} {})], @ai [])", "appears twice"),
        ("(@a(aua{sv}) [], @ai [])", "lists no lines"),
    ] {
        let e = bus.request(&s, cfg, "@a{sv} {}").unwrap_err();
        assert!(
            e.contains("org.freedesktop.DBus.Error.InvalidArgs") && e.contains(wanted),
            "{cfg}: {e}"
        );
    }
    let e = bus
        .request(&s, "([([1], {})], @ai [])", "{'consumer': <42>}")
        .unwrap_err();
    assert!(
        e.contains("InvalidArgs") && e.contains("'consumer' must be a string"),
        "{e}"
    );
    let e = bus
        .request(&s, "([([1], {})], @ai [])", "{'owner': <'me'>}")
        .unwrap_err();
    assert!(
        e.contains("InvalidArgs") && e.contains("unknown request setting 'owner'"),
        "{e}"
    );

    // A line held by another process, and one the daemon already holds.
    let other = hold(&s, 6, "other-process");
    let e = bus
        .request(&s, &format!("([([6], {out})], [1])"), "@a{sv} {}")
        .unwrap_err();
    assert!(
        e.contains("io.gpiod1.RequestFailed") && e.contains("busy") && e.contains("other-process"),
        "{e}"
    );
    drop(other);
    let first = bus
        .request(
            &s,
            &format!("([([4], {out})], [1])"),
            "{'consumer': <'first'>}",
        )
        .expect("RequestLines");
    let e = bus
        .request(&s, &format!("([([4], {out})], [0])"), "@a{sv} {}")
        .unwrap_err();
    assert!(e.contains("RequestFailed") && e.contains("first"), "{e}");
    assert_eq!(
        level(&s, 4),
        Level::High,
        "the refused request changed nothing"
    );

    // Values: for an input, not 0/1, for a line not in the request, none at all.
    let input = bus
        .request(
            &s,
            "([([2], {'direction': <'input'>})], @ai [])",
            "@a{sv} {}",
        )
        .expect("RequestLines");
    let e = bus.err(&input, "io.gpiod1.Request.SetValues", &["{2: 1}"]);
    assert!(
        e.contains("io.gpiod1.SetValuesFailed") && e.contains("is an input"),
        "{e}"
    );
    let e = bus.err(&first, "io.gpiod1.Request.SetValues", &["{4: 2}"]);
    assert!(
        e.contains("InvalidArgs") && e.contains("value 2 for line 4"),
        "{e}"
    );
    let e = bus.err(&first, "io.gpiod1.Request.SetValues", &["{7: 1}"]);
    assert!(
        e.contains("io.gpiod1.SetValuesFailed") && e.contains('7'),
        "{e}"
    );
    let e = bus.err(&first, "io.gpiod1.Request.SetValues", &["@a{ui} {}"]);
    assert!(
        e.contains("InvalidArgs") && e.contains("no values given"),
        "{e}"
    );
    let e = bus.err(&first, "io.gpiod1.Request.GetValues", &["[7]"]);
    assert!(
        e.contains("io.gpiod1.GetValuesFailed") && e.contains('7'),
        "{e}"
    );
    let e = bus.err(
        &first,
        "io.gpiod1.Request.ReconfigureLines",
        &["([([4], {'edge': <'sideways'>})], @ai [])"],
    );
    assert!(e.contains("InvalidArgs") && e.contains("sideways"), "{e}");
    let e = bus.err(
        &first,
        "io.gpiod1.Request.ReconfigureLines",
        &["([([7], {'direction': <'input'>})], @ai [])"],
    );
    assert!(
        e.contains("io.gpiod1.ReconfigureFailed") && e.contains('7'),
        "{e}"
    );
    assert_eq!(
        level(&s, 4),
        Level::High,
        "errors left the held output alone"
    );

    // After all that, the daemon serves on.
    assert!(bus.daemon_alive(), "{}", bus.log());
    bus.ok(&first, "io.gpiod1.Request.SetValues", &["{4: 0}"]);
    assert_eq!(level(&s, 4), Level::Low);
    assert!(!bus.log().contains("panicked"), "{}", bus.log());
}

#[test]
fn sigterm_stops_the_daemon_cleanly() {
    let _turn = side_by_side();
    let s = sim(4);
    let mut bus = Bus::start();
    bus.request(&s, "([([1], {'direction': <'output'>})], [1])", "@a{sv} {}")
        .expect("RequestLines");
    assert_eq!(level(&s, 1), Level::High);
    let mut daemon = bus.daemon.take().expect("daemon");
    stop(&mut daemon);
    let status = daemon.wait().expect("status");
    assert!(
        status.success(),
        "hwkitd exited with {status}:\n{}",
        bus.log()
    );
    assert!(!kernel_info(&s, 1).used, "the line was released");
    assert!(bus.log().contains("stopping"), "{}", bus.log());
}

/// One `EdgeEvent` as `gdbus monitor` prints it:
/// `PATH: io.gpiod1.Line.EdgeEvent ((1, uint64 123, uint64 1, uint64 1),)`.
fn parse_edge_event(line: &str) -> Option<(i32, u64, u64, u64)> {
    let data = line.split("io.gpiod1.Line.EdgeEvent ((").nth(1)?;
    let data = data.split(')').next()?;
    let fields: Vec<&str> = data
        .split(',')
        .map(|f| f.trim().trim_start_matches("uint64 "))
        .collect();
    match fields.as_slice() {
        [e, t, s, l] => Some((
            e.parse().ok()?,
            t.parse().ok()?,
            s.parse().ok()?,
            l.parse().ok()?,
        )),
        _ => None,
    }
}

/// `gdbus monitor` of everything io.gpiod1 sends, line by line.
struct Monitor {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Monitor {
    fn start(bus: &Bus) -> Monitor {
        let mut child = Command::new("gdbus")
            .args(["monitor", "--system", "--dest", "io.gpiod1"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
            .stdout(Stdio::piped())
            .spawn()
            .expect("gdbus monitor");
        let (tx, lines) = std::sync::mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let first = lines.recv_timeout(PATIENCE).expect("gdbus monitor started");
        assert!(first.contains("Monitoring signals"), "{first}");
        // Its match rule reaches the bus on its own connection: give that a moment.
        std::thread::sleep(Duration::from_secs(1));
        Monitor { child, lines }
    }

    /// The next line `f` accepts, waiting at most PATIENCE.
    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + PATIENCE;
        while Instant::now() < end {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                if f(&line) {
                    return line;
                }
            }
        }
        panic!("no signal {what} arrived in time");
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

#[test]
fn edge_events_arrive_as_signals_in_order() {
    let _turn = side_by_side();
    let s = sim(4);
    let bus = Bus::start();
    bus.request(
        &s,
        "([([1], {'direction': <'input'>, 'edge': <'both'>}), ([2], {'direction': <'input'>})], @ai [])",
        "@a{sv} {}",
    )
    .expect("RequestLines");
    let monitor = Monitor::start(&bus);
    let chip = &s.chips()[0];
    for level in [Level::High, Level::Low, Level::High] {
        chip.set_pull(1, level).expect("pull");
        // Lets each edge be its own interrupt (see hw's VM tests' `pull`).
        std::thread::sleep(Duration::from_millis(15));
    }
    // An edge on a line without edge detection sends nothing.
    chip.set_pull(2, Level::High).expect("pull");

    let line = line_path(&s, 1);
    let events: Vec<(i32, u64, u64, u64)> = (0..3)
        .map(|_| {
            let l = monitor.wait_for("EdgeEvent", |l| parse_edge_event(l).is_some());
            assert!(l.starts_with(&format!("{line}:")), "{l}");
            parse_edge_event(&l).unwrap()
        })
        .collect();
    assert_eq!(
        events.iter().map(|e| (e.0, e.2, e.3)).collect::<Vec<_>>(),
        [(1, 1, 1), (0, 2, 2), (1, 3, 3)],
        "rising, falling, rising, numbered in order"
    );
    assert!(
        events[0].1 > 0 && events[0].1 < events[1].1 && events[1].1 < events[2].1,
        "timestamps increase: {events:?}"
    );
    // Nothing more arrives (line 2 has no edge detection).
    while let Ok(l) = monitor.lines.recv_timeout(Duration::from_millis(500)) {
        assert!(parse_edge_event(&l).is_none(), "{l}");
    }
}

#[test]
fn properties_follow_a_line_another_process_requests() {
    let _turn = side_by_side();
    let s = sim(4);
    let bus = Bus::start();
    let monitor = Monitor::start(&bus);
    let changed = format!(
        "{}: org.freedesktop.DBus.Properties.PropertiesChanged ('io.gpiod1.Line'",
        line_path(&s, 2)
    );
    let other = hold(&s, 2, "someone-else");
    let l = monitor.wait_for("Used true", |l| {
        l.starts_with(&changed) && l.contains("'Used': <true>")
    });
    assert!(
        l.contains("'Consumer': <'someone-else'>") && l.contains("'Managed': <false>"),
        "{l}"
    );
    drop(other);
    monitor.wait_for("Used false", |l| {
        l.starts_with(&changed) && l.contains("'Used': <false>")
    });

    // The daemon's own requests: Managed and RequestPath change with them.
    let req = bus
        .request(&s, "([([3], {'direction': <'output'>})], [1])", "@a{sv} {}")
        .expect("RequestLines");
    let changed3 = changed.replace("/line2:", "/line3:");
    let l = monitor.wait_for("Managed true", |l| {
        l.starts_with(&changed3) && l.contains("'Managed': <true>")
    });
    assert!(
        l.contains(&format!("'RequestPath': <objectpath '{req}'>")),
        "{l}"
    );
    bus.ok(&req, "io.gpiod1.Request.Release", &[]);
    monitor.wait_for("Managed false", |l| {
        l.starts_with(&changed3) && l.contains("'Managed': <false>")
    });
}

/// Polls `f` until it is true, for at most PATIENCE.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + PATIENCE;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn chips_come_and_go_while_the_daemon_runs() {
    let _turn = alone();
    let mut bus = Bus::start();
    // Created after the daemon started.
    let s = sim(4);
    let kept = sim(2);
    let name_of = |sim: &Sim| {
        bus.call(
            &chip_path(sim),
            "org.freedesktop.DBus.Properties.Get",
            &["io.gpiod1.Chip", "Name"],
        )
    };
    eventually("the new chips to appear", || {
        name_of(&s).is_ok() && name_of(&kept).is_ok()
    });
    let doomed = bus
        .request(&s, "([([1], {'direction': <'output'>})], [1])", "@a{sv} {}")
        .expect("RequestLines on a chip added later");
    assert_eq!(level(&s, 1), Level::High);
    let survivor = bus
        .request(
            &kept,
            "([([0], {'direction': <'output'>})], [1])",
            "@a{sv} {}",
        )
        .expect("RequestLines");
    let gone_chip = chip_path(&s);
    let gone_line = line_path(&s, 1);

    // The chip goes while a request holds one of its lines.
    drop(s);
    eventually("the removed chip's request to go", || {
        bus.call(&doomed, "io.gpiod1.Request.GetValues", &["@au []"])
            .is_err_and(|e| e.contains("UnknownObject"))
    });
    for gone in [&gone_chip, &gone_line] {
        let e = bus.err(
            gone,
            "org.freedesktop.DBus.Properties.GetAll",
            &["io.gpiod1.Line"],
        );
        assert!(e.contains("UnknownObject"), "{gone}: {e}");
    }
    // The other chip's request is untouched, and the daemon serves on.
    assert_eq!(
        bus.ok(&survivor, "io.gpiod1.Request.GetValues", &["@au []"]),
        "([1],)"
    );
    bus.ok(&survivor, "io.gpiod1.Request.SetValues", &["{0: 0}"]);
    assert_eq!(level(&kept, 0), Level::Low);
    assert!(bus.daemon_alive(), "{}", bus.log());
    assert!(
        bus.log()
            .contains(&format!("released {doomed} with its chip")),
        "{}",
        bus.log()
    );
    // The daemon stops (releasing `survivor`) while its chip is still there.
    drop(bus);
    drop(kept);
}

/// A user outside group gpio, and two in it: added to the guest's /etc/passwd and
/// /etc/group (the VM's root file system is this run's own).
const OUTSIDER: u32 = 4242;
const MEMBER: u32 = 4343;
const MEMBER2: u32 = 4646;
const GPIO_GID: u32 = 4444;

fn add_users() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        let append = |file: &str, text: &str| {
            std::fs::OpenOptions::new()
                .append(true)
                .open(file)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        };
        append(
            "/etc/passwd",
            &format!(
                "outsider:x:{OUTSIDER}:{OUTSIDER}::/:/bin/sh\ngpiouser:x:{MEMBER}:{MEMBER}::/:/bin/sh\n\
                 gpiouser2:x:{MEMBER2}:{MEMBER2}::/:/bin/sh\n"
            ),
        );
        append(
            "/etc/group",
            &format!(
                "outsider:x:{OUTSIDER}:\ngpiouser:x:{MEMBER}:\ngpiouser2:x:{MEMBER2}:\n\
                 gpio:x:{GPIO_GID}:gpiouser,gpiouser2\n"
            ),
        );
    });
}

#[test]
fn outside_group_gpio_a_caller_may_look_but_not_act() {
    let _turn = side_by_side();
    add_users();
    let s = sim(4);
    let bus = Bus::start_with(Access::Shipped);
    let chip = chip_path(&s);
    let get = ["io.gpiod1.Chip", "NumLines"];
    let props = "org.freedesktop.DBus.Properties.Get";
    let request = ["([([1], {'direction': <'output'>})], [1])", "@a{sv} {}"];
    let request_lines = "io.gpiod1.Chip.RequestLines";

    // Anyone may read properties and list objects.
    assert_eq!(
        bus.call_as(Some(OUTSIDER), &chip, props, &get),
        Ok("(<uint32 4>,)".to_owned())
    );
    let listed = bus.call_as(
        Some(OUTSIDER),
        "/io/gpiod1/chips",
        "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
        &[],
    );
    assert!(listed.is_ok_and(|l| l.contains(&chip)));

    // Only root and group gpio may act.
    let e = bus
        .call_as(Some(OUTSIDER), &chip, request_lines, &request)
        .unwrap_err();
    assert!(e.contains("AccessDenied"), "{e}");
    assert_eq!(level(&s, 1), Level::Low, "nothing was requested");
    let out = bus
        .call_as(Some(MEMBER), &chip, request_lines, &request)
        .unwrap_or_else(|e| panic!("a member of gpio: {e}\n{}", bus.log()));
    let req = out.split('\'').nth(1).unwrap_or_default().to_owned();
    assert_eq!(level(&s, 1), Level::High);
    let e = bus
        .call_as(Some(OUTSIDER), &req, "io.gpiod1.Request.Release", &[])
        .unwrap_err();
    assert!(e.contains("AccessDenied"), "{e}");
    let e = bus
        .call_as(
            Some(OUTSIDER),
            &req,
            "io.gpiod1.Request.GetValues",
            &["@au []"],
        )
        .unwrap_err();
    assert!(e.contains("AccessDenied"), "{e}");
    bus.ok(&req, "io.gpiod1.Request.Release", &[]);
    assert!(!kernel_info(&s, 1).used);
}

/// The request path a line is held by, from its `RequestPath` property.
fn holder_of(bus: &Bus, sim: &Sim, offset: u32) -> String {
    bus.property(&line_path(sim, offset), "io.gpiod1.Line", "RequestPath")
        .split('\'')
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// `method` on another user's request `req`, refused with a message naming the request,
/// its owner (MEMBER), the caller (MEMBER2) and who may act.
fn refused(bus: &Bus, req: &str, method: &str, args: &[&str]) {
    let e = bus
        .call_as(Some(MEMBER2), req, method, args)
        .expect_err("another user's request");
    for wanted in [
        "org.freedesktop.DBus.Error.AccessDenied",
        req,
        "belongs to user gpiouser (uid 4343)",
        "user gpiouser2 (uid 4646) may not",
        "only its owner or root",
    ] {
        assert!(e.contains(wanted), "{method}: {wanted}: {e}");
    }
}

#[test]
fn a_request_belongs_to_the_user_that_made_it() {
    let _turn = side_by_side();
    add_users();
    let s = sim(4);
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let mut bus = Bus::start_full(Access::Shipped, &["--state-file", &state.to_string_lossy()]);
    let chip = chip_path(&s);
    let request_lines = "io.gpiod1.Chip.RequestLines";
    let request = ["([([1], {'direction': <'output'>})], [1])", "@a{sv} {}"];
    let out = bus
        .call_as(Some(MEMBER), &chip, request_lines, &request)
        .unwrap_or_else(|e| panic!("RequestLines: {e}\n{}", bus.log()));
    let req = out.split('\'').nth(1).unwrap_or_default().to_owned();
    // Each gdbus below is a new connection: ownership is the user's, not the connection's.

    // Another member of gpio may read it but not act on it, and is told who may.
    refused(&bus, &req, "io.gpiod1.Request.Release", &[]);
    refused(&bus, &req, "io.gpiod1.Request.SetValues", &["{1: 0}"]);
    refused(
        &bus,
        &req,
        "io.gpiod1.Request.ReconfigureLines",
        &["([([1], {'direction': <'input'>})], @ai [])"],
    );
    assert_eq!(level(&s, 1), Level::High, "nothing changed");
    assert!(kernel_info(&s, 1).direction == hw::Direction::Output);
    assert_eq!(
        bus.call_as(
            Some(MEMBER2),
            &req,
            "io.gpiod1.Request.GetValues",
            &["@au []"]
        ),
        Ok("([1],)".to_owned())
    );

    // The owner, from a new connection, may.
    bus.call_as(
        Some(MEMBER),
        &req,
        "io.gpiod1.Request.SetValues",
        &["{1: 0}"],
    )
    .unwrap_or_else(|e| panic!("the owner's SetValues: {e}"));
    assert_eq!(level(&s, 1), Level::Low);

    // A restored request keeps its owner.
    let mut daemon = bus.daemon.take().expect("daemon");
    stop(&mut daemon);
    let text = std::fs::read_to_string(&state).expect("state file");
    assert!(text.contains(&format!("\"owner\": {MEMBER}")), "{text}");
    bus.start_daemon();
    let restored = holder_of(&bus, &s, 1);
    assert!(
        bus.log().contains("for user gpiouser (uid 4343)"),
        "{}",
        bus.log()
    );
    refused(&bus, &restored, "io.gpiod1.Request.Release", &[]);
    bus.call_as(Some(MEMBER), &restored, "io.gpiod1.Request.Release", &[])
        .unwrap_or_else(|e| panic!("the owner's Release: {e}"));
    assert!(!kernel_info(&s, 1).used);

    // Root may act on anyone's request.
    let out = bus
        .call_as(Some(MEMBER2), &chip, request_lines, &request)
        .unwrap_or_else(|e| panic!("RequestLines: {e}"));
    let req = out.split('\'').nth(1).unwrap_or_default().to_owned();
    bus.ok(&req, "io.gpiod1.Request.Release", &[]);
    assert!(!kernel_info(&s, 1).used);
}

#[test]
fn a_restarted_daemon_restores_its_lines_from_the_state_file() {
    let _turn = side_by_side();
    let s = sim(4);
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let mut bus = Bus::start_full(Access::Open, &["--state-file", &state.to_string_lossy()]);
    let req = bus
        .request(
            &s,
            "([([1, 2], {'direction': <'output'>}), ([3], {'direction': <'input'>, 'bias': <'pull-up'>})], [0, 1])",
            "{'consumer': <'relay'>}",
        )
        .expect("RequestLines");
    // Values changed after the request are what is restored.
    bus.ok(&req, "io.gpiod1.Request.SetValues", &["{1: 1, 2: 0}"]);
    assert_eq!((level(&s, 1), level(&s, 2)), (Level::High, Level::Low));

    // The daemon stops: the lines are released, the state file keeps them.
    let mut daemon = bus.daemon.take().expect("daemon");
    stop(&mut daemon);
    assert!(!kernel_info(&s, 1).used);
    assert_eq!(
        level(&s, 1),
        Level::Low,
        "released, the simulator's pull-down wins"
    );
    let text = std::fs::read_to_string(&state).expect("state file");
    assert!(
        text.contains("\"consumer\": \"relay\"") && text.contains(&s.chips()[0].config().label),
        "{text}"
    );

    bus.start_daemon();
    assert_eq!((level(&s, 1), level(&s, 2)), (Level::High, Level::Low));
    let info = kernel_info(&s, 1);
    assert!(info.used && info.consumer == "relay", "{info:?}");
    let input = kernel_info(&s, 3);
    assert_eq!(
        (input.direction, input.bias),
        (hw::Direction::Input, hw::Bias::PullUp)
    );
    assert_eq!(
        bus.property(&line_path(&s, 1), "io.gpiod1.Line", "Managed"),
        "(<true>,)"
    );
    let log = bus.log();
    let chip = &s.chips()[0].chip_name;
    for wanted in [
        format!("line 1 of {chip} ["),
        "output, driving 1".to_owned(),
        format!("line 3 of {chip} ["),
    ] {
        assert!(log.contains(&wanted), "{wanted}:\n{log}");
    }
    // And the restored request is an ordinary one.
    let restored = bus
        .property(&line_path(&s, 1), "io.gpiod1.Line", "RequestPath")
        .split('\'')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    bus.ok(&restored, "io.gpiod1.Request.Release", &[]);
    assert!(!kernel_info(&s, 1).used);
}

#[test]
fn state_files_that_cannot_be_restored() {
    let _turn = side_by_side();
    let s = sim(2);
    let dir = tempfile::tempdir().expect("temp dir");

    // A file that is not a state: the daemon refuses to start (and so to overwrite it).
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"requests\": 5}").expect("write");
    let log = Bus::without_daemon(Access::Open, &["--state-file", &bad.to_string_lossy()])
        .daemon_refuses();
    assert!(
        log.contains("bad.json is not valid") && log.contains("fix or remove it"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(
        std::fs::read_to_string(&bad).unwrap(),
        "{\"requests\": 5}",
        "left as it was"
    );

    // A chip that is not there, and a line someone else holds: logged, the rest served.
    let label = &s.chips()[0].config().label;
    let other = hold(&s, 0, "other-process");
    let missing = dir.path().join("missing.json");
    std::fs::write(
        &missing,
        format!(
            r#"{{"requests": [
  {{"chip-label": "no-such-chip", "chip-name": "gpiochip99", "consumer": "x", "lines": [
    {{"offset": 0, "direction": "output", "bias": "as-is", "drive": "push-pull", "edge": "none", "event-clock": "monotonic", "value": 1}}]}},
  {{"chip-label": "{label}", "chip-name": "", "consumer": "x", "lines": [
    {{"offset": 0, "direction": "output", "bias": "as-is", "drive": "push-pull", "edge": "none", "event-clock": "monotonic", "value": 1}}]}},
  {{"chip-label": "{label}", "chip-name": "", "consumer": "x", "lines": [
    {{"offset": 1, "direction": "output", "bias": "as-is", "drive": "push-pull", "edge": "none", "event-clock": "monotonic", "value": 1}}]}}
]}}"#
        ),
    )
    .expect("write");
    let bus = Bus::start_full(Access::Open, &["--state-file", &missing.to_string_lossy()]);
    let log = bus.log();
    assert!(
        log.contains("chip 'no-such-chip' (gpiochip99 when saved): no such chip now"),
        "{log}"
    );
    assert!(
        log.contains("not restoring lines [0]") && log.contains("other-process"),
        "{log}"
    );
    assert_eq!(
        level(&s, 1),
        Level::High,
        "the restorable line was restored"
    );
    // A file without owners is from before requests had them: its requests are root's.
    add_users();
    let e = bus
        .call_as(
            Some(MEMBER),
            &holder_of(&bus, &s, 1),
            "io.gpiod1.Request.Release",
            &[],
        )
        .expect_err("root's request");
    assert!(e.contains("belongs to user root (uid 0)"), "{e}");
    drop(other);
}

/// The daemon's open fds and resident memory (kB), from /proc.
fn fds_and_rss(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("daemon fds")
        .count();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    (fds, rss)
}

/// One client's round: its own connection, request its line, drive it, read it back, release.
async fn client_round(address: &str, chip: &str, offset: u32) -> Result<(), String> {
    use std::collections::HashMap;
    use zbus::zvariant::{OwnedObjectPath, Value};
    let conn = zbus::connection::Builder::address(address)
        .map_err(|e| e.to_string())?
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let settings: HashMap<&str, Value<'_>> = [("direction", Value::from("output"))].into();
    let config: HashMap<&str, Value<'_>> = [("consumer", Value::from("load"))].into();
    let reply = conn
        .call_method(
            Some("io.gpiod1"),
            chip,
            Some("io.gpiod1.Chip"),
            "RequestLines",
            &((vec![(vec![offset], settings)], vec![0i32]), config),
        )
        .await
        .map_err(|e| format!("RequestLines {offset}: {e}"))?;
    let req: OwnedObjectPath = reply.body().deserialize().map_err(|e| e.to_string())?;
    for i in 0..2 {
        let values: HashMap<u32, i32> = [(offset, i % 2)].into();
        conn.call_method(
            Some("io.gpiod1"),
            &req,
            Some("io.gpiod1.Request"),
            "SetValues",
            &(values,),
        )
        .await
        .map_err(|e| format!("SetValues {offset}: {e}"))?;
    }
    let reply = conn
        .call_method(
            Some("io.gpiod1"),
            &req,
            Some("io.gpiod1.Request"),
            "GetValues",
            &(vec![offset],),
        )
        .await
        .map_err(|e| format!("GetValues {offset}: {e}"))?;
    let got: Vec<i32> = reply.body().deserialize().map_err(|e| e.to_string())?;
    if got != [1] {
        return Err(format!("line {offset} reads {got:?} after driving 1 last"));
    }
    conn.call_method(
        Some("io.gpiod1"),
        &req,
        Some("io.gpiod1.Request"),
        "Release",
        &(),
    )
    .await
    .map_err(|e| format!("Release {offset}: {e}"))?;
    Ok(())
}

#[test]
fn fifty_clients_at_once_lose_nothing_and_leak_nothing() {
    const CLIENTS: u32 = 50;
    const ROUNDS: usize = 2;
    let _turn = side_by_side();
    let s = sim(CLIENTS);
    let mut bus = Bus::start();
    let pid = bus.daemon.as_ref().expect("daemon").id();
    let chip = chip_path(&s);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut after_round = Vec::new();
    for round in 0..ROUNDS {
        let errors: Vec<String> = runtime.block_on(async {
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|offset| {
                    let (address, chip) = (bus.address.clone(), chip.clone());
                    tokio::spawn(async move { client_round(&address, &chip, offset).await })
                })
                .collect();
            let mut errors = Vec::new();
            for t in tasks {
                match t.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => errors.push(e),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            errors
        });
        assert!(
            errors.is_empty(),
            "round {round}: {errors:?}\n{}",
            bus.log()
        );
        // Every line released, no request left.
        for offset in 0..CLIENTS {
            assert!(
                !kernel_info(&s, offset).used,
                "round {round}: line {offset} still held"
            );
        }
        let left = bus.ok(
            "/io/gpiod1/requests",
            "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
            &[],
        );
        assert_eq!(left, "(@a{oa{sa{sv}}} {},)", "round {round}");
        after_round.push(fds_and_rss(pid));
    }
    // No fd leaked, memory flat: the last round ends where the first did (fds exactly;
    // resident memory within 2 MiB, the allocator keeps some slack).
    let (first, last) = (after_round[0], after_round[ROUNDS - 1]);
    assert_eq!(first.0, last.0, "fds after each round: {after_round:?}");
    assert!(
        last.1 <= first.1 + 2048,
        "RSS (kB) after each round: {after_round:?}"
    );
    assert!(bus.daemon_alive(), "{}", bus.log());
}

/// The board object, hwkit's own.
const BOARD: &str = "/io/hwkit1/board";

/// `method` of io.hwkit1.Board as user `uid`.
fn board_call(bus: &Bus, uid: Option<u32>, method: &str, args: &[&str]) -> Result<String, String> {
    bus.call_to(
        uid,
        "io.hwkit1",
        BOARD,
        &format!("io.hwkit1.Board.{method}"),
        args,
    )
}

fn board_property(bus: &Bus, uid: Option<u32>, name: &str) -> String {
    bus.call_to(
        uid,
        "io.hwkit1",
        BOARD,
        "org.freedesktop.DBus.Properties.Get",
        &["io.hwkit1.Board", name],
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn board_pins_resolve_and_request_as_io_gpiod1_requests() {
    let _turn = side_by_side();
    add_users();
    // A Raspberry Pi 4's GPIO chip as the test bed simulates one (`hwkit vm --chips pi4`):
    // its label, 58 lines named GPIO0..GPIO57. No other test makes a chip of this label.
    let mut bank = Bank::new(58, "pinctrl-bcm2711");
    for offset in 0..58 {
        bank.name(offset, format!("GPIO{offset}"));
    }
    let s = gpiosim::builder()
        .with_bank(&bank)
        .live()
        .expect("gpio-sim chip");
    let mut bus = Bus::start_with(Access::Shipped);
    let chip = chip_path(&s);

    // Anyone may read the board: no device tree in the VM, so the chips decide.
    assert_eq!(
        board_property(&bus, Some(OUTSIDER), "Name"),
        "(<'Raspberry Pi 4 Model B'>,)"
    );
    let how = board_property(&bus, Some(OUTSIDER), "DetectedBy");
    assert!(
        how.contains("guessed from GPIO chip \"pinctrl-bcm2711\""),
        "{how}"
    );
    let pins = board_property(&bus, Some(OUTSIDER), "Pins");
    for wanted in [
        // gdbus types the first element only.
        format!("('J8', 11, 'GPIO17', 'gpio', 'pinctrl-bcm2711', '{chip}', 17)"),
        "('J8', 6, 'GND', 'ground', '', '/', 0)".to_owned(),
        "('J8', 17, '3V3', 'power', '', '/', 0)".to_owned(),
    ] {
        assert!(pins.contains(&wanted), "{wanted}:\n{pins}");
    }

    // Methods are for root and group gpio, as io.gpiod1's.
    let e = board_call(&bus, Some(OUTSIDER), "ResolvePins", &["['pin11']"]).unwrap_err();
    assert!(e.contains("AccessDenied"), "{e}");
    assert_eq!(
        board_call(
            &bus,
            Some(MEMBER),
            "ResolvePins",
            &["['pin11', 'GPIO27', 'J8-12']"]
        ),
        Ok(format!(
            "([(objectpath '{chip}', uint32 17), ('{chip}', 27), ('{chip}', 18)],)"
        ))
    );

    // RequestPins: an ordinary io.gpiod1 request, the caller's, that outlives the caller.
    let out = board_call(
        &bus,
        Some(MEMBER),
        "RequestPins",
        &[
            "['pin11', 'GPIO27']",
            "{'direction': <'output'>}",
            "[1, 0]",
            "{'consumer': <'relay'>}",
        ],
    )
    .unwrap_or_else(|e| panic!("RequestPins: {e}\n{}", bus.log()));
    let req = out.split('\'').nth(1).unwrap_or_default().to_owned();
    assert!(req.starts_with("/io/gpiod1/requests/request"), "{out}");
    assert_eq!((level(&s, 17), level(&s, 27)), (Level::High, Level::Low));
    assert_eq!(kernel_info(&s, 17).consumer, "relay");
    assert_eq!(holder_of(&bus, &s, 17), req);
    refused(&bus, &req, "io.gpiod1.Request.Release", &[]);
    bus.call_as(Some(MEMBER), &req, "io.gpiod1.Request.Release", &[])
        .unwrap_or_else(|e| panic!("Release: {e}"));
    assert!(!kernel_info(&s, 17).used);

    // What is not a line is refused, saying why; nothing is requested; the daemon serves on.
    let e = |pins: &str, settings: &str| {
        board_call(
            &bus,
            None,
            "RequestPins",
            &[pins, settings, "@ai []", "@a{sv} {}"],
        )
        .expect_err(pins)
    };
    let output = "{'direction': <'output'>}";
    for (pins, settings, wanted) in [
        ("['pin6']", output, "pin 6 is GND (ground), not a GPIO"),
        ("['pin1']", output, "(power), not a GPIO"),
        ("['pin99']", output, "header J8 has pins 1-40, not 99"),
        ("['nosuch']", output, "unknown pin `nosuch`"),
        ("@as []", output, "no pins given"),
        (
            "['pin11', 'GPIO17']",
            output,
            "'pin11' and 'GPIO17' are the same line",
        ),
        ("['pin11']", "{'direction': <'sideways'>}", "sideways"),
    ] {
        let e = e(pins, settings);
        assert!(
            e.contains("org.freedesktop.DBus.Error.InvalidArgs") && e.contains(wanted),
            "{pins}: {wanted}: {e}"
        );
    }
    assert!(!kernel_info(&s, 17).used);
    assert!(bus.daemon_alive());

    // --board names the board when nothing else says; an unknown one stops the daemon.
    let mut daemon = bus.daemon.take().expect("daemon");
    stop(&mut daemon);
    bus.daemon_args = vec!["--board".into(), "pi4".into()];
    bus.start_daemon();
    assert_eq!(
        board_property(&bus, None, "DetectedBy"),
        "(<'Raspberry Pi 4 Model B (given with --board pi4)'>,)"
    );
    let mut daemon = bus.daemon.take().expect("daemon");
    stop(&mut daemon);
    bus.daemon_args = vec!["--board".into(), "pi99".into()];
    let log = bus.daemon_refuses();
    assert!(log.contains("--board: ") && log.contains("pi99"), "{log}");
}
