//! Every error path: the error's kind and its full message.

use ffi_core::{
    memory, Arg, Callback, Error, Function, Library, Signature, Value, Variable, VariadicFunction,
};

fn testlib() -> Library {
    // SAFETY: testlib.c, built by this crate's build script, has no initialisers.
    unsafe { Library::open(env!("FFI_TEST_LIB_TESTLIB")) }.unwrap()
}

/// The error of a call that ffi-core refuses before any C code runs.
fn refused(f: &Function, args: &[Arg<'_>]) -> Error {
    // SAFETY: every call given to this helper has a wrong argument count, a value of the
    // wrong kind for its slot or a NUL inside a string, which `call` checks before C runs
    // (asserted by the callers); and each function is declared with its real signature.
    unsafe { f.call(args) }.unwrap_err()
}

/// The error of a variadic call that ffi-core refuses before any C code runs.
fn refused_variadic(f: &VariadicFunction, variadic: &str, args: &[Arg<'_>]) -> Error {
    // SAFETY: every call given to this helper has a bad variadic code (unknown, void or not
    // promoted) or a wrong argument count, which `call` checks before C runs (asserted by
    // the callers).
    unsafe { f.call(variadic, args) }.unwrap_err()
}

#[test]
fn missing_library_names_it_with_dlerror_text() {
    // SAFETY: no such file exists, so nothing is loaded.
    let err = unsafe { Library::open("libdoes-not-exist.so.9") }.unwrap_err();
    assert!(matches!(&err, Error::Open { library, .. } if library == "libdoes-not-exist.so.9"));
    assert_eq!(
        err.to_string(),
        "cannot open library \"libdoes-not-exist.so.9\": libdoes-not-exist.so.9: cannot open shared object file: No such file or directory"
    );
    // A file that is not a shared object.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libfake.so");
    std::fs::write(&path, b"not an ELF file").unwrap();
    // SAFETY: not an ELF file: dlopen refuses it before any code in it could run.
    let err = unsafe { Library::open(&path) }.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "cannot open library {:?}: ",
            path.display().to_string()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("invalid ELF header") || msg.contains("file too short"),
        "{msg}"
    );
}

#[test]
fn nul_in_names() {
    // SAFETY: the NUL is refused before dlopen is called.
    let err = unsafe { Library::open("libc\0.so") }.unwrap_err();
    assert_eq!(
        err.to_string(),
        "library name \"libc\\0.so\" contains a NUL byte; C names end at the first NUL"
    );
    let libc = Library::this_process().unwrap();
    let err = libc.func("i", "get\0pid", "").unwrap_err();
    assert!(
        matches!(err, Error::NulInName { what: "symbol", .. }),
        "{err:?}"
    );
}

#[test]
fn missing_symbol_names_symbol_and_library() {
    let lib = testlib();
    let err = lib.func("i", "no_such_function", "").unwrap_err();
    let library = env!("FFI_TEST_LIB_TESTLIB");
    assert!(
        matches!(&err, Error::SymbolNotFound { symbol, library: l, .. } if symbol == "no_such_function" && l == library)
    );
    assert_eq!(
        err.to_string(),
        format!("symbol \"no_such_function\" not found in {library}: {library}: undefined symbol: no_such_function")
    );
    assert!(matches!(
        lib.addr("no_such_var").unwrap_err(),
        Error::SymbolNotFound { .. }
    ));
    assert!(matches!(
        lib.var("i", "no_such_var").unwrap_err(),
        Error::SymbolNotFound { .. }
    ));
}

#[test]
fn null_symbol_cannot_be_called_or_read() {
    let lib = testlib();
    assert!(lib.addr("null_symbol").unwrap().is_null());
    let err = lib.func("i", "null_symbol", "").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "symbol \"null_symbol\" in {} has a NULL address; a function or variable needs a real one",
            env!("FFI_TEST_LIB_TESTLIB")
        )
    );
    assert!(matches!(
        lib.var("i", "null_symbol").unwrap_err(),
        Error::NullSymbol { .. }
    ));
}

#[test]
fn closed_library_refuses_lookups() {
    // SAFETY: libm is the system's C maths library; its initialisers are sound.
    let mut lib = unsafe { Library::open("libm.so.6") }.unwrap();
    lib.close().unwrap();
    let err = lib.func("d", "sqrt", "d").unwrap_err();
    assert_eq!(
        err.to_string(),
        "library \"libm.so.6\" is closed; open it again to look up \"sqrt\""
    );
    assert!(matches!(
        lib.addr("sqrt").unwrap_err(),
        Error::Closed { .. }
    ));
    assert!(matches!(
        lib.var("d", "sqrt").unwrap_err(),
        Error::Closed { .. }
    ));
}

#[test]
fn unknown_type_codes_name_code_and_position() {
    let libc = Library::this_process().unwrap();
    let err = libc.func("i", "open", "sx").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown type code 'x' at position 1 of \"sx\"; expected one of \"vbBhHiIlLqQfdpPsOC\""
    );
    // MicroPython segfaults on a bad return code.
    let err = libc.func("z", "open", "si").unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnknownCode {
                code: 'z',
                position: 0,
                ..
            }
        ),
        "{err:?}"
    );
    let err = Callback::new("i", "iiU", |_: &[Value]| 0).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnknownCode {
                code: 'U',
                position: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let err = libc.var("?", "errno").unwrap_err();
    assert!(
        matches!(err, Error::UnknownCode { code: '?', .. }),
        "{err:?}"
    );
}

#[test]
fn bad_and_empty_return_codes() {
    let libc = Library::this_process().unwrap();
    let err = libc.func("", "getpid", "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "return code \"\" is not one type code; expected exactly one of \"vbBhHiIlLqQfdpPsOC\""
    );
    assert!(matches!(
        libc.func("ii", "getpid", "").unwrap_err(),
        Error::BadReturnCode { .. }
    ));
    assert!(matches!(
        Callback::new("", "", |_: &[Value]| 0).unwrap_err(),
        Error::BadReturnCode { .. }
    ));
}

#[test]
fn void_as_an_argument() {
    let err = Signature::parse("i", "iv").unwrap_err();
    assert_eq!(
        err.to_string(),
        "'v' (void) at position 1 of \"iv\" is only valid as a return code; use \"\" for no arguments"
    );
    let libc = Library::this_process().unwrap();
    assert!(matches!(
        libc.var("v", "errno").unwrap_err(),
        Error::VoidArgument { .. }
    ));
}

#[test]
fn wrong_argument_count() {
    // SAFETY: libm is the system's C maths library; its initialisers are sound.
    let libm = unsafe { Library::open("libm.so.6") }.unwrap();
    let sqrt = libm.func("d", "sqrt", "d").unwrap();
    let err = refused(&sqrt, &[1.0.into(), 2.0.into()]);
    assert!(matches!(
        err,
        Error::ArgCount {
            expected: 1,
            got: 2,
            ..
        }
    ));
    assert_eq!(err.to_string(), "sqrt: expected 1 argument, got 2");
    let pow = libm.func("d", "pow", "dd").unwrap();
    assert_eq!(
        refused(&pow, &[]).to_string(),
        "pow: expected 2 arguments, got 0"
    );
}

#[test]
fn wrong_kind_of_value_names_index_slot_and_kind() {
    let libc = Library::this_process().unwrap();
    let open = libc.func("i", "open", "si").unwrap();
    let err = refused(&open, &["/tmp".into(), 1.5.into()]);
    assert!(matches!(
        err,
        Error::ArgType {
            index: 1,
            code: 'i',
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "open: argument 1 (slot 'i', int) expects an integer, bool or None, got a float (1.5)"
    );
    // None in a float slot.
    // SAFETY: libm is the system's C maths library; its initialisers are sound.
    let libm = unsafe { Library::open("libm.so.6") }.unwrap();
    let sqrt = libm.func("d", "sqrt", "d").unwrap();
    assert_eq!(
        refused(&sqrt, &[Arg::Null]).to_string(),
        "sqrt: argument 0 (slot 'd', double) expects a number (integer, bool or float), got None"
    );
    // A string in an integer slot.
    assert_eq!(
        refused(&open, &["/tmp".into(), "0".into()]).to_string(),
        "open: argument 1 (slot 'i', int) expects an integer, bool or None, got a string (\"0\")"
    );
    // A float in a pointer slot, a buffer in a callback slot, a bool in a pointer slot.
    assert!(matches!(
        refused(&open, &[2.0.into(), 0.into()]),
        Error::ArgType {
            index: 0,
            code: 's',
            ..
        }
    ));
    let qsort = libc.func("v", "qsort", "pLLC").unwrap();
    let mut data = [1u8, 2];
    let buf = [0u8; 4];
    let err = refused(
        &qsort,
        &[(&mut data).into(), 2.into(), 1.into(), (&buf).into()],
    );
    assert_eq!(
        err.to_string(),
        "qsort: argument 3 (slot 'C', function pointer) expects a callback, function pointer, integer address or None, got a read-only buffer of 4 bytes"
    );
    assert!(matches!(
        refused(&open, &[true.into(), 0.into()]),
        Error::ArgType { index: 0, .. }
    ));
}

#[test]
fn nul_inside_a_string_argument() {
    let libc = Library::this_process().unwrap();
    let strlen = libc.func("l", "strlen", "s").unwrap();
    let err = refused(&strlen, &["ab\0cd".into()]);
    assert!(matches!(
        err,
        Error::NulInString {
            index: 0,
            offset: 2,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "strlen: argument 0 is a string with a NUL byte at offset 2; C strings end at the first NUL (pass a CStr or a byte buffer instead)"
    );
    // NULs found by the word-at-a-time copy, in a full word and in the tail.
    let err = refused(&strlen, &["abc\0efghijklmnop".into()]);
    assert!(
        matches!(err, Error::NulInString { offset: 3, .. }),
        "{err:?}"
    );
    let err = refused(&strlen, &["0123456789\0x".into()]);
    assert!(
        matches!(err, Error::NulInString { offset: 10, .. }),
        "{err:?}"
    );
    // A CStr is passed as is.
    // SAFETY: `size_t strlen(const char *)` on a NUL-terminated &CStr.
    assert_eq!(
        unsafe { strlen.call(&[c"ab".into()]) }.unwrap(),
        Value::Int(2)
    );
}

#[test]
fn variadic_promotions_are_enforced() {
    let libc = Library::this_process().unwrap();
    let printf = libc.func_variadic("i", "printf", "s").unwrap();
    let err = refused_variadic(&printf, "f", &["%f\n".into(), 1.0f32.into()]);
    assert_eq!(
        err.to_string(),
        "variadic argument 1 of printf cannot be 'f': C promotes it to 'd'; declare it with that code"
    );
    assert!(matches!(
        refused_variadic(&printf, "ih", &["".into(), 1.into(), 2.into()]),
        Error::VariadicPromotion {
            index: 2,
            code: 'h',
            promoted: 'i',
            ..
        }
    ));
    assert!(matches!(
        printf.prepare("b").unwrap_err(),
        Error::VariadicPromotion { .. }
    ));
    assert!(matches!(
        refused_variadic(&printf, "x", &["".into(), 1.into()]),
        Error::UnknownCode {
            code: 'x',
            position: 0,
            ..
        }
    ));
    assert!(matches!(
        refused_variadic(&printf, "v", &["".into()]),
        Error::VoidArgument { .. }
    ));
    assert!(matches!(
        refused_variadic(&printf, "i", &["".into()]),
        Error::ArgCount {
            expected: 2,
            got: 1,
            ..
        }
    ));
}

#[test]
fn variables_refuse_borrowed_memory_and_wrong_kinds() {
    let lib = testlib();
    let g_str = lib.var("s", "g_ptr").unwrap();
    // SAFETY: refused before anything is written (borrowed memory would dangle); g_ptr is
    // a `void *`, which an `s` view reads and writes as the same pointer.
    let err = unsafe { g_str.set("dangling") }.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot store a string (\"dangling\") in C variable \"g_ptr\" (type 's'): its memory is borrowed only for this call and would dangle; store a raw pointer to memory that outlives the variable"
    );
    let g_int = lib.var("i", "g_int").unwrap();
    assert_eq!(
        // SAFETY: a float in an int slot is refused before anything is written.
        unsafe { g_int.set(2.5) }.unwrap_err().to_string(),
        "g_int: argument 0 (slot 'i', int) expects an integer, bool or None, got a float (2.5)"
    );
    // SAFETY: testlib's g_int is an `int`; no other test in this binary touches it.
    assert_eq!(unsafe { g_int.get() }, Value::Int(42));
}

#[test]
fn null_pointers_are_refused() {
    // SAFETY: NULL is checked before anything is read.
    let err = unsafe { memory::as_bytes(std::ptr::null(), 4) }.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot view 4 bytes at a NULL pointer; pass a valid pointer or length 0"
    );
    // SAFETY: as above.
    assert!(unsafe { memory::as_bytes_mut(std::ptr::null_mut(), 1) }.is_err());
    // SAFETY: as above; length 0 reads nothing.
    assert_eq!(
        unsafe { memory::as_bytes(std::ptr::null(), 0) }.unwrap(),
        &[] as &[u8]
    );
    // SAFETY: a NULL address is refused before use.
    assert!(matches!(
        unsafe { Function::from_addr(std::ptr::null(), "i", "") }.unwrap_err(),
        Error::NullPointer { .. }
    ));
    // SAFETY: as above.
    assert!(matches!(
        unsafe { Variable::from_addr(std::ptr::null_mut(), "i") }.unwrap_err(),
        Error::NullPointer { .. }
    ));
}
