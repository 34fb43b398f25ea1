//! The current state of lines, for the pinout: what the legacy sysfs shows of exported lines.
//! Richer state (every line's direction and consumer) comes from the line-info ioctl, which a
//! caller such as the `hwkit` command fills in through the same [`LineStates`] map.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::inventory::ChipInventory;

/// Line direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Input.
    Input,
    /// Output.
    Output,
}

/// What is known about one line right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineState {
    /// Its direction, if known.
    pub direction: Option<Direction>,
    /// Its logical value, if it could be read.
    pub value: Option<bool>,
    /// Who holds it (`sysfs`, a driver, a program's consumer label).
    pub consumer: Option<String>,
    /// Whether it is requested by anyone.
    pub used: bool,
}

impl LineState {
    /// `in 1`, `out 0 [sysfs]`, `-`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        match self.direction {
            Some(Direction::Input) => parts.push("in".to_string()),
            Some(Direction::Output) => parts.push("out".to_string()),
            None => {}
        }
        if let Some(v) = self.value {
            parts.push(if v { "1" } else { "0" }.to_string());
        }
        if let Some(c) = &self.consumer {
            parts.push(format!("[{c}]"));
        } else if self.used {
            parts.push("[used]".to_string());
        }
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(" ")
        }
    }
}

/// Line states by (chip kernel name, offset).
pub type LineStates = HashMap<(String, u32), LineState>;

/// The states of lines exported through `<root>/sys/class/gpio/gpioN`, mapped to chips by base.
pub fn sysfs_line_states(root: &Path, inventory: &ChipInventory) -> LineStates {
    let mut states = LineStates::new();
    let Ok(entries) = fs::read_dir(root.join("sys/class/gpio")) else {
        return states;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(number) = name
            .strip_prefix("gpio")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(chip) = inventory
            .chips()
            .iter()
            .find(|c| match (c.sysfs_base, c.num_lines) {
                (Some(base), Some(n)) => number >= base && number - base < n,
                _ => false,
            })
        else {
            continue;
        };
        let read = |f: &str| {
            fs::read_to_string(entry.path().join(f))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let direction = read("direction").and_then(|d| match d.as_str() {
            "in" => Some(Direction::Input),
            "out" | "high" | "low" => Some(Direction::Output),
            _ => None,
        });
        let value = read("value").and_then(|v| match v.as_str() {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        });
        let offset = number - chip.sysfs_base.unwrap_or(0);
        states.insert(
            (chip.name.clone(), offset),
            LineState {
                direction,
                value,
                consumer: Some("sysfs".into()),
                used: true,
            },
        );
    }
    states
}
