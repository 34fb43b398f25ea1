//! What a user typed, before it is looked up: `pin 11`, `J8-11`, `11`, `GPIO17`, `BCM17`,
//! `gpio1_28`, `PA12`, `GPIO1_C4`, `PBB.00`, `gpiochip0:17`, `pinctrl-bcm2711:17`, a line name.

use crate::profile::{NameScheme, Profile};

/// How to read a bare number such as `11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareNumber {
    /// As a physical header pin (`11` = pin 11 = GPIO17 on a Pi).
    #[default]
    Physical,
    /// As the board's GPIO number (`17` = GPIO17), like gpiozero.
    Gpio,
}

/// A parsed pin query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Query {
    /// A physical pin, on a named header or the default one.
    Physical { header: Option<String>, pin: u32 },
    /// A board GPIO number, from `GPIO17`, `BCM17` or a scheme name like `PA12`.
    Number { number: u32 },
    /// `chip:offset`, the chip by kernel name, `/dev` path or label.
    ChipOffset { chip: String, offset: u32 },
    /// Anything else: a line name, a pin name or a function name.
    Name(String),
}

pub(crate) fn parse(text: &str, profile: &Profile, bare: BareNumber) -> Query {
    let s = text.trim();
    if let Ok(n) = s.parse::<u32>() {
        return match bare {
            BareNumber::Physical => Query::Physical {
                header: None,
                pin: n,
            },
            BareNumber::Gpio => Query::Number { number: n },
        };
    }
    let lower = s.to_ascii_lowercase();
    for word in ["physical", "board", "pin"] {
        if let Some(rest) = lower.strip_prefix(word) {
            if let Some(n) = digits_after_separators(rest) {
                return Query::Physical {
                    header: None,
                    pin: n,
                };
            }
        }
    }
    if let Some((left, right)) = s.rsplit_once(':') {
        if let Ok(n) = right.trim().parse::<u32>() {
            let left = left.trim();
            if profile.header(left).is_some() || looks_like_header(left) {
                return Query::Physical {
                    header: Some(left.to_string()),
                    pin: n,
                };
            }
            return Query::ChipOffset {
                chip: left.to_string(),
                offset: n,
            };
        }
    }
    if let Some(i) = s.find(['-', '_', '.', ' ']) {
        let (left, right) = (&s[..i], &s[i + 1..]);
        if profile.header(left).is_some() || looks_like_header(left) {
            if let Ok(n) = right.trim().parse::<u32>() {
                return Query::Physical {
                    header: Some(left.to_string()),
                    pin: n,
                };
            }
        }
    }
    if let Some(numbering) = &profile.numbering {
        for prefix in &numbering.prefixes {
            if let Some(rest) = lower.strip_prefix(&prefix.to_ascii_lowercase()) {
                if let Some(n) = digits_after_separators(rest) {
                    return Query::Number { number: n };
                }
            }
        }
        if let Some(n) = scheme_number(numbering.names, s) {
            return Query::Number { number: n };
        }
    }
    Query::Name(s.to_string())
}

/// `P1`, `J8`, `P9`, `CON3`: spelled like a header even if this board has no such header, so
/// `P3-1` is reported as a missing header rather than as an unknown name or chip.
fn looks_like_header(s: &str) -> bool {
    let u = s.to_ascii_uppercase();
    let digits = u
        .strip_prefix("CON")
        .or_else(|| u.strip_prefix('P'))
        .or_else(|| u.strip_prefix('J'));
    digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// `17`, ` 17`, `-17`, `_17`: the number after optional separators.
fn digits_after_separators(rest: &str) -> Option<u32> {
    let rest = rest.trim_start_matches([' ', '-', '_', ':', '#']);
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// The board GPIO number a scheme name spells, e.g. `gpio1_28` -> 60, `PH8` -> 232,
/// `GPIO1_C4` -> 52, `PBB.00` -> 216. A bank too large for the number to be a `u32` names
/// no GPIO (`None`), rather than wrapping round to a small, real one.
pub fn scheme_number(scheme: NameScheme, name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    match scheme {
        NameScheme::Plain => None,
        NameScheme::Bank => {
            let (bank, bit) = upper.strip_prefix("GPIO")?.split_once('_')?;
            let bit: u32 = bit.parse().ok()?;
            let bank: u32 = bank.parse().ok()?;
            (bit < 32)
                .then(|| bank.checked_mul(32)?.checked_add(bit))
                .flatten()
        }
        NameScheme::Sunxi => {
            let rest = upper.strip_prefix('P')?;
            let mut chars = rest.chars();
            let port = chars.next().filter(char::is_ascii_uppercase)?;
            let n: u32 = chars.as_str().parse().ok()?;
            (n < 32).then(|| (port as u32 - 'A' as u32) * 32 + n)
        }
        NameScheme::Rockchip => {
            let (bank, pin) = upper.strip_prefix("GPIO")?.split_once('_')?;
            let bank: u32 = bank.parse().ok()?;
            let mut chars = pin.chars();
            let port = chars.next().filter(|c| ('A'..='D').contains(c))?;
            let n: u32 = chars.as_str().parse().ok()?;
            let first = bank
                .checked_mul(32)?
                .checked_add(8 * (port as u32 - 'A' as u32))?;
            (n < 8).then(|| first + n)
        }
        NameScheme::Tegra => {
            let (port, n) = upper.strip_prefix('P')?.split_once('.')?;
            let n: u32 = n.parse().ok()?;
            let port_index = match port.as_bytes() {
                [a] if a.is_ascii_uppercase() => u32::from(a - b'A'),
                [a, b] if a == b && (b'A'..=b'F').contains(a) => 26 + u32::from(a - b'A'),
                _ => return None,
            };
            (n < 8).then(|| port_index * 8 + n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_names_follow_the_facts() {
        assert_eq!(scheme_number(NameScheme::Bank, "gpio1_28"), Some(60));
        assert_eq!(scheme_number(NameScheme::Sunxi, "PH8"), Some(232));
        assert_eq!(scheme_number(NameScheme::Rockchip, "GPIO1_C4"), Some(52));
        assert_eq!(scheme_number(NameScheme::Tegra, "PBB.00"), Some(216));
        assert_eq!(scheme_number(NameScheme::Tegra, "PJ.07"), Some(79));
    }

    #[test]
    fn scheme_names_reject_out_of_range_parts() {
        assert_eq!(scheme_number(NameScheme::Bank, "gpio1_32"), None);
        assert_eq!(scheme_number(NameScheme::Sunxi, "PA32"), None);
        assert_eq!(scheme_number(NameScheme::Rockchip, "GPIO1_E0"), None);
        assert_eq!(scheme_number(NameScheme::Rockchip, "GPIO1_A8"), None);
        assert_eq!(scheme_number(NameScheme::Tegra, "PGG.00"), None);
        assert_eq!(scheme_number(NameScheme::Plain, "GPIO17"), None);
    }

    /// Found by fuzz/board_resolve: 134217728 x 32 is 2**32, which wrapped to gpio0_5; a line
    /// number too large for its port was added before it was checked.
    #[test]
    fn scheme_banks_past_the_number_space_name_nothing() {
        assert_eq!(scheme_number(NameScheme::Sunxi, "PZ4294967295"), None);
        assert_eq!(scheme_number(NameScheme::Tegra, "PZ.4294967295"), None);
        assert_eq!(
            scheme_number(NameScheme::Rockchip, "GPIO1_C4294967295"),
            None
        );
        assert_eq!(
            scheme_number(NameScheme::Bank, "gpio134217727_4294967295"),
            None
        );
        assert_eq!(scheme_number(NameScheme::Bank, "gpio134217728_5"), None);
        assert_eq!(
            scheme_number(NameScheme::Bank, "gpio134217727_31"),
            Some(u32::MAX)
        );
        assert_eq!(
            scheme_number(NameScheme::Rockchip, "GPIO134217728_C4"),
            None
        );
        assert_eq!(
            scheme_number(NameScheme::Rockchip, "GPIO134217727_D7"),
            Some(u32::MAX)
        );
    }
}
