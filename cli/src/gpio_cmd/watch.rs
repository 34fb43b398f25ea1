//! The options `mon` and `notify` share, as gpiomon and gpionotify do: how many events, how
//! long to wait, how to print timestamps, whether to print at all.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;

use super::period::{parse_period, seconds};

/// Options of the commands that watch lines.
#[derive(Args)]
pub(super) struct WatchOpts {
    /// Exit after this many events.
    #[arg(long, short, value_name = "N")]
    pub num_events: Option<u64>,
    /// Exit when no event has come for this long (PERIOD: a whole number with unit us, ms,
    /// s or m; a bare number is milliseconds).
    #[arg(long, value_name = "PERIOD")]
    pub idle_timeout: Option<String>,
    /// hwkit: exit after this many seconds in all.
    #[arg(long, short, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Print timestamps as local time.
    #[arg(long, conflicts_with = "utc")]
    pub localtime: bool,
    /// Print timestamps as UTC (for mon, the default on the realtime clock).
    #[arg(long)]
    pub utc: bool,
    /// Print nothing (exit statuses only, e.g. with -n).
    #[arg(long, short, alias = "silent")]
    pub quiet: bool,
}

impl WatchOpts {
    /// Checks the periods: `(idle timeout, total timeout)`.
    pub fn limits(&self) -> Result<(Option<Duration>, Option<Duration>), String> {
        Ok((
            self.idle_timeout.as_deref().map(parse_period).transpose()?,
            self.timeout.map(|t| seconds("--timeout", t)).transpose()?,
        ))
    }
}

/// The end of a watch of `timeout` from now; a deadline too far to represent is none.
pub(super) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// The next message of the readers on `rx`, waiting no later than `deadline` and no longer
/// than `idle`; `None` when time is up or every reader has stopped (each sends its error
/// before it stops).
pub(super) fn next<T>(
    rx: &mpsc::Receiver<T>,
    deadline: Option<Instant>,
    idle: Option<Duration>,
) -> Option<T> {
    let now = Instant::now();
    let wait = [deadline.map(|d| d.saturating_duration_since(now)), idle]
        .into_iter()
        .flatten()
        .min();
    match wait {
        Some(w) => rx.recv_timeout(w).ok(),
        None => rx.recv().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_ends_at_the_deadline_the_idle_timeout_or_the_last_reader() {
        let (tx, rx) = mpsc::channel::<u8>();
        tx.send(7).unwrap();
        assert_eq!(next(&rx, None, None), Some(7));
        let past = Some(Instant::now());
        assert_eq!(next(&rx, past, None), None);
        assert_eq!(next(&rx, None, Some(Duration::from_millis(1))), None);
        drop(tx);
        assert_eq!(next(&rx, None, None), None);
        assert_eq!(deadline(Some(Duration::MAX)), None);
        assert!(deadline(Some(Duration::ZERO)).is_some());
    }
}
