//! Callbacks: Rust closures turned into C function pointers through libffi closures.
//!
//! A panic in a callback never unwinds into C: the trampoline catches it, returns 0 to C,
//! and records it. If the callback runs inside a [`Function::call`](crate::Function::call)
//! on the same thread (the usual case: `qsort` calling its comparator), that call returns
//! [`Error::CallbackPanicked`]. Otherwise (a locked callback, or a call from a thread C
//! created, or through a [`Typed`](crate::Typed) binding) a report goes to stderr and the
//! process goes on, like MicroPython's `lock=True` mode.
//!
//! A callback's data (closure, call interface, lock) outlives every invocation running it:
//! dropping the `Callback` while C runs it (from the closure itself, or from another thread)
//! frees nothing in use; it is freed when the last invocation returns. Invocations are
//! tracked in per-thread slots where the system allows it (see the `guard` module: plain
//! stores per invocation, the cost on the rare drop), else counted as references.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::fmt;
use std::io::Write;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{self, AtomicUsize, Ordering};
use std::sync::Mutex;

use libffi::low::{ffi_cif, ffi_closure};
use libffi::raw;

use crate::call::{self, Cif};
use crate::error::{Error, Result};
use crate::fast;
use crate::function::CallPath;
use crate::guard;
use crate::signature::Signature;
use crate::trampoline::{self, Trampoline};
use crate::types::TypeCode;
use crate::value::{Arg, Value};

/// A C function pointer that runs a Rust closure (MicroPython's `ffi.callback`).
///
/// Arguments reach the closure as [`Value`]s converted per their declared codes (floats
/// as floats, `s` as a copied string, pointers as [`Value::Ptr`]); the closure's return is
/// converted per the return code with the same rules as call arguments. Pass it to a
/// function with a `C` slot (`&callback` converts to [`Arg`]) or take
/// [`code_ptr`](Callback::code_ptr).
///
/// Dropping the `Callback` frees the closure once no invocation runs it any more: an
/// invocation in progress (one that drops its own `Callback`, or one running on another
/// thread while this one drops it) keeps the closure and its lock alive until it returns.
/// C must not *start* a call through the code pointer after the drop (the `# Safety` of
/// [`Function::call`](crate::Function::call): a callback outlives every call C makes to it).
/// What the closure borrows (the `'f` lifetime) is only guaranteed while the `Callback`
/// lives, so a callback that another thread may still be running when it is dropped should
/// own its data (`'static`).
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
    code: *mut c_void,
    /// The boxed `Inner<B>` (header first), the closure's userdata; its address is stable
    /// when the `Callback` moves. This `Callback` holds one of its references.
    inner: *mut c_void,
    /// Gives up one reference to `inner`, freeing it (as the `Box<Inner<B>>` it is) and
    /// the libffi closure with the last one.
    release: unsafe fn(*mut c_void),
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
    /// The libffi closure whose userdata this is; freed with the last reference.
    closure: *mut ffi_closure,
    /// The register path's trampoline, when the callback has one (its code is then the
    /// callback's code pointer); unmapped with the last reference.
    trampoline: Option<Trampoline>,
    /// References to the userdata: one held by the `Callback`, one per running invocation
    /// that is not tracked in its thread's slots.
    refs: AtomicUsize,
    /// Whether invocations are tracked in their threads' slots ([`guard`]), and the
    /// userdata retired to it when the last reference goes.
    slots: bool,
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
    /// Runs the closure; `None` when this invocation cannot run it (a lock-mode closure
    /// re-entered on the thread already running it).
    fn run(&self, values: &[Value]) -> Option<Self::Out>;
}

struct Free<F>(F);

impl<F: Fn(&[Value]) -> R, R: Into<Value>> Body for Free<F> {
    type Out = R;
    #[inline(always)]
    fn run(&self, values: &[Value]) -> Option<R> {
        Some((self.0)(values))
    }
}

struct Locked<F> {
    f: Mutex<F>,
    /// The [`thread_token`] of the thread holding `f`'s lock, 0 when none: a thread that
    /// finds its own token here is re-entering, and waiting for the lock would never end.
    owner: AtomicUsize,
}

impl<F: FnMut(&[Value]) -> R, R: Into<Value>> Body for Locked<F> {
    type Out = R;
    #[inline(always)]
    fn run(&self, values: &[Value]) -> Option<R> {
        let me = thread_token();
        // Only this thread ever stores its own token, and it clears it before unlocking,
        // so seeing it here means this thread holds the lock.
        if self.owner.load(Ordering::Relaxed) == me {
            return None;
        }
        // A panic in the closure unwinds past the guard and poisons the mutex; the
        // trampoline catches it, and the next call goes on with the state as it is.
        let mut f = self
            .f
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.owner.store(me, Ordering::Relaxed);
        // Declared after the guard, so dropped (also when unwinding) before it unlocks.
        let _owned = Owned(&self.owner);
        Some(f(values))
    }
}

/// Clears a [`Locked`] owner when its invocation ends.
struct Owned<'a>(&'a AtomicUsize);

impl Drop for Owned<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// A non-zero number unique to each running thread: the address of a thread-local.
#[inline(always)]
fn thread_token() -> usize {
    thread_local! {
        static TOKEN: u8 = const { 0 };
    }
    TOKEN.with(|t| t as *const u8 as usize)
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
    ///
    /// Unlike MicroPython's lock, this one is not re-entrant: an `FnMut` cannot run twice at
    /// once. When C calls the callback again on the thread already running it (the closure
    /// makes a call that calls back), that inner invocation does not run the closure: it is
    /// reported on stderr and returns 0 to C, and execution goes on (it never deadlocks).
    /// Use [`new`](Callback::new) with a `Fn` closure for a re-entrant callback.
    pub fn new_locked<F, R>(ret: &str, args: &str, f: F) -> Result<Callback<'f>>
    where
        F: FnMut(&[Value]) -> R + Send + 'f,
        R: Into<Value>,
    {
        let body = Locked {
            f: Mutex::new(f),
            owner: AtomicUsize::new(0),
        };
        Callback::build(ret, args, true, body)
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
        let slots = guard::available();
        if slots {
            guard::prepare_thread();
        }
        let inner = Box::into_raw(Box::new(Inner {
            header: Header {
                cif,
                signature,
                owns_strings,
                all_pointers,
                locked,
                closure,
                trampoline: None,
                refs: AtomicUsize::new(1),
                slots,
            },
            body,
        }));
        // From here on, dropping `callback` frees both the closure and `inner`.
        let mut callback = Callback {
            code: code.as_mut_ptr(),
            inner: inner.cast(),
            release: release::<B>,
            _closure: PhantomData,
        };
        // SAFETY: the closure was just allocated with its code address; the cif and the
        // userdata live in `inner` until the last reference frees the closure first. The
        // trampoline is instantiated for `B`, the type `inner` really has.
        let status = unsafe {
            raw::ffi_prep_closure_loc(
                closure,
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
        // The register path where the signature allows it (the libffi closure stays
        // prepared: it is the fallback when no executable page can be had).
        let args = callback.header().signature.args();
        let n = args.len();
        // (MAX_ARGS is 0 where there are no trampolines: not even a callback without
        // arguments may take one there.)
        if trampoline::MAX_ARGS > 0
            && n <= trampoline::MAX_ARGS
            && args.iter().all(|c| !c.is_float())
            && !fast::libffi_only()
        {
            let float_return = callback.header().signature.ret().is_float();
            if let Some(t) = Trampoline::new(n, inner.cast(), entry::<B>(n, float_return)) {
                callback.code = t.code();
                // SAFETY: `inner` is live and not shared yet (no code pointer was handed
                // out); the trampoline is dropped with it, after its last use.
                unsafe { (*inner).header.trampoline = Some(t) };
            }
        }
        Ok(callback)
    }

    /// Which way C reaches the closure: [`CallPath::Registers`] through ffi-core's own
    /// trampoline (x86-64 and aarch64 Linux, at most 5 integer or pointer arguments), else
    /// through a libffi closure. Both behave identically.
    pub fn call_path(&self) -> CallPath {
        match self.header().trampoline {
            Some(_) => CallPath::Registers,
            None => CallPath::Libffi,
        }
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

/// Gives up one reference to a callback's userdata; the last one frees it.
///
/// # Safety
/// `inner` must come from `Box::into_raw(Box<Inner<B>>)` in [`Callback::build`], and the
/// caller must own one of its references, which it may not use afterwards.
#[inline(always)]
unsafe fn release<B>(inner: *mut c_void) {
    // SAFETY: the caller's reference keeps `inner` alive up to this decrement.
    let refs = unsafe { &(*inner.cast::<Header>()).refs };
    // As `Arc`'s drop: Release publishes this owner's uses, the Acquire fence of the last
    // one sees every other owner's before the memory is freed.
    if refs.fetch_sub(1, Ordering::Release) == 1 {
        atomic::fence(Ordering::Acquire);
        // SAFETY: that was the last reference: only invocations tracked in slots may still
        // run it, and the guard frees it after them; without slots, nobody can reach it.
        unsafe {
            if (*inner.cast::<Header>()).slots {
                guard::retire(inner, free::<B>)
            } else {
                free::<B>(inner)
            }
        }
    }
}

/// Frees the libffi closure, then the userdata it pointed to (closure and all).
///
/// # Safety
/// As [`release`], for the last reference.
#[cold]
#[inline(never)]
unsafe fn free<B>(inner: *mut c_void) {
    // SAFETY: forwarded from the caller; the closure was allocated with `inner` in `build`
    // and is freed once, here, before its cif (inside `inner`).
    let inner = unsafe {
        libffi::low::closure_free((*inner.cast::<Header>()).closure);
        Box::from_raw(inner.cast::<Inner<B>>())
    };
    // The closure's captures may panic in their drop, and this may run inside the
    // trampoline, where a panic must not unwind into C.
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(inner))) {
        let message = panic_message(payload.as_ref());
        drop_payload(payload);
        report_line(format_args!(
            "dropping a callback's closure panicked: {message}; execution goes on"
        ));
    }
}

impl Drop for Callback<'_> {
    fn drop(&mut self) {
        // SAFETY: `inner` and `release` come from `build`; this `Callback` owns one
        // reference and gives it up once, here.
        unsafe { (self.release)(self.inner) }
    }
}

/// One reference to a callback's userdata, held by an invocation while it runs.
struct Invocation<B> {
    inner: *mut c_void,
    /// Whether this invocation holds a counted reference (else its thread's slot).
    counted: bool,
    _body: PhantomData<B>,
}

impl<B> Invocation<B> {
    /// Keeps `inner` alive for an invocation of its callback: a slot of this thread, else a
    /// counted reference.
    ///
    /// # Safety
    /// `inner` must be the live `Inner<B>` of a callback that C is allowed to call (its
    /// `Callback` alive when the call started).
    #[inline(always)]
    unsafe fn enter(inner: *mut c_void) -> Self {
        // SAFETY: forwarded from the caller: some reference keeps `inner` alive now.
        let header = unsafe { &*inner.cast::<Header>() };
        let counted = !(header.slots && guard::enter(inner));
        if counted {
            // As `Arc::clone`: a new reference from an existing one needs no ordering.
            header.refs.fetch_add(1, Ordering::Relaxed);
        }
        Invocation {
            inner,
            counted,
            _body: PhantomData,
        }
    }
}

impl<B> Drop for Invocation<B> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.counted {
            // SAFETY: this invocation owns one reference, given up once, here.
            unsafe { release::<B>(self.inner) }
        } else {
            guard::leave();
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
    // Declared first, so it is dropped last: the userdata stays alive for the whole
    // invocation even if the `Callback` is dropped meanwhile.
    // SAFETY: `userdata` is the `Inner<B>` registered in `build`; C may call the code
    // pointer only while the `Callback` lives, so it is alive now.
    let _invocation = unsafe { Invocation::<B>::enter(userdata) };
    // SAFETY: as above; `_invocation` keeps it alive while this reference is used.
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
                |values| inner.body.run(values).map(Into::into),
            )
        }
    }));
    let failure = match outcome {
        Ok(Some(_)) if ret_code == TypeCode::Void => return,
        Ok(Some(value)) => match write_return(ret_code, &value, ret) {
            Ok(()) => return,
            Err(expected) => Failure::Return {
                code: ret_code.as_char(),
                expected,
                got: value.as_arg().describe(),
            },
        },
        Ok(None) => Failure::Reentered,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            drop_payload(payload);
            Failure::Panic(message)
        }
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

/// The register-path entry for a callback with closure type `B`, `n` integer-class
/// arguments and a return of the given class (see [`trampoline`](crate::trampoline)).
fn entry<B: Body>(n: usize, float_return: bool) -> *const c_void {
    /// Runs the callback on its arguments' register words, as libffi's dispatcher would:
    /// through [`trampoline`] with pointers to the words (a narrow argument is the low
    /// bytes of its register on this little-endian target) and a zeroed return word
    /// (a `float` return fills its low half, the return register's).
    ///
    /// # Safety
    /// `data` is the live `Inner<B>` of a callback with these `words.len()` arguments.
    #[inline(always)]
    unsafe fn run<B: Body>(words: &mut [u64], data: *mut c_void) -> u64 {
        let mut ptrs = [std::ptr::null_mut::<c_void>(); 8];
        for (p, w) in ptrs.iter_mut().zip(words.iter_mut()) {
            *p = (w as *mut u64).cast();
        }
        let mut ret = 0u64;
        // SAFETY: one pointer per argument, each to its word, and an 8-byte return buffer:
        // what the trampoline reads and writes; it does not use the cif.
        unsafe {
            trampoline::<B>(
                std::ptr::null_mut(),
                (&mut ret as *mut u64).cast(),
                ptrs.as_mut_ptr(),
                data,
            )
        };
        ret
    }
    macro_rules! entries {
        ($($n:literal: [$($a:ident)*]),*) => {
            match (n, float_return) {
                $(
                    ($n, false) => {
                        /// C calls this through the trampoline, `data` in the register
                        /// after the arguments.
                        unsafe extern "C" fn e<B: Body>($($a: u64,)* data: *mut c_void) -> u64 {
                            let mut words: [u64; $n] = [$($a),*];
                            // SAFETY: the trampoline passes the callback's own userdata.
                            unsafe { run::<B>(&mut words, data) }
                        }
                        e::<B> as *const c_void
                    }
                    ($n, true) => {
                        /// As above, for a `float` or `double` return.
                        unsafe extern "C" fn e<B: Body>($($a: u64,)* data: *mut c_void) -> f64 {
                            let mut words: [u64; $n] = [$($a),*];
                            // SAFETY: as above.
                            f64::from_bits(unsafe { run::<B>(&mut words, data) })
                        }
                        e::<B> as *const c_void
                    }
                )*
                _ => unreachable!("at most 5 register-path callback arguments, got {n}"),
            }
        };
    }
    entries!(0: [], 1: [a0], 2: [a0 a1], 3: [a0 a1 a2], 4: [a0 a1 a2 a3], 5: [a0 a1 a2 a3 a4])
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

/// Drops a panic payload without letting a panic in its `Drop` escape (that one's payload
/// is leaked: dropping it could panic again).
#[cold]
fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(nested) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(nested);
    }
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
    /// A lock-mode callback called again on the thread already running it.
    Reentered,
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
            Failure::Reentered => Error::CallbackPanicked {
                function: function.to_owned(),
                message: Failure::REENTERED.to_owned(),
            },
        }
    }

    const REENTERED: &'static str = "re-entered on the thread already running it (a lock-mode \
        closure is FnMut and cannot run twice at once; use Callback::new for a re-entrant callback)";

    /// What went wrong, for a report on stderr.
    fn describe(self) -> String {
        match self {
            Failure::Panic(message) => format!("panicked: {message}"),
            Failure::Return {
                code,
                expected,
                got,
            } => format!("returned {got} for return code '{code}' (expected {expected})"),
            Failure::Reentered => Failure::REENTERED.to_owned(),
        }
    }
}

thread_local! {
    /// Bit 0: a callback failure waits in `PENDING`; the other bits: twice the number of
    /// `Function::call`s running on this thread (nested through callbacks). One word, so
    /// a call pays one thread-local update on entry and one on exit.
    static STATE: Cell<usize> = const { Cell::new(0) };
    /// Callback failures waiting to surface, each with the depth (in `STATE`'s count) of
    /// the call it happened during, innermost last: a nested call made after the outer one's
    /// callback failed must not take that failure as its own. The first failure per call.
    static PENDING: RefCell<Vec<(usize, Failure)>> = const { RefCell::new(Vec::new()) };
}

const PENDING_BIT: usize = 1;
const ONE_CALL: usize = 2;

fn report(failure: Failure, header: &Header) {
    let depth = STATE.with(Cell::get) / ONE_CALL;
    if depth > 0 && !header.locked {
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            if !matches!(p.last(), Some((d, _)) if *d == depth) {
                p.push((depth, failure));
            }
        });
        STATE.with(|s| s.set(s.get() | PENDING_BIT));
        return;
    }
    report_line(format_args!(
        "uncaught error in FFI callback {}: {}; it returned 0 to C and execution goes on",
        header.signature,
        failure.describe()
    ));
}

/// Writes one `ffi-core:` line to stderr. A failed write is ignored: this runs where a
/// panic would reach C (a closed or broken stderr must not abort the process).
#[cold]
fn report_line(what: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "ffi-core: {what}");
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
    leave_call_of(|| function)
}

/// [`leave_call`] with the function's name worked out only when a callback failed (the
/// name's pointer and length need not be kept across the C call).
#[inline(always)]
pub(crate) fn leave_call_of<'n>(function: impl FnOnce() -> &'n str) -> Result<()> {
    if leave_call_pending() {
        take_left_pending(function())
    } else {
        Ok(())
    }
}

/// The usual part of [`leave_call`]: one subtraction, and a test of whether a callback
/// failure is pending on this thread. If so, [`take_left_pending`] must follow before the
/// thread makes another call.
#[inline(always)]
pub(crate) fn leave_call_pending() -> bool {
    let state = STATE.with(|s| {
        let state = s.get() - ONE_CALL;
        s.set(state);
        state
    });
    state & PENDING_BIT != 0
}

/// The rest of [`leave_call`] after [`leave_call_pending`] said a failure is pending:
/// clears the bit and takes the failure of the call that ended, if it is that call's
/// (`take_pending_slow` sets the bit again if outer calls still have failures).
#[cold]
#[inline(never)]
pub(crate) fn take_left_pending(function: &str) -> Result<()> {
    let state = STATE.with(|s| {
        let state = s.get();
        s.set(state & !PENDING_BIT);
        state
    });
    take_pending_slow(function, state / ONE_CALL + 1)
}

/// Takes the failure of the call at `depth` (the one ending), leaving those of outer calls.
#[cold]
fn take_pending_slow(function: &str, depth: usize) -> Result<()> {
    let mine = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let mine = match p.last() {
            Some((d, _)) if *d == depth => p.pop().map(|(_, failure)| failure),
            _ => None,
        };
        if !p.is_empty() {
            STATE.with(|s| s.set(s.get() | PENDING_BIT));
        }
        mine
    });
    match mine {
        Some(failure) => Err(failure.into_error(function)),
        None => Ok(()),
    }
}
