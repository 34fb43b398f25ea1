//! `hwkit gpio set --interactive`: `gpioset`'s prompt. Commands `get [LINE]...`,
//! `set LINE=VALUE...`, `toggle [LINE]...`, `sleep PERIOD`, `help` and `exit` act on the lines
//! the command holds and answer as `gpioset -i` does, word for word. On a terminal the prompt
//! has line editing, a history of 20 commands and tab completion (commands, then the held
//! lines' names, then values after `=`), through rustyline; otherwise (a pipe, a script)
//! lines are read as they come, with the prompt printed on stdout as gpioset prints it.
//! End of input and Ctrl-C end it like `exit`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use hw::Value;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Config, Context, Editor, Helper};

use super::period::parse_period;
use super::set::{parse_assignment, Held};
use crate::CmdResult;

/// The prompt, as gpioset's.
pub(super) const PROMPT: &str = "gpioset> ";

const COMMANDS: [&str; 6] = ["get", "set", "toggle", "sleep", "help", "exit"];
const VALUES: [&str; 8] = ["1", "0", "active", "inactive", "on", "off", "true", "false"];

const HELP: &str = "COMMANDS:

    exit
        Exit the program
    get [line]...
        Display the output values of the given requested lines

        If no lines are specified then all requested lines are displayed

    help
        Print this help

    set <line=value>...
        Update the output values of the given requested lines

    sleep <period>
        Sleep for the specified period

    toggle [line]...
        Toggle the output values of the given requested lines

        If no lines are specified then all requested lines are toggled
";

/// Reads and runs commands until `exit`, end of input or Ctrl-C.
pub(super) fn run(held: &mut Held, unquoted: bool) -> CmdResult {
    if std::io::stdin().is_terminal() {
        let config = Config::builder()
            .max_history_size(20)
            .map_err(|e| format!("setting up the prompt: {e}"))?
            .auto_add_history(false)
            .history_ignore_dups(true)
            .map_err(|e| format!("setting up the prompt: {e}"))?
            .build();
        let mut rl: Editor<LineIds, DefaultHistory> =
            Editor::with_config(config).map_err(|e| format!("setting up the prompt: {e}"))?;
        rl.set_helper(Some(LineIds(held.ids.clone())));
        loop {
            match rl.readline(PROMPT) {
                Ok(line) => {
                    let (done, keep) = command(held, &line, unquoted)?;
                    // The history skips a repeat of its last entry (ignore_dups).
                    if keep {
                        let _ = rl.add_history_entry(line.trim());
                    }
                    if done {
                        break;
                    }
                }
                Err(ReadlineError::Eof | ReadlineError::Interrupted) => break,
                Err(e) => return Err(format!("reading a command: {e}").into()),
            }
        }
    } else {
        let mut stdin = std::io::stdin().lock();
        loop {
            print!("{PROMPT}");
            std::io::stdout()
                .flush()
                .map_err(|e| format!("writing: {e}"))?;
            let mut line = String::new();
            if stdin
                .read_line(&mut line)
                .map_err(|e| format!("reading a command: {e}"))?
                == 0
            {
                break;
            }
            if command(held, &line, unquoted)?.0 {
                break;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one command line, printing its answer: `(exit now, worth keeping in history)`.
fn command(held: &mut Held, line: &str, unquoted: bool) -> Result<(bool, bool), String> {
    // Trailing white space (the newline of a piped line) is no part of the last word.
    let words = split_words(line.trim_end());
    let Some((cmd, args)) = words.split_first() else {
        return Ok((false, false));
    };
    let mut out = String::new();
    if words.len() > held.ids.len() + 1 {
        out.push_str("too many command parameters provided\n");
        print!("{out}");
        return Ok((false, false));
    }
    match cmd.as_str() {
        "get" => match known(held, args, &mut out) {
            Some(ids) if ids.is_empty() => out.push_str(&values(held, 0..held.ids.len(), unquoted)),
            Some(ids) => out.push_str(&values(held, ids, unquoted)),
            None => {}
        },
        "set" if args.is_empty() => {
            out.push_str("at least one GPIO line value must be specified\n")
        }
        "set" => {
            let mut pairs = Vec::new();
            for a in args {
                match parse_assignment(a) {
                    Ok(p) => pairs.push(p),
                    Err(_) => {
                        // gpioset names the word without '=', or else the value.
                        let bad = a.split_once('=').map_or(a.as_str(), |(_, v)| v);
                        out.push_str(&format!("invalid line value: '{bad}'\n"));
                        break;
                    }
                }
            }
            if pairs.len() == args.len() {
                let names: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
                if let Some(ids) = known(held, &names, &mut out) {
                    for (i, (_, v)) in ids.into_iter().zip(&pairs) {
                        held.values[i] = *v;
                    }
                    held.apply().map_err(|e| e.to_string())?;
                }
            }
        }
        "toggle" => {
            match known(held, args, &mut out) {
                Some(ids) if ids.is_empty() => held.toggle_all(),
                Some(ids) => {
                    for i in ids {
                        held.values[i] = flip(held.values[i]);
                    }
                }
                None => {}
            }
            held.apply().map_err(|e| e.to_string())?;
        }
        "sleep" => match args {
            [] => out.push_str("a period must be specified\n"),
            [p] => match parse_period(p) {
                Ok(d) => std::thread::sleep(d),
                Err(_) => out.push_str(&format!("invalid period: '{p}'\n")),
            },
            _ => out.push_str("only one period can be specified\n"),
        },
        "exit" => return Ok((true, false)),
        "help" => {
            print!("{HELP}");
            return Ok((false, false));
        }
        other => {
            out.push_str(&format!(
                "unknown command: '{other}'\nTry the 'help' command\n"
            ));
        }
    }
    print!("{out}");
    std::io::stdout()
        .flush()
        .map_err(|e| format!("writing: {e}"))?;
    Ok((false, true))
}

fn flip(v: Value) -> Value {
    if v == Value::Active {
        Value::Inactive
    } else {
        Value::Active
    }
}

/// `"GPIO17"=active "GPIO27"=inactive` for the held lines at `positions`.
fn values(held: &Held, positions: impl IntoIterator<Item = usize>, unquoted: bool) -> String {
    let text: Vec<String> = positions
        .into_iter()
        .map(|i| {
            let id = &held.ids[i];
            let id = if unquoted {
                id.clone()
            } else {
                format!("\"{id}\"")
            };
            format!("{id}={}", held.values[i])
        })
        .collect();
    format!("{}\n", text.join(" "))
}

/// The positions of the held lines named in `args` (quotes stripped), or `None` after
/// printing each unknown one, as gpioset does.
fn known(held: &Held, args: &[String], out: &mut String) -> Option<Vec<usize>> {
    let mut ids = Vec::new();
    let mut ok = true;
    for a in args {
        let id = match a.strip_prefix('"') {
            Some(rest) => match rest.strip_suffix('"') {
                Some(id) => id,
                None => {
                    out.push_str(&format!("invalid line id: '{a}'\n"));
                    return None;
                }
            },
            None => a.as_str(),
        };
        match held.position(id) {
            Some(i) => ids.push(i),
            None => {
                out.push_str(&format!("unknown line: '{id}'\n"));
                ok = false;
            }
        }
    }
    ok.then_some(ids)
}

/// Words separated by white space; a word that starts with `"` runs to its closing quote.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut in_quotes = false;
    for c in line.chars() {
        match &mut word {
            None if c.is_whitespace() => {}
            None => {
                in_quotes = c == '"';
                word = Some(c.to_string());
            }
            Some(w) if in_quotes => {
                if c == '"' {
                    in_quotes = false;
                }
                w.push(c);
            }
            Some(_) if c.is_whitespace() => words.extend(word.take()),
            Some(w) => w.push(c),
        }
    }
    words.extend(word);
    words
}

/// Tab completion at the prompt: commands, held lines' names, values.
struct LineIds(Vec<String>);

impl LineIds {
    /// What may follow the text before the cursor: `(start of the word, candidates)`.
    fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before.rfind([' ', '=', '"']).map_or(0, |i| i + 1);
        let word = &before[start..];
        let cmd_start = before.len() - before.trim_start().len();
        if start <= cmd_start {
            let found = COMMANDS
                .iter()
                .filter(|c| c.starts_with(word))
                .map(|c| format!("{c} "))
                .collect();
            return (start, found);
        }
        let cmd = before.split_whitespace().next().unwrap_or("");
        // Lines already named elsewhere on the command line are not offered again.
        let others: Vec<String> = split_words(&line[..start])
            .iter()
            .skip(1)
            .filter_map(|w| w.trim_matches('"').split('=').next().map(str::to_owned))
            .collect();
        let ids = |suffix: &str| -> Vec<String> {
            self.0
                .iter()
                .filter(|id| id.starts_with(word) && !others.contains(id))
                .map(|id| format!("{id}{suffix}"))
                .collect()
        };
        let found = match cmd {
            "set" if before[..start].ends_with('=') => VALUES
                .iter()
                .filter(|v| v.starts_with(word))
                .map(|v| format!("{v} "))
                .collect(),
            "set" => ids("="),
            "get" | "toggle" => ids(" "),
            _ => Vec::new(),
        };
        (start, found)
    }
}

impl Completer for LineIds {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.candidates(line, pos))
    }
}

impl Hinter for LineIds {
    type Hint = String;
}
impl Highlighter for LineIds {}
impl Validator for LineIds {}
impl Helper for LineIds {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_as_gpioset_splits_them() {
        assert_eq!(
            split_words("  set  A=1 \"B C\"=0\n"),
            ["set", "A=1", "\"B C\"=0"]
        );
        assert!(split_words("   ").is_empty());
    }

    #[test]
    fn completion_offers_commands_lines_and_values() {
        let c = LineIds(vec!["GPIO17".into(), "GPIO27".into(), "LED".into()]);
        assert_eq!(c.candidates("to", 2), (0, vec!["toggle ".to_string()]));
        assert_eq!(c.candidates("s", 1).1, ["set ", "sleep "]);
        assert_eq!(
            c.candidates("set GP", 6),
            (4, vec!["GPIO17=".to_string(), "GPIO27=".to_string()])
        );
        // A line already on the command line is not offered again.
        assert_eq!(c.candidates("get GPIO17 G", 12).1, ["GPIO27 "]);
        assert_eq!(
            c.candidates("set LED=a", 9),
            (8, vec!["active ".to_string()])
        );
        assert!(c.candidates("sleep 1", 7).1.is_empty());
    }
}
