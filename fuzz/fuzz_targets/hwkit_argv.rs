//! `hwkit`'s whole command line, parsed and checked as `hwkit` does before it acts, with
//! nothing acted on (`hwkit::fuzzing::check_argv`: no library opened, no C called, no chip
//! opened or line requested, no VM booted; lines resolve against captured board trees).
//! Every argument list is a usage message, a one-line refusal, or accepted.
#![no_main]

use std::ffi::OsString;
use std::path::PathBuf;

use hwkit::fuzzing::{check_argv, Checked};
use libfuzzer_sys::fuzz_target;

// Captured systems from boards/tests/fixtures.
const TREES: &[&str] = &[
    "rpi4-6.6",
    "rpi3-6.1",
    "rpi5-gpiochip4",
    "bbb-5.10",
    "unknown-x86",
];

// Input: a byte choosing the captured tree, then the arguments separated by `\x01`.
fuzz_target!(|data: &[u8]| {
    let Some((&tree, rest)) = data.split_first() else {
        return;
    };
    let argv: Vec<String> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split(|&b| b == 1)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../boards/tests/fixtures")
        .join(TREES[tree as usize % TREES.len()]);
    let args: Vec<OsString> = argv.iter().map(OsString::from).collect();
    match check_argv(&args, &root) {
        Checked::Usage(msg) => assert!(!msg.is_empty()),
        Checked::Refused(msg) => hwkit_fuzz::assert_one_line(&argv.concat(), &msg),
        Checked::Accepted => {}
    }
});
