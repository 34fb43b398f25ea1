#!/usr/bin/env bash
# Tests hwkit's Debian packages for real: builds them with scripts/package.sh, then
#   1. reads each one with dpkg-deb: fields, files, the binary's ELF machine against the
#      Architecture field, Depends against the binary (and against dpkg-shlibdeps on amd64),
#      md5sums, byte-identical rebuilds; and package.sh's refusals of bad input;
#   2. installs the arm64 package (with --arch, armhf's too) with dpkg in a Debian bookworm
#      root of its architecture (the base of Raspberry Pi OS) under qemu-user emulation: the
#      gpio group, the udev rule, hwkit runs, reinstall, an existing gpio group kept, removal,
#      purge;
#   3. in the test bed's VM with the kernel's gpio-sim chips (arm64: Debian sid's, under full
#      emulation; amd64, Debian 12's kernel, only when asked for with --arch), a Debian root of
#      the same architecture runs udev and installs the package; a member of gpio drives lines
#      through the character device and sysfs, a non-member gets hwkit's permission error
#      (packaging/test-in-vm.sh). The amd64 run is left out by default for the CI budget: the
#      boards' architecture is arm64, and the flow inside the VM is the same.
# Prints `N passed, N failed` last and fails if any check failed. Installs what it needs (run
# as root); the Debian roots are debootstrapped once and cached (HWKIT_PACKAGES_CACHE, default
# /var/cache/hwkit-packages), keyed by what they are made of.
#
#   scripts/test-packages.sh [--arch LIST] [--no-build] [--roots-only]
#
# --arch narrows the architectures (default: all); parts 2 and 3 run for those that have them.
# --no-build packages the binaries already built. --roots-only makes (or finds cached) the
# Debian roots part 2 would install into, and stops: scripts/test.sh makes them early.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=packaging/lib.sh
source packaging/lib.sh

die() {
  echo "test-packages.sh: $*" >&2
  exit 1
}

arch_arg=$(
  IFS=,
  echo "${HWKIT_DEB_ARCHES[*]}"
)
build_flag=()
roots_only=0
vm_arches=(arm64)
# Part 2's roots cost about 3 minutes each from cold (debootstrap's second stage under
# qemu-user): by default arm64 only, the boards' 64-bit OS. The maintainer scripts are the
# same shell on every architecture, the armhf binary's glibc needs are checked in part 1 and
# its code runs under qemu-user in `testbed cross test`; `--arch` installs armhf too.
install_arches=(arm64)
while (($#)); do
  case $1 in
    --arch)
      (($# >= 2)) || die "--arch needs a list, e.g. --arch arm64 (supported: ${HWKIT_DEB_ARCHES[*]})"
      arch_arg=$2
      vm_arches=(amd64 arm64)
      install_arches=(arm64 armhf)
      shift 2
      ;;
    --no-build)
      build_flag=(--no-build)
      shift
      ;;
    --roots-only)
      roots_only=1
      shift
      ;;
    *) die "unknown argument '$1'; usage: scripts/test-packages.sh [--arch LIST] [--no-build] [--roots-only]" ;;
  esac
done
IFS=, read -ra arches <<<"$arch_arg"
for a in "${arches[@]}"; do
  hwkit_arch_info "$a" 2>/dev/null ||
    die "unknown architecture '$a'; supported: ${HWKIT_DEB_ARCHES[*]} (Debian's names)"
done

target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir=$PWD/$target_dir
cache=${HWKIT_PACKAGES_CACHE:-/var/cache/hwkit-packages}
tmp=$(mktemp -d -t hwkit-test-packages.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------------------------------------
# Debian roots to install into, debootstrapped once per architecture and cached; each test
# works on its own copy.

suite=bookworm
include=udev,dbus,libglib2.0-bin
# Makes (or finds in the cache) the minbase root of Debian architecture $1 with udev in it, and
# the system bus (dbus, which hwkitd depends on) and gdbus (libglib2.0-bin, the generic client
# the VM test holds a line with); sets `base`, the cache entry holding it in `$base/root`. The
# second stage runs the root's own programs: natively on amd64, under qemu-user through
# binfmt_misc on ARM.
ensure_root() {
  local arch=$1 mirror recipe key
  hwkit_need_packages debootstrap
  # The host's own mirror, as apt knows it (no mirror is named here).
  # shellcheck disable=SC2016  # apt's format fields, not shell expansions
  mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' |
    awk -v s="$suite" '$2 == s { print $1; exit }')
  [[ -n $mirror ]] || die "the host's apt has no $suite source to debootstrap from"
  # Everything the root is made of is in its key: change any of it and a new root is made.
  recipe="suite=$suite arch=$arch variant=minbase include=$include mirror=$mirror recipe=1"
  key=$(sha256sum <<<"$recipe" | cut -c1-12)
  base=$cache/roots/$suite-$arch-$key
  mkdir -p "$cache/roots"
  (
    # One run makes the root; concurrent runs wait for it, then copy it.
    flock 9
    [[ -e $base/ready ]] && exit 0
    echo "making the $suite $arch root (once; cached in $base)"
    local start=$SECONDS
    rm -rf "$base"
    mkdir -p "$base"
    debootstrap --arch="$arch" --variant=minbase --foreign --include="$include" \
      "$suite" "$base/root" "$mirror" >"$base/debootstrap.log" 2>&1 ||
      die "debootstrap's first stage failed: see $base/debootstrap.log"
    chroot "$base/root" /debootstrap/debootstrap --second-stage >>"$base/debootstrap.log" 2>&1 ||
      die "debootstrap's second stage failed: see $base/debootstrap.log"
    # What no test reads, and what would only make the VM's initramfs bigger: downloaded
    # packages, apt's lists, documentation, translations.
    rm -rf "$base/root/var/cache/apt/"*.bin "$base/root/var/cache/apt/archives/"*.deb \
      "$base/root/var/lib/apt/lists/"* "$base/root/usr/share/doc/"* \
      "$base/root/usr/share/man/"* "$base/root/usr/share/locale/"* "$base/root/usr/share/info/"*
    echo "$recipe" >"$base/ready"
    echo "(made in $((SECONDS - start)) s, $(du -sm "$base/root" | cut -f1) MiB)"
  ) 9>"$cache/roots/.lock"
}

# Emulation of ARM programs for chroots: binfmt_misc with a qemu handler registered with the
# fixed-binary flag (F), so the emulator works inside the chroot without being copied into it.
# Debian's qemu-user-static registers one (through binfmt-support); the test bed's build root
# registers its own (hwkit-qemu-*): either does.
ensure_emulation() {
  local arch=$1 qemu
  [[ $arch == amd64 ]] && return 0
  hwkit_arch_info "$arch"
  qemu=qemu-${rust_arch/armv7/arm}
  hwkit_need_packages qemu-user-static binfmt-support
  [[ -e /proc/sys/fs/binfmt_misc/register ]] ||
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  if ! grep -qsx enabled "/proc/sys/fs/binfmt_misc/$qemu" "/proc/sys/fs/binfmt_misc/hwkit-$qemu"; then
    update-binfmts --enable "$qemu" || die "cannot register $qemu with binfmt_misc"
  fi
}


passed=0
failed=0
if ((roots_only)); then
  for arch in "${install_arches[@]}"; do
    ensure_emulation "$arch"
    ensure_root "$arch"
  done
  exit 0
fi

# check NAME CMD...: runs CMD, counts it, prints its output only when it fails.
check() {
  local name=$1 output
  shift
  if output=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok     $name"
  else
    failed=$((failed + 1))
    echo "FAILED $name"
    [[ -n $output ]] && echo "         ${output//$'\n'/$'\n'         }"
  fi
  return 0
}
# expect_fail NAME PATTERN CMD...: CMD must fail with one line on stderr matching PATTERN.
expect_fail() {
  local name=$1 pattern=$2
  shift 2
  check "$name" refused "$pattern" "$@"
}
refused() {
  local pattern=$1 err
  shift
  if err=$("$@" 2>&1 >/dev/null); then
    echo "succeeded; expected a refusal matching: $pattern"
    return 1
  fi
  err=$(grep -v '^installing ' <<<"$err")
  if [[ $(wc -l <<<"$err") != 1 ]]; then
    echo "expected one line on stderr, got:"
    echo "$err"
    return 1
  fi
  grep -Eq -- "$pattern" <<<"$err" || {
    echo "stderr '$err' does not match '$pattern'"
    return 1
  }
}
# Checks that "$1" equals "$2", naming what is compared ("$3").
same() {
  [[ $1 == "$2" ]] || {
    echo "$3: got '$1', expected '$2'"
    return 1
  }
}

hwkit_need_packages dpkg-dev jq binutils

version=$(cargo metadata --no-deps --format-version 1 |
  jq -r '.packages[] | select(.name == "hwkit") | .version')
deb_version=${version/-/\~}
echo "== Building the packages"
# One architecture at a time, so that one that cannot be built or packaged fails its own
# checks and not the others'; an old package must not stand in for one that failed.
for arch in "${arches[@]}"; do
  rm -f "$target_dir/packages/hwkit_${deb_version}_$arch.deb" \
    "$target_dir/packages/hwkitd_${deb_version}_$arch.deb"
  start=$SECONDS
  check "$arch: scripts/package.sh builds the packages (hwkit, hwkitd)" \
    scripts/package.sh --arch "$arch" "${build_flag[@]}"
  echo "(in $((SECONDS - start)) s)"
done

# ---------------------------------------------------------------------------------------------
echo
echo "== 1. What each package holds"

# The fields and files of package $1 (a .deb for Debian architecture $2).
check_fields() {
  local deb=$1 arch=$2
  same "$(dpkg-deb -f "$deb" Package)" hwkit Package &&
    same "$(dpkg-deb -f "$deb" Version)" "$deb_version" "Version (the workspace's)" &&
    same "$(dpkg-deb -f "$deb" Architecture)" "$arch" Architecture &&
    same "$(dpkg-deb -f "$deb" Section)" electronics Section &&
    same "$(dpkg-deb -f "$deb" Priority)" optional Priority &&
    [[ -n $(dpkg-deb -f "$deb" Maintainer) ]] &&
    [[ $(dpkg-deb -f "$deb" Installed-Size) =~ ^[0-9]+$ ]] &&
    [[ $(dpkg-deb -f "$deb" Description) == *gpio* ]]
}
# lists_all LISTING WANT...: every WANT is a whole line of LISTING (dpkg-deb --contents);
# else names the first one missing and prints the listing.
lists_all() {
  local listing=$1 want
  shift
  for want; do
    grep -qxF -- "$want" <<<"$listing" || {
      echo "missing: $want"
      echo "$listing"
      return 1
    }
  done
}

# Every file the package must install, with its mode and owner; and nothing is a conffile
# (unattended upgrades on boards must never stop at a question).
check_files() {
  local deb=$1 listing
  listing=$(dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}')
  lists_all "$listing" \
    "-rwxr-xr-x root/root ./usr/bin/hwkit" \
    "-rw-r--r-- root/root ./usr/lib/udev/rules.d/60-hwkit-gpio.rules" \
    "-rw-r--r-- root/root ./usr/share/doc/hwkit/README.md" \
    "-rw-r--r-- root/root ./usr/share/doc/hwkit/copyright" \
    "-rw-r--r-- root/root ./usr/share/doc/hwkit/changelog.gz" \
    "-rw-r--r-- root/root ./usr/share/bash-completion/completions/hwkit" \
    "-rw-r--r-- root/root ./usr/share/zsh/vendor-completions/_hwkit" \
    "-rw-r--r-- root/root ./usr/share/fish/vendor_completions.d/hwkit.fish" \
    "-rw-r--r-- root/root ./usr/share/man/man1/hwkit.1.gz" \
    "-rw-r--r-- root/root ./usr/share/man/man1/hwkit-gpio-get.1.gz" || return 1
  local control
  control=$(dpkg-deb --info "$deb")
  local member
  for member in postinst postrm md5sums; do
    grep -q " $member " <<<"$control" || {
      echo "the control archive has no $member: $control"
      return 1
    }
  done
  if grep -q ' conffiles ' <<<"$control"; then
    echo "the package has conffiles"
    return 1
  fi
  # The rule installed is the one in packaging/.
  cmp <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/udev/rules.d/60-hwkit-gpio.rules) \
    packaging/deb/60-hwkit-gpio.rules
}
# The binary inside ($3, default usr/bin/hwkit) is built for the package's architecture, and
# stripped; kept as $tmp/elf-ARCH-NAME for the checks below.
check_elf() {
  local deb=$1 arch=$2 path=${3:-usr/bin/hwkit}
  local bin=$tmp/elf-$2-${path##*/}
  dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$path" >"$bin"
  hwkit_arch_info "$arch"
  hwkit_check_elf "$bin" "$arch" || return 1
  if LC_ALL=C readelf -S "$bin" | grep -q '\.symtab'; then
    echo "$path is not stripped"
    return 1
  fi
}
# Depends names libc6 at the highest GLIBC version node the binary needs, and that version
# exists in Debian 12 (glibc 2.36), so the package installs on bookworm and Raspberry Pi OS.
check_depends() {
  local deb=$1 arch=$2 bin=$tmp/elf-$2-${3:-hwkit} depends highest
  depends=$(dpkg-deb -f "$deb" Depends)
  highest=$(LC_ALL=C readelf -V --wide "$bin" | grep -o 'Name: GLIBC_[0-9.]*' |
    sed 's/.*GLIBC_//' | sort -V | tail -1)
  [[ -n $highest ]] || {
    echo "no GLIBC version node in the binary"
    return 1
  }
  [[ $depends == *"libc6 (>= $highest)"* ]] || {
    echo "Depends '$depends' lacks libc6 (>= $highest)"
    return 1
  }
  dpkg --compare-versions "$highest" le 2.36 || {
    echo "the binary needs glibc $highest; Debian 12 has 2.36"
    return 1
  }
  [[ $depends == *passwd* ]] || {
    echo "Depends '$depends' lacks passwd (the postinst's groupadd)"
    return 1
  }
}
# The hwkitd package: its fields, the files of hwkitd/data where dbus, systemd and sysusers
# look for them (the same bytes), the daemon in sbin, its maintainer scripts, no conffiles.
check_hwkitd_package() {
  local deb=$1 arch=$2 listing control want depends
  same "$(dpkg-deb -f "$deb" Package)" hwkitd Package &&
    same "$(dpkg-deb -f "$deb" Version)" "$deb_version" "Version (the workspace's)" &&
    same "$(dpkg-deb -f "$deb" Architecture)" "$arch" Architecture &&
    same "$(dpkg-deb -f "$deb" Section)" electronics Section || return 1
  depends=$(dpkg-deb -f "$deb" Depends)
  for want in "hwkit (= $deb_version)" "default-dbus-system-bus | dbus-system-bus" passwd; do
    [[ $depends == *"$want"* ]] || {
      echo "Depends '$depends' lacks '$want'"
      return 1
    }
  done
  listing=$(dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}')
  lists_all "$listing" \
    "-rwxr-xr-x root/root ./usr/sbin/hwkitd" \
    "-rw-r--r-- root/root ./usr/share/dbus-1/system.d/io.gpiod1.conf" \
    "-rw-r--r-- root/root ./usr/share/dbus-1/system-services/io.gpiod1.service" \
    "-rw-r--r-- root/root ./usr/share/dbus-1/system-services/io.hwkit1.service" \
    "-rw-r--r-- root/root ./usr/lib/systemd/system/hwkitd.service" \
    "-rw-r--r-- root/root ./usr/lib/sysusers.d/hwkitd.conf" \
    "-rw-r--r-- root/root ./usr/share/doc/hwkitd/README.md" \
    "-rw-r--r-- root/root ./usr/share/doc/hwkitd/copyright" \
    "-rw-r--r-- root/root ./usr/share/doc/hwkitd/changelog.gz" || return 1
  control=$(dpkg-deb --info "$deb")
  for want in postinst prerm postrm md5sums; do
    grep -q " $want " <<<"$control" || {
      echo "the control archive has no $want: $control"
      return 1
    }
  done
  if grep -q ' conffiles ' <<<"$control"; then
    echo "the package has conffiles"
    return 1
  fi
  local file installed
  for file in io.gpiod1.conf:usr/share/dbus-1/system.d/io.gpiod1.conf \
    io.gpiod1.service:usr/share/dbus-1/system-services/io.gpiod1.service \
    io.hwkit1.service:usr/share/dbus-1/system-services/io.hwkit1.service \
    hwkitd.service:usr/lib/systemd/system/hwkitd.service \
    hwkitd.sysusers:usr/lib/sysusers.d/hwkitd.conf; do
    installed=${file#*:}
    cmp <(dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$installed") "hwkitd/data/${file%%:*}" ||
      return 1
  done
}
# systemd-analyze verify (the host's) on the unit as the package installs it, in tree $1: its
# directives, ExecStart's binary, the user and group it names. Warnings are failures.
check_unit() {
  local out
  out=$(systemd-analyze verify --root="$1" --recursive-errors=no hwkitd.service 2>&1) || {
    echo "$out"
    return 1
  }
  [[ -z $out ]] || {
    echo "systemd-analyze verify warned: $out"
    return 1
  }
}
# On the host's own architecture dpkg-shlibdeps can read the installed libraries' symbols
# files: our Depends must say exactly what it says (plus passwd).
check_shlibdeps() {
  # Separate statements: a `local` expands all its words before it assigns any.
  local deb=$1 path=${2:-usr/bin/hwkit} extra=${3:-}
  local d=$tmp/shlibdeps-${path##*/}
  mkdir -p "$d/debian"
  printf 'Source: hwkit\n\nPackage: hwkit\nArchitecture: any\n' >"$d/debian/control"
  dpkg-deb -x "$deb" "$d/pkg"
  local theirs
  theirs=$(cd "$d" && dpkg-shlibdeps -O "pkg/$path" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  same "$(dpkg-deb -f "$deb" Depends)" "$theirs, passwd$extra" "Depends against dpkg-shlibdeps"
}
# The md5sums in the package match its files.
check_md5sums() {
  local deb=$1 d=$tmp/md5-$2
  mkdir -p "$d"
  dpkg-deb -x "$deb" "$d"
  dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./md5sums >"$d.md5sums"
  (cd "$d" && md5sum --quiet -c "$d.md5sums")
}
# The same commit packs the same bytes (SOURCE_DATE_EPOCH, sorted archive, fixed owner).
check_reproducible() {
  local arch=$1 debs before
  debs=("$target_dir/packages/"hwkit{,d}_"${deb_version}_$arch.deb")
  before=$(sha256sum "${debs[@]}")
  scripts/package.sh --arch "$arch" --no-build >/dev/null 2>&1
  same "$(sha256sum "${debs[@]}")" "$before" "sha256 of a second build"
}

for arch in "${arches[@]}"; do
  deb=$target_dir/packages/hwkit_${deb_version}_$arch.deb
  [[ -f $deb ]] || continue
  echo "-- $(basename "$deb"): $(($(stat -c %s "$deb") / 1024)) KiB, Depends: $(dpkg-deb -f "$deb" Depends)"
  check "$arch: control fields" check_fields "$deb" "$arch"
  check "$arch: files, modes, no conffiles" check_files "$deb"
  check "$arch: binary's ELF machine matches Architecture, stripped" check_elf "$deb" "$arch"
  check "$arch: Depends from the binary's GLIBC needs, installable on Debian 12" check_depends "$deb" "$arch"
  if [[ $arch == amd64 ]]; then
    check "$arch: Depends equals dpkg-shlibdeps'" check_shlibdeps "$deb"
  fi
  check "$arch: md5sums" check_md5sums "$deb" "$arch"
  deb=$target_dir/packages/hwkitd_${deb_version}_$arch.deb
  if [[ -f $deb ]]; then
    echo "-- $(basename "$deb"): $(($(stat -c %s "$deb") / 1024)) KiB, Depends: $(dpkg-deb -f "$deb" Depends)"
    check "$arch hwkitd: fields, Depends, files (hwkitd/data's), scripts, no conffiles" \
      check_hwkitd_package "$deb" "$arch"
    check "$arch hwkitd: binary's ELF machine matches Architecture, stripped" \
      check_elf "$deb" "$arch" usr/sbin/hwkitd
    check "$arch hwkitd: Depends from the binary's GLIBC needs, installable on Debian 12" \
      check_depends "$deb" "$arch" hwkitd
    if [[ $arch == amd64 ]]; then
      check "$arch hwkitd: Depends equals dpkg-shlibdeps' (and hwkit, the bus)" check_shlibdeps \
        "$deb" usr/sbin/hwkitd ", hwkit (= $deb_version), default-dbus-system-bus | dbus-system-bus"
    fi
    check "$arch hwkitd: md5sums" check_md5sums "$deb" "$arch-hwkitd"
    mkdir -p "$tmp/unit-$arch"
    dpkg-deb -x "$deb" "$tmp/unit-$arch"
    check "$arch hwkitd: systemd-analyze verify accepts the unit" check_unit "$tmp/unit-$arch"
  fi
  check "$arch: rebuild is byte-identical (hwkit, hwkitd)" check_reproducible "$arch"
done

echo
echo "== package.sh refuses bad input"
expect_fail "unknown architecture names the supported ones" \
  "unknown architecture 'riscv64'; supported: amd64 arm64 armhf" scripts/package.sh --arch riscv64
expect_fail "--arch without a value" "--arch needs a list" scripts/package.sh --arch
expect_fail "unknown argument" "unknown argument '--frobnicate'; usage: " scripts/package.sh --frobnicate
# A target directory with no binary in it.
mkdir -p "$tmp/empty-target"
expect_fail "--no-build without a binary says where it looked" \
  "no amd64 binary at $tmp/empty-target/release/hwkit" \
  env CARGO_TARGET_DIR="$tmp/empty-target" scripts/package.sh --arch amd64 --no-build
# An x86-64 binary where the arm64 one should be: refused, not packaged as arm64.
mkdir -p "$tmp/cross/aarch64-unknown-linux-gnu/release"
cp /bin/true "$tmp/cross/aarch64-unknown-linux-gnu/release/hwkit"
expect_fail "a binary of the wrong architecture" \
  "is built for Advanced Micro Devices X86-64 \\(ELF64\\); arm64 needs AArch64 \\(ELF64\\)" \
  env CARGO_TARGET_DIR="$tmp/empty-target" HWKIT_CROSS_DIR="$tmp/cross" \
  scripts/package.sh --arch arm64 --no-build
# A binary that needs a library package.sh cannot map to a Debian package (dpkg needs libmd).
mkdir -p "$tmp/other-target/release"
cp "$(command -v dpkg)" "$tmp/other-target/release/hwkit"
expect_fail "a library with no Debian package known" \
  "needs lib[a-z]+\.so\.[0-9]+, which scripts/package.sh cannot map to a Debian package" \
  env CARGO_TARGET_DIR="$tmp/other-target" scripts/package.sh --arch amd64 --no-build
# A binary that needs a newer glibc than Debian 12's (the version node renamed in a copy of
# true(1): same length, so the ELF stays valid for readelf).
mkdir -p "$tmp/new-glibc/release"
sed 's/GLIBC_2\.34/GLIBC_2.99/g' /bin/true >"$tmp/new-glibc/release/hwkit"
expect_fail "a binary needing a newer glibc than Debian 12's names the symbols" \
  "needs glibc 2.99 \\(__libc_start_main@GLIBC_2.99\\); Debian 12 and Raspberry Pi OS bookworm have 2.36" \
  env CARGO_TARGET_DIR="$tmp/new-glibc" scripts/package.sh --arch amd64 --no-build
expect_fail "test-packages.sh: unknown argument" \
  "unknown argument '--fast'; usage: scripts/test-packages.sh" scripts/test-packages.sh --fast
expect_fail "test-packages.sh: --arch without a value" "--arch needs a list" scripts/test-packages.sh --arch
expect_fail "test-packages.sh: unknown architecture" \
  "unknown architecture 'mips'; supported: amd64 arm64 armhf" scripts/test-packages.sh --arch mips

# A fresh copy of the cached root of architecture $1 at $2, with the package in its /tmp.
fresh_root() {
  local arch=$1 dest=$2 start=$SECONDS
  ensure_emulation "$arch"
  ensure_root "$arch"
  cp -a "$base/root" "$dest"
  cp "$target_dir/packages/hwkit_${deb_version}_$arch.deb" "$dest/tmp/hwkit.deb"
  cp "$target_dir/packages/hwkitd_${deb_version}_$arch.deb" "$dest/tmp/hwkitd.deb"
  echo "($arch root ready in $((SECONDS - start)) s)"
}

# ---------------------------------------------------------------------------------------------
# Parts 2 and 3 need the package: one that failed to build has failed its check already.
built() { [[ -f $target_dir/packages/hwkit_${deb_version}_$1.deb ]]; }

# 2. The package of ARM architecture $1 installed with dpkg in a Debian root of that
# architecture, its programs run by qemu-user: what `dpkg -i` does on a board.
install_test() {
  local arch=$1
  echo
  echo "== 2. Installing the $arch package in Debian $suite $arch (qemu-user)"
  root=$tmp/root-$arch
  fresh_root "$arch" "$root"
  in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }
  gpio_group() { in_root getent group gpio || true; }

  check "$arch root: no gpio group before install (a bare Debian)" \
    bash -c "! chroot '$root' getent group gpio"
  check "$arch: dpkg -i installs" in_root dpkg -i /tmp/hwkit.deb
  check "$arch: installed and configured" \
    bash -c "chroot '$root' dpkg-query -W -f='\${Status}' hwkit | grep -qx 'install ok installed'"
  check "$arch: postinst created gpio as a system group" \
    bash -c "gid=\$(chroot '$root' getent group gpio | cut -d: -f3) && [ \"\$gid\" -lt 1000 ]"
  check "$arch: udev rule in /usr/lib/udev/rules.d" \
    cmp "$root/usr/lib/udev/rules.d/60-hwkit-gpio.rules" packaging/deb/60-hwkit-gpio.rules
  check "$arch: hwkit --version runs (emulated)" \
    bash -c "chroot '$root' hwkit --version | grep -qx 'hwkit $version'"
  check "$arch: hwkit ffi calls libm's sqrt on $arch" \
    bash -c "chroot '$root' hwkit ffi call --lib libm.so.6 d sqrt d 16 | grep -qx 4.0"
  check "$arch: dpkg --verify: installed files match the md5sums" in_root dpkg --verify hwkit
  check "$arch: the installed bash completion completes 'hwkit gp' to gpio" \
    bash -c "chroot '$root' bash -c 'source /usr/share/bash-completion/completions/hwkit &&
      COMP_WORDS=(hwkit gp) COMP_CWORD=1 COMP_LINE=\"hwkit gp\" COMP_POINT=8 && _hwkit hwkit gp hwkit &&
      echo \"\${COMPREPLY[*]}\"' | grep -qx gpio"
  check "$arch hwkitd: dpkg -i installs (beside hwkit, with the root's dbus)" \
    in_root dpkg -i /tmp/hwkitd.deb
  check "$arch hwkitd: postinst created the system user hwkitd, in gpio, without a shell" \
    bash -c "entry=\$(chroot '$root' getent passwd hwkitd) && uid=\$(echo \"\$entry\" | cut -d: -f3) &&
      [ \"\$uid\" -lt 1000 ] && [ \"\${entry##*:}\" = /usr/sbin/nologin ] &&
      chroot '$root' id -nG hwkitd | grep -qw gpio"
  check "$arch hwkitd: systemd-analyze verify accepts the installed unit" check_unit "$root"
  check "$arch hwkitd: hwkitd --version runs (emulated)" \
    bash -c "chroot '$root' hwkitd --version | grep -qx 'hwkitd $version'"
  check "$arch hwkitd: dpkg --verify" in_root dpkg --verify hwkitd
  check "$arch hwkitd: reinstall succeeds and keeps the user" \
    bash -c "before=\$(chroot '$root' getent passwd hwkitd) && chroot '$root' dpkg -i /tmp/hwkitd.deb >/dev/null &&
      [ \"\$(chroot '$root' getent passwd hwkitd)\" = \"\$before\" ]"
  check "$arch hwkitd: dpkg --purge removes its files, keeps the user" \
    bash -c "chroot '$root' dpkg --purge hwkitd >/dev/null && [ ! -e '$root/usr/sbin/hwkitd' ] &&
      [ ! -e '$root/usr/share/dbus-1/system.d/io.gpiod1.conf' ] && chroot '$root' getent passwd hwkitd >/dev/null"
  group_before=$(gpio_group)
  check "$arch: reinstall (dpkg -i again) succeeds" in_root dpkg -i /tmp/hwkit.deb
  check "$arch: reinstall keeps the gpio group as it was" same "$(gpio_group)" "$group_before" "gpio group"
  check "$arch: dpkg -r removes" in_root dpkg -r hwkit
  check "$arch: binary and rule gone after removal" \
    bash -c "[ ! -e '$root/usr/bin/hwkit' ] && [ ! -e '$root/usr/lib/udev/rules.d/60-hwkit-gpio.rules' ]"
  check "$arch: removal keeps the gpio group (users' memberships are the administrator's)" \
    same "$(gpio_group)" "$group_before" "gpio group"
  check "$arch: nothing of hwkit left in dpkg's database (no conffiles)" \
    bash -c "! chroot '$root' dpkg-query -W -f='\${Status}' hwkit 2>/dev/null | grep -q installed"
  # A board that already has gpio, as Raspberry Pi OS does, with its own gid and members.
  check "$arch: set up a gpio group as Raspberry Pi OS has it (gid 993, member pi)" \
    bash -c "{ ! chroot '$root' getent group gpio >/dev/null || chroot '$root' groupdel gpio; } &&
      chroot '$root' groupadd --gid 993 gpio && chroot '$root' useradd --no-create-home --groups gpio pi"
  check "$arch: install on a system whose gpio group exists" in_root dpkg -i /tmp/hwkit.deb
  check "$arch: the existing gpio group and its members are kept" \
    same "$(gpio_group)" "gpio:x:993:pi" "gpio group"
  check "$arch: dpkg --purge removes" in_root dpkg --purge hwkit
  rm -rf "$root"
}
for arch in "${arches[@]}"; do
  if [[ " ${install_arches[*]} " == *" $arch "* ]] && built "$arch"; then install_test "$arch"; fi
done

# ---------------------------------------------------------------------------------------------
# 3. In the test bed's VM (the kernel's gpio-sim chips), a root of the package's architecture
# boots udev, installs the package and shows what a user gets: a member of gpio drives lines
# through the character device and sysfs, a non-member gets hwkit's permission error.
vm_test() {
  local arch=$1 root vm_args=()
  hwkit_arch_info "$arch"
  echo
  echo "== 3. The $arch package on the kernel's GPIO, in the test bed's VM (udev, users)"
  root=$tmp/vm-root-$arch
  fresh_root "$arch" "$root"
  # One tar file: the bed puts a file in the guest as it is (a directory's programs would each
  # have their libraries looked up on the host, and the root has its own).
  tar -C "$root" -cf "$root.tar" .
  rm -rf "$root"
  [[ $arch == amd64 ]] || vm_args+=(--arch "$rust_arch")
  local start=$SECONDS log=$tmp/vm-$arch.log
  cargo run --release -q -p hwkit-testbed -- \
    vm "${vm_args[@]}" -q --timeout 400 \
    --include "$root.tar" --include "$PWD/packaging/test-in-vm.sh" \
    -- sh "$PWD/packaging/test-in-vm.sh" "$root.tar" 2>&1 | tee "$log" || true
  echo "(VM run in $((SECONDS - start)) s)"
  local ok bad
  ok=$(grep -c '^ok ' "$log" || true)
  bad=$(grep -c '^FAILED ' "$log" || true)
  passed=$((passed + ok))
  failed=$((failed + bad))
  # A guest that died half-way must not pass on the checks it reached.
  if ! grep -qx 'test-in-vm: done' "$log"; then
    failed=$((failed + 1))
    echo "FAILED $arch VM run did not finish (see the output above)"
  fi
  rm -f "$root.tar"
}
for arch in "${arches[@]}"; do
  if [[ " ${vm_arches[*]} " == *" $arch "* ]] && built "$arch"; then vm_test "$arch"; fi
done

echo
echo "$passed passed, $failed failed"
((failed == 0))
