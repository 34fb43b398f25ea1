#!/bin/sh
# Runs inside the test bed's VM, as root under busybox sh, for scripts/test-packages.sh:
#   sh test-in-vm.sh ROOT.tar
# ROOT.tar is a Debian root (with udev, dbus and gdbus) holding the packages at /tmp/hwkit.deb and
# /tmp/hwkitd.deb, as a tar file:
# the bed puts an included file in the guest as it is, where a directory's programs would each
# have their libraries looked up (the root has its own). The VM has the
# kernel's gpio-sim chips (a simulated Pi 4 header, pinctrl-bcm2711, and an 8-line hwkit-sim).
# The root gets the guest's /dev, /proc and /sys, runs udevd as a board would, installs the
# package while udevd runs (so the postinst applies the rule at once), then a member of gpio
# and a non-member use GPIO; then hwkitd on the root's system bus holds a line for a member
# after its client has exited, and refuses a non-member and another member. Prints `ok NAME` or `FAILED NAME` per check, and
# `test-in-vm: done` at the very end, which the host requires.

tar=${1:?usage: test-in-vm.sh ROOT.tar}
R=/var/tmp/hwkit-root
mkdir -p "$R"
tar -xf "$tar" -C "$R" || {
  echo "FAILED unpacking the root $tar"
  exit 1
}
rm -f "$tar"

# A command in the root, with a clean environment. systemd's tools (udevadm, also in the
# postinst) refuse to act in a chroot unless told that this one is the system.
in_root() {
  chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C SYSTEMD_IGNORE_CHROOT=1 "$@"
}
# Runs a command as user $1 with that user's groups, as a login would give them.
as() {
  u=$1
  shift
  in_root setpriv --reuid="$u" --regid="$u" --init-groups "$@"
}
check() {
  name=$1
  shift
  if out=$("$@" 2>&1); then
    echo "ok     $name"
  else
    echo "FAILED $name"
    echo "$out" | sed 's/^/         /'
  fi
}
# Waits up to 20 s (emulated CPUs are slow to start a program) for file $1 to read $2.
wait_for() {
  i=0
  while [ "$(cat "$1" 2>/dev/null)" != "$2" ]; do
    i=$((i + 1))
    [ $i -le 200 ] || {
      echo "$1 reads '$(cat "$1" 2>/dev/null)', expected '$2'"
      return 1
    }
    sleep 0.1
  done
}
# Expects the command to fail with one line on stderr containing $1.
refused_with() {
  want=$1
  shift
  if err=$("$@" 2>&1 >/dev/null); then
    echo "succeeded; expected a refusal containing: $want"
    return 1
  fi
  [ "$(echo "$err" | wc -l)" = 1 ] || {
    echo "expected one line, got: $err"
    return 1
  }
  case $err in
    *"$want"*) echo "$err" ;;
    *)
      echo "'$err' does not contain '$want'"
      return 1
      ;;
  esac
}
# Checks that text $1 contains each of the other arguments.
contains() {
  text=$1
  shift
  for w; do
    case $text in
      *"$w"*) ;;
      *)
        echo "'$text' lacks '$w'"
        return 1
        ;;
    esac
  done
}
same() {
  [ "$1" = "$2" ] || {
    echo "$3: got '$1', expected '$2'"
    return 1
  }
}

mount -o bind /dev "$R/dev"
mount -o bind /proc "$R/proc"
mount -o bind /sys "$R/sys"
mount -t tmpfs tmpfs "$R/run"

# udev as at boot: the daemon, then every device the kernel already has replayed to it.
in_root /lib/systemd/systemd-udevd --daemon >/dev/null 2>&1
in_root udevadm trigger --action=add
in_root udevadm settle --timeout=60

chips=$(ls /dev/gpiochip*)
modes_of_chips() { for c in $chips; do in_root stat -c '%n %U:%G %a' "$c"; done; }
expect_modes() { for c in $chips; do echo "$c $1"; done; }
check "before install: the GPIO chips are root's alone (no rule yet)" \
  same "$(modes_of_chips)" "$(expect_modes 'root:root 600')" "chip modes"

check "dpkg -i with udev running" in_root dpkg -i /tmp/hwkit.deb
in_root udevadm settle --timeout=60

check "after install, without a reboot: /dev/gpiochip* are root:gpio 660" \
  same "$(modes_of_chips)" "$(expect_modes 'root:gpio 660')" "chip modes"
check "sysfs export and unexport are writable by group gpio (root:gpio 220)" \
  same "$(in_root stat -c '%U:%G %a' /sys/class/gpio/export /sys/class/gpio/unexport)" \
  "root:gpio 220
root:gpio 220" "export, unexport"

in_root useradd --groups gpio alice
in_root useradd bob

pi4=$(in_root hwkit gpio detect | sed -n 's/^\(gpiochip[0-9]*\) \[pinctrl-bcm2711\].*/\1/p')
aux=$(in_root hwkit gpio detect | sed -n 's/^\(gpiochip[0-9]*\) \[hwkit-sim\].*/\1/p')
pi4_sim=$(ls -d /sys/devices/platform/gpio-sim.*/"$pi4")
aux_sim=$(ls -d /sys/devices/platform/gpio-sim.*/"$aux")

detected=$(as alice hwkit gpio detect 2>&1)
check "member of gpio: hwkit gpio detect lists the chips" \
  contains "$detected" "$pi4 [pinctrl-bcm2711]" "$aux [hwkit-sim]"

echo pull-up >"$pi4_sim/sim_gpio27/pull"
check "member: hwkit gpio get pin13 reads the line pulled up" \
  same "$(as alice hwkit gpio get --board pi4 --numeric pin13 2>&1)" 1 "pin13"
echo pull-down >"$pi4_sim/sim_gpio27/pull"
check "member: hwkit gpio get pin13 reads the line pulled down" \
  same "$(as alice hwkit gpio get --board pi4 --numeric pin13 2>&1)" 0 "pin13"

as alice hwkit gpio set --board pi4 --hold 4 pin11=1 >/dev/null 2>"$R/tmp/set.err" &
check "member: hwkit gpio set pin11=1 drives GPIO17 high (seen by the simulator)" \
  wait_for "$pi4_sim/sim_gpio17/value" 1
wait $!
status=$?
check "member: hwkit gpio set exits cleanly after --hold" \
  same "$status $(cat "$R/tmp/set.err")" "0 " "exit status and stderr"

# sysfs: export (the class file), then the line's own files, which udev hands to the group a
# few milliseconds after the export.
as alice hwkit gpio set --sysfs --chip hwkit-sim --hold 4 5=1 >/dev/null 2>"$R/tmp/set.err" &
check "member: hwkit gpio set --sysfs drives a line high (export, direction, value)" \
  wait_for "$aux_sim/sim_gpio5/value" 1
wait $!
status=$?
check "member: hwkit gpio set --sysfs exits cleanly" \
  same "$status $(cat "$R/tmp/set.err")" "0 " "exit status and stderr"
echo pull-up >"$aux_sim/sim_gpio6/pull"
check "member: hwkit gpio get --sysfs reads a line" \
  same "$(as alice hwkit gpio get --sysfs --chip hwkit-sim --numeric 6 2>&1)" 1 "line 6"

check "non-member: hwkit gpio detect is refused with the udev rule and group to use" \
  refused_with "permission denied" as bob hwkit gpio detect
check "non-member: the refusal says how to join gpio" \
  refused_with "usermod -aG gpio" as bob hwkit gpio get --board pi4 pin13
check "non-member: hwkit gpio get --sysfs is refused" \
  refused_with "permission denied" as bob hwkit gpio get --sysfs --chip hwkit-sim 6
check "non-member: the sysfs export file refuses a write" \
  refused_with "Permission denied" as bob sh -c "echo 0 >/sys/class/gpio/export"

# hwkitd: the root's system bus with the installed policy, the installed daemon run as its
# unit runs it (user hwkitd, group gpio; no systemd here), and gdbus, a generic client.
check "hwkitd: dpkg -i" in_root dpkg -i /tmp/hwkitd.deb
in_root useradd --groups gpio carol
mkdir -p "$R/run/dbus"
check "hwkitd: the system bus starts with the installed policy" in_root dbus-daemon --system --fork
in_root sh -c 'echo $$ >/tmp/hwkitd.pid
  exec setpriv --reuid=hwkitd --regid=gpio --init-groups /usr/sbin/hwkitd 2>/tmp/hwkitd.log' &
# Waits up to 60 s (an emulated CPU) for hwkitd to take its names.
has_names() {
  i=0
  until in_root gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.NameHasOwner io.gpiod1 2>/dev/null | grep -q true; do
    i=$((i + 1))
    [ $i -le 300 ] || {
      echo "hwkitd did not take io.gpiod1: $(cat "$R/tmp/hwkitd.log")"
      return 1
    }
    sleep 0.2
  done
  grep -q "serving io.gpiod1 and io.hwkit1 on the system bus" "$R/tmp/hwkitd.log" || {
    cat "$R/tmp/hwkitd.log"
    return 1
  }
}
check "hwkitd: runs as user hwkitd (group gpio) and takes io.gpiod1 and io.hwkit1" has_names
ids_of() { awk '/^Uid:/ { u = $2 } /^Gid:/ { g = $2 } END { print u ":" g }' "/proc/$1/status"; }
check "hwkitd: the daemon's process is user hwkitd, group gpio" \
  same "$(ids_of "$(cat "$R/tmp/hwkitd.pid")")" \
  "$(in_root id -u hwkitd):$(in_root getent group gpio | cut -d: -f3)" "uid:gid of the daemon"
request_pin15() {
  as "$1" gdbus call --system --dest io.hwkit1 --object-path /io/hwkit1/board \
    --method io.hwkit1.Board.RequestPins "['pin15']" "{'direction': <'output'>}" "[1]" \
    "{'consumer': <'relay'>}"
}
out=$(request_pin15 alice 2>&1)
req=$(echo "$out" | sed -n "s/.*'\(\/io\/gpiod1\/requests\/request[0-9]*\)'.*/\1/p")
check "hwkitd: member of gpio: gdbus RequestPins pin15=1 returns a request" \
  contains "$out" "/io/gpiod1/requests/request"
check "hwkitd: gdbus has exited and GPIO22 (pin15) stays driven high" \
  wait_for "$pi4_sim/sim_gpio22/value" 1
check "hwkitd: the line is held for 'relay' (hwkit gpio info)" \
  contains "$(in_root hwkit gpio info --chip "$pi4" 22 2>&1)" relay
check "hwkitd: non-member: RequestPins refused by the bus policy" \
  refused_with "AccessDenied" request_pin15 bob
release() {
  as "$1" gdbus call --system --dest io.gpiod1 --object-path "$req" \
    --method io.gpiod1.Request.Release
}
check "hwkitd: non-member: Release of the request refused by the bus policy" \
  refused_with "AccessDenied" release bob
check "hwkitd: another member of gpio: Release refused, naming the request's owner" \
  refused_with "belongs to user alice" release carol
check "hwkitd: the owner, from a new connection, releases it" release alice
kill -TERM "$(cat "$R/tmp/hwkitd.pid")"
kill -TERM "$(cat "$R/run/dbus/pid")"
check "hwkitd: dpkg -r" in_root dpkg -r hwkitd

check "dpkg -r with udev running" in_root dpkg -r hwkit
in_root udevadm control --exit
echo "test-in-vm: done"
