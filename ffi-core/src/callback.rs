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
/// let qsort = libc.func("v", "qsort", "pLLC")?;
/// let cmp = Callback::new("i", "PP", |args: &[Value]| {
///     // SAFETY: qsort passes pointers to two elements of the byte array.
///     let (a, b) = unsafe { (*args[0].as_ptr().unwrap().cast::<u8>(), *args[1].as_ptr().unwrap().cast::<u8>()) };
///     i32::from(a) - i32::from(b)
/// })?;
/// let mut data = *b"dcba";
/// // SAFETY: qsort is `void qsort(void *, size_t, size_t, int (*)(const void *, const void *))`;
/// // data holds 4 elements of 1 byte; cmp compares two of them and outlives the call,
/// // after which qsort keeps no reference to it.
/// unsafe { qsort.call(&[(&mut data).into(), 4.into(), 1.into(), (&cmp).into()]) }?;
/// assert_eq!(&data, b"abcd");
/// # Ok::<(), ffi_core::Error>(())
/// ```
pub struct Callback<'f> {
    closure: *mut ffi_closure,
    code: *mut c_void,
    /// The boxed `Inner<B>` (header first), the closure's userdata; its address is stable
    /// when the `Callback` moves.
    inner: *mut c_void,
    /// Frees `inner` as the `Box<Inner<B>>` it is.
    drop_inner: unsafe fn(*mut c_void),
    _closure: PhantomData<&'f ()>,
}

// SAFETY: the closure body is `Send + Sync` (free mode) or `Send` behind a Mutex (lock
// mode); the libffi closure and cif are immutable after preparation.
unsafe impl Send for Callback<'_> {}
// SAFETY: as above; C may call the code pointer from any thread.
unsafe impl Sync for Callback<'_> {}

/// What every callback shares, whatever its closure type.
struct Header {
    cif: Cif,
    signature: Signature,
    /// Whether an argument is `s`, so converted arguments may own a `String`.
    owns_strings: bool,
    /// Whether every argument is `p`, `P`, `O` or `C` (arriving as `Value::Ptr`).
    all_pointers: bool,
    locked: bool,
}

/// The closure's userdata: the header, then the closure itself. `repr(C)` so that a
/// pointer to it is a pointer to its header, whatever `B` is.
#[repr(C)]
struct Inner<B> {
    header: Header,
    body: B,
}

/// How a callback runs its closure: free (concurrently) or locked (serialised).
trait Body {
    type Out: Into<Value>;
    fn run(&self, values: &[Value]) -> Self::Out;
}

struct Free<F>(F);

impl<F: Fn(&[Value]) -> R, R: Into<Value>> Body for Free<F> {
    type Out = R;
    #[inline(always)]
    fn run(&self, values: &[Value]) -> R {
        (self.0)(values)
    }
}

struct Locked<F>(Mutex<F>);

impl<F: FnMut(&[Value]) -> R, R: Into<Value>> Body for Locked<F> {
    type Out = R;
    #[inline(always)]
    fn run(&self, values: &[Value]) -> R {
        // A panic in the closure unwinds past the guard and poisons the mutex; the
        // trampoline catches it, and the next call goes on with the state as it is.
        let mut f = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(values)
    }
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
        Callback::build(ret, args, false, Free(f))
    }

    /// Creates a callback in `lock` mode (MicroPython's `lock=True`): calls from several
    /// threads are serialised by a mutex, so the closure may be `FnMut`. A panic inside is
    /// reported on stderr, the callback returns 0 and the process goes on.
    pub fn new_locked<F, R>(ret: &str, args: &str, f: F) -> Result<Callback<'f>>
    where
        F: FnMut(&[Value]) -> R + Send + 'f,
        R: Into<Value>,
    {
        Callback::build(ret, args, true, Locked(Mutex::new(f)))
    }

    fn build<B: Body + 'f>(ret: &str, args: &str, locked: bool, body: B) -> Result<Callback<'f>> {
        let signature = Signature::parse(ret, args)?;
        let cif =
            Cif::new(signature.ret(), signature.args(), None).map_err(|reason| Error::Prepare {
                function: "callback".into(),
                ret: signature.ret().as_char(),
                args: signature.args_string(),
                reason,
            })?;
        let owns_strings = signature.args().contains(&TypeCode::Str);
        let all_pointers = signature
            .args()
            .iter()
            .all(|c| c.is_pointer() && *c != TypeCode::Str);
        let (closure, code) =
            libffi::low::try_closure_alloc().ok_or_else(|| Error::ClosureAlloc {
                ret: signature.ret().as_char(),
                args: signature.args_string(),
            })?;
        let inner = Box::into_raw(Box::new(Inner {
            header: Header {
                cif,
                signature,
                owns_strings,
                all_pointers,
                locked,
            },
            body,
        }));
        // From here on, dropping `callback` frees both the closure and `inner`.
        let callback = Callback {
            closure,
            code: code.as_mut_ptr(),
            inner: inner.cast(),
            drop_inner: drop_inner::<B>,
            _closure: PhantomData,
        };
        // SAFETY: the closure was just allocated with its code address; the cif and the
        // userdata live in `inner` until `drop` frees the closure first. The trampoline is
        // instantiated for `B`, the type `inner` really has.
        let status = unsafe {
            raw::ffi_prep_closure_loc(
                callback.closure,
                (*inner).header.cif.as_ptr(),
                Some(trampoline::<B>),
                inner.cast(),
                callback.code,
            )
        };
        if status != raw::ffi_status_FFI_OK {
            return Err(Error::Prepare {
                function: "callback".into(),
                ret: callback.header().signature.ret().as_char(),
                args: callback.header().signature.args_string(),
                reason: format!("ffi_prep_closure_loc returned status {status}"),
            });
        }
        Ok(callback)
    }

    fn header(&self) -> &Header {
        // SAFETY: `inner` is a live `Inner<B>`, `repr(C)` with the header first.
        unsafe { &*self.inner.cast::<Header>() }
    }

    /// The C function pointer (MicroPython's `cb.cfun()`); valid while `self` lives.
    pub fn code_ptr(&self) -> *mut c_void {
        self.code
    }

    /// The declared signature.
    pub fn signature(&self) -> &Signature {
        &self.header().signature
    }

    /// Whether this callback serialises its calls (lock mode).
    pub fn is_locked(&self) -> bool {
        self.header().locked
    }
}

/// # Safety
/// `inner` must come from `Box::into_raw(Box<Inner<B>>)` and not be used afterwards.
unsafe fn drop_inner<B>(inner: *mut c_void) {
    // SAFETY: forwarded from the caller.
    drop(unsafe { Box::from_raw(inner.cast::<Inner<B>>()) });
}

impl Drop for Callback<'_> {
    fn drop(&mut self) {
        // SAFETY: `closure` came from `ffi_closure_alloc` and is freed once, before `inner`
        // (its userdata and cif), which is freed as the type it was created with.
        unsafe {
            libffi::low::closure_free(self.closure);
            (self.drop_inner)(self.inner);
        }
    }
}

impl fmt::Debug for Callback<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<fficallback {} at {:p}>",
            self.header().signature,
            self.code
        )
    }
}

/// The C entry point of a callback whose closure is `B`: converts arguments, runs the
/// closure without letting a panic escape, converts the return value. Instantiated per
/// closure type, so the closure is inlined here.
unsafe extern "C" fn trampoline<B: Body>(
    _cif: *mut ffi_cif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    userdata: *mut c_void,
) {
    // SAFETY: `userdata` is the `Inner<B>` registered in `build`, alive while the closure is.
    let inner = unsafe { &*(userdata as *const Inner<B>) };
    let header = &inner.header;
    let ret_code = header.signature.ret();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: libffi passes one pointer per declared argument, each to a value of
        // that argument's type.
        unsafe {
            with_values(
                header.signature.args(),
                args,
                header.owns_strings,
                header.all_pointers,
                |values| inner.body.run(values).into(),
            )
        }
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
        let _ = unsafe { call::write::<{ call::dest::RETURN }>(ret_code, &zero, ret) };
    }
    report(failure, header);
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
        _ => unsafe { call::write::<{ call::dest::RETURN }>(code, &value.as_arg(), ret) },
    }
}

/// Converts C arguments to `Value`s on the stack (for up to 16) and runs `f` on them.
///
/// # Safety
/// `args` must hold one valid pointer per code, each to a value of that code's type.
#[inline(always)]
unsafe fn with_values<R>(
    codes: &[TypeCode],
    args: *mut *mut c_void,
    owns_strings: bool,
    all_pointers: bool,
    f: impl FnOnce(&[Value]) -> R,
) -> R {
    const INLINE: usize = 16;
    let n = codes.len();
    if n > INLINE {
        // SAFETY: forwarded from the caller.
        let values: Vec<Value> = codes
            .iter()
            .enumerate()
            .map(|(i, &c)| unsafe { call::load::<false>(c, *args.add(i)) })
            .collect();
        return f(&values);
    }
    /// Drops the converted values, unless none of them can own heap memory (only `s`
    /// arguments become `Value::Str`), which keeps the common case free of a drop loop.
    struct Guard {
        values: [MaybeUninit<Value>; INLINE],
        len: usize,
    }
    impl Drop for Guard {
        #[inline(always)]
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
    let base = guard.values.as_mut_ptr().cast::<Value>();
    if all_pointers {
        // The common comparator shape ("PP", "pp"): no per-argument dispatch.
        for i in 0..n {
            // SAFETY: `i < n <= INLINE`, inside `values`; each argument is a pointer.
            unsafe {
                base.add(i)
                    .write(Value::Ptr(*(*args.add(i)).cast::<*mut c_void>()))
            };
        }
    } else {
        for (i, &code) in codes.iter().enumerate() {
            // SAFETY: `i < n <= INLINE`, inside `values`; the rest is forwarded from the caller.
            unsafe { base.add(i).write(call::load::<false>(code, *args.add(i))) };
        }
    }
    // `load` cannot unwind, so all `n` values are initialised here; only values that may
    // own a string need dropping.
    if owns_strings {
        guard.len = n;
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
    /// Bit 0: a callback failure waits in `PENDING`; the other bits: twice the number of
    /// `Function::call`s running on this thread (nested through callbacks). One word, so
    /// a call pays one thread-local update on entry and one on exit.
    static STATE: Cell<usize> = const { Cell::new(0) };
    /// The first callback failure during the innermost running call.
    static PENDING: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

const PENDING_BIT: usize = 1;
const ONE_CALL: usize = 2;

fn report(failure: Failure, header: &Header) {
    let in_call = STATE.with(Cell::get) >= ONE_CALL;
    if in_call && !header.locked {
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            if p.is_none() {
                *p = Some(failure);
            }
        });
        STATE.with(|s| s.set(s.get() | PENDING_BIT));
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
        header.signature
    );
}

/// Marks the start of a call on this thread, so callback failures surface from it.
#[inline(always)]
pub(crate) fn enter_call() {
    STATE.with(|s| s.set(s.get() + ONE_CALL));
}

/// Marks the end of a call started with [`enter_call`]; returns the failure of a callback
/// that ran during it, as an error.
#[inline(always)]
pub(crate) fn leave_call(function: &str) -> Result<()> {
    let state = STATE.with(|s| {
        let state = s.get() - ONE_CALL;
        s.set(state & !PENDING_BIT);
        state
    });
    if state & PENDING_BIT == 0 {
        return Ok(());
    }
    take_pending_slow(function)
}

#[cold]
fn take_pending_slow(function: &str) -> Result<()> {
    match PENDING.with(|p| p.borrow_mut().take()) {
        Some(failure) => Err(failure.into_error(function)),
        None => Ok(()),
    }
}
