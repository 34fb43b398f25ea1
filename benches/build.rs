//! Builds the benchmark's C library twice: as a static archive linked into the bench (the
//! direct-call baseline) and as a shared object that ffi-core opens, whose path is exported
//! as `BENCH_LIB_SO`.

use std::env;
use std::path::PathBuf;

fn main() {
    const SRC: &str = "c/benchlib.c";
    println!("cargo:rerun-if-changed={SRC}");
    println!("cargo:rerun-if-changed=build.rs");

    let mut build = cc::Build::new();
    build.file(SRC).opt_level(2);
    let compiler = build.get_compiler();
    build.compile("benchlib");

    let so =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("libbenchlib.so");
    let status = compiler
        .to_command()
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&so)
        .arg(SRC)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {:?}: {e}", compiler.path()));
    assert!(
        status.success(),
        "compiling {SRC} into {} failed",
        so.display()
    );
    println!("cargo:rustc-env=BENCH_LIB_SO={}", so.display());
}
