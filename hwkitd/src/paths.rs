//! The object paths of io.gpiod1, as gpio-manager lays them out.

use zbus::zvariant::OwnedObjectPath;

/// The object manager of the chips (and the parent of every chip object).
pub const CHIPS: &str = "/io/gpiod1/chips";
/// The object manager of the requests.
pub const REQUESTS: &str = "/io/gpiod1/requests";

/// `/io/gpiod1/chips/gpiochipN` for the chip the kernel names `gpiochipN`.
pub fn chip(name: &str) -> OwnedObjectPath {
    path(format!("{CHIPS}/{}", element(name)))
}

/// `/io/gpiod1/chips/gpiochipN/lineM`.
pub fn line(chip_name: &str, offset: u32) -> OwnedObjectPath {
    path(format!("{CHIPS}/{}/line{offset}", element(chip_name)))
}

/// `/io/gpiod1/requests/requestN`.
pub fn request(id: u32) -> OwnedObjectPath {
    path(format!("{REQUESTS}/request{id}"))
}

/// The root path, which io.gpiod1 uses for "no object" (a line no request holds).
pub fn none() -> OwnedObjectPath {
    path("/".to_owned())
}

/// A chip name as one path element: kernel chip names are `gpiochipN`, but anything else
/// is mapped to the characters an object path allows rather than refused.
fn element(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn path(p: String) -> OwnedObjectPath {
    // Every path built here is made of valid elements (see `element`).
    OwnedObjectPath::try_from(p).unwrap_or_else(|_| {
        OwnedObjectPath::from(zbus::zvariant::ObjectPath::from_static_str_unchecked("/"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_gpio_managers() {
        assert_eq!(chip("gpiochip3").as_str(), "/io/gpiod1/chips/gpiochip3");
        assert_eq!(
            line("gpiochip3", 7).as_str(),
            "/io/gpiod1/chips/gpiochip3/line7"
        );
        assert_eq!(request(0).as_str(), "/io/gpiod1/requests/request0");
        assert_eq!(chip("odd-name.1").as_str(), "/io/gpiod1/chips/odd_name_1");
    }
}
