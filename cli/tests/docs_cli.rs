//! `hwkit completions` and `hwkit man`: the scripts load in their shells and complete real
//! subcommands; every manual page renders without a groff warning.

mod common;

use std::process::Command;

use common::{hwkit, ok};

fn stdout_of(args: &[&str]) -> String {
    ok(&hwkit(args))
}

/// What bash's completion function offers for the words of a command line being typed.
fn bash_completes(script: &str, words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hwkit.bash");
    std::fs::write(&path, script).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let probe = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; \
         _hwkit hwkit '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display(),
        quoted.join(" "),
        words.len() - 1,
        line.len(),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash").arg("-c").arg(probe).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_options() {
    let script = stdout_of(&["completions", "bash"]);
    assert_eq!(bash_completes(&script, &["hwkit", "gp"]), ["gpio"]);
    let gpio = bash_completes(&script, &["hwkit", "gpio", ""]);
    for sub in ["detect", "info", "get", "set", "mon", "notify", "find"] {
        assert!(gpio.iter().any(|w| w == sub), "{sub} not in {gpio:?}");
    }
    let get = bash_completes(&script, &["hwkit", "gpio", "get", "--"]);
    assert!(get.iter().any(|w| w == "--active-low"), "{get:?}");
}

/// Runs `program ARGS FILE`, which must succeed without a word on stderr (a shell's parser,
/// groff with every warning on).
fn accepts(program: &str, args: &[&str], file: &std::path::Path) {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed (scripts/install-deps.sh): {e}"));
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{program} rejects {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks a script with its shell's own parser (`zsh -n`, `fish --no-execute`).
fn parses_in(shell: &str, flag: &str, script: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script");
    std::fs::write(&path, script).unwrap();
    accepts(shell, &[flag], &path);
}

#[test]
fn zsh_and_fish_scripts_parse_and_name_the_commands() {
    let zsh = stdout_of(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef hwkit"), "{}", &zsh[..40]);
    assert!(
        zsh.contains("'gpio:"),
        "no gpio subcommand in the zsh script"
    );
    parses_in("zsh", "-n", &zsh);
    let fish = stdout_of(&["completions", "fish"]);
    assert!(
        fish.contains("complete -c hwkit") && fish.contains("-a \"gpio\""),
        "{fish}"
    );
    parses_in("fish", "--no-execute", &fish);
}

#[test]
fn an_unknown_shell_names_the_supported_ones() {
    let out = hwkit(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("invalid value 'tcsh'")
            && err.contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{err}"
    );
}

/// The number of visible (sub)commands, `help` excepted: one page each.
fn visible_commands() -> usize {
    let help = stdout_of(&["--help"]);
    let mut n = 1;
    for top in [
        "ffi",
        "gpio",
        "managed",
        "pinout",
        "bench",
        "vm",
        "completions",
        "man",
    ] {
        assert!(help.contains(&format!("  {top} ")), "{top} not in {help}");
        n += 1;
    }
    for nested in ["ffi", "gpio", "managed"] {
        let h = stdout_of(&[nested, "--help"]);
        let commands = h
            .split("Commands:")
            .nth(1)
            .and_then(|s| s.split("Options:").next())
            .unwrap();
        n += commands
            .lines()
            .filter(|l| l.starts_with("  ") && !l.trim_start().starts_with("help "))
            .count();
    }
    n
}

#[test]
fn every_manual_page_renders_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out = hwkit(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    assert_eq!(pages.len(), visible_commands(), "{pages:?}");
    for page in [
        "hwkit.1",
        "hwkit-gpio.1",
        "hwkit-gpio-get.1",
        "hwkit-ffi-call.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page} not in {pages:?}");
    }
    for page in &pages {
        accepts(
            "groff",
            &["-man", "-Tutf8", "-ww", "-z"],
            &dir.path().join(page),
        );
    }
}

#[test]
fn one_page_is_printed_with_its_options() {
    let page = stdout_of(&["man", "gpio", "get"]);
    assert!(page.contains(".TH hwkit-gpio-get 1"), "{}", &page[..200]);
    assert!(page.contains("active\\-low"), "no --active-low in the page");
    assert!(stdout_of(&["man"]).contains(".TH hwkit 1"));
}

#[test]
fn a_page_for_an_unknown_command_names_the_known_ones() {
    let out = hwkit(&["man", "gpio", "toggle"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "hwkit: `hwkit gpio` has no subcommand `toggle`; its subcommands are: \
         detect, info, get, set, mon, notify, find\n"
    );
    let out = hwkit(&["man", "ffi", "call", "x"]);
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "hwkit: `hwkit ffi call` has no subcommands, so no page for `x`\n"
    );
}

#[test]
fn an_unwritable_directory_is_named() {
    let out = hwkit(&["man", "--out-dir", "/proc/hwkit-man"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("hwkit: cannot create /proc/hwkit-man: "),
        "{err}"
    );
}
