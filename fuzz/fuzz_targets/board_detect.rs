//! Board detection from the device tree (`model`, NUL-separated `compatible`) and
//! `/proc/cpuinfo` (the Pi's `Revision` code): always a profile and a one-line message.
#![no_main]

use boards::{detect_from, BoardInfo, Revision};
use libfuzzer_sys::fuzz_target;

// Input: `MODEL \x01 COMPATIBLE \x01 CPUINFO` (COMPATIBLE's strings separated by NUL or
// `\x00`); a missing field is a missing file.
fuzz_target!(|data: &[u8]| {
    let f: Vec<Option<Vec<u8>>> = {
        let mut parts: Vec<Option<Vec<u8>>> = data
            .splitn(3, |&b| b == 1)
            .map(|p| Some(p.to_vec()))
            .collect();
        parts.resize(3, None);
        parts
    };
    let cpuinfo = f[2]
        .as_ref()
        .map(|c| String::from_utf8_lossy(c).into_owned());
    if let Some(c) = &cpuinfo {
        for line in c.lines() {
            if let Some(r) = Revision::parse(line) {
                let _ = r.to_string();
            }
        }
    }
    let info = BoardInfo::parse(f[0].as_deref(), f[1].as_deref(), cpuinfo.as_deref());
    let detection = detect_from(info);
    let msg = detection.message();
    assert!(!msg.is_empty());
    let _ = detection.profile.id.as_str();
});
