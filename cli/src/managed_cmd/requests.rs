//! `hwkit managed requests`: the daemon's requests, one per line (or `--json`).

use std::process::ExitCode;

use clap::Args;
use hw::managed::{Client, Error as ManagedError, RequestEntry};
use serde::Serialize;

use super::Ctx;
use crate::gpio_cmd::output::print_json;
use crate::CmdResult;

/// Arguments of `hwkit managed requests`.
#[derive(Args)]
pub(super) struct RequestsArgs {
    /// Print one JSON document: {"requests":[{"request","path","chip","consumer","lines":
    /// [{"offset","name","direction","value"}]}]}.
    #[arg(long)]
    json: bool,
}

/// `requests --json`.
#[derive(Serialize)]
struct RequestsJson {
    requests: Vec<RequestJson>,
}

/// One request.
#[derive(Serialize)]
struct RequestJson {
    /// `requestN`.
    request: String,
    /// Its object path.
    path: String,
    /// The chip's kernel name.
    chip: String,
    /// The consumer label of its lines.
    consumer: String,
    /// In request order.
    lines: Vec<LineJson>,
}

/// One line of a request.
#[derive(Serialize)]
struct LineJson {
    offset: u32,
    /// Empty if the chip names none.
    name: String,
    /// `input` or `output`.
    direction: String,
    /// The logical value; `null` if the daemon would not say (a caller the bus's policy
    /// refuses method calls).
    value: Option<u8>,
}

/// Runs `hwkit managed requests`.
pub(super) fn run(a: RequestsArgs, ctx: &Ctx) -> CmdResult {
    let client = ctx.client()?;
    let requests = client
        .requests()?
        .iter()
        .map(|r| describe(&client, r))
        .collect::<Result<Vec<_>, _>>()?;
    if a.json {
        print_json(&RequestsJson { requests })?;
        return Ok(ExitCode::SUCCESS);
    }
    if requests.is_empty() {
        eprintln!("hwkit: the daemon holds no lines");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 6]> = requests.iter().map(row).collect();
    let head = [
        "REQUEST",
        "CHIP",
        "LINES",
        "CONSUMER",
        "DIRECTION",
        "VALUES",
    ]
    .map(String::from);
    let mut widths = [0usize; 6];
    for r in std::iter::once(&head).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in std::iter::once(&head).chain(&rows) {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

/// A request with its lines' names, directions and values.
fn describe(client: &Client, r: &RequestEntry) -> Result<RequestJson, ManagedError> {
    let mut consumer = String::new();
    let mut lines = Vec::with_capacity(r.offsets.len());
    for o in &r.offsets {
        let line = client.line_at(&format!("{}/line{o}", r.chip))?;
        consumer = line.info.consumer;
        lines.push(LineJson {
            offset: *o,
            name: line.info.name,
            direction: line.info.direction.to_string(),
            value: None,
        });
    }
    let request = client.open(&r.path)?;
    match request.get_values(&[]) {
        Ok(values) => {
            for (l, v) in lines.iter_mut().zip(values) {
                l.value = Some(u8::from(v));
            }
        }
        // Listing is for everyone; reading values is a method call the policy may refuse.
        Err(ManagedError::AccessDenied { .. }) => {}
        Err(e) => return Err(e),
    }
    Ok(RequestJson {
        request: r.name().to_owned(),
        path: r.path.clone(),
        chip: r.chip.rsplit('/').next().unwrap_or_default().to_owned(),
        consumer,
        lines,
    })
}

/// A table row: request, chip, lines (offsets, names in brackets), consumer, directions and
/// values (one per line, or one for all when they agree).
fn row(r: &RequestJson) -> [String; 6] {
    let lines: Vec<String> = r
        .lines
        .iter()
        .map(|l| {
            if l.name.is_empty() {
                l.offset.to_string()
            } else {
                format!("{}[{}]", l.offset, l.name)
            }
        })
        .collect();
    let mut directions: Vec<&str> = r.lines.iter().map(|l| l.direction.as_str()).collect();
    if directions.windows(2).all(|w| w[0] == w[1]) {
        directions.truncate(1);
    }
    let values: Vec<String> = r
        .lines
        .iter()
        .map(|l| l.value.map_or("?".to_owned(), |v| v.to_string()))
        .collect();
    [
        r.request.clone(),
        r.chip.clone(),
        lines.join(","),
        r.consumer.clone(),
        directions.join(","),
        values.join(","),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_says_it_all_in_one_line() {
        let r = RequestJson {
            request: "request0".into(),
            path: "/io/gpiod1/requests/request0".into(),
            chip: "gpiochip1".into(),
            consumer: "relay".into(),
            lines: vec![
                LineJson {
                    offset: 3,
                    name: "LED".into(),
                    direction: "output".into(),
                    value: Some(1),
                },
                LineJson {
                    offset: 5,
                    name: String::new(),
                    direction: "output".into(),
                    value: None,
                },
            ],
        };
        assert_eq!(
            row(&r),
            [
                "request0",
                "gpiochip1",
                "3[LED],5",
                "relay",
                "output",
                "1,?"
            ]
            .map(String::from)
        );
    }
}
