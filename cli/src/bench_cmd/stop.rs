//! Ctrl-C, SIGTERM and SIGHUP end a benchmark between two toggles, so the line is restored
//! and what was measured is reported.
//!
//! The signals are blocked and taken by a thread with `sigwait`, which only raises a flag:
//! no signal handler runs code in the middle of a toggle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::sys::signal::{SigSet, Signal};

/// The stop flag, raised by the first exit signal.
pub struct StopOnSignal {
    flag: Arc<AtomicBool>,
}

impl StopOnSignal {
    /// Blocks the exit signals in this thread (and every thread it starts afterwards) and
    /// starts the thread that waits for them.
    pub fn install() -> Result<StopOnSignal, String> {
        let mut set = SigSet::empty();
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            set.add(s);
        }
        set.thread_block()
            .map_err(|e| format!("cannot block the exit signals to stop cleanly: {e}"))?;
        let flag = Arc::new(AtomicBool::new(false));
        let raised = Arc::clone(&flag);
        std::thread::Builder::new()
            .name("bench-stop".into())
            .spawn(move || {
                if set.wait().is_ok() {
                    raised.store(true, Ordering::Relaxed);
                }
            })
            .map_err(|e| format!("cannot start the thread that waits for Ctrl-C: {e}"))?;
        Ok(StopOnSignal { flag })
    }

    /// The flag the toggle loops check.
    pub fn flag(&self) -> &AtomicBool {
        &self.flag
    }

    /// Whether a signal stopped the run.
    pub fn stopped(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}
