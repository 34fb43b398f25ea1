//! Host tests that boot the VM through the `testbed` binary: the command's output and exit
//! status come back, described chips exist, and a guest panic or hang is a failure that
//! shows the console, never a pass. They need root, QEMU and the kernel cache (prepared on
//! first use), like `testbed test`.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn testbed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args(args)
        .output()
        .expect("run testbed")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_command_sees_the_described_chips_and_its_status_comes_back() {
    let script = "for c in /sys/class/gpio/gpiochip*; do echo \"chip $(cat $c/label) $(cat $c/ngpio)\"; done; \
                  cat /sys/kernel/config/gpio-sim/*/bank0/line0/name; echo on-stdout; echo on-stderr >&2; exit 7";
    let out = testbed(&[
        "vm",
        "--chips",
        "label=alpha,lines=3,names=A::C;pi4",
        "--",
        "sh",
        "-c",
        script,
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(7),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("chip alpha 3"), "{stdout}");
    assert!(stdout.contains("chip pinctrl-bcm2711 58"), "{stdout}");
    assert!(
        stdout.contains("\nA\n") || stdout.starts_with("A\n"),
        "line 0 of alpha is named A: {stdout}"
    );
    assert!(
        stdout.contains("ID_SDA"),
        "line 0 of the Pi 4 chip: {stdout}"
    );
    assert!(
        stdout.contains("on-stdout") && stdout.contains("on-stderr"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("@@testbed"),
        "markers are not shown: {stdout}"
    );
    assert!(
        stderr.contains("chip gpiochip") && stderr.contains("alpha 3 lines"),
        "{stderr}"
    );
}

#[test]
fn included_files_are_at_their_host_paths() {
    let out = testbed(&[
        "vm",
        "--include",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "--",
        "ls",
        "/usr/lib/x86_64-linux-gnu/",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("libz.so.1"), "{stdout}");
}

#[test]
fn a_guest_kernel_panic_fails_and_shows_the_console() {
    let out = testbed(&["vm", "--", "sh", "-c", "echo c > /proc/sysrq-trigger"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("console log"), "{stderr}");
    assert!(
        stderr.contains("Kernel panic"),
        "the panic is in the log shown: {stderr}"
    );
    assert!(stderr.contains("before its DONE marker"), "{stderr}");
}

#[test]
fn a_command_past_its_timeout_is_killed_in_the_guest() {
    let start = Instant::now();
    let out = testbed(&["vm", "--timeout", "2", "--", "sleep", "600"]);
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("ran past --timeout 2 s"));
    assert!(start.elapsed() < Duration::from_secs(120));
}

#[test]
fn a_vm_that_never_finishes_is_killed_by_the_host() {
    // The host's deadline (1 s after QEMU starts) comes before the guest's own (1 s after the
    // command starts, after booting): the host has to end it.
    let out = testbed(&[
        "vm",
        "--timeout",
        "1",
        "--boot-timeout",
        "0",
        "--",
        "sleep",
        "600",
    ]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("was killed"), "{stderr}");
}

#[test]
fn bad_arguments_are_refused_before_booting() {
    let out = testbed(&["vm", "--chips", "label=a,lines=2,names=A:B:C", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("3 names for 2 lines"),
        "{}",
        text(&out.stderr)
    );
    let out = testbed(&["vm", "--bin", "/no/such/file", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("`/no/such/file` is not a file"),
        "{}",
        text(&out.stderr)
    );
    let out = testbed(&["vm", "--include", "relative/path", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("give an existing absolute path"),
        "{}",
        text(&out.stderr)
    );
    let out = testbed(&["test", "-p", "no-such-package"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("`no-such-package` has no VM tests"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_arm64_guest_runs_the_command_and_its_status_comes_back() {
    let script = "uname -m; tr -d '\\0' < /proc/device-tree/compatible; echo; \
                  for c in /sys/class/gpio/gpiochip*; do echo \"chip $(cat $c/label) $(cat $c/ngpio)\"; done; exit 7";
    let out = testbed(&["vm", "--arch", "aarch64", "--", "sh", "-c", script]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.starts_with("aarch64\nlinux,dummy-virt"), "{stdout}");
    assert!(stdout.contains("chip pinctrl-bcm2711 58"), "{stdout}");
    assert!(stdout.contains("chip hwkit-sim 8"), "{stdout}");
}

#[test]
fn the_raspberry_pi_guest_has_its_real_gpio_driver_and_ends_by_its_watchdog() {
    let script = "tr -d '\\0' < /proc/device-tree/model; echo; \
                  for c in /sys/class/gpio/gpiochip*; do echo \"chip $(cat $c/label) $(cat $c/ngpio)\"; done; \
                  grep -c bcm2835_wdt /proc/modules; exit 5";
    let start = Instant::now();
    let out = testbed(&["vm", "--machine", "raspi3b", "--", "sh", "-c", script]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    // The board cannot power off: a watchdog reset ends QEMU (-no-reboot), long before
    // the host's deadline.
    assert_eq!(out.status.code(), Some(5), "{stdout}\n{stderr}");
    assert!(start.elapsed() < Duration::from_secs(300));
    assert!(stdout.starts_with("Raspberry Pi 3 Model B\n"), "{stdout}");
    assert!(stdout.contains("chip pinctrl-bcm2835 54"), "{stdout}");
    assert!(stdout.contains("chip hwkit-sim 8"), "{stdout}");
    assert!(
        !stdout.contains("pinctrl-bcm2711"),
        "no simulated Pi 4 chip beside the real Pi 3 one by default: {stdout}"
    );
    assert!(stdout.contains("\n1\n"), "bcm2835_wdt is loaded: {stdout}");
}

#[test]
fn a_raspberry_pi_kernel_panic_fails_and_ends_the_vm() {
    let start = Instant::now();
    let out = testbed(&[
        "vm",
        "--machine",
        "raspi3b",
        "--",
        "sh",
        "-c",
        "echo c > /proc/sysrq-trigger",
    ]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("Kernel panic"), "{stderr}");
    assert!(stderr.contains("before its DONE marker"), "{stderr}");
    assert!(
        !stderr.contains("was killed"),
        "the watchdog reset ended the VM, not the host's deadline: {stderr}"
    );
    assert!(start.elapsed() < Duration::from_secs(300));
}

#[test]
fn bad_machines_are_refused_before_anything_is_built_or_booted() {
    let refused = |args: &[&str], want: &str| {
        let out = testbed(args);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("testbed: preparing") && !stderr.contains("--no-run"),
            "{args:?} went on: {stderr}"
        );
    };
    refused(
        &["vm", "--machine", "raspi4b", "--", "true"],
        "unknown machine \"raspi4b\": supported are pc (x86_64), virt (aarch64), raspi3b (aarch64)",
    );
    refused(
        &["vm", "--arch", "mips", "--", "true"],
        "unknown architecture \"mips\": supported are x86_64 (amd64), aarch64 (arm64), armv7 (armhf)",
    );
    refused(
        &["vm", "--arch", "x86_64", "--machine", "raspi3b", "--", "true"],
        "--machine raspi3b is an aarch64 machine, not x86_64: use --arch aarch64 or leave --arch out",
    );
    refused(
        &["test", "--arch", "armv7"],
        "no VM machine boots armv7 yet: --arch takes x86_64 or aarch64",
    );
    refused(
        &["prepare", "--arch", "x86_64", "--machine", "virt"],
        "--machine virt is an aarch64 machine, not x86_64",
    );
    refused(
        &["vm", "--arch", "aarch64", "--bin", "/bin/ls", "--", "ls"],
        "`/bin/ls` is built for x86_64, but the guest runs aarch64 programs: give a build for aarch64",
    );
    refused(
        &[
            "vm",
            "--machine",
            "raspi3b",
            "--include",
            "/usr/lib/x86_64-linux-gnu/libz.so.1",
            "--",
            "true",
        ],
        "`/usr/lib/x86_64-linux-gnu/libz.so.1` is built for x86_64, but the guest runs aarch64 programs",
    );
    refused(
        &["test", "--machine", "raspi3b", "--test", "vm_smoke"],
        "`vm_smoke` runs on the pc and virt machines: raspi3b runs only the vm_pi_* targets",
    );
    refused(
        &["test", "--arch", "aarch64", "--test", "vm_pi_raspi3b"],
        "`vm_pi_raspi3b` needs the Raspberry Pi's real GPIO driver (vm_pi_* targets): run it with --machine raspi3b, not on virt",
    );
    refused(
        &["test", "--machine", "raspi3b", "-p", "sysfs-gpio"],
        "nothing to run on raspi3b: the selected packages have no `vm_pi_*` targets",
    );
}

#[test]
fn each_kernel_boots_with_its_gpio_sim_and_its_sysfs_shape() {
    // Debian 12's 6.1 and 13's 6.12 have only the legacy sysfs; sid's newest has the
    // per-chip export beside it. The chips come from gpio-sim on each (built out of tree
    // for bookworm and trixie, the kernel's own on sid).
    let script = "uname -r; cat /sys/class/gpio/gpiochip*/label; \
                  for f in /sys/class/gpio/chip*/export; do [ -e \"$f\" ] && echo per-chip $f; done; \
                  grep -c ^gpio_sim /proc/modules";
    for (kernel, release, per_chip) in [
        ("bookworm", "6.1.", false),
        ("trixie", "6.12.", false),
        ("sid", "", true),
    ] {
        let out = testbed(&[
            "vm",
            "-q",
            "--kernel",
            kernel,
            "--chips",
            "label=matrix,lines=4",
            "--",
            "sh",
            "-c",
            script,
        ]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{kernel}: {}", text(&out.stderr));
        let mut lines = stdout.lines();
        let uname = lines.next().unwrap_or_default();
        assert!(uname.starts_with(release), "{kernel}: {stdout}");
        assert!(uname.ends_with("-amd64"), "{kernel}: {stdout}");
        assert!(stdout.contains("\nmatrix\n"), "{kernel}: {stdout}");
        assert_eq!(
            stdout.contains("per-chip /sys/class/gpio/chip"),
            per_chip,
            "{kernel}: {stdout}"
        );
        assert!(
            stdout.trim_end().ends_with("\n1"),
            "gpio_sim loaded on {kernel}: {stdout}"
        );
    }
}

#[test]
fn kernels_a_machine_cannot_boot_are_refused_before_anything_runs() {
    for (args, want) in [
        (
            &["test", "--kernel", "trixie", "--arch", "aarch64"][..],
            "--kernel trixie: the virt machine boots Debian sid's arm64 kernel only",
        ),
        (
            &["test", "--kernel", "all", "--machine", "raspi3b"][..],
            "--kernel all is the x86-64 matrix (bookworm, trixie, sid); the raspi3b machine",
        ),
        (
            &["vm", "--kernel", "all", "--", "true"][..],
            "a command boots one VM: choose one of bookworm, trixie, sid",
        ),
        (
            &["prepare", "--kernel", "bookworm", "--machine", "virt"][..],
            "the virt machine boots Debian sid's arm64 kernel only",
        ),
    ] {
        let start = Instant::now();
        let out = testbed(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("booting") && !stderr.contains("Compiling"),
            "{stderr}"
        );
        assert!(start.elapsed() < Duration::from_secs(30), "{args:?}");
    }
    let out = testbed(&["test", "--kernel", "buster"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown kernel \"buster\": supported are bookworm (Debian 12, Linux 6.1), trixie (Debian 13, Linux 6.12), sid"),
        "{stderr}"
    );
}
