//! MicroPython's `ffi` module for Rust: open shared libraries at run time, declare C
//! functions with one-character type codes, and call them with run-time values.
//!
//! ```
//! use ffi_core::Library;
//!
//! let libc = Library::this_process()?;              // ffi.open(None)
//! let getpid = libc.func("i", "getpid", "")?;        // libc.func("i", "getpid", "")
//! // SAFETY: getpid is `pid_t getpid(void)` (pid_t is int) and has no preconditions.
//! let pid = unsafe { getpid.call(&[]) }?;
//! assert_eq!(pid.as_i64(), Some(std::process::id() as i64));
//!
//! // SAFETY: libm is the system's C maths library; its initialisers are sound.
//! let libm = unsafe { Library::open("libm.so.6") }?; // ffi.open("libm.so.6")
//! let pow = libm.func("d", "pow", "dd")?;
//! // SAFETY: pow is `double pow(double, double)` and takes any values.
//! assert_eq!(unsafe { pow.call(&[2.0.into(), 8.into()]) }?.to_string(), "256.0");
//! # Ok::<(), ffi_core::Error>(())
//! ```
//!
//! # Layers
//! Like libffi, from the bottom up: [`types`] (the 18 codes), [`Signature`] (parsed once),
//! [`Library`] (open, look up, close), [`Function`] (a prepared call interface),
//! [`Arg`]/[`Value`] (values in and out), [`Variable`], [`Callback`], [`memory`] views,
//! variadic calls ([`VariadicFunction`]) and the zero-overhead [`Typed`] binding.
//!
//! # Conversions
//! Arguments follow MicroPython's rules, except where MicroPython crashes or misbehaves:
//!
//! | slot | accepts |
//! |---|---|
//! | `b B h H i I l L q Q` | integers (truncated to the slot's width, like a C cast), `bool` (1/0), `Null` (0) |
//! | `f d` | integers, `bool`, `f32`, `f64` |
//! | `p P s O` | `Null`, raw pointers, integer addresses, `&str` (copied, NUL-terminated), `&CStr`, byte and typed slices, callbacks |
//! | `C` | `Null`, callbacks, raw pointers, integer addresses |
//!
//! Anything else is an [`Error::ArgType`] naming the argument's index, the slot's code and
//! what was given (a float in an integer slot, `Null` in a float slot, a string in an
//! integer slot). Return values: `v` gives [`Value::None`], `b h i l q` sign-extended
//! [`Value::Int`], `B H I L Q` zero-extended [`Value::UInt`], `f`/`d` [`Value::Float`] /
//! [`Value::Double`], `s` a copied [`Value::Str`] (NULL gives `None`), `p P O C`
//! [`Value::Ptr`].
//!
//! # Safety model
//! Following libloading, every public function that can cause undefined behaviour is an
//! `unsafe fn` whose `# Safety` section says what the caller vouches for; everything else
//! is safe.
//!
//! | step | safe? | the caller vouches that |
//! |---|---|---|
//! | [`Library::open`] | `unsafe` | running the library's initialisers (and, on unload, its termination routines) is sound |
//! | [`Library::this_process`] | safe | (nothing new is loaded) |
//! | declaring: [`Library::func`], [`Library::func_variadic`], [`Library::var`], [`VariadicFunction::prepare`], [`Callback::new`] | safe | (nothing is called or read) |
//! | [`Function::call`], [`Function::call_with_errno`], [`VariadicFunction::call`] | `unsafe` | the codes are the C function's real signature, and the arguments satisfy its contract (pointers valid for what it reads and writes, buffers long enough, callbacks outliving any use C makes of them) |
//! | [`Variable::get`], [`Variable::set`] | `unsafe` | the symbol is an object of the declared type, and no other thread races the access |
//! | raw addresses: [`Function::from_addr`], [`Variable::from_addr`], [`memory`], [`Library::typed`] | `unsafe` | the address is what it is declared to be |
//!
//! Like MicroPython's `ffi` and Python's `ctypes`, the *declaration* is trusted at the
//! call: what a C function does with the memory it is given is beyond Rust's reach. What
//! can be checked is, and is not the caller's burden: codes, argument counts and kinds,
//! NULs inside strings (`&str` arguments are copied and NUL-terminated), lifetimes
//! (borrowed buffers and callbacks live for the whole call; functions and variables keep
//! their library loaded), and panics (a panicking callback never unwinds into C).
//!
//! # Speed
//! Declaring classifies the signature once: where every argument travels in registers
//! (x86-64 and aarch64 Linux), a call converts its arguments straight into those registers
//! and calls through a function pointer of a fixed shape ([`CallPath::Registers`]);
//! otherwise it converts them into stack slots and calls `ffi_call` on libffi's call
//! interface, prepared at declaration ([`CallPath::Libffi`]). Both behave identically, with
//! no heap allocation for up to [`INLINE_ARGS`] arguments and [`ARENA_BYTES`] of string
//! copies.

#![warn(missing_docs)]

mod call;
pub mod callback;
mod errno;
pub mod error;
mod fast;
pub mod function;
mod guard;
pub mod library;
pub mod memory;
pub mod signature;
mod trampoline;
pub mod typed;
pub mod types;
pub mod value;
pub mod variable;

pub use call::{ARENA_BYTES, INLINE_ARGS};
pub use callback::Callback;
pub use errno::{errno, set_errno};
pub use error::{Error, Result};
pub use function::{CallPath, Function, VariadicFunction};
pub use library::Library;
pub use signature::Signature;
pub use typed::{FnPtr, Typed};
pub use types::TypeCode;
pub use value::{Arg, Buffer, CallbackRef, Plain, Value};
pub use variable::Variable;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
