//! Another Debian release's package kept in the test bed's cache, one directory per version
//! (`<cache>/<kind>/<suite>-<arch>/<package>/<version>/`, complete once it holds [`DONE`]):
//! which version to use, and dropping the others. Shared by `debian-libs` and `debian-bins`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::foreign_apt::{version_of, ForeignApt, LISTS_MAX_AGE};

/// Marks a version directory as complete.
pub const DONE: &str = ".complete";

/// What to use.
pub enum Choice {
    /// The version apt has now: its directory is to be filled unless complete.
    Current(String),
    /// apt could not be asked: the newest complete directory cached (with a warning printed).
    Cached(PathBuf),
}

/// The directory of `package`'s versions under `cache/kind`.
pub fn base(cache: &Path, kind: &str, suite: &str, arch: Arch, package: &str) -> PathBuf {
    cache
        .join(kind)
        .join(format!("{suite}-{}", arch.debian()))
        .join(package)
}

/// The version of `package` to use: apt's current one (lists refreshed when older than a
/// day), or the newest cached one when the mirror cannot be asked.
pub fn choose(
    apt: &ForeignApt,
    base: &Path,
    suite: &str,
    package: &str,
    arch: Arch,
) -> Result<Choice> {
    let fresh = apt.lists_age().is_some_and(|a| a < LISTS_MAX_AGE);
    let version = (if fresh { Ok(()) } else { apt.update() })
        .and_then(|()| apt.show(package, None))
        .and_then(|text| {
            version_of(&text).ok_or_else(|| {
                Error::Build(format!(
                    "Debian {suite} has no package {package} for {}",
                    arch.debian()
                ))
            })
        });
    match version {
        Ok(v) => Ok(Choice::Current(v)),
        Err(e) => {
            let cached = newest_complete(base).ok_or(e)?;
            eprintln!(
                "testbed: warning: cannot ask apt about {suite}/{package}, using the cached {}",
                cached.display()
            );
            Ok(Choice::Cached(cached))
        }
    }
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

/// Removes every version directory but `keep`'s (and work directories in use, `.work-*`).
pub fn prune(base: &Path, keep: &str) {
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
    fn the_newest_complete_version_is_the_fallback_and_pruning_keeps_one() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        // 2.0 is incomplete (a download that died): never the fallback.
        for (v, done) in [("1.0", true), ("2.0", false), ("1.5", true)] {
            fs::create_dir_all(base.join(v)).unwrap();
            if done {
                fs::write(base.join(v).join(DONE), v).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        fs::create_dir_all(base.join(".work-1")).unwrap();
        assert_eq!(newest_complete(base), Some(base.join("1.5")));
        prune(base, "1.5");
        let mut left: Vec<_> = fs::read_dir(base)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".work-1", "1.5"]);
    }
}
