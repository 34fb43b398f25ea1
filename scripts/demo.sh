#!/usr/bin/env bash
# hwkit's main job on a fresh Debian machine: build the `hwkit` command, call C functions through
# the dynamic FFI, then drive GPIO lines: on this machine's own chips when it has any, otherwise
# on gpio-sim chips inside a QEMU VM (`hwkit vm`). Installs what it needs (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release -p hwkit
hwkit=$PWD/${CARGO_TARGET_DIR:-target}/release/hwkit
[[ $hwkit == /* ]] || hwkit=$PWD/$hwkit

step() { printf '\n$ %s\n' "$*"; "$@"; }

echo "== FFI: C functions declared with MicroPython's type codes, called at run time"
step "$hwkit" ffi call --lib libm.so.6 d sqrt d 16
step "$hwkit" ffi call --lib libm.so.6 d pow dd 2 8
step "$hwkit" ffi call l strlen s "Hello, World!"
step "$hwkit" ffi call i gethostname pl buf:64 64

gpio_demo='
set -e
step() { printf "\n$ %s\n" "$*"; "$@"; }
step hwkit gpio detect
step hwkit pinout --board pi4
step hwkit gpio set --hold 0 GPIO17=1
step hwkit gpio get GPIO17
step hwkit gpio info GPIO17
'
echo
echo "== GPIO"
if compgen -G "/dev/gpiochip*" >/dev/null; then
  echo "(this machine's own GPIO chips)"
  PATH=$(dirname "$hwkit"):$PATH bash -c "$gpio_demo"
else
  echo "(no GPIO chips here: booting a VM with a simulated Raspberry Pi 4 header)"
  step "$hwkit" vm -- sh -c "$gpio_demo"
fi
