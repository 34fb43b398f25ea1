//! Helpers shared by the VM tests: simulated chips, and the two uAPI versions to run each
//! check through.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use gpiosim::{Bank, Level, Sim};
use hw::{Chip, LineInfo, Offset, Uapi};

/// Both uAPI versions (v2 first).
pub const BOTH: [Uapi; 2] = [Uapi::V2, Uapi::V1];

/// A name no other test in this process uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A live simulator with one chip of `lines` lines and a unique label.
pub fn sim(lines: u32) -> Sim {
    gpiosim::builder()
        .with_bank(&Bank::new(lines, unique("hwtest")))
        .live()
        .expect("gpio-sim chip")
}

/// A live simulator with one configured bank.
pub fn sim_bank(bank: &Bank) -> Sim {
    gpiosim::builder()
        .with_bank(bank)
        .live()
        .expect("gpio-sim chip")
}

/// The device path of the sim's first chip.
pub fn path(sim: &Sim) -> std::path::PathBuf {
    sim.chips()[0].dev_path().clone()
}

/// Line info read through a fresh chip fd (not the one that made any request).
pub fn info(sim: &Sim, offset: Offset) -> LineInfo {
    Chip::open(path(sim))
        .expect("open chip")
        .line_info(offset)
        .expect("line info")
}

/// What the simulator sees an output drive.
pub fn level(sim: &Sim, offset: Offset) -> Level {
    sim.chips()[0].get_level(offset).expect("sim level")
}

/// Pulls an input from the simulator side, then gives the kernel a moment to queue the edge.
///
/// Two pulls in quick succession can reach the GPIO core as one interrupt (the simulator's
/// interrupts are delivered through irq_work, and a threaded handler coalesces wake-ups), just
/// as a fast glitch on real hardware can; the tests count edges, so each pull is let settle.
pub fn pull(sim: &Sim, offset: Offset, level: Level) {
    sim.chips()[0].set_pull(offset, level).expect("sim pull");
    std::thread::sleep(std::time::Duration::from_millis(15));
}

/// Polls `f` until it is true or a generous timeout passes.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out waiting for {what}");
}
