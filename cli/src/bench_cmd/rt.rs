//! `--rt` and `--cpu`: SCHED_FIFO, locked memory and one CPU, so that the figures show the
//! GPIO path and not the scheduler. Each refusal says what permission is missing.

use nix::errno::Errno;
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::sys::mman::{mlockall, MlockAllFlags};
use nix::unistd::Pid;

/// SCHED_FIFO priority for `--rt`: above ordinary real-time work, below the kernel's threaded
/// interrupt handlers (50), whose GPIO interrupts an edge benchmark needs.
const RT_PRIORITY: libc::c_int = 49;

/// What was applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tuning {
    /// SCHED_FIFO and mlockall are in force.
    pub realtime: bool,
    /// The CPU the process is pinned to.
    pub cpu: Option<usize>,
}

/// Applies `--cpu` then `--rt` to the calling thread, the one that toggles.
pub fn apply(realtime: bool, cpu: Option<usize>) -> Result<Tuning, String> {
    if let Some(n) = cpu {
        pin(n)?;
    }
    if realtime {
        mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).map_err(|e| {
            format!(
                "--rt: cannot lock memory (mlockall: {e}): run as root, give hwkit \
                 CAP_IPC_LOCK, or raise RLIMIT_MEMLOCK (ulimit -l unlimited)"
            )
        })?;
        fifo()?;
    }
    Ok(Tuning { realtime, cpu })
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Result<Vec<usize>, String> {
    let set = sched_getaffinity(Pid::from_raw(0))
        .map_err(|e| format!("--cpu: cannot read this process's CPUs: {e}"))?;
    Ok((0..CpuSet::count())
        .filter(|&i| set.is_set(i).unwrap_or(false))
        .collect())
}

fn pin(n: usize) -> Result<(), String> {
    let allowed = allowed_cpus()?;
    if !allowed.contains(&n) {
        return Err(format!(
            "--cpu {n}: this process may run on CPUs {} only: give one of them",
            allowed
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut set = CpuSet::new();
    set.set(n)
        .map_err(|e| format!("--cpu {n}: not a CPU number this system supports: {e}"))?;
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|e| format!("--cpu {n}: {e}"))
}

fn fifo() -> Result<(), String> {
    let param = libc::sched_param {
        sched_priority: RT_PRIORITY,
    };
    // SAFETY: sched_setscheduler reads `param`, a live sched_param, and touches no other
    // memory; pid 0 is this thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        return Ok(());
    }
    let e = Errno::last();
    Err(match e {
        Errno::EPERM => "--rt: SCHED_FIFO is not permitted: run as root, give hwkit \
                         CAP_SYS_NICE (setcap cap_sys_nice,cap_ipc_lock+ep), or raise \
                         RLIMIT_RTPRIO"
            .to_owned(),
        e => format!("--rt: cannot switch to SCHED_FIFO: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_this_process_may_not_use_is_refused_with_the_ones_it_may() {
        let allowed = allowed_cpus().unwrap();
        assert!(!allowed.is_empty());
        let e = apply(false, Some(CpuSet::count() + 7)).unwrap_err();
        assert!(e.contains("may run on CPUs"), "{e}");
        assert!(e.contains(&allowed[0].to_string()), "{e}");
    }

    #[test]
    fn nothing_asked_nothing_applied() {
        assert_eq!(apply(false, None).unwrap(), Tuning::default());
    }
}
