//! One epoll set over per-line event fds: it stands in for the character device's request fd
//! in backends that get one fd per line (libgpiod 1.x's event fds, sysfs value fds).

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use crate::error::{Error, Result};
use crate::event::{EdgeEvent, EdgeKind};
use crate::settings::{Edge, LineSettings, Offset};
use crate::wait;

/// The most ready lines one [`EventFds::next_ready`] reports (the kernel's per-request
/// maximum, `GPIO_V2_LINES_MAX`).
const READY_BATCH: usize = 64;

/// The indices of the lines found ready by one [`EventFds::next_ready`].
pub(super) struct Ready {
    events: [EpollEvent; READY_BATCH],
    len: usize,
    next: usize,
}

impl Iterator for Ready {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let event = self.events[..self.len].get(self.next)?;
        self.next += 1;
        Some(event.data() as usize)
    }
}

/// The event fds of one request's lines, each tagged with its line's index in the request.
#[derive(Debug)]
pub(super) struct EventFds {
    epoll: Epoll,
    /// Request-wide and per-line event counters: these backends get no kernel sequence numbers.
    seqno: u32,
    line_seqnos: Vec<u32>,
}

impl EventFds {
    /// An empty set. The error is the bare errno: callers may have to undo work before
    /// reporting it.
    pub(super) fn new() -> nix::Result<EventFds> {
        Ok(EventFds {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            seqno: 0,
            line_seqnos: Vec::new(),
        })
    }

    /// Watches `fd` (for `flags`) as the event fd of the request's line number `index`.
    pub(super) fn watch(
        &mut self,
        fd: BorrowedFd<'_>,
        flags: EpollFlags,
        index: usize,
        chip: &str,
        action: &str,
    ) -> Result<()> {
        self.epoll
            .add(fd, EpollEvent::new(flags, index as u64))
            .map_err(|e| Error::from_errno(e, chip, action))?;
        if self.line_seqnos.len() <= index {
            self.line_seqnos.resize(index + 1, 0);
        }
        Ok(())
    }

    /// Stops watching `fd`; a fd that is not in the set is not an error.
    pub(super) fn unwatch(&self, fd: BorrowedFd<'_>) {
        let _ = self.epoll.delete(fd);
    }

    /// Waits until some watched fd is readable, as [`wait::readable`] does.
    pub(super) fn wait(
        &self,
        timeout: Option<Duration>,
        alive: impl FnMut() -> Result<()>,
        chip: &str,
    ) -> Result<bool> {
        let mut alive = alive;
        let ready = wait::readable(self.as_fd(), timeout, &mut alive, |e| {
            Error::from_errno(e, chip, "waiting for edge events")
        })?;
        if ready {
            wait::hung_up(&self.epoll, alive, chip)?;
        }
        Ok(ready)
    }

    /// Blocks until at least one watched fd is ready; yields the indices of the ready lines,
    /// at most [`READY_BATCH`] of them (the rest stay ready for the next call). No allocation:
    /// this runs on every event read.
    pub(super) fn next_ready(
        &self,
        alive: impl FnMut() -> Result<()>,
        chip: &str,
    ) -> Result<Ready> {
        let mut ready = Ready {
            events: [EpollEvent::empty(); READY_BATCH],
            len: 0,
            next: 0,
        };
        let mut alive = alive;
        // `readable`, not `self.wait`: the events fetched next show a hang-up without a
        // second epoll_wait on every read.
        wait::readable(self.as_fd(), None, &mut alive, |e| {
            Error::from_errno(e, chip, "waiting for edge events")
        })?;
        ready.len = self
            .epoll
            .wait(&mut ready.events, EpollTimeout::ZERO)
            .map_err(|e: Errno| Error::from_errno(e, chip, "waiting for edge events"))?;
        wait::hung_up_in(&ready.events[..ready.len], alive, chip)?;
        Ok(ready)
    }

    /// An edge event on the request's line number `index`, numbered by this set's request-wide
    /// and per-line counters.
    pub(super) fn edge_event(
        &mut self,
        index: usize,
        offset: Offset,
        kind: EdgeKind,
        timestamp_ns: u64,
    ) -> EdgeEvent {
        if self.line_seqnos.len() <= index {
            self.line_seqnos.resize(index + 1, 0);
        }
        self.seqno = self.seqno.wrapping_add(1);
        let line = &mut self.line_seqnos[index];
        *line = line.wrapping_add(1);
        EdgeEvent {
            timestamp_ns,
            offset,
            kind,
            seqno: self.seqno,
            line_seqno: *line,
        }
    }

    /// The epoll fd, readable while an event is pending on any watched fd.
    pub(super) fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }
}

/// Refuses to read events from a request none of whose lines has edge detection: the read
/// would wait forever.
pub(super) fn require_edge_detection(lines: &[(Offset, LineSettings)]) -> Result<()> {
    if lines.iter().any(|(_, s)| s.edge != Edge::None) {
        return Ok(());
    }
    Err(Error::InvalidConfig(
        "no line of this request has edge detection: request it with \
         with_edge_detection() first"
            .into(),
    ))
}
