#!/usr/bin/env bash
# Builds hwkit's Debian packages, two per architecture, into ${CARGO_TARGET_DIR:-target}/packages:
#   hwkit:  the release `hwkit` binary, the udev rule that gives group `gpio` the GPIO devices,
#           the postinst that creates the group, and the documentation;
#   hwkitd: the GPIO daemon on D-Bus, with its bus policy, D-Bus activation files, systemd unit
#           and sysusers file (hwkitd/data/), and a postinst that creates its user.
# Installs what it needs (run as root).
#
#   scripts/package.sh [--arch amd64,arm64,armhf] [--no-build]
#
# HWKIT_CROSS_DIR (default: target/cross, where the build root puts them) is where the ARM
# binaries are read from, as <triple>/release/{hwkit,hwkitd}; HWKIT_DEB_MAINTAINER sets
# Maintainer.
#
# amd64 is built on this machine (`cargo build --release -p hwkit`, then `-p hwkitd`); arm64
# and armhf come from the test bed's build root (`hwkit-testbed cross build`, which builds
# both). From there on every architecture takes the same path: check each binary is built for
# it, strip it, lay out the tree, compute Depends from what the binary links, `dpkg-deb --build`.
#
# Why the daemon is a package of its own: a system user, a service and a bus name are a
# decision a board's owner takes (`apt install hwkitd`), not something every user of the CLI
# should get; and the daemon needs a system bus (dbus) the CLI does not. It depends on the
# hwkit of the same version for the `gpio` group and the udev rule that gives the group the
# chips (hwkitd/data's own rule says the same for the character devices only, so it is not
# shipped twice).
#
# Why `dpkg-deb --build` on a tree laid out here, not cargo-deb: dpkg-deb is part of dpkg, on
# every Debian machine, so CI builds nothing first (cargo-deb would be compiled from crates.io
# on each fresh machine, a minute or more on two shared cores); the ARM binaries come from a
# build root, not from `cargo build --target`, which cargo-deb expects; and cargo-deb's
# automatic Depends runs dpkg-shlibdeps, which needs the target architecture's libc6 installed
# on the host. The tree is about twenty lines of `install`, and what goes where is in plain
# sight below.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=packaging/lib.sh
source packaging/lib.sh

die() {
  echo "package.sh: $*" >&2
  exit 1
}

usage="usage: scripts/package.sh [--arch LIST] [--no-build]
  --arch LIST   comma-separated Debian architectures (default: ${HWKIT_DEB_ARCHES[*]})
  --no-build    package the binaries already built instead of building them first"

arches=()
build=1
while (($#)); do
  case $1 in
    --arch)
      (($# >= 2)) || die "--arch needs a list, e.g. --arch arm64,armhf (supported: ${HWKIT_DEB_ARCHES[*]})"
      IFS=, read -ra arches <<<"$2"
      shift 2
      ;;
    --arch=*)
      IFS=, read -ra arches <<<"${1#--arch=}"
      shift
      ;;
    --no-build)
      build=0
      shift
      ;;
    -h | --help)
      echo "$usage"
      exit 0
      ;;
    *) die "unknown argument '$1'; usage: scripts/package.sh [--arch LIST] [--no-build] (--help says more)" ;;
  esac
done
((${#arches[@]})) || arches=("${HWKIT_DEB_ARCHES[@]}")
# Refuse a bad name before installing or building anything.
for a in "${arches[@]}"; do
  hwkit_arch_info "$a" 2>/dev/null ||
    die "unknown architecture '$a'; supported: ${HWKIT_DEB_ARCHES[*]} (Debian's names)"
done
# Each architecture once, in the table's order.
wanted=()
for a in "${HWKIT_DEB_ARCHES[@]}"; do
  [[ " ${arches[*]} " == *" $a "* ]] && wanted+=("$a")
done

target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir=$PWD/$target_dir
out=$target_dir/packages

# Binary $2 (hwkit, hwkitd) of architecture $1: the host's own build for amd64 (in cargo's
# target directory), the build root's for ARM (always under the workspace's target/cross: the
# build root sets its own CARGO_TARGET_DIR).
binary_of() {
  hwkit_arch_info "$1"
  if [[ $1 == amd64 ]]; then
    echo "$target_dir/release/$2"
  else
    echo "${HWKIT_CROSS_DIR:-$PWD/target/cross}/$triple/release/$2"
  fi
}

# binutils for each architecture (strip); jq reads cargo's metadata.
tools=(dpkg-dev jq binutils)
for a in "${wanted[@]}"; do
  hwkit_arch_info "$a"
  tools+=("binutils-${gnu//_/-}")
done
hwkit_need_packages "${tools[@]}"

if ((build)); then
  cross=()
  for a in "${wanted[@]}"; do
    hwkit_arch_info "$a"
    if [[ $a == amd64 ]]; then
      # Apart: built together, the features of the dependencies they share (zbus, tokio)
      # would be unified and hwkit would differ from the one `cargo run -p hwkit` makes below.
      cargo build --release -p hwkit
      cargo build --release -p hwkitd
    else
      cross+=("$rust_arch")
    fi
  done
  if ((${#cross[@]})); then
    # One call for every ARM architecture: the build root is set up once.
    (
      IFS=,
      cargo run --release -p hwkit-testbed -- cross build --arch "${cross[*]}"
    ) || die "cross build for ${cross[*]} failed (see above)"
  fi
fi

# Package metadata from the workspace, so that a version bump needs no edit here.
meta=$(cargo metadata --no-deps --format-version 1) || die "cargo metadata failed"
field() { jq -r --arg f "$1" '.packages[] | select(.name == "hwkit") | .[$f] // empty' <<<"$meta"; }
version=$(field version)
[[ -n $version ]] || die "no package 'hwkit' in the workspace's metadata"
# A SemVer pre-release (1.0.0-rc.1) sorts before its release; in Debian `~` does that (1.0.0~rc.1).
deb_version=${version/-/\~}
homepage=$(field homepage)
maintainer=${HWKIT_DEB_MAINTAINER:-$(jq -r '.packages[] | select(.name == "hwkit") | .authors[0] // empty' <<<"$meta")}
maintainer=${maintainer:-hwkit developers <hwkit@example.invalid>}
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# One timestamp for every file and the archive, so that the same commit builds the same bytes.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

# Debian's minimum version for a symbol version node the binary needs: GLIBC_2.34 -> 2.34,
# GCC_4.2.0 -> 4.2 (as in Debian's symbols files for libc6 and libgcc-s1).
node_version() {
  local v=${1#*_}
  [[ $v =~ ^[0-9]+\.[0-9]+\.0$ ]] && v=${v%.0}
  echo "$v"
}

# Depends of the binary $1: each shared library it needs (DT_NEEDED) mapped to its Debian
# package, at the highest symbol version it needs from it (the version nodes of
# .gnu.version_r). dpkg-shlibdeps does this from the installed target libc's symbols files,
# which only the host's own architecture has; ELF's version nodes give the same minimum on
# every architecture (tests/ check it against dpkg-shlibdeps on amd64). A library with no entry
# below stops the build: adding one is a decision, not an accident.
depends_of() {
  local bin=$1 lib pkg
  local -A need=()
  while read -r lib; do
    case $lib in
      libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | libutil.so.1 | ld-linux*) pkg=libc6 ;;
      libgcc_s.so.1) pkg=libgcc-s1 ;;
      *) die "$bin needs $lib, which scripts/package.sh cannot map to a Debian package; add it to depends_of" ;;
    esac
    need[$pkg]=${need[$pkg]:-0}
  done < <(LC_ALL=C readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
  # Version nodes, as "file node" lines.
  local file node min
  while read -r file node; do
    case $file in
      libgcc_s.so.1) pkg=libgcc-s1 ;;
      *) pkg=libc6 ;;
    esac
    min=$(node_version "$node")
    if [[ ${need[$pkg]} == 0 ]] || dpkg --compare-versions "$min" gt "${need[$pkg]}"; then
      need[$pkg]=$min
    fi
  done < <(LC_ALL=C readelf -V --wide "$bin" | awk '
    /^Version needs section/ { inneed = 1; next }
    /^Version (symbols|definition) section/ { inneed = 0 }
    inneed && / File: / { for (i = 1; i <= NF; i++) if ($i == "File:") file = $(i + 1) }
    inneed && / Name: / { for (i = 1; i <= NF; i++) if ($i == "Name:") print file, $(i + 1) }')
  local deps=()
  for pkg in libc6 libgcc-s1; do
    [[ -v "need[$pkg]" ]] || continue
    if [[ ${need[$pkg]} == 0 ]]; then deps+=("$pkg"); else deps+=("$pkg (>= ${need[$pkg]})"); fi
  done
  # passwd: the postinsts' groupadd and useradd.
  deps+=(passwd)
  local joined
  joined=$(printf '%s, ' "${deps[@]}")
  echo "${joined%, }"
}

# The oldest system the packages are for: Debian 12 (bookworm), the base of Raspberry Pi OS
# bookworm, has glibc 2.36. A binary linked against a newer glibc (a build root on Debian sid
# binds std's weak pidfd_spawnp to GLIBC_2.39) has a correct Depends, but apt would refuse it
# on every such board: stop here and say which symbols pull the version up.
oldest_glibc=2.36
check_glibc() {
  local bin=$1 arch=$2 highest symbols
  highest=$(LC_ALL=C readelf -V --wide "$bin" | grep -o 'Name: GLIBC_[0-9.]*' | sed 's/.*GLIBC_//' |
    sort -V | tail -1)
  [[ -n $highest ]] && dpkg --compare-versions "$highest" gt "$oldest_glibc" || return 0
  symbols=$(LC_ALL=C readelf --dyn-syms --wide "$bin" | awk '{print $8}' | grep '@GLIBC_' |
    while IFS=@ read -r sym ver; do
      if dpkg --compare-versions "${ver#GLIBC_}" gt "$oldest_glibc"; then echo "$sym@$ver"; fi
    done | sort -u | paste -sd' ')
  die "the $arch binary $bin needs glibc $highest ($symbols); Debian 12 and Raspberry Pi OS bookworm have $oldest_glibc: link it against bookworm's libc"
}

# Shell completions and man pages, generated by `hwkit completions` and `hwkit man` from the
# command's own clap definitions. They are the same on every architecture: made once, by the
# host's build of the same source, and laid into each package's tree.
docs=
generate_docs() {
  [[ -n $docs ]] && return 0
  docs=$work/docs
  mkdir -p "$docs/man"
  local hwkit=(cargo run --release -q -p hwkit --)
  "${hwkit[@]}" completions bash >"$docs/hwkit.bash" &&
    "${hwkit[@]}" completions zsh >"$docs/_hwkit" &&
    "${hwkit[@]}" completions fish >"$docs/hwkit.fish" &&
    "${hwkit[@]}" man --out-dir "$docs/man" 2>/dev/null ||
    die "the host's hwkit could not generate the completions and man pages (see above)"
  # gzip -n: no name or time stamp in the archive, so the same source packs the same bytes.
  gzip -9n "$docs/man/"*.1
}
lay_out_completions_and_man() {
  local tree=$1
  generate_docs
  install -D -m 0644 "$docs/hwkit.bash" "$tree/usr/share/bash-completion/completions/hwkit"
  install -D -m 0644 "$docs/_hwkit" "$tree/usr/share/zsh/vendor-completions/_hwkit"
  install -D -m 0644 "$docs/hwkit.fish" "$tree/usr/share/fish/vendor_completions.d/hwkit.fish"
  install -d "$tree/usr/share/man/man1"
  install -m 0644 "$docs/man/"*.1.gz "$tree/usr/share/man/man1/"
}

mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022

# Checks binary $2 of architecture $1 is there, built for it and for Debian 12's glibc; sets
# `bin` to its path.
checked_binary() {
  bin=$(binary_of "$1" "$2")
  if [[ ! -f $bin ]]; then
    if ((build)); then
      die "the $1 build wrote no binary at $bin"
    else
      die "no $1 binary at $bin: build it (drop --no-build) or run the build that makes it"
    fi
  fi
  elf_error=$(hwkit_check_elf "$bin" "$1" 2>&1) || die "$elf_error"
  check_glibc "$bin" "$1"
}

# The md5sums of tree $1's files, DEBIAN/control's and DEBIAN/md5sums' modes set, and the
# archive built as $2.
pack() {
  local tree=$1 deb=$2
  (cd "$tree" && find usr -type f -printf '%P\n' | LC_ALL=C sort | sed 's|^|usr/|' | xargs md5sum) \
    >"$tree/DEBIAN/md5sums"
  chmod 0644 "$tree/DEBIAN/control" "$tree/DEBIAN/md5sums"
  # --root-owner-group: files owned by root in the archive without fakeroot.
  dpkg-deb --root-owner-group -Zxz --build "$tree" "$deb" >/dev/null
}

# The changelog of package $1, into tree $2.
changelog() {
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from hwkit commit %s.\n\n -- %s  %s\n' \
    "$1" "$deb_version" "$commit" "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")" |
    gzip -9n >"$2/usr/share/doc/$1/changelog.gz"
}

# The hwkitd package of architecture $1: the daemon and hwkitd/data's files where Debian's
# dbus, systemd and sysusers look for them.
# The control fields both packages share, in this order: control_head PACKAGE DEPENDS SIZE.
control_head() {
  echo "Package: $1"
  echo "Version: $deb_version"
  echo "Architecture: $arch"
  echo "Maintainer: $maintainer"
  echo "Installed-Size: $3"
  echo "Depends: $2"
  # Debian's section for software that talks to electronics (boards, pins, buses).
  echo "Section: electronics"
  echo "Priority: optional"
  [[ -n $homepage ]] && echo "Homepage: $homepage"
  return 0
}

package_hwkitd() {
  local arch=$1 tree=$work/$1-hwkitd data=hwkitd/data
  checked_binary "$arch" hwkitd
  mkdir -p "$tree/DEBIAN" "$tree/usr/sbin" "$tree/usr/share/doc/hwkitd"
  # A system daemon, run by systemd or D-Bus activation, not by users: sbin.
  "$gnu-strip" --strip-all -o "$tree/usr/sbin/hwkitd" "$bin"
  chmod 0755 "$tree/usr/sbin/hwkitd"
  install -D -m 0644 "$data/io.gpiod1.conf" "$tree/usr/share/dbus-1/system.d/io.gpiod1.conf"
  install -D -m 0644 "$data/io.gpiod1.service" \
    "$tree/usr/share/dbus-1/system-services/io.gpiod1.service"
  install -D -m 0644 "$data/io.hwkit1.service" \
    "$tree/usr/share/dbus-1/system-services/io.hwkit1.service"
  install -D -m 0644 "$data/hwkitd.service" "$tree/usr/lib/systemd/system/hwkitd.service"
  install -D -m 0644 "$data/hwkitd.sysusers" "$tree/usr/lib/sysusers.d/hwkitd.conf"
  install -m 0644 hwkitd/README.md packaging/deb/copyright "$tree/usr/share/doc/hwkitd/"
  changelog hwkitd "$tree"
  install -m 0755 packaging/deb/hwkitd/postinst packaging/deb/hwkitd/prerm \
    packaging/deb/hwkitd/postrm "$tree/DEBIAN/"
  local depends installed_size
  depends="$(depends_of "$tree/usr/sbin/hwkitd"), hwkit (= $deb_version), default-dbus-system-bus | dbus-system-bus"
  installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$tree" | cut -f1)
  {
    control_head hwkitd "$depends" "$installed_size"
    echo "Description: GPIO daemon on D-Bus: lines that keep their state after the client exits"
    echo " hwkitd holds GPIO lines for clients over the system bus, speaking libgpiod's"
    echo " io.gpiod1 interface (gpio-manager's), so gpiocli, gdbus and programs written"
    echo " for gpio-manager use it unchanged; a line stays requested, and driven, after"
    echo " the program that asked for it has exited. A request belongs to the user that"
    echo " made it. hwkit's own io.hwkit1 interface requests lines by board pin (pin11,"
    echo " GPIO17)."
    echo " ."
    echo " Root and members of group gpio may request lines; anyone may read them. The"
    echo " daemon runs as the system user hwkitd, sandboxed by systemd, and is started"
    echo " by the first call (D-Bus activation); 'systemctl enable hwkitd' starts it at"
    echo " boot."
  } >"$tree/DEBIAN/control"
  deb=$out/hwkitd_${deb_version}_$arch.deb
  pack "$tree" "$deb"
  printf '%s\t%s KiB\tDepends: %s\n' "$deb" "$(($(stat -c %s "$deb") / 1024))" "$depends"
}

for arch in "${wanted[@]}"; do
  hwkit_arch_info "$arch"
  checked_binary "$arch" hwkit

  tree=$work/$arch
  mkdir -p "$tree/DEBIAN" "$tree/usr/bin" "$tree/usr/lib/udev/rules.d" "$tree/usr/share/doc/hwkit"
  # Fully stripped, as Debian's packages are: the symbol table is a fifth of the binary.
  "$gnu-strip" --strip-all -o "$tree/usr/bin/hwkit" "$bin"
  chmod 0755 "$tree/usr/bin/hwkit"
  # Under /usr/lib, not /etc: the rule is the package's, updated with it and never a conffile
  # that stops an unattended upgrade with a question; an administrator overrides it with a
  # file of the same name in /etc/udev/rules.d.
  install -m 0644 packaging/deb/60-hwkit-gpio.rules "$tree/usr/lib/udev/rules.d/"
  install -m 0644 README.md packaging/deb/copyright "$tree/usr/share/doc/hwkit/"
  changelog hwkit "$tree"
  lay_out_completions_and_man "$tree"

  install -m 0755 packaging/deb/postinst packaging/deb/postrm "$tree/DEBIAN/"
  depends=$(depends_of "$tree/usr/bin/hwkit")
  installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$tree" | cut -f1)
  {
    control_head hwkit "$depends" "$installed_size"
    echo "Description: GPIO by header pin and C calls from the shell, for embedded Linux"
    echo " hwkit drives GPIO lines through the kernel's character device (uAPI v2 and v1)"
    echo " or the legacy sysfs interface, by header pin on Raspberry Pi boards and their"
    echo " cousins (hwkit gpio, hwkit pinout), and calls C functions of any shared library"
    echo " from the shell with MicroPython's ffi type codes (hwkit ffi)."
    echo " ."
    echo " The package installs a udev rule that gives the GPIO character devices and"
    echo " sysfs files to group gpio, and creates that group if the system has none:"
    echo " add a user to it to use GPIO without root."
  } >"$tree/DEBIAN/control"
  deb=$out/hwkit_${deb_version}_$arch.deb
  pack "$tree" "$deb"
  printf '%s\t%s KiB\tDepends: %s\n' "$deb" "$(($(stat -c %s "$deb") / 1024))" "$depends"

  package_hwkitd "$arch"
done
