//! `hwkit gpio` when the chip goes away under it (issue 14 §3): a blocked `mon` ends at once
//! with one actionable line on stderr and a failure status, through every character-device
//! uAPI; a later command names the chip as gone or missing.

mod common;

use common::{cdev_backends, err, finish, gpio, spawn_gpio as spawn, unique, wait_requested};
use gpiosim::Bank;

#[test]
fn mon_ends_with_one_line_when_the_chip_is_removed() {
    for backend in cdev_backends() {
        let s = gpiosim::builder()
            .with_bank(&Bank::new(4, unique("gone")))
            .live()
            .unwrap();
        let dev = s.chips()[0].dev_path().clone();
        let chip = dev.display().to_string();
        let watcher = hw::Chip::open(&dev).unwrap();
        watcher.watch_line_info(2).unwrap();
        // No timeout and no event count: only the removal can end it.
        let child = spawn(&["--backend", backend, "mon", "-c", &chip, "2"]);
        wait_requested(&watcher, "hwkit mon requested the line");
        drop(watcher);
        drop(s);
        let (status, stdout, stderr) = finish(child, backend);
        assert!(!status.success(), "{backend}: {stdout}");
        assert_eq!(stderr.lines().count(), 1, "{backend}: {stderr:?}");
        assert!(
            stderr.starts_with("hwkit: ") && stderr.contains("is gone (the device was removed)"),
            "{backend}: {stderr}"
        );
        // And the next command is told the chip is not there, naming what is.
        let e = err(&gpio(&["--backend", backend, "get", "-c", &chip, "2"]));
        assert!(
            e.contains(&chip) && e.contains("not found"),
            "{backend}: {e}"
        );
    }
}
