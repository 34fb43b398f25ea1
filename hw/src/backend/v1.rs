//! Lines held through uAPI v1, by way of `gpio-cdev`.
//!
//! v1 gives one flag set per handle and one fd per line with edge detection, so a request is
//! several kernel objects: one line handle per distinct flag set, one event handle per edge
//! line, and an epoll fd over the event handles that stands in for v2's single request fd.
//! v1 events carry no sequence numbers; they are numbered here as they are read, so a v1
//! request cannot show events the kernel dropped on overflow.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use super::{cdev_errno, request_error, Uapi};
use crate::chip::{Chip, ChipInfo};
use crate::error::{Error, Result};
use crate::event::EdgeEvent;
use crate::line::{Lines, RequestSpec};
use crate::settings::{Bias, Direction, Drive, Edge, EventClock, LineSettings, Offset, Value};
use crate::uapi::v1::{self, EventRequestFlags, LineRequestFlags};
use crate::wait;

/// Lines requested together through one v1 line handle (same flags).
#[derive(Debug)]
struct Group {
    offsets: Vec<Offset>,
    flags: u32,
    values: Vec<u8>,
    handle: v1::MultiLineHandle,
}

/// One edge-detecting line with its own v1 event handle.
#[derive(Debug)]
struct EventLine {
    offset: Offset,
    handle: v1::LineEventHandle,
    line_seqno: u32,
}

/// Lines held through uAPI v1.
#[derive(Debug)]
pub(crate) struct V1Lines {
    chip: ChipInfo,
    lines: Vec<(Offset, LineSettings)>,
    groups: Vec<Group>,
    events: Vec<EventLine>,
    epoll: Epoll,
    seqno: u32,
}

fn unsupported(what: &str) -> Error {
    Error::UnsupportedByV1 { what: what.into() }
}

/// What v1 cannot express at all.
fn check_v1(s: &LineSettings) -> Result<()> {
    if s.bias == Bias::Disabled {
        return Err(unsupported("bias disabled"));
    }
    if s.debounce_us() != 0 {
        return Err(unsupported("debounce"));
    }
    if s.edge != Edge::None && s.event_clock != EventClock::Monotonic {
        return Err(unsupported(&format!("event clock {}", s.event_clock)));
    }
    Ok(())
}

/// `GPIOHANDLE_REQUEST_*` flags for the settings.
fn handle_flags(s: &LineSettings) -> u32 {
    let mut f = match s.direction {
        Direction::AsIs => 0,
        Direction::Input => LineRequestFlags::INPUT.bits(),
        Direction::Output => LineRequestFlags::OUTPUT.bits(),
    };
    if s.active_low {
        f |= LineRequestFlags::ACTIVE_LOW.bits();
    }
    match s.drive {
        Drive::PushPull => {}
        Drive::OpenDrain => f |= LineRequestFlags::OPEN_DRAIN.bits(),
        Drive::OpenSource => f |= LineRequestFlags::OPEN_SOURCE.bits(),
    }
    match s.bias {
        Bias::PullUp => f |= v1::request_flag::BIAS_PULL_UP,
        Bias::PullDown => f |= v1::request_flag::BIAS_PULL_DOWN,
        Bias::AsIs | Bias::Disabled => {}
    }
    f
}

fn event_flags(e: Edge) -> EventRequestFlags {
    match e {
        Edge::Rising => EventRequestFlags::RISING_EDGE,
        Edge::Falling => EventRequestFlags::FALLING_EDGE,
        _ => EventRequestFlags::BOTH_EDGES,
    }
}

impl V1Lines {
    pub(crate) fn request(
        chip: &Chip,
        spec: &RequestSpec,
        lines: Vec<(Offset, LineSettings)>,
    ) -> Result<V1Lines> {
        for (_, s) in &lines {
            check_v1(s)?;
        }
        if spec.event_buffer_size.is_some() {
            return Err(unsupported("setting the event buffer size"));
        }
        let offsets: Vec<Offset> = lines.iter().map(|l| l.0).collect();
        let fail = |e: gpio_cdev::Error, what: &str| match cdev_errno(&e) {
            Some(errno) => request_error(chip, &offsets, errno, Uapi::V1),
            None => Error::Io {
                action: format!("{what} on {}", chip.info().name),
                source: io::Error::other(e.to_string()),
            },
        };
        // gpio-cdev opens the chip again by path; ours is open, so a missing node means the
        // chip was removed in between.
        let mut cdev = v1::CdevChip::new(chip.path()).map_err(|e| match cdev_errno(&e) {
            Some(Errno::ENOENT) => Error::ChipGone {
                chip: chip.info().name.clone(),
            },
            _ => fail(e, "opening the chip"),
        })?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
            .map_err(|e| Error::from_errno(e, &chip.info().name, "creating an epoll fd"))?;

        let mut groups: Vec<(u32, Vec<Offset>, Vec<u8>)> = Vec::new();
        let mut events = Vec::new();
        for (o, s) in &lines {
            if s.edge != Edge::None {
                let line = cdev.get_line(*o).map_err(|e| fail(e, "finding the line"))?;
                let handle = line
                    .events(
                        LineRequestFlags::from_bits_retain(handle_flags(s)),
                        event_flags(s.edge),
                        &spec.consumer,
                    )
                    .map_err(|e| fail(e, "requesting edge events"))?;
                epoll
                    .add(
                        handle.as_fd(),
                        EpollEvent::new(EpollFlags::EPOLLIN, events.len() as u64),
                    )
                    .map_err(|e| Error::from_errno(e, &chip.info().name, "watching an event fd"))?;
                events.push(EventLine {
                    offset: *o,
                    handle,
                    line_seqno: 0,
                });
                continue;
            }
            let f = handle_flags(s);
            let v = u8::from(s.output_value);
            match groups.iter_mut().find(|g| g.0 == f) {
                Some(g) => {
                    g.1.push(*o);
                    g.2.push(v);
                }
                None => groups.push((f, vec![*o], vec![v])),
            }
        }
        let mut held = Vec::new();
        for (flags, offs, values) in groups {
            let handle = cdev
                .get_lines(&offs)
                .and_then(|l| {
                    l.request(
                        LineRequestFlags::from_bits_retain(flags),
                        &values,
                        &spec.consumer,
                    )
                })
                .map_err(|e| fail(e, "requesting lines"))?;
            held.push(Group {
                offsets: offs,
                flags,
                values,
                handle,
            });
        }
        Ok(V1Lines {
            chip: chip.info().clone(),
            lines,
            groups: held,
            events,
            epoll,
            seqno: 0,
        })
    }

    /// The group holding `offset` and its index there.
    fn find(&self, offset: Offset) -> Option<(&Group, usize)> {
        self.groups
            .iter()
            .find_map(|g| g.offsets.iter().position(|&o| o == offset).map(|i| (g, i)))
    }

    fn err(&self, e: Errno, action: &str) -> Error {
        if e == Errno::ENOTTY {
            return super::unavailable(Uapi::V1, &self.chip.name);
        }
        Error::from_errno(
            e,
            &self.chip.name,
            format!("{action} on {}", self.chip.name),
        )
    }

    fn cdev_err(&self, e: gpio_cdev::Error, action: &str) -> Error {
        match cdev_errno(&e) {
            Some(errno) => self.err(errno, action),
            None => Error::Io {
                action: format!("{action} on {}", self.chip.name),
                source: io::Error::other(e.to_string()),
            },
        }
    }

    /// Waits until the epoll set over the event handles is readable ([`wait::readable`]).
    fn readable(&self, timeout: Option<Duration>) -> Result<bool> {
        wait::readable(
            self.epoll.0.as_fd(),
            timeout,
            || self.alive(),
            |e| self.err(e, "waiting for edge events"),
        )
    }

    fn alive(&self) -> Result<()> {
        if let Some(g) = self.groups.first() {
            g.handle
                .get_values()
                .map(drop)
                .map_err(|e| self.cdev_err(e, "checking the request"))
        } else if let Some(ev) = self.events.first() {
            ev.handle
                .get_value()
                .map(drop)
                .map_err(|e| self.cdev_err(e, "checking the request"))
        } else {
            Ok(())
        }
    }

    fn get_one(&self, offset: Offset) -> Result<Value> {
        if let Some(ev) = self.events.iter().find(|e| e.offset == offset) {
            let v = ev
                .handle
                .get_value()
                .map_err(|e| self.cdev_err(e, "reading line values"))?;
            return Ok(Value::from(v != 0));
        }
        let Some((g, i)) = self.find(offset) else {
            return Err(Error::NotRequested {
                offset,
                requested: self.lines.iter().map(|l| l.0).collect(),
            });
        };
        let vals = g
            .handle
            .get_values()
            .map_err(|e| self.cdev_err(e, "reading line values"))?;
        Ok(Value::from(vals.get(i).copied().unwrap_or(0) != 0))
    }

    /// The group (handle) of line `o`, if it is requested and an output.
    fn output_group(&self, o: Offset) -> Result<usize> {
        let Some(gi) = self.groups.iter().position(|g| g.offsets.contains(&o)) else {
            if self.events.iter().any(|e| e.offset == o) {
                return Err(Error::InvalidConfig(format!(
                    "line {o} is an input with edge detection; it cannot be set"
                )));
            }
            return Err(Error::NotRequested {
                offset: o,
                requested: self.lines.iter().map(|l| l.0).collect(),
            });
        };
        if self.groups[gi].flags & LineRequestFlags::OUTPUT.bits() == 0 {
            return Err(super::not_an_output(o));
        }
        Ok(gi)
    }
}

impl Lines for V1Lines {
    fn backend(&self) -> &str {
        "cdev-v1"
    }

    fn chip(&self) -> &ChipInfo {
        &self.chip
    }

    fn lines(&self) -> &[(Offset, LineSettings)] {
        &self.lines
    }

    fn get_values(&self, offsets: &[Offset], out: &mut [Value]) -> Result<()> {
        for (slot, &o) in out.iter_mut().zip(offsets) {
            *slot = self.get_one(o)?;
        }
        Ok(())
    }

    fn set_values(&mut self, values: &[(Offset, Value)]) -> Result<()> {
        // Before any group's cached values change.
        super::check_every_pair_first(values, |o| self.output_group(o))?;
        // Groups are at most 64 (one per line): a bit each.
        let mut touched = 0u64;
        for &(o, v) in values {
            let gi = self.output_group(o)?;
            let g = &mut self.groups[gi];
            if let Some(i) = g.offsets.iter().position(|&x| x == o) {
                g.values[i] = u8::from(v);
            }
            touched |= 1 << gi;
        }
        // v1 sets every line of a handle at once: resend the group's cached values.
        for (gi, g) in self
            .groups
            .iter()
            .enumerate()
            .filter(|(i, _)| touched & (1 << i) != 0)
        {
            g.handle
                .set_values(&g.values)
                .map_err(|e| match cdev_errno(&e) {
                    Some(errno) => Error::from_errno(
                        errno,
                        &self.chip.name,
                        format!("setting line values on {}", self.chip.name),
                    ),
                    None => Error::Io {
                        action: format!("setting group {gi}"),
                        source: io::Error::other(e.to_string()),
                    },
                })?;
        }
        for &(o, v) in values {
            if let Some(l) = self.lines.iter_mut().find(|l| l.0 == o) {
                l.1.output_value = v;
            }
        }
        Ok(())
    }

    fn reconfigure(&mut self, lines: &[(Offset, LineSettings)]) -> Result<()> {
        super::same_lines(&self.lines, lines)?;
        for ((o, new), (_, old)) in lines.iter().zip(&self.lines) {
            check_v1(new)?;
            if new.edge != old.edge {
                return Err(unsupported("reconfiguring edge detection"));
            }
            if new.edge != Edge::None && new != old {
                return Err(unsupported(&format!(
                    "reconfiguring line {o}, which has edge detection"
                )));
            }
        }
        // Every line of a v1 handle shares one flag set.
        let mut configs = Vec::new();
        for g in &self.groups {
            // `same_lines` checked that every offset of the request is in `lines`.
            let settings: Vec<&LineSettings> = lines
                .iter()
                .filter(|l| g.offsets.contains(&l.0))
                .map(|l| &l.1)
                .collect();
            let flags = handle_flags(settings[0]);
            if settings.iter().any(|s| handle_flags(s) != flags) {
                return Err(unsupported(&format!(
                    "giving lines {:?}, requested with equal settings, different settings",
                    g.offsets
                )));
            }
            let mut cfg = v1::HandleConfig {
                flags,
                default_values: [0; v1::HANDLES_MAX],
                padding: [0; 4],
            };
            for (i, s) in settings.iter().enumerate() {
                cfg.default_values[i] = u8::from(s.output_value);
            }
            configs.push(cfg);
        }
        for (g, cfg) in self.groups.iter_mut().zip(configs.iter_mut()) {
            v1::set_config(g.handle_fd(), cfg).map_err(|e| match e {
                Errno::ENOTTY | Errno::EINVAL if cfg.flags == g.flags => {
                    Error::InvalidConfig(format!(
                        "the kernel rejected the new settings for lines {:?}",
                        g.offsets
                    ))
                }
                Errno::ENOTTY => Error::Unsupported {
                    backend: "cdev-v1".into(),
                    what: "reconfiguring lines on kernels before 5.5".into(),
                },
                e => Error::from_errno(e, "", format!("reconfiguring lines {:?}", g.offsets)),
            })?;
            g.flags = cfg.flags;
            g.values
                .copy_from_slice(&cfg.default_values[..g.offsets.len()]);
        }
        self.lines = lines.to_vec();
        Ok(())
    }

    fn wait_edge_events(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let ready = self.readable(timeout)?;
        if ready {
            wait::hung_up(&self.epoll, || self.alive(), &self.chip.name)?;
        }
        Ok(ready)
    }

    fn read_edge_events(&mut self, out: &mut [EdgeEvent]) -> Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        // `readable`, not `wait_edge_events`: the events fetched below show a hang-up without
        // a second epoll_wait per read.
        self.readable(None)?;
        let mut ready = vec![EpollEvent::empty(); self.events.len().max(1)];
        let mut count = 0;
        while count < out.len() {
            let n = self
                .epoll
                .wait(&mut ready, EpollTimeout::ZERO)
                .map_err(|e| self.err(e, "waiting for edge events"))?;
            if n == 0 {
                if count > 0 {
                    break;
                }
                self.readable(None)?;
                continue;
            }
            wait::hung_up_in(&ready[..n], || self.alive(), &self.chip.name)?;
            for r in &ready[..n] {
                if count == out.len() {
                    break;
                }
                let idx = r.data() as usize;
                let mut rec = [0u8; v1::EventData::SIZE];
                let ev = &mut self.events[idx];
                let got = match ev.handle.file().read(&mut rec) {
                    Ok(0) => {
                        return Err(Error::ChipGone {
                            chip: self.chip.name.clone(),
                        })
                    }
                    Ok(got) => got,
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
                };
                let Some(raw) = v1::EventData::from_bytes(&rec[..got]) else {
                    continue;
                };
                self.seqno = self.seqno.wrapping_add(1);
                ev.line_seqno = ev.line_seqno.wrapping_add(1);
                out[count] = EdgeEvent::from_v1(&raw, ev.offset, self.seqno, ev.line_seqno);
                count += 1;
            }
        }
        Ok(count)
    }

    fn event_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }
}

impl Group {
    fn handle_fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsRawFd;
        // SAFETY: the raw fd belongs to `self.handle`, which outlives the returned borrow.
        unsafe { BorrowedFd::borrow_raw(self.handle.as_raw_fd()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_refuses_what_it_cannot_do() {
        let e = check_v1(&LineSettings {
            bias: Bias::Disabled,
            ..LineSettings::input()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bias disabled is not supported by GPIO uAPI v1; use uAPI v2 (kernel 5.10+)"
        );
        let e = check_v1(&LineSettings {
            debounce: Some(Duration::from_millis(1)),
            ..LineSettings::input()
        });
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("debounce is not supported by GPIO uAPI v1"));
        let e = check_v1(&LineSettings {
            edge: Edge::Both,
            event_clock: EventClock::Realtime,
            ..LineSettings::input()
        });
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("event clock realtime is not supported"));
        assert!(check_v1(&LineSettings {
            bias: Bias::PullUp,
            ..LineSettings::input()
        })
        .is_ok());
    }

    #[test]
    fn v1_flags_match_the_header() {
        let s = LineSettings {
            active_low: true,
            bias: Bias::PullDown,
            ..LineSettings::input()
        };
        assert_eq!(handle_flags(&s), 1 | 4 | (1 << 6));
        let o = LineSettings {
            drive: Drive::OpenDrain,
            ..LineSettings::output(Value::Active)
        };
        assert_eq!(handle_flags(&o), 2 | 8);
        assert_eq!(event_flags(Edge::Both).bits(), 3);
    }
}
