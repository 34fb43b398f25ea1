//! `hwkit gpio` against gpio-sim chips in the VM: what it prints, and what the kernel and the
//! simulator see while it runs.

mod common;

use std::process::{Child, Command};
use std::time::Duration;

use common::{
    cdev_backends, err, eventually, finish, gpio as hwkit, info, ok, spawn_gpio as spawn, unique,
};
use gpiosim::{Bank, Direction as HogDir, Level, Sim};

fn chip(sim: &Sim) -> String {
    sim.chips()[0].dev_path().display().to_string()
}

fn used(sim: &Sim, offset: u32) -> bool {
    info(sim, 0, offset).used
}

/// Spawns `hwkit gpio mon` with `--banner` and returns once the banner is out: hwkit prints
/// it after every request is made, edge detection included, so edges from then on are seen
/// (the `used` flag and line-info events come earlier, before uAPI v1's interrupt exists).
/// The banner is read off stdout; the rest is left for [`finish`].
fn spawn_monitoring(args: &[&str]) -> Child {
    use std::io::Read;
    let mut args = args.to_vec();
    args.push("--banner");
    let mut child = spawn(&args);
    let mut stdout = child.stdout.take().expect("stdout is piped");
    // Byte by byte, so nothing after the banner is taken from `finish`.
    let mut banner = Vec::new();
    let mut byte = [0u8];
    while banner.last() != Some(&b'\n') {
        match stdout.read(&mut byte) {
            Ok(1) => banner.push(byte[0]),
            _ => {
                let (status, out, err) = finish(child, "mon");
                panic!("hwkit ended before its banner ({status}): {out:?} {err}");
            }
        }
    }
    let banner = String::from_utf8_lossy(&banner);
    assert!(banner.starts_with("Monitoring line"), "{banner:?}");
    child.stdout = Some(stdout);
    child
}

fn named_sim(names: &[(u32, &str)]) -> Sim {
    let mut bank = Bank::new(8, unique("cli"));
    for (o, n) in names {
        bank.name(*o, *n);
    }
    gpiosim::builder().with_bank(&bank).live().unwrap()
}

#[test]
fn detect_lists_the_chip() {
    let label = unique("detect");
    let s = gpiosim::builder()
        .with_bank(&Bank::new(5, &label))
        .live()
        .unwrap();
    let out = ok(&hwkit(&["detect"]));
    let want = format!("{} [{label}] (5 lines)", s.chips()[0].chip_name);
    assert!(out.lines().any(|l| l == want), "{want:?} not in {out}");
    if cdev_backends().contains(&"v1") {
        let v1 = ok(&hwkit(&["--backend", "v1", "detect"]));
        assert!(v1.contains(&want));
    }
}

#[test]
fn info_shows_lines_of_a_chip_and_single_lines() {
    let name = unique("LED");
    let s = gpiosim::builder()
        .with_bank(Bank::new(4, unique("info")).name(1, &name).hog(
            3,
            "the-hog",
            HogDir::OutputHigh,
        ))
        .live()
        .unwrap();
    let out = ok(&hwkit(&["info", &chip(&s)]));
    assert!(
        out.starts_with(&format!("{} - 4 lines", s.chips()[0].chip_name)),
        "{out}"
    );
    assert!(out.contains(&format!("\tline   1:\t\"{name}\"")), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("line   3:") && l.contains("output consumer=the-hog")),
        "{out}"
    );
    let one = ok(&hwkit(&["info", "--chip", &chip(&s), "3"]));
    assert_eq!(
        one,
        format!(
            "{} 3\tunnamed         \toutput consumer=the-hog\n",
            s.chips()[0].chip_name
        )
    );
    // A line by name, without a chip.
    let found = ok(&hwkit(&["info", &name]));
    assert!(
        found.starts_with(&s.chips()[0].chip_name) && found.contains(&name),
        "{found}"
    );
    let e = err(&hwkit(&["info", &chip(&s), "9"]));
    assert!(e.contains("it has 4 lines"), "{e}");
}

#[test]
fn get_reads_values_by_name_and_offset() {
    for backend in cdev_backends() {
        let a = unique("IN_A");
        let s = named_sim(&[(2, &a)]);
        s.chips()[0].set_pull(2, Level::High).unwrap();
        s.chips()[0].set_pull(5, Level::Low).unwrap();
        let out = ok(&hwkit(&["--backend", backend, "get", &a]));
        assert_eq!(out.trim(), format!("\"{a}\"=active"));
        let out = ok(&hwkit(&[
            "--backend",
            backend,
            "get",
            "--chip",
            &chip(&s),
            "5",
            &a,
        ]));
        assert_eq!(out.trim(), format!("\"5\"=inactive \"{a}\"=active"));
        let out = ok(&hwkit(&[
            "--backend",
            backend,
            "get",
            "-c",
            &chip(&s),
            "--numeric",
            "--active-low",
            "5",
            "2",
        ]));
        assert_eq!(out.trim(), "1 0", "{backend}");
        // The bias pulls an unconnected simulated line.
        let out = ok(&hwkit(&[
            "--backend",
            backend,
            "get",
            "-c",
            &chip(&s),
            "--bias",
            "pull-up",
            "7",
        ]));
        assert_eq!(out.trim(), "\"7\"=active", "{backend}");
        assert!(!used(&s, 2), "get released its lines");
    }
}

#[test]
fn set_drives_until_released() {
    for backend in cdev_backends() {
        let led = unique("LED");
        let s = named_sim(&[(4, &led)]);
        // Held for a while: the simulator sees the levels meanwhile, and the line is free after.
        let mut child = spawn(&[
            "--backend",
            backend,
            "set",
            "--chip",
            &chip(&s),
            "--hold",
            "3",
            "1=1",
            "2=0",
            &format!("{led}=on"),
        ]);
        eventually("the lines to be requested", || used(&s, 4));
        let c = &s.chips()[0];
        assert_eq!(
            (
                c.get_level(1).unwrap(),
                c.get_level(2).unwrap(),
                c.get_level(4).unwrap()
            ),
            (Level::High, Level::Low, Level::High)
        );
        let info = hw::Chip::open(c.dev_path()).unwrap().line_info(1).unwrap();
        assert_eq!(info.consumer, "hwkit");
        assert_eq!(info.direction, hw::Direction::Output);
        assert!(child.wait().unwrap().success());
        assert!(
            !used(&s, 1) && !used(&s, 4),
            "{backend}: released after --hold"
        );

        // Without --hold: held until the process is stopped.
        let mut child = spawn(&[
            "--backend",
            backend,
            "set",
            "-c",
            &chip(&s),
            "--active-low",
            "6=1",
        ]);
        eventually("the line to be requested", || used(&s, 6));
        assert_eq!(
            c.get_level(6).unwrap(),
            Level::Low,
            "{backend}: active on active-low is low"
        );
        std::thread::sleep(Duration::from_millis(100));
        assert!(child.try_wait().unwrap().is_none(), "still holding");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            !used(&s, 6),
            "{backend}: the kernel released the line when hwkit ended"
        );
    }
}

#[test]
fn mon_prints_edges_with_sequence_numbers() {
    for backend in cdev_backends() {
        let btn = unique("BUTTON");
        let s = named_sim(&[(3, &btn)]);
        let c = &s.chips()[0];
        c.set_pull(3, Level::Low).unwrap();
        for json in [false, true] {
            let mut args = vec!["--backend", backend, "mon", "--num-events", "2", &btn];
            if json {
                args.push("--json");
            }
            let child = spawn_monitoring(&args);
            c.set_pull(3, Level::High).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            c.set_pull(3, Level::Low).unwrap();
            let (status, stdout, stderr) = finish(child, backend);
            assert!(status.success(), "{backend}: {stderr}");
            let lines: Vec<&str> = stdout.lines().collect();
            assert_eq!(lines.len(), 2, "{backend}: {lines:?} {stderr}");
            if !json {
                // gpiomon's line: `<sec.nsec>\t<edge>\t"<name>"`.
                let f: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
                let quoted = format!("\"{btn}\"");
                assert_eq!(&f[0][1..], ["rising", quoted.as_str()], "{backend}");
                assert_eq!(&f[1][1..], ["falling", quoted.as_str()], "{backend}");
                let ts: Vec<f64> = f.iter().map(|x| x[0].parse().unwrap()).collect();
                assert!(ts[1] >= ts[0]);
                continue;
            }
            #[derive(serde::Deserialize)]
            struct Event {
                timestamp_ns: u64,
                chip: String,
                offset: u32,
                name: Option<String>,
                edge: String,
                seqno: u32,
                line_seqno: u32,
            }
            let e: Vec<Event> = lines
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            for (i, (e, edge)) in e.iter().zip(["rising", "falling"]).enumerate() {
                let n = i as u32 + 1;
                assert_eq!(
                    (
                        e.chip.as_str(),
                        e.offset,
                        e.name.as_deref(),
                        e.edge.as_str(),
                        e.seqno,
                        e.line_seqno
                    ),
                    (
                        s.chips()[0].chip_name.as_str(),
                        3,
                        Some(btn.as_str()),
                        edge,
                        n,
                        n
                    ),
                    "{backend}"
                );
            }
            assert!(e[1].timestamp_ns >= e[0].timestamp_ns);
        }
    }
}

#[test]
fn mon_filters_edges_and_times_out() {
    let s = named_sim(&[]);
    let c = &s.chips()[0];
    let child = spawn_monitoring(&[
        "mon",
        "-c",
        &chip(&s),
        "--edges",
        "falling",
        "--timeout",
        "3",
        "0",
    ]);
    c.set_pull(0, Level::High).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    c.set_pull(0, Level::Low).unwrap();
    let (status, text, stderr) = finish(child, "mon --edges falling");
    assert!(status.success(), "{stderr}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.ends_with(&format!("\tfalling\t{} 0\n", s.chips()[0].chip_name)),
        "{text}"
    );
}

#[test]
fn find_prints_chip_and_offset() {
    let name = unique("FINDME");
    let s = named_sim(&[(6, &name)]);
    let out = ok(&hwkit(&["find", &name]));
    assert_eq!(out.trim(), format!("{} 6", s.chips()[0].chip_name));
    let e = err(&hwkit(&["find", &format!("{name}X")]));
    assert!(
        e.contains(&format!("did you mean {name}")) || e.contains(&name),
        "{e}"
    );
}

#[test]
fn errors_are_one_actionable_line() {
    let s = gpiosim::builder()
        .with_bank(Bank::new(4, unique("errs")).hog(1, "someone-else", HogDir::Input))
        .live()
        .unwrap();
    let p = chip(&s);
    let e = err(&hwkit(&["get", "-c", &p, "1"]));
    assert!(e.contains("busy") && e.contains("'someone-else'"), "{e}");
    let e = err(&hwkit(&["get", "-c", &p, "4"]));
    assert!(
        e.contains("out of range") && e.contains("it has 4 lines"),
        "{e}"
    );
    let e = err(&hwkit(&["get", "3"]));
    assert!(e.contains("needs a chip: give --chip"), "{e}");
    let e = err(&hwkit(&["get", "-c", "no-such-chip-label", "0"]));
    assert!(e.contains("not found; chips present"), "{e}");
    // What v1 cannot do, where the kernel has v1 (elsewhere v1 itself is refused).
    let v1 = cdev_backends().contains(&"v1");
    if v1 {
        let e = err(&hwkit(&[
            "--backend",
            "v1",
            "get",
            "-c",
            &p,
            "--bias",
            "disabled",
            "0",
        ]));
        assert!(
            e.contains("not supported by GPIO uAPI v1; use uAPI v2"),
            "{e}"
        );
    }
    let e = err(&hwkit(&["set", "-c", &p, "0=maybe"]));
    assert!(e.contains("is not a value"), "{e}");
    let e = err(&hwkit(&["mon", "-c", &p, "--edge", "none", "0"]));
    assert!(e.contains("--edges none"), "{e}");
    let e = err(&hwkit(&["mon", "-c", &p, "-p", "10x", "0"]));
    assert!(e.contains("invalid period '10x'"), "{e}");
    if v1 {
        let e = err(&hwkit(&[
            "--backend",
            "v1",
            "mon",
            "-c",
            &p,
            "--debounce-us",
            "100",
            "0",
        ]));
        assert!(
            e.contains("debounce is not supported by GPIO uAPI v1"),
            "{e}"
        );
    }
}

#[test]
fn permission_denied_explains_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let s = gpiosim::builder()
        .with_bank(&Bank::new(2, unique("perm")))
        .with_bank(&Bank::new(2, unique("perm2")))
        .live()
        .unwrap();
    // An unprivileged user, running a copy of hwkit it can execute.
    let dir = std::env::temp_dir().join(unique("hwkit-perm"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.join("hwkit");
    std::fs::copy(env!("CARGO_BIN_EXE_hwkit"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    // devtmpfs creates gpiochip nodes for root only; make sure of it.
    std::fs::set_permissions(
        s.chips()[0].dev_path(),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new(&exe)
            .args(args)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap()
    };
    let out = as_nobody(&["gpio", "get", "--chip", &chip(&s), "0"]);
    // detect meets every chip refused (devtmpfs makes them root's): one line names them all,
    // with the remedy once.
    let detect = as_nobody(&["gpio", "detect"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!detect.status.success());
    let d = String::from_utf8_lossy(&detect.stderr).into_owned();
    assert_eq!(d.lines().count(), 1, "{d}");
    for c in s.chips() {
        assert!(d.contains(c.dev_path().to_str().unwrap()), "{d}");
    }
    assert_eq!(d.matches("usermod -aG gpio").count(), 1, "{d}");
    let e = err(&out);
    assert!(e.contains("permission denied opening"), "{e}");
    assert!(
        e.contains(r#"SUBSYSTEM=="gpio", GROUP="gpio", MODE="0660""#),
        "{e}"
    );
    assert!(e.contains("usermod -aG gpio"), "{e}");
}
