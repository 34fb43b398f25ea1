#!/usr/bin/env bash
# hwkit's main job on a fresh Debian machine: build the `hwkit` command, call C functions through
# the dynamic FFI, then drive GPIO lines by header pin. Without GPIO chips (or with
# HWKIT_DEMO_VM=1) the GPIO part runs in a QEMU VM (`hwkit vm`) on a simulated Raspberry Pi 4
# header (a gpio-sim chip labelled pinctrl-bcm2711): detect, pinout, drive a pin and read it
# back, read an input, watch edges. On a machine with real chips it only looks (detect, pinout,
# line info): driving pins of real hardware is for you to decide.
# Installs what it needs (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "== Building hwkit"
cargo build --release -p hwkit
hwkit=${CARGO_TARGET_DIR:-target}/release/hwkit
[[ $hwkit == /* ]] || hwkit=$PWD/$hwkit
PATH=$(dirname "$hwkit"):$PATH

# Prints the command (arguments with spaces quoted), then runs it.
step() {
  printf '\n$'
  for a; do [[ $a == *' '* ]] && printf " '%s'" "$a" || printf ' %s' "$a"; done
  printf '\n'
  "$@"
}

echo
echo "== FFI: C functions declared with MicroPython's type codes, called at run time"
step hwkit ffi call --lib libm.so.6 d sqrt d 16
step hwkit ffi call --lib libm.so.6 d pow dd 2 8
step hwkit ffi call l strlen s "Hello, World!"
step hwkit ffi call i gethostname pl buf:64 64

# Colours only when a person is watching (the VM's console is always a terminal).
color=never
[[ -t 1 ]] && color=always

# Runs in the VM under busybox sh. The simulator's side of a line is
# /sys/devices/platform/gpio-sim.N/gpiochipM/sim_gpioK/{value,pull}: `value` is what an output
# drives on the wire, writing `pull` drives an input as a button would.
gpio_vm_demo='
set -e
step() { printf "\n$ %s\n" "$*"; "$@"; }
note() { printf "\n# %s\n" "$*"; }
chip=$(hwkit gpio detect | sed -n "s/^\(gpiochip[0-9]*\) \[pinctrl-bcm2711\].*/\1/p")
sim=$(ls -d /sys/devices/platform/gpio-sim.*/$chip)
# Waits until LINE (a header pin) is held by someone: the next step depends on it.
held() { until hwkit gpio info --board pi4 "$1" | grep -q consumer=; do sleep 0.05; done; }

note "The GPIO chips: the simulated Pi 4 SoC chip and a small extra one"
step hwkit gpio detect

note "Header pin 11, GPIO17, BCM17 and J8:11 are one line: which chip, offset, sysfs number?"
step hwkit pinout --board pi4 --resolve pin11

note "Drive header pin 11 high, held by a background hwkit like a daemon would"
printf "\n$ hwkit gpio set --board pi4 pin11=1 &\n"
hwkit gpio set --board pi4 pin11=1 &
held pin11
step hwkit gpio info --board pi4 pin11
note "Read it back on the wire: the simulator sees line 17 driven high"
step cat $sim/sim_gpio17/value

note "An input: the simulator pulls pin 13 (GPIO27) up and pin 15 (GPIO22) down"
echo pull-up > $sim/sim_gpio27/pull
echo pull-down > $sim/sim_gpio22/pull
step hwkit gpio get --board pi4 pin13 BCM22
note "The same pins through the legacy sysfs interface"
step hwkit gpio get --board pi4 --sysfs --numeric pin13 pin15

note "The header now: pin 11 an output held by hwkit, pins 13 and 15 inputs at 1 and 0"
step hwkit pinout --board pi4 --values --color '"$color"'

note "Release pin 11 (Ctrl-C or SIGTERM)"
printf "\n$ kill %%1\n"
kill %1
wait

note "Watch pin 15 while the simulator presses and releases a button on it twice"
printf "\n$ hwkit gpio mon --board pi4 --num-events 4 --timeout 10 pin15 &\n"
hwkit gpio mon --board pi4 --num-events 4 --timeout 10 pin15 &
held pin15
for i in 1 2; do
  echo pull-up > $sim/sim_gpio22/pull; sleep 0.1
  echo pull-down > $sim/sim_gpio22/pull; sleep 0.1
done
wait

note "A pin that is not a GPIO is refused, with what would be right"
step hwkit gpio set --board pi4 pin6=1 || true
'

# On real hardware: look, do not touch.
gpio_local_demo='
set -e
step() { printf "\n$ %s\n" "$*"; "$@"; }
step hwkit gpio detect
step hwkit pinout --color '"$color"'
step hwkit gpio info
'

echo
echo "== GPIO by header pin"
if [[ ${HWKIT_DEMO_VM:-0} != 1 ]] && compgen -G "/dev/gpiochip*" >/dev/null; then
  echo "(this machine's own GPIO chips, read only; HWKIT_DEMO_VM=1 runs the full demo in a VM)"
  bash -c "$gpio_local_demo"
else
  echo "(no GPIO chips here: booting a VM with a simulated Raspberry Pi 4 header)"
  printf '\n$ hwkit vm -- sh -c "..."   # the session below runs as root inside the VM\n'
  hwkit vm -- sh -c "$gpio_vm_demo"
fi
