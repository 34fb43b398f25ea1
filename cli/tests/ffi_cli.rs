//! `hwkit ffi` end to end: runs the built binary.

mod common;

use std::process::{Command, Stdio};

use common::hwkit;

/// Runs a command that must succeed and returns its stdout.
fn ok(args: &[&str]) -> String {
    let out = hwkit(args);
    assert!(
        out.status.success(),
        "hwkit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail with one line on stderr; returns that line.
fn fails(args: &[&str]) -> String {
    let out = hwkit(args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "hwkit {args:?}: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let line = stderr.trim_end().to_owned();
    assert!(line.starts_with("hwkit: "), "{line}");
    line
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim_end()
        .to_owned()
}

#[test]
fn the_three_must_work_examples() {
    assert_eq!(
        ok(&["ffi", "call", "--lib", "libm.so.6", "d", "sqrt", "d", "16"]),
        "4.0\n"
    );
    assert_eq!(
        ok(&["ffi", "call", "l", "strlen", "s", "Hello, World!"]),
        "13\n"
    );
    let child = Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(["ffi", "call", "i", "getpid", ""])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{pid}\n"));
}

#[test]
fn results_print_like_micropython() {
    assert_eq!(
        ok(&[
            "ffi",
            "call",
            "--lib",
            "libm.so.6",
            "d",
            "pow",
            "dd",
            "2",
            "8"
        ]),
        "256.0\n"
    );
    assert_eq!(
        ok(&[
            "ffi",
            "call",
            "--lib",
            "libm.so.6",
            "d",
            "pow",
            "dd",
            "2",
            "0.5"
        ]),
        "1.4142135623730951\n"
    );
    assert_eq!(
        ok(&[
            "ffi",
            "call",
            "--lib",
            "libm.so.6",
            "f",
            "powf",
            "ff",
            "2",
            "0.5"
        ]),
        "1.4142135\n"
    );
    assert_eq!(
        ok(&["ffi", "call", "d", "strtod", "sp", "1.23", "null"]),
        "1.23\n"
    );
    assert_eq!(
        ok(&["ffi", "call", "--lib", "libm.so.6", "d", "tgamma", "d", "4"]),
        "6.0\n"
    );
    assert_eq!(ok(&["ffi", "call", "i", "abs", "i", "-5"]), "5\n");
    assert_eq!(ok(&["ffi", "call", "l", "labs", "l", "-0x10"]), "16\n");
    assert_eq!(
        ok(&["ffi", "call", "L", "strtoul", "spi", "0xff", "null", "0"]),
        "255\n"
    );
    assert_eq!(ok(&["ffi", "call", "i", "abs", "i", "true"]), "1\n");
    assert_eq!(ok(&["ffi", "call", "v", "srand", "I", "1"]), "None\n");
    assert_eq!(ok(&["ffi", "call", "i", "atoi", "s", "123"]), "123\n");
    // "str:" forces text where a keyword would be read.
    assert_eq!(ok(&["ffi", "call", "l", "strlen", "s", "str:null"]), "4\n");
}

#[test]
fn strings_and_null_strings() {
    let out = Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(["ffi", "call", "s", "getenv", "s", "HWKIT_TEST_VAR"])
        .env("HWKIT_TEST_VAR", "hello from the env")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "hello from the env\n"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(["ffi", "call", "s", "getenv", "s", "HWKIT_TEST_VAR"])
        .env_remove("HWKIT_TEST_VAR")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "None\n");
}

#[test]
fn writable_buffers_are_printed_after_the_call() {
    assert_eq!(
        ok(&["ffi", "call", "i", "gethostname", "pl", "buf:256", "256"]),
        format!("0\n{}\n", hostname())
    );
    // Two buffers, in argument order: memset fills the first, memcpy copies into the second.
    assert_eq!(
        ok(&["ffi", "call", "p", "memset", "pil", "buf:4", "65", "3"])
            .lines()
            .nth(1),
        Some("AAA")
    );
    assert_eq!(
        ok(&["ffi", "call", "p", "strncpy", "psl", "buf:8", "copied", "8"])
            .lines()
            .nth(1),
        Some("copied")
    );
}

#[test]
fn json_output() {
    let out = ok(&[
        "ffi",
        "call",
        "--json",
        "i",
        "gethostname",
        "pl",
        "buf:256",
        "256",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["return"], 0);
    assert_eq!(v["errno"], 0);
    assert_eq!(v["buffers"], serde_json::json!([hostname()]));
    assert!(
        out.starts_with("{\"return\":0,\"errno\":0,\"buffers\":["),
        "{out}"
    );

    let out = ok(&[
        "ffi",
        "call",
        "--json",
        "i",
        "open",
        "si",
        "/no/such/file",
        "0",
    ]);
    assert_eq!(out, "{\"return\":-1,\"errno\":2,\"buffers\":[]}\n");
    let out = ok(&[
        "ffi",
        "call",
        "--json",
        "--lib",
        "libm.so.6",
        "d",
        "sqrt",
        "d",
        "2.25",
    ]);
    assert_eq!(out, "{\"return\":1.5,\"errno\":0,\"buffers\":[]}\n");
    let out = ok(&[
        "ffi",
        "call",
        "--json",
        "s",
        "getenv",
        "s",
        "NO_SUCH_VARIABLE_HWKIT",
    ]);
    assert_eq!(out, "{\"return\":null,\"errno\":0,\"buffers\":[]}\n");
    // Non-UTF-8 buffer contents come out as bytes.
    let out = ok(&[
        "ffi", "call", "--json", "p", "memset", "pil", "buf:2", "255", "2",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["buffers"], serde_json::json!([[255, 255]]));
}

#[test]
fn variables_and_addresses() {
    assert_eq!(ok(&["ffi", "var", "i", "opterr"]), "1\n");
    assert_eq!(ok(&["ffi", "var", "i", "opterr", "--set", "0"]), "0\n");
    assert_eq!(ok(&["ffi", "var", "i", "errno", "--set", "-3"]), "-3\n");
    assert_eq!(
        ok(&[
            "ffi",
            "var",
            "--lib",
            "libc.so.6",
            "b",
            "opterr",
            "--set",
            "0x1ff"
        ]),
        "-1\n"
    );
    let addr = ok(&["ffi", "addr", "getpid"]);
    let hex = addr.trim_end().strip_prefix("0x").expect("hex address");
    assert_ne!(u64::from_str_radix(hex, 16).unwrap(), 0);
    let addr = ok(&["ffi", "addr", "--lib", "libm.so.6", "sqrt"]);
    assert!(addr.starts_with("0x"), "{addr}");
}

#[test]
fn errors_are_one_line() {
    assert_eq!(
        fails(&["ffi", "call", "i", "abs", "i", "1.5"]),
        "hwkit: abs: argument 0 (slot 'i', int) expects an integer, bool or None, got a float (1.5)"
    );
    assert_eq!(
        fails(&["ffi", "call", "i", "abs", "i", "abc"]),
        "hwkit: argument 0 \"abc\" for slot 'i' (int): expected an integer (decimal, 0x hex, negative), true/false or null"
    );
    assert_eq!(
        fails(&[
            "ffi",
            "call",
            "--lib",
            "libm.so.6",
            "d",
            "sqrt",
            "d",
            "four"
        ]),
        "hwkit: argument 0 \"four\" for slot 'd' (double): expected a number, e.g. 16, -2.5 or 1e3"
    );
    assert_eq!(
        fails(&["ffi", "call", "i", "abs", "i"]),
        "hwkit: abs: expected 1 argument, got 0"
    );
    assert_eq!(
        fails(&["ffi", "call", "i", "getpid", "", "1"]),
        "hwkit: getpid: expected 0 arguments, got 1"
    );
    assert_eq!(
        fails(&["ffi", "call", "--lib", "libnope.so.7", "i", "f", ""]),
        "hwkit: cannot open library \"libnope.so.7\": libnope.so.7: cannot open shared object file: No such file or directory"
    );
    let line = fails(&["ffi", "call", "i", "no_such_function_xyz", ""]);
    assert!(
        line.starts_with(
            "hwkit: symbol \"no_such_function_xyz\" not found in the running process: "
        ),
        "{line}"
    );
    assert_eq!(
        fails(&["ffi", "call", "i", "abs", "ix", "1", "2"]),
        "hwkit: unknown type code 'x' at position 1 of \"ix\"; expected one of \"vbBhHiIlLqQfdpPsOC\""
    );
    assert_eq!(
        fails(&["ffi", "call", "", "abs", "i", "1"]),
        "hwkit: return code \"\" is not one type code; expected exactly one of \"vbBhHiIlLqQfdpPsOC\""
    );
    assert_eq!(
        fails(&["ffi", "call", "i", "abs", "i", "buf:4"]),
        "hwkit: argument 0 \"buf:4\" for slot 'i' (int): a buffer can only go to a pointer slot (p, P, s, O)"
    );
    assert_eq!(
        fails(&["ffi", "call", "p", "memset", "pil", "buf:x", "0", "1"]),
        "hwkit: argument 0 \"buf:x\" for slot 'p' (void *): expected buf:N with N a byte count, e.g. buf:256"
    );
    // Too large, past u64 too, and on 32-bit boards past usize: "too large", not "not a number".
    for count in ["buf:99999999999", "buf:99999999999999999999999"] {
        let e = fails(&["ffi", "call", "p", "memset", "pil", count, "0", "1"]);
        assert!(e.contains("a buffer of at most 16777216 bytes"), "{e}");
    }
    assert!(
        fails(&["ffi", "call", "p", "memset", "pil", "buf:", "0", "1"])
            .contains("expected buf:N with N a byte count")
    );
    assert_eq!(
        fails(&["ffi", "var", "i", "opterr", "--set", "2.5"]),
        "hwkit: opterr: argument 0 (slot 'i', int) expects an integer, bool or None, got a float (2.5)"
    );
    assert!(fails(&["ffi", "var", "s", "opterr", "--set", "text"])
        .starts_with("hwkit: cannot store a string (\"text\") in C variable \"opterr\""));
    assert!(
        fails(&["ffi", "var", "i", "no_such_var_xyz"]).contains("\"no_such_var_xyz\" not found")
    );
    assert!(fails(&["ffi", "addr", "--lib", "libm.so.6", "no_such_sym"])
        .contains("not found in libm.so.6"));
}

#[test]
fn verbose_says_which_call_path_was_taken() {
    // Register-only on 64-bit Linux; a variadic call and 13 arguments stay on libffi.
    let register_path = cfg!(all(
        target_os = "linux",
        target_pointer_width = "64",
        target_endian = "little",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ));
    let out = common::hwkit(&[
        "ffi",
        "call",
        "-v",
        "--lib",
        "libm.so.6",
        "d",
        "sqrt",
        "d",
        "16",
    ]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "4.0\n");
    let want = if register_path { "registers" } else { "libffi" };
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("hwkit: d sqrt(d) called through {want}\n")
    );
    // Forced onto libffi (what stack-argument and variadic calls take), and said so.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args([
            "ffi",
            "call",
            "--json",
            "--verbose",
            "l",
            "strlen",
            "s",
            "abc",
        ])
        .env("FFI_CORE_LIBFFI_ONLY", "1")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["return"].as_i64(), &v["call_path"]),
        (Some(3), &serde_json::json!("libffi"))
    );
    // Without --verbose the document keeps its three fields.
    let out = ok(&["ffi", "call", "--json", "l", "strlen", "s", "abc"]);
    assert_eq!(out, "{\"return\":3,\"errno\":0,\"buffers\":[]}\n");
}
