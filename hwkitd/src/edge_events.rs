//! `EdgeEvent` signals: a task per request waits on the request's event fd and sends each
//! edge as a signal of its line object.
//!
//! The task watches a duplicate of the fd (tokio's `AsyncFd` must own what it registers),
//! which keeps the kernel request open: it is stopped, and awaited, before the request is
//! dropped (see [`EdgeWatcher::stop`]), or the lines would stay held after `Release`.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

use hw::{EdgeKind, Request};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::task::JoinHandle;
use zbus::object_server::SignalEmitter;
use zbus::Connection;

use crate::line_object::LineObject;
use crate::paths;

/// The running watcher of one request.
pub struct EdgeWatcher {
    task: Option<JoinHandle<()>>,
}

impl EdgeWatcher {
    /// Starts watching `request` (a request without edge detection simply never wakes it).
    pub fn start(
        connection: Connection,
        request: Arc<Mutex<Option<Request>>>,
        chip_name: String,
    ) -> std::io::Result<EdgeWatcher> {
        let fd: OwnedFd = {
            let guard = request.lock().unwrap_or_else(|e| e.into_inner());
            let Some(r) = guard.as_ref() else {
                return Err(std::io::Error::other("the request was released"));
            };
            r.as_fd().try_clone_to_owned()?
        };
        // SAFETY: `fd` is an open descriptor owned by the `OwnedFd` moved into the AsyncFd;
        // nothing else closes or replaces it while the AsyncFd owns it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(std::io::Error::from)?;
        let task = tokio::spawn(watch(connection, request, chip_name, fd));
        Ok(EdgeWatcher { task: Some(task) })
    }

    /// Stops the watcher and waits until its duplicate fd is closed.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // A cancelled task's future (and the fd in it) is dropped before `await` returns.
            let _ = task.await;
        }
    }
}

impl Drop for EdgeWatcher {
    /// A watcher dropped without [`EdgeWatcher::stop`] (its request object never served)
    /// still ends, so its fd does not hold the lines for ever.
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn watch(
    connection: Connection,
    request: Arc<Mutex<Option<Request>>>,
    chip_name: String,
    fd: AsyncFd<OwnedFd>,
) {
    loop {
        let Ok(mut ready) = fd.readable().await else {
            return;
        };
        let mut events = Vec::new();
        {
            let mut guard = request.lock().unwrap_or_else(|e| e.into_inner());
            let Some(r) = guard.as_mut() else {
                return;
            };
            loop {
                match r.try_read_edge_event() {
                    Ok(Some(ev)) => events.push(ev),
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("hwkitd: reading edge events of {chip_name}: {e}; no more events from this request");
                        return;
                    }
                }
            }
        }
        ready.clear_ready();
        for ev in events {
            let path = paths::line(&chip_name, ev.offset);
            let Ok(emitter) = SignalEmitter::new(&connection, path.as_str()) else {
                continue;
            };
            let edge = i32::from(ev.kind == EdgeKind::Rising);
            let data = (
                edge,
                ev.timestamp_ns,
                u64::from(ev.seqno),
                u64::from(ev.line_seqno),
            );
            if let Err(e) = LineObject::edge_event(&emitter, data).await {
                eprintln!("hwkitd: sending an edge event of {}: {e}", path.as_str());
            }
        }
    }
}
