//! `hwkit gpio --backend`: the character device with a forced uAPI version, or the libgpiod C
//! library (either major version, or whichever the system has).

use std::fmt;
use std::str::FromStr;

use hw::{LibgpiodBackend, LibgpiodVersion, Uapi};

/// What `--backend` chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// The character device with this uAPI (`v1`, `v2`).
    Cdev(Uapi),
    /// libgpiod: `libgpiod` (2.x where installed, else 1.x), `libgpiod-v1`, `libgpiod-v2`.
    Libgpiod(Option<LibgpiodVersion>),
}

impl FromStr for BackendChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "libgpiod" => Ok(BackendChoice::Libgpiod(None)),
            "libgpiod-v1" => Ok(BackendChoice::Libgpiod(Some(LibgpiodVersion::V1))),
            "libgpiod-v2" => Ok(BackendChoice::Libgpiod(Some(LibgpiodVersion::V2))),
            _ => s.parse().map(BackendChoice::Cdev).map_err(|_| {
                format!(
                    "unknown backend '{s}': expected v1 or v2 (the character device's uAPI), \
                     libgpiod (the system's libgpiod, 2.x where installed), libgpiod-v1 or \
                     libgpiod-v2"
                )
            }),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendChoice::Cdev(u) => write!(f, "{u}"),
            BackendChoice::Libgpiod(None) => f.write_str("libgpiod"),
            BackendChoice::Libgpiod(Some(v)) => f.write_str(v.backend_name()),
        }
    }
}

impl BackendChoice {
    /// The forced uAPI of the character device, if that is the choice.
    pub fn uapi(self) -> Option<Uapi> {
        match self {
            BackendChoice::Cdev(u) => Some(u),
            BackendChoice::Libgpiod(_) => None,
        }
    }

    /// The libgpiod backend, loaded, if that is the choice.
    pub fn libgpiod(self) -> hw::Result<Option<LibgpiodBackend>> {
        match self {
            BackendChoice::Cdev(_) => Ok(None),
            BackendChoice::Libgpiod(None) => LibgpiodBackend::open().map(Some),
            BackendChoice::Libgpiod(Some(v)) => LibgpiodBackend::open_version(v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_parse_and_print_back() {
        for s in ["v1", "v2", "libgpiod", "libgpiod-v1", "libgpiod-v2"] {
            assert_eq!(s.parse::<BackendChoice>().unwrap().to_string(), s);
        }
        assert_eq!(
            "2".parse::<BackendChoice>().unwrap(),
            BackendChoice::Cdev(Uapi::V2)
        );
        let e = "libgpiod3".parse::<BackendChoice>().unwrap_err();
        assert!(e.contains("unknown backend 'libgpiod3'"), "{e}");
        assert!(e.contains("libgpiod-v1 or libgpiod-v2"), "{e}");
    }

    #[test]
    fn only_the_cdev_choice_forces_a_uapi() {
        assert_eq!(BackendChoice::Cdev(Uapi::V1).uapi(), Some(Uapi::V1));
        assert_eq!(BackendChoice::Libgpiod(None).uapi(), None);
        assert!(BackendChoice::Cdev(Uapi::V2).libgpiod().unwrap().is_none());
        // The host has libgpiod 1.x (scripts/install-deps.sh): asking for it loads it.
        let b = BackendChoice::Libgpiod(Some(LibgpiodVersion::V1))
            .libgpiod()
            .unwrap()
            .unwrap();
        assert_eq!(b.api_version(), LibgpiodVersion::V1);
    }
}
