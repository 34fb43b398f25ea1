//! The MicroPython FFI guide's tour, in Rust: `cargo run -p ffi-core --example quickstart`.

use ffi_core::{Callback, Library, Value};

fn main() -> Result<(), ffi_core::Error> {
    let libc = Library::this_process()?; // ffi.open(None): libc is reachable
                                         // SAFETY: libm is the system's C maths library; its initialisers are sound.
    let libm = unsafe { Library::open("libm.so.6") }?;

    // Declare once (parsing and libffi preparation happen here), call many times.
    let sqrt = libm.func("d", "sqrt", "d")?;
    // SAFETY: sqrt is `double sqrt(double)` and takes any value.
    println!("sqrt(16.0) = {}", unsafe { sqrt.call(&[16.0.into()]) }?); // 4.0
    let pow = libm.func("d", "pow", "dd")?;
    // SAFETY: pow is `double pow(double, double)` and takes any values.
    println!("2^8 = {}", unsafe { pow.call(&[2.into(), 8.into()]) }?); // 256.0 (ints fit d slots)

    let getpid = libc.func("i", "getpid", "")?;
    // SAFETY: getpid is `pid_t getpid(void)` (pid_t is int) and has no preconditions.
    println!("Process ID: {}", unsafe { getpid.call(&[]) }?);

    // A writable buffer: C fills it.
    let gethostname = libc.func("i", "gethostname", "pl")?;
    let mut hostname = [0u8; 256];
    // SAFETY: gethostname is `int gethostname(char *, size_t)`; hostname is 256 bytes and
    // it writes at most the 256 we pass.
    unsafe { gethostname.call(&[(&mut hostname).into(), 256.into()]) }?;
    let end = hostname
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(hostname.len());
    println!("Hostname: {}", String::from_utf8_lossy(&hostname[..end]));

    // Strings are copied NUL-terminated (on the stack up to 512 bytes).
    let strlen = libc.func("l", "strlen", "s")?;
    // SAFETY: strlen is `size_t strlen(const char *)`; it gets a NUL-terminated copy.
    println!("strlen = {}", unsafe {
        strlen.call(&["Hello, World!".into()])
    }?); // 13

    // errno, captured right after the call.
    let open = libc.func("i", "open", "si")?;
    // SAFETY: open's fixed parameters are `const char *` and `int`; with O_RDONLY (0) it
    // reads no mode argument, and the path is a NUL-terminated copy.
    let (fd, errno) = unsafe { open.call_with_errno(&["/no/such/file".into(), 0.into()]) }?;
    println!("open -> {fd}, errno {errno}"); // -1, 2

    // A Rust closure as a C comparator.
    let qsort = libc.func("v", "qsort", "pLLC")?;
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
    // SAFETY: qsort is `void qsort(void *, size_t, size_t, int (*)(const void *, const void *))`;
    // data holds 4 elements of 1 byte, and cmp outlives the call (qsort keeps no reference).
    unsafe { qsort.call(&[(&mut data).into(), 4.into(), 1.into(), (&cmp).into()]) }?;
    println!("sorted: {}", String::from_utf8_lossy(&data)); // abcd

    // Errors say what is wrong and what would be right.
    // SAFETY: refused by ffi-core's kind check before C runs (and sqrt takes any double).
    if let Err(e) = unsafe { sqrt.call(&["four".into()]) } {
        println!("error: {e}");
    }
    Ok(())
}
