//! GPIO toggle latency per backend, side by side in one run: the time of one set-value call
//! that flips an output line of a gpio-sim chip.
//!
//! * `uapi-v2-ioctl`: hw's character-device backend, uAPI v2 (`GPIO_V2_LINE_SET_VALUES_IOCTL`);
//! * `uapi-v1-gpio-cdev`: the same through uAPI v1, by way of the `gpio-cdev` crate;
//! * `sysfs-native`: hw's sysfs backend, value fd held open, one `pwrite` per toggle;
//! * `sysfs-ffi-core`: the same `pwrite` made through ffi-core's dynamic call;
//! * `libgpiod-ffi-core`: libgpiod 1.x's `gpiod_line_set_value`, called through hw's libgpiod
//!   backend (ffi-core's dynamic call);
//! * `libgpiod-typed-call`: the same C function through ffi-core's typed binding (a plain
//!   function-pointer call, no libffi): libgpiod's own cost, for telling it from the FFI's;
//! * `floor-bare-ioctl`, `floor-bare-pwrite`: the floors, the bare system calls with nothing
//!   around them. The v2 and sysfs backends are measured paired with their floor: every
//!   sample of the backend is taken right beside one of its floor's, of as many toggles, in
//!   alternating order, and the median of the samples' ratios is printed (issue 10's target:
//!   within 10%). Pairing cancels the machine's drift, which moves ratios of criterion's
//!   one-after-another medians by about 5 % between runs in a VM;
//! * `sysfs-naive-open-write-close`: the anchor, what shell scripts and older crates do:
//!   open `value`, write, close, every toggle.
//!
//! It needs gpio-sim (configfs), so it runs in the test bed's VM:
//!
//! ```text
//! scripts/bench-gpio-vm.sh            # builds it, boots the VM, runs it, prints medians
//! ```
//!
//! Outside a machine with gpio-sim it prints one line saying so and exits. After the group it
//! prints each backend's median and its ratio to the uAPI v2 median, from criterion's
//! estimates of this run.

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ffi_core::Library;
use gpiosim::{Bank, Level, Sim};
use hw::backend::libgpiod::{LibgpiodBackend, LibgpiodVersion};
use hw::backend::sysfs::SysfsBackend;
use hw::{Request, Uapi, Value};
use sysfs_gpio::{IoPath, Sysfs, SysfsLine};

const GROUP: &str = "gpio_toggle";
/// Criterion's samples per benchmark.
const SAMPLES: usize = 30;
/// The backends measured paired with a floor: (backend, floor).
const PAIRS: [(&str, &str); 2] = [
    ("uapi-v2-ioctl", "floor-bare-ioctl"),
    ("sysfs-native", "floor-bare-pwrite"),
];
const CONFIGFS_SIM: &str = "/sys/kernel/config/gpio-sim";

/// One backend's line, toggled by `toggle`.
struct Subject {
    id: &'static str,
    toggle: Box<dyn FnMut(bool)>,
}

fn sim() -> Result<Sim, String> {
    gpiosim::builder()
        .with_bank(&Bank::new(
            10,
            format!("hwkit-bench-{}", std::process::id()),
        ))
        .live()
        .map_err(|e| format!("cannot create a gpio-sim chip: {e}"))
}

/// A request of one output line of the sim through `request`, checked to reach the sim.
fn held(
    sim: &Sim,
    offset: u32,
    id: &'static str,
    request: impl FnOnce(hw::RequestBuilder) -> hw::Result<Request>,
) -> Result<Subject, String> {
    let chip = &sim.chips()[0];
    let builder = Request::builder()
        .on_chip(chip.dev_path())
        .consumer("gpio-toggle-bench")
        .with_line(offset)
        .as_output(Value::Inactive);
    let mut req = request(builder).map_err(|e| format!("{id}: {e}"))?;
    req.set_value(offset, Value::Active)
        .map_err(|e| format!("{id}: {e}"))?;
    if chip.get_level(offset).ok() != Some(Level::High) {
        return Err(format!("{id}: the simulator did not see the line go high"));
    }
    Ok(Subject {
        id,
        toggle: Box::new(move |high| {
            req.set_value(offset, Value::from(high)).expect("set value");
        }),
    })
}

/// The anchor: open, write and close the `value` file on every toggle.
fn naive(sim: &Sim, offset: u32) -> Result<Subject, String> {
    let label = sim.chips()[0].config().label.clone();
    let mut line = Sysfs::new()
        .open_line(label.as_str(), offset, IoPath::Native)
        .map_err(|e| format!("naive sysfs: {e}"))?;
    line.set_output(false)
        .map_err(|e| format!("naive sysfs: {e}"))?;
    let value: PathBuf = line.dir().join("value");
    std::fs::write(&value, b"1").map_err(|e| format!("naive sysfs: {e}"))?;
    if sim.chips()[0].get_level(offset).ok() != Some(Level::High) {
        return Err("naive sysfs: the simulator did not see the line go high".into());
    }
    Ok(Subject {
        id: "sysfs-naive-open-write-close",
        toggle: Box::new(move |high| {
            // `line` stays alive in the closure so the GPIO stays exported.
            let _ = &line as &SysfsLine;
            std::fs::write(&value, if high { b"1" } else { b"0" }).expect("write value");
        }),
    })
}

/// libgpiod 1.x's line, driven through ffi-core's zero-overhead typed binding.
fn libgpiod_typed(sim: &Sim, offset: u32) -> Result<Subject, String> {
    type ChipOpen = unsafe extern "C" fn(*const c_char) -> *mut c_void;
    type GetLine = unsafe extern "C" fn(*mut c_void, c_uint) -> *mut c_void;
    type RequestOutput = unsafe extern "C" fn(*mut c_void, *const c_char, c_int) -> c_int;
    type SetValue = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;
    type Close = unsafe extern "C" fn(*mut c_void);
    let fail = |what: &str| format!("libgpiod typed: {what}");
    // The bindings borrow the library for the rest of the run.
    let lib: &'static Library = Box::leak(Box::new(
        // SAFETY: the system's libgpiod 1.x; its initialisers are sound.
        unsafe { Library::open(hw::backend::libgpiod::SONAME_V1) }
            .map_err(|e| fail(&e.to_string()))?,
    ));
    // SAFETY: each type is the function's prototype in gpiod.h of libgpiod 1.6.
    let (open, get_line, request, set, close) = unsafe {
        (
            lib.typed::<ChipOpen>("gpiod_chip_open"),
            lib.typed::<GetLine>("gpiod_chip_get_line"),
            lib.typed::<RequestOutput>("gpiod_line_request_output"),
            lib.typed::<SetValue>("gpiod_line_set_value"),
            lib.typed::<Close>("gpiod_chip_close"),
        )
    };
    let (open, get_line, request, set, close) = (
        open.map_err(|e| fail(&e.to_string()))?,
        get_line.map_err(|e| fail(&e.to_string()))?,
        request.map_err(|e| fail(&e.to_string()))?,
        set.map_err(|e| fail(&e.to_string()))?,
        close.map_err(|e| fail(&e.to_string()))?,
    );
    let path = CString::new(sim.chips()[0].dev_path().as_os_str().as_encoded_bytes())
        .map_err(|e| fail(&e.to_string()))?;
    // SAFETY: a NUL-terminated path; the result is checked for NULL.
    let chip = unsafe { open(path.as_ptr()) };
    if chip.is_null() {
        return Err(fail("gpiod_chip_open failed"));
    }
    let chip = ChipGuard {
        chip,
        close: *close,
    };
    // SAFETY: a live chip object and an offset below its line count (the sim has 8 lines).
    let line = unsafe { get_line(chip.chip, offset) };
    // SAFETY: a line object of the live chip and a NUL-terminated consumer name.
    if line.is_null() || unsafe { request(line, c"gpio-toggle-bench".as_ptr(), 1) } != 0 {
        return Err(fail("requesting the line failed"));
    }
    if sim.chips()[0].get_level(offset).ok() != Some(Level::High) {
        return Err(fail("the simulator did not see the line go high"));
    }
    let set: SetValue = *set;
    Ok(Subject {
        id: "libgpiod-typed-call",
        toggle: Box::new(move |high| {
            // SAFETY: the line is requested as an output of a chip `chip` keeps open.
            let rc = unsafe { set(line, c_int::from(high)) };
            assert_eq!(rc, 0, "gpiod_line_set_value");
            let _ = &chip;
        }),
    })
}

/// Closes a libgpiod chip (releasing its lines) when the subject is dropped.
struct ChipGuard {
    chip: *mut c_void,
    close: unsafe extern "C" fn(*mut c_void),
}

impl Drop for ChipGuard {
    fn drop(&mut self) {
        // SAFETY: the chip came from gpiod_chip_open and is closed exactly once, here.
        unsafe { (self.close)(self.chip) }
    }
}

/// The character device's floor: the bare ioctl on a uAPI v2 request's fd, nothing around it.
fn floor_ioctl(sim: &Sim, offset: u32) -> Result<Subject, String> {
    use std::os::fd::AsFd;
    let req = Request::builder()
        .on_chip(sim.chips()[0].dev_path())
        .consumer("gpio-toggle-bench")
        .with_line(offset)
        .as_output(Value::Inactive)
        .with_uapi(Uapi::V2)
        .request()
        .map_err(|e| format!("floor-bare-ioctl: {e}"))?;
    let fd = req
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("floor-bare-ioctl: {e}"))?;
    Ok(Subject {
        id: "floor-bare-ioctl",
        toggle: Box::new(move |high| {
            let _held = &req;
            hw::raw::set_line_values(fd.as_fd(), u64::from(high), 1)
                .expect("GPIO_V2_LINE_SET_VALUES_IOCTL");
        }),
    })
}

/// sysfs's floor: a bare `pwrite` on a held `value` fd.
fn floor_pwrite(sim: &Sim, offset: u32) -> Result<Subject, String> {
    use std::os::unix::fs::FileExt;
    let label = sim.chips()[0].config().label.clone();
    let mut line = Sysfs::new()
        .open_line(label.as_str(), offset, IoPath::Native)
        .map_err(|e| format!("floor-bare-pwrite: {e}"))?;
    line.set_output(false)
        .map_err(|e| format!("floor-bare-pwrite: {e}"))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(line.dir().join("value"))
        .map_err(|e| format!("floor-bare-pwrite: {e}"))?;
    Ok(Subject {
        id: "floor-bare-pwrite",
        toggle: Box::new(move |high| {
            let _exported = &line;
            file.write_at(if high { b"1" } else { b"0" }, 0)
                .expect("pwrite");
        }),
    })
}

fn subjects(sim: &Sim) -> Result<Vec<Subject>, String> {
    let gpiod = LibgpiodBackend::open_version(LibgpiodVersion::V1).map_err(|e| e.to_string())?;
    // Each floor right before the backend measured against it, so that the ratio of their
    // one-after-another medians, printed beside the paired one, is as fair as it can be.
    Ok(vec![
        floor_ioctl(sim, 7)?,
        held(sim, 0, "uapi-v2-ioctl", |b| b.with_uapi(Uapi::V2).request())?,
        floor_pwrite(sim, 8)?,
        held(sim, 1, "uapi-v1-gpio-cdev", |b| {
            b.with_uapi(Uapi::V1).request()
        })?,
        held(sim, 2, "sysfs-native", |b| {
            b.request_with(&SysfsBackend::native())
        })?,
        held(sim, 3, "sysfs-ffi-core", |b| {
            b.request_with(&SysfsBackend::ffi())
        })?,
        held(sim, 4, "libgpiod-ffi-core", |b| b.request_with(&gpiod))?,
        libgpiod_typed(sim, 6)?,
        naive(sim, 5)?,
    ])
}

/// Toggles `s` `n` times, starting from the level after `high`; the time it took.
fn toggle_n(s: &mut Subject, high: &mut bool, n: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        *high = !*high;
        (s.toggle)(black_box(*high));
    }
    start.elapsed()
}

/// The median (ns) criterion estimated for `id` in this run.
fn median_ns(out: &Path, id: &str) -> Option<f64> {
    let text = std::fs::read_to_string(out.join(GROUP).join(id).join("new/estimates.json")).ok()?;
    let rest = &text[text.find("\"median\"")?..];
    let rest = &rest[rest.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

fn main() -> ExitCode {
    if !Path::new(CONFIGFS_SIM).is_dir() {
        eprintln!(
            "gpio_toggle: needs gpio-sim ({CONFIGFS_SIM} is missing); run it in the test bed's VM: \
             scripts/bench-gpio-vm.sh"
        );
        return ExitCode::SUCCESS;
    }
    let sim = match sim() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gpio_toggle: {e}; run it in the test bed's VM: scripts/bench-gpio-vm.sh");
            return ExitCode::FAILURE;
        }
    };
    let mut subjects = match subjects(&sim) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gpio_toggle: setting up the backends failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = std::env::var_os("HWKIT_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("hwkit-criterion"));
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(SAMPLES)
        .without_plots()
        .output_directory(&out)
        .configure_from_args();
    let mut paired: Vec<(&str, &str, Vec<f64>)> = Vec::new();
    {
        let mut group = c.benchmark_group(GROUP);
        for i in 0..subjects.len() {
            let id = subjects[i].id;
            let floor = PAIRS
                .iter()
                .find(|p| p.0 == id)
                .and_then(|p| subjects.iter().position(|s| s.id == p.1));
            let Some(j) = floor else {
                let s = &mut subjects[i];
                let mut high = false;
                group.bench_function(id, |b| b.iter_custom(|n| toggle_n(s, &mut high, n)));
                continue;
            };
            let [s, f] = subjects
                .get_disjoint_mut([i, j])
                .expect("a backend is not its own floor");
            let (mut high, mut floor_high, mut floor_first) = (false, false, false);
            let mut ratios = Vec::new();
            group.bench_function(id, |b| {
                b.iter_custom(|n| {
                    floor_first = !floor_first;
                    let (took, floor_took) = if floor_first {
                        let floor_took = toggle_n(f, &mut floor_high, n);
                        (toggle_n(s, &mut high, n), floor_took)
                    } else {
                        let took = toggle_n(s, &mut high, n);
                        (took, toggle_n(f, &mut floor_high, n))
                    };
                    ratios.push(took.as_secs_f64() / floor_took.as_secs_f64());
                    took
                })
            });
            // The warm-up's calls come first; the last SAMPLES are the measurement's.
            let measured = ratios.split_off(ratios.len().saturating_sub(SAMPLES));
            paired.push((id, f.id, measured));
        }
        group.finish();
    }
    c.final_summary();
    let medians: Vec<(&str, Option<f64>)> = subjects
        .iter()
        .map(|s| (s.id, median_ns(&out, s.id)))
        .collect();
    let median = |id: &str| medians.iter().find(|m| m.0 == id).and_then(|m| m.1);
    for (backend, floor, mut ratios) in paired {
        let one_after_another = match (median(backend), median(floor)) {
            (Some(b), Some(f)) => format!("x{:.3}", b / f),
            _ => "no estimate".into(),
        };
        ratios.sort_by(f64::total_cmp);
        if ratios.is_empty() {
            println!("{backend} over {floor}: no paired samples");
            continue;
        }
        let quartile = |q: usize| ratios[ratios.len() * q / 4];
        println!(
            "{backend} over {floor}: x{:.3}, the median of {} paired samples (quartiles \
             x{:.3}-x{:.3}; one after another: {one_after_another}; target: at most x1.10)",
            quartile(2),
            ratios.len(),
            quartile(1),
            quartile(3),
        );
    }
    if let Some(base) = median("uapi-v2-ioctl") {
        println!("gpio_toggle medians (ratio to uapi-v2-ioctl):");
        for (id, m) in &medians {
            match m {
                Some(m) => println!("  {id:<30} {:>10.0} ns  x{:.2}", m, m / base),
                None => println!("  {id:<30} (no estimate)"),
            }
        }
    }
    drop(subjects);
    drop(sim);
    ExitCode::SUCCESS
}
