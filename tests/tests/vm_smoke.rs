//! Proves the bed: gpio-sim chips seen through the character device and sysfs.
#[test]
fn configfs_is_there() {
    assert!(std::path::Path::new("/sys/kernel/config/gpio-sim").is_dir());
    let sim = gpiosim::Simpleton::new(4);
    assert!(sim.dev_path().exists());
}
