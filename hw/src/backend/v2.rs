//! Lines held through uAPI v2: one request fd for all lines, each with its own settings.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd};
use std::time::Duration;

use nix::errno::Errno;

use super::{request_error, Uapi};
use crate::chip::{Chip, ChipInfo};
use crate::config::encode_v2;
use crate::error::{Error, Result};
use crate::event::EdgeEvent;
use crate::line::{Lines, RequestSpec};
use crate::settings::{Direction, LineSettings, Offset, Value};
use crate::uapi::v2;
use crate::wait;

/// Lines held by one uAPI v2 request.
#[derive(Debug)]
pub(crate) struct V2Lines {
    file: File,
    chip: ChipInfo,
    lines: Vec<(Offset, LineSettings)>,
    buf: Vec<u8>,
}

impl V2Lines {
    pub(crate) fn request(
        chip: &Chip,
        spec: &RequestSpec,
        lines: Vec<(Offset, LineSettings)>,
    ) -> Result<V2Lines> {
        let mut req = v2::LineRequest {
            consumer: v2::name_buf(&spec.consumer),
            config: encode_v2(&lines).map_err(Error::InvalidConfig)?,
            num_lines: lines.len() as u32,
            event_buffer_size: spec.event_buffer_size.unwrap_or(0),
            ..Default::default()
        };
        for (i, (o, _)) in lines.iter().enumerate() {
            req.offsets[i] = *o;
        }
        let offsets: Vec<Offset> = lines.iter().map(|l| l.0).collect();
        v2::get_line(chip.as_fd(), &mut req)
            .map_err(|e| request_error(chip, &offsets, e, Uapi::V2))?;
        // SAFETY: on success the kernel stored a new fd in `req.fd` that nothing else owns.
        let file = unsafe { File::from_raw_fd(req.fd) };
        Ok(V2Lines {
            file,
            chip: chip.info().clone(),
            lines,
            buf: Vec::new(),
        })
    }

    fn index(&self, offset: Offset) -> Result<usize> {
        super::index_in(&self.lines, offset)
    }

    fn err(&self, e: Errno, action: &str) -> Error {
        if e == Errno::ENOTTY {
            return super::unavailable(Uapi::V2, &self.chip.name);
        }
        Error::from_errno(
            e,
            &self.chip.name,
            format!("{action} on {}", self.chip.name),
        )
    }

    fn alive(&self) -> Result<()> {
        let mut vals = v2::LineValues { bits: 0, mask: 1 };
        v2::get_values(self.file.as_fd(), &mut vals)
            .map_err(|e| self.err(e, "checking the request"))
    }
}

impl Lines for V2Lines {
    fn backend(&self) -> &str {
        "cdev-v2"
    }

    fn chip(&self) -> &ChipInfo {
        &self.chip
    }

    fn lines(&self) -> &[(Offset, LineSettings)] {
        &self.lines
    }

    fn get_values(&self, offsets: &[Offset], out: &mut [Value]) -> Result<()> {
        let mut vals = v2::LineValues::default();
        for &o in offsets {
            vals.mask |= 1u64 << self.index(o)?;
        }
        v2::get_values(self.file.as_fd(), &mut vals)
            .map_err(|e| self.err(e, "reading line values"))?;
        for (slot, &o) in out.iter_mut().zip(offsets) {
            *slot = Value::from(vals.bits & (1u64 << self.index(o)?) != 0);
        }
        Ok(())
    }

    fn set_values(&mut self, values: &[(Offset, Value)]) -> Result<()> {
        let mut vals = v2::LineValues::default();
        for &(o, v) in values {
            let i = self.index(o)?;
            if self.lines[i].1.direction == Direction::Input {
                return Err(Error::InvalidConfig(format!(
                    "line {o} is an input; reconfigure it as an output before setting its value"
                )));
            }
            // Later pairs for the same line win, as they do in the kernel's mask.
            vals.mask |= 1 << i;
            vals.bits = vals.bits & !(1 << i) | u64::from(v.is_active()) << i;
        }
        v2::set_values(self.file.as_fd(), &mut vals).map_err(|e| match e {
            // The kernel answers EPERM for lines that are not outputs (e.g. requested as-is).
            Errno::EPERM => Error::InvalidConfig(format!(
                "lines {:?} are not all outputs; reconfigure them as outputs before setting values",
                values.iter().map(|v| v.0).collect::<Vec<_>>()
            )),
            e => self.err(e, "setting line values"),
        })?;
        // What was driven, from the mask: no second search for the offsets.
        let mut rest = vals.mask;
        while rest != 0 {
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            self.lines[i].1.output_value = Value::from(vals.bits >> i & 1 != 0);
        }
        Ok(())
    }

    fn reconfigure(&mut self, lines: &[(Offset, LineSettings)]) -> Result<()> {
        super::same_lines(&self.lines, lines)?;
        let mut cfg = encode_v2(lines).map_err(Error::InvalidConfig)?;
        v2::set_config(self.file.as_fd(), &mut cfg).map_err(|e| match e {
            Errno::EINVAL => Error::InvalidConfig(format!(
                "the kernel rejected the new settings for lines {:?} on {} (EINVAL)",
                lines.iter().map(|l| l.0).collect::<Vec<_>>(),
                self.chip.describe()
            )),
            e => self.err(e, "reconfiguring lines"),
        })?;
        self.lines = lines.to_vec();
        Ok(())
    }

    fn wait_edge_events(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let this = &*self;
        wait::readable(
            this.file.as_fd(),
            timeout,
            || this.alive(),
            |e| this.err(e, "waiting for edge events"),
        )
    }

    fn read_edge_events(&mut self, out: &mut [EdgeEvent]) -> Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let want = out.len().min(v2::LINES_MAX * 16) * v2::LineEvent::SIZE;
        self.buf.resize(want, 0);
        let n = loop {
            self.wait_edge_events(None)?;
            match (&self.file).read(&mut self.buf) {
                Ok(0) => {
                    return Err(Error::ChipGone {
                        chip: self.chip.name.clone(),
                    })
                }
                Ok(n) => break n,
                // Another reader (or a non-blocking fd) got there first; wait again.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => {
                    return Err(Error::from_io(
                        e,
                        &self.chip.name,
                        format!("reading edge events from {}", self.chip.name),
                    ))
                }
            }
        };
        let mut count = 0;
        for (slot, rec) in out
            .iter_mut()
            .zip(self.buf[..n].chunks_exact(v2::LineEvent::SIZE))
        {
            if let Some(raw) = v2::LineEvent::from_bytes(rec) {
                *slot = EdgeEvent::from_v2(&raw);
                count += 1;
            }
        }
        Ok(count)
    }

    fn event_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
