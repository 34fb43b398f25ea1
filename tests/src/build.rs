//! Building the workspace's VM tests: every `vm_*` integration-test target of a package
//! with a `vm` feature, through `cargo test --no-run --message-format=json`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::arch::{Arch, Machine};
use crate::buildroot::BuildRoot;
use crate::error::{Error, Result};
use crate::host::run_text;

/// Prefix of VM test target names (DEVELOPERS.md).
pub const VM_PREFIX: &str = "vm_";
/// Prefix of the VM test targets that need a real Raspberry Pi GPIO driver: they run on
/// the `raspi3b` machine only, and it runs only them (DEVELOPERS.md).
pub const PI_PREFIX: &str = "vm_pi_";
/// What `{gnu}` in a package's include paths stands for: the guest's GNU triplet.
pub const GNU_PLACEHOLDER: &str = "{gnu}";
/// The feature that gates VM tests.
pub const VM_FEATURE: &str = "vm";

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// Workspace root (where `cargo` runs).
    pub workspace: PathBuf,
    /// Packages to take VM tests from; empty: every package that has them.
    pub packages: Vec<String>,
    /// Test targets to build; empty: every `vm_*` target of those packages.
    pub tests: Vec<String>,
    /// Build with `--release` (default: the `test` profile, like `cargo test`).
    pub release: bool,
    /// The machine the tests will run on: its architecture is the build's target, and it
    /// decides which targets run (`vm_pi_*` on the Raspberry Pi only, the others elsewhere).
    pub machine: Machine,
}

/// One built VM test executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestBinary {
    /// Target name, e.g. `vm_smoke`.
    pub name: String,
    /// Package name.
    pub package: String,
    /// The package's directory (`CARGO_MANIFEST_DIR`, and the test's working directory).
    pub manifest_dir: PathBuf,
    /// The executable.
    pub executable: PathBuf,
}

impl TestBinary {
    /// `package/target`: unique in a workspace, where target names alone may repeat.
    pub fn label(&self) -> String {
        format!("{}/{}", self.package, self.name)
    }
}

/// The result of a build.
#[derive(Debug, Clone, Default)]
pub struct Built {
    /// The test executables, in cargo's order.
    pub tests: Vec<TestBinary>,
    /// Binary targets built alongside (`CARGO_BIN_EXE_*` of the tests), e.g. `hwkit`.
    pub bins: Vec<PathBuf>,
    /// `OUT_DIR`s of workspace build scripts (libraries tests may load at run time).
    pub out_dirs: Vec<PathBuf>,
    /// Extra paths the packages ask for in `[package.metadata.hwkit-testbed] include`,
    /// `{gnu}` replaced by the target's GNU triplet: guest paths, which are host paths
    /// too for a host-architecture build, and paths in the build root for a foreign one.
    pub includes: Vec<PathBuf>,
    /// Other Debian releases' libraries the packages ask for in
    /// `[package.metadata.hwkit-testbed] debian-libs` (see [`crate::debian_libs`]).
    pub debian_libs: Vec<crate::debian_libs::DebianLib>,
    /// Other Debian releases' programs the packages ask for in
    /// `[package.metadata.hwkit-testbed] debian-bins` (see [`crate::debian_bins`]).
    pub debian_bins: Vec<crate::debian_bins::DebianBins>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Package {
    id: String,
    name: String,
    manifest_path: PathBuf,
    #[serde(default)]
    features: BTreeMap<String, Vec<String>>,
    targets: Vec<Target>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// A package's VM test targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmPackage {
    /// Package name.
    pub name: String,
    /// Its `vm_*` test targets.
    pub tests: Vec<String>,
    /// Its `[package.metadata.hwkit-testbed] include` paths (`{gnu}` not yet replaced).
    pub includes: Vec<PathBuf>,
    /// Its `include-<arch>` lists (e.g. `include-aarch64`), which replace `include` for
    /// that architecture.
    pub arch_includes: BTreeMap<String, Vec<PathBuf>>,
    /// Its `debian-libs` entries, `SUITE/PACKAGE/SONAME` (see [`crate::debian_libs`]).
    pub debian_libs: Vec<String>,
    /// Its `debian-bins` entries, `SUITE/PACKAGE` (see [`crate::debian_bins`]).
    pub debian_bins: Vec<String>,
    /// Its `bins` table: for a test target, the other workspace packages whose binaries it
    /// runs (cargo builds only a test's own package's binaries); the bed builds them when the
    /// test is chosen and packs them in the tests' profile directory (`target/<profile>/`).
    pub bins: BTreeMap<String, Vec<String>>,
}

impl VmPackage {
    /// The include paths for `arch`: its `include-<arch>` list if it has one, else
    /// `include`, with `{gnu}` replaced.
    pub fn includes_for(&self, arch: Arch) -> Vec<PathBuf> {
        self.arch_includes
            .get(arch.name())
            .unwrap_or(&self.includes)
            .iter()
            .map(|i| include_for(i, arch))
            .collect()
    }
}

/// Whether VM test target `name` runs on `machine` (the `vm_pi_*` convention).
pub fn runs_on(name: &str, machine: Machine) -> bool {
    name.starts_with(PI_PREFIX) == machine.is_raspberry_pi()
}

/// Why explicitly asked-for target `name` cannot run on `machine`.
fn wrong_machine(name: &str, machine: Machine) -> String {
    if name.starts_with(PI_PREFIX) {
        format!(
            "`{name}` needs the Raspberry Pi's real GPIO driver ({PI_PREFIX}* targets): run it \
             with --machine raspi3b, not on {machine}"
        )
    } else {
        format!(
            "`{name}` runs on the pc and virt machines: {machine} runs only the {PI_PREFIX}* \
             targets; drop --machine {machine} or use --arch aarch64"
        )
    }
}

/// An include path for `arch`: `{gnu}` replaced by its GNU triplet.
pub fn include_for(path: &Path, arch: Arch) -> PathBuf {
    PathBuf::from(path.to_string_lossy().replace(GNU_PLACEHOLDER, arch.gnu()))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The root of the workspace containing `dir`.
pub fn workspace_root(dir: &Path) -> Result<PathBuf> {
    let out = run_text(
        Command::new(cargo())
            .args(["locate-project", "--workspace", "--message-format", "plain"])
            .current_dir(dir),
    )?;
    let manifest = PathBuf::from(out.trim());
    manifest
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::Build(format!("odd workspace manifest path `{}`", out.trim())))
}

/// Lists the workspace packages that have VM tests (a `vm` feature and `vm_*` test targets).
pub fn vm_packages(workspace: &Path) -> Result<Vec<VmPackage>> {
    let text = run_text(
        Command::new(cargo())
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .current_dir(workspace),
    )?;
    let meta: Metadata = serde_json::from_str(&text)
        .map_err(|e| Error::Build(format!("cannot read cargo metadata: {e}")))?;
    Ok(meta
        .packages
        .iter()
        .filter(|p| meta.workspace_members.contains(&p.id) && p.features.contains_key(VM_FEATURE))
        .map(|p| VmPackage {
            name: p.name.clone(),
            tests: p
                .targets
                .iter()
                .filter(|t| t.kind.iter().any(|k| k == "test") && t.name.starts_with(VM_PREFIX))
                .map(|t| t.name.clone())
                .collect(),
            includes: includes_of(p, "include"),
            arch_includes: Arch::ALL
                .iter()
                .map(|a| format!("include-{a}"))
                .filter(|key| {
                    p.metadata
                        .as_ref()
                        .and_then(|m| m.get("hwkit-testbed"))
                        .is_some_and(|m| m.get(key).is_some())
                })
                .map(|key| {
                    let list = includes_of(p, &key);
                    (key.trim_start_matches("include-").to_string(), list)
                })
                .collect(),
            debian_libs: strings_of(p, "debian-libs"),
            debian_bins: strings_of(p, "debian-bins"),
            bins: bins_of(p),
        })
        .filter(|p| !p.tests.is_empty())
        .collect())
}

fn strings_of(p: &Package, key: &str) -> Vec<String> {
    p.metadata
        .as_ref()
        .and_then(|m| m.get("hwkit-testbed"))
        .and_then(|m| m.get(key))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// `bins = { vm_test = ["package", ...] }`.
fn bins_of(p: &Package) -> BTreeMap<String, Vec<String>> {
    p.metadata
        .as_ref()
        .and_then(|m| m.get("hwkit-testbed"))
        .and_then(|m| m.get("bins"))
        .and_then(|v| v.as_object())
        .map(|o| {
            o.iter()
                .map(|(test, list)| {
                    let names = list
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str())
                                .map(String::from)
                                .collect()
                        })
                        .unwrap_or_default();
                    (test.clone(), names)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn includes_of(p: &Package, key: &str) -> Vec<PathBuf> {
    let dir = p.manifest_path.parent().unwrap_or(Path::new("/"));
    strings_of(p, key).iter().map(|s| dir.join(s)).collect()
}

/// Checks the request against what the workspace has; returns the packages and tests to
/// build.
pub fn select(all: &[VmPackage], req: &BuildRequest) -> Result<Vec<VmPackage>> {
    let with_tests: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
    let mut chosen: Vec<VmPackage> = if req.packages.is_empty() {
        all.to_vec()
    } else {
        req.packages
            .iter()
            .map(|name| {
                all.iter().find(|p| &p.name == name).cloned().ok_or_else(|| {
                    Error::Usage(format!(
                        "package `{name}` has no VM tests (a `{VM_FEATURE}` feature and `{VM_PREFIX}*` test \
                         targets); packages with VM tests: {}",
                        with_tests.join(", ")
                    ))
                })
            })
            .collect::<Result<_>>()?
    };
    if !req.tests.is_empty() {
        for t in &req.tests {
            if !chosen.iter().any(|p| p.tests.contains(t)) {
                let known: Vec<&str> = chosen
                    .iter()
                    .flat_map(|p| p.tests.iter().map(String::as_str))
                    .collect();
                return Err(Error::Usage(format!(
                    "no VM test target named `{t}`; the VM test targets are: {}",
                    known.join(", ")
                )));
            }
            if !runs_on(t, req.machine) {
                return Err(Error::Usage(wrong_machine(t, req.machine)));
            }
        }
        for p in &mut chosen {
            p.tests.retain(|t| req.tests.contains(t));
        }
    }
    let had_tests = chosen.iter().any(|p| !p.tests.is_empty());
    for p in &mut chosen {
        p.tests.retain(|t| runs_on(t, req.machine));
    }
    chosen.retain(|p| !p.tests.is_empty());
    if chosen.is_empty() && had_tests {
        let what = if req.machine.is_raspberry_pi() {
            format!("`{PI_PREFIX}*` targets, the only ones it runs")
        } else {
            format!("`{VM_PREFIX}*` targets other than `{PI_PREFIX}*`")
        };
        return Err(Error::Usage(format!(
            "nothing to run on {}: the selected packages have no {what}",
            req.machine
        )));
    }
    if chosen.is_empty() {
        return Err(Error::Build(format!(
            "the workspace has no VM tests (integration tests named `{VM_PREFIX}*` in a package with a \
             `{VM_FEATURE}` feature)"
        )));
    }
    Ok(chosen)
}

/// The `cargo test --no-run` command for `chosen`: the host's cargo for a machine of the
/// host's architecture, else the build root's (which cross-compiles into
/// `target/cross/<triple>/`).
pub fn cargo_command(req: &BuildRequest, chosen: &[VmPackage]) -> Result<Command> {
    let mut cmd = cargo_for(req, &["test", "--no-run"])?;
    cargo_args(&mut cmd, chosen);
    Ok(cmd)
}

/// `cargo SUBCOMMAND... --message-format=json-render-diagnostics [--release]` for the
/// request's target (the host's cargo, or the build root's for another architecture), run
/// in the workspace.
fn cargo_for(req: &BuildRequest, subcommand: &[&str]) -> Result<Command> {
    let arch = req.machine.arch();
    let mut cmd = if arch == Arch::host() {
        Command::new(cargo())
    } else {
        BuildRoot::ensure()?.cargo(&req.workspace, arch)
    };
    cmd.current_dir(&req.workspace)
        .args(subcommand)
        .arg("--message-format=json-render-diagnostics");
    if req.release {
        cmd.arg("--release");
    }
    Ok(cmd)
}

/// The packages the chosen tests list in `bins` whose binary the test build has not
/// already made (it has when the package's own tests are in the run: a binary named as its
/// package, as hwkitd's is), each once.
pub fn bins_to_build(chosen: &[VmPackage], built: &Built) -> Vec<String> {
    let mut bins: Vec<String> = Vec::new();
    let wanted = chosen
        .iter()
        .flat_map(|p| p.tests.iter().filter_map(|t| p.bins.get(t)))
        .flatten();
    for b in wanted {
        let built_already = built
            .bins
            .iter()
            .any(|exe| exe.file_name().is_some_and(|n| n == b.as_str()));
        if !bins.contains(b) && !built_already {
            bins.push(b.clone());
        }
    }
    bins
}

/// The `cargo build` of the workspace packages `packages`' binaries, for the same target
/// and profile as the tests ([`cargo_command`]).
pub fn bins_command(req: &BuildRequest, packages: &[String]) -> Result<Command> {
    let mut cmd = cargo_for(req, &["build", "--bins"])?;
    for p in packages {
        cmd.arg("-p").arg(p);
    }
    Ok(cmd)
}

/// Adds the features and test targets of `chosen` to a `cargo test --no-run` command.
fn cargo_args(cmd: &mut Command, chosen: &[VmPackage]) {
    let mut features = Vec::new();
    let mut tests: Vec<&str> = Vec::new();
    for p in chosen {
        cmd.arg("-p").arg(&p.name);
        features.push(format!("{}/{VM_FEATURE}", p.name));
        for t in &p.tests {
            if !tests.contains(&t.as_str()) {
                tests.push(t);
            }
        }
    }
    cmd.arg("--features").arg(features.join(","));
    for t in tests {
        cmd.arg("--test").arg(t);
    }
}

#[derive(Debug, Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    package_id: String,
    #[serde(default)]
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    profile: Option<Profile>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    out_dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct Profile {
    test: bool,
}

/// Builds the VM tests, and the binaries their packages list in `bins`; compiler output
/// goes to stderr as usual.
pub fn build(req: &BuildRequest) -> Result<Built> {
    let all = vm_packages(&req.workspace)?;
    let chosen = select(&all, req)?;
    let mut built = Built::default();
    run_cargo(
        cargo_command(req, &chosen)?,
        &mut built,
        &req.workspace,
        &chosen,
    )?;
    let bins = bins_to_build(&chosen, &built);
    if !bins.is_empty() {
        run_cargo(
            bins_command(req, &bins)?,
            &mut built,
            &req.workspace,
            &chosen,
        )?;
    }
    let arch = req.machine.arch();
    built.includes = chosen.iter().flat_map(|p| p.includes_for(arch)).collect();
    for entry in chosen.iter().flat_map(|p| &p.debian_libs) {
        let lib = entry.parse()?;
        if !built.debian_libs.contains(&lib) {
            built.debian_libs.push(lib);
        }
    }
    for entry in chosen.iter().flat_map(|p| &p.debian_bins) {
        let bins = entry.parse()?;
        if !built.debian_bins.contains(&bins) {
            built.debian_bins.push(bins);
        }
    }
    if built.tests.is_empty() {
        return Err(Error::Build("cargo built no VM test executable".into()));
    }
    Ok(built)
}

/// Runs one cargo command with JSON messages, collecting what it built into `built`.
fn run_cargo(
    mut cmd: Command,
    built: &mut Built,
    workspace: &Path,
    chosen: &[VmPackage],
) -> Result<()> {
    eprintln!("testbed: {}", crate::host::show(&cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| Error::Build(format!("cannot run cargo: {e}")))?;
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| Error::Build(format!("reading cargo's output: {e}")))?;
        let Ok(msg) = serde_json::from_str::<Message>(&line) else {
            continue;
        };
        collect(built, msg, workspace, chosen);
    }
    let status = child
        .wait()
        .map_err(|e| Error::Build(format!("cargo: {e}")))?;
    if !status.success() {
        return Err(Error::Build(format!(
            "{} failed ({status})",
            crate::host::show(&cmd)
        )));
    }
    Ok(())
}

fn collect(built: &mut Built, msg: Message, workspace: &Path, chosen: &[VmPackage]) {
    let in_workspace = msg
        .manifest_path
        .as_ref()
        .is_some_and(|m| m.starts_with(workspace))
        || msg.package_id.starts_with("path+file://")
            && msg.package_id.contains(&*workspace.to_string_lossy());
    match msg.reason.as_str() {
        "compiler-artifact" => {
            let (Some(target), Some(exe)) = (msg.target, msg.executable) else {
                return;
            };
            let is_test =
                msg.profile.is_some_and(|p| p.test) && target.kind.iter().any(|k| k == "test");
            if is_test && chosen.iter().any(|p| p.tests.contains(&target.name)) {
                let manifest = msg.manifest_path.unwrap_or_default();
                let package = package_name(&msg.package_id).unwrap_or_default();
                built.tests.push(TestBinary {
                    name: target.name,
                    package,
                    manifest_dir: manifest.parent().map(Path::to_path_buf).unwrap_or_default(),
                    executable: exe,
                });
            } else if target.kind.iter().any(|k| k == "bin") && !built.bins.contains(&exe) {
                built.bins.push(exe);
            }
        }
        "build-script-executed" if in_workspace => {
            if let Some(d) = msg.out_dir {
                built.out_dirs.push(d);
            }
        }
        _ => {}
    }
}

/// The package name in a cargo package id (`path+file:///work/main/tests#hwkit-testbed@0.1.0`
/// or the older `hwkit-testbed 0.1.0 (path+file://...)`).
pub fn package_name(id: &str) -> Option<String> {
    if let Some((_, frag)) = id.split_once('#') {
        let name = frag.split('@').next()?;
        // `path+file:///x/foo#0.1.0` leaves the name in the path.
        if name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return id.split_once('#')?.0.rsplit('/').next().map(str::to_string);
        }
        return Some(name.to_string());
    }
    id.split_whitespace().next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkgs() -> Vec<VmPackage> {
        vec![
            VmPackage {
                name: "hw".into(),
                tests: vec!["vm_lines".into(), "vm_events".into()],
                includes: vec![],
                arch_includes: BTreeMap::new(),
                debian_libs: vec![],
                debian_bins: vec![],
                bins: BTreeMap::new(),
            },
            VmPackage {
                name: "hwkit-testbed".into(),
                tests: vec!["vm_smoke".into()],
                includes: vec![],
                arch_includes: BTreeMap::new(),
                debian_libs: vec![],
                debian_bins: vec![],
                bins: BTreeMap::new(),
            },
        ]
    }

    fn with_pi() -> Vec<VmPackage> {
        let mut all = pkgs();
        all.push(VmPackage {
            name: "hwkit".into(),
            tests: vec!["vm_gpio_cli".into(), "vm_pi_raspi3b".into()],
            includes: vec!["/usr/lib/{gnu}/libgpiod.so.2".into()],
            arch_includes: [("armv7".to_string(), vec![])].into_iter().collect(),
            debian_libs: vec![],
            debian_bins: vec![],
            bins: BTreeMap::new(),
        });
        all
    }

    #[test]
    fn pi_targets_run_on_the_pi_only_and_the_others_everywhere_else() {
        let on = |machine| {
            let req = BuildRequest {
                machine,
                ..Default::default()
            };
            select(&with_pi(), &req)
                .unwrap()
                .iter()
                .flat_map(|p| p.tests.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(on(Machine::Raspi3b), ["vm_pi_raspi3b"]);
        for m in [Machine::Pc, Machine::Virt] {
            assert_eq!(
                on(m),
                ["vm_lines", "vm_events", "vm_smoke", "vm_gpio_cli"],
                "{m}"
            );
        }
    }

    #[test]
    fn a_target_asked_for_on_the_wrong_machine_is_refused() {
        let req = BuildRequest {
            tests: vec!["vm_pi_raspi3b".into()],
            machine: Machine::Virt,
            ..Default::default()
        };
        let e = select(&with_pi(), &req).unwrap_err().to_string();
        assert!(
            e.contains("`vm_pi_raspi3b` needs the Raspberry Pi's real GPIO driver")
                && e.contains("--machine raspi3b"),
            "{e}"
        );
        let req = BuildRequest {
            tests: vec!["vm_lines".into()],
            machine: Machine::Raspi3b,
            ..Default::default()
        };
        let e = select(&with_pi(), &req).unwrap_err().to_string();
        assert!(
            e.contains("`vm_lines` runs on the pc and virt machines"),
            "{e}"
        );
        let req = BuildRequest {
            packages: vec!["hw".into()],
            machine: Machine::Raspi3b,
            ..Default::default()
        };
        let e = select(&with_pi(), &req).unwrap_err().to_string();
        assert!(
            e.contains("nothing to run on raspi3b") && e.contains("`vm_pi_*`"),
            "{e}"
        );
    }

    #[test]
    fn an_arch_specific_include_list_replaces_the_general_one() {
        let hwkit = with_pi().pop().unwrap();
        assert_eq!(
            hwkit.includes_for(Arch::Aarch64),
            [Path::new("/usr/lib/aarch64-linux-gnu/libgpiod.so.2")]
        );
        assert!(hwkit.includes_for(Arch::Armv7).is_empty());
    }

    #[test]
    fn includes_name_the_targets_library_directory() {
        let p = Path::new("/usr/lib/{gnu}/libgpiod.so.2");
        assert_eq!(
            include_for(p, Arch::Aarch64),
            Path::new("/usr/lib/aarch64-linux-gnu/libgpiod.so.2")
        );
        assert_eq!(
            include_for(p, Arch::X86_64),
            Path::new("/usr/lib/x86_64-linux-gnu/libgpiod.so.2")
        );
    }

    #[test]
    fn selection_defaults_to_everything() {
        let req = BuildRequest::default();
        assert_eq!(select(&pkgs(), &req).unwrap(), pkgs());
    }

    #[test]
    fn selection_narrows_by_package_and_test() {
        let req = BuildRequest {
            packages: vec!["hw".into()],
            tests: vec!["vm_events".into()],
            ..Default::default()
        };
        let got = select(&pkgs(), &req).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].tests, vec!["vm_events"]);
        let req = BuildRequest {
            tests: vec!["vm_smoke".into()],
            ..Default::default()
        };
        assert_eq!(select(&pkgs(), &req).unwrap()[0].name, "hwkit-testbed");
    }

    #[test]
    fn bad_selections_are_explained() {
        let req = BuildRequest {
            packages: vec!["ffi-core".into()],
            ..Default::default()
        };
        let e = select(&pkgs(), &req).unwrap_err().to_string();
        assert!(
            e.contains("`ffi-core` has no VM tests") && e.contains("hw, hwkit-testbed"),
            "{e}"
        );
        let req = BuildRequest {
            packages: vec!["hw".into()],
            tests: vec!["vm_smoke".into()],
            ..Default::default()
        };
        let e = select(&pkgs(), &req).unwrap_err().to_string();
        assert!(
            e.contains("no VM test target named `vm_smoke`") && e.contains("vm_lines"),
            "{e}"
        );
        let e = select(&[], &BuildRequest::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no VM tests"), "{e}");
    }

    #[test]
    fn cargo_command_enables_each_vm_feature() {
        let req = BuildRequest {
            workspace: "/w".into(),
            release: true,
            ..Default::default()
        };
        let cmd = cargo_command(&req, &pkgs()).unwrap();
        let args = crate::host::args_of(&cmd);
        assert_eq!(
            args.join(" "),
            "test --no-run --message-format=json-render-diagnostics --release -p hw -p hwkit-testbed \
             --features hw/vm,hwkit-testbed/vm --test vm_lines --test vm_events --test vm_smoke"
        );
    }

    #[test]
    fn other_packages_binaries_are_built_once_unless_built_already() {
        let mut chosen = pkgs();
        let t0 = chosen[0].tests[0].clone();
        let t1 = chosen[1].tests[0].clone();
        chosen[0].bins = [(t0, vec!["hwkitd".into()])].into();
        chosen[1].bins = [
            (t1, vec!["hwkitd".into(), "other".into()]),
            ("vm_not_chosen".into(), vec!["unwanted".into()]),
        ]
        .into();
        let mut built = Built::default();
        assert_eq!(bins_to_build(&chosen, &built), ["hwkitd", "other"]);
        built.bins.push("/t/release/hwkitd".into());
        assert_eq!(bins_to_build(&chosen, &built), ["other"]);
        let req = BuildRequest {
            workspace: "/w".into(),
            release: true,
            ..Default::default()
        };
        let cmd = bins_command(&req, &["hwkitd".into()]).unwrap();
        let args = crate::host::args_of(&cmd);
        assert_eq!(
            args.join(" "),
            "build --bins --message-format=json-render-diagnostics --release -p hwkitd"
        );
    }

    #[test]
    fn bins_are_read_per_test() {
        let p: Package = serde_json::from_str(
            r#"{"id":"x","name":"hwkit","manifest_path":"/w/cli/Cargo.toml","targets":[],
                "metadata":{"hwkit-testbed":{"bins":{"vm_managed_cli":["hwkitd"]}}}}"#,
        )
        .unwrap();
        assert_eq!(
            bins_of(&p),
            BTreeMap::from([("vm_managed_cli".to_owned(), vec!["hwkitd".to_owned()])])
        );
    }

    #[test]
    fn package_ids_of_both_formats() {
        assert_eq!(
            package_name("path+file:///work/main/tests#hwkit-testbed@0.1.0").unwrap(),
            "hwkit-testbed"
        );
        assert_eq!(
            package_name("path+file:///work/main/hw#0.1.0").unwrap(),
            "hw"
        );
        assert_eq!(
            package_name("hw 0.1.0 (path+file:///work/main/hw)").unwrap(),
            "hw"
        );
    }

    #[test]
    fn artifacts_are_sorted_into_tests_and_bins() {
        let ws = Path::new("/work/main");
        let chosen = pkgs();
        let mut built = Built::default();
        let lines = [
            r#"{"reason":"compiler-artifact","package_id":"path+file:///work/main/tests#hwkit-testbed@0.1.0","manifest_path":"/work/main/tests/Cargo.toml","target":{"name":"vm_smoke","kind":["test"]},"profile":{"test":true},"executable":"/t/debug/deps/vm_smoke-1"}"#,
            r#"{"reason":"compiler-artifact","package_id":"path+file:///work/main/cli#hwkit@0.1.0","manifest_path":"/work/main/cli/Cargo.toml","target":{"name":"hwkit","kind":["bin"]},"profile":{"test":false},"executable":"/t/debug/hwkit"}"#,
            r#"{"reason":"compiler-artifact","package_id":"registry+x#libc@0.2","manifest_path":"/r/libc/Cargo.toml","target":{"name":"libc","kind":["lib"]},"profile":{"test":false},"executable":null}"#,
            r#"{"reason":"build-script-executed","package_id":"path+file:///work/main/ffi-core#0.1.0","out_dir":"/t/debug/build/ffi-core-1/out"}"#,
            r#"{"reason":"build-script-executed","package_id":"registry+x#libc@0.2","out_dir":"/t/debug/build/libc-1/out"}"#,
        ];
        for l in lines {
            collect(&mut built, serde_json::from_str(l).unwrap(), ws, &chosen);
        }
        assert_eq!(
            built.tests,
            vec![TestBinary {
                name: "vm_smoke".into(),
                package: "hwkit-testbed".into(),
                manifest_dir: "/work/main/tests".into(),
                executable: "/t/debug/deps/vm_smoke-1".into(),
            }]
        );
        assert_eq!(built.bins, vec![PathBuf::from("/t/debug/hwkit")]);
        assert_eq!(
            built.out_dirs,
            vec![PathBuf::from("/t/debug/build/ffi-core-1/out")]
        );
    }
}
