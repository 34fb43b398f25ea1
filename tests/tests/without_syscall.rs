//! `testbed without-syscall`: the command runs, and the call is refused to it; the errors
//! name what is wrong.

use std::process::{Command, Output};

fn testbed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args(args)
        .output()
        .expect("run testbed")
}

/// A perl one-liner (perl-base is in every Debian) that exits 0 when membarrier's query
/// answers ENOSYS, 3 when it answers, 4 on another error.
fn membarrier_probe() -> String {
    format!(
        "my $r = syscall({}, 0, 0); exit($r >= 0 ? 3 : $!{{ENOSYS}} ? 0 : 4)",
        libc::SYS_membarrier
    )
}

#[test]
fn membarrier_answers_enosys_to_the_command_and_its_children() {
    let probe = membarrier_probe();
    // Without the filter the kernel answers (the kernels tested all have membarrier).
    let bare = Command::new("perl").args(["-e", &probe]).status().unwrap();
    assert_eq!(bare.code(), Some(3), "membarrier is missing on this kernel");
    // The command itself, and a program it runs.
    let direct = testbed(&["without-syscall", "membarrier", "--", "perl", "-e", &probe]);
    assert!(
        direct.status.success(),
        "{:?}: {}",
        direct.status,
        String::from_utf8_lossy(&direct.stderr)
    );
    let script = format!("perl -e '{probe}' && echo child-ok");
    let nested = testbed(&["without-syscall", "membarrier", "--", "sh", "-c", &script]);
    assert!(nested.status.success(), "{:?}", nested.status);
    assert_eq!(String::from_utf8_lossy(&nested.stdout), "child-ok\n");
}

#[test]
fn the_exit_status_is_the_commands() {
    let out = testbed(&["without-syscall", "membarrier", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn unknown_calls_and_missing_commands_are_refused() {
    let out = testbed(&["without-syscall", "futex", "--", "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid value 'futex'") && stderr.contains("possible values: membarrier"),
        "{stderr}"
    );
    let out = testbed(&["without-syscall", "membarrier"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("<CMD>"), "{stderr}");
    let out = testbed(&["without-syscall", "membarrier", "--", "/nonexistent/tool"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("command `/nonexistent/tool` failed: cannot run it: No such file"),
        "{stderr}"
    );
}

/// Where seccomp filters cannot be installed (here: under qemu-user, which refuses them),
/// nothing runs and the error says why.
#[test]
fn a_machine_without_seccomp_filters_is_told_apart() {
    let qemu = if cfg!(target_arch = "x86_64") {
        "qemu-x86_64-static"
    } else {
        "qemu-aarch64-static"
    };
    let out = Command::new(qemu)
        .args([
            env!("CARGO_BIN_EXE_testbed"),
            "without-syscall",
            "membarrier",
            "--",
            "sh",
            "-c",
            "echo ran",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{qemu} (scripts/install-deps.sh installs it): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "the command ran");
    assert!(
        stderr.contains("cannot take membarrier away: prctl(PR_SET_SECCOMP)")
            && stderr.contains("qemu-user refuses them"),
        "{stderr}"
    );
}
