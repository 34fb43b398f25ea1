//! Time periods of `hwkit gpio`'s options, read as libgpiod's tools read them: a whole
//! number, in milliseconds unless it carries a unit (`us`, `ms`, `s` or `m`), so a script's
//! `gpioset -p 20ms` or `gpiomon -p 10us` means the same to hwkit.

use std::time::Duration;

/// A non-negative, representable number of seconds (`--hold`, `mon --timeout`).
pub(super) fn seconds(flag: &str, secs: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{flag} {secs}: give a number of seconds, 0 or more"))
}

/// A period as libgpiod's tools write it: `100` (milliseconds), `10us`, `20ms`, `2s`, `1m`.
pub(crate) fn parse_period(s: &str) -> Result<Duration, String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = s.split_at(digits);
    let bad = |why: &str| {
        format!("invalid period '{s}': {why}; expected a whole number with an optional unit us, ms, s or m (a bare number is milliseconds), e.g. 100ms")
    };
    if number.is_empty() {
        return Err(bad("no number"));
    }
    let n: u64 = number.parse().map_err(|_| bad("too long"))?;
    let micros_per = match unit {
        "us" => 1,
        "" | "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        _ => return Err(bad(&format!("unknown unit '{unit}'"))),
    };
    // libgpiod keeps periods in a signed 64-bit count of microseconds.
    n.checked_mul(micros_per)
        .filter(|us| *us <= i64::MAX as u64)
        .map(Duration::from_micros)
        .ok_or_else(|| bad("too long"))
}

/// `PERIOD[,PERIOD]...` (`set --toggle`).
pub(crate) fn parse_periods(s: &str) -> Result<Vec<Duration>, String> {
    s.split(',').map(parse_period).collect()
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

    #[test]
    fn periods_read_as_libgpiod_reads_them() {
        let ms = Duration::from_millis;
        assert_eq!(parse_period("100").unwrap(), ms(100));
        assert_eq!(parse_period("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_period("10us").unwrap(), Duration::from_micros(10));
        assert_eq!(parse_period("20ms").unwrap(), ms(20));
        assert_eq!(parse_period("2s").unwrap(), ms(2000));
        assert_eq!(parse_period("3m").unwrap(), ms(180_000));
        assert_eq!(
            parse_periods("1s,500ms,0").unwrap(),
            [ms(1000), ms(500), Duration::ZERO]
        );
    }

    #[test]
    fn garbage_is_refused_in_one_line() {
        for (bad, why) in [
            ("", "no number"),
            ("ms", "no number"),
            ("-5", "no number"),
            ("1.5", "unknown unit '.5'"),
            ("10h", "unknown unit 'h'"),
            ("10 ms", "unknown unit ' ms'"),
            ("10mss", "unknown unit 'mss'"),
            ("99999999999999999999", "too long"),
            ("9223372036854776s", "too long"),
        ] {
            let e = parse_period(bad).unwrap_err();
            assert!(
                e.starts_with(&format!("invalid period '{bad}': {why};")),
                "{e}"
            );
            assert!(e.contains("us, ms, s or m"), "{e}");
            assert_eq!(e.lines().count(), 1);
        }
        let e = parse_periods("1s,,2").unwrap_err();
        assert!(e.starts_with("invalid period '': no number"), "{e}");
    }
}
