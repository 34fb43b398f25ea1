//! Register-path callbacks (x86-64 Linux): a callback whose arguments are all integers or
//! pointers, at most 5 of them, gets its own small trampoline instead of a libffi closure.
//!
//! A C function pointer carries no data, so each callback needs its own code address that
//! knows which closure to run. libffi's closure trampoline jumps to a generic dispatcher
//! that saves every argument register, classifies every argument of the call interface and
//! builds an array of pointers to them before our code runs. Ours instead loads the
//! callback's userdata into the integer argument register after the last argument (a
//! caller-saved register the C caller does not pass anything in) and jumps to
//! [`entry`]`::<B, N>`, a Rust function taking the N arguments and the userdata in
//! registers. It then runs the same code as the libffi path (`callback::trampoline`), so
//! conversions, panics, lock mode, re-entrancy and reference counting are unchanged.
//!
//! The 23 bytes of code live alone in a page mapped writable, written, then made
//! read-and-execute (never both), and unmapped when the callback is freed. A system that
//! refuses executable mappings gets libffi's closures.

use std::ffi::c_void;
use std::ptr;

/// The most arguments a trampoline forwards: x86-64 has 6 integer argument registers and
/// the userdata takes the one after the last argument.
pub(crate) const MAX_ARGS: usize = if cfg!(all(
    target_os = "linux",
    target_arch = "x86_64",
    target_pointer_width = "64"
)) {
    5
} else {
    0
};

/// The encoding of `movabs $imm64, %reg` for the integer argument registers, in order
/// (`rdi rsi rdx rcx r8 r9`): REX prefix and opcode.
const MOVABS: [[u8; 2]; 6] = [
    [0x48, 0xbf],
    [0x48, 0xbe],
    [0x48, 0xba],
    [0x48, 0xb9],
    [0x49, 0xb8],
    [0x49, 0xb9],
];

/// One trampoline: its own page of executable code.
pub(crate) struct Trampoline {
    page: *mut c_void,
}

// SAFETY: the page is immutable after `new` and only unmapped by `drop`.
unsafe impl Send for Trampoline {}
// SAFETY: as above.
unsafe impl Sync for Trampoline {}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

impl Trampoline {
    /// Code that sets integer argument register `register` (0-based) to `data` and jumps
    /// to `target`; `None` if the system refuses an executable mapping.
    pub(crate) fn new(register: usize, data: *mut c_void, target: *const c_void) -> Option<Self> {
        let mut code = [0u8; 23];
        code[0..2].copy_from_slice(&MOVABS[register]);
        code[2..10].copy_from_slice(&(data as u64).to_le_bytes());
        // movabs $target, %r11; jmp *%r11 (r11 is scratch at a call boundary).
        code[10..12].copy_from_slice(&[0x49, 0xbb]);
        code[12..20].copy_from_slice(&(target as u64).to_le_bytes());
        code[20..23].copy_from_slice(&[0x41, 0xff, 0xe3]);
        let len = page_size();
        // SAFETY: a fresh anonymous private mapping; nothing else refers to it.
        let page = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return None;
        }
        let trampoline = Trampoline { page };
        // SAFETY: the page is `len >= 23` writable bytes that only this function uses; once
        // written it becomes read-and-execute (x86 needs no instruction-cache flush: the
        // mprotect call orders the writes before any execution).
        unsafe {
            ptr::copy_nonoverlapping(code.as_ptr(), page.cast::<u8>(), code.len());
            if libc::mprotect(page, len, libc::PROT_READ | libc::PROT_EXEC) != 0 {
                return None; // `trampoline` unmaps the page
            }
        }
        Some(trampoline)
    }

    /// The code address.
    pub(crate) fn code(&self) -> *mut c_void {
        self.page
    }
}

impl Drop for Trampoline {
    fn drop(&mut self) {
        // SAFETY: the page was mapped by `new` with this length and is unmapped once; no C
        // caller may start a call through it any more (the callback is being freed), and an
        // invocation already running has left it (the trampoline jumps, it does not call).
        unsafe { libc::munmap(self.page, page_size()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn a_trampoline_passes_its_data_after_the_arguments() {
        extern "C" fn target(a: u64, b: u64, data: *mut c_void) -> u64 {
            a * 1000 + b * 10 + data as u64
        }
        let t = Trampoline::new(2, 7 as *mut c_void, target as *const c_void).unwrap();
        // SAFETY: the trampoline sets the third integer register to 7 and jumps to `target`,
        // which takes two integers and that pointer.
        let f: extern "C" fn(u64, u64) -> u64 = unsafe { std::mem::transmute(t.code()) };
        assert_eq!(f(4, 5), 4057);
    }
}
