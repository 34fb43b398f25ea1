//! embedded-hal 1.0 digital traits on a single-line [`Line`].
//!
//! embedded-hal speaks of physical levels: `is_high` is the level on the pin. A line requested
//! active-low has inverted logical values, so the level is the logical value inverted back.
//!
//! ```no_run
//! use embedded_hal::digital::{InputPin, OutputPin, StatefulOutputPin};
//! use hw::{Request, Value};
//!
//! let mut led = Request::builder().on_chip("/dev/gpiochip0").with_line(17)
//!     .as_output(Value::Inactive).request_line()?;
//! led.set_high()?;
//! assert!(led.is_set_high()?);
//! let mut button = Request::builder().on_chip("/dev/gpiochip0").with_line(22)
//!     .as_input().request_line()?;
//! let pressed = button.is_low()?;
//! # Ok::<(), hw::Error>(())
//! ```

use embedded_hal::digital::{ErrorType, InputPin, OutputPin, PinState, StatefulOutputPin};

use crate::error::Error;
use crate::request::Line;
use crate::settings::Value;

impl Line {
    /// The physical level: `true` for high.
    pub fn level(&self) -> crate::Result<bool> {
        Ok(self.get()?.is_active() != self.line_settings().active_low)
    }

    /// Drives a physical level.
    pub fn set_level(&mut self, high: bool) -> crate::Result<()> {
        let active_low = self.line_settings().active_low;
        self.set(Value::from(high != active_low))
    }
}

impl ErrorType for Line {
    type Error = Error;
}

impl InputPin for Line {
    fn is_high(&mut self) -> Result<bool, Error> {
        self.level()
    }

    fn is_low(&mut self) -> Result<bool, Error> {
        self.level().map(|h| !h)
    }
}

impl OutputPin for Line {
    fn set_low(&mut self) -> Result<(), Error> {
        self.set_level(false)
    }

    fn set_high(&mut self) -> Result<(), Error> {
        self.set_level(true)
    }

    fn set_state(&mut self, state: PinState) -> Result<(), Error> {
        self.set_level(state == PinState::High)
    }
}

impl StatefulOutputPin for Line {
    /// Reads back what the kernel reports the output drives.
    fn is_set_high(&mut self) -> Result<bool, Error> {
        self.level()
    }

    fn is_set_low(&mut self) -> Result<bool, Error> {
        self.level().map(|h| !h)
    }
}
