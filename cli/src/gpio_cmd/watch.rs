//! The options `mon` and `notify` share, as gpiomon and gpionotify do: how many events, how
//! long to wait, how to print timestamps, whether to print at all.

use std::time::Duration;

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
