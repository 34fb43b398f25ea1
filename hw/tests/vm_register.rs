//! hw's register backend where there is no SoC GPIO block to write: gpio-sim chips (and, on
//! the arm64 VM, QEMU's PL061) are refused before anything is mapped, with the reason and the
//! way out, and the line is not left held. The backend's real work is tested on the emulated
//! Raspberry Pi 3 (vm_pi_register).

mod common;

use common::{info, path, sim};
use hw::backend::register::RegisterBackend;
use hw::{Request, Value};

#[test]
fn a_chip_without_a_device_tree_node_is_refused_and_left_free() {
    let s = sim(4);
    let e = Request::builder()
        .on_chip(path(&s))
        .with_line(1)
        .as_output(Value::Active)
        .request_with(&RegisterBackend::new())
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, hw::Error::Register(_)), "{e:?}");
    assert!(
        msg.contains("has no device-tree node, so its SoC is unknown"),
        "{msg}"
    );
    assert!(msg.contains("use the character device"), "{msg}");
    assert!(!info(&s, 1).used, "{:?}", info(&s, 1));
}

#[cfg(target_arch = "aarch64")]
#[test]
fn another_gpio_block_is_not_taken_for_a_pis() {
    // QEMU virt's PL061 has a device-tree node, of another kind.
    let pl061 = hw::chips()
        .unwrap()
        .into_iter()
        .find(|c| c.label.contains("pl061") || c.label.contains("9030000"))
        .expect("QEMU virt's PL061 GPIO chip");
    let e = Request::builder()
        .on_chip(&pl061.path)
        .with_line(0)
        .as_output(Value::Inactive)
        .request_with(&RegisterBackend::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not one the register backend knows"), "{e}");
    assert!(e.contains("arm,pl061"), "{e}");
}
