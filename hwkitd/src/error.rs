//! The D-Bus errors the daemon answers with.
//!
//! The names are gpio-manager's, so clients written for it tell the cases apart the same way:
//! `org.freedesktop.DBus.Error.InvalidArgs` for a configuration that cannot be read, and
//! `io.gpiod1.{Request,Reconfigure,GetValues,SetValues}Failed` when the kernel (or hw) refused.
//! Every message names what is wrong and what would be right.

use std::fmt;

use zbus::message::{Header, Message};
use zbus::names::ErrorName;

/// A D-Bus error reply: a well-known error name and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    name: &'static str,
    message: String,
}

/// `org.freedesktop.DBus.Error.InvalidArgs`.
pub const INVALID_ARGS: &str = "org.freedesktop.DBus.Error.InvalidArgs";
/// `RequestLines` was refused.
pub const REQUEST_FAILED: &str = "io.gpiod1.RequestFailed";
/// `ReconfigureLines` was refused.
pub const RECONFIGURE_FAILED: &str = "io.gpiod1.ReconfigureFailed";
/// `GetValues` was refused.
pub const GET_VALUES_FAILED: &str = "io.gpiod1.GetValuesFailed";
/// `SetValues` was refused.
pub const SET_VALUES_FAILED: &str = "io.gpiod1.SetValuesFailed";
/// A caller acting on a request of another user (see `caller::may_act`).
pub const ACCESS_DENIED: &str = "org.freedesktop.DBus.Error.AccessDenied";
/// Anything else (the bus itself failed).
pub const FAILED: &str = "org.freedesktop.DBus.Error.Failed";

impl Failure {
    /// An error named `name` saying `message`.
    pub fn new(name: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            name,
            message: message.into(),
        }
    }

    /// A malformed or contradictory argument.
    pub fn invalid_args(message: impl Into<String>) -> Failure {
        Failure::new(INVALID_ARGS, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for Failure {}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Failure {
        Failure::new(FAILED, e.to_string())
    }
}

impl zbus::DBusError for Failure {
    fn create_reply(&self, call: &Header<'_>) -> zbus::Result<Message> {
        Message::error(call, self.name)?.build(&(self.message.as_str(),))
    }

    fn name(&self) -> ErrorName<'_> {
        ErrorName::from_static_str_unchecked(self.name)
    }

    fn description(&self) -> Option<&str> {
        Some(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::DBusError;

    #[test]
    fn errors_carry_their_name_and_message() {
        let f = Failure::invalid_args("offset 3 appears twice");
        assert_eq!(DBusError::name(&f).as_str(), INVALID_ARGS);
        assert_eq!(f.description(), Some("offset 3 appears twice"));
        assert_eq!(
            Failure::new(REQUEST_FAILED, "busy").to_string(),
            "io.gpiod1.RequestFailed: busy"
        );
    }
}
