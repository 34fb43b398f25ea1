//! `testbed cross`: bad arguments are refused before the build root is made or used.

use std::process::{Command, Output};

fn testbed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args(args)
        .output()
        .expect("run testbed")
}

#[test]
fn an_unknown_arch_names_the_supported_ones() {
    for args in [
        &["cross", "build", "--arch", "riscv64"][..],
        &["cross", "test", "--arch", "aarch64,mips"][..],
        &["cross", "cargo", "--arch", "armv6", "--", "build"][..],
    ] {
        let out = testbed(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("supported are x86_64 (amd64), aarch64 (arm64), armv7 (armhf)"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn cross_cargo_needs_a_command() {
    let out = testbed(&["cross", "cargo", "--arch", "aarch64"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CARGO_ARGS"), "{stderr}");
}

#[test]
fn a_user_other_than_root_is_told_to_run_as_root() {
    // setpriv (util-linux) drops to nobody for the one command.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_testbed"))
        .args(["cross", "build", "--arch", "aarch64"])
        .env("HWKIT_BUILDROOT", "/nonexistent/hwkit-buildroot")
        .output()
        .expect("run setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs root: run this as root"), "{stderr}");
}
