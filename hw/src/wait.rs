//! Waiting for a fd to become readable, with an optional timeout, robust to signals and to the
//! device going away.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::error::Result;

/// Longest single sleep of an unbounded wait. Kernels before 6.2 do not wake a poller when the
/// chip is removed, so an unbounded wait wakes this often to check the device is still there.
const LIVENESS_SLICE: Duration = Duration::from_millis(500);

/// Waits until `fd` is readable (or reports an error or hang-up, which the following read
/// turns into an error). `None` waits forever, calling `alive` between slices; `alive` returns
/// an error once the device is gone, which ends the wait. A bounded wait that times out calls
/// `alive` too: on a kernel that does not wake pollers of a removed chip, a loop of bounded
/// waits would otherwise report "nothing yet" for ever.
pub(crate) fn readable(
    fd: BorrowedFd<'_>,
    timeout: Option<Duration>,
    mut alive: impl FnMut() -> Result<()>,
    on_err: impl Fn(Errno) -> crate::Error,
) -> Result<bool> {
    // A timeout too large to represent is no timeout.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let slice = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => LIVENESS_SLICE,
        };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, to_poll_timeout(slice)) {
            Ok(0) => {}
            // A removed chip's fd polls as hung up or in error, for ever: say so instead of
            // "ready", or a loop of bounded waits would spin without reading anything.
            Ok(_)
                if !fds[0]
                    .revents()
                    .is_some_and(|r| r.contains(PollFlags::POLLIN)) =>
            {
                alive()?;
                return Ok(true);
            }
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(on_err(e)),
        }
        match deadline {
            Some(d) if Instant::now() >= d => return alive().map(|()| false),
            Some(_) => {}
            None => alive()?,
        }
    }
}

/// Whether an epoll set that [`readable`] found ready holds a hung-up fd: a removed chip's
/// per-line fds (uAPI v1's line event handles, libgpiod 1.x's) poll as EPOLLHUP | EPOLLERR on
/// 6.12, which makes the epoll fd readable for ever. For waits that read nothing afterwards;
/// a reader checks the events it fetches anyway with [`hung_up_in`].
pub(crate) fn hung_up(
    epoll: &nix::sys::epoll::Epoll,
    alive: impl FnMut() -> Result<()>,
    chip: &str,
) -> Result<()> {
    use nix::sys::epoll::{EpollEvent, EpollTimeout};
    // Every line of a removed chip hangs up at once: a few ready fds tell.
    let mut ready = [EpollEvent::empty(); 8];
    let n = loop {
        match epoll.wait(&mut ready, EpollTimeout::ZERO) {
            Err(Errno::EINTR) => continue,
            other => {
                break other
                    .map_err(|e| crate::Error::from_errno(e, chip, "waiting for edge events"))?
            }
        }
    };
    hung_up_in(&ready[..n], alive, chip)
}

/// [`hung_up`] over events already fetched: a hang-up means the chip is gone, and `alive`
/// names the failure where the kernel still answers.
pub(crate) fn hung_up_in(
    events: &[nix::sys::epoll::EpollEvent],
    mut alive: impl FnMut() -> Result<()>,
    chip: &str,
) -> Result<()> {
    // EPOLLHUP alone: sysfs value fds report EPOLLERR | EPOLLPRI on every change (that is how
    // sysfs_notify wakes a poller), and share this path through `EventFds`.
    if events
        .iter()
        .any(|r| r.events().contains(nix::sys::epoll::EpollFlags::EPOLLHUP))
    {
        alive()?;
        return Err(crate::Error::ChipGone {
            chip: chip.to_owned(),
        });
    }
    Ok(())
}

/// Milliseconds, rounded up so a short non-zero timeout still sleeps.
fn to_poll_timeout(d: Duration) -> PollTimeout {
    let ms = d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn timeout_rounds_up() {
        assert_eq!(i32::from(to_poll_timeout(Duration::from_micros(1))), 1);
        assert_eq!(i32::from(to_poll_timeout(Duration::ZERO)), 0);
        assert_eq!(
            i32::from(to_poll_timeout(Duration::from_secs(u64::MAX))),
            i32::MAX
        );
    }

    #[test]
    fn waits_for_data_and_times_out() {
        let (r, w) = std::io::pipe().unwrap();
        let never = |e| crate::Error::InvalidConfig(format!("{e}"));
        assert!(!readable(r.as_fd(), Some(Duration::from_millis(5)), || Ok(()), never).unwrap());
        (&w).write_all(b"x").unwrap();
        assert!(readable(r.as_fd(), None, || Ok(()), never).unwrap());
    }

    #[test]
    fn a_huge_timeout_does_not_overflow() {
        let (r, w) = std::io::pipe().unwrap();
        (&w).write_all(b"x").unwrap();
        let never = |e| crate::Error::InvalidConfig(format!("{e}"));
        assert!(readable(r.as_fd(), Some(Duration::MAX), || Ok(()), never).unwrap());
    }

    #[test]
    fn a_bounded_wait_that_times_out_reports_a_device_gone() {
        let (r, _w) = std::io::pipe().unwrap();
        let gone = || {
            Err(crate::Error::ChipGone {
                chip: "gpiochip9".into(),
            })
        };
        let e = readable(r.as_fd(), Some(Duration::from_millis(1)), gone, |e| {
            crate::Error::InvalidConfig(format!("{e}"))
        });
        assert!(matches!(e, Err(crate::Error::ChipGone { .. })), "{e:?}");
    }

    #[test]
    fn unbounded_wait_ends_when_the_device_is_gone() {
        let (r, _w) = std::io::pipe().unwrap();
        let gone = || {
            Err(crate::Error::ChipGone {
                chip: "gpiochip9".into(),
            })
        };
        let e = readable(r.as_fd(), None, gone, |e| {
            crate::Error::InvalidConfig(format!("{e}"))
        });
        assert!(matches!(e, Err(crate::Error::ChipGone { .. })));
    }

    #[test]
    fn a_hang_up_is_a_removed_chip_and_sysfs_notifications_are_not() {
        use nix::sys::epoll::{EpollEvent, EpollFlags};
        let hup = [EpollEvent::new(
            EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR,
            0,
        )];
        let e = hung_up_in(&hup, || Ok(()), "gpiochip9").unwrap_err();
        assert!(
            matches!(&e, crate::Error::ChipGone { chip } if chip == "gpiochip9"),
            "{e:?}"
        );
        // What the chip's own ioctl says wins where the kernel still answers.
        let e = hung_up_in(&hup, || Err(crate::Error::InvalidConfig("x".into())), "c").unwrap_err();
        assert!(matches!(e, crate::Error::InvalidConfig(_)), "{e:?}");
        // sysfs_notify's EPOLLERR | EPOLLPRI and plain input are not hang-ups.
        let live = [
            EpollEvent::new(EpollFlags::EPOLLERR | EpollFlags::EPOLLPRI, 0),
            EpollEvent::new(EpollFlags::EPOLLIN, 1),
        ];
        assert!(hung_up_in(&live, || panic!("not asked"), "c").is_ok());
    }
}
