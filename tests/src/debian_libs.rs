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
use std::time::Duration;

use crate::arch::Arch;
use crate::cache::{CacheLock, PREPARE_LOCK};
use crate::error::{io_err, Error, Result};
use crate::foreign_apt::{version_of, ForeignApt};
use crate::initramfs::Initramfs;

/// Where the guest holds the libraries: `<GUEST_DIR>/<suite>/<file>`.
pub const GUEST_DIR: &str = "/opt/hwkit-testbed/debian";

/// Lists older than this are refreshed first (sid changes daily).
const LISTS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Marks a version directory as complete.
const DONE: &str = ".complete";

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
    let base = cache
        .join("debian-libs")
        .join(format!("{}-{}", lib.suite, arch.debian()))
        .join(&lib.package);
    let fresh = apt.lists_age().is_some_and(|a| a < LISTS_MAX_AGE);
    let version = (if fresh { Ok(()) } else { apt.update() })
        .and_then(|()| apt.show(&lib.package, None))
        .and_then(|text| {
            version_of(&text).ok_or_else(|| {
                Error::Build(format!(
                    "Debian {} has no package {} for {}",
                    lib.suite,
                    lib.package,
                    arch.debian()
                ))
            })
        });
    let version = match version {
        Ok(v) => v,
        Err(e) => {
            let cached = newest_complete(&base).ok_or(e)?;
            eprintln!(
                "testbed: warning: cannot ask apt about {}/{}, using the cached {}",
                lib.suite,
                lib.package,
                cached.display()
            );
            return files_of(&cached);
        }
    };
    let dir = base.join(&version);
    if !dir.join(DONE).exists() {
        download(&apt, lib, &version, arch, &base, &dir)?;
        prune(&base, &version);
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

/// The most recently completed version directory under `base`.
fn newest_complete(base: &Path) -> Option<PathBuf> {
    fs::read_dir(base)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(DONE).exists())
        .max_by_key(|p| fs::metadata(p.join(DONE)).and_then(|m| m.modified()).ok())
}

/// Removes every version directory but `keep`'s.
fn prune(base: &Path, keep: &str) {
    for entry in fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name != keep && !name.to_string_lossy().starts_with(".work-") {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
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
    fn the_newest_complete_version_is_the_fallback_and_pruning_keeps_one() {
        let base = std::env::temp_dir().join(format!("tb-debian-libs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        for v in ["2.2.1-1", "2.2.5-1", "2.3-1"] {
            fs::create_dir_all(base.join(v)).unwrap();
        }
        fs::write(base.join("2.2.1-1").join(DONE), "").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        fs::write(base.join("2.2.5-1").join(DONE), "").unwrap();
        fs::write(base.join("2.2.5-1/libgpiod.so.3"), "x").unwrap();
        fs::write(base.join("2.2.5-1/libgpiod.so.3.1.4"), "x").unwrap();
        // 2.3-1 is incomplete (a download that died): never the fallback.
        assert_eq!(newest_complete(&base), Some(base.join("2.2.5-1")));
        assert_eq!(
            files_of(&base.join("2.2.5-1")).unwrap(),
            vec![base.join("2.2.5-1/libgpiod.so.3")]
        );
        prune(&base, "2.2.5-1");
        let left: Vec<_> = fs::read_dir(&base).unwrap().flatten().collect();
        assert_eq!(left.len(), 1);
        fs::remove_dir_all(&base).unwrap();
    }
}
