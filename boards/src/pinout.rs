//! The header picture: odd pins on the left, even on the right, with names, functions and,
//! when the board's chips are present, each line's state. Plain text or ANSI colours.

use crate::inventory::{Chip, ChipInventory};
use crate::linestate::{Direction, LineStates};
use crate::profile::{Header, Pin, PinRole, Profile};

/// A pinout of one board, optionally bound to a system's chips and line states.
#[derive(Debug, Clone)]
pub struct Pinout<'a> {
    profile: &'a Profile,
    title: Option<String>,
    inventory: Option<&'a ChipInventory>,
    states: Option<&'a LineStates>,
}

const RESET: &str = "\x1b[0m";

impl<'a> Pinout<'a> {
    /// The static pinout of `profile`.
    pub fn new(profile: &'a Profile) -> Pinout<'a> {
        Pinout {
            profile,
            title: None,
            inventory: None,
            states: None,
        }
    }

    /// A line printed above the picture (detection result, model string).
    pub fn title(mut self, title: impl Into<String>) -> Pinout<'a> {
        self.title = Some(title.into());
        self
    }

    /// Shows which chip of this system each header uses, and a state column.
    pub fn inventory(mut self, inventory: &'a ChipInventory) -> Pinout<'a> {
        self.inventory = Some(inventory);
        self
    }

    /// Line states to show in the state column (needs [`Pinout::inventory`]).
    pub fn states(mut self, states: &'a LineStates) -> Pinout<'a> {
        self.states = Some(states);
        self
    }

    /// The picture; with `color`, ANSI colours by role.
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        if let Some(t) = &self.title {
            out.push_str(t);
            out.push('\n');
        }
        out.push_str(&format!("{} [{}]\n", self.profile.name, self.profile.id));
        if self.profile.headers.is_empty() {
            out.push_str(
                "\nNo header map for this board: name lines as chip:offset or by line name.\n",
            );
            if let Some(inv) = self.inventory {
                out.push_str("GPIO chips:\n");
                if inv.is_empty() {
                    out.push_str("  none\n");
                }
                for c in inv.chips() {
                    out.push_str(&format!("  {}{}\n", c.describe(), base_text(c)));
                }
            }
        }
        for h in &self.profile.headers {
            out.push('\n');
            self.render_header(h, color, &mut out);
        }
        out
    }

    fn render_header(&self, h: &Header, color: bool, out: &mut String) {
        let mut labels: Vec<&str> = Vec::new();
        for p in &h.pins {
            if let Some((chip, _)) = p.gpio() {
                if !labels.contains(&chip) {
                    labels.push(chip);
                }
            }
        }
        let bound: Vec<String> = labels
            .iter()
            .map(|l| match self.inventory.map(|inv| inv.by_label(l)) {
                None => format!("chip {l}"),
                Some(v) if v.is_empty() => format!("chip {l}: not present on this system"),
                Some(v) if v.len() > 1 => format!("chip {l}: on several chips ({})", names(&v)),
                Some(v) => format!("chip {l} = {}{}", dev_text(v[0]), base_text(v[0])),
            })
            .collect();
        let aliases = if h.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also {})", h.aliases.join(", "))
        };
        out.push_str(&format!("{}{aliases}: {} pins\n", h.name, h.pins.len()));
        for b in &bound {
            out.push_str(&format!("  {b}\n"));
        }
        let with_state = self.inventory.is_some();
        let rows: Vec<(Vec<Cell>, Vec<Cell>)> = h
            .pins
            .chunks(2)
            .map(|pair| {
                let left = self.cells(&pair[0], with_state);
                let right = pair
                    .get(1)
                    .map(|p| self.cells(p, with_state))
                    .unwrap_or_default();
                (left, right)
            })
            .collect();
        let ncols = if with_state { 3 } else { 2 };
        let width = |side: usize, col: usize| {
            rows.iter()
                .map(|r| {
                    let cells = if side == 0 { &r.0 } else { &r.1 };
                    cells.get(col).map(|c| c.text.chars().count()).unwrap_or(0)
                })
                .max()
                .unwrap_or(0)
        };
        let pin_w = h.pins.len().to_string().len() + 2;
        for (i, (left, right)) in rows.iter().enumerate() {
            let mut line = String::new();
            // Left side: state, functions, name, right-aligned towards the pins.
            for col in (0..ncols).rev() {
                let w = width(0, col);
                if w == 0 {
                    continue;
                }
                let cell = left.get(col).cloned().unwrap_or_default();
                line.push_str(&" ".repeat(w - cell.text.chars().count()));
                line.push_str(&cell.paint(color));
                line.push_str("  ");
            }
            let odd = format!("({})", 2 * i + 1);
            line.push_str(&format!("{odd:>pin_w$}"));
            if !right.is_empty() {
                let even = format!("({})", 2 * i + 2);
                line.push_str(&format!(" {even:<pin_w$}"));
                for col in 0..ncols {
                    let w = width(1, col);
                    if w == 0 {
                        continue;
                    }
                    let cell = right.get(col).cloned().unwrap_or_default();
                    line.push_str("  ");
                    line.push_str(&cell.paint(color));
                    line.push_str(&" ".repeat(w - cell.text.chars().count()));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }

    /// Name, functions and state of one pin, in that order (name nearest the pin).
    fn cells(&self, p: &Pin, with_state: bool) -> Vec<Cell> {
        let name_style = match &p.role {
            PinRole::Gpio { .. } => "32",
            PinRole::Power if p.name.contains('5') => "1;31",
            PinRole::Power => "1;33",
            PinRole::Ground => "90",
            PinRole::Other => "35",
        };
        let mut cells = vec![
            Cell::new(p.name.clone(), name_style),
            Cell::new(p.functions.join(", "), "36"),
        ];
        if with_state {
            cells.push(self.state_cell(p));
        }
        cells
    }

    fn state_cell(&self, p: &Pin) -> Cell {
        let Some((label, line)) = p.gpio() else {
            return Cell::default();
        };
        let chip = self
            .inventory
            .and_then(|inv| match inv.by_label(label).as_slice() {
                [one] => Some(*one),
                _ => None,
            });
        let Some(chip) = chip else {
            return Cell::new("n/a".into(), "90");
        };
        match self.states.and_then(|s| s.get(&(chip.name.clone(), line))) {
            Some(st) => {
                let style = match (st.direction, st.value) {
                    (Some(Direction::Output), Some(true)) => "1;32",
                    (Some(Direction::Output), _) => "32",
                    _ if st.used => "33",
                    _ => "0",
                };
                Cell::new(st.summary(), style)
            }
            None => Cell::new("-".into(), "90"),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Cell {
    text: String,
    style: &'static str,
}

impl Cell {
    fn new(text: String, style: &'static str) -> Cell {
        Cell { text, style }
    }

    fn paint(&self, color: bool) -> String {
        if color && !self.text.is_empty() && !self.style.is_empty() {
            format!("\x1b[{}m{}{RESET}", self.style, self.text)
        } else {
            self.text.clone()
        }
    }
}

fn names(chips: &[&Chip]) -> String {
    chips
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn dev_text(c: &Chip) -> String {
    match &c.dev_path {
        Some(p) => format!("{} ({})", c.name, p.display()),
        None => format!("{} (no character device)", c.name),
    }
}

fn base_text(c: &Chip) -> String {
    match c.sysfs_base {
        Some(b) => format!(", sysfs base {b}"),
        None => ", no sysfs base".into(),
    }
}
