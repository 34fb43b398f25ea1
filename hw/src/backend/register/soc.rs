//! The GPIO register blocks of Raspberry Pi SoCs, and the arithmetic from a line to a register
//! and a bit: BCM2835/2836/2837 and BCM2711 (one block, SET/CLR/LEV), RP1 (RIO blocks per
//! bank with atomic SET/CLR aliases).

use std::fmt;

/// A SoC whose GPIO registers the register backend writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Soc {
    /// BCM2835, BCM2836 and BCM2837 (Pi 1, 2, 3, Zero): device-tree `brcm,bcm2835-gpio`.
    Bcm2835,
    /// BCM2711 (Pi 4, 400, CM4): `brcm,bcm2711-gpio`.
    Bcm2711,
    /// RP1, the Pi 5's I/O chip (Pi 5, 500, CM5): `raspberrypi,rp1-gpio`.
    Rp1,
}

/// Where a line's level is written and read: byte offsets into the mapping, and the bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRegs {
    /// Writing `mask` here drives the line high.
    pub set: usize,
    /// Writing `mask` here drives the line low.
    pub clr: usize,
    /// Reading here, `& mask`, is the line's level.
    pub lev: usize,
    /// The line's bit.
    pub mask: u32,
}

// BCM2835 ARM Peripherals, section 6.1: GPSET0/1, GPCLR0/1, GPLEV0/1; BCM2711 keeps them.
const GPSET0: usize = 0x1c;
const GPCLR0: usize = 0x28;
const GPLEV0: usize = 0x34;
/// Bytes of the BCM2835 block that the backend touches (through GPLEV1).
const BCM_BLOCK_LEN: usize = 0x3c;

// RP1 peripherals datasheet, sections 2.4 and 3.1: /dev/gpiomem0 maps from IO_BANK0
// (0x400d0000); SYS_RIO0 is 0x10000 further, RIO1 and RIO2 follow 0x4000 apart; each has OUT
// (0x0), OE (0x4) and the input level (0x8, which the kernel's pinctrl-rp1 reads too), and
// atomic aliases of every register: XOR at +0x1000, SET at +0x2000, CLR at +0x3000.
const RP1_RIO0: usize = 0x1_0000;
const RP1_RIO_STRIDE: usize = 0x4000;
const RP1_RIO_OUT: usize = 0x0;
const RP1_RIO_IN: usize = 0x8;
const RP1_SET_ALIAS: usize = 0x2000;
const RP1_CLR_ALIAS: usize = 0x3000;
/// RP1's user GPIO banks: 28 lines (the header), 6, then 20.
const RP1_BANKS: [u32; 3] = [28, 6, 20];

impl Soc {
    /// The SoC of a GPIO device-tree node's `compatible` entries.
    pub fn from_compatible<'a>(entries: impl IntoIterator<Item = &'a str>) -> Option<Soc> {
        entries.into_iter().find_map(|c| match c {
            "brcm,bcm2835-gpio" => Some(Soc::Bcm2835),
            "brcm,bcm2711-gpio" => Some(Soc::Bcm2711),
            "raspberrypi,rp1-gpio" => Some(Soc::Rp1),
            _ => None,
        })
    }

    /// The label the kernel's driver gives the chip.
    pub fn chip_label(self) -> &'static str {
        match self {
            Soc::Bcm2835 => "pinctrl-bcm2835",
            Soc::Bcm2711 => "pinctrl-bcm2711",
            Soc::Rp1 => "pinctrl-rp1",
        }
    }

    /// Lines on the block.
    pub fn lines(self) -> u32 {
        match self {
            Soc::Bcm2835 => 54,
            Soc::Bcm2711 => 58,
            Soc::Rp1 => RP1_BANKS.iter().sum(),
        }
    }

    /// Bytes to map from the start of the block.
    pub fn map_len(self) -> usize {
        match self {
            Soc::Bcm2835 | Soc::Bcm2711 => BCM_BLOCK_LEN,
            Soc::Rp1 => RP1_RIO0 + RP1_RIO_STRIDE * RP1_BANKS.len(),
        }
    }

    /// The `/dev` node that maps the block for unprivileged users on Raspberry Pi OS.
    pub fn gpiomem(self) -> &'static str {
        match self {
            Soc::Bcm2835 | Soc::Bcm2711 => "/dev/gpiomem",
            Soc::Rp1 => "/dev/gpiomem0",
        }
    }

    /// The registers of `line`, `None` past the block's lines.
    pub fn regs(self, line: u32) -> Option<LineRegs> {
        if line >= self.lines() {
            return None;
        }
        match self {
            Soc::Bcm2835 | Soc::Bcm2711 => {
                let word = 4 * (line as usize / 32);
                Some(LineRegs {
                    set: GPSET0 + word,
                    clr: GPCLR0 + word,
                    lev: GPLEV0 + word,
                    mask: 1 << (line % 32),
                })
            }
            Soc::Rp1 => {
                let (mut bank, mut bit) = (0, line);
                while bit >= RP1_BANKS[bank] {
                    bit -= RP1_BANKS[bank];
                    bank += 1;
                }
                let rio = RP1_RIO0 + RP1_RIO_STRIDE * bank;
                Some(LineRegs {
                    set: rio + RP1_SET_ALIAS + RP1_RIO_OUT,
                    clr: rio + RP1_CLR_ALIAS + RP1_RIO_OUT,
                    lev: rio + RP1_RIO_IN,
                    mask: 1 << bit,
                })
            }
        }
    }
}

impl fmt::Display for Soc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Soc::Bcm2835 => "BCM2835/2836/2837",
            Soc::Bcm2711 => "BCM2711",
            Soc::Rp1 => "RP1",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcm_lines_map_to_the_datasheets_set_clear_and_level_words() {
        for soc in [Soc::Bcm2835, Soc::Bcm2711] {
            // GPIO17: GPSET0 0x7e20001c, GPCLR0 0x7e200028, GPLEV0 0x7e200034, bit 17.
            assert_eq!(
                soc.regs(17),
                Some(LineRegs {
                    set: 0x1c,
                    clr: 0x28,
                    lev: 0x34,
                    mask: 1 << 17
                })
            );
            // GPIO32 is bit 0 of the second words: GPSET1 0x20, GPCLR1 0x2c, GPLEV1 0x38.
            assert_eq!(
                soc.regs(32),
                Some(LineRegs {
                    set: 0x20,
                    clr: 0x2c,
                    lev: 0x38,
                    mask: 1
                })
            );
            let last = soc.regs(soc.lines() - 1).unwrap();
            assert!(last.lev + 4 <= soc.map_len(), "{soc}");
            assert_eq!(soc.regs(soc.lines()), None);
        }
        assert_eq!(Soc::Bcm2835.lines(), 54);
        assert_eq!(Soc::Bcm2711.lines(), 58);
    }

    #[test]
    fn rp1_lines_map_to_their_banks_rio_aliases() {
        // GPIO17 (header pin 11): bank 0, SYS_RIO0 0x400e0000 = gpiomem0 + 0x10000.
        assert_eq!(
            Soc::Rp1.regs(17),
            Some(LineRegs {
                set: 0x1_2000,
                clr: 0x1_3000,
                lev: 0x1_0008,
                mask: 1 << 17
            })
        );
        // GPIO28 is bit 0 of bank 1 (SYS_RIO1 0x400e4000); GPIO34 bit 0 of bank 2 (0x400e8000).
        assert_eq!(Soc::Rp1.regs(28).unwrap().set, 0x1_4000 + 0x2000);
        assert_eq!(Soc::Rp1.regs(28).unwrap().mask, 1);
        assert_eq!(Soc::Rp1.regs(33).unwrap().mask, 1 << 5);
        assert_eq!(Soc::Rp1.regs(34).unwrap().clr, 0x1_8000 + 0x3000);
        assert_eq!(Soc::Rp1.regs(53).unwrap().mask, 1 << 19);
        assert_eq!(Soc::Rp1.regs(54), None);
        let last = Soc::Rp1.regs(53).unwrap();
        assert!(last.clr + 4 <= Soc::Rp1.map_len());
    }

    #[test]
    fn socs_come_from_the_gpio_nodes_compatible_only() {
        assert_eq!(
            Soc::from_compatible(["brcm,bcm2835-gpio"]),
            Some(Soc::Bcm2835)
        );
        assert_eq!(
            Soc::from_compatible(["brcm,bcm2711-gpio", "brcm,bcm2835-gpio"]),
            Some(Soc::Bcm2711)
        );
        assert_eq!(
            Soc::from_compatible(["raspberrypi,rp1-gpio"]),
            Some(Soc::Rp1)
        );
        assert_eq!(Soc::from_compatible(["arm,pl061"]), None);
    }
}
