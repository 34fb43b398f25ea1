//! Another Debian release's build of a package's programs, packed into the guest with that
//! release's own shared libraries and dynamic loader, so a test can run them beside the
//! workspace's binaries whatever glibc the guest's userland has (hwkit's `gpio` commands
//! against Debian 13's `gpiod` 2.2 tools, which need glibc 2.38, in a Debian 12 guest).
//!
//! A package asks for them in its `Cargo.toml`, as `SUITE/PACKAGE`:
//!
//! ```toml
//! [package.metadata.hwkit-testbed]
//! debian-bins = ["trixie/gpiod"]
//! ```
//!
//! The bed downloads the package and everything it depends on for the guest's architecture
//! from that suite (the private apt configuration of [`crate::debian_libs`], nothing
//! installed), keeps the unpacked tree in
//! `<cache>/debian-bins/<suite>-<arch>/<package>/<version>/`, and packs each program of its
//! `/usr/bin` at `<GUEST_DIR>/<suite>/<package>/bin/` and the libraries they need, the loader
//! among them, at `.../lib/`. Tests run a program with [`command`], which starts it through
//! that loader with that library directory: the guest's own libraries are never mixed in.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::arch::Arch;
use crate::cache::{CacheLock, PREPARE_LOCK};
use crate::debian_libs::GUEST_DIR;
use crate::error::{io_err, Error, Result};
use crate::foreign_apt::ForeignApt;
use crate::initramfs::{needed_closure, Initramfs};
use crate::package_cache::{self, Choice, DONE};

/// One `debian-bins` entry: the programs of a package of a suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebianBins {
    /// The suite, e.g. `trixie`.
    pub suite: String,
    /// The binary package, e.g. `gpiod`.
    pub package: String,
}

impl std::str::FromStr for DebianBins {
    type Err = Error;

    fn from_str(s: &str) -> Result<DebianBins> {
        let ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
        };
        match s.split('/').collect::<Vec<_>>()[..] {
            [suite, package] if ok(suite) && ok(package) => Ok(DebianBins {
                suite: suite.into(),
                package: package.into(),
            }),
            _ => Err(Error::Usage(format!(
                "[package.metadata.hwkit-testbed] debian-bins has `{s}`; expected \
                 SUITE/PACKAGE, e.g. `trixie/gpiod`"
            ))),
        }
    }
}

/// Where the guest holds the package's programs and libraries.
pub fn guest_dir(suite: &str, package: &str) -> PathBuf {
    Path::new(GUEST_DIR).join(suite).join(package)
}

/// A command running program `program` of `package` of Debian `suite` in the guest, through
/// that release's dynamic loader and libraries, with `argv[0]` the program's name (so its
/// messages name it as on a system that installed it).
pub fn command(suite: &str, package: &str, program: &str) -> Command {
    let dir = guest_dir(suite, package);
    let lib = dir.join("lib");
    let loader = fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("ld-linux"))
        })
        .unwrap_or_else(|| lib.join("ld-linux-missing"));
    let mut cmd = Command::new(loader);
    cmd.arg("--library-path")
        .arg(&lib)
        .arg("--argv0")
        .arg(program)
        .arg(dir.join("bin").join(program));
    cmd
}

/// Fetches (or finds cached) and packs every entry of `bins` for the guest's architecture.
pub fn pack(ird: &mut Initramfs, bins: &[DebianBins], cache: &Path) -> Result<()> {
    for b in bins {
        let root = fetch(cache, b, ird.arch())?;
        let gnu = ird.arch().gnu();
        let dirs = [
            root.join("usr/lib").join(gnu),
            root.join("lib").join(gnu),
            root.join("usr/lib"),
        ];
        let guest = guest_dir(&b.suite, &b.package);
        let bindir = root.join("usr/bin");
        let mut libs: Vec<String> = Vec::new();
        let mut programs = 0;
        for entry in fs::read_dir(&bindir).map_err(io_err("cannot read", &bindir))? {
            let path = entry.map_err(io_err("cannot read", &bindir))?.path();
            if !path.is_file() || crate::initramfs::elf_machine(&path).is_none() {
                continue;
            }
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            ird.file(&guest.join("bin").join(&*name).to_string_lossy(), &path)?;
            programs += 1;
            for (soname, lib) in needed_closure(&path, &dirs)? {
                if !libs.contains(&soname) {
                    ird.file(&guest.join("lib").join(&soname).to_string_lossy(), &lib)?;
                    libs.push(soname);
                }
            }
        }
        if programs == 0 {
            return Err(Error::Usage(format!(
                "debian-bins: {} of Debian {} has no program in /usr/bin",
                b.package, b.suite
            )));
        }
    }
    Ok(())
}

/// The unpacked tree of `b` and its dependencies for `arch`, from the cache or downloaded.
pub fn fetch(cache: &Path, b: &DebianBins, arch: Arch) -> Result<PathBuf> {
    // The same lock as kernel preparation: the private lists may be shared with it.
    let _lock = CacheLock::exclusive(cache, PREPARE_LOCK, "another run is preparing the cache")?;
    let apt = ForeignApt::new(cache, &b.suite, arch);
    let base = package_cache::base(cache, "debian-bins", &b.suite, arch, &b.package);
    let version = match package_cache::choose(&apt, &base, &b.suite, &b.package, arch)? {
        Choice::Current(v) => v,
        Choice::Cached(dir) => return Ok(dir.join("root")),
    };
    let dir = base.join(&version);
    if !dir.join(DONE).exists() {
        eprintln!(
            "testbed: fetching {} {version} ({}) and its dependencies from Debian {}",
            b.package,
            arch.debian(),
            b.suite
        );
        let _ = fs::remove_dir_all(&dir);
        let debs = dir.join("debs");
        let result = (|| {
            let files = apt.download_with_dependencies(std::slice::from_ref(&b.package), &debs)?;
            for deb in &files {
                crate::kernel::unpack(deb, &dir.join("root"))?;
            }
            fs::write(dir.join(DONE), &version).map_err(io_err("cannot write", &dir))
        })();
        let _ = fs::remove_dir_all(&debs);
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        package_cache::prune(&base, &version);
    }
    Ok(dir.join("root"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_suite_and_package() {
        let b: DebianBins = "trixie/gpiod".parse().unwrap();
        assert_eq!(
            b,
            DebianBins {
                suite: "trixie".into(),
                package: "gpiod".into()
            }
        );
        for bad in [
            "trixie",
            "trixie/",
            "/gpiod",
            "trixie/gpiod/gpioget",
            "Trixie/gpiod",
        ] {
            let e = bad.parse::<DebianBins>().unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
            assert!(e.contains("expected SUITE/PACKAGE"), "{e}");
        }
    }

    #[test]
    fn programs_run_through_their_own_loader() {
        assert_eq!(
            guest_dir("trixie", "gpiod"),
            Path::new("/opt/hwkit-testbed/debian/trixie/gpiod")
        );
        let cmd = command("trixie", "gpiod", "gpioget");
        let args = crate::host::args_of(&cmd);
        assert_eq!(
            args,
            [
                "--library-path",
                "/opt/hwkit-testbed/debian/trixie/gpiod/lib",
                "--argv0",
                "gpioget",
                "/opt/hwkit-testbed/debian/trixie/gpiod/bin/gpioget"
            ]
        );
    }
}
