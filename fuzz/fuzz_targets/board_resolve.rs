//! Pin specs (`pin 11`, `J8-11`, `GPIO17`, `BCM17`, line names, `chip:offset`, bare numbers)
//! resolved through every built-in board profile, against that board's chips as a kernel
//! may present them (numbered from 0 or 4, sysfs bases from 0 to the top of the number
//! space, some chips missing or shorter): a resolution is a line the chip has, anything
//! else a one-line error.
#![no_main]

use std::path::PathBuf;

use boards::{profiles, BareNumber, Chip, ChipInventory, Resolver};
use libfuzzer_sys::fuzz_target;

// Sysfs bases a kernel may give: 0 (before 6.6), 512 (since), dynamic ones counting down
// from 1024 on old kernels, and the top of the number space.
const BASES: [Option<u32>; 5] = [None, Some(0), Some(512), Some(1016), Some(u32::MAX - 3)];

// Input: `PROFILE FLAGS QUERY \x01 QUERY ...`: PROFILE picks a built-in board, FLAGS' bits
// choose bare numbers as GPIO numbers (0), chips numbered from 4 (1), a missing second
// chip (2), short chips (3), line names (4), the sysfs base (5-7).
fuzz_target!(|data: &[u8]| {
    let [p, flags, rest @ ..] = data else { return };
    let all = profiles();
    let profile = &all[*p as usize % all.len()];
    let first = if flags & 2 != 0 { 4 } else { 0 };
    let chips = profile
        .chips
        .iter()
        .enumerate()
        .filter(|(i, _)| !(flags & 4 != 0 && *i == 1))
        .map(|(i, spec)| {
            let name = format!("gpiochip{}", first + i);
            let mut chip = Chip::named(&name);
            chip.label = Some(spec.label.clone());
            chip.num_lines = Some(if flags & 8 != 0 {
                spec.lines / 2
            } else {
                spec.lines
            });
            chip.sysfs_base = BASES[(flags >> 5) as usize % BASES.len()];
            if flags & 16 != 0 {
                chip.line_names = (0..spec.lines).map(|o| Some(format!("LINE{o}"))).collect();
            }
            chip.dev_path = Some(PathBuf::from("/nonexistent/dev").join(&name));
            chip
        })
        .collect();
    let inventory = ChipInventory::new(chips);
    let bare = if flags & 1 != 0 {
        BareNumber::Gpio
    } else {
        BareNumber::Physical
    };
    let resolver = Resolver::new(profile)
        .with_inventory(&inventory)
        .bare_numbers(bare);
    for query in rest.split(|&b| b == 1).take(8) {
        let query = String::from_utf8_lossy(query);
        if let Ok(location) = Resolver::new(profile).bare_numbers(bare).locate(&query) {
            let _ = format!("{location:?}");
        }
        match resolver.resolve(&query) {
            Ok(r) => {
                if let Some(n) = r.chip.num_lines {
                    assert!(
                        r.offset() < n,
                        "{query:?}: offset {} of {n} lines",
                        r.offset()
                    );
                }
                let _ = r.describe();
                let _ = r.sysfs_number();
            }
            Err(e) => hwkit_fuzz::assert_one_line(&query, &e.to_string()),
        }
    }
});
