//! Raspberry Pi revision codes from `/proc/cpuinfo`.

/// A Raspberry Pi board revision code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    /// New-style code (bit 23 set): the board type is in bits 4-11.
    NewStyle {
        /// The whole code, e.g. `0xc03114`.
        code: u32,
        /// The board type, e.g. `0x11` for the Pi 4 Model B.
        board_type: u8,
    },
    /// Old-style code of the first Pi 1 boards, warranty bits removed (`0x0002` ... `0x0015`).
    OldStyle {
        /// The code, e.g. `0x000e`.
        code: u32,
    },
}

impl Revision {
    /// Parses the hex value of a `Revision` line (`c03114`, `0x000e`, `1000002`).
    pub fn parse(text: &str) -> Option<Revision> {
        let hex = text.trim();
        let hex = hex.strip_prefix("0x").unwrap_or(hex);
        let code = u32::from_str_radix(hex, 16).ok()?;
        if code & (1 << 23) != 0 {
            Some(Revision::NewStyle {
                code,
                board_type: ((code >> 4) & 0xff) as u8,
            })
        } else {
            // Bits 24 and up are the warranty/over-voltage flags on old-style codes.
            Some(Revision::OldStyle {
                code: code & 0x00ff_ffff,
            })
        }
    }

    /// Reads the `Revision` line of a `/proc/cpuinfo` text.
    pub fn from_cpuinfo(cpuinfo: &str) -> Option<Revision> {
        cpuinfo.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            if key.trim() == "Revision" {
                Revision::parse(value)
            } else {
                None
            }
        })
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Revision::NewStyle { code, board_type } => {
                write!(f, "{code:06x} (type 0x{board_type:02x})")
            }
            Revision::OldStyle { code } => write!(f, "{code:04x} (old style)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_style_codes_give_the_board_type() {
        assert_eq!(
            Revision::parse("c03114"),
            Some(Revision::NewStyle {
                code: 0xc03114,
                board_type: 0x11
            })
        );
        assert_eq!(
            Revision::parse("902120"),
            Some(Revision::NewStyle {
                code: 0x902120,
                board_type: 0x12
            })
        );
        assert_eq!(
            Revision::parse("d04170"),
            Some(Revision::NewStyle {
                code: 0xd04170,
                board_type: 0x17
            })
        );
    }

    #[test]
    fn old_style_codes_drop_the_warranty_bit() {
        assert_eq!(
            Revision::parse("1000002"),
            Some(Revision::OldStyle { code: 2 })
        );
        assert_eq!(
            Revision::parse("000e"),
            Some(Revision::OldStyle { code: 0xe })
        );
    }

    #[test]
    fn cpuinfo_line_is_found_and_garbage_is_none() {
        let text = "processor\t: 0\nHardware\t: BCM2835\nRevision\t: a02082\nSerial\t\t: 0000\n";
        assert_eq!(
            Revision::from_cpuinfo(text),
            Some(Revision::NewStyle {
                code: 0xa02082,
                board_type: 0x08
            })
        );
        assert_eq!(Revision::from_cpuinfo("model name : x86\n"), None);
        assert_eq!(Revision::parse("zz"), None);
    }
}
