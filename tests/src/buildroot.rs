//! The build root: a Debian sid chroot that cross-builds hwkit for ARM and runs its tests
//! under QEMU's user-mode emulation.
//!
//! rustup cannot fetch other targets' standard libraries here, but Debian packages rustc
//! with the standard library of each architecture (`libstd-rust-dev:arm64`, `:armhf`);
//! sid's rustc is new enough for the workspace's MSRV (trixie's is not). So the bed keeps a
//! `debootstrap --variant=minbase sid` root with rustc, cargo, those libraries, the cross
//! C compilers and `qemu-user`, and runs cargo inside it in a private mount namespace with
//! the workspace bind-mounted at its own path: artifact paths are the same inside and out.
//!
//! ```text
//! $HWKIT_BUILDROOT (default /var/cache/hwkit-buildroot)/
//!   lock            flock: exclusive while the root is made or updated
//!   sid/            the chroot; sid/.hwkit-buildroot names the package set it holds
//!   .work-sid/      a root being made (removed on success or on the next try)
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::arch::Arch;
use crate::cache::CacheLock;
use crate::error::{io_err, Error, Result};
use crate::host;
use crate::initramfs::sh_quote;

/// Environment variable that overrides the build root's directory.
pub const BUILDROOT_ENV: &str = "HWKIT_BUILDROOT";
/// Directory used when [`BUILDROOT_ENV`] is not set.
pub const DEFAULT_BUILDROOT: &str = "/var/cache/hwkit-buildroot";
/// The Debian suite of the root: the only one whose rustc meets the workspace's MSRV.
pub const SUITE: &str = "sid";
/// The oldest Debian release hwkit's ARM binaries must run on (Raspberry Pi OS bookworm):
/// they are linked against its glibc (2.36), not sid's, so that the symbol versions they
/// need exist on the boards.
pub const BASELINE_SUITE: &str = "bookworm";
/// Where, inside the root, the baseline glibc of each architecture is unpacked
/// (`<dir>/<debian arch>/usr/<gnu triplet>/{lib,include}`).
pub const BASELINE_SYSROOTS: &str = "/opt/glibc-bookworm";
/// Where cross builds put their artifacts, under the workspace's `target/`: apart from the
/// host's own builds, whose rustc differs (sharing would rebuild both every time).
pub const TARGET_SUBDIR: &str = "target/cross";

/// The foreign architectures the root builds for.
const FOREIGN: [Arch; 2] = [Arch::Aarch64, Arch::Armv7];

/// Packages of the root: the toolchain, then per architecture its standard library, C
/// cross compiler and libc (the C test libraries and libffi's bundled build need them).
/// `make` runs libffi-sys's `configure && make`; `qemu-user` runs the tests.
fn packages() -> Vec<String> {
    let mut p: Vec<String> = [
        "rustc",
        "cargo",
        "make",
        "qemu-user",
        "ca-certificates",
        "file",
        // hwkit's completion scripts and manual pages are checked by their shells and groff.
        "zsh",
        "fish",
        "groff-base",
    ]
    .map(String::from)
    .to_vec();
    for a in FOREIGN {
        let (d, g) = (a.debian(), a.gnu());
        p.push(format!("libstd-rust-dev:{d}"));
        p.push(format!("gcc-{g}"));
        p.push(format!("libc6-dev-{d}-cross"));
        p.push(format!("binutils-{g}"));
    }
    p
}

/// Packages from bookworm, installed once the sid ones are in (asked for together, apt's
/// solver takes the release of one for all and finds nothing installable): `libgpiod2`
/// (1.x) of each architecture, what hw's libgpiod backend opens at run time; sid has only 2.x.
fn bookworm_packages() -> Vec<String> {
    FOREIGN
        .iter()
        .map(|a| format!("libgpiod2:{}/bookworm", a.debian()))
        .collect()
}

/// What the stamp file holds: the package set, so a changed list remakes the root.
fn stamp_text() -> String {
    format!(
        "suite {SUITE}\npackages {}\nbaseline {BASELINE_SUITE}\n",
        packages().join(" ")
    ) + &format!("bookworm {}\n", bookworm_packages().join(" "))
}

/// The build root's directory: `$HWKIT_BUILDROOT`, or `/var/cache/hwkit-buildroot`.
pub fn buildroot_dir() -> PathBuf {
    match std::env::var_os(BUILDROOT_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_BUILDROOT),
    }
}

/// A ready build root.
#[derive(Clone, Debug)]
pub struct BuildRoot {
    root: PathBuf,
}

impl BuildRoot {
    /// The build root, made first if it is missing or holds another package set (needs
    /// root and Debian's mirror; about 3 minutes and 3 GB once).
    pub fn ensure() -> Result<BuildRoot> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err(Error::Usage(
                "cross builds run cargo in a chroot inside a private mount namespace, which \
                 needs root: run this as root (e.g. with sudo)"
                    .into(),
            ));
        }
        let dir = buildroot_dir();
        let root = dir.join(SUITE);
        let ready = |root: &Path| {
            fs::read_to_string(root.join(".hwkit-buildroot")).is_ok_and(|s| s == stamp_text())
        };
        if ready(&root) {
            return Ok(BuildRoot { root });
        }
        let _lock = CacheLock::exclusive(&dir, "lock", "another run is making the build root")?;
        if !ready(&root) {
            make_root(&dir, &root)?;
        }
        Ok(BuildRoot { root })
    }

    /// The chroot's directory on the host.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Host directories holding `arch`'s shared libraries, in the order the target's
    /// dynamic loader would search them: the cross libc first, then multiarch packages.
    pub fn lib_dirs(&self, arch: Arch) -> Vec<PathBuf> {
        let g = arch.gnu();
        vec![
            self.root.join(format!("usr/{g}/lib")),
            self.root.join(format!("usr/lib/{g}")),
            self.root.join(format!("lib/{g}")),
        ]
    }

    /// `qemu-user`'s emulator for `arch`, as a host path (statically linked).
    pub fn qemu_user(&self, arch: Arch) -> PathBuf {
        self.root.join("usr/bin").join(arch.qemu_user())
    }

    /// A command that runs `program` inside the root with `binds` (host directories)
    /// mounted at their own paths, in a private mount namespace that ends with it.
    /// `/proc` and `/dev` are mounted too; the environment is the caller's, with `PATH`
    /// and `HOME` set for the root. The working directory is `/` unless the caller sets one
    /// (which must exist inside the root: a bound directory, or one of the root's own).
    pub fn command(&self, binds: &[&Path], program: &str) -> Command {
        let mut script = String::from("set -eu\nr=$1; shift\n");
        script.push_str("mount -t proc proc \"$r/proc\"\nmount --rbind /dev \"$r/dev\"\n");
        for b in binds {
            let q = sh_quote(&b.to_string_lossy());
            script.push_str(&format!("mkdir -p \"$r\"{q}\nmount --bind {q} \"$r\"{q}\n"));
        }
        // chroot leaves the process in `/`: go back to the directory the caller chose.
        script.push_str("exec chroot \"$r\" /usr/bin/env -C \"$PWD\" \"$@\"\n");
        let mut cmd = Command::new("unshare");
        // The root's own `/` unless the caller picks a (bound) directory: the caller's
        // directory need not exist inside the root.
        cmd.current_dir("/");
        cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(script)
            .arg("sh")
            .arg(&self.root)
            .arg(program)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", "/root")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .env_remove("CARGO")
            .env_remove("RUSTC_WRAPPER");
        cmd
    }

    /// A command running the root's `cargo` in `workspace` for `arch`: the workspace and
    /// the host's `$CARGO_HOME` are mounted in, `CARGO_BUILD_TARGET` selects the target,
    /// artifacts go to `<workspace>/target/cross/<triple>/...`, and the linker, C compiler
    /// and test runner are the architecture's. The caller adds cargo's arguments.
    pub fn cargo(&self, workspace: &Path, arch: Arch) -> Command {
        self.cargo_with(workspace, arch, &[])
    }

    /// [`cargo`](Self::cargo) with more host directories mounted at their own paths, such
    /// as the hwkit tree a project outside it takes `hw` from by path.
    pub fn cargo_with(&self, workspace: &Path, arch: Arch, more: &[&Path]) -> Command {
        // Sharing $CARGO_HOME shares downloaded crates, git checkouts and cargo's lock on
        // them with the host; its bin/ (the host's rustup proxies) stays off the root's PATH.
        let home = cargo_home();
        let _ = fs::create_dir_all(&home);
        let mut binds = vec![workspace, home.as_path()];
        binds.extend(more.iter().copied().filter(|m| !m.starts_with(workspace)));
        let mut cmd = self.command(&binds, "cargo");
        cmd.current_dir(workspace)
            .env("CARGO_HOME", &home)
            .env("CARGO_BUILD_TARGET", arch.triple())
            .env("CARGO_TARGET_DIR", workspace.join(TARGET_SUBDIR))
            .env("CARGO_TERM_COLOR", "never");
        // Line tables keep backtraces' file:line but build and link ARM test binaries much
        // faster and smaller (the Pi 3 guest has 1 GiB for its whole initramfs).
        if std::env::var_os("CARGO_PROFILE_DEV_DEBUG").is_none() {
            cmd.env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only");
        }
        let t = arch.triple().replace('-', "_");
        let gcc = format!("{}-gcc", arch.gnu());
        let sysroot = Path::new(BASELINE_SYSROOTS).join(arch.debian());
        let baseline = sysroot.join("usr").join(arch.gnu());
        if arch != Arch::host() {
            cmd.env(format!("CARGO_TARGET_{}_LINKER", t.to_uppercase()), &gcc)
                .env(format!("CC_{t}"), &gcc)
                // Headers and libc of the baseline release: a binary then asks only for symbol
                // versions bookworm has, and std's newer calls (pidfd_spawnp) stay weak and
                // unversioned, as with rustup's std. Searched before the compiler's own.
                .env(
                    format!("CFLAGS_{t}"),
                    format!("-isystem {}/include", baseline.display()),
                )
                .env(
                    format!("CARGO_TARGET_{}_RUSTFLAGS", t.to_uppercase()),
                    format!(
                        "-C link-arg=-L{}/lib -C link-arg=-Wl,--sysroot={}",
                        baseline.display(),
                        sysroot.display()
                    ),
                )
                .env(format!("AR_{t}"), format!("{}-ar", arch.gnu()))
                .env(
                    format!("CARGO_TARGET_{}_RUNNER", t.to_uppercase()),
                    arch.qemu_user(),
                );
        }
        cmd
    }

    /// Registers the root's `qemu-user` emulators with the kernel's `binfmt_misc` (fixed
    /// binary, so it works inside the chroot too), so that ARM programs a test starts,
    /// such as `hwkit` or the test executable itself, run as they would on a board.
    /// Idempotent; needs root.
    pub fn register_binfmt(&self) -> Result<()> {
        let dir = Path::new("/proc/sys/fs/binfmt_misc");
        if !dir.join("register").exists() {
            host::run(Command::new("mount").args([
                "-t",
                "binfmt_misc",
                "binfmt_misc",
                "/proc/sys/fs/binfmt_misc",
            ]))?;
        }
        for arch in FOREIGN {
            let name = format!("hwkit-{}", arch.qemu_user());
            if dir.join(&name).exists() {
                continue;
            }
            let rule = binfmt_rule(&name, arch, &self.qemu_user(arch));
            fs::write(dir.join("register"), rule)
                .map_err(io_err("cannot register a binfmt_misc handler in", dir))?;
        }
        Ok(())
    }
}

/// The `binfmt_misc` registration line for `arch`'s ELF executables (static and dynamic:
/// `e_type` 2 and 3 both match the mask).
pub fn binfmt_rule(name: &str, arch: Arch, interpreter: &Path) -> String {
    let class: u8 = if arch == Arch::Armv7 { 1 } else { 2 };
    let m = arch.elf_machine().to_le_bytes();
    let magic = [
        0x7f, b'E', b'L', b'F', class, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, m[0], m[1],
    ];
    let mask = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xfe, 0xff, 0xff, 0xff,
    ];
    let hex = |b: &[u8]| b.iter().map(|x| format!("\\x{x:02x}")).collect::<String>();
    format!(
        ":{name}:M::{}:{}:{}:F",
        hex(&magic),
        hex(&mask),
        interpreter.display()
    )
}

/// The host's `$CARGO_HOME` (default `~/.cargo`).
fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"))
}

/// The mirror the host's apt uses for Debian (sid lives there too).
pub fn debian_mirror() -> Result<String> {
    let mut texts: Vec<String> = fs::read_to_string("/etc/apt/sources.list")
        .into_iter()
        .collect();
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        paths.sort();
        texts.extend(paths.iter().filter_map(|p| fs::read_to_string(p).ok()));
    }
    texts.iter().find_map(|t| mirror_in(t)).ok_or_else(|| {
        Error::Usage(
            "no Debian mirror in the host's apt sources (/etc/apt/sources.list, \
                 /etc/apt/sources.list.d): add the Debian archive there first"
                .into(),
        )
    })
}

/// The first Debian archive URL in an apt sources text, one-line or deb822 format
/// (security and ports archives are skipped: they do not carry sid).
pub fn mirror_in(text: &str) -> Option<String> {
    let is_debian = |u: &str| {
        (u.starts_with("http://") || u.starts_with("https://"))
            && u.trim_end_matches('/').ends_with("/debian")
    };
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let url = match words.as_slice() {
            // `deb [opt=v opt=v] URL suite ...`: the options may span several words.
            ["deb", rest @ ..] => {
                let skip = match rest.first() {
                    Some(w) if w.starts_with('[') => rest
                        .iter()
                        .position(|w| w.ends_with(']'))
                        .map_or(rest.len(), |i| i + 1),
                    _ => 0,
                };
                rest.get(skip).copied()
            }
            ["URIs:", urls @ ..] => urls.iter().find(|u| is_debian(u)).copied(),
            _ => None,
        };
        if let Some(u) = url.filter(|u| is_debian(u)) {
            return Some(u.trim_end_matches('/').to_string());
        }
    }
    None
}

/// Makes the root if it is missing (debootstrap in a scratch directory, moved into place
/// when complete), then installs the package set into it: a changed set is an update of
/// the root, not a new one.
fn make_root(dir: &Path, root: &Path) -> Result<()> {
    let mirror = debian_mirror()?;
    if !root.join("usr/bin/apt-get").exists() {
        bootstrap(dir, root, &mirror)?;
    }
    // sid has only libgpiod 2.x; hw's libgpiod backend speaks 1.x, which boards run
    // (Raspberry Pi OS and Debian bookworm): that one package comes from bookworm, pinned
    // below sid so nothing else does.
    fs::write(
        root.join("etc/apt/sources.list.d/bookworm.list"),
        format!("deb {mirror} bookworm main\n"),
    )
    .map_err(io_err("cannot write the apt sources of", root))?;
    fs::write(
        root.join("etc/apt/preferences.d/bookworm"),
        "Package: *\nPin: release n=bookworm\nPin-Priority: 100\n",
    )
    .map_err(io_err("cannot write the apt preferences of", root))?;
    let foreign: Vec<String> = FOREIGN
        .iter()
        .map(|a| format!("dpkg --add-architecture {}", a.debian()))
        .collect();
    let install = "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends";
    let script = format!(
        "set -eu\n{}\napt-get update -q\n{install} {}\n{install} {}\n\
         update-ca-certificates\napt-get clean\n",
        foreign.join("\n"),
        packages().join(" "),
        bookworm_packages().join(" ")
    );
    let r = BuildRoot {
        root: root.to_path_buf(),
    };
    host::run(r.command(&[], "sh").args(["-c", &script]))?;
    host::run(r.command(&[], "sh").args(["-c", &baseline_script()]))?;
    fs::write(root.join(".hwkit-buildroot"), stamp_text()).map_err(io_err("cannot write", root))
}

/// A script, run in the root, that unpacks the baseline release's cross libc and kernel
/// headers of each foreign architecture under [`BASELINE_SYSROOTS`] (unpacked, not
/// installed: sid's cross compilers need sid's).
fn baseline_script() -> String {
    let mut s = format!(
        "set -eu\nrm -rf {BASELINE_SYSROOTS}\nmkdir -p {BASELINE_SYSROOTS}/debs\ncd {BASELINE_SYSROOTS}/debs\n"
    );
    for a in FOREIGN {
        let d = a.debian();
        s.push_str(&format!(
            "apt-get download -q libc6-{d}-cross:all/{BASELINE_SUITE} \
             libc6-dev-{d}-cross:all/{BASELINE_SUITE} linux-libc-dev-{d}-cross:all/{BASELINE_SUITE}\n\
             for deb in *.deb; do dpkg-deb -x \"$deb\" {BASELINE_SYSROOTS}/{d}; done\nrm -f *.deb\n"
        ));
    }
    s.push_str(&format!("rmdir {BASELINE_SYSROOTS}/debs\n"));
    s
}

/// `debootstrap --variant=minbase sid` into a scratch directory, moved to `root` when done.
fn bootstrap(dir: &Path, root: &Path, mirror: &str) -> Result<()> {
    host::ensure_packages(&[("debootstrap", "/usr/sbin/debootstrap")])?;
    let work = dir.join(format!(".work-{SUITE}"));
    if work.exists() {
        fs::remove_dir_all(&work).map_err(io_err("cannot remove", &work))?;
    }
    eprintln!(
        "testbed: making the ARM build root {} (debootstrap {SUITE} from {mirror}; once, about 4 minutes)",
        root.display()
    );
    host::run(
        Command::new("debootstrap")
            .args(["--variant=minbase", SUITE])
            .arg(&work)
            .arg(mirror),
    )?;
    // The mirror's Release files may be past their Valid-Until date, and its TLS may be
    // signed by a local certificate authority: the root needs the host's settings for both.
    copy_dir_files(
        Path::new("/etc/apt/apt.conf.d"),
        &work.join("etc/apt/apt.conf.d"),
    )?;
    copy_dir_files(
        Path::new("/usr/local/share/ca-certificates"),
        &work.join("usr/local/share/ca-certificates"),
    )?;
    if root.exists() {
        fs::remove_dir_all(root).map_err(io_err("cannot remove", root))?;
    }
    fs::rename(&work, root).map_err(io_err("cannot move the build root to", root))
}

/// Copies the regular files of `from` into `to` (which is created).
fn copy_dir_files(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(io_err("cannot create", to))?;
    let Ok(entries) = fs::read_dir(from) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_file() {
            fs::copy(&p, to.join(e.file_name())).map_err(io_err("cannot copy", &p))?;
        }
    }
    Ok(())
}

/// Builds the release `hwkit` binary for `arch` (in the build root for a foreign one, with
/// the host's cargo for the host's) and returns its path.
pub fn build_hwkit(workspace: &Path, arch: Arch) -> Result<PathBuf> {
    let mut built = build_release(workspace, arch, &["hwkit"])?;
    Ok(built.remove(0))
}

/// What the packages ship: `hwkit`, and the daemon `hwkitd`.
pub const PACKAGED_BINARIES: [&str; 2] = ["hwkit", "hwkitd"];

/// Builds release binaries for `arch` (in the build root for a foreign one, with the host's
/// cargo for the host's), each named as its package is (`hwkit`, `hwkitd`), and returns their
/// paths in that order.
///
/// One cargo run per binary: built together, cargo would unify the features of the
/// dependencies they share (zbus, tokio), and `hwkit` would differ from the `hwkit` that
/// `cargo build -p hwkit` (`hwkit vm`, the packages' man pages) makes, each build replacing
/// the other's.
pub fn build_release(workspace: &Path, arch: Arch, binaries: &[&str]) -> Result<Vec<PathBuf>> {
    let root = if arch == Arch::host() {
        None
    } else {
        Some(BuildRoot::ensure()?)
    };
    let dir = match root {
        None => workspace.join("target/release"),
        Some(_) => workspace
            .join(TARGET_SUBDIR)
            .join(arch.triple())
            .join("release"),
    };
    binaries
        .iter()
        .map(|b| {
            let mut cmd = match &root {
                None => {
                    let mut c =
                        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
                    c.current_dir(workspace);
                    c
                }
                Some(r) => r.cargo(workspace, arch),
            };
            eprintln!("testbed: building {b} for {arch}");
            host::run(cmd.args(["build", "--release", "-p", b, "--bin", b]))?;
            let out = dir.join(b);
            if out.is_file() {
                Ok(out)
            } else {
                Err(Error::Build(format!(
                    "cargo built {b} for {arch} but {} is not there",
                    out.display()
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_from_deb822_and_one_line_sources() {
        let deb822 = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n\
                      Types: deb\nURIs: http://mirror.example/debian-security\n";
        assert_eq!(
            mirror_in(deb822).as_deref(),
            Some("http://mirror.example/debian")
        );
        let classic =
            "# comment\ndeb [arch=amd64 signed-by=/k] http://m.example/debian/ bookworm main\n";
        assert_eq!(
            mirror_in(classic).as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(
            mirror_in("deb http://m.example/debian-security bookworm-security main"),
            None
        );
        assert_eq!(mirror_in("URIs: https://other.example/apt\n"), None);
    }

    #[test]
    fn binfmt_rule_matches_the_arch_elf_header() {
        let r = binfmt_rule(
            "hwkit-qemu-aarch64",
            Arch::Aarch64,
            Path::new("/r/qemu-aarch64"),
        );
        assert!(
            r.starts_with(":hwkit-qemu-aarch64:M::\\x7f\\x45\\x4c\\x46\\x02"),
            "{r}"
        );
        assert!(r.contains("\\x02\\x00\\xb7\\x00:"), "{r}");
        assert!(r.ends_with(":/r/qemu-aarch64:F"), "{r}");
        let r = binfmt_rule("x", Arch::Armv7, Path::new("/q"));
        assert!(r.contains("\\x46\\x01\\x01"), "{r}");
        assert!(r.contains("\\x02\\x00\\x28\\x00:"), "{r}");
    }

    #[test]
    fn every_foreign_arch_gets_its_std_compiler_and_libc() {
        let p = packages();
        for want in [
            "libstd-rust-dev:arm64",
            "libstd-rust-dev:armhf",
            "gcc-aarch64-linux-gnu",
            "gcc-arm-linux-gnueabihf",
            "libc6-dev-arm64-cross",
            "libc6-dev-armhf-cross",
        ] {
            assert!(p.iter().any(|x| x == want), "{want} missing from {p:?}");
        }
    }
}
