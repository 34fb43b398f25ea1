//! Edge events: `poll` the held `value` fd for `POLLPRI|POLLERR`, then re-read from offset 0.
//!
//! sysfs does not queue events: edges that happen between two reads of `value` wake one poll.
//! For every edge with a timestamp and a sequence number, use the character device.

use std::io;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::line::{Edge, SysfsLine};

/// The direction of an edge, as far as sysfs can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// Logical low-to-high.
    Rising,
    /// Logical high-to-low.
    Falling,
}

/// One wake-up of an edge wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EdgeEvent {
    /// The edge: the configured one for `rising`/`falling`, inferred from `value` for `both`.
    pub kind: EdgeKind,
    /// The logical value read right after the wake-up.
    pub value: bool,
    /// When the wake-up was seen (user space time, not the interrupt's).
    pub seen_at: Instant,
}

impl SysfsLine {
    /// Waits for an edge of the kind set with [`set_edge`](Self::set_edge), up to `timeout`
    /// (`None`: for ever). `Ok(None)` means the timeout passed without an edge.
    pub fn wait_for_edge(&mut self, timeout: Option<Duration>) -> Result<Option<EdgeEvent>> {
        if self.edge == Edge::None {
            return Err(Error::InvalidArgument(format!(
                "{} has edge detection off: call set_edge(Edge::Rising/Falling/Both) first",
                self.address()
            )));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            // sysfs does not wake a poller when the line's chip is removed: sleep in slices
            // and look for the line between them, so a removal ends even an endless wait.
            let timeout_ms = match deadline {
                None => LIVENESS_SLICE_MS,
                Some(d) => remaining_ms(d).min(LIVENESS_SLICE_MS),
            };
            match self.value.poll_pri(timeout_ms) {
                Ok(true) => break,
                Ok(false) => {
                    // Not `gone()`: its read would swallow an edge arriving right now.
                    if let Some(e) = self.dir_gone() {
                        return Err(e);
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(None);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("poll", self.attr_path("value"), e)),
            }
        }
        let seen_at = Instant::now();
        // The read both gives the new value and acknowledges the event for the next poll.
        let value = self.get_value()?;
        let kind = match self.edge {
            Edge::Rising => EdgeKind::Rising,
            Edge::Falling => EdgeKind::Falling,
            _ if value => EdgeKind::Rising,
            _ => EdgeKind::Falling,
        };
        Ok(Some(EdgeEvent {
            kind,
            value,
            seen_at,
        }))
    }

    /// A blocking iterator over edge events; it ends after the first error.
    pub fn events(&mut self) -> Events<'_> {
        Events {
            line: self,
            failed: false,
        }
    }
}

/// Longest single sleep of an edge wait, in milliseconds, between checks that the line is
/// still there.
const LIVENESS_SLICE_MS: i32 = 500;

/// Milliseconds left until `deadline`, rounded up so a wait never returns early.
fn remaining_ms(deadline: Instant) -> i32 {
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = left.as_micros().div_ceil(1000);
    i32::try_from(ms).unwrap_or(i32::MAX)
}

/// Blocking iterator returned by [`SysfsLine::events`]. After yielding an error it ends, so
/// a `for` loop over it cannot spin on a broken line.
#[derive(Debug)]
pub struct Events<'a> {
    line: &'a mut SysfsLine,
    failed: bool,
}

impl Iterator for Events<'_> {
    type Item = Result<EdgeEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.line.wait_for_edge(None) {
            Ok(Some(event)) => Some(Ok(event)),
            // Without a timeout the wait only returns with an event or an error.
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
