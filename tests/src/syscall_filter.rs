//! Running a program as if its kernel lacked a system call (`testbed without-syscall`).
//!
//! Some code paths are taken only where the kernel refuses a call: ffi-core's callbacks
//! fall back to counted references where `membarrier` is missing or refused (kernels before
//! 4.14, some emulators and sandboxes). A seccomp filter makes the kernel answer `ENOSYS`
//! for that call, for this process and everything it executes, so those paths run on any
//! machine.

use std::ffi::c_long;

use crate::error::{Error, Result};

/// A system call the test bed can take away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Syscall {
    /// `membarrier(2)`: ffi-core's callbacks then count references.
    Membarrier,
}

impl Syscall {
    /// Its name, as `man 2` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Syscall::Membarrier => "membarrier",
        }
    }

    /// Its number on this architecture.
    fn number(self) -> c_long {
        match self {
            Syscall::Membarrier => libc::SYS_membarrier,
        }
    }
}

/// The audit architecture seccomp reports for this build's system calls, where known.
const AUDIT_ARCH: Option<u32> = if cfg!(target_arch = "x86_64") {
    Some(0xC000_003E)
} else if cfg!(target_arch = "aarch64") {
    Some(0xC000_00B7)
} else if cfg!(target_arch = "arm") {
    Some(0x4000_0028)
} else {
    None
};

/// Makes the kernel refuse `call` with `ENOSYS` to this process and every program it
/// executes from now on.
///
/// The filter is not a security boundary (another architecture's calls are let through, and
/// on architectures other than x86-64, aarch64 and arm the number alone is compared); it
/// reproduces a kernel without the call.
pub fn refuse(call: Syscall) -> Result<()> {
    // Offsets into `struct seccomp_data`: the call's number, then its architecture.
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    let number = u32::try_from(call.number()).expect("system call numbers are small");
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump_eq = |k: u32, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt: 0,
        jf,
        k,
    };
    let mut program = Vec::new();
    if let Some(arch) = AUDIT_ARCH {
        program.extend([
            stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, ARCH),
            // Another architecture's call (e.g. x32): allow, 3 further on.
            jump_eq(arch, 3),
        ]);
    }
    program.extend([
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, NR),
        // Not this call: allow, 1 further on.
        jump_eq(number, 1),
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ]);
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    let failed = |what: &str| {
        Error::Usage(format!(
            "cannot take {} away: {what}: {} (seccomp filters need Linux 3.5 or later, \
             and qemu-user refuses them)",
            call.name(),
            std::io::Error::last_os_error()
        ))
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as c_long, 0, 0, 0) } != 0 {
        return Err(failed("prctl(PR_SET_NO_NEW_PRIVS)"));
    }
    // SAFETY: `fprog` points at `program`, a valid classic BPF program of `len`
    // instructions, both alive for the call (the kernel copies the program).
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as c_long,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(failed("prctl(PR_SET_SECCOMP)"));
    }
    Ok(())
}
