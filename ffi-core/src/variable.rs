//! C global variables (MicroPython's `lib.var`).

use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::call;
use crate::error::{Error, Result};
use crate::library::Handle;
use crate::signature::parse_return;
use crate::types::TypeCode;
use crate::value::{Arg, Value};

/// A typed view of a C global: [`get`](Variable::get) reads it, [`set`](Variable::set)
/// writes it, converting per its type code like call arguments and return values.
///
/// glibc's `errno` works as in MicroPython: `dlsym("errno")` resolves the thread-local
/// variable for the thread that declared it. Because of that, and because unsynchronised
/// access from several threads would race, a `Variable` stays on the thread that declared
/// it (it is neither `Send` nor `Sync`); declare it again in another thread.
///
/// Declaring is safe; [`get`](Variable::get) and [`set`](Variable::set) are `unsafe`,
/// because only the caller knows that the symbol really is an object of the declared type.
///
/// ```
/// use ffi_core::Library;
/// let libc = Library::this_process()?;
/// let errno = libc.var("i", "errno")?;
/// // SAFETY: glibc's errno is an `int`, this thread's own (no other thread writes it).
/// unsafe { errno.set(0) }?;
/// // SAFETY: as above.
/// assert_eq!(unsafe { errno.get() }.as_i64(), Some(0));
/// # Ok::<(), ffi_core::Error>(())
/// ```
pub struct Variable {
    addr: *mut c_void,
    code: TypeCode,
    name: Box<str>,
    _owner: Option<Arc<Handle>>,
    _thread_bound: PhantomData<*mut ()>,
}

impl Variable {
    /// A variable of type `code` at a raw address.
    ///
    /// # Safety
    /// `addr` must point to a live, aligned C object of `code`'s type that stays valid
    /// while the `Variable` lives, and no other thread may access it concurrently.
    pub unsafe fn from_addr(addr: *mut c_void, code: &str) -> Result<Variable> {
        let code = parse_return(code)?;
        if code == TypeCode::Void {
            return Err(Error::VoidArgument {
                position: 0,
                signature: "v".into(),
            });
        }
        if addr.is_null() {
            return Err(Error::NullPointer { len: code.size() });
        }
        // SAFETY: forwarded from the caller.
        Ok(unsafe {
            Variable::with_owner(addr, code, format!("variable at {addr:p}").into(), None)
        })
    }

    /// # Safety
    /// As `from_addr`, with `owner` keeping the library loaded.
    pub(crate) unsafe fn with_owner(
        addr: *mut c_void,
        code: TypeCode,
        name: Box<str>,
        owner: Option<Arc<Handle>>,
    ) -> Variable {
        Variable {
            addr,
            code,
            name,
            _owner: owner,
            _thread_bound: PhantomData,
        }
    }

    /// Reads the variable (an `s` variable is copied as a string, NULL giving `None`).
    ///
    /// # Safety
    /// - The symbol really is a C object of the declared type (e.g. `i` for an `int`, not a
    ///   `short`, an array or a function); reading it as another type is undefined
    ///   behaviour. For `s`, its value is NULL or points to a NUL-terminated string.
    /// - No other thread writes it during the read (a `Variable` itself never leaves its
    ///   thread, but C code and other declarations of the same symbol can).
    ///
    /// ffi-core itself ensures the address is non-NULL and the library stays loaded.
    pub unsafe fn get(&self) -> Value {
        // SAFETY: `addr` is live (owner keeps the library loaded); its type and the absence
        // of racing writers are forwarded from the caller.
        unsafe { call::load::<false>(self.code, self.addr) }
    }

    /// Writes the variable: integers truncated to its width, numbers into floats, raw
    /// pointers, integer addresses and `Null` into pointers.
    ///
    /// # Errors
    /// [`Error::ArgType`] for a value of the wrong kind; [`Error::VarSet`] for strings,
    /// buffers and callbacks, whose memory is borrowed and would dangle in a global.
    ///
    /// # Safety
    /// - The symbol really is a writable C object of the declared type; writing another
    ///   type's width or representation over it is undefined behaviour.
    /// - No other thread reads or writes it during the write.
    /// - A pointer stored in it satisfies whatever C code reading the global expects (valid
    ///   for as long as C uses it).
    ///
    /// ffi-core itself refuses values of the wrong kind and borrowed memory that would
    /// dangle (strings, buffers, callbacks), and keeps the library loaded.
    pub unsafe fn set<'a>(&self, value: impl Into<Arg<'a>>) -> Result<()> {
        let value = value.into();
        if matches!(
            value,
            Arg::Str(_) | Arg::CStr(_) | Arg::Buffer(_) | Arg::Callback(_)
        ) {
            return Err(Error::VarSet {
                name: self.name.to_string(),
                code: self.code.as_char(),
                got: value.describe(),
                why: "its memory is borrowed only for this call and would dangle; store a raw pointer to memory that outlives the variable",
            });
        }
        // SAFETY: as in `get`, forwarded from the caller; `write` stores exactly `code`'s type.
        unsafe { call::write::<{ call::dest::EXACT }>(self.code, &value, self.addr) }
            .map_err(|expected| call::arg_type(&self.name, 0, self.code, expected, &value))
    }

    /// The variable's address.
    pub fn addr(&self) -> *mut c_void {
        self.addr
    }

    /// The variable's type code.
    pub fn code(&self) -> TypeCode {
        self.code
    }

    /// The variable's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<ffivar {} '{}' at {:p}>",
            self.name,
            self.code.as_char(),
            self.addr
        )
    }
}
