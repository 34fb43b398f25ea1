//! Board profile JSON (the format of boards/profiles/*.json): a profile that loads resolves
//! every one of its GPIO pins back to itself and renders a pinout; anything else is a
//! one-line error naming the file.
#![no_main]

use boards::{Pinout, Resolver};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match boards::fuzzing::profile_from_json(text) {
        Ok(profile) => {
            let resolver = Resolver::new(&profile);
            for (header, pin) in profile.gpio_pins() {
                let query = format!("{}:{}", header.name, pin.number);
                // Any answer (a pin may be ambiguous or shadowed), but no panic.
                let _ = resolver.locate(&query);
            }
            let _ = Pinout::new(&profile).render(false);
            let _ = Pinout::new(&profile).render(true);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("fuzz.json"), "{msg}");
        }
    }
});
