//! Chips appearing and disappearing while the daemon runs: an inotify watch on `/dev`
//! (devtmpfs adds and removes `gpiochipN` with the device, with or without udev), and on
//! every change a resync of the exported chips with what `/dev` holds.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::daemon::Daemon;

/// How often, and how long apart, a chip whose node exists but does not open yet (its
/// device still being set up) is tried again.
const RETRIES: u32 = 20;
const RETRY_DELAY: Duration = Duration::from_millis(100);

/// Starts watching `/dev`; the task runs as long as the daemon.
pub fn start(daemon: Arc<Daemon>) -> std::io::Result<()> {
    // SAFETY: inotify_init1 takes flags only; it returns a new fd or -1.
    let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new descriptor no one else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mask = libc::IN_CREATE | libc::IN_DELETE | libc::IN_MOVED_TO | libc::IN_MOVED_FROM;
    // SAFETY: the path is a NUL-terminated literal and `fd` an open inotify descriptor.
    if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c"/dev".as_ptr(), mask) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is an open descriptor owned by the `OwnedFd` moved into the AsyncFd;
    // nothing else closes or replaces it while the AsyncFd owns it.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
        .map_err(std::io::Error::from)?;
    tokio::spawn(watch(daemon, fd));
    Ok(())
}

async fn watch(daemon: Arc<Daemon>, fd: AsyncFd<OwnedFd>) {
    let mut buf = [0u8; 4096];
    loop {
        let Ok(mut ready) = fd.readable().await else {
            return;
        };
        // Drain: which entry changed does not matter, the resync compares all of /dev.
        loop {
            // SAFETY: `buf` is writable for its length; the fd is a non-blocking inotify fd.
            let n =
                unsafe { libc::read(fd.get_ref().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
        }
        ready.clear_ready();
        for _ in 0..RETRIES {
            if daemon.sync_chips().await {
                break;
            }
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }
}
