//! Shared libraries: open, look up symbols, declare functions and variables, close.

use std::error::Error as _;
use std::ffi::{c_void, OsStr};
use std::fmt;
use std::sync::Arc;

use libloading::os::unix::{Library as RawLibrary, RTLD_LOCAL, RTLD_NOW};

use crate::error::{Error, Result};
use crate::function::{Function, VariadicFunction};
use crate::signature::{parse_args, parse_return, Signature};
use crate::typed::{FnPtr, Typed};
use crate::variable::Variable;

/// The loaded library, shared by the [`Library`] and everything declared from it.
pub(crate) struct Handle {
    raw: RawLibrary,
}

/// A shared library opened with `dlopen` (MicroPython's `ffi.open`).
///
/// # Lifetimes: reference counting, not borrows
/// Every [`Function`] and [`Variable`] declared from a library holds a reference-counted
/// handle to it, so it can be stored anywhere (in a struct next to nothing else, in
/// another thread) and can never call into an unloaded library. [`Library::close`] (or
/// dropping the `Library`) gives up this object's reference; `dlclose` runs when the last
/// function or variable declared from it is dropped too. The zero-overhead
/// [`typed`](Library::typed) binding is the exception: it borrows the `Library`, so the
/// borrow checker keeps the library open while it is used.
///
/// ```
/// use ffi_core::Library;
/// // SAFETY: libm is the system's C maths library; its initialisers are sound.
/// let libm = unsafe { Library::open("libm.so.6") }?;
/// let sqrt = libm.func("d", "sqrt", "d")?;
/// // SAFETY: sqrt is `double sqrt(double)` and takes any value.
/// assert_eq!(unsafe { sqrt.call(&[16.0.into()]) }?.to_string(), "4.0");
/// # Ok::<(), ffi_core::Error>(())
/// ```
pub struct Library {
    handle: Option<Arc<Handle>>,
    name: String,
}

impl Library {
    /// Opens a library by path (`"./libmylib.so"`) or soname (`"libc.so.6"`) with
    /// `dlopen(name, RTLD_NOW | RTLD_LOCAL)`, as MicroPython does.
    ///
    /// # Errors
    /// [`Error::Open`] naming the library with `dlerror()`'s text;
    /// [`Error::NulInName`] if `name` contains a NUL byte.
    ///
    /// # Safety
    /// As with libloading's `Library::new`: when a library is loaded, its initialisation
    /// routines run (ELF constructors, `.init_array`, and those of every library it pulls
    /// in), and its termination routines run when it is finally unloaded (when this
    /// `Library` and everything declared from it are gone). For safety, running them is
    /// the same as calling an unknown foreign function: arbitrary native code that Rust
    /// cannot check and that may impose any requirement on the caller. So the caller must
    /// make sure that loading and unloading this particular library is sound: its
    /// initialisers and termination routines have no preconditions the program does not
    /// meet (e.g. they are not sensitive to the thread they run on, to other threads
    /// running, or to the order libraries are loaded in) and they do not break invariants
    /// Rust code relies on. A library found by soname is whatever the dynamic loader's
    /// search path resolves it to; pass a path to be sure.
    ///
    /// Nothing *declared* from the library is vouched for here: calling its functions and
    /// reading its variables have their own `# Safety` sections.
    pub unsafe fn open(name: impl AsRef<OsStr>) -> Result<Library> {
        let name = name.as_ref();
        let display = name.to_string_lossy().into_owned();
        if name.as_encoded_bytes().contains(&0) {
            return Err(Error::NulInName {
                what: "library name",
                name: display,
            });
        }
        // SAFETY: loading runs the library's initialisers (and later its termination
        // routines); the caller vouches that doing so is sound (this fn's `# Safety`).
        let raw = unsafe { RawLibrary::open(Some(name), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
            Error::Open {
                library: display.clone(),
                message: dl_message(&e),
            }
        })?;
        Ok(Library::from_raw(raw, display))
    }

    /// Opens the running process (MicroPython's `ffi.open(None)`): the executable and every
    /// library loaded globally with it, libc included.
    ///
    /// Safe, unlike [`open`](Library::open): nothing new is loaded, so no initialiser runs.
    pub fn this_process() -> Result<Library> {
        Ok(Library::from_raw(
            RawLibrary::this(),
            "the running process".to_owned(),
        ))
    }

    fn from_raw(raw: RawLibrary, name: String) -> Library {
        Library {
            handle: Some(Arc::new(Handle { raw })),
            name,
        }
    }

    /// The name the library was opened with (`"the running process"` for
    /// [`this_process`](Library::this_process)).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether [`close`](Library::close) was called.
    pub fn is_closed(&self) -> bool {
        self.handle.is_none()
    }

    /// Gives up this object's reference to the library; closing twice is harmless.
    ///
    /// `dlclose` runs now if nothing declared from the library is alive, otherwise when
    /// the last such [`Function`] or [`Variable`] is dropped. Afterwards lookups fail with
    /// [`Error::Closed`].
    ///
    /// # Errors
    /// [`Error::Close`] with `dlerror()`'s text if `dlclose` fails.
    pub fn close(&mut self) -> Result<()> {
        let Some(handle) = self.handle.take() else {
            return Ok(());
        };
        match Arc::try_unwrap(handle) {
            Ok(handle) => handle.raw.close().map_err(|e| Error::Close {
                library: self.name.clone(),
                message: dl_message(&e),
            }),
            Err(_still_shared) => Ok(()),
        }
    }

    pub(crate) fn handle(&self, symbol: &str) -> Result<&Arc<Handle>> {
        self.handle.as_ref().ok_or_else(|| Error::Closed {
            library: self.name.clone(),
            symbol: symbol.to_owned(),
        })
    }

    /// The address of symbol `name` (MicroPython's `lib.addr`).
    ///
    /// # Errors
    /// [`Error::SymbolNotFound`] naming the symbol and the library, [`Error::Closed`],
    /// [`Error::NulInName`].
    pub fn addr(&self, name: &str) -> Result<*mut c_void> {
        let handle = self.handle(name)?;
        if name.as_bytes().contains(&0) {
            return Err(Error::NulInName {
                what: "symbol",
                name: name.to_owned(),
            });
        }
        // SAFETY: the symbol is read as an untyped address, never dereferenced here.
        let symbol = unsafe { handle.raw.get::<*mut c_void>(name.as_bytes()) };
        match symbol {
            Ok(symbol) => Ok(symbol.into_raw()),
            Err(e) => Err(Error::SymbolNotFound {
                symbol: name.to_owned(),
                library: self.name.clone(),
                message: dl_message(&e),
            }),
        }
    }

    /// Like [`addr`](Library::addr), but a NULL address is an error: a function or a
    /// variable needs a real one.
    pub(crate) fn non_null_addr(&self, name: &str) -> Result<*mut c_void> {
        let addr = self.addr(name)?;
        if addr.is_null() {
            return Err(Error::NullSymbol {
                symbol: name.to_owned(),
                library: self.name.clone(),
            });
        }
        Ok(addr)
    }

    /// Declares function `name` with return code `ret` and argument codes `args`
    /// (MicroPython's `lib.func(ret, name, args)`), e.g. `func("i", "open", "si")`.
    ///
    /// The signature is parsed and libffi's call interface prepared here, once. Declaring
    /// is safe: nothing is called; [`Function::call`] is where the caller vouches for the
    /// signature.
    ///
    /// # Errors
    /// Signature errors ([`Error::UnknownCode`], [`Error::BadReturnCode`],
    /// [`Error::VoidArgument`]) and lookup errors ([`Error::SymbolNotFound`], ...).
    pub fn func(&self, ret: &str, name: &str, args: &str) -> Result<Function> {
        let signature = Signature::parse(ret, args)?;
        let addr = self.non_null_addr(name)?;
        let owner = self.handle(name)?.clone();
        // SAFETY: `addr` is the symbol's address in a library kept loaded by `owner`;
        // declaring calls nothing, and `Function::call`'s caller vouches for the signature.
        unsafe { Function::with_owner(addr, signature, name.into(), Some(owner)) }
    }

    /// Declares a variadic function such as `printf`: `fixed` are the codes of the fixed
    /// arguments; the variadic ones are typed at each call
    /// ([`VariadicFunction::call`]).
    ///
    /// ```
    /// use ffi_core::Library;
    /// let libc = Library::this_process()?;
    /// let snprintf = libc.func_variadic("i", "snprintf", "pLs")?;
    /// let mut buf = [0u8; 32];
    /// // SAFETY: snprintf is `int snprintf(char *, size_t, const char *, ...)`; buf is 32
    /// // bytes, the size we pass, and "%d-%.1f" reads exactly the int and double given.
    /// let n = unsafe {
    ///     snprintf.call("id", &[(&mut buf).into(), 32usize.into(), "%d-%.1f".into(), 7.into(), 2.5.into()])
    /// }?;
    /// assert_eq!(n.as_i64(), Some(5));
    /// assert_eq!(&buf[..6], b"7-2.5\0");
    /// # Ok::<(), ffi_core::Error>(())
    /// ```
    pub fn func_variadic(&self, ret: &str, name: &str, fixed: &str) -> Result<VariadicFunction> {
        let ret = parse_return(ret)?;
        let fixed = parse_args(fixed)?;
        let addr = self.non_null_addr(name)?;
        let owner = self.handle(name)?.clone();
        // SAFETY: as in `func`.
        Ok(unsafe { VariadicFunction::with_owner(addr, ret, fixed, name.into(), Some(owner)) })
    }

    /// Declares C global `name` of type `code` (MicroPython's `lib.var`), e.g.
    /// `var("i", "errno")`.
    ///
    /// # Errors
    /// [`Error::BadReturnCode`]/[`Error::UnknownCode`] for the code (`v` is refused as
    /// [`Error::VoidArgument`]), lookup errors.
    pub fn var(&self, code: &str, name: &str) -> Result<Variable> {
        let code = parse_return(code)?;
        if code == crate::TypeCode::Void {
            return Err(Error::VoidArgument {
                position: 0,
                signature: "v".into(),
            });
        }
        let addr = self.non_null_addr(name)?;
        let owner = self.handle(name)?.clone();
        // SAFETY: `addr` is the variable's address in a library kept loaded by `owner`;
        // `Variable::get`/`set`'s caller vouches for its type.
        Ok(unsafe { Variable::with_owner(addr, code, name.into(), Some(owner)) })
    }

    /// A zero-overhead binding for a signature known at compile time:
    /// `lib.typed::<unsafe extern "C" fn(f64) -> f64>("sqrt")`. Calls go straight through
    /// the function pointer, no libffi involved.
    ///
    /// ```
    /// use ffi_core::Library;
    /// // SAFETY: libm is the system's C maths library; its initialisers are sound.
    /// let libm = unsafe { Library::open("libm.so.6") }?;
    /// // SAFETY: sqrt has this C signature.
    /// let sqrt = unsafe { libm.typed::<unsafe extern "C" fn(f64) -> f64>("sqrt")? };
    /// assert_eq!(unsafe { sqrt(2.25) }, 1.5);
    /// # Ok::<(), ffi_core::Error>(())
    /// ```
    ///
    /// `F` must be an `unsafe extern "C" fn` type: every call through the binding is an
    /// `unsafe` block whose caller vouches for the arguments and for the library being
    /// open. A safe `extern "C" fn` type is refused at compile time, because a copy of the
    /// pointer (`*typed`) could then be called from safe code after the library is unloaded,
    /// or with arguments the C function cannot take (`strlen(NULL)`):
    ///
    /// ```compile_fail,E0277
    /// use ffi_core::Library;
    /// let libc = Library::this_process()?;
    /// // error: `extern "C" fn() -> i32` is not `FnPtr` (only `unsafe extern "C" fn` types are)
    /// let getpid = unsafe { libc.typed::<extern "C" fn() -> i32>("getpid")? };
    /// # Ok::<(), ffi_core::Error>(())
    /// ```
    ///
    /// # Safety
    /// `F` must be the function's true C signature (argument and return types, `extern
    /// "C"` ABI). The returned [`Typed`] borrows the library, so the library stays open while
    /// it lives; a copy of the function pointer (`*typed`) escapes that guarantee: the
    /// `unsafe` block that calls the copy vouches that the library is still open.
    pub unsafe fn typed<F: FnPtr>(&self, name: &str) -> Result<Typed<'_, F>> {
        let addr = self.non_null_addr(name)?;
        // SAFETY: `addr` is non-NULL, and the caller vouches that it has type `F`.
        Ok(unsafe { Typed::from_addr(addr) })
    }
}

impl fmt::Debug for Library {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Library")
            .field("name", &self.name)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// `dlerror()`'s text from a libloading error (libloading keeps it in the error's source).
fn dl_message(e: &libloading::Error) -> String {
    match e.source() {
        Some(source) => source.to_string(),
        None => e.to_string(),
    }
}
