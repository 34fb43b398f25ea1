//! A writer for the `newc` cpio format the kernel unpacks as its initramfs.
//!
//! Written here rather than driving `cpio(1)` because the bed places files at paths that
//! do not exist under one host directory (binaries, libraries and the source tree each at
//! their own absolute path), and because it is 100 lines.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

/// Streams an uncompressed `newc` archive; parent directories are created on demand and
/// every path is written once (the first writer wins).
pub struct CpioWriter<W: Write> {
    out: BufWriter<W>,
    ino: u32,
    written: BTreeSet<String>,
    bytes: u64,
}

impl<W: Write> CpioWriter<W> {
    /// Starts an archive on `out`.
    pub fn new(out: W) -> Self {
        CpioWriter {
            out: BufWriter::with_capacity(1 << 20, out),
            ino: 1,
            written: BTreeSet::new(),
            bytes: 0,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Whether `path` is already in the archive.
    pub fn contains(&self, path: &str) -> bool {
        self.written.contains(normalize(path))
    }

    /// Adds a directory (and its parents).
    pub fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        let path = normalize(path);
        if path.is_empty() || self.written.contains(path) {
            return Ok(());
        }
        self.parents(path)?;
        self.header(path, 0o040000 | (mode & 0o7777), 0)?;
        Ok(())
    }

    /// Adds a regular file with the given contents.
    pub fn file_bytes(&mut self, path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        let path = normalize(path);
        if self.written.contains(path) {
            return Ok(());
        }
        self.parents(path)?;
        self.header(path, 0o100000 | (mode & 0o7777), data.len() as u64)?;
        self.out.write_all(data)?;
        self.bytes += data.len() as u64;
        self.pad()
    }

    /// Adds a regular file copied from `src` on the host (symbolic links followed).
    pub fn file_from(&mut self, path: &str, src: &Path) -> io::Result<()> {
        let path = normalize(path);
        if self.written.contains(path) {
            return Ok(());
        }
        let mut f = File::open(src)?;
        let meta = f.metadata()?;
        let len = meta.len();
        if len > u64::from(u32::MAX) {
            return Err(io::Error::other(format!(
                "{} is too large for cpio",
                src.display()
            )));
        }
        self.parents(path)?;
        use std::os::unix::fs::PermissionsExt;
        self.header(path, 0o100000 | (meta.permissions().mode() & 0o7777), len)?;
        let copied = io::copy(&mut (&mut f).take(len), &mut self.out)?;
        if copied != len {
            return Err(io::Error::other(format!(
                "{} changed size while packing",
                src.display()
            )));
        }
        self.bytes += len;
        self.pad()
    }

    /// Adds a symbolic link `path` -> `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        let path = normalize(path);
        if self.written.contains(path) {
            return Ok(());
        }
        self.parents(path)?;
        self.header(path, 0o120777, target.len() as u64)?;
        self.out.write_all(target.as_bytes())?;
        self.bytes += target.len() as u64;
        self.pad()
    }

    /// Writes the trailer and flushes; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.header("TRAILER!!!", 0, 0)?;
        self.out.flush()?;
        self.out.into_inner().map_err(|e| e.into_error())
    }

    fn parents(&mut self, path: &str) -> io::Result<()> {
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !parent.is_empty() && !self.written.contains(parent) {
                self.dir(parent, 0o755)?;
            }
        }
        Ok(())
    }

    fn header(&mut self, path: &str, mode: u32, size: u64) -> io::Result<()> {
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let namesize = path.len() + 1;
        let hdr = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, namesize, 0
        );
        self.ino += 1;
        self.out.write_all(hdr.as_bytes())?;
        self.out.write_all(path.as_bytes())?;
        self.out.write_all(&[0])?;
        self.bytes += (hdr.len() + namesize) as u64;
        if path != "TRAILER!!!" {
            self.written.insert(path.to_string());
        }
        self.pad()
    }

    fn pad(&mut self) -> io::Result<()> {
        let pad = (4 - (self.bytes % 4) as usize) % 4;
        self.out.write_all(&[0u8; 3][..pad])?;
        self.bytes += pad as u64;
        Ok(())
    }
}

/// Archive paths are relative: `/usr/lib/x` is stored as `usr/lib/x`.
fn normalize(path: &str) -> &str {
    path.trim_start_matches('/').trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn header_layout_is_newc() {
        let mut w = CpioWriter::new(Vec::new());
        w.file_bytes("/a", 0o644, b"hi").unwrap();
        let bytes = w.finish().unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("070701"));
        // 110-byte header + "a\0" = 112, then 2 data bytes padded to 4.
        assert_eq!(&bytes[110..112], b"a\0");
        assert_eq!(&bytes[112..114], b"hi");
        assert_eq!(&bytes[116..122], b"070701");
        assert_eq!(bytes.len() % 4, 0);
        assert!(text.contains("TRAILER!!!"));
    }

    #[test]
    fn gnu_cpio_reads_what_we_write() {
        if Command::new("cpio").arg("--version").output().is_err() {
            // cpio is installed by scripts/install-deps.sh; without it this check cannot run.
            panic!("cpio(1) is needed for this test: run scripts/install-deps.sh");
        }
        let mut w = CpioWriter::new(Vec::new());
        w.file_bytes("/deep/dir/file.txt", 0o600, b"content\n")
            .unwrap();
        w.symlink("/deep/link", "dir/file.txt").unwrap();
        w.dir("/empty", 0o700).unwrap();
        w.file_bytes("/deep/dir/file.txt", 0o600, b"ignored duplicate")
            .unwrap();
        let bytes = w.finish().unwrap();
        let mut child = Command::new("cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let listing = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 5, "{listing}");
        assert!(
            lines[0].starts_with("drwxr-xr-x") && lines[0].ends_with(" deep"),
            "{listing}"
        );
        assert!(
            lines[2].starts_with("-rw-------") && lines[2].contains(" 8 "),
            "{listing}"
        );
        assert!(lines[3].ends_with("deep/link -> dir/file.txt"), "{listing}");
        assert!(
            lines[4].starts_with("drwx------") && lines[4].ends_with(" empty"),
            "{listing}"
        );
    }
}
