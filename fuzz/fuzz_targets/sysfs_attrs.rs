//! sysfs-gpio's reading of a sysfs tree: a chip's `base`, `ngpio` and `label`, a line's
//! `value`, `direction`, `edge` and `active_low`, written with fuzzed contents into a
//! temporary tree (never the system's) and read through the crate's public API. Each
//! attribute is either understood or a one-line error naming the file; nothing is exported
//! (the line's directory exists before it is opened) and nothing is written.
#![no_main]

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sysfs_gpio::{IoPath, Sysfs, SysfsLine};

// The tree's contents, from an input `NAME_BASE \x01 BASE \x01 NGPIO \x01 LABEL \x01 OFFSET
// \x01 VALUE \x01 DIRECTION \x01 EDGE \x01 ACTIVE_LOW \x01 FFI` (NAME_BASE, OFFSET decimal;
// FFI non-empty for the ffi-core I/O path).
struct Input {
    name_base: u32,
    base: Vec<u8>,
    ngpio: Vec<u8>,
    label: Vec<u8>,
    offset: u32,
    value: Vec<u8>,
    direction: Vec<u8>,
    edge: Vec<u8>,
    active_low: Vec<u8>,
    ffi: bool,
}

impl Input {
    fn new(data: &[u8]) -> Input {
        let mut f: Vec<Vec<u8>> = data.splitn(10, |&b| b == 1).map(<[u8]>::to_vec).collect();
        f.resize(10, Vec::new());
        let number = |b: &[u8]| hwkit_fuzz::number(&Some(String::from_utf8_lossy(b).into_owned()));
        Input {
            name_base: number(&f[0]).unwrap_or(0),
            base: f[1].clone(),
            ngpio: f[2].clone(),
            label: f[3].clone(),
            offset: number(&f[4]).unwrap_or(0),
            value: f[5].clone(),
            direction: f[6].clone(),
            edge: f[7].clone(),
            active_low: f[8].clone(),
            ffi: !f[9].is_empty(),
        }
    }
}

fn tree() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
        .path()
}

fuzz_target!(|data: &[u8]| {
    let input = Input::new(data);
    // Every message may quote what the files hold, but adds no line break of its own.
    let contents: String = [
        &input.base,
        &input.ngpio,
        &input.label,
        &input.value,
        &input.direction,
        &input.edge,
        &input.active_low,
    ]
    .iter()
    .map(|b| String::from_utf8_lossy(b).into_owned())
    .collect();
    let one_line = |msg: &str| hwkit_fuzz::assert_one_line(&contents, msg);
    let root = tree().join("class-gpio");
    let _ = fs::remove_dir_all(&root);
    let chip = root.join(format!("gpiochip{}", input.name_base));
    fs::create_dir_all(&chip).unwrap();
    fs::write(chip.join("base"), &input.base).unwrap();
    fs::write(chip.join("ngpio"), &input.ngpio).unwrap();
    fs::write(chip.join("label"), &input.label).unwrap();
    let sysfs = Sysfs::with_root(&root);
    let chips = match sysfs.chips() {
        Ok(chips) => chips,
        Err(e) => return one_line(&e.to_string()),
    };
    let Some(found) = chips.first() else { return };
    let label = found.label.clone();
    let addr = match sysfs.resolve(label.as_str(), input.offset) {
        Ok(addr) => addr,
        Err(e) => return one_line(&e.to_string()),
    };
    let _ = addr.to_string();
    let _ = sysfs.resolve_global(input.name_base.wrapping_add(input.offset));
    let plan = match sysfs.export_plan(&addr) {
        Ok(plan) => plan,
        Err(e) => return one_line(&e.to_string()),
    };
    // The line is already exported: open uses it as is and never writes `export`.
    let Some(dir) = plan.line_dirs.first() else {
        return;
    };
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("value"), &input.value).unwrap();
    fs::write(dir.join("direction"), &input.direction).unwrap();
    fs::write(dir.join("edge"), &input.edge).unwrap();
    fs::write(dir.join("active_low"), &input.active_low).unwrap();
    let io = if input.ffi {
        IoPath::Ffi
    } else {
        IoPath::Native
    };
    let line = match SysfsLine::open(&sysfs, &addr, io) {
        Ok(line) => line,
        Err(e) => return one_line(&e.to_string()),
    };
    assert!(!line.exported_by_us());
    for result in [
        line.direction().map(|d| format!("{d:?}")),
        line.get_value().map(|v| v.to_string()),
    ] {
        if let Err(e) = result {
            one_line(&e.to_string());
        }
    }
    let _ = line.edge();
    drop(line);
});
