//! The host side: running commands, installing the Debian packages the bed needs.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::arch::Arch;
use crate::error::{Error, Result};

/// Debian packages the bed runs, by the command that shows each is there.
pub const HOST_PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-x86", "/usr/bin/qemu-system-x86_64"),
    ("busybox-static", "/bin/busybox"),
    ("xz-utils", "/usr/bin/xz"),
    // sid's 7.x x86 kernels compress their payload with zstd.
    ("zstd", "/usr/bin/zstd"),
    ("gcc", "/usr/bin/gcc"),
    ("make", "/usr/bin/make"),
    ("libc6-dev", "/usr/include/stdio.h"),
    // objtool and modpost of linux-kbuild link against libelf.
    ("libelf1", "/usr/lib/x86_64-linux-gnu/libelf.so.1"),
];

static APT_UPDATED: AtomicBool = AtomicBool::new(false);

/// A command's arguments as strings, for tests that check how a command was built.
#[cfg(test)]
pub(crate) fn args_of(cmd: &Command) -> Vec<String> {
    cmd.get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Renders a command line for error messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` to completion, capturing its output; a non-zero exit is an error that
/// carries the end of its stderr.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Command {
            command: show(cmd),
            detail: format!("cannot start: {e}"),
        })?;
    if !out.status.success() {
        return Err(Error::Command {
            command: show(cmd),
            detail: failure_detail(&out),
        });
    }
    Ok(out)
}

/// Exit status and the last lines of stdout/stderr, for an error message.
pub fn failure_detail(out: &Output) -> String {
    let tail = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    format!("{}\n{}{}", out.status, tail(&out.stdout), tail(&out.stderr))
}

/// Runs `cmd` and returns its stdout as text.
pub fn run_text(cmd: &mut Command) -> Result<String> {
    Ok(String::from_utf8_lossy(&run(cmd)?.stdout).into_owned())
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Runs `apt-get update` once per process.
pub fn apt_update() -> Result<()> {
    if APT_UPDATED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    eprintln!("testbed: apt-get update");
    run(Command::new("apt-get").args(["update", "-q"]))?;
    Ok(())
}

/// Installs whichever of [`HOST_PACKAGES`] is missing (needs root); `apt-get update` runs
/// only if something has to be installed. Refuses hosts other than x86-64 first: the bed
/// boots its VMs with x86-64 QEMU and prepares kernels with an amd64 toolchain.
pub fn ensure_host_packages() -> Result<()> {
    supported_host(Arch::host())?;
    ensure_packages(HOST_PACKAGES)
}

/// Whether the bed can run on a host of `arch`; the error says what to do instead.
pub fn supported_host(arch: Arch) -> Result<()> {
    if arch == Arch::X86_64 {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "the test bed and `hwkit vm` run on an x86-64 Debian machine, and this one is {arch}: \
         on a board, use its real GPIO directly (`hwkit gpio detect`); to try ARM guests, run \
         `hwkit vm --arch aarch64` on an x86-64 machine"
    )))
}

/// Installs whichever of `packages` (Debian package, file that shows it is there) is
/// missing (needs root); `apt-get update` runs only if something has to be installed.
pub fn ensure_packages(packages: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(pkg, probe)| !Path::new(probe).exists() || !installed(pkg))
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::Usage(format!(
            "the test bed needs {}: run it as root once, or `apt-get install {}`",
            missing.join(", "),
            missing.join(" ")
        )));
    }
    eprintln!("testbed: installing {}", missing.join(" "));
    apt_update()?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(["-o", "DPkg::Lock::Timeout=300"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_x86_64_hosts_run_the_bed_and_others_are_told_what_to_do() {
        assert!(supported_host(Arch::X86_64).is_ok());
        for arch in [Arch::Aarch64, Arch::Armv7] {
            let e = supported_host(arch).unwrap_err().to_string();
            assert!(e.contains(&format!("this one is {arch}")), "{e}");
            assert!(e.contains("hwkit gpio detect"), "{e}");
        }
    }
}
