//! `hwkit`: call C functions from the shell, drive GPIO lines, show a board's pinout,
//! and try all of it in a gpio-sim VM. The command lives in the `hwkit` library (so the
//! fuzz targets in `fuzz/` can run its argument checks); this is only its entry point.

use std::process::ExitCode;

fn main() -> ExitCode {
    hwkit::main()
}
