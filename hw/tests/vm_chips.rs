//! Chips and line info, checked against gpio-sim chips in the VM.

mod common;

use common::*;
use gpiosim::{Bank, Direction as HogDir};
use hw::{Bias, Chip, Direction, Drive, Edge, Error, Request, Uapi, Value};

#[test]
fn enumeration_finds_the_chip_with_label_and_line_count() {
    let label = unique("enum");
    let s = sim_bank(&Bank::new(7, &label));
    let chips = hw::chips().unwrap();
    let c = chips
        .iter()
        .find(|c| c.label == label)
        .expect("sim chip listed");
    assert_eq!(c.num_lines, 7);
    assert_eq!(c.name, s.chips()[0].chip_name);
    assert_eq!(&c.path, s.chips()[0].dev_path());
    // Every chip appears once.
    let mut names: Vec<_> = chips.iter().map(|c| c.name.clone()).collect();
    names.dedup();
    assert_eq!(names.len(), chips.len());
}

#[test]
fn symlinked_chip_is_listed_once() {
    let s = sim(3);
    let name = s.chips()[0].chip_name.clone();
    let link =
        std::path::Path::new("/dev").join(format!("gpiochip{}", 900 + std::process::id() % 90));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(s.chips()[0].dev_path(), &link).unwrap();
    let paths = hw::chip_paths().unwrap();
    std::fs::remove_file(&link).unwrap();
    assert!(!paths.contains(&link), "the symlink was listed: {paths:?}");
    assert_eq!(paths.iter().filter(|p| p.ends_with(&name)).count(), 1);
}

#[test]
fn open_by_path_name_number_and_label() {
    let label = unique("open");
    let s = sim_bank(&Bank::new(4, &label));
    let chip = &s.chips()[0];
    let by_path = Chip::open(chip.dev_path()).unwrap();
    let by_name = Chip::open_by_name(&chip.chip_name).unwrap();
    let by_label = Chip::open_by_label(&label).unwrap();
    let number = chip.chip_name.trim_start_matches("gpiochip");
    let by_number = Chip::find(number).unwrap();
    let by_spec = Chip::find(&label).unwrap();
    for c in [&by_path, &by_name, &by_label, &by_number, &by_spec] {
        assert_eq!(c.info().label, label);
        assert_eq!(c.info().num_lines, 4);
        assert_eq!(c.info().name, chip.chip_name);
    }
    assert_eq!(by_path.uapi(), Uapi::V2, "the VM kernel has uAPI v2");
    assert_eq!(hw::detect_uapi(chip.dev_path()).unwrap(), Uapi::V2);
}

#[test]
fn chip_not_found_lists_the_chips_that_exist() {
    let label = unique("present");
    let _s = sim_bank(&Bank::new(2, &label));
    let e = Chip::open_by_label("no-such-chip").unwrap_err();
    assert!(matches!(e, Error::ChipNotFound { .. }));
    let msg = e.to_string();
    assert!(
        msg.starts_with("GPIO chip 'no-such-chip' not found; chips present: "),
        "{msg}"
    );
    assert!(msg.contains(&format!("[{label}] (2 lines)")), "{msg}");
    let e = Chip::open_by_name("gpiochip999").unwrap_err();
    assert!(e.to_string().contains(&label), "{e}");
}

#[test]
fn line_info_reports_names_hogs_and_defaults_through_both_uapis() {
    let s = sim_bank(
        Bank::new(6, unique("info"))
            .name(1, "LED")
            .name(3, "BUTTON")
            .hog(4, "hogger", HogDir::OutputHigh)
            .hog(5, "hog-in", HogDir::Input),
    );
    for uapi in both() {
        let chip = Chip::open_with(path(&s), Some(uapi)).unwrap();
        assert_eq!(chip.uapi(), uapi);
        let infos = chip.line_infos().unwrap();
        assert_eq!(infos.len(), 6);
        assert_eq!(infos[1].name, "LED");
        assert_eq!(infos[3].name, "BUTTON");
        assert_eq!(infos[0].name, "");
        assert!(!infos[1].used, "{uapi}");
        assert_eq!(infos[1].consumer, "");
        assert!(infos[4].used, "{uapi}");
        assert_eq!(infos[4].consumer, "hogger");
        assert_eq!(infos[4].direction, Direction::Output);
        assert_eq!(infos[5].consumer, "hog-in");
        assert_eq!(infos[5].direction, Direction::Input);
        assert_eq!(chip.line_offset("BUTTON").unwrap(), 3);
    }
}

#[test]
fn line_info_reports_every_setting_of_a_request() {
    let s = sim(8);
    let _r = Request::builder()
        .on_chip(path(&s))
        .consumer("settings-test")
        .with_line(0)
        .as_output(Value::Active)
        .as_active_low()
        .with_drive(Drive::OpenDrain)
        .with_bias(Bias::PullUp)
        .with_line(1)
        .as_input()
        .with_bias(Bias::PullDown)
        .with_edge_detection(Edge::Rising)
        .with_event_clock(hw::EventClock::Realtime)
        .with_line(2)
        .as_input()
        .with_bias(Bias::Disabled)
        .with_debounce(std::time::Duration::from_micros(1500))
        .with_edge_detection(Edge::Both)
        .with_line(3)
        .with_drive(Drive::OpenSource)
        .request()
        .unwrap();
    let i0 = info(&s, 0);
    assert!(i0.used);
    assert_eq!(i0.consumer, "settings-test");
    assert_eq!(i0.direction, Direction::Output);
    assert!(i0.active_low);
    assert_eq!(i0.drive, Drive::OpenDrain);
    assert_eq!(i0.bias, Bias::PullUp);
    let i1 = info(&s, 1);
    assert_eq!(i1.direction, Direction::Input);
    assert_eq!(i1.bias, Bias::PullDown);
    assert_eq!(i1.edge, Edge::Rising);
    assert_eq!(i1.event_clock, hw::EventClock::Realtime);
    let i2 = info(&s, 2);
    assert_eq!(i2.bias, Bias::Disabled);
    assert_eq!(i2.edge, Edge::Both);
    assert_eq!(i2.debounce, Some(std::time::Duration::from_micros(1500)));
    let i3 = info(&s, 3);
    assert_eq!(i3.direction, Direction::Output);
    assert_eq!(i3.drive, Drive::OpenSource);
    assert!(!info(&s, 4).used);
}

#[test]
fn find_line_searches_every_chip() {
    let name = unique("FINDME");
    let s = gpiosim::builder()
        .with_bank(&Bank::new(4, unique("first")))
        .with_bank(Bank::new(6, unique("second")).name(5, &name))
        .live()
        .unwrap();
    let found = hw::find_line(&name).unwrap();
    assert_eq!(found.chip.name, s.chips()[1].chip_name);
    assert_eq!(found.offset, 5);
    assert_eq!(found.info.name, name);
}

#[test]
fn unknown_line_name_suggests_the_nearest() {
    let tag = unique("n").replace('-', "");
    let s = sim_bank(
        Bank::new(4, unique("names"))
            .name(0, format!("GPIO17{tag}"))
            .name(1, format!("GPIO27{tag}"))
            .name(2, format!("LED{tag}")),
    );
    let chip = Chip::open(path(&s)).unwrap();
    let e = chip.line_offset(&format!("GPIO71{tag}")).unwrap_err();
    match &e {
        Error::LineNotFound { suggestions, .. } => {
            assert_eq!(suggestions[0], format!("GPIO17{tag}"))
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("did you mean"), "{e}");
    // Across all chips too.
    let e = hw::find_line(&format!("led{tag}x")).unwrap_err();
    assert!(e.to_string().contains(&format!("LED{tag}")), "{e}");
    // And when requesting by name.
    let e = Request::builder()
        .on_chip(path(&s))
        .with_named_line(format!("GPIO7{tag}"))
        .request()
        .unwrap_err();
    assert!(e.to_string().contains(&format!("GPIO17{tag}")), "{e}");
}

#[test]
fn offset_out_of_range_gives_the_line_count() {
    let s = sim(8);
    for uapi in both() {
        let chip = Chip::open_with(path(&s), Some(uapi)).unwrap();
        let e = chip.line_info(8).unwrap_err();
        assert!(
            matches!(
                e,
                Error::OffsetOutOfRange {
                    offset: 8,
                    num_lines: 8,
                    ..
                }
            ),
            "{e}"
        );
        let e = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_line(12)
            .as_input()
            .request()
            .unwrap_err();
        assert!(
            e.to_string().contains("it has 8 lines (offsets 0-7)"),
            "{e}"
        );
    }
}

#[test]
fn info_watch_reports_requested_reconfigured_and_released() {
    let s = sim(4);
    let watcher = Chip::open(path(&s)).unwrap();
    let initial = watcher.watch_line_info(2).unwrap();
    assert!(!initial.used);
    assert!(watcher
        .read_info_event_timeout(std::time::Duration::from_millis(50))
        .unwrap()
        .is_none());

    let mut req = Request::builder()
        .on_chip(path(&s))
        .consumer("watched")
        .with_line(2)
        .as_input()
        .request()
        .unwrap();
    let e1 = watcher
        .read_info_event_timeout(std::time::Duration::from_secs(2))
        .unwrap()
        .expect("requested");
    assert_eq!(e1.kind, hw::InfoChangeKind::Requested);
    assert!(e1.info.used);
    assert_eq!(e1.info.consumer, "watched");
    assert_eq!(e1.info.offset, 2);

    req.set_as_output(2, Value::Active).unwrap();
    let e2 = watcher.read_info_event().unwrap();
    assert_eq!(e2.kind, hw::InfoChangeKind::Reconfigured);
    assert_eq!(e2.info.direction, Direction::Output);
    assert!(e2.timestamp_ns >= e1.timestamp_ns);

    drop(req);
    let e3 = watcher.read_info_event().unwrap();
    assert_eq!(e3.kind, hw::InfoChangeKind::Released);
    assert!(!e3.info.used);
    assert!(e3.timestamp_ns >= e2.timestamp_ns);

    // Watching twice is refused, and unwatching stops events.
    assert!(watcher.watch_line_info(2).is_err());
    watcher.unwatch_line_info(2).unwrap();
    let _again = Request::builder()
        .on_chip(path(&s))
        .with_line(2)
        .as_input()
        .request()
        .unwrap();
    assert!(watcher
        .read_info_event_timeout(std::time::Duration::from_millis(100))
        .unwrap()
        .is_none());
}
