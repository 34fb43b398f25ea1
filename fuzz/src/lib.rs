//! Helpers shared by hwkit's fuzz targets (`fuzz_targets/`): the invariants every parser
//! must keep, and a plain model of MicroPython's `ffi` value conversions.

pub mod micropython;

/// Asserts that `message`, an error from parsing `input`, is one line: it may quote the
/// input (which may hold newlines itself) but adds no line break of its own.
pub fn assert_one_line(input: &str, message: &str) {
    if !input.contains(['\n', '\r']) {
        assert!(
            !message.contains(['\n', '\r']),
            "error for {input:?} is not one line: {message:?}"
        );
    }
    assert!(!message.is_empty(), "empty error for {input:?}");
}

/// Splits a fuzz input into at most `n` text fields separated by byte 0x01 (the last field
/// takes the rest), so that seeds are readable files: `printf 'd\001dd'`. Invalid UTF-8
/// becomes U+FFFD; missing fields are `None`.
pub fn fields(data: &[u8], n: usize) -> Vec<Option<String>> {
    let mut out: Vec<Option<String>> = data
        .splitn(n, |&b| b == 1)
        .map(|f| Some(String::from_utf8_lossy(f).into_owned()))
        .collect();
    out.resize(n, None);
    out
}

/// A number field: its decimal value (wrapping), `None` when empty or not digits.
pub fn number(field: &Option<String>) -> Option<u32> {
    let f = field.as_deref()?;
    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(f.bytes().fold(0u32, |n, d| {
        n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
    }))
}
