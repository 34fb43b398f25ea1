//! Compiles the C libraries ffi-core's tests call into shared objects in OUT_DIR, and
//! exports their paths as `FFI_TEST_LIB_<NAME>` for the tests (`env!`). One of them, the
//! differential test's, is generated first (see build/differential.rs).

use std::env;
use std::path::{Path, PathBuf};

#[path = "build/differential.rs"]
mod differential;

const LIBS: &[(&str, &str)] = &[
    ("INT_TYPES", "ffi_int_types"),
    ("MYLIB", "mylib"),
    ("TESTLIB", "testlib"),
];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // cc knows the target's C compiler and flags; it builds static archives only, so the
    // shared objects are linked by running that compiler with -shared -fPIC.
    let compiler = cc::Build::new().opt_level(2).get_compiler();
    for (var, name) in LIBS {
        let src = format!("c/{name}.c");
        println!("cargo:rerun-if-changed={src}");
        compile(
            &compiler,
            var,
            Path::new(&src),
            &out.join(format!("lib{name}.so")),
        );
    }
    differential::generate(&out);
    compile(
        &compiler,
        "DIFFERENTIAL",
        &out.join("differential.c"),
        &out.join("libdifferential.so"),
    );
    println!(
        "cargo:rustc-env=FFI_DIFFERENTIAL_SIGNATURES={}",
        out.join("differential_signatures.rs").display()
    );
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/differential.rs");
    println!("cargo:rerun-if-changed=build/splitmix.rs");
}

/// Compiles `src` into the shared object `so` and exports its path as `FFI_TEST_LIB_<var>`.
fn compile(compiler: &cc::Tool, var: &str, src: &Path, so: &Path) {
    let status = compiler
        .to_command()
        .args(["-shared", "-fPIC", "-pthread", "-Wall", "-o"])
        .arg(so)
        .arg(src)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {:?}: {e}", compiler.path()));
    assert!(
        status.success(),
        "compiling {} into {} failed",
        src.display(),
        so.display()
    );
    println!("cargo:rustc-env=FFI_TEST_LIB_{var}={}", so.display());
}
