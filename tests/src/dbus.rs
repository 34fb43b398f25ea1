//! A private system bus for the VM tests of `hwkitd` and its clients: `dbus-daemon` with a
//! bus configuration of the test's own, and `hwkitd` on it.
//!
//! Each test starts its own bus (its socket in a temporary directory), then the daemon with
//! `--bus-address`, and waits until the daemon has taken `io.gpiod1`. Dropping the
//! [`PrivateBus`] stops both (SIGTERM, then SIGKILL after a bounded wait). `dbus-daemon` is
//! the host's (Debian `dbus`), packed by the test bed through the test package's
//! `[package.metadata.hwkit-testbed] include`.
//!
//! These are test helpers: they panic, with what went wrong, where a test would.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the bus and the daemon may take to start or stop: the VM is emulated and may
/// be shared.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// What the daemon logs once it owns its name (cheaper to watch for than a client per try).
pub const SERVING: &str = "hwkitd: serving io.gpiod1";

/// Who may do what on a test's bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone may own names and call anything.
    Open,
    /// A system bus's defaults (method calls denied) plus this policy file (hwkitd's
    /// `data/io.gpiod1.conf`).
    Policy(PathBuf),
}

/// A `dbus-daemon` of the test's own, and maybe the GPIO daemon on it.
pub struct PrivateBus {
    dir: tempfile::TempDir,
    /// The bus's address, `unix:path=...`, for `--bus-address` and `DBUS_SYSTEM_BUS_ADDRESS`.
    pub address: String,
    bus: Child,
    /// The GPIO daemon, once started.
    pub daemon: Option<Child>,
}

impl PrivateBus {
    /// Starts the bus alone.
    ///
    /// # Panics
    /// If `dbus-daemon` cannot be started or does not print its address.
    pub fn start(access: &Access) -> PrivateBus {
        let dir = tempfile::tempdir().expect("temp dir");
        // Callers of other users must reach the socket.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(&config, bus_config(&socket, access)).expect("bus config");
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (packed by the test bed from the host's `dbus` package)");
        let mut first = String::new();
        BufReader::new(bus.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("dbus-daemon's address");
        let address = first.trim().to_owned();
        assert!(
            address.starts_with("unix:path="),
            "dbus-daemon said {first:?}"
        );
        PrivateBus {
            dir,
            address,
            bus,
            daemon: None,
        }
    }

    /// The bus's temporary directory (the daemon's log is `hwkitd.log` there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn spawn_daemon(&self, exe: &Path, args: &[String]) -> Child {
        Command::new(exe)
            .args(["--bus-address", &self.address])
            .args(args)
            .stderr(std::fs::File::create(self.dir.path().join("hwkitd.log")).expect("log"))
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", exe.display()))
    }

    /// Starts the daemon `exe` on this bus with `args`, and waits until it owns `io.gpiod1`.
    ///
    /// # Panics
    /// If it exits first, or does not take its name within [`PATIENCE`].
    pub fn start_daemon(&mut self, exe: &Path, args: &[String]) {
        self.daemon = Some(self.spawn_daemon(exe, args));
        let end = Instant::now() + PATIENCE;
        loop {
            if self.log().contains(SERVING) {
                return;
            }
            if let Some(status) = self
                .daemon
                .as_mut()
                .and_then(|d| d.try_wait().ok().flatten())
            {
                panic!(
                    "hwkitd exited with {status} before taking its name:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < end,
                "hwkitd did not take io.gpiod1 in time:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the daemon expecting it to refuse to run: its log once it has exited.
    ///
    /// # Panics
    /// If it exits 0, or keeps running for [`PATIENCE`].
    pub fn daemon_refuses(&mut self, exe: &Path, args: &[String]) -> String {
        let mut daemon = self.spawn_daemon(exe, args);
        let end = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = daemon.try_wait() {
                assert!(!status.success(), "{}", self.log());
                return self.log();
            }
            if Instant::now() > end {
                stop(&mut daemon);
                panic!("hwkitd kept running:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the daemon (SIGTERM), if it runs; the bus stays.
    pub fn stop_daemon(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            stop(&mut d);
        }
    }

    /// The daemon's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hwkitd.log")).unwrap_or_default()
    }

    /// Whether the daemon is still running.
    pub fn daemon_alive(&mut self) -> bool {
        matches!(self.daemon.as_mut().map(|d| d.try_wait()), Some(Ok(None)))
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        self.stop_daemon();
        stop(&mut self.bus);
    }
}

/// SIGTERM, then a bounded wait, then SIGKILL.
pub fn stop(child: &mut Child) {
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A system bus's configuration listening on `socket`.
pub fn bus_config(socket: &Path, access: &Access) -> String {
    let policy = match access {
        Access::Open => r#"  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>"#
            .to_owned(),
        // What Debian's /usr/share/dbus-1/system.conf denies and allows by default.
        Access::Policy(file) => format!(
            r#"  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>{}</include>"#,
            file.display()
        ),
    };
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
{policy}
</busconfig>
"#,
        socket.display()
    )
}

/// The `hwkitd` binary built beside the running test executable (`target/<profile>/hwkitd`
/// for `target/<profile>/deps/<test>`), where the test bed puts it for a test that lists
/// `hwkitd` in `[package.metadata.hwkit-testbed] bins` (cargo gives a test only its own
/// package's binaries as `CARGO_BIN_EXE_*`).
///
/// # Panics
/// If it is not there, saying how to build it.
pub fn hwkitd_beside_test() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|profile| profile.join("hwkitd"))
        .expect("the test's profile directory");
    assert!(
        path.is_file(),
        "{} is not built: the test bed builds it (bins = {{ TEST = [\"hwkitd\"] }} in the \
         test package's [package.metadata.hwkit-testbed]); outside it, `cargo build -p \
         hwkitd` with the test's profile",
        path.display()
    );
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_name_the_socket_and_the_policy() {
        let open = bus_config(Path::new("/t/bus"), &Access::Open);
        assert!(open.contains("<listen>unix:path=/t/bus</listen>"), "{open}");
        assert!(open.contains(r#"<allow own="*"/>"#), "{open}");
        let shipped = bus_config(
            Path::new("/t/bus"),
            &Access::Policy("/x/io.gpiod1.conf".into()),
        );
        assert!(shipped.contains("<include>/x/io.gpiod1.conf</include>"));
        assert!(shipped.contains(r#"<deny send_type="method_call"/>"#));
    }
}
