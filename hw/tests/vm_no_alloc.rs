//! Toggling a held line allocates nothing, through every backend (issue 10's performance
//! target): a counting global allocator around `set_value` and `set_all` loops, per thread so
//! that tests running side by side do not disturb each other.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{path, sim};
use hw::{LibgpiodBackend, Request, RequestBuilder, SysfsBackend, Uapi, Value};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every request to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_counter_sees_allocations() {
    assert_eq!(allocations(|| drop(std::hint::black_box(vec![1u8; 10]))), 1);
}

/// Toggles three held outputs 200 times one by one and 200 times all at once; the number
/// of allocations made.
fn toggle_allocations(name: &str, request: impl FnOnce(RequestBuilder) -> hw::Result<Request>) {
    let s = sim(4);
    let mut req = request(
        Request::builder()
            .on_chip(path(&s))
            .with_lines(&[0, 1, 3])
            .as_output(Value::Inactive),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let (high, low) = ([Value::Active; 3], [Value::Inactive; 3]);
    // The first calls may fill lazily made buffers: not per toggle.
    req.set_value(1, Value::Active).unwrap();
    req.set_all(&high).unwrap();
    let n = allocations(|| {
        for i in 0..200 {
            let v = if i % 2 == 0 {
                Value::Inactive
            } else {
                Value::Active
            };
            req.set_value(1, v).unwrap();
        }
    });
    assert_eq!(n, 0, "{name}: set_value allocated {n} times in 200 toggles");
    let n = allocations(|| {
        for i in 0..200 {
            req.set_all(if i % 2 == 0 { &low } else { &high }).unwrap();
        }
    });
    assert_eq!(n, 0, "{name}: set_all allocated {n} times in 200 toggles");
}

#[test]
fn character_device_toggles_allocate_nothing() {
    toggle_allocations("cdev-v2", |b| b.with_uapi(Uapi::V2).request());
    if hwkit_testbed::sim::kernel_has_uapi_v1() {
        toggle_allocations("cdev-v1", |b| b.with_uapi(Uapi::V1).request());
    }
}

#[test]
fn sysfs_toggles_allocate_nothing() {
    toggle_allocations("sysfs", |b| b.request_with(&SysfsBackend::native()));
    toggle_allocations("sysfs-ffi", |b| b.request_with(&SysfsBackend::ffi()));
}

#[test]
fn libgpiod_toggles_allocate_nothing() {
    // libgpiod 2.x, trixie's build (packed by the test bed): every kernel serves it.
    let so3 = hwkit_testbed::debian_libs::guest_path("trixie", "libgpiod.so.3");
    // SAFETY: Debian's libgpiod 2.x, whose initialisers are sound.
    let v2 = unsafe { LibgpiodBackend::open_library(so3.to_str().unwrap()) }.unwrap();
    toggle_allocations("libgpiod-v2", |b| b.request_with(&v2));
    if hwkit_testbed::sim::kernel_has_uapi_v1() {
        let v1 = LibgpiodBackend::open_version(hw::LibgpiodVersion::V1).unwrap();
        toggle_allocations("libgpiod-v1", |b| b.request_with(&v1));
    }
}
