//! `hwkit ffi`: call C functions, read and write C globals, look up symbols, from the
//! shell, with MicroPython's type codes (over the `ffi-core` crate).
//!
//! ```text
//! hwkit ffi call --lib libm.so.6 d sqrt d 16        # 4.0
//! hwkit ffi call i gethostname pl buf:256 256      # 0, then the buffer as text
//! hwkit ffi var i errno --set 0
//! hwkit ffi addr getpid
//! ```

use std::process::ExitCode;

use clap::{Args, Subcommand};
use ffi_core::{Arg, Library, Signature, TypeCode, Value};
use serde_json::json;

use crate::CmdResult;

/// Arguments of `hwkit ffi`.
#[derive(Args)]
pub struct FfiArgs {
    #[command(subcommand)]
    command: FfiCommand,
}

#[derive(Subcommand)]
enum FfiCommand {
    /// Call a C function: `lib.func(RET, NAME, ARGTYPES)(ARG...)`; prints the result like
    /// MicroPython's print(), then the contents of each `buf:N` buffer.
    ///
    /// ARG per slot: integers (`42`, `-7`, `0x1f`), floats (`1.5`), `true`/`false`,
    /// `null`; text for `s`/`P` (`str:TEXT` forces text, e.g. `str:null`); `buf:N` for a
    /// zeroed writable buffer of N bytes (pointer slots).
    ///
    /// As with MicroPython's ffi and ctypes, you vouch for the declaration: hwkit checks
    /// the codes, the argument count and each argument's kind, but a wrong signature or a
    /// buffer shorter than the C function writes can crash the process.
    Call(CallArgs),
    /// Print a C global's value (`lib.var(TYPE, NAME).get()`), after `--set VALUE` if given.
    Var(VarArgs),
    /// Print a symbol's address in hex (`lib.addr(NAME)`).
    Addr(AddrArgs),
}

#[derive(Args)]
struct LibOpt {
    /// The library: a path or soname such as `libm.so.6`; default: the running process
    /// (libc is reachable), like MicroPython's `ffi.open(None)`.
    #[arg(long, value_name = "LIB")]
    lib: Option<String>,
}

#[derive(Args)]
struct CallArgs {
    #[command(flatten)]
    lib: LibOpt,
    /// Print `{"return": ..., "errno": ..., "buffers": [...]}` instead.
    #[arg(long)]
    json: bool,
    /// Also say how the call was made: `registers` (a fixed function-pointer shape chosen at
    /// declaration) or `libffi` (stack arguments, variadic calls): on stderr, or as the JSON
    /// field `call_path`.
    #[arg(long, short)]
    verbose: bool,
    /// Return type code: one of vbBhHiIlLqQfdpPsOC.
    #[arg(value_name = "RET")]
    ret: String,
    /// Function name.
    #[arg(value_name = "NAME")]
    name: String,
    /// Argument type codes, one per argument (`''` for none).
    #[arg(value_name = "ARGTYPES")]
    argtypes: String,
    /// The arguments.
    #[arg(value_name = "ARG", allow_hyphen_values = true, num_args = 0..)]
    args: Vec<String>,
}

#[derive(Args)]
struct VarArgs {
    #[command(flatten)]
    lib: LibOpt,
    /// Type code of the variable.
    #[arg(value_name = "TYPE")]
    code: String,
    /// Variable name.
    #[arg(value_name = "NAME")]
    name: String,
    /// Write this value first (same syntax as `call` arguments).
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    set: Option<String>,
}

#[derive(Args)]
struct AddrArgs {
    #[command(flatten)]
    lib: LibOpt,
    /// Symbol name.
    #[arg(value_name = "NAME")]
    name: String,
}

/// Runs `hwkit ffi`.
pub fn run(args: FfiArgs) -> CmdResult {
    match args.command {
        FfiCommand::Call(args) => call(args),
        FfiCommand::Var(args) => var(args),
        FfiCommand::Addr(args) => addr(args),
    }
}

/// Everything `run` checks before it opens a library, with nothing opened or called: the
/// type codes and each argument for its slot (`call`), the variable's code and the value
/// for `--set`, converted into a stand-in of the variable (`var`).
pub(crate) fn check(args: &FfiArgs) -> Result<(), Box<dyn std::error::Error>> {
    match &args.command {
        FfiCommand::Call(args) => {
            let signature = Signature::parse(&args.ret, &args.argtypes)?;
            for (index, text) in args.args.iter().enumerate() {
                parse_arg(text, signature.args().get(index).copied(), index)?;
            }
        }
        FfiCommand::Var(args) => {
            // Eight zeroed, aligned bytes hold a value of any code: the conversion runs
            // for real, into memory of our own instead of the library's symbol.
            let mut stand_in = 0u64;
            let addr = std::ptr::addr_of_mut!(stand_in).cast::<std::ffi::c_void>();
            // SAFETY: `addr` is a live, aligned 8-byte object of this frame, large enough
            // for every code, read and written only by this thread below.
            let variable = unsafe { ffi_core::Variable::from_addr(addr, &args.code) }?;
            if let Some(text) = &args.set {
                let mut parsed = parse_arg(text, Some(variable.code()), 0)?;
                // SAFETY: as above; nothing reads the stand-in back as a pointer.
                unsafe { variable.set(parsed.as_arg()) }?;
            }
        }
        FfiCommand::Addr(_) => {}
    }
    Ok(())
}

fn open(lib: &LibOpt) -> Result<Library, ffi_core::Error> {
    match &lib.lib {
        // SAFETY: the user named this library on the command line and vouches that loading
        // it is sound, exactly as `ffi.open(name)` in MicroPython: running its initialisers
        // is what the command was asked to do.
        Some(name) => unsafe { Library::open(name) },
        None => Library::this_process(),
    }
}

fn call(args: CallArgs) -> CmdResult {
    let lib = open(&args.lib)?;
    let function = lib.func(&args.ret, &args.name, &args.argtypes)?;
    let codes = function.signature().args();
    // Parse every argument for its slot; surplus or missing ones are left for the
    // library's own count check, so the message is the same as from Rust.
    let mut parsed = Vec::with_capacity(args.args.len());
    for (index, text) in args.args.iter().enumerate() {
        parsed.push(parse_arg(text, codes.get(index).copied(), index)?);
    }
    let call_args: Vec<Arg<'_>> = parsed.iter_mut().map(Parsed::as_arg).collect();
    // SAFETY: the command's user vouches for the declaration (RET, NAME, ARGTYPES) and the
    // arguments, exactly as with `lib.func(...)(...)` in MicroPython; ffi-core checks the
    // codes, count, kinds and NULs, and buffers given as `buf:N` live in `parsed` across
    // the call.
    let (value, errno) = unsafe { function.call_with_errno(&call_args) }?;
    let path = match function.call_path() {
        ffi_core::CallPath::Registers => "registers",
        ffi_core::CallPath::Libffi => "libffi",
    };
    drop(call_args);
    let buffers: Vec<&[u8]> = parsed
        .iter()
        .filter_map(|p| match p {
            Parsed::Buf(b) => Some(b.as_slice()),
            _ => None,
        })
        .collect();
    if args.json {
        let out = CallJson {
            r#return: value_json(&value),
            errno,
            buffers: buffers.iter().map(|b| buffer_json(b)).collect(),
            call_path: args.verbose.then_some(path),
        };
        println!("{}", serde_json::to_string(&out)?);
    } else {
        if args.verbose {
            eprintln!(
                "hwkit: {} {}({}) called through {path}",
                args.ret, args.name, args.argtypes
            );
        }
        println!("{value}");
        for b in buffers {
            println!("{}", String::from_utf8_lossy(until_nul(b)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn var(args: VarArgs) -> CmdResult {
    let lib = open(&args.lib)?;
    let variable = lib.var(&args.code, &args.name)?;
    if let Some(text) = &args.set {
        let mut parsed = parse_arg(text, Some(variable.code()), 0)?;
        // SAFETY: the command's user vouches that NAME is a C object of type CODE that no
        // other thread writes now, exactly as with `lib.var(...)` in MicroPython.
        unsafe { variable.set(parsed.as_arg()) }?;
    }
    // SAFETY: as above, the user vouches for the symbol's type.
    println!("{}", unsafe { variable.get() });
    Ok(ExitCode::SUCCESS)
}

fn addr(args: AddrArgs) -> CmdResult {
    let lib = open(&args.lib)?;
    println!("{:#x}", lib.addr(&args.name)? as usize);
    Ok(ExitCode::SUCCESS)
}

/// `--json` output of `call`, fields in this order.
#[derive(serde::Serialize)]
struct CallJson {
    r#return: serde_json::Value,
    errno: i32,
    buffers: Vec<serde_json::Value>,
    /// With `--verbose`: `registers` or `libffi`.
    #[serde(skip_serializing_if = "Option::is_none")]
    call_path: Option<&'static str>,
}

/// An argument parsed from the command line, owning its text or buffer.
#[derive(Debug, PartialEq)]
pub(crate) enum Parsed {
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
    Text(String),
    Buf(Vec<u8>),
}

impl Parsed {
    fn as_arg(&mut self) -> Arg<'_> {
        match self {
            Parsed::Int(v) => Arg::Int(*v),
            Parsed::UInt(v) => Arg::UInt(*v),
            Parsed::Float(v) => Arg::F64(*v),
            Parsed::Bool(v) => Arg::Bool(*v),
            Parsed::Null => Arg::Null,
            Parsed::Text(s) => Arg::Str(s),
            Parsed::Buf(b) => b.as_mut_slice().into(),
        }
    }
}

/// A command-line argument that cannot be read for its slot.
#[derive(Debug, thiserror::Error)]
#[error("argument {index} {text:?} for slot {slot}: {problem}")]
pub(crate) struct ArgError {
    index: usize,
    text: String,
    slot: String,
    problem: String,
}

/// Largest `buf:N` accepted: generous for any C API, small enough to never exhaust memory.
const MAX_BUF: usize = 1 << 24;

/// Parses `text` for slot `code` (`None`: a surplus argument, parsed loosely so that the
/// library can report the count).
pub(crate) fn parse_arg(
    text: &str,
    code: Option<TypeCode>,
    index: usize,
) -> Result<Parsed, ArgError> {
    let fail = |problem: String| ArgError {
        index,
        text: text.to_owned(),
        slot: code.map_or_else(|| "(none declared)".to_owned(), |c| c.to_string()),
        problem,
    };
    let is_pointer = code.is_none_or(TypeCode::is_pointer);
    if let Some(t) = text.strip_prefix("str:") {
        return Ok(Parsed::Text(t.to_owned()));
    }
    if let Some(n) = text.strip_prefix("buf:") {
        if !is_pointer {
            return Err(fail(
                "a buffer can only go to a pointer slot (p, P, s, O)".into(),
            ));
        }
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail(
                "expected buf:N with N a byte count, e.g. buf:256".into(),
            ));
        }
        // Any count of digits is a number: one too large for usize (easily reached on
        // 32-bit boards) is "too large", not "not a number".
        let Some(n) = n.parse::<usize>().ok().filter(|&n| n <= MAX_BUF) else {
            return Err(fail(format!("a buffer of at most {MAX_BUF} bytes")));
        };
        return Ok(Parsed::Buf(vec![0; n]));
    }
    match text {
        "null" | "NULL" | "None" => return Ok(Parsed::Null),
        "true" | "True" => return Ok(Parsed::Bool(true)),
        "false" | "False" => return Ok(Parsed::Bool(false)),
        _ => {}
    }
    let text_slot = matches!(code, Some(TypeCode::Str | TypeCode::ConstPtr));
    if text_slot {
        return Ok(Parsed::Text(text.to_owned()));
    }
    if let Some(v) = parse_int(text) {
        return Ok(v);
    }
    let unsigned = text.trim_start_matches(['-', '+']);
    let float_slot = code.is_some_and(TypeCode::is_float);
    if !float_slot && !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail("integer out of range: -2**63 ..= 2**64 - 1".into()));
    }
    if let Ok(v) = text.parse::<f64>() {
        // In an integer or pointer slot this reaches the library, which names the mismatch.
        return Ok(Parsed::Float(v));
    }
    match code {
        Some(TypeCode::Ptr | TypeCode::Object) | None => Ok(Parsed::Text(text.to_owned())),
        Some(c) if c.is_float() => Err(fail("expected a number, e.g. 16, -2.5 or 1e3".into())),
        Some(TypeCode::Callback) => Err(fail("expected null or a function address".into())),
        Some(_) => Err(fail(
            "expected an integer (decimal, 0x hex, negative), true/false or null".into(),
        )),
    }
}

/// Decimal, `0x` hex, `0o` octal, `0b` binary, with an optional sign; up to 2**64 - 1 and
/// down to -2**63.
fn parse_int(text: &str) -> Option<Parsed> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if !negative {
        return Some(match i64::try_from(magnitude) {
            Ok(v) => Parsed::Int(v),
            Err(_) => Parsed::UInt(magnitude),
        });
    }
    0i64.checked_sub_unsigned(magnitude).map(Parsed::Int)
}

fn until_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |end| &b[..end])
}

fn value_json(value: &Value) -> serde_json::Value {
    match value {
        Value::None => serde_json::Value::Null,
        Value::Int(v) => json!(v),
        Value::UInt(v) => json!(v),
        Value::Float(_) | Value::Double(_) => {
            let v = value.as_f64().unwrap_or(f64::NAN);
            serde_json::Number::from_f64(v)
                .map_or_else(|| json!(value.to_string()), serde_json::Value::Number)
        }
        Value::Ptr(p) => json!(*p as usize),
        Value::Str(s) => json!(s),
    }
}

/// A buffer as text up to its first NUL when that is UTF-8, else as its bytes.
fn buffer_json(b: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(until_nul(b)) {
        Ok(text) => json!(text),
        Err(_) => json!(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_notation() {
        let int = |t| parse_arg(t, Some(TypeCode::Int), 0).unwrap();
        assert_eq!(int("42"), Parsed::Int(42));
        assert_eq!(int("-7"), Parsed::Int(-7));
        assert_eq!(int("0x1F"), Parsed::Int(31));
        assert_eq!(int("-0x10"), Parsed::Int(-16));
        assert_eq!(int("0b101"), Parsed::Int(5));
        assert_eq!(int("18446744073709551615"), Parsed::UInt(u64::MAX));
        assert_eq!(int("-9223372036854775808"), Parsed::Int(i64::MIN));
        assert_eq!(int("true"), Parsed::Bool(true));
        assert_eq!(int("null"), Parsed::Null);
        assert_eq!(int("1.5"), Parsed::Float(1.5));
        assert!(parse_arg("abc", Some(TypeCode::Int), 2).is_err());
        assert_eq!(
            parse_arg("-9223372036854775809", Some(TypeCode::Int), 0).unwrap_err().to_string(),
            "argument 0 \"-9223372036854775809\" for slot 'i' (int): integer out of range: -2**63 ..= 2**64 - 1"
        );
        assert_eq!(
            parse_arg("18446744073709551616", Some(TypeCode::Double), 0).unwrap(),
            Parsed::Float(18446744073709551616.0)
        );
    }

    #[test]
    fn text_buffers_and_floats() {
        assert_eq!(
            parse_arg("123", Some(TypeCode::Str), 0).unwrap(),
            Parsed::Text("123".into())
        );
        assert_eq!(
            parse_arg("str:null", Some(TypeCode::Str), 0).unwrap(),
            Parsed::Text("null".into())
        );
        assert_eq!(
            parse_arg("null", Some(TypeCode::Str), 0).unwrap(),
            Parsed::Null
        );
        assert_eq!(
            parse_arg("buf:3", Some(TypeCode::Ptr), 0).unwrap(),
            Parsed::Buf(vec![0; 3])
        );
        assert_eq!(
            parse_arg("16", Some(TypeCode::Double), 0).unwrap(),
            Parsed::Int(16)
        );
        assert_eq!(
            parse_arg("1e3", Some(TypeCode::Double), 0).unwrap(),
            Parsed::Float(1000.0)
        );
        let err = parse_arg("buf:8", Some(TypeCode::Int), 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "argument 1 \"buf:8\" for slot 'i' (int): a buffer can only go to a pointer slot (p, P, s, O)"
        );
    }
}
