//! A private apt configuration: another suite and architecture of the host's Debian
//! mirror, for downloading packages (`apt-get download`, then `dpkg-deb -x`) without
//! touching the host's sources, lists or installed packages.
//!
//! Only the sources, the lists and apt's cache are private; everything else comes from the
//! host's `/etc/apt`, on purpose: its `apt.conf.d` (the project's mirror serves Release
//! files past their Valid-Until date, which the host's configuration accepts), its
//! keyrings and its proxy settings.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::arch::Arch;
use crate::error::{io_err, Error, Result};
use crate::host::{run, run_text};

/// How long private package lists are trusted before `apt-get update` runs again (sid
/// moves daily; a new kernel is prepared by itself when the lists name one).
pub const LISTS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// The keyring the host's Debian sources are signed with; it holds the keys of sid too.
pub const ARCHIVE_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// One suite and architecture, with its state under a directory of the bed's cache.
#[derive(Debug, Clone)]
pub struct ForeignApt {
    dir: PathBuf,
    suite: String,
    arch: Arch,
}

impl ForeignApt {
    /// The configuration of `suite` for `arch`, kept in `<cache>/apt/<suite>-<arch>/`.
    pub fn new(cache: &Path, suite: &str, arch: Arch) -> ForeignApt {
        ForeignApt {
            dir: cache.join("apt").join(format!("{suite}-{}", arch.debian())),
            suite: suite.to_string(),
            arch,
        }
    }

    /// The directory of its sources, lists and cache.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The suite, e.g. `sid`.
    pub fn suite(&self) -> &str {
        &self.suite
    }

    /// The `sources.list` line for the mirror `mirror`.
    pub fn sources_line(&self, mirror: &str) -> String {
        format!(
            "deb [arch={} signed-by={ARCHIVE_KEYRING}] {mirror} {} main\n",
            self.arch.debian(),
            self.suite
        )
    }

    /// The `-o` options that make apt use this configuration.
    pub fn options(&self) -> Vec<String> {
        let d = self.dir.display();
        vec![
            format!("Dir::Etc::SourceList={d}/sources.list"),
            format!("Dir::Etc::SourceParts={d}/sources.list.d"),
            format!("Dir::State::Lists={d}/lists"),
            format!("Dir::Cache={d}/cache"),
            format!("APT::Architectures::={}", self.arch.debian()),
            "Acquire::Languages=none".into(),
            // Hosts with appstream fetch its metadata with every update: not needed here.
            "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false".into(),
            // Downloads land in root-owned directories of the cache.
            "APT::Sandbox::User=root".into(),
        ]
    }

    /// `tool` (`apt-get`, `apt-cache`) with this configuration.
    pub fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(tool);
        cmd.arg("-q");
        for o in self.options() {
            cmd.arg("-o").arg(o);
        }
        cmd
    }

    /// How long ago the lists were last updated (`None`: never).
    pub fn lists_age(&self) -> Option<Duration> {
        let stamp = fs::metadata(self.dir.join("updated"))
            .ok()?
            .modified()
            .ok()?;
        Some(SystemTime::now().duration_since(stamp).unwrap_or_default())
    }

    /// Writes the sources for the host's mirror and runs `apt-get update` on them.
    pub fn update(&self) -> Result<()> {
        let mirror = crate::buildroot::debian_mirror()?;
        for sub in ["sources.list.d", "lists/partial", "cache/archives/partial"] {
            let d = self.dir.join(sub);
            fs::create_dir_all(&d).map_err(io_err("cannot create", &d))?;
        }
        let sources = self.dir.join("sources.list");
        fs::write(&sources, self.sources_line(&mirror))
            .map_err(io_err("cannot write", &sources))?;
        eprintln!(
            "testbed: apt-get update for Debian {} {} (private lists in {})",
            self.suite,
            self.arch.debian(),
            self.dir.display()
        );
        run(self.command("apt-get").arg("update"))?;
        let stamp = self.dir.join("updated");
        fs::write(&stamp, b"").map_err(io_err("cannot write", &stamp))
    }

    /// Runs `apt-get update` if the lists are older than [`LISTS_MAX_AGE`]; old lists are
    /// kept, with a warning, when the mirror cannot be reached.
    pub fn refresh_if_stale(&self) -> Result<()> {
        if self.lists_age().is_some_and(|age| age < LISTS_MAX_AGE) {
            return Ok(());
        }
        if let Err(e) = self.update() {
            if self.lists_age().is_none() {
                return Err(e);
            }
            eprintln!(
                "testbed: warning: cannot refresh the {} package lists, using the old ones: {e}",
                self.suite
            );
        }
        Ok(())
    }

    /// When the lists were last updated, in seconds since the epoch (0: never).
    fn lists_stamp(&self) -> u64 {
        fs::metadata(self.dir.join("updated"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs())
    }

    /// `choose()` after refreshing stale lists, remembered in
    /// `<cache>/choice-<suite>-<arch>.json` while the lists do not change (each apt-cache
    /// question costs about a second).
    pub fn remembered<T>(&self, cache: &Path, choose: impl FnOnce() -> Result<T>) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
    {
        #[derive(Serialize, Deserialize)]
        struct Saved<T> {
            lists_updated: u64,
            choice: T,
        }
        self.refresh_if_stale()?;
        let name = format!("choice-{}-{}", self.suite, self.arch.debian());
        let path = cache.join(format!("{name}.json"));
        let stamp = self.lists_stamp();
        if let Some(saved) = fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Saved<T>>(&t).ok())
            .filter(|s| s.lists_updated == stamp)
        {
            return Ok(saved.choice);
        }
        let saved = Saved {
            lists_updated: stamp,
            choice: choose()?,
        };
        if let Ok(json) = serde_json::to_string(&saved) {
            // Atomic replace: concurrent runs may write it at the same time.
            let tmp = cache.join(format!(".{name}-{}.json", std::process::id()));
            if fs::write(&tmp, json).is_ok() {
                let _ = fs::rename(&tmp, &path);
            }
        }
        Ok(saved.choice)
    }

    /// Downloads `pkgs` and everything they depend on, as if installed on an empty system
    /// (`apt-get install --download-only` against a private, empty dpkg status, whose
    /// locks are private too), into `into`; returns the `.deb` files.
    pub fn download_with_dependencies(&self, pkgs: &[String], into: &Path) -> Result<Vec<PathBuf>> {
        let admin = self.dir.join("empty-dpkg");
        let partial = into.join("partial");
        for d in [&admin, &partial] {
            fs::create_dir_all(d).map_err(io_err("cannot create", d))?;
        }
        let status = admin.join("status");
        fs::write(&status, b"").map_err(io_err("cannot write", &status))?;
        run(self
            .command("apt-get")
            .arg("-o")
            .arg(format!("Dir::State::status={}", status.display()))
            .arg("-o")
            .arg(format!("Dir::Cache::archives={}", into.display()))
            .args([
                "install",
                "--download-only",
                "-y",
                "--no-install-recommends",
            ])
            .args(pkgs.iter().map(|p| format!("{p}:{}", self.arch.debian())))
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        let mut debs: Vec<PathBuf> = fs::read_dir(into)
            .map_err(io_err("cannot read", into))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "deb"))
            .collect();
        debs.sort();
        if debs.is_empty() {
            return Err(Error::Kernel(format!(
                "apt-get downloaded none of {} from Debian {}",
                pkgs.join(", "),
                self.suite
            )));
        }
        Ok(debs)
    }

    /// `apt-cache show PKG:ARCH[=VERSION]`: the package's control records.
    pub fn show(&self, pkg: &str, version: Option<&str>) -> Result<String> {
        let mut spec = format!("{pkg}:{}", self.arch.debian());
        if let Some(v) = version {
            spec.push('=');
            spec.push_str(v);
        }
        run_text(self.command("apt-cache").arg("show").arg(spec))
    }

    /// Downloads `pkgs` (name and exact version) into `into`; returns the `.deb` files in
    /// the same order.
    pub fn download(&self, pkgs: &[(String, String)], into: &Path) -> Result<Vec<PathBuf>> {
        let mut cmd = self.command("apt-get");
        cmd.current_dir(into).arg("download");
        for (p, v) in pkgs {
            cmd.arg(format!("{p}:{}={v}", self.arch.debian()));
        }
        run(&mut cmd)?;
        let names: Vec<&str> = pkgs.iter().map(|(p, _)| p.as_str()).collect();
        crate::kernel::downloaded(into, &names)
    }
}

/// The `Version:` of the first record of `apt-cache show` output.
pub fn version_of(control: &str) -> Option<String> {
    control
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_is_private_but_the_host_settings_stay() {
        let apt = ForeignApt::new(Path::new("/c"), "sid", Arch::Aarch64);
        assert_eq!(apt.dir(), Path::new("/c/apt/sid-arm64"));
        assert_eq!(
            apt.sources_line("http://mirror.example/debian"),
            "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
             http://mirror.example/debian sid main\n"
        );
        let o = apt.options();
        assert!(o.contains(&"Dir::State::Lists=/c/apt/sid-arm64/lists".to_string()));
        assert!(o.contains(&"APT::Architectures::=arm64".to_string()));
        // Dir::Etc itself stays the host's: its apt.conf.d accepts the mirror's old
        // Release files.
        assert!(!o.iter().any(|x| x.starts_with("Dir::Etc=")), "{o:?}");
    }

    #[test]
    fn versions_come_from_the_first_record() {
        let text = "Package: a\nVersion: 7.2.13-1\nDepends: b\n\nPackage: a\nVersion: 7.1-1\n";
        assert_eq!(version_of(text).as_deref(), Some("7.2.13-1"));
        assert_eq!(version_of("Package: a\n"), None);
    }
}
