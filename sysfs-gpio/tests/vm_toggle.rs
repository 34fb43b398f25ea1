//! Proof that toggling opens no file: 10,000 toggles per I/O path on a thread where the kernel
//! (a seccomp filter) refuses every open, with the simulator checking the level and the fd table
//! unchanged afterwards. One test, both paths in turn, so nothing else in this process opens
//! files while the fd table is counted.

mod common;

use std::os::fd::AsRawFd;

use common::SimChip;
use sysfs_gpio::{IoPath, Sysfs};

const TOGGLES: usize = 10_000;

/// Installs, on the calling thread only, a seccomp filter that fails `open`, `openat` and
/// `openat2` with `EPERM` and allows everything else.
fn forbid_opens_on_this_thread() {
    let mut denied = vec![libc::SYS_openat as u32, libc::SYS_openat2 as u32];
    #[cfg(target_arch = "x86_64")]
    denied.push(libc::SYS_open as u32);

    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    // Load the syscall number (offset 0 of struct seccomp_data), then one jump per denied
    // call to the final "deny".
    let mut prog = vec![stmt(LD_W_ABS, 0)];
    let n = denied.len();
    for (i, nr) in denied.iter().enumerate() {
        prog.push(libc::sock_filter {
            code: JEQ_K,
            jt: (n - i) as u8,
            jf: 0,
            k: *nr,
        });
    }
    prog.push(stmt(RET_K, RET_ALLOW));
    prog.push(stmt(RET_K, RET_ERRNO | libc::EPERM as u32));
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "no_new_privs: {}", std::io::Error::last_os_error());
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel copies the program.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const libc::sock_fprog,
        )
    };
    assert_eq!(rc, 0, "seccomp: {}", std::io::Error::last_os_error());
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn ten_thousand_toggles_open_no_file_on_either_path() {
    for io in IoPath::ALL {
        let sim = SimChip::new(2);
        let mut line = Sysfs::new().open_line(sim.label.as_str(), 0, io).unwrap();
        line.set_output(false).unwrap();
        let fd = line.as_raw_fd();
        let before = open_fds();

        std::thread::scope(|s| {
            s.spawn(|| {
                forbid_opens_on_this_thread();
                let mut value = false;
                for _ in 0..TOGGLES {
                    value = !value;
                    line.set_value(value).unwrap();
                    assert_eq!(line.get_value().unwrap(), value);
                }
                // The filter really is there: an open on this thread fails.
                let err = std::fs::File::open("/proc/self/status").unwrap_err();
                assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{io:?}");
            })
            .join()
            .unwrap();
        });

        assert_eq!(open_fds(), before, "{io:?}: fd table changed");
        assert_eq!(line.as_raw_fd(), fd, "{io:?}: value fd replaced");
        // An even number of toggles from low ends low; one more must reach the simulator.
        assert!(!sim.level(0), "{io:?}");
        line.set_value(true).unwrap();
        assert!(sim.level(0), "{io:?}");
    }
}
