//! sysfs-gpio's reading of `/sys/kernel/debug/gpio` (who holds a busy line), in the 6.x,
//! 7.x and gpio-sim formats: a consumer is a non-empty trimmed name, never `<unused>`.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Input: `LABEL \x01 BASE \x01 DEVICE \x01 OFFSET \x01 DEBUGFS TEXT` (numbers in decimal,
// empty for none).
fuzz_target!(|data: &[u8]| {
    let f = hwkit_fuzz::fields(data, 5);
    let label = f[0].as_deref().unwrap_or("");
    let (base, device) = (hwkit_fuzz::number(&f[1]), hwkit_fuzz::number(&f[2]));
    let offset = hwkit_fuzz::number(&f[3]).unwrap_or(0);
    let text = f[4].as_deref().unwrap_or("");
    if let Some(holder) = sysfs_gpio::fuzzing::debugfs_holder(text, label, base, device, offset) {
        assert!(!holder.is_empty() && holder != "<unused>");
        assert_eq!(holder.trim(), holder);
    }
});
