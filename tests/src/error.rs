//! The one error type of the test bed.

use std::io;
use std::path::PathBuf;

use crate::spec::SpecError;

/// Everything that can go wrong while preparing or running the test-bed VM.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory operation failed.
    #[error("{what} `{}`: {source}", path.display())]
    Io {
        /// What the bed was doing, e.g. "cannot read".
        what: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A command could not be started or exited with a failure.
    #[error("command `{command}` failed: {detail}")]
    Command {
        /// The command line, for the user to re-run by hand.
        command: String,
        /// Why it failed (exit status and the end of its stderr).
        detail: String,
    },
    /// A `--chips` description is not valid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The distribution offers no kernel the bed can use.
    #[error("no usable kernel: {0}")]
    Kernel(String),
    /// The workspace's tests could not be built or collected.
    #[error("build: {0}")]
    Build(String),
    /// The VM did not run to its end (panic, hang, missing marker).
    #[error("VM: {0}")]
    Vm(String),
    /// A bad argument given by the caller.
    #[error("{0}")]
    Usage(String),
}

/// The test bed's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an `io::Error` with what was being done and to which path.
pub(crate) fn io_err(
    what: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { what, path, source }
}
