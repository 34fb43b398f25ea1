# shellcheck shell=bash
# Shared by scripts/package.sh and scripts/test-packages.sh (sourced, not run): the table of
# architectures the packages are built for, and installing Debian packages the scripts need.
# One table, so that an architecture's names are never spelled in two places (the test bed's
# tests/src/arch.rs is the Rust side of the same table).

# The Debian architectures hwkit is packaged for, in the order reports list them.
# shellcheck disable=SC2034  # used by the scripts that source this file
HWKIT_DEB_ARCHES=(amd64 arm64 armhf)

# Sets, for Debian architecture $1: rust_arch (the test bed's name for it), triple (Rust's
# target), gnu (the GNU triplet: binutils' prefix), elf_class and elf_machine (what `readelf -h`
# says of a binary built for it) and elf_flag (a word its ELF flags must contain, or empty).
# Fails with the list of supported architectures for any other name.
hwkit_arch_info() {
  elf_flag=
  case $1 in
    amd64)
      rust_arch=x86_64 triple=x86_64-unknown-linux-gnu gnu=x86_64-linux-gnu
      elf_class=ELF64 elf_machine='Advanced Micro Devices X86-64'
      ;;
    arm64)
      rust_arch=aarch64 triple=aarch64-unknown-linux-gnu gnu=aarch64-linux-gnu
      elf_class=ELF64 elf_machine=AArch64
      ;;
    armhf)
      # ARMv7 with the hard-float ABI: what Debian's and 32-bit Raspberry Pi OS's armhf is
      # (Raspberry Pi OS builds armhf for ARMv6, but a Pi 1 or Zero cannot run ARMv7 code).
      rust_arch=armv7 triple=armv7-unknown-linux-gnueabihf gnu=arm-linux-gnueabihf
      elf_class=ELF32 elf_machine=ARM elf_flag=hard-float
      ;;
    *)
      echo "unknown architecture '$1'; supported: ${HWKIT_DEB_ARCHES[*]} (Debian's names)" >&2
      return 1
      ;;
  esac
}

# Installs the Debian packages named in the arguments that are not installed yet: CI starts
# from a fresh machine. Waits for the dpkg lock, since other builds on the machine may be
# installing at the same time.
hwkit_need_packages() {
  local p missing=()
  for p; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "installing ${missing[*]}" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# Checks that ELF file $1 is built for Debian architecture $2 (call hwkit_arch_info first);
# prints what is wrong and fails otherwise.
hwkit_check_elf() {
  local header
  header=$(LC_ALL=C readelf -h "$1" 2>&1) || { echo "$1 is not an ELF file: $header" >&2; return 1; }
  local class machine flags
  class=$(sed -n 's/^ *Class: *//p' <<<"$header")
  machine=$(sed -n 's/^ *Machine: *//p' <<<"$header")
  flags=$(sed -n 's/^ *Flags: *//p' <<<"$header")
  if [[ $class != "$elf_class" || $machine != "$elf_machine" ]]; then
    echo "$1 is built for $machine ($class); $2 needs $elf_machine ($elf_class)" >&2
    return 1
  fi
  if [[ -n $elf_flag && $flags != *"$elf_flag"* ]]; then
    echo "$1 has ELF flags '$flags'; $2 needs '$elf_flag'" >&2
    return 1
  fi
}
