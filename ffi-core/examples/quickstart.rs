//! The MicroPython FFI guide's tour, in Rust: `cargo run -p ffi-core --example quickstart`.

use ffi_core::{Callback, Library, Value};

fn main() -> Result<(), ffi_core::Error> {
    let libc = Library::this_process()?; // ffi.open(None): libc is reachable
    let libm = Library::open("libm.so.6")?;

    // Declare once (parsing and libffi preparation happen here), call many times.
    let sqrt = libm.func("d", "sqrt", "d")?;
    println!("sqrt(16.0) = {}", sqrt.call(&[16.0.into()])?); // 4.0
    let pow = libm.func("d", "pow", "dd")?;
    println!("2^8 = {}", pow.call(&[2.into(), 8.into()])?); // 256.0 (ints fit d slots)

    let getpid = libc.func("i", "getpid", "")?;
    println!("Process ID: {}", getpid.call(&[])?);

    // A writable buffer: C fills it.
    let gethostname = libc.func("i", "gethostname", "pl")?;
    let mut hostname = [0u8; 256];
    gethostname.call(&[(&mut hostname).into(), 256.into()])?;
    let end = hostname
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(hostname.len());
    println!("Hostname: {}", String::from_utf8_lossy(&hostname[..end]));

    // Strings are copied NUL-terminated (on the stack up to 512 bytes).
    let strlen = libc.func("l", "strlen", "s")?;
    println!("strlen = {}", strlen.call(&["Hello, World!".into()])?); // 13

    // errno, captured right after the call.
    let open = libc.func("i", "open", "si")?;
    let (fd, errno) = open.call_with_errno(&["/no/such/file".into(), 0.into()])?;
    println!("open -> {fd}, errno {errno}"); // -1, 2

    // A Rust closure as a C comparator.
    let qsort = libc.func("v", "qsort", "piiC")?;
    let cmp = Callback::new("i", "PP", |args: &[Value]| {
        // SAFETY: qsort passes pointers to two bytes of `data`.
        let (a, b) = unsafe {
            (
                *args[0].as_ptr().unwrap().cast::<u8>(),
                *args[1].as_ptr().unwrap().cast::<u8>(),
            )
        };
        i32::from(a) - i32::from(b)
    })?;
    let mut data = *b"dcba";
    qsort.call(&[(&mut data).into(), 4.into(), 1.into(), (&cmp).into()])?;
    println!("sorted: {}", String::from_utf8_lossy(&data)); // abcd

    // Errors say what is wrong and what would be right.
    if let Err(e) = sqrt.call(&["four".into()]) {
        println!("error: {e}");
    }
    Ok(())
}
