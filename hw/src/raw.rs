//! The bare uAPI v2 value ioctl, with no request object around it: the floor that
//! `hwkit bench` and the benchmarks measure every backend against.

use std::os::fd::BorrowedFd;

use crate::uapi::v2;

/// `GPIO_V2_LINE_SET_VALUES_IOCTL` on a line request fd (what [`crate::Request`] implements
/// `AsFd` with on uAPI v2): drives the request's lines whose bits are set in `mask` (bit i is
/// the request's i-th line) to the levels in `bits`. Nothing is checked: the kernel answers.
pub fn set_line_values(request: BorrowedFd<'_>, bits: u64, mask: u64) -> nix::Result<()> {
    v2::set_values(request, &mut v2::LineValues { bits, mask })
}
