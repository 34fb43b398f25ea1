//! `hw`: GPIO lines on Linux through the kernel's character device.
//!
//! The object model is libgpiod v2's: a [`Chip`] reports [`ChipInfo`] and [`LineInfo`];
//! [`LineSettings`] per line, grouped in a [`LineConfig`], make a [`Request`] that holds the
//! lines until it is dropped, reads and drives their values and delivers [`EdgeEvent`]s.
//!
//! * uAPI v2 (kernel 5.10+) is spoken through `nix` ioctls on `linux/gpio.h`'s structures; uAPI v1 through the
//!   `gpio-cdev` crate. The version is detected per chip, or forced with
//!   [`RequestBuilder::with_uapi`]. What v1 cannot do is a clear [`Error::UnsupportedByV1`].
//! * Every backend implements the object-safe traits of [`mod@line`], so user code written against
//!   [`Request`] and [`Line`] runs unchanged on backends added later.
//! * [`Line`] implements embedded-hal 1.0's digital traits; with the `tokio` feature,
//!   [`AsyncLine`] adds `embedded_hal_async::digital::Wait` and [`EdgeEventStream`].
//! * With the `managed` feature, `managed` is a client of the GPIO daemon (hwkitd, or
//!   libgpiod's gpio-manager, over D-Bus's `io.gpiod1`) for programs that leave their lines
//!   to it: they stay held, and outputs driven, after the program exits.
//!
//! ```no_run
//! use std::time::Duration;
//! use hw::{Edge, Request, Value};
//!
//! // Two LEDs by name, wherever they are, and a button by offset on a labelled chip.
//! let mut leds = Request::builder()
//!     .consumer("my-daemon")
//!     .with_named_lines(["GPIO17", "GPIO27"])
//!     .as_output(Value::Inactive)
//!     .request()?;
//! let mut button = Request::builder()
//!     .on_chip_labelled("pinctrl-bcm2711")
//!     .with_line(22)
//!     .with_edge_detection(Edge::Both)
//!     .with_debounce(Duration::from_millis(5))
//!     .request()?;
//! while let Some(ev) = button.read_edge_event_timeout(Duration::from_secs(10))? {
//!     let led = leds.offset_of("GPIO17").unwrap();
//!     leds.set_value(led, (ev.kind == hw::EdgeKind::Rising).into())?;
//! }
//! # Ok::<(), hw::Error>(())
//! ```

#![warn(missing_docs)]

pub mod backend;
pub mod chip;
pub mod config;
pub mod error;
pub mod event;
pub mod hal;
pub mod line;
pub mod line_info;
#[cfg(feature = "managed")]
pub mod managed;
pub mod raw;
pub mod request;
pub mod settings;
mod uapi;
mod wait;

#[cfg(feature = "tokio")]
pub mod async_tokio;

pub use backend::{detect_uapi, CdevBackend, Uapi};
pub use backend::{
    libgpiod::{LibgpiodBackend, LibgpiodVersion},
    sysfs::SysfsBackend,
};
pub use chip::{chip_paths, chips, find_line, Chip, ChipInfo, FoundLine};
pub use config::{LineConfig, LineId};
pub use error::{Error, Result};
pub use event::{EdgeEvent, EdgeKind, SeqnoTracker};
pub use line_info::{InfoChangeEvent, InfoChangeKind, LineInfo};
pub use request::{Line, Request, RequestBuilder};
pub use settings::{Bias, Direction, Drive, Edge, EventClock, LineSettings, Offset, Value};

#[cfg(feature = "tokio")]
pub use async_tokio::{AsyncLine, EdgeEventStream};
