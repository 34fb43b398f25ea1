//! The register backend: lines requested through the character device, so the kernel and
//! every other tool see them held (with our consumer) and refuse them to others, and their
//! direction set by the kernel; then only the level is written and read through the SoC's
//! GPIO registers, mapped into the process. Edge events still come from the kernel.
//!
//! Knows BCM2835/2836/2837 (Pi 1-3, Zero), BCM2711 (Pi 4, 400, CM4) and RP1 (Pi 5, 500, CM5;
//! its arithmetic is tested against the datasheet, not on hardware). The SoC comes from the
//! chip's device-tree node, never from a guess; every refusal says why and what would work.
//!
//! ```no_run
//! use hw::backend::register::RegisterBackend;
//! use hw::{Request, Value};
//!
//! let mut led = Request::builder()
//!     .on_chip_labelled("pinctrl-bcm2711")
//!     .with_line(17)
//!     .as_output(Value::Inactive)
//!     .request_with(&RegisterBackend::new())?;
//! led.set_value(17, Value::Active)?; // one store to GPSET0
//! # Ok::<(), hw::Error>(())
//! ```

mod devtree;
mod mapping;
mod soc;

use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use devtree::Block;
pub use soc::{LineRegs, Soc};

use crate::chip::ChipInfo;
use crate::error::{Error, Result};
use crate::event::EdgeEvent;
use crate::line::{Backend, Lines, RequestSpec};
use crate::settings::{Direction, Drive, LineSettings, Offset, Value};
use crate::Uapi;
use mapping::Mapping;

/// The backend's name, as [`Lines::backend`] reports it.
pub const NAME: &str = "register";

/// Requests lines through uAPI v2 and drives their levels through the SoC's registers.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterBackend {
    _private: (),
}

impl RegisterBackend {
    /// The backend for this system's SoC, found per chip at request time.
    pub fn new() -> Self {
        RegisterBackend::default()
    }
}

/// The GPIO block of chip `name` labelled `label`, or why the register backend cannot drive it.
pub fn block_of_chip(name: &str, label: &str) -> Result<Block> {
    block_of_chip_in(name, label, Path::new("/sys"))
}

/// [`block_of_chip`] with sysfs at `sys`.
fn block_of_chip_in(name: &str, label: &str, sys: &Path) -> Result<Block> {
    let block = devtree::block_of(name, sys).map_err(|e| {
        Error::Register(match e {
            devtree::NoBlock::NoNode => format!(
                "{name} ('{label}') has no device-tree node, so its SoC is unknown: the \
                 register backend drives the GPIO blocks of BCM2835/2836/2837, BCM2711 and RP1 \
                 (Raspberry Pi boards); use the character device (uAPI v2) here"
            ),
            devtree::NoBlock::Unknown(c) => format!(
                "{name} ('{label}') is a '{}' block, not one the register backend knows \
                 (brcm,bcm2835-gpio, brcm,bcm2711-gpio, raspberrypi,rp1-gpio): only the SoC's \
                 own GPIO block has registers hwkit can write; use the character device",
                c.join("', '")
            ),
        })
    })?;
    if label != block.soc.chip_label() {
        return Err(Error::Register(format!(
            "{name} is labelled '{label}', but its device-tree node is the {} GPIO block \
             (whose driver labels it '{}'): refusing to write registers of a chip that is not \
             what it seems",
            block.soc,
            block.soc.chip_label()
        )));
    }
    Ok(block)
}

impl Backend for RegisterBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn request(&self, spec: &RequestSpec) -> Result<Box<dyn Lines>> {
        for (id, s) in &spec.lines {
            if s.drive != Drive::PushPull {
                return Err(Error::Register(format!(
                    "line {id} is {}: the kernel emulates open-drain and open-source by \
                     switching the direction, which register writes would bypass; use \
                     push-pull, or the character device",
                    s.drive
                )));
            }
        }
        // Everything is checked and mapped before the kernel is asked for the lines, so a
        // refusal leaves nothing held.
        let (chip, lines) = super::resolve(spec, Some(Uapi::V2))?;
        let (name, label) = (&chip.info().name, &chip.info().label);
        let block = block_of_chip(name, label)?;
        let mut regs = Vec::with_capacity(lines.len());
        for (o, _) in &lines {
            regs.push(block.soc.regs(*o).ok_or_else(|| {
                Error::Register(format!(
                    "line {o} of {name} is past the {} block's {} lines",
                    block.soc,
                    block.soc.lines()
                ))
            })?);
        }
        let mapping = Mapping::open(&block)?;
        let inner: Box<dyn Lines> = Box::new(super::v2::V2Lines::request(&chip, spec, lines)?);
        Ok(Box::new(RegisterLines {
            inner,
            soc: block.soc,
            mapping: Arc::new(mapping),
            regs,
        }))
    }
}

/// Lines held through uAPI v2 whose levels go through the registers.
#[derive(Debug)]
pub struct RegisterLines {
    inner: Box<dyn Lines>,
    soc: Soc,
    mapping: Arc<Mapping>,
    /// Per requested line, in request order.
    regs: Vec<LineRegs>,
}

impl RegisterLines {
    fn index(&self, offset: Offset) -> Result<usize> {
        self.inner
            .lines()
            .iter()
            .position(|(o, _)| *o == offset)
            .ok_or_else(|| Error::NotRequested {
                offset,
                requested: self.inner.lines().iter().map(|(o, _)| *o).collect(),
            })
    }

    /// The index of line `o`, if it is requested and an output.
    fn output_index(&self, o: Offset) -> Result<usize> {
        let i = self.index(o)?;
        if self.inner.lines()[i].1.direction != Direction::Output {
            return Err(Error::Register(format!(
                "line {o} is not an output: the register backend only drives outputs; \
                 reconfigure it as an output first"
            )));
        }
        Ok(i)
    }

    /// The SoC whose registers these are.
    pub fn soc(&self) -> Soc {
        self.soc
    }

    /// What was mapped: `/dev/gpiomem`, or `/dev/mem at ADDRESS`.
    pub fn mapped_from(&self) -> &str {
        &self.mapping.source
    }
}

/// The physical level of logical `value` on a line with `settings`.
fn physical(value: Value, settings: &LineSettings) -> bool {
    value.is_active() != settings.active_low
}

impl Lines for RegisterLines {
    fn backend(&self) -> &str {
        NAME
    }

    fn chip(&self) -> &ChipInfo {
        self.inner.chip()
    }

    fn lines(&self) -> &[(Offset, LineSettings)] {
        self.inner.lines()
    }

    fn get_values(&self, offsets: &[Offset], out: &mut [Value]) -> Result<()> {
        for (o, slot) in offsets.iter().zip(out.iter_mut()) {
            let i = self.index(*o)?;
            let r = self.regs[i];
            let high = self.mapping.read(r.lev)? & r.mask != 0;
            let active = high != self.inner.lines()[i].1.active_low;
            *slot = Value::from(active);
        }
        Ok(())
    }

    fn set_values(&mut self, values: &[(Offset, Value)]) -> Result<()> {
        // One SET and one CLR store per register word: lines of one word change together.
        let mut words = [Word::default(); 4];
        let mut used = 0;
        super::check_every_pair_first(values, |o| self.output_index(o))?;
        for &(o, v) in values {
            let i = self.output_index(o)?;
            let s = &self.inner.lines()[i].1;
            let r = self.regs[i];
            let fresh = Word {
                set: r.set,
                clr: r.clr,
                ..Word::default()
            };
            let k = match words[..used].iter().position(|w| w.set == r.set) {
                Some(k) => k,
                None if used < words.len() => {
                    words[used] = fresh;
                    used += 1;
                    used - 1
                }
                None => {
                    self.flush(&words[..used])?;
                    words[0] = fresh;
                    used = 1;
                    0
                }
            };
            if physical(v, s) {
                words[k].high |= r.mask;
            } else {
                words[k].low |= r.mask;
            }
        }
        self.flush(&words[..used])
    }

    fn reconfigure(&mut self, lines: &[(Offset, LineSettings)]) -> Result<()> {
        if let Some((o, s)) = lines.iter().find(|(_, s)| s.drive != Drive::PushPull) {
            return Err(Error::Register(format!(
                "line {o} cannot become {}: the register backend drives push-pull lines only",
                s.drive
            )));
        }
        self.inner.reconfigure(lines)
    }

    fn wait_edge_events(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.inner.wait_edge_events(timeout)
    }

    fn read_edge_events(&mut self, out: &mut [EdgeEvent]) -> Result<usize> {
        self.inner.read_edge_events(out)
    }

    fn event_fd(&self) -> BorrowedFd<'_> {
        self.inner.event_fd()
    }
}

/// The lines of one register word to drive high and low.
#[derive(Clone, Copy, Debug, Default)]
struct Word {
    set: usize,
    clr: usize,
    high: u32,
    low: u32,
}

impl RegisterLines {
    /// Stores the collected masks: one SET and one CLR store per word at most.
    fn flush(&self, words: &[Word]) -> Result<()> {
        for w in words {
            if w.high != 0 {
                self.mapping.write(w.set, w.high)?;
            }
            if w.low != 0 {
                self.mapping.write(w.clr, w.low)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(compatible: &[u8], label: &str, chip: &str) -> String {
        let t = devtree::tests::tree(compatible, 1, &[0x7e00_0000, 0x3f00_0000, 0x0100_0000]);
        block_of_chip_in(chip, label, t.path())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn chips_that_are_not_a_known_soc_block_are_refused_with_the_reason() {
        let e = refusal(b"brcm,bcm2835-gpio\0", "pinctrl-bcm2711", "gpiochip0");
        assert!(e.contains("is labelled 'pinctrl-bcm2711'"), "{e}");
        assert!(e.contains("BCM2835/2836/2837 GPIO block"), "{e}");
        let e = refusal(b"arm,pl061\0", "pl061", "gpiochip0");
        assert!(e.contains("is a 'arm,pl061' block"), "{e}");
        let e = refusal(b"brcm,bcm2835-gpio\0", "gpio-sim", "gpiochip5");
        assert!(
            e.contains("gpiochip5 ('gpio-sim') has no device-tree node"),
            "{e}"
        );
        let t = devtree::tests::tree(
            b"brcm,bcm2835-gpio\0",
            1,
            &[0x7e00_0000, 0x3f00_0000, 0x0100_0000],
        );
        let b = block_of_chip_in("gpiochip0", "pinctrl-bcm2835", t.path()).unwrap();
        assert_eq!((b.soc, b.phys), (Soc::Bcm2835, Some(0x3f20_0000)));
    }
}
