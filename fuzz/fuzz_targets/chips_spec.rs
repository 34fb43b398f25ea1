//! The test bed's and `hwkit vm`'s `--chips` syntax: chips that parse are written back in
//! the same syntax and parse to the same chips; anything else is a one-line error.
#![no_main]

use hwkit_testbed::parse_chips;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|spec: &str| {
    match parse_chips(spec) {
        Ok(chips) => {
            let written: Vec<String> = chips.iter().map(|c| c.to_string()).collect();
            let again = parse_chips(&written.join(";"));
            assert_eq!(
                again.as_ref().ok(),
                Some(&chips),
                "{spec:?} -> {written:?}: {again:?}"
            );
        }
        Err(e) => hwkit_fuzz::assert_one_line(spec, &e.to_string()),
    }
});
