#!/usr/bin/env bash
# Installs the Debian packages hwkit's build and tests need, once. Safe to run again.
set -euo pipefail
need=(gcc make libc6-dev libgpiod2 gpiod)  # libgpiod2: dlopened by hw's libgpiod backend; gpiod: its tools, for cross-checks
# The VM test bed (tests/, `testbed test`): QEMU, the guest's busybox, xz for the kernel image,
# libelf1 for the out-of-tree gpio-sim build, cpio for the host test of its initramfs writer.
need+=(qemu-system-x86 busybox-static xz-utils libelf1 cpio)
# scripts/valgrind.sh: memcheck over the host tests, jq to list the test binaries cargo built.
need+=(valgrind jq)
# hwkit's completion scripts and manual pages are checked by their shells' parsers and groff.
need+=(zsh fish groff-base)
# hwkitd's VM test (hwkitd/tests/vm_dbus.rs): a bus of its own (dbus-daemon) and a generic
# client (gdbus), packed into the guest from the host.
need+=(dbus libglib2.0-bin)
# .ci/run lints the shell scripts.
need+=(shellcheck)
# What the test bed, the build root and the package scripts would otherwise install on first
# use: here once, before scripts/test.sh runs stages side by side (two apt runs at once fail
# on apt's locks). zstd: sid's kernels; qemu-system-arm: the arm64 and Raspberry Pi VMs;
# debootstrap: the build root and the packages' roots; qemu-user-static and binfmt-support:
# ARM programs in those roots; dpkg-dev, binutils (readelf) and each ARM binutils (strip):
# the packages.
need+=(zstd qemu-system-arm debootstrap qemu-user-static binfmt-support dpkg-dev binutils
  binutils-aarch64-linux-gnu binutils-arm-linux-gnueabihf)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
