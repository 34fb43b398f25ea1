//! `hwkit bench` against gpio-sim: every backend the kernel has is measured beside its floor,
//! the report parses back, the line is put back as it was, and every refusal is one line that
//! touches nothing.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{err, finish, hwkit, ok, one_pi4, pi4, unique, wait_requested};
use gpiosim::{Bank, Sim};
use hw::{Direction, Request, Value};
use serde_json::Value as Json;

fn sim(lines: u32) -> Sim {
    gpiosim::builder()
        .with_bank(&Bank::new(lines, unique("bench")))
        .live()
        .unwrap()
}

fn chip_path(s: &Sim) -> String {
    s.chips()[0].dev_path().display().to_string()
}

fn bench(args: &[&str]) -> std::process::Output {
    let mut all = vec!["bench", "--duration", "0.1", "--warmup", "0.02"];
    all.extend_from_slice(args);
    hwkit(&all)
}

fn direction(s: &Sim, offset: u32) -> Direction {
    let info = common::info(s, 0, offset);
    assert!(!info.used, "line {offset} still held: {info:?}");
    info.direction
}

fn backend<'a>(doc: &'a Json, name: &str) -> &'a Json {
    doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["backend"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

#[test]
fn every_backend_is_measured_or_says_why_not_and_the_line_is_put_back() {
    let s = sim(4);
    let chip = chip_path(&s);
    // libgpiod 2.x (trixie's, packed by the test bed), which every kernel can serve.
    let lib = hwkit_testbed::debian_libs::guest_path("trixie", "libgpiod.so.3");
    let out = Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(["bench", "--duration", "0.1", "--warmup", "0.02"])
        .args(["--json", "--chip", &chip, "2"])
        .env("LD_LIBRARY_PATH", lib.parent().unwrap())
        .output()
        .unwrap();
    let doc: Json = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(doc["schema"], "hwkit-bench/1");
    assert_eq!(doc["lines"]["offsets"], serde_json::json!([2]));
    assert_eq!(doc["interrupted"], false);
    assert!(
        doc["host"]["kernel"].as_str().unwrap().contains('.'),
        "{doc}"
    );
    assert_eq!(doc["host"]["uapi"], "v2");
    for b in doc["backends"].as_array().unwrap() {
        if b["available"] == true {
            assert!(b["toggles"].as_u64().unwrap() > 0, "{b}");
            let l = &b["latency_ns"];
            assert!(
                l["p50"].as_u64().unwrap() <= l["p99"].as_u64().unwrap(),
                "{b}"
            );
            assert!(
                l["p99"].as_u64().unwrap() <= l["max"].as_u64().unwrap(),
                "{b}"
            );
            if b["floor"].is_string() {
                assert!(b["ratio_to_floor"].as_f64().unwrap() > 0.0, "{b}");
            }
        } else {
            assert!(!b["unavailable_reason"].as_str().unwrap().is_empty(), "{b}");
        }
    }
    // What the kernel (and the guest) has is measured, not skipped.
    for always in ["floor-ioctl", "v2", "libgpiod"] {
        assert_eq!(backend(&doc, always)["available"], true, "{always}: {doc}");
    }
    // gpio-sim is no SoC GPIO block: the register backend says so.
    let register = backend(&doc, "register");
    assert_eq!(register["available"], false, "{register}");
    let why = register["unavailable_reason"].as_str().unwrap();
    assert!(why.contains("has no device-tree node"), "{why}");
    let v1 = backend(&doc, "v1");
    assert_eq!(
        v1["available"],
        hwkit_testbed::sim::kernel_has_uapi_v1(),
        "{v1}"
    );
    if std::path::Path::new("/sys/class/gpio/export").exists() {
        for sysfs in ["floor-pwrite", "sysfs", "sysfs-ffi", "sysfs-naive"] {
            assert_eq!(backend(&doc, sysfs)["available"], true, "{sysfs}: {doc}");
        }
    }
    // The line was an input before the run: it is one again, and free.
    assert_eq!(direction(&s, 2), Direction::Input);
}

#[test]
fn an_output_stays_an_output_and_several_lines_toggle_at_once() {
    let s = sim(4);
    let chip = chip_path(&s);
    // gpio-sim keeps a line's direction after release.
    Request::builder()
        .on_chip(&chip)
        .with_line(1)
        .as_output(Value::Active)
        .request()
        .unwrap()
        .release();
    let csv = ok(&bench(&[
        "--csv",
        "--backend",
        "v2",
        "--chip",
        &chip,
        "--lines",
        "3",
        "1",
    ]));
    let mut rows = csv.lines();
    assert!(
        rows.next()
            .unwrap()
            .starts_with("backend,floor,available,toggles"),
        "{csv}"
    );
    let names: Vec<&str> = rows.map(|r| r.split(',').next().unwrap()).collect();
    assert_eq!(names, ["floor-ioctl", "v2"], "{csv}");
    assert_eq!(direction(&s, 1), Direction::Output);
    assert_eq!(direction(&s, 2), Direction::Input);
    assert_eq!(direction(&s, 3), Direction::Input);
}

#[test]
fn a_held_line_is_refused_with_its_holder_and_left_alone() {
    let s = sim(4);
    let chip = chip_path(&s);
    let held = Request::builder()
        .on_chip(&chip)
        .consumer("relay-daemon")
        .with_line(3)
        .as_output(Value::Active)
        .request()
        .unwrap();
    let e = err(&bench(&["--chip", &chip, "3"]));
    assert!(e.contains("offset 3 is in use by 'relay-daemon'"), "{e}");
    // Also when the held line is one of --lines.
    let e = err(&bench(&["--chip", &chip, "--lines", "2", "2"]));
    assert!(e.contains("offset 3 is in use by 'relay-daemon'"), "{e}");
    assert_eq!(held.value(3).unwrap(), Value::Active);
    assert_eq!(direction(&s, 2), Direction::Input);
}

#[test]
fn bad_options_are_one_line_refusals() {
    let s = sim(4);
    let chip = chip_path(&s);
    let cases: &[(&[&str], &str)] = &[
        (&["--lines", "3", "2"], "runs past the end of"),
        (
            &["--lines", "0", "2"],
            "--lines 0 is out of range: give 1 to 64",
        ),
        (
            &["--plot", "/tmp/report.png", "2"],
            "give a path ending in .svg",
        ),
        (&["9"], "offset 9 is out of range on gpiochip"),
    ];
    for (args, want) in cases {
        let mut all = vec!["--chip", chip.as_str()];
        all.extend_from_slice(args);
        let e = err(&bench(&all));
        assert!(e.contains(want), "{args:?}: {e}");
    }
    let e = err(&hwkit(&["bench", "--duration", "0", "--chip", &chip, "2"]));
    assert!(
        e.contains("--duration 0 is not a usable number of seconds"),
        "{e}"
    );
    // clap's own refusal, with the reason hwkit gave it.
    let out = hwkit(&["bench", "--backend", "v2,gpiod", "--chip", &chip, "2"]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("unknown backend 'gpiod' in 'v2,gpiod'"), "{e}");
    if !hwkit_testbed::sim::kernel_has_uapi_v1() {
        // Named, an unavailable backend is an error, not a gap in the report.
        let e = err(&bench(&["--backend", "v1", "--chip", &chip, "2"]));
        assert!(
            e.contains("backend v1: GPIO uAPI v1 is not available"),
            "{e}"
        );
    }
    assert_eq!(direction(&s, 2), Direction::Input);
}

#[test]
fn rt_without_the_permission_is_refused_before_any_line_is_touched() {
    let s = sim(4);
    let chip = chip_path(&s);
    let out = Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(["bench", "--rt", "--chip", &chip, "2"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let e = err(&out);
    assert!(e.starts_with("hwkit: --rt: "), "{e}");
    assert!(e.contains("run as root"), "{e}");
    assert_eq!(direction(&s, 2), Direction::Input);
}

#[test]
fn ctrl_c_ends_the_run_with_a_report_and_the_line_put_back() {
    let s = sim(4);
    let chip = chip_path(&s);
    let watcher = hw::Chip::open(&chip).unwrap();
    watcher.watch_line_info(2).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args([
            "bench",
            "--json",
            "--backend",
            "v2",
            "--duration",
            "600",
            "--chip",
            &chip,
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_requested(&watcher, "hwkit bench requested the line");
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let (status, stdout, stderr) = finish(child, "bench --duration 600");
    assert_eq!(status.code(), Some(130), "{stderr}");
    let doc: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["interrupted"], true);
    assert_eq!(direction(&s, 2), Direction::Input);
}

#[test]
fn header_pins_and_the_plot_work_on_the_simulated_pi() {
    let _one = one_pi4();
    let s = pi4(None);
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("bench.svg");
    let text = ok(&bench(&[
        "--backend",
        "v2",
        "--plot",
        svg.to_str().unwrap(),
        "pin11",
    ]));
    assert!(text.starts_with("hwkit bench: pin11 (gpiochip"), "{text}");
    assert!(text.contains("line 17)"), "{text}");
    assert!(text.contains("Raspberry Pi 4"), "{text}");
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg"), "{plot:.200}");
    let legend: Vec<&str> = plot
        .split("</text>")
        .filter_map(|t| t.rsplit_once('>'))
        .map(|(_, text)| text.trim())
        .collect();
    assert!(
        legend.contains(&"floor-ioctl") && legend.contains(&"v2"),
        "{legend:?}"
    );
    assert_eq!(direction(&s, 17), Direction::Input);
}

#[test]
fn loopback_on_gpio_sim_measures_edges_over_a_wire_it_says_is_simulated() {
    let s = sim(4);
    let chip = chip_path(&s);
    let doc: Json = serde_json::from_str(&ok(&hwkit(&[
        "bench",
        "--duration",
        "0.3",
        "--warmup",
        "0.05",
        "--json",
        "--chip",
        &chip,
        "--loopback",
        "0,3",
    ])))
    .unwrap();
    assert_eq!(doc["schema"], "hwkit-bench-loopback/1");
    assert_eq!(doc["wire"], "simulated");
    assert!(doc["edges"].as_u64().unwrap() > 0, "{doc}");
    let kernel = doc["set_to_kernel_ns"]["p50"].as_u64().unwrap();
    let user = doc["set_to_user_ns"]["p50"].as_u64().unwrap();
    assert!(
        kernel <= user,
        "the kernel stamps the edge before user space has it: {doc}"
    );
    let text = ok(&hwkit(&[
        "bench",
        "--duration",
        "0.1",
        "--warmup",
        "0",
        "--chip",
        &chip,
        "--loopback",
        "0,3",
    ]));
    assert!(text.contains("wire:    SIMULATED"), "{text}");
    assert!(text.contains("set -> kernel timestamp"), "{text}");
    assert_eq!(direction(&s, 0), Direction::Input);
    assert_eq!(direction(&s, 3), Direction::Input);
    // The same line twice is no loopback.
    let e = err(&hwkit(&["bench", "--chip", &chip, "--loopback", "1,1"]));
    assert!(e.contains("are the same line"), "{e}");
}

#[test]
fn lines_n_requests_every_line_and_rt_cpu_are_applied_and_reported() {
    let s = sim(4);
    let chip = chip_path(&s);
    let watcher = hw::Chip::open(&chip).unwrap();
    for o in 1..4 {
        watcher.watch_line_info(o).unwrap();
    }
    let out = bench(&[
        "--json",
        "--backend",
        "v2",
        "--rt",
        "--cpu",
        "0",
        "--chip",
        &chip,
        "--lines",
        "3",
        "1",
    ]);
    let doc: Json = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(doc["lines"]["offsets"], serde_json::json!([1, 2, 3]));
    assert_eq!(doc["host"]["realtime"], true, "{doc}");
    assert_eq!(doc["host"]["pinned_cpu"], 0, "{doc}");
    // Every one of the three lines was requested by the run, not only the first.
    let mut requested = std::collections::BTreeSet::new();
    while let Some(e) = watcher
        .read_info_event_timeout(Duration::from_millis(200))
        .unwrap()
    {
        if e.kind == hw::InfoChangeKind::Requested {
            requested.insert(e.info.offset);
        }
    }
    assert_eq!(requested.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
}
