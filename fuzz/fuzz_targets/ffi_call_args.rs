//! `hwkit ffi call`'s argument parsing (`42`, `-0x1f`, `1e3`, `null`, `str:TEXT`, `buf:N`)
//! for every slot: a parsed argument or a one-line error naming the argument and slot.
#![no_main]

use ffi_core::TypeCode;
use libfuzzer_sys::fuzz_target;

// Input: `CODE \x01 TEXT`; CODE is a type code, anything else (or nothing) a surplus
// argument with no slot.
fuzz_target!(|data: &[u8]| {
    let f = hwkit_fuzz::fields(data, 2);
    let text = f[1].as_deref().unwrap_or("");
    let mut code_text = f[0].as_deref().unwrap_or("").chars();
    let code = match (code_text.next(), code_text.next()) {
        (Some(c), None) => TypeCode::from_char(c).filter(|c| *c != TypeCode::Void),
        _ => None,
    };
    match hwkit::fuzzing::parse_ffi_arg(text, code) {
        Ok(parsed) => {
            // A plain decimal integer in an integer slot is that integer.
            if let (Some(c), Ok(v)) = (code, text.parse::<i64>()) {
                if c.is_integer() && !text.starts_with('+') {
                    assert_eq!(parsed, format!("Int({v})"), "{text:?}");
                }
            }
        }
        Err(msg) => {
            hwkit_fuzz::assert_one_line(text, &msg);
            assert!(msg.starts_with("argument 0 "), "{msg}");
        }
    }
});
