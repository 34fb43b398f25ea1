//! embedded-hal 1.0 digital traits on [`SysfsLine`], so drivers written against embedded-hal run
//! on sysfs lines unchanged.

use embedded_hal::digital::{self, ErrorKind, ErrorType, InputPin, OutputPin, StatefulOutputPin};

use crate::error::Error;
use crate::line::SysfsLine;

impl digital::Error for Error {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

impl ErrorType for SysfsLine {
    type Error = Error;
}

impl InputPin for SysfsLine {
    fn is_high(&mut self) -> Result<bool, Error> {
        self.get_value()
    }

    fn is_low(&mut self) -> Result<bool, Error> {
        self.get_value().map(|v| !v)
    }
}

impl OutputPin for SysfsLine {
    fn set_low(&mut self) -> Result<(), Error> {
        self.set_value(false)
    }

    fn set_high(&mut self) -> Result<(), Error> {
        self.set_value(true)
    }
}

impl StatefulOutputPin for SysfsLine {
    /// Reads back `value`, which for an output is the level being driven.
    fn is_set_high(&mut self) -> Result<bool, Error> {
        self.get_value()
    }

    fn is_set_low(&mut self) -> Result<bool, Error> {
        self.get_value().map(|v| !v)
    }
}
