//! Declared C functions: a prepared call interface plus a code address.

use std::ffi::{c_int, c_void};
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::Arc;

use libffi::low::{ffi_cif, ffi_type};

use crate::call::{self, Cif, Plan, Target, INLINE_ARGS};
use crate::error::{Error, Result};
use crate::fast::{self, Entry, ErrnoEntry, Raw, Returned, Shape};
use crate::library::Handle;
use crate::signature::{codes_to_string, parse_args, Signature};
use crate::types::TypeCode;
use crate::value::{Arg, Value};

/// A C function declared with type codes (MicroPython's `lib.func(...)` object).
///
/// The signature was parsed and libffi's call interface prepared when it was declared;
/// [`call`](Function::call) only converts arguments and calls. A `Function` keeps its
/// library loaded (see [`Library`](crate::Library)) and can be shared between threads.
///
/// Declaring is safe; calling is `unsafe` (see [`call`](Function::call)'s `# Safety`), because
/// only the caller knows whether the codes are the C function's real signature and whether
/// the arguments satisfy its contract.
///
/// ```
/// use ffi_core::Library;
/// let libc = Library::this_process()?;
/// let strlen = libc.func("l", "strlen", "s")?;
/// // SAFETY: strlen is `size_t strlen(const char *)`; ffi-core passes a NUL-terminated copy.
/// let n = unsafe { strlen.call(&["Hello, World!".into()]) }?;
/// assert_eq!(n.as_i64(), Some(13));
/// # Ok::<(), ffi_core::Error>(())
/// ```
pub struct Function {
    cif: Cif,
    /// How arguments are converted, chosen once from the argument codes.
    plan: Plan,
    /// The register path's shape, chosen once from the signature; `None`: libffi.
    shape: Option<Shape>,
    /// What [`call`](Function::call) runs: the shape's entry; `None`: libffi (tested
    /// per call: cheaper than an entry of its own, whose result would have to be built
    /// out of line).
    entry: Option<Entry>,
    /// What [`call_with_errno`](Function::call_with_errno) runs.
    errno_entry: ErrnoEntry,
    fun: *const c_void,
    signature: Signature,
    name: Box<str>,
    _owner: Option<Arc<Handle>>,
}

// SAFETY: a Function is immutable after construction; `ffi_call` only reads the cif, and
// the code address may be called from any thread (thread-safety of the C function itself
// is part of the caller's contract, as with any C call). The owner handle is an Arc.
unsafe impl Send for Function {}
// SAFETY: as above; `call` takes `&self` and mutates nothing shared.
unsafe impl Sync for Function {}

impl Function {
    /// Declares the function at a raw address (MicroPython's `ffi.func(ret, addr, args)`).
    ///
    /// # Safety
    /// `addr` must be the address of a C function whose signature matches `ret`/`args`, and
    /// it must stay valid (its library loaded) for as long as the `Function` lives.
    ///
    /// # Errors
    /// Signature errors, and [`Error::NullPointer`] for a NULL address.
    pub unsafe fn from_addr(addr: *const c_void, ret: &str, args: &str) -> Result<Function> {
        if addr.is_null() {
            return Err(Error::NullPointer { len: 0 });
        }
        let signature = Signature::parse(ret, args)?;
        // SAFETY: forwarded from the caller.
        unsafe {
            Function::with_owner(
                addr,
                signature,
                format!("function at {addr:p}").into(),
                None,
            )
        }
    }

    /// # Safety
    /// `fun` must be a function with `signature`, valid while `owner` (if any) is alive.
    pub(crate) unsafe fn with_owner(
        fun: *const c_void,
        signature: Signature,
        name: Box<str>,
        owner: Option<Arc<Handle>>,
    ) -> Result<Function> {
        let cif =
            Cif::new(signature.ret(), signature.args(), None).map_err(|reason| Error::Prepare {
                function: name.to_string(),
                ret: signature.ret().as_char(),
                args: signature.args_string(),
                reason,
            })?;
        let shape = Shape::classify(signature.ret(), signature.args());
        Ok(Function {
            cif,
            plan: Plan::for_codes(signature.args()),
            shape,
            entry: shape.map(|s| s.entry),
            errno_entry: shape.map_or(LIBFFI_ERRNO, |s| s.errno_entry),
            fun,
            signature,
            name,
            _owner: owner,
        })
    }

    #[inline(always)]
    fn target(&self) -> Target<'_> {
        Target {
            cif: self.cif.as_ptr(),
            fun: self.fun,
            name: &self.name,
            codes: self.signature.args(),
            plan: self.plan,
            ret: self.signature.ret(),
        }
    }

    /// Calls the function with one [`Arg`] per declared argument code and converts the
    /// result per the return code.
    ///
    /// No heap allocation happens for up to [`INLINE_ARGS`] arguments
    /// whose `&str` arguments total at most [`ARENA_BYTES`](crate::ARENA_BYTES) bytes
    /// (including their NULs), except for the `String` of an `s` return value.
    ///
    /// # Errors
    /// [`Error::ArgCount`], [`Error::ArgType`] (naming the argument index, the slot's code
    /// and what was given), [`Error::NulInString`], and [`Error::CallbackPanicked`] /
    /// [`Error::CallbackReturn`] if a callback failed while C ran this call.
    ///
    /// # Safety
    /// Calling into C runs code Rust cannot check. The caller must make sure that:
    ///
    /// - the codes this function was declared with are the C function's real signature
    ///   (argument and return types, in order); a wrong declaration is undefined behaviour
    ///   whatever the arguments;
    /// - the arguments satisfy the C function's own contract: pointers (raw pointers,
    ///   integer addresses, buffers) are valid for everything it reads and writes through
    ///   them, buffers are at least as long as it uses, objects are in the state it expects
    ///   (e.g. `free` only on a pointer from `malloc`, once), and a callback it keeps (a
    ///   signal handler, a registered hook) outlives every call C makes to it;
    /// - the C function is safe to call from this thread, concurrently with whatever other
    ///   threads are doing.
    ///
    /// What ffi-core checks itself is not the caller's burden: the codes are valid, the
    /// argument count matches, each argument's kind fits its slot, strings contain no NUL,
    /// `&str` arguments are copied and NUL-terminated, borrowed buffers and callbacks live
    /// for the whole call (the borrow checker sees to it), a panicking callback does not
    /// unwind into C, and the library stays loaded while the `Function` lives.
    #[inline]
    pub unsafe fn call(&self, args: &[Arg<'_>]) -> Result<Value> {
        // SAFETY: the shape (if any) and the cif were chosen and prepared for this
        // signature; that the address has it and that the arguments satisfy the C
        // contract is forwarded from the caller.
        let raw = unsafe {
            match self.entry {
                Some(entry) => entry(self, args),
                None => return self.call_libffi(args),
            }
        };
        // The usual returns are built here, in the caller, from the two words the entry
        // returned in registers (see `fast::Entry`); the rest out of line.
        match raw.kind {
            Returned::Int => Ok(Value::Int(raw.bits as i64)),
            Returned::UInt => Ok(Value::UInt(raw.bits)),
            Returned::Double => Ok(Value::Double(f64::from_bits(raw.bits))),
            Returned::Ptr => Ok(Value::Ptr(raw.bits as usize as *mut c_void)),
            Returned::Void => Ok(Value::None),
            // SAFETY: as above; `raw` is this call's.
            _ => unsafe { self.call_rest(raw, args) },
        }
    }

    /// The rest of [`call`](Function::call) on the register path: the less usual returns,
    /// callback failures, and the calls its entry left to the general conversions.
    ///
    /// # Safety
    /// As [`call`](Function::call); `raw` is what `self.entry` returned for `args`.
    #[inline(never)]
    unsafe fn call_rest(&self, raw: Raw, args: &[Arg<'_>]) -> Result<Value> {
        // SAFETY: forwarded from the caller; `raw` comes from an entry of this function's
        // shape.
        unsafe { fast::finish::<false>(self, args, raw, &mut 0) }
    }

    /// [`call`](Function::call) through libffi, out of line.
    ///
    /// # Safety
    /// As [`call`](Function::call).
    #[inline(never)]
    unsafe fn call_libffi(&self, args: &[Arg<'_>]) -> Result<Value> {
        // SAFETY: forwarded from the caller; the cif was prepared for this signature.
        unsafe { call::invoke::<false>(&self.target(), args, &mut 0) }
    }

    /// Like [`call`](Function::call), and also returns `errno` as it was right after the C
    /// function returned: errno is set to 0 just before the call and read immediately
    /// after `ffi_call`, before any Rust code could overwrite it.
    ///
    /// ```
    /// use ffi_core::Library;
    /// let libc = Library::this_process()?;
    /// let open = libc.func("i", "open", "si")?;
    /// // SAFETY: open's fixed parameters are `const char *` and `int`; with O_RDONLY (0) it
    /// // reads no mode argument, and the path is a NUL-terminated copy.
    /// let (fd, errno) = unsafe { open.call_with_errno(&["/nonexistent/file".into(), 0.into()]) }?;
    /// assert_eq!(fd.as_i64(), Some(-1));
    /// assert_eq!(errno, libc::ENOENT);
    /// # Ok::<(), ffi_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`call`](Function::call).
    ///
    /// # Safety
    /// As [`call`](Function::call).
    #[inline]
    pub unsafe fn call_with_errno(&self, args: &[Arg<'_>]) -> Result<(Value, c_int)> {
        let mut errno = 0;
        // SAFETY: as in `call`, forwarded from the caller.
        let value = unsafe { (self.errno_entry)(self, args, &mut errno) }?;
        Ok((value, errno))
    }

    /// What the register path's mixed shapes read: code address, name, argument codes,
    /// plan and shape. Only called on functions that have a shape.
    #[inline(always)]
    pub(crate) fn register_parts(&self) -> (*const c_void, &str, &[TypeCode], Plan, &Shape) {
        let (fun, shape) = self.register_shape();
        (fun, &self.name, self.signature.args(), self.plan, shape)
    }

    /// The code address and the shape. Only called on functions that have a shape.
    #[inline(always)]
    pub(crate) fn register_shape(&self) -> (*const c_void, &Shape) {
        let shape = match &self.shape {
            Some(shape) => shape,
            // SAFETY: the register path's entries are only reached through `self.entry` and
            // `self.errno_entry`, which are a shape's only when `self.shape` is that shape.
            None => unsafe { std::hint::unreachable_unchecked() },
        };
        (self.fun, shape)
    }

    /// The declared signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The function's name (or `function at 0x...` for [`from_addr`](Function::from_addr)).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The code address being called.
    pub fn addr(&self) -> *const c_void {
        self.fun
    }

    /// Which way this function's calls go, chosen once when it was declared.
    ///
    /// ```
    /// use ffi_core::{CallPath, Library};
    /// let libc = Library::this_process()?;
    /// let abs = libc.func("i", "abs", "i")?;
    /// // Either way, a call behaves the same; only its cost differs.
    /// assert!(matches!(abs.call_path(), CallPath::Registers | CallPath::Libffi));
    /// assert_eq!(abs.on_libffi().call_path(), CallPath::Libffi);
    /// # Ok::<(), ffi_core::Error>(())
    /// ```
    pub fn call_path(&self) -> CallPath {
        match self.shape {
            Some(_) => CallPath::Registers,
            None => CallPath::Libffi,
        }
    }

    /// The same function, called through libffi whatever its signature allows: for
    /// comparing the two paths (ffi-core's differential test) and for benchmarks.
    pub fn on_libffi(mut self) -> Function {
        self.shape = None;
        (self.entry, self.errno_entry) = (None, LIBFFI_ERRNO);
        self
    }
}

/// [`Function::call_with_errno`]'s entry on libffi.
const LIBFFI_ERRNO: ErrnoEntry = libffi_call_errno;

/// [`ErrnoEntry`] through libffi.
///
/// # Safety
/// As [`Function::call`].
unsafe fn libffi_call_errno(f: &Function, args: &[Arg<'_>], errno: &mut c_int) -> Result<Value> {
    // SAFETY: as above.
    unsafe { call::invoke::<true>(&f.target(), args, errno) }
}

/// How a [`Function`]'s calls reach C, chosen once per signature when it is declared.
///
/// Both paths convert arguments, copy strings, capture errno, surface callback failures and
/// report errors identically; ffi-core's differential test calls the same C functions both
/// ways and compares everything C received and returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallPath {
    /// Every argument and the return value travel in registers under the platform's C
    /// calling convention: the call goes through a function pointer of a fixed shape, with
    /// the argument registers written as that convention requires.
    Registers,
    /// Through libffi's `ffi_call`: arguments on the stack, variadic functions, platforms
    /// without a register path, or forced by [`Function::on_libffi`] or the
    /// `FFI_CORE_LIBFFI_ONLY` environment variable.
    Libffi,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<ffifunc {} {} at {:p}>",
            self.name, self.signature, self.fun
        )
    }
}

/// A variadic C function such as `printf` or `snprintf`: fixed arguments declared once,
/// variadic ones typed at each call.
///
/// Variadic arguments follow C's default promotions: `f` must be passed as `d`, and
/// `b B h H` as `i`/`I`; other codes are refused with [`Error::VariadicPromotion`].
pub struct VariadicFunction {
    fun: *const c_void,
    ret: TypeCode,
    fixed: Box<[TypeCode]>,
    name: Box<str>,
    owner: Option<Arc<Handle>>,
}

// SAFETY: immutable after construction; see `Function`.
unsafe impl Send for VariadicFunction {}
// SAFETY: as above.
unsafe impl Sync for VariadicFunction {}

impl VariadicFunction {
    /// Declares the variadic function at a raw address.
    ///
    /// # Safety
    /// As [`Function::from_addr`], for a variadic function with these fixed arguments.
    pub unsafe fn from_addr(
        addr: *const c_void,
        ret: &str,
        fixed: &str,
    ) -> Result<VariadicFunction> {
        if addr.is_null() {
            return Err(Error::NullPointer { len: 0 });
        }
        let ret = crate::signature::parse_return(ret)?;
        let fixed = parse_args(fixed)?;
        // SAFETY: forwarded from the caller.
        Ok(unsafe {
            VariadicFunction::with_owner(
                addr,
                ret,
                fixed,
                format!("function at {addr:p}").into(),
                None,
            )
        })
    }

    /// # Safety
    /// `fun` must be a variadic function with these fixed arguments, valid while `owner` lives.
    pub(crate) unsafe fn with_owner(
        fun: *const c_void,
        ret: TypeCode,
        fixed: Vec<TypeCode>,
        name: Box<str>,
        owner: Option<Arc<Handle>>,
    ) -> VariadicFunction {
        VariadicFunction {
            fun,
            ret,
            fixed: fixed.into(),
            name,
            owner,
        }
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls with `args` = the fixed arguments followed by the variadic ones, whose codes
    /// are `variadic` (e.g. `"id"` for an int and a double). The call interface is prepared
    /// on the stack for this call (`ffi_prep_cif_var`); no heap allocation for up to
    /// [`INLINE_ARGS`] arguments in all.
    ///
    /// # Errors
    /// Code errors for `variadic` ([`Error::UnknownCode`], [`Error::VoidArgument`],
    /// [`Error::VariadicPromotion`]) and every error of [`Function::call`].
    ///
    /// # Safety
    /// As [`Function::call`], for the fixed codes declared with
    /// [`func_variadic`](crate::Library::func_variadic) and the `variadic` codes of this
    /// call: together they must be what the C function reads (for `printf`-like functions,
    /// what the format string asks for), and the arguments must satisfy its contract (e.g.
    /// a destination buffer at least as long as the size passed to `snprintf`). ffi-core
    /// checks the codes, C's default promotions, counts, kinds and NULs.
    pub unsafe fn call(&self, variadic: &str, args: &[Arg<'_>]) -> Result<Value> {
        let nfixed = self.fixed.len();
        let total = nfixed + variadic.chars().count();
        if total > INLINE_ARGS {
            // SAFETY: the same function and codes, prepared once; forwarded from the caller.
            return unsafe { self.prepare(variadic)?.call(args) };
        }
        let mut codes = [TypeCode::Int; INLINE_ARGS];
        codes[..nfixed].copy_from_slice(&self.fixed);
        for (position, c) in variadic.chars().enumerate() {
            codes[nfixed + position] = self.variadic_code(variadic, position, c)?;
        }
        let codes = &codes[..total];
        let mut types = [std::ptr::null_mut::<ffi_type>(); INLINE_ARGS];
        for (t, c) in types.iter_mut().zip(codes) {
            *t = c.ffi_type();
        }
        let mut cif = MaybeUninit::<ffi_cif>::zeroed();
        // SAFETY: `types` holds `total` valid type pointers and outlives every use of `cif`
        // (both live until the end of this function).
        unsafe {
            call::prepare(
                cif.as_mut_ptr(),
                self.ret,
                types.as_mut_ptr(),
                total,
                Some(nfixed),
            )
        }
        .map_err(|reason| self.prepare_error(variadic, reason))?;
        let target = Target {
            cif: cif.as_mut_ptr(),
            fun: self.fun,
            name: &self.name,
            codes,
            plan: Plan::for_codes(codes),
            ret: self.ret,
        };
        // SAFETY: the cif was prepared just now for exactly these codes; that they and the
        // arguments match the C function is forwarded from the caller.
        unsafe { call::invoke::<false>(&target, args, &mut 0) }
    }

    /// Prepares a [`Function`] for one fixed set of variadic codes, for repeated calls
    /// without re-preparing the call interface.
    pub fn prepare(&self, variadic: &str) -> Result<Function> {
        let mut codes = self.fixed.to_vec();
        for (position, c) in variadic.chars().enumerate() {
            codes.push(self.variadic_code(variadic, position, c)?);
        }
        let signature = Signature::new(self.ret, &codes)?;
        let cif = Cif::new(self.ret, &codes, Some(self.fixed.len()))
            .map_err(|reason| self.prepare_error(variadic, reason))?;
        Ok(Function {
            cif,
            plan: Plan::for_codes(&codes),
            // Variadic callees read their arguments differently (the vector register count
            // in `al` on x86-64, the stack on some ABIs): always libffi.
            shape: None,
            entry: None,
            errno_entry: LIBFFI_ERRNO,
            fun: self.fun,
            signature,
            name: self.name.clone(),
            _owner: self.owner.clone(),
        })
    }

    fn variadic_code(&self, variadic: &str, position: usize, c: char) -> Result<TypeCode> {
        let code = match TypeCode::from_char(c) {
            Some(TypeCode::Void) => {
                return Err(Error::VoidArgument {
                    position,
                    signature: variadic.to_owned(),
                })
            }
            Some(code) => code,
            None => {
                return Err(Error::UnknownCode {
                    code: c,
                    position,
                    signature: variadic.to_owned(),
                })
            }
        };
        let promoted = match code {
            TypeCode::Float => Some('d'),
            TypeCode::I8 | TypeCode::U8 | TypeCode::I16 | TypeCode::U16 => Some('i'),
            _ => None,
        };
        match promoted {
            Some(promoted) => Err(Error::VariadicPromotion {
                function: self.name.to_string(),
                index: self.fixed.len() + position,
                code: c,
                promoted,
            }),
            None => Ok(code),
        }
    }

    #[cold]
    fn prepare_error(&self, variadic: &str, reason: String) -> Error {
        Error::Prepare {
            function: self.name.to_string(),
            ret: self.ret.as_char(),
            args: format!("{}...{}", codes_to_string(&self.fixed), variadic),
            reason,
        }
    }
}

impl fmt::Debug for VariadicFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<ffifunc {} (\"{}\", \"{}...\") at {:p}>",
            self.name,
            self.ret.as_char(),
            codes_to_string(&self.fixed),
            self.fun
        )
    }
}
