//! Keeping a callback's userdata alive while C runs it, without an atomic read-modify-write
//! per invocation.
//!
//! A `Callback` may be dropped while an invocation runs it (from its own closure, or from
//! another thread), and that invocation must finish on live memory. Counting invocations in
//! the userdata's reference count does it, at the price of two locked read-modify-writes per
//! invocation: about 9 ns of a 17 ns comparator call on x86-64. Here the fast side is cheap
//! and the rare side (a `Callback` dropped) pays, the asymmetric-fence pattern of user-space
//! RCU and hazard pointers:
//!
//! - Each thread has a small stack of *slots*, the userdata of the callbacks it is running
//!   (nested calls push more). An invocation stores its userdata in the next slot on entry
//!   and clears it on return: plain stores, ordered only against the compiler.
//! - A dropped callback's userdata is *retired*: put on a list under a lock. [`sweep`] then
//!   runs `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes every running thread
//!   of the process execute a full memory barrier, so that every slot store made before it is
//!   visible, and reads every thread's slots. What no slot holds is freed at once. A thread
//!   found holding one gets its `sweep` flag set; a second barrier and a second reading then
//!   decide: the holder either had cleared its slot by then (seen, freed now) or will see its
//!   flag when it clears the slot (the barrier orders the flag store before the second
//!   reading, and the holder's slot store before its flag load), and sweeps itself.
//! - Freeing happens under the lock's decision only (an entry leaves the list once), outside
//!   the lock (a closure's captures may drop other callbacks).
//!
//! Where this cannot work (membarrier missing or refused, as under some emulators and
//! kernels before 4.14; a thread being torn down; more nested invocations than slots), an
//! invocation takes a counted reference instead, as before; `FFI_CORE_COUNTED_CALLBACKS=1`
//! forces that everywhere (CI runs the tests both ways).

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Nested invocations a thread tracks in slots; deeper ones are counted.
const DEPTH: usize = 8;

/// The callbacks one thread is running. Written by that thread only; read by sweeps.
struct ThreadSlots {
    running: [AtomicPtr<c_void>; DEPTH],
    /// Slots in use (a stack: invocations on one thread return in reverse order).
    depth: AtomicUsize,
    /// Set by a sweep that found this thread running retired userdata: sweep when done.
    sweep: AtomicBool,
    /// Whether the registry lists this thread's slots.
    registered: AtomicBool,
}

impl ThreadSlots {
    const fn new() -> ThreadSlots {
        ThreadSlots {
            running: [const { AtomicPtr::new(ptr::null_mut()) }; DEPTH],
            depth: AtomicUsize::new(0),
            sweep: AtomicBool::new(false),
            registered: AtomicBool::new(false),
        }
    }
}

thread_local! {
    // No destructor, so the slots stay readable until the thread is gone, and access needs
    // no lazy-initialisation check.
    static SLOTS: ThreadSlots = const { ThreadSlots::new() };
    // Lists this thread's slots in the registry on first use, and takes them out when the
    // thread ends.
    static REGISTRATION: Registration = Registration::new();
}

/// A dropped callback's userdata, and how to free it.
struct Retired {
    inner: *mut c_void,
    free: unsafe fn(*mut c_void),
}

struct Registry {
    /// The slots of every thread that has run a callback and not ended.
    threads: Vec<*const ThreadSlots>,
    retired: Vec<Retired>,
}

// SAFETY: the pointers are only dereferenced under the registry's lock: thread slots stay
// valid while listed (their thread takes them out before it ends), retired userdata until
// freed (which takes them out first).
unsafe impl Send for Registry {}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    threads: Vec::new(),
    retired: Vec::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    // Nothing run under the lock panics halfway through a change.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

struct Registration(*const ThreadSlots);

impl Registration {
    fn new() -> Registration {
        let slots = SLOTS.with(|s| {
            s.registered.store(true, Ordering::Relaxed);
            s as *const ThreadSlots
        });
        registry().threads.push(slots);
        Registration(slots)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut reg = registry();
        reg.threads.retain(|&t| t != self.0);
        // SAFETY: this thread's slots, still alive (they have no destructor).
        unsafe { (*self.0).registered.store(false, Ordering::Relaxed) };
    }
}

/// Whether this process tracks callbacks in slots: membarrier's private expedited command
/// registered, and not turned off. Decided once.
pub(crate) fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let counted = std::env::var_os("FFI_CORE_COUNTED_CALLBACKS")
            .is_some_and(|v| !v.is_empty() && v != "0");
        !counted && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
    })
}

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

/// A full memory barrier on every running thread of this process. Registers again if the
/// kernel no longer knows the registration (it survives fork on the kernels tested, but
/// costs nothing to make sure).
fn barrier() -> bool {
    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
        || (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
            && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
}

#[cfg(target_os = "linux")]
fn membarrier(cmd: libc::c_long) -> bool {
    // SAFETY: membarrier takes a command and two integer flags; it touches no memory of ours.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            cmd,
            0 as libc::c_long,
            0 as libc::c_long,
        ) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn membarrier(_: libc::c_long) -> bool {
    false
}

/// Records that this thread runs the callback whose userdata is `inner`; false where it
/// cannot (the caller then counts a reference). A true return must be matched by [`leave`]
/// on this thread, after the invocation's last use of `inner`.
#[inline(always)]
pub(crate) fn enter(inner: *mut c_void) -> bool {
    SLOTS.with(|s| {
        if !s.registered.load(Ordering::Relaxed) && !register() {
            return false;
        }
        let depth = s.depth.load(Ordering::Relaxed);
        if depth >= DEPTH {
            return false;
        }
        s.running[depth].store(inner, Ordering::Relaxed);
        s.depth.store(depth + 1, Ordering::Relaxed);
        // The slot is written before the invocation reads `inner`; sweeps' barriers do
        // the rest.
        compiler_fence(Ordering::SeqCst);
        true
    })
}

/// Ends the innermost invocation [`enter`] recorded on this thread. After it, the
/// invocation must not touch the userdata: a sweep may free it.
#[inline(always)]
pub(crate) fn leave() {
    SLOTS.with(|s| {
        compiler_fence(Ordering::SeqCst);
        let depth = s.depth.load(Ordering::Relaxed) - 1;
        s.running[depth].store(ptr::null_mut(), Ordering::Relaxed);
        s.depth.store(depth, Ordering::Relaxed);
        // The slot is cleared before the flag is read (see the module documentation).
        compiler_fence(Ordering::SeqCst);
        if s.sweep.load(Ordering::Relaxed) {
            s.sweep.store(false, Ordering::Relaxed);
            sweep();
        }
    })
}

/// Lists this thread's slots now, so that its first invocation does not (a callback's
/// creator usually runs it too, and invocations should not allocate).
pub(crate) fn prepare_thread() {
    if !SLOTS.with(|s| s.registered.load(Ordering::Relaxed)) {
        register();
    }
}

/// Lists this thread's slots; false when the thread is ending (its thread-locals gone).
#[cold]
#[inline(never)]
fn register() -> bool {
    REGISTRATION.try_with(|_| ()).is_ok()
}

/// Frees `inner` with `free` once no thread runs it any more: now, or when the last thread
/// running it returns.
///
/// # Safety
/// `inner` must be userdata that only running invocations still use (its `Callback` gone,
/// no counted reference left), retired once; `free` frees it.
pub(crate) unsafe fn retire(inner: *mut c_void, free: unsafe fn(*mut c_void)) {
    registry().retired.push(Retired { inner, free });
    sweep();
}

/// Frees the retired userdata that no thread runs (see the module documentation).
#[cold]
#[inline(never)]
fn sweep() {
    let unused = {
        let mut reg = registry();
        if reg.retired.is_empty() {
            return;
        }
        // Without a barrier nothing can be told apart: keep everything (a leak, not a
        // use after free). It does not fail once registered.
        if !barrier() {
            return;
        }
        let mut held = holders(&reg, true);
        if held.iter().any(|&h| h) {
            if !barrier() {
                return;
            }
            held = holders(&reg, false);
        }
        let retired = std::mem::take(&mut reg.retired);
        let (kept, unused): (Vec<_>, Vec<_>) =
            retired.into_iter().zip(held).partition(|(_, held)| *held);
        reg.retired = kept.into_iter().map(|(r, _)| r).collect();
        unused
    };
    for (r, _) in unused {
        // SAFETY: retired once (`retire`'s contract), taken off the list under the lock by
        // this sweep alone, and no thread runs it: free it, once.
        unsafe { (r.free)(r.inner) }
    }
}

/// Which retired entries some thread's slots hold; with `flag`, those threads are told to
/// sweep when they return.
fn holders(reg: &Registry, flag: bool) -> Vec<bool> {
    let mut held = vec![false; reg.retired.len()];
    for &t in &reg.threads {
        // SAFETY: listed threads' slots are alive (see `Registry`).
        let t = unsafe { &*t };
        for slot in &t.running {
            let p = slot.load(Ordering::Relaxed);
            if p.is_null() {
                continue;
            }
            if let Some(i) = reg.retired.iter().position(|r| r.inner == p) {
                held[i] = true;
                if flag {
                    t.sweep.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static FREED: AtomicUsize = AtomicUsize::new(0);

    unsafe fn count_free(_: *mut c_void) {
        FREED.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn slots_are_used_where_the_kernel_has_membarrier() {
        const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
        // SAFETY: the query touches no memory of ours.
        let commands = unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                MEMBARRIER_CMD_QUERY,
                0 as libc::c_long,
                0 as libc::c_long,
            )
        };
        let counted = std::env::var_os("FFI_CORE_COUNTED_CALLBACKS")
            .is_some_and(|v| !v.is_empty() && v != "0");
        let kernel_has_it = commands > 0 && commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED != 0;
        assert_eq!(available(), kernel_has_it && !counted);
    }

    #[test]
    fn retired_userdata_is_freed_once_this_thread_stops_running_it() {
        if !available() {
            return;
        }
        // Not a real callback's userdata: the guard only compares and hands back pointers.
        let mut data = 0u8;
        let inner = (&mut data as *mut u8).cast::<c_void>();
        let before = FREED.load(Ordering::SeqCst);
        assert!(enter(inner));
        // SAFETY: retired once; `count_free` only counts.
        unsafe { retire(inner, count_free) };
        assert_eq!(FREED.load(Ordering::SeqCst), before, "freed while running");
        leave();
        assert_eq!(
            FREED.load(Ordering::SeqCst),
            before + 1,
            "freed once, on leaving"
        );
        // Nothing is left retired for a later sweep to free again.
        sweep();
        assert_eq!(FREED.load(Ordering::SeqCst), before + 1);
    }
}
