//! Other Debian releases' builds of a shared library, packed into the guest beside the
//! host's, so a test can load each distribution's own binary by path (hw's libgpiod backend
//! against Debian 13's and sid's `libgpiod3` next to Debian 12's `libgpiod2`).
//!
//! A package asks for them in its `Cargo.toml`, as `SUITE/PACKAGE/SONAME`:
//!
//! ```toml
//! [package.metadata.hwkit-testbed]
//! debian-libs = ["trixie/libgpiod3/libgpiod.so.3", "sid/libgpiod3/libgpiod.so.3"]
//! ```
//!
//! The bed downloads the guest architecture's package from that suite with a private apt
//! configuration ([`ForeignApt`]: the host's mirror, nothing installed), keeps its shared
//! objects in `<cache>/debian-libs/<suite>-<arch>/<package>/<version>/`, and packs the one
//! named at [`guest_path`]`(suite, soname)`, with the libraries it needs from the guest's
//! system (a package may hold others that need it, e.g. `libgpiod3`'s C++ binding). The lists are refreshed when older than a day; without
//! the mirror the newest cached version is used with a warning.

use std::fs;
use std::path::{Path, PathBuf};

use crate::arch::Arch;
use crate::cache::{CacheLock, PREPARE_LOCK};
use crate::error::{io_err, Error, Result};
use crate::foreign_apt::ForeignApt;
use crate::initramfs::Initramfs;
use crate::package_cache::{self, Choice, DONE};

/// Where the guest holds the libraries: `<GUEST_DIR>/<suite>/<file>`.
pub const GUEST_DIR: &str = "/opt/hwkit-testbed/debian";

/// Where the guest finds file `file` (e.g. `libgpiod.so.3`) of a package of Debian `suite`.
pub fn guest_path(suite: &str, file: &str) -> PathBuf {
    Path::new(GUEST_DIR).join(suite).join(file)
}

/// One `debian-libs` entry: a shared library of a package of a suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebianLib {
    /// The suite, e.g. `trixie` or `sid`.
    pub suite: String,
    /// The binary package, e.g. `libgpiod3`.
    pub package: String,
    /// The library's soname, e.g. `libgpiod.so.3`.
    pub soname: String,
}

impl std::str::FromStr for DebianLib {
    type Err = Error;

    fn from_str(s: &str) -> Result<DebianLib> {
        let ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
        };
        let parts: Vec<&str> = s.split('/').collect();
        match parts[..] {
            [suite, package, soname] if ok(suite) && ok(package) && is_soname(soname) => {
                Ok(DebianLib {
                    suite: suite.into(),
                    package: package.into(),
                    soname: soname.into(),
                })
            }
            _ => Err(Error::Usage(format!(
                "[package.metadata.hwkit-testbed] debian-libs has `{s}`; expected \
                 SUITE/PACKAGE/SONAME, e.g. `trixie/libgpiod3/libgpiod.so.3`"
            ))),
        }
    }
}

/// Fetches (or finds cached) and packs every library of `libs` for the guest's architecture.
pub fn pack(ird: &mut Initramfs, libs: &[DebianLib], cache: &Path) -> Result<()> {
    for lib in libs {
        let files = fetch(cache, lib, ird.arch())?;
        let Some(file) = files.iter().find(|f| f.ends_with(&lib.soname)) else {
            return Err(Error::Usage(format!(
                "debian-libs: {} of Debian {} has no {}; it has {}",
                lib.package,
                lib.suite,
                lib.soname,
                files
                    .iter()
                    .map(|f| f.file_name().unwrap_or_default().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        ird.elf(&guest_path(&lib.suite, &lib.soname).to_string_lossy(), file)?;
    }
    Ok(())
}

/// The shared objects of `lib` for `arch`, from the cache or downloaded into it.
pub fn fetch(cache: &Path, lib: &DebianLib, arch: Arch) -> Result<Vec<PathBuf>> {
    // The same lock as kernel preparation: the private lists may be shared with it.
    let _lock = CacheLock::exclusive(cache, PREPARE_LOCK, "another run is preparing the cache")?;
    let apt = ForeignApt::new(cache, &lib.suite, arch);
    let base = package_cache::base(cache, "debian-libs", &lib.suite, arch, &lib.package);
    let version = match package_cache::choose(&apt, &base, &lib.suite, &lib.package, arch)? {
        Choice::Current(v) => v,
        Choice::Cached(dir) => return files_of(&dir),
    };
    let dir = base.join(&version);
    if !dir.join(DONE).exists() {
        download(&apt, lib, &version, arch, &base, &dir)?;
        package_cache::prune(&base, &version);
    }
    files_of(&dir)
}

/// Downloads and unpacks the package, keeping its shared objects in `dir`.
fn download(
    apt: &ForeignApt,
    lib: &DebianLib,
    version: &str,
    arch: Arch,
    base: &Path,
    dir: &Path,
) -> Result<()> {
    eprintln!(
        "testbed: fetching {} {version} ({}) from Debian {}",
        lib.package,
        arch.debian(),
        lib.suite
    );
    let work = base.join(format!(".work-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(io_err("cannot create", &work))?;
    let result = (|| {
        let debs = apt.download(&[(lib.package.clone(), version.to_string())], &work)?;
        let root = work.join("root");
        for deb in &debs {
            crate::kernel::unpack(deb, &root)?;
        }
        let libdir = root.join("usr/lib").join(arch.gnu());
        fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
        let mut any = false;
        for entry in fs::read_dir(&libdir).map_err(io_err("cannot read", &libdir))? {
            let path = entry.map_err(io_err("cannot read", &libdir))?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if is_soname(&name) {
                // Follows the soname's symlink: the guest gets one plain file per soname.
                fs::copy(&path, dir.join(&*name)).map_err(io_err("cannot copy", &path))?;
                any = true;
            }
        }
        if !any {
            return Err(Error::Build(format!(
                "{} {version} has no shared library in /usr/lib/{}",
                lib.package,
                arch.gnu()
            )));
        }
        fs::write(dir.join(DONE), version).map_err(io_err("cannot write", dir))
    })();
    let _ = fs::remove_dir_all(&work);
    result
}

/// `libX.so.N`: the name a program loads (not the development `libX.so`, nor the full
/// `libX.so.N.M.K` the soname points to).
fn is_soname(name: &str) -> bool {
    name.split_once(".so.")
        .is_some_and(|(_, v)| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
}

fn files_of(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err("cannot read", dir))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_soname(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_suite_and_package() {
        let lib: DebianLib = "trixie/libgpiod3/libgpiod.so.3".parse().unwrap();
        assert_eq!(
            lib,
            DebianLib {
                suite: "trixie".into(),
                package: "libgpiod3".into(),
                soname: "libgpiod.so.3".into(),
            }
        );
        for bad in [
            "trixie/libgpiod3",
            "trixie//libgpiod.so.3",
            "/libgpiod3/libgpiod.so.3",
            "sid/lib gpiod/libgpiod.so.3",
            "Sid/x/libx.so.1",
            "sid/libgpiod3/libgpiod.so",
            "sid/libgpiod3/libgpiod.so.3/x",
        ] {
            let e = bad.parse::<DebianLib>().unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
            assert!(e.contains("expected SUITE/PACKAGE/SONAME"), "{e}");
        }
    }

    #[test]
    fn only_sonames_are_packed() {
        assert!(is_soname("libgpiod.so.3"));
        assert!(is_soname("libgpiodcxx.so.2"));
        assert!(!is_soname("libgpiod.so"));
        assert!(!is_soname("libgpiod.so.3.1.1"));
        assert!(!is_soname("libgpiod.a"));
    }

    #[test]
    fn guests_find_them_by_suite() {
        assert_eq!(
            guest_path("sid", "libgpiod.so.3"),
            Path::new("/opt/hwkit-testbed/debian/sid/libgpiod.so.3")
        );
    }

    #[test]
    fn only_the_sonames_of_a_version_are_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("2.2.5-1");
        fs::create_dir_all(&v).unwrap();
        fs::write(v.join(DONE), "").unwrap();
        fs::write(v.join("libgpiod.so.3"), "x").unwrap();
        fs::write(v.join("libgpiod.so.3.1.4"), "x").unwrap();
        assert_eq!(files_of(&v).unwrap(), vec![v.join("libgpiod.so.3")]);
    }
}
