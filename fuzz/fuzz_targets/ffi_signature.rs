//! ffi-core's signature parser (MicroPython's type codes): a parsed signature round-trips
//! and prepares a libffi call interface and closure; anything else is a one-line error.
#![no_main]

use ffi_core::{Callback, Error, Function, Signature};
use libfuzzer_sys::fuzz_target;

extern "C" fn never_called() {}

// Input: `RET \x01 ARGS`.
fuzz_target!(|data: &[u8]| {
    let f = hwkit_fuzz::fields(data, 2);
    let ret = f[0].as_deref().unwrap_or("");
    let args = f[1].as_deref().unwrap_or("");
    match Signature::parse(ret, args) {
        Ok(sig) => {
            assert_eq!(sig.args().len(), args.chars().count());
            assert_eq!(sig.args_string(), args);
            let again = Signature::parse(&sig.ret().as_char().to_string(), &sig.args_string());
            assert_eq!(again.ok().as_ref(), Some(&sig));
            // Declaring prepares libffi's call interface for these codes; nothing is called.
            // SAFETY: the function is never called, only declared.
            let f = unsafe { Function::from_addr(never_called as *const _, ret, args) };
            assert_eq!(f.unwrap().signature(), &sig);
            let cb = Callback::new(ret, args, |_| ()).unwrap();
            assert_eq!(cb.signature(), &sig);
        }
        Err(e) => {
            let msg = e.to_string();
            hwkit_fuzz::assert_one_line(&format!("{ret}{args}"), &msg);
            // A bad character is named with its position in the text it came from.
            if let Error::UnknownCode {
                code,
                position,
                signature,
            } = &e
            {
                assert_eq!(signature.chars().nth(*position), Some(*code), "{msg}");
            }
            assert!(Callback::new(ret, args, |_| ()).is_err());
        }
    }
});
