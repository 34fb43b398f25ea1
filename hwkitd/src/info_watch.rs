//! Property changes of lines whoever changed them: the kernel's line-info watch on every line
//! of a chip, each change announced as `PropertiesChanged` of its line object.
//!
//! This is how a line requested, reconfigured or released by another process (or a driver)
//! shows up on the bus without anyone polling.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use hw::Chip;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::task::JoinHandle;
use zbus::Connection;

use crate::paths;

/// Watches every line of `chip` and starts the task that announces their changes. The task
/// ends by itself when the chip goes (its reads fail); abort it to close its fd at once.
pub fn start(connection: Connection, chip: Arc<Chip>) -> hw::Result<JoinHandle<()>> {
    for offset in 0..chip.info().num_lines {
        chip.watch_line_info(offset)?;
    }
    let fd: OwnedFd = chip
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| hw::Error::Io {
            action: format!("duplicating the fd of {}", chip.info().name),
            source: e,
        })?;
    // SAFETY: `fd` is an open descriptor owned by the `OwnedFd` moved into the AsyncFd;
    // nothing else closes or replaces it while the AsyncFd owns it.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| {
        hw::Error::Io {
            action: format!("watching the fd of {}", chip.info().name),
            source: e.into(),
        }
    })?;
    Ok(tokio::spawn(watch(connection, chip, fd)))
}

async fn watch(connection: Connection, chip: Arc<Chip>, fd: AsyncFd<OwnedFd>) {
    let name = chip.info().name.clone();
    loop {
        let Ok(mut ready) = fd.readable().await else {
            return;
        };
        let mut changed = Vec::new();
        loop {
            match chip.wait_info_event(Some(Duration::ZERO)) {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => return,
            }
            match chip.read_info_event_timeout(Duration::ZERO) {
                Ok(Some(ev)) => {
                    let path = paths::line(&name, ev.info.offset);
                    if !changed.contains(&path) {
                        changed.push(path);
                    }
                }
                Ok(None) => {}
                // The chip is gone: nothing more to watch.
                Err(_) => return,
            }
        }
        ready.clear_ready();
        crate::daemon::lines_changed(connection.object_server(), &changed).await;
    }
}
