//! Assembling the guest's root file system: busybox, the init script, the gpio-sim
//! modules, and whatever a run needs (ELF files with their shared libraries, trees).

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::arch::{Arch, Machine};
use crate::cpio::CpioWriter;
use crate::error::{io_err, Error, Result};
use crate::kernel::Kernel;
use crate::qemu;

/// Directory in the guest holding the bed's own files.
pub const GUEST_DIR: &str = "/testbed";

/// Where busybox-static installs its binary on Debian.
pub const BUSYBOX: &str = "/bin/busybox";

/// The guest's `/init`. It mounts the kernel file systems, loads the modules listed in
/// `/testbed/modules.list`, checks that gpio-sim's configfs directory exists, then sources
/// `/testbed/job.sh` between the READY and DONE markers. `/testbed/env.sh` sets `$M`, the
/// run's marker, and `tb_off`, the machine's way to end the VM.
pub const INIT_SCRIPT: &str = r#"#!/bin/busybox sh
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp /run /root /usr/local/bin
/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root TERM=dumb RUST_BACKTRACE=1
. /testbed/env.sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# Pseudo-terminals, for tests that drive a program's terminal interface (a prompt).
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts 2>/dev/null
# No tmpfs on /tmp or /run: the root is already in memory, and a mount there would hide a
# workspace or target directory packed under /tmp.
chmod 1777 /tmp
# Tests compare the driver's own view in /sys/kernel/debug/gpio.
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
tb_fatal() { echo "$M FATAL $*"; echo "$M DONE"; tb_off; sleep 10; }
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
tb_off
sleep 10
"#;

/// Quotes `s` for the guest's shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Where the shared libraries of packed ELF files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibrarySource {
    /// The host's, for a guest of the host's architecture: what `ldd` lists, packed at
    /// their host paths, with the host's `/etc/ld.so.cache`.
    Host,
    /// Another architecture's (`ldd` cannot run its binaries): each ELF file's `NEEDED`
    /// entries, found in `dirs` (the build root's library directories, in the loader's
    /// order) and packed in `/lib/<gnu triplet>/`, one of the loader's default
    /// directories; the loader itself goes to the architecture's interpreter path.
    Foreign {
        /// The guest's architecture.
        arch: Arch,
        /// Host directories holding its libraries.
        dirs: Vec<PathBuf>,
        /// The root of its file system on the host (the build root), where files a
        /// package asks for by guest path are looked up first.
        sysroot: Option<PathBuf>,
    },
}

/// Builds one initramfs file.
pub struct Initramfs {
    cpio: CpioWriter<File>,
    path: PathBuf,
    libs_seen: BTreeSet<PathBuf>,
    arch: Arch,
    libraries: LibrarySource,
}

impl Initramfs {
    /// Starts `path` for `machine` with busybox, `/init`, the marker and the kernel's
    /// modules (the board's first). ELF files packed later bring their libraries from
    /// `libraries`.
    pub fn create(
        path: &Path,
        kernel: &Kernel,
        machine: Machine,
        libraries: LibrarySource,
        marker: &str,
    ) -> Result<Initramfs> {
        let file = File::create(path).map_err(io_err("cannot create", path))?;
        let mut me = Initramfs {
            cpio: CpioWriter::new(file),
            path: path.to_path_buf(),
            libs_seen: BTreeSet::new(),
            arch: machine.arch(),
            libraries,
        };
        let busybox = kernel.busybox();
        if !busybox.is_file() {
            return Err(Error::Usage(format!(
                "{} is missing: install busybox-static",
                busybox.display()
            )));
        }
        me.io(|c| c.file_from(BUSYBOX, &busybox))?;
        me.bytes("/init", 0o755, INIT_SCRIPT.as_bytes())?;
        me.bytes(
            "/testbed/env.sh",
            0o644,
            format!(
                "M={}\ntb_off() {{ {}; }}\n",
                sh_quote(marker),
                qemu::power_off(machine)
            )
            .as_bytes(),
        )?;
        me.bytes("/etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")?;
        me.bytes("/etc/group", 0o644, b"root:x:0:\n")?;
        let mut modules = Vec::new();
        for name in qemu::board_modules(machine) {
            modules.push(kernel.board_module(name).ok_or_else(|| {
                Error::Kernel(format!(
                    "kernel {} has no {name} module, which the {machine} machine needs",
                    kernel.info.abi
                ))
            })?);
        }
        modules.extend(kernel.module_paths());
        let mut list = String::new();
        for m in modules {
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
        // dlopen() of libraries by bare name goes through the loader cache (the host's
        // describes the host's libraries only).
        if me.libraries == LibrarySource::Host && Path::new("/etc/ld.so.cache").is_file() {
            me.io(|c| c.file_from("/etc/ld.so.cache", Path::new("/etc/ld.so.cache")))?;
        }
        Ok(me)
    }

    fn io(&mut self, f: impl FnOnce(&mut CpioWriter<File>) -> std::io::Result<()>) -> Result<()> {
        f(&mut self.cpio).map_err(io_err("cannot write", &self.path))
    }

    /// The guest's architecture.
    pub fn arch(&self) -> Arch {
        self.arch
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

    /// Adds an executable or shared object at `guest`, and its shared libraries. An ELF
    /// file of another architecture than the guest's is refused.
    pub fn elf(&mut self, guest: &str, host: &Path) -> Result<()> {
        check_arch(host, self.arch)?;
        self.file(guest, host)?;
        self.libraries_of(host)
    }

    /// The host file to pack at guest path `guest`: itself for a guest of the host's
    /// architecture; for another one the file at that path in its sysroot (the build
    /// root), else the path itself (a workspace file, the same in both); `None` if
    /// neither exists.
    pub fn host_file_for(&self, guest: &Path) -> Option<PathBuf> {
        let in_sysroot = match &self.libraries {
            LibrarySource::Foreign {
                sysroot: Some(root),
                ..
            } => Some(root.join(guest.strip_prefix("/").unwrap_or(guest))),
            _ => None,
        };
        in_sysroot
            .into_iter()
            .chain(std::iter::once(guest.to_path_buf()))
            .find(|p| p.exists())
    }

    /// Adds the shared libraries `host` needs (nothing for static or non-ELF files).
    pub fn libraries_of(&mut self, host: &Path) -> Result<()> {
        match self.libraries.clone() {
            LibrarySource::Host => {
                for lib in ldd(host)? {
                    if self.libs_seen.insert(lib.clone()) {
                        let guest = lib.to_string_lossy().into_owned();
                        self.file(&guest, &lib)?;
                    }
                }
            }
            LibrarySource::Foreign { arch, dirs, .. } => {
                for (name, lib) in needed_closure(host, &dirs)? {
                    if self.libs_seen.insert(lib.clone()) {
                        self.file(&format!("/lib/{}/{name}", arch.gnu()), &lib)?;
                        let loader = Path::new(arch.interpreter());
                        if loader.file_name() == Some(std::ffi::OsStr::new(&name)) {
                            self.file(arch.interpreter(), &lib)?;
                        }
                    }
                }
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

/// Refuses an ELF file built for another architecture than `arch` (other files pass).
pub fn check_arch(path: &Path, arch: Arch) -> Result<()> {
    match elf_machine(path) {
        Some(m) if m != arch.elf_machine() => {
            let theirs = Arch::ALL
                .into_iter()
                .find(|a| a.elf_machine() == m)
                .map_or_else(|| format!("ELF machine {m}"), |a| a.to_string());
            Err(Error::Usage(format!(
                "`{}` is built for {theirs}, but the guest runs {arch} programs: give a build for {arch}",
                path.display()
            )))
        }
        _ => Ok(()),
    }
}

/// The `e_machine` of an ELF file (`None`: not an ELF file).
pub fn elf_machine(path: &Path) -> Option<u16> {
    use std::io::Read;
    let mut head = [0u8; 20];
    File::open(path).ok()?.read_exact(&mut head).ok()?;
    if &head[..4] != b"\x7fELF" {
        return None;
    }
    // EI_DATA 2 is big-endian; every architecture here is little-endian.
    let bytes = [head[18], head[19]];
    Some(if head[5] == 2 {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    })
}

/// The `NEEDED` entries of an ELF file, from `readelf -d` (none for static or non-ELF
/// files; readelf reads any architecture's files, where `ldd` would have to run them).
pub fn needed(path: &Path) -> Result<Vec<String>> {
    if elf_machine(path).is_none() {
        return Ok(Vec::new());
    }
    let out = Command::new("readelf")
        .args(["-d", "--wide"])
        .arg(path)
        .output()
        .map_err(|e| Error::Command {
            command: format!("readelf -d {}", path.display()),
            detail: format!("cannot start: {e} (is binutils installed?)"),
        })?;
    Ok(parse_needed(&String::from_utf8_lossy(&out.stdout)))
}

/// The library names of the `(NEEDED)` lines of `readelf -d` output.
pub fn parse_needed(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| {
            let start = l.find('[')? + 1;
            let end = l[start..].find(']')? + start;
            Some(l[start..end].to_string())
        })
        .collect()
}

/// Every library `path` needs, directly or through other libraries, as (name, host path)
/// found in `dirs`, searched in order; a name found nowhere is an error naming it.
pub fn needed_closure(path: &Path, dirs: &[PathBuf]) -> Result<Vec<(String, PathBuf)>> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    let mut todo = vec![path.to_path_buf()];
    while let Some(file) = todo.pop() {
        for name in needed(&file)? {
            if found.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let lib = dirs
                .iter()
                .map(|d| d.join(&name))
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    Error::Build(format!(
                        "{} needs {name}, which is in none of {}",
                        file.display(),
                        dirs.iter()
                            .map(|d| d.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
            todo.push(lib.clone());
            found.push((name, lib));
        }
    }
    Ok(found)
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
    fn readelf_needed_lines_are_parsed() {
        let text = "Dynamic section at offset 0x1d8 contains 27 entries:\n\
          Tag        Type                         Name/Value\n\
         0x0000000000000001 (NEEDED)             Shared library: [libgcc_s.so.1]\n\
         0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]\n\
         0x000000000000000e (SONAME)             Library soname: [libx.so.1]\n";
        assert_eq!(parse_needed(text), ["libgcc_s.so.1", "libc.so.6"]);
        assert!(parse_needed("There is no dynamic section in this file.").is_empty());
    }

    #[test]
    fn needed_libraries_are_found_in_order_and_a_missing_one_is_named() {
        // /bin/ls needs libc (and more), which the first directory lacks.
        let empty = tempfile::tempdir().unwrap();
        let dirs = vec![
            empty.path().to_path_buf(),
            PathBuf::from("/lib/x86_64-linux-gnu"),
        ];
        let libs = needed_closure(Path::new("/bin/ls"), &dirs).unwrap();
        let libc = libs.iter().find(|(n, _)| n == "libc.so.6").expect("libc");
        assert_eq!(libc.1, Path::new("/lib/x86_64-linux-gnu/libc.so.6"));
        // libc itself needs the loader: the closure follows libraries' own entries.
        assert!(
            libs.iter().any(|(n, _)| n.starts_with("ld-linux")),
            "{libs:?}"
        );
        let e = needed_closure(Path::new("/bin/ls"), &dirs[..1])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/bin/ls needs ") && e.contains("which is in none of"),
            "{e}"
        );
        assert!(needed_closure(Path::new(BUSYBOX), &dirs)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn programs_of_another_architecture_are_refused() {
        assert!(check_arch(Path::new("/bin/ls"), Arch::X86_64).is_ok());
        assert!(check_arch(Path::new("/etc/passwd"), Arch::Aarch64).is_ok());
        let e = check_arch(Path::new("/bin/ls"), Arch::Aarch64)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`/bin/ls` is built for x86_64, but the guest runs aarch64 programs: give a build for aarch64"),
            "{e}"
        );
    }

    #[test]
    fn a_kernel_without_the_boards_module_is_refused_and_files_come_from_the_sysroot() {
        let dir = tempfile::tempdir().unwrap();
        let kdir = dir.path().join("k");
        fs::create_dir_all(kdir.join("modules")).unwrap();
        let kernel = Kernel {
            dir: kdir,
            info: crate::kernel::KernelInfo {
                abi: "7.2.13+deb14-arm64".into(),
                version: "7.2.13-1".into(),
                boot_file: "Image".into(),
                modules: vec![],
                distro_gpio_sim: true,
                arch: "arm64".into(),
                board_modules: vec![],
                busybox: None,
                suite: None,
            },
        };
        let foreign = |sysroot: Option<PathBuf>| LibrarySource::Foreign {
            arch: Arch::Aarch64,
            dirs: vec![],
            sysroot,
        };
        let out = dir.path().join("i.cpio");
        let e = Initramfs::create(&out, &kernel, Machine::Raspi3b, foreign(None), "@@m@@")
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains("kernel 7.2.13+deb14-arm64 has no bcm2835_wdt module, which the raspi3b machine needs"),
            "{e}"
        );
        // virt needs no board module; a guest path is looked up in the sysroot first.
        let sysroot = dir.path().join("root");
        fs::create_dir_all(sysroot.join("usr/lib/aarch64-linux-gnu")).unwrap();
        fs::write(sysroot.join("usr/lib/aarch64-linux-gnu/libx.so.1"), b"x").unwrap();
        let ird = Initramfs::create(
            &out,
            &kernel,
            Machine::Virt,
            foreign(Some(sysroot.clone())),
            "@@m@@",
        )
        .unwrap();
        assert_eq!(
            ird.host_file_for(Path::new("/usr/lib/aarch64-linux-gnu/libx.so.1")),
            Some(sysroot.join("usr/lib/aarch64-linux-gnu/libx.so.1"))
        );
        assert_eq!(
            ird.host_file_for(Path::new("/etc/passwd")),
            Some("/etc/passwd".into())
        );
        assert_eq!(
            ird.host_file_for(Path::new("/usr/lib/aarch64-linux-gnu/nope.so")),
            None
        );
    }

    #[test]
    fn elf_machines_are_read() {
        assert_eq!(
            elf_machine(Path::new("/bin/ls")),
            Some(Arch::X86_64.elf_machine())
        );
        assert_eq!(elf_machine(Path::new("/etc/passwd")), None);
        assert_eq!(elf_machine(Path::new("/no/such/file")), None);
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
