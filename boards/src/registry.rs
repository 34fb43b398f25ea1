//! The built-in profiles: the JSON files under `boards/profiles/`, embedded at compile time.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::profile::{parse_layout, parse_profile, Profile, ProfileDataError, RawLayout};

/// Shared header layouts, by file name under `profiles/layouts/`.
pub(crate) const LAYOUT_SOURCES: &[(&str, &str)] = &[(
    "layouts/rpi-40.json",
    include_str!("../profiles/layouts/rpi-40.json"),
)];

macro_rules! profile_sources {
    ($($file:literal),* $(,)?) => {
        /// Board profiles, by file name under `profiles/`; the order is the detection order for ties.
        pub(crate) const PROFILE_SOURCES: &[(&str, &str)] = &[
            $(($file, include_str!(concat!("../profiles/", $file))),)*
        ];
    };
}

profile_sources![
    "rpi-1-rev1.json",
    "rpi-1-rev2.json",
    "rpi-1-plus.json",
    "rpi-2b.json",
    "rpi-3b.json",
    "rpi-3-plus.json",
    "rpi-4b.json",
    "rpi-400.json",
    "rpi-cm4-io.json",
    "rpi-5.json",
    "rpi-500.json",
    "rpi-cm5-io.json",
    "rpi-zero.json",
    "rpi-zero-2-w.json",
    "beaglebone-black.json",
    "jetson-nano.json",
    "orangepi-pc.json",
    "rockpi-4b.json",
    "generic.json",
];

/// Parses every embedded file; any error names the file and the pin.
pub fn load_builtin() -> Result<Vec<Profile>, ProfileDataError> {
    let mut layouts: BTreeMap<String, RawLayout> = BTreeMap::new();
    for (file, text) in LAYOUT_SOURCES {
        let layout = parse_layout(file, text)?;
        layouts.insert(layout.id.clone(), layout);
    }
    let mut profiles: Vec<Profile> = Vec::new();
    for (file, text) in PROFILE_SOURCES {
        let profile = parse_profile(file, text, &layouts)?;
        if let Some(clash) = profiles
            .iter()
            .find(|p| p.is_named(&profile.id) || profile.aliases.iter().any(|a| p.is_named(a)))
        {
            return Err(ProfileDataError {
                file: file.to_string(),
                message: format!(
                    "id or alias of `{}` clashes with profile `{}`",
                    profile.id, clash.id
                ),
            });
        }
        profiles.push(profile);
    }
    if !profiles.iter().any(|p| p.id == GENERIC_ID) {
        return Err(ProfileDataError {
            file: "generic.json".into(),
            message: format!("the fallback profile `{GENERIC_ID}` is missing"),
        });
    }
    Ok(profiles)
}

/// Id of the fallback profile used for unknown boards.
pub const GENERIC_ID: &str = "generic";

/// All built-in profiles.
///
/// # Panics
/// Only if the embedded data files are invalid, which the crate's tests rule out
/// (`load_builtin` reports such errors as values).
pub fn profiles() -> &'static [Profile] {
    static PROFILES: OnceLock<Vec<Profile>> = OnceLock::new();
    PROFILES.get_or_init(|| match load_builtin() {
        Ok(p) => p,
        Err(e) => panic!("built-in board data is invalid (the crate's tests catch this): {e}"),
    })
}

/// The fallback profile for unknown boards: no headers, only `chip:offset` and line names.
pub fn generic() -> &'static Profile {
    profiles()
        .iter()
        .find(|p| p.id == GENERIC_ID)
        .unwrap_or_else(|| unreachable!("load_builtin checks the generic profile exists"))
}

/// The profile with this id or alias (`rpi-4b`, `pi4`, `Pi 4`, `bbb`), case-insensitive.
pub fn find_profile(name: &str) -> Result<&'static Profile, UnknownBoard> {
    profiles()
        .iter()
        .find(|p| p.is_named(name))
        .ok_or_else(|| UnknownBoard {
            name: name.to_string(),
            known: profiles()
                .iter()
                .map(|p| match p.aliases.first() {
                    Some(a) => format!("{} ({a})", p.id),
                    None => p.id.clone(),
                })
                .collect(),
        })
}

/// `--board` named no known profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown board `{name}`; known boards: {}", known.join(", "))]
pub struct UnknownBoard {
    /// What was asked for.
    pub name: String,
    /// The known ids, each with its first alias.
    pub known: Vec<String>,
}
