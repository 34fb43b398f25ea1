//! The kernel's GPIO character-device ABI: uAPI v2 by hand through `nix` ioctls, and v1 through
//! the `gpio-cdev` crate. Nothing above this module touches an ioctl.

// The whole ABI is kept, used or not, so it reads like the header.
#![allow(dead_code)]

pub mod v1;
pub mod v2;
