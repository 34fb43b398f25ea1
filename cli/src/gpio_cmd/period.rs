//! Time periods of `hwkit gpio`'s options.

use std::time::Duration;

/// A non-negative, representable number of seconds.
pub(super) fn seconds(flag: &str, secs: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{flag} {secs}: give a number of seconds, 0 or more"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_checked() {
        assert_eq!(seconds("--hold", 1.5).unwrap(), Duration::from_millis(1500));
        assert!(seconds("--hold", -1.0).unwrap_err().contains("--hold -1"));
        assert!(seconds("--timeout", f64::NAN).is_err());
        assert!(seconds("--timeout", 1e300).is_err());
    }
}
