//! Assembling the guest's root file system: busybox, the init script, the gpio-sim
//! modules, and whatever a run needs (ELF files with the libraries `ldd` lists, trees).

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cpio::CpioWriter;
use crate::error::{io_err, Error, Result};
use crate::kernel::Kernel;

/// Directory in the guest holding the bed's own files.
pub const GUEST_DIR: &str = "/testbed";

/// Where busybox-static installs its binary on Debian.
pub const BUSYBOX: &str = "/bin/busybox";

/// The guest's `/init`. It mounts the kernel file systems, loads the modules listed in
/// `/testbed/modules.list`, checks that gpio-sim's configfs directory exists, then sources
/// `/testbed/job.sh` between the READY and DONE markers. `$M` is the run's marker.
pub const INIT_SCRIPT: &str = r#"#!/bin/busybox sh
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp /run /root /usr/local/bin
/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root TERM=dumb RUST_BACKTRACE=1
. /testbed/env.sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# No tmpfs on /tmp or /run: the root is already in memory, and a mount there would hide a
# workspace or target directory packed under /tmp.
chmod 1777 /tmp
tb_fatal() { echo "$M FATAL $*"; echo "$M DONE"; poweroff -f; sleep 10; }
while read -r mod; do
  [ -n "$mod" ] || continue
  insmod "/testbed/modules/$mod" || tb_fatal "insmod $mod failed (see the messages above)"
done < /testbed/modules.list
grep -q configfs /proc/mounts || mount -t configfs configfs /sys/kernel/config
[ -d /sys/kernel/config/gpio-sim ] || tb_fatal "gpio-sim is not available: /sys/kernel/config/gpio-sim is missing"
echo "$M READY"
cd /root
. /testbed/job.sh
echo "$M DONE"
poweroff -f
sleep 10
"#;

/// Quotes `s` for the guest's shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Builds one initramfs file.
pub struct Initramfs {
    cpio: CpioWriter<File>,
    path: PathBuf,
    libs_seen: BTreeSet<PathBuf>,
}

impl Initramfs {
    /// Starts `path` with busybox, `/init`, the marker and the kernel's modules.
    pub fn create(path: &Path, kernel: &Kernel, marker: &str) -> Result<Initramfs> {
        let file = File::create(path).map_err(io_err("cannot create", path))?;
        let mut me = Initramfs {
            cpio: CpioWriter::new(file),
            path: path.to_path_buf(),
            libs_seen: BTreeSet::new(),
        };
        let busybox = Path::new(BUSYBOX);
        if !busybox.is_file() {
            return Err(Error::Usage(format!(
                "{BUSYBOX} is missing: install busybox-static"
            )));
        }
        me.io(|c| c.file_from(BUSYBOX, busybox))?;
        me.bytes("/init", 0o755, INIT_SCRIPT.as_bytes())?;
        me.bytes(
            "/testbed/env.sh",
            0o644,
            format!("M={}\n", sh_quote(marker)).as_bytes(),
        )?;
        me.bytes("/etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")?;
        me.bytes("/etc/group", 0o644, b"root:x:0:\n")?;
        let mut list = String::new();
        for m in kernel.module_paths() {
            let name = m
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            me.io(|c| c.file_from(&format!("{GUEST_DIR}/modules/{name}"), &m))?;
            list.push_str(&name);
            list.push('\n');
        }
        me.bytes("/testbed/modules.list", 0o644, list.as_bytes())?;
        // dlopen() of libraries by bare name goes through the loader cache.
        if Path::new("/etc/ld.so.cache").is_file() {
            me.io(|c| c.file_from("/etc/ld.so.cache", Path::new("/etc/ld.so.cache")))?;
        }
        Ok(me)
    }

    fn io(&mut self, f: impl FnOnce(&mut CpioWriter<File>) -> std::io::Result<()>) -> Result<()> {
        f(&mut self.cpio).map_err(io_err("cannot write", &self.path))
    }

    /// Adds a file with the given contents.
    pub fn bytes(&mut self, guest: &str, mode: u32, data: &[u8]) -> Result<()> {
        self.io(|c| c.file_bytes(guest, mode, data))
    }

    /// Adds the host file `host` at `guest`.
    pub fn file(&mut self, guest: &str, host: &Path) -> Result<()> {
        self.cpio
            .file_from(guest, host)
            .map_err(io_err("cannot pack", host))
    }

    /// Adds an executable or shared object at `guest`, and the shared libraries `ldd`
    /// lists for it at their host paths.
    pub fn elf(&mut self, guest: &str, host: &Path) -> Result<()> {
        self.file(guest, host)?;
        self.libraries_of(host)
    }

    /// Adds the shared libraries `ldd` lists for `host` (nothing for static or non-ELF files).
    pub fn libraries_of(&mut self, host: &Path) -> Result<()> {
        for lib in ldd(host)? {
            if self.libs_seen.insert(lib.clone()) {
                let guest = lib.to_string_lossy().into_owned();
                self.file(&guest, &lib)?;
            }
        }
        Ok(())
    }

    /// Adds the tree under `root` at the same path, skipping `.git`, `target` and any
    /// directory holding a `CACHEDIR.TAG` (cargo target directories).
    pub fn tree(&mut self, root: &Path) -> Result<()> {
        let entries = fs::read_dir(root).map_err(io_err("cannot read", root))?;
        self.io(|c| c.dir(&root.to_string_lossy(), 0o755))?;
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name();
            let Ok(ft) = e.file_type() else { continue };
            let guest = path.to_string_lossy().into_owned();
            if ft.is_dir() {
                if name == ".git" || name == "target" || path.join("CACHEDIR.TAG").exists() {
                    continue;
                }
                self.tree(&path)?;
            } else if ft.is_symlink() {
                if let Ok(target) = fs::read_link(&path) {
                    self.io(|c| c.symlink(&guest, &target.to_string_lossy()))?;
                }
            } else if ft.is_file() {
                self.file(&guest, &path)?;
            }
        }
        Ok(())
    }

    /// Writes the trailer; returns the file's size in bytes.
    pub fn finish(self) -> Result<u64> {
        let len = self.cpio.len();
        self.cpio
            .finish()
            .map_err(io_err("cannot write", &self.path))?;
        Ok(len)
    }
}

/// The absolute library paths `ldd` prints for `exe` (none for static or non-ELF files).
pub fn ldd(exe: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(exe)
        .output()
        .map_err(|e| Error::Command {
            command: format!("ldd {}", exe.display()),
            detail: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (libs, missing) = parse_ldd(&text);
    if !missing.is_empty() {
        return Err(Error::Build(format!(
            "{} needs shared libraries that are not on this machine: {}",
            exe.display(),
            missing.join(", ")
        )));
    }
    Ok(libs)
}

/// Splits `ldd` output into the libraries found and the names not found.
pub fn parse_ldd(text: &str) -> (Vec<PathBuf>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some((name, rest)) = line.split_once("=>") {
            let rest = rest.trim();
            if rest.starts_with("not found") {
                missing.push(name.trim().to_string());
            } else if let Some(p) = rest
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/'))
            {
                found.push(PathBuf::from(p));
            }
        } else if let Some(p) = line
            .split_whitespace()
            .next()
            .filter(|p| p.starts_with('/'))
        {
            found.push(PathBuf::from(p));
        }
    }
    (found, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_is_parsed() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                    \tlibfoo.so.2 => not found\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        let (found, missing) = parse_ldd(text);
        assert_eq!(
            found,
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
        assert_eq!(missing, vec!["libfoo.so.2"]);
        assert_eq!(parse_ldd("\tnot a dynamic executable\n"), (vec![], vec![]));
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn ldd_of_a_real_binary_lists_libc() {
        let libs = ldd(Path::new("/bin/ls")).unwrap();
        assert!(
            libs.iter().any(|l| l.to_string_lossy().contains("libc.so")),
            "{libs:?}"
        );
        assert!(
            ldd(Path::new(BUSYBOX)).unwrap().is_empty(),
            "busybox-static needs no library"
        );
    }
}
