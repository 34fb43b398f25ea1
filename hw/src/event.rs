//! Edge events: what a requested input line reports when it changes.
//!
//! Every event carries two sequence numbers from the kernel: `seqno` counts events across the
//! whole request, `line_seqno` per line. Both start at 1. When the kernel's event buffer
//! overflows it drops events (uAPI v2 drops the oldest), and the drop shows as a gap: the next
//! event read has a `seqno` more than one past the previous. [`SeqnoTracker`] counts such gaps.

use std::fmt;

use crate::settings::Offset;
use crate::uapi::{v1, v2};

/// The direction of an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// Inactive to active.
    Rising,
    /// Active to inactive.
    Falling,
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EdgeKind::Rising => "rising",
            EdgeKind::Falling => "falling",
        })
    }
}

/// One edge on one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeEvent {
    /// When the edge happened, in nanoseconds of the line's event clock (monotonic by default).
    pub timestamp_ns: u64,
    /// The line.
    pub offset: Offset,
    /// Rising or falling.
    pub kind: EdgeKind,
    /// Position among all events of the request, from 1.
    pub seqno: u32,
    /// Position among the events of this line, from 1.
    pub line_seqno: u32,
}

impl Default for EdgeEvent {
    fn default() -> Self {
        EdgeEvent {
            timestamp_ns: 0,
            offset: 0,
            kind: EdgeKind::Rising,
            seqno: 0,
            line_seqno: 0,
        }
    }
}

impl EdgeEvent {
    pub(crate) fn from_v2(raw: &v2::LineEvent) -> EdgeEvent {
        EdgeEvent {
            timestamp_ns: raw.timestamp_ns,
            offset: raw.offset,
            kind: if raw.id == v2::EVENT_FALLING_EDGE {
                EdgeKind::Falling
            } else {
                EdgeKind::Rising
            },
            seqno: raw.seqno,
            line_seqno: raw.line_seqno,
        }
    }

    /// A v1 record carries no sequence numbers; the caller numbers events as it reads them.
    pub(crate) fn from_v1(
        raw: &v1::EventData,
        offset: Offset,
        seqno: u32,
        line_seqno: u32,
    ) -> Self {
        EdgeEvent {
            timestamp_ns: raw.timestamp,
            offset,
            kind: if raw.id == v1::EVENT_FALLING_EDGE {
                EdgeKind::Falling
            } else {
                EdgeKind::Rising
            },
            seqno,
            line_seqno,
        }
    }
}

impl fmt::Display for EdgeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09} line {} {} seqno {} line_seqno {}",
            self.timestamp_ns / 1_000_000_000,
            self.timestamp_ns % 1_000_000_000,
            self.offset,
            self.kind,
            self.seqno,
            self.line_seqno
        )
    }
}

/// Counts events lost to buffer overflow from gaps in `seqno`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqnoTracker {
    last: Option<u32>,
    lost: u64,
}

impl SeqnoTracker {
    /// Feeds the next event read; returns how many events were lost just before it.
    pub fn observe(&mut self, event: &EdgeEvent) -> u32 {
        let gap = match self.last {
            // The first event of a request is seqno 1; anything higher was dropped before it.
            None => event.seqno.saturating_sub(1),
            Some(prev) => event.seqno.wrapping_sub(prev).wrapping_sub(1),
        };
        // A reconfigure restarts nothing, but be robust to a backwards step: no loss counted.
        let gap = if gap > u32::MAX / 2 { 0 } else { gap };
        self.last = Some(event.seqno);
        self.lost += u64::from(gap);
        gap
    }

    /// Events lost so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seqno: u32) -> EdgeEvent {
        EdgeEvent {
            seqno,
            line_seqno: seqno,
            ..Default::default()
        }
    }

    #[test]
    fn tracker_counts_gaps() {
        let mut t = SeqnoTracker::default();
        assert_eq!(t.observe(&ev(1)), 0);
        assert_eq!(t.observe(&ev(2)), 0);
        assert_eq!(t.observe(&ev(7)), 4);
        assert_eq!(t.lost(), 4);
        let mut t = SeqnoTracker::default();
        assert_eq!(t.observe(&ev(3)), 2);
        let mut t = SeqnoTracker::default();
        t.observe(&ev(u32::MAX));
        assert_eq!(t.observe(&ev(0)), 0);
    }

    #[test]
    fn decodes_and_prints() {
        let raw = v2::LineEvent {
            timestamp_ns: 12_000_000_345,
            id: v2::EVENT_RISING_EDGE,
            offset: 5,
            seqno: 9,
            line_seqno: 4,
            padding: [0; 6],
        };
        let e = EdgeEvent::from_v2(&raw);
        assert_eq!(e.kind, EdgeKind::Rising);
        assert_eq!(
            e.to_string(),
            "12.000000345 line 5 rising seqno 9 line_seqno 4"
        );
        let v = EdgeEvent::from_v1(
            &v1::EventData {
                timestamp: 1,
                id: v1::EVENT_FALLING_EDGE,
            },
            2,
            1,
            1,
        );
        assert_eq!((v.kind, v.offset), (EdgeKind::Falling, 2));
    }
}
