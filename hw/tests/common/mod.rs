//! Helpers shared by the VM tests: simulated chips, and the two uAPI versions to run each
//! check through.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use gpiosim::{Bank, Level, Sim};
use hw::{Chip, LineInfo, Offset, Uapi};

/// The uAPI versions to run a check through: v2, then v1 where the kernel has it.
///
/// Kernels built without uAPI v1 (`CONFIG_GPIO_CDEV_V1` off, as Debian's 7.x) are told by
/// the kernel's symbol table, not by the code under test; there, instead of the v1 pass, this
/// checks that asking for v1 is refused with the reason and the way out, on a chip and in a
/// request.
pub fn both() -> Vec<Uapi> {
    if hwkit_testbed::sim::kernel_has_uapi_v1() {
        return vec![Uapi::V2, Uapi::V1];
    }
    assert_v1_refused();
    vec![Uapi::V2]
}

/// Whether a v1-only check can run: true on a kernel with uAPI v1; on one without, checks
/// that v1 is refused clearly ([`assert_v1_refused`]) and says false, so the caller's v1
/// check becomes that one.
pub fn v1_or_refused() -> bool {
    both().contains(&Uapi::V1)
}

/// On a kernel without uAPI v1: forcing v1 fails at once with `UapiUnavailable`, whose
/// message names the kernel option and says to use v2.
pub fn assert_v1_refused() {
    let s = sim(2);
    let check = |e: hw::Error| {
        assert!(
            matches!(e, hw::Error::UapiUnavailable { version: "v1", .. }),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains("CONFIG_GPIO_CDEV_V1 is not set"), "{msg}");
        assert!(msg.contains("use uAPI v2"), "{msg}");
    };
    check(
        Chip::open_with(path(&s), Some(Uapi::V1))
            .map(|_| ())
            .unwrap_err(),
    );
    check(
        hw::Request::builder()
            .on_chip(path(&s))
            .with_uapi(Uapi::V1)
            .with_lines(&[0])
            .as_output(hw::Value::Inactive)
            .request()
            .map(|_| ())
            .unwrap_err(),
    );
}

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

/// Checks that a `set_values` call with one refused pair drives nothing, through the request
/// `request` makes of a fresh 4-line sim's lines 0 and 2 (outputs, low, one set of settings,
/// so uAPI v1 holds them in one handle) and 1 (an input). Then sets line 2 alone: a backend
/// that cached line 0's refused value (uAPI v1 resends a handle's values) would drive it now.
pub fn refused_pair_drives_nothing(
    what: &str,
    request: impl FnOnce(hw::RequestBuilder) -> hw::Result<hw::Request>,
) {
    use hw::Value;
    let s = sim(4);
    let builder = hw::Request::builder()
        .on_chip(path(&s))
        .consumer("all-or-nothing")
        .with_lines(&[0, 2])
        .as_output(Value::Inactive)
        .with_line(1)
        .as_input();
    let mut req = request(builder).unwrap_or_else(|e| panic!("{what}: {e}"));
    let e = req
        .set_values(&[(0, Value::Active), (1, Value::Active)])
        .unwrap_err();
    assert!(e.to_string().contains("line 1"), "{what}: {e}");
    let e = req
        .set_values(&[(2, Value::Active), (3, Value::Active)])
        .unwrap_err();
    assert!(
        matches!(e, hw::Error::NotRequested { offset: 3, .. }),
        "{what}: {e:?}"
    );
    assert_eq!(level(&s, 0), Level::Low, "{what}: line 0 was driven");
    assert_eq!(level(&s, 2), Level::Low, "{what}: line 2 was driven");
    req.set_value(2, Value::Active).unwrap();
    assert_eq!(level(&s, 2), Level::High, "{what}");
    assert_eq!(
        level(&s, 0),
        Level::Low,
        "{what}: line 0 took the refused call's value"
    );
}
