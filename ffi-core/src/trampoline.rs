//! Register-path callbacks (x86-64 and aarch64 Linux): a callback whose arguments are all
//! integers or pointers, at most 5 of them, gets its own small trampoline instead of a
//! libffi closure.
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
//! The code (23 bytes on x86-64, 32 on aarch64) lives alone in a page mapped writable,
//! written, then made read-and-execute (never both), and unmapped when the callback is
//! freed. A system that refuses executable mappings gets libffi's closures.
//!
//! On aarch64 the trampoline is `ldr xN, data; ldr x16, target; br x16` with the two
//! addresses in a literal pool after the code: x16 (IP0) is the scratch register the
//! procedure call standard reserves for veneers like this one, and a `br x16` target is
//! a valid landing pad for `bti c` (should the Rust code be built with branch target
//! identification). The instruction cache is not coherent with data writes there: the
//! written bytes are cleaned to the point of unification and the instruction cache
//! invalidated for them before the page becomes executable, as libffi and every JIT do.
//!
//! [`entry`]: crate::callback

use std::ffi::c_void;
use std::ptr;

/// The most arguments a trampoline forwards (the userdata takes the integer register after
/// the last one): 5, as many as the callback entries cover, on x86-64 (6 integer argument
/// registers) and aarch64 (8) Linux, 64-bit little-endian; 0 (no trampolines) elsewhere.
pub(crate) const MAX_ARGS: usize = if cfg!(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64"),
    target_pointer_width = "64",
    target_endian = "little"
)) {
    5
} else {
    0
};

/// The encoding of `movabs $imm64, %reg` for the integer argument registers, in order
/// (`rdi rsi rdx rcx r8 r9`): REX prefix and opcode.
#[cfg(target_arch = "x86_64")]
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
    /// to `target`; `None` if the system refuses an executable mapping (or the platform
    /// has no trampolines).
    pub(crate) fn new(register: usize, data: *mut c_void, target: *const c_void) -> Option<Self> {
        let code = code(register, data, target)?;
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
        // SAFETY: the page is `len >= code.len()` writable bytes that only this function
        // uses; once written (and, where the instruction cache needs it, synchronised) it
        // becomes read-and-execute. x86 needs no instruction-cache maintenance: the
        // mprotect call orders the writes before any execution.
        unsafe {
            let code = code.as_slice();
            ptr::copy_nonoverlapping(code.as_ptr(), page.cast::<u8>(), code.len());
            #[cfg(target_arch = "aarch64")]
            synchronise_instruction_cache(page.cast::<u8>(), code.len());
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

/// A trampoline's machine code: `len` bytes of `bytes`.
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
struct Code {
    bytes: [u8; 32],
    len: usize,
}

#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
impl Code {
    fn new() -> Code {
        Code {
            bytes: [0; 32],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The x86-64 trampoline: `movabs $data, %reg; movabs $target, %r11; jmp *%r11` (r11 is
/// scratch at a call boundary).
#[cfg(target_arch = "x86_64")]
fn code(register: usize, data: *mut c_void, target: *const c_void) -> Option<Code> {
    let mut code = Code::new();
    code.push(MOVABS.get(register)?);
    code.push(&(data as u64).to_le_bytes());
    code.push(&[0x49, 0xbb]);
    code.push(&(target as u64).to_le_bytes());
    code.push(&[0x41, 0xff, 0xe3]);
    Some(code)
}

/// The aarch64 trampoline (little-endian): `ldr x<register>, 16; ldr x16, 24 (20 from
/// the second instruction); br x16; nop`, then `data` and `target` as 8-byte literals at
/// offsets 16 and 24.
#[cfg(target_arch = "aarch64")]
fn code(register: usize, data: *mut c_void, target: *const c_void) -> Option<Code> {
    if register > 7 {
        return None;
    }
    /// `LDR Xt, label` (literal, 64-bit): `imm19` counts words from the instruction.
    const fn ldr_literal(rt: u32, words: u32) -> u32 {
        0x5800_0000 | words << 5 | rt
    }
    const BR_X16: u32 = 0xd61f_0000 | 16 << 5;
    const NOP: u32 = 0xd503_201f;
    let mut code = Code::new();
    for insn in [
        ldr_literal(register as u32, 4),
        ldr_literal(16, 5),
        BR_X16,
        NOP,
    ] {
        code.push(&insn.to_le_bytes());
    }
    code.push(&(data as u64).to_le_bytes());
    code.push(&(target as u64).to_le_bytes());
    Some(code)
}

/// No trampolines on other platforms.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn code(_register: usize, _data: *mut c_void, _target: *const c_void) -> Option<Code> {
    None
}

/// Makes `len` freshly written bytes at `start` visible to instruction fetch (what
/// `__builtin___clear_cache` does on aarch64): clean each data cache line to the point of
/// unification, wait, invalidate each instruction cache line, wait, and resynchronise
/// this thread's fetch. Line sizes come from `CTR_EL0`, which Linux lets user space read.
///
/// # Safety
/// `start..start + len` must be mapped readable.
#[cfg(target_arch = "aarch64")]
unsafe fn synchronise_instruction_cache(start: *mut u8, len: usize) {
    use std::arch::asm;
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effect (Linux allows or emulates it at EL0).
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
    let data_line = 4usize << ((ctr >> 16) & 0xf);
    let code_line = 4usize << (ctr & 0xf);
    let (begin, end) = (start as usize, start as usize + len);
    // SAFETY: cache maintenance by address on the caller's mapped range changes no memory
    // contents; the barriers only order it.
    unsafe {
        let mut line = begin & !(data_line - 1);
        while line < end {
            asm!("dc cvau, {}", in(reg) line, options(nostack, preserves_flags));
            line += data_line;
        }
        asm!("dsb ish", options(nostack, preserves_flags));
        let mut line = begin & !(code_line - 1);
        while line < end {
            asm!("ic ivau, {}", in(reg) line, options(nostack, preserves_flags));
            line += code_line;
        }
        asm!("dsb ish", "isb", options(nostack, preserves_flags));
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
    // The register-path tests run on x86-64 and aarch64 Linux only.
    #![cfg_attr(
        not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )),
        allow(unused_imports, dead_code)
    )]
    use super::*;

    #[test]
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
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
