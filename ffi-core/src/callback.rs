//! Callbacks: Rust closures turned into C function pointers through libffi closures.
//!
//! A panic in a callback never unwinds into C: the trampoline catches it, returns 0 to C,
//! and records it. If the callback runs inside a [`Function::call`](crate::Function::call)
//! on the same thread (the usual case: `qsort` calling its comparator), that call returns
//! [`Error::CallbackPanicked`]. Otherwise (a locked callback, or a call from a thread C
//! created, or through a [`Typed`](crate::Typed) binding) a report goes to stderr and the
//! process goes on, like MicroPython's `lock=True` mode.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use libffi::low::{ffi_cif, ffi_closure};
use libffi::raw;

use crate::call::{self, Cif};
use crate::error::{Error, Result};
use crate::signature::Signature;
use crate::types::TypeCode;
use crate::value::{Arg, Value};

/// A C function pointer that runs a Rust closure (MicroPython's `ffi.callback`).
///
/// Arguments reach the closure as [`Value`]s converted per their declared codes (floats
/// as floats, `s` as a copied string, pointers as [`Value::Ptr`]); the closure's return is
/// converted per the return code with the same rules as call arguments. Pass it to a
/// function with a `C` slot (`&callback` converts to [`Arg`]) or take
/// [`code_ptr`](Callback::code_ptr). Dropping the `Callback` frees the closure: C must
/// not call it afterwards.
///
/// ```
/// use ffi_core::{Callback, Library, Value};
/// let libc = Library::this_process()?;
/// let qsort = libc.func("v", "qsort", "piiC")?;
/// let cmp = Callback::new("i", "PP", |args: &[Value]| {
///     // SAFETY: qsort passes pointers to two elements of the byte array.
///     let (a, b) = unsafe { (*args[0].as_ptr().unwrap().cast::<u8>(), *args[1].as_ptr().unwrap().cast::<u8>()) };
///     i32::from(a) - i32::from(b)
/// })?;
/// let mut data = *b"dcba";
/// qsort.call(&[(&mut data).into(), 4.into(), 1.into(), (&cmp).into()])?;
/// assert_eq!(&data, b"abcd");
/// # Ok::<(), ffi_core::Error>(())
/// ```
pub struct Callback<'f> {
    // Boxed so the closure's userdata pointer stays valid when the Callback moves.
    inner: Box<Inner<'f>>,
    closure: *mut ffi_closure,
    code: *mut c_void,
    _closure: PhantomData<&'f ()>,
}

// SAFETY: the closure body is `Send + Sync` (free mode) or `Send` behind a Mutex (lock
// mode); the libffi closure and cif are immutable after preparation.
unsafe impl Send for Callback<'_> {}
// SAFETY: as above; C may call the code pointer from any thread.
unsafe impl Sync for Callback<'_> {}

type FreeBody<'f> = Box<dyn Fn(&[Value]) -> Value + Send + Sync + 'f>;
type FnMutBody<'f> = Box<dyn FnMut(&[Value]) -> Value + Send + 'f>;
type LockedBody<'f> = Mutex<FnMutBody<'f>>;

enum Body<'f> {
    Free(FreeBody<'f>),
    Locked(LockedBody<'f>),
}

struct Inner<'f> {
    cif: Cif,
    signature: Signature,
    body: Body<'f>,
}

impl<'f> Callback<'f> {
    /// Creates a callback with return code `ret` and argument codes `args`.
    ///
    /// C may call it from any thread, concurrently, so the closure must be `Send + Sync`;
    /// use [`new_locked`](Callback::new_locked) for a closure that needs `&mut` state.
    ///
    /// # Errors
    /// Signature errors, [`Error::Prepare`], [`Error::ClosureAlloc`].
    pub fn new<F, R>(ret: &str, args: &str, f: F) -> Result<Callback<'f>>
    where
        F: Fn(&[Value]) -> R + Send + Sync + 'f,
        R: Into<Value>,
    {
        Callback::build(
            ret,
            args,
            Body::Free(Box::new(move |a: &[Value]| f(a).into())),
        )
    }

    /// Creates a callback in `lock` mode (MicroPython's `lock=True`): calls from several
    /// threads are serialised by a mutex, so the closure may be `FnMut`. A panic inside is
    /// reported on stderr, the callback returns 0 and the process goes on.
    pub fn new_locked<F, R>(ret: &str, args: &str, mut f: F) -> Result<Callback<'f>>
    where
        F: FnMut(&[Value]) -> R + Send + 'f,
        R: Into<Value>,
    {
        let body: FnMutBody<'f> = Box::new(move |a: &[Value]| f(a).into());
        Callback::build(ret, args, Body::Locked(Mutex::new(body)))
    }

    fn build(ret: &str, args: &str, body: Body<'f>) -> Result<Callback<'f>> {
        let signature = Signature::parse(ret, args)?;
        let cif =
            Cif::new(signature.ret(), signature.args(), None).map_err(|reason| Error::Prepare {
                function: "callback".into(),
                ret: signature.ret().as_char(),
                args: signature.args_string(),
                reason,
            })?;
        let inner = Box::new(Inner {
            cif,
            signature,
            body,
        });
        let (closure, code) =
            libffi::low::try_closure_alloc().ok_or_else(|| Error::ClosureAlloc {
                ret: inner.signature.ret().as_char(),
                args: inner.signature.args_string(),
            })?;
        let callback = Callback {
            closure,
            code: code.as_mut_ptr(),
            inner,
            _closure: PhantomData,
        };
        // SAFETY: the closure was just allocated with its code address; the cif and the
        // userdata (`Inner`) are boxed and live until `drop` frees the closure first.
        let status = unsafe {
            raw::ffi_prep_closure_loc(
                callback.closure,
                callback.inner.cif.as_ptr(),
                Some(trampoline),
                &*callback.inner as *const Inner<'_> as *mut c_void,
                callback.code,
            )
        };
        if status != raw::ffi_status_FFI_OK {
            return Err(Error::Prepare {
                function: "callback".into(),
                ret: callback.inner.signature.ret().as_char(),
                args: callback.inner.signature.args_string(),
                reason: format!("ffi_prep_closure_loc returned status {status}"),
            });
        }
        Ok(callback)
    }

    /// The C function pointer (MicroPython's `cb.cfun()`); valid while `self` lives.
    pub fn code_ptr(&self) -> *mut c_void {
        self.code
    }

    /// The declared signature.
    pub fn signature(&self) -> &Signature {
        &self.inner.signature
    }

    /// Whether this callback serialises its calls (lock mode).
    pub fn is_locked(&self) -> bool {
        matches!(self.inner.body, Body::Locked(_))
    }
}

impl Drop for Callback<'_> {
    fn drop(&mut self) {
        // SAFETY: `closure` came from `ffi_closure_alloc` and is freed once, before `inner`
        // (its userdata and cif) is dropped.
        unsafe { libffi::low::closure_free(self.closure) }
    }
}

impl fmt::Debug for Callback<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<fficallback {} at {:p}>",
            self.inner.signature, self.code
        )
    }
}

/// The C entry point of every callback: converts arguments, runs the closure without
/// letting a panic escape, converts the return value.
unsafe extern "C" fn trampoline(
    _cif: *mut ffi_cif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    userdata: *mut c_void,
) {
    // SAFETY: `userdata` is the `Inner` registered in `build`, alive while the closure is.
    let inner = unsafe { &*(userdata as *const Inner<'_>) };
    let ret_code = inner.signature.ret();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: libffi passes one pointer per declared argument, each to a value of
        // that argument's type.
        unsafe { with_values(inner.signature.args(), args, |values| inner.run(values)) }
    }));
    let failure = match outcome {
        Ok(_) if ret_code == TypeCode::Void => return,
        Ok(value) => match write_return(ret_code, &value, ret) {
            Ok(()) => return,
            Err(expected) => Failure::Return {
                code: ret_code.as_char(),
                expected,
                got: value.as_arg().describe(),
            },
        },
        Err(payload) => Failure::Panic(panic_message(payload.as_ref())),
    };
    if ret_code != TypeCode::Void {
        let zero = if ret_code.is_float() {
            Arg::F64(0.0)
        } else {
            Arg::Null
        };
        // SAFETY: `ret` is libffi's return buffer for `ret_code`; 0 / NULL fits every code.
        let _ = unsafe { call::write::<true>(ret_code, &zero, ret) };
    }
    report(failure, inner);
}

/// Converts the closure's result per the return code into libffi's return buffer.
///
/// # Safety
/// `ret` must be libffi's return buffer for a closure returning `code`.
#[inline(always)]
unsafe fn write_return(
    code: TypeCode,
    value: &Value,
    ret: *mut c_void,
) -> Result<(), &'static str> {
    match value {
        // A returned Rust string would dangle once the closure returns.
        Value::Str(_) if code == TypeCode::Str => {
            Err("a pointer or None (a Rust string would dangle)")
        }
        Value::Str(_) => Err(call::expected(code)),
        // SAFETY: forwarded from the caller.
        _ => unsafe { call::write::<true>(code, &value.as_arg(), ret) },
    }
}

impl Inner<'_> {
    fn run(&self, values: &[Value]) -> Value {
        match &self.body {
            Body::Free(f) => f(values),
            Body::Locked(m) => {
                // A panic never happens while the guard is held and unwinds past it (it is
                // caught by the trampoline after the guard drops), but tolerate poison anyway.
                let mut f = m.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                f(values)
            }
        }
    }
}

/// Converts C arguments to `Value`s on the stack (for up to 16) and runs `f` on them.
///
/// # Safety
/// `args` must hold one valid pointer per code, each to a value of that code's type.
unsafe fn with_values<R>(
    codes: &[TypeCode],
    args: *mut *mut c_void,
    f: impl FnOnce(&[Value]) -> R,
) -> R {
    const INLINE: usize = 16;
    let n = codes.len();
    if n > INLINE {
        // SAFETY: forwarded from the caller.
        let values: Vec<Value> = codes
            .iter()
            .enumerate()
            .map(|(i, &c)| unsafe { call::load(c, *args.add(i), false) })
            .collect();
        return f(&values);
    }
    struct Guard {
        values: [MaybeUninit<Value>; INLINE],
        len: usize,
    }
    impl Drop for Guard {
        fn drop(&mut self) {
            for v in &mut self.values[..self.len] {
                // SAFETY: the first `len` values were initialised.
                unsafe { v.assume_init_drop() }
            }
        }
    }
    let mut guard = Guard {
        values: [const { MaybeUninit::uninit() }; INLINE],
        len: 0,
    };
    for (i, &code) in codes.iter().enumerate() {
        // SAFETY: forwarded from the caller.
        guard.values[i].write(unsafe { call::load(code, *args.add(i), false) });
        guard.len = i + 1;
    }
    // SAFETY: the first `n` values are initialised; MaybeUninit<Value> has Value's layout.
    let values = unsafe { std::slice::from_raw_parts(guard.values.as_ptr().cast::<Value>(), n) };
    f(values)
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}

/// A callback failure waiting to surface from the outer call.
enum Failure {
    Panic(String),
    Return {
        code: char,
        expected: &'static str,
        got: String,
    },
}

impl Failure {
    fn into_error(self, function: &str) -> Error {
        match self {
            Failure::Panic(message) => Error::CallbackPanicked {
                function: function.to_owned(),
                message,
            },
            Failure::Return {
                code,
                expected,
                got,
            } => Error::CallbackReturn {
                function: function.to_owned(),
                code,
                expected,
                got,
            },
        }
    }
}

thread_local! {
    /// How many `Function::call`s are running on this thread (nested through callbacks).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Fast check: whether `PENDING` holds something.
    static HAS_PENDING: Cell<bool> = const { Cell::new(false) };
    /// The first callback failure during the innermost running call.
    static PENDING: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

fn report(failure: Failure, inner: &Inner<'_>) {
    let in_call = DEPTH.with(Cell::get) > 0;
    if in_call && !matches!(inner.body, Body::Locked(_)) {
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            if p.is_none() {
                *p = Some(failure);
            }
        });
        HAS_PENDING.with(|h| h.set(true));
        return;
    }
    let what = match failure {
        Failure::Panic(message) => format!("panicked: {message}"),
        Failure::Return {
            code,
            expected,
            got,
        } => {
            format!("returned {got} for return code '{code}' (expected {expected})")
        }
    };
    eprintln!(
        "ffi-core: uncaught error in FFI callback {}: {what}; it returned 0 to C and execution goes on",
        inner.signature
    );
}

/// Marks a running call on this thread so callback failures surface from it.
pub(crate) struct CallScope(());

impl CallScope {
    #[inline(always)]
    pub(crate) fn enter() -> CallScope {
        DEPTH.with(|d| d.set(d.get() + 1));
        CallScope(())
    }
}

impl Drop for CallScope {
    #[inline(always)]
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Returns the failure of a callback that ran during the call just finished, as an error.
#[inline(always)]
pub(crate) fn take_pending(function: &str) -> Result<()> {
    if !HAS_PENDING.with(Cell::get) {
        return Ok(());
    }
    take_pending_slow(function)
}

#[cold]
fn take_pending_slow(function: &str) -> Result<()> {
    HAS_PENDING.with(|h| h.set(false));
    match PENDING.with(|p| p.borrow_mut().take()) {
        Some(failure) => Err(failure.into_error(function)),
        None => Ok(()),
    }
}
