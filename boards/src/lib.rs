//! Board profiles for Raspberry-Pi-class boards: header pin -> GPIO chip label and line,
//! detection from the device tree, pin-name resolution that survives kernel renumbering, and a
//! terminal pinout.
//!
//! Users think in header pins ("pin 11") or board names ("GPIO17"), kernels in `gpiochip0`
//! line 17 and sysfs number 529. This crate maps one onto the other, selecting chips by **label**
//! (never by number) and computing sysfs numbers from each chip's **base**, so the same name
//! means the same line on the Pi 5's `gpiochip4` and `gpiochip0` kernels and across the 512+
//! sysfs bases.
//!
//! - [`profiles`]/[`find_profile`]: the built-in boards, data files under `boards/profiles/`.
//! - [`detect()`]: which board, from `<root>/proc/device-tree/{compatible,model}` and `cpuinfo`;
//!   [`detect_with_chips()`] also takes the GPIO chips as evidence where there is no device tree.
//! - [`ChipInventory`]: the chips of a system (live or a captured tree), an explicit input.
//! - [`Resolver`]: a pin query -> [`Location`] (profile only) or [`Resolution`] (with chips).
//! - [`Pinout`]: the header picture, with live line state when given.
//!
//! ```
//! use boards::{find_profile, Resolver};
//!
//! let pi4 = find_profile("pi4").unwrap();
//! let loc = Resolver::new(pi4).locate("pin 11").unwrap();
//! assert_eq!(loc.chip.to_string(), "pinctrl-bcm2711");
//! assert_eq!(loc.offset, 17);
//! ```
#![warn(missing_docs)]

mod detect;
mod inventory;
mod linestate;
mod pinout;
mod profile;
mod query;
mod registry;
mod resolve;
mod revision;

pub use detect::{
    detect, detect_from, detect_from_chips, detect_with_chips, BoardInfo, Detection, MatchedBy,
};
pub use inventory::{Chip, ChipInfo, ChipInventory, DEV_MANIFEST, UNMATCHED_PREFIX};
pub use linestate::{sysfs_line_states, Direction, LineState, LineStates};
pub use pinout::Pinout;
pub use profile::{
    ChipSpec, DetectRules, Header, NameScheme, NumberRange, Numbering, Pin, PinRole, Profile,
    ProfileDataError,
};
pub use query::{scheme_number, BareNumber};
pub use registry::{find_profile, generic, load_builtin, profiles, UnknownBoard, GENERIC_ID};
pub use resolve::{default_header, ChipRef, Location, PinRef, Resolution, ResolveError, Resolver};
pub use revision::Revision;

/// Entry points for the fuzz targets in `fuzz/`: not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use std::collections::BTreeMap;

    use crate::profile::{parse_layout, parse_profile};
    use crate::registry::LAYOUT_SOURCES;
    use crate::{Profile, ProfileDataError};

    /// Parses and checks `text` as a profile file, exactly as the built-in ones are loaded
    /// (against the built-in layouts).
    pub fn profile_from_json(text: &str) -> Result<Profile, ProfileDataError> {
        let mut layouts = BTreeMap::new();
        for (file, layout) in LAYOUT_SOURCES {
            let layout = parse_layout(file, layout)?;
            layouts.insert(layout.id.clone(), layout);
        }
        parse_profile("fuzz.json", text, &layouts)
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
