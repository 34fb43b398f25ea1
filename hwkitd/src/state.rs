//! Persistence (`--state-file`): the requests the daemon holds, with their settings and
//! values, written atomically after every change and restored when the daemon starts, so a
//! reboot brings a relay back to where it was.
//!
//! JSON, one object per request. A chip is found again by its label (chip numbers change
//! between boots and kernels), by its name if it has no label.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use hw::{Direction, LineSettings, Offset, Value};
use serde::{Deserialize, Serialize};

/// Everything the state file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The requests, in id order.
    pub requests: Vec<SavedRequest>,
}

/// One request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SavedRequest {
    /// The chip's label, how it is found again.
    pub chip_label: String,
    /// The chip's name when saved (used if the label is empty).
    pub chip_name: String,
    /// The consumer label.
    pub consumer: String,
    /// The edge-event buffer size asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_buffer_size: Option<u32>,
    /// The Unix user it belongs to; a file written before requests had owners has none,
    /// which is root (the only caller that could then act on every request).
    #[serde(default)]
    pub owner: u32,
    /// Its lines.
    pub lines: Vec<SavedLine>,
}

/// One line of a request, with io.gpiod1's names for its settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SavedLine {
    /// Offset on the chip.
    pub offset: Offset,
    /// `input`, `output` or `as-is`.
    pub direction: String,
    /// Active-low.
    #[serde(default)]
    pub active_low: bool,
    /// `as-is`, `pull-up`, `pull-down`, `disabled`.
    pub bias: String,
    /// `push-pull`, `open-drain`, `open-source`.
    pub drive: String,
    /// `none`, `rising`, `falling`, `both`.
    pub edge: String,
    /// Debounce period in microseconds, 0 for none.
    #[serde(default)]
    pub debounce_us: u64,
    /// `monotonic`, `realtime`, `hte`.
    pub event_clock: String,
    /// The logical value (0 or 1) an output drove when saved.
    #[serde(default)]
    pub value: u8,
}

impl SavedLine {
    /// A line as saved: its settings, and for an output the value it drives.
    pub fn new(offset: Offset, s: &LineSettings, value: Value) -> SavedLine {
        SavedLine {
            offset,
            direction: s.direction.to_string(),
            active_low: s.active_low,
            bias: s.bias.to_string(),
            drive: s.drive.to_string(),
            edge: s.edge.to_string(),
            debounce_us: u64::from(s.debounce_us()),
            event_clock: s.event_clock.to_string(),
            value: u8::from(value),
        }
    }

    /// The settings to request the line with again.
    pub fn settings(&self) -> Result<(Offset, LineSettings), String> {
        let at = |e: String| format!("line {}: {e}", self.offset);
        let value = match self.value {
            0 => Value::Inactive,
            1 => Value::Active,
            v => return Err(at(format!("value {v}: expected 0 or 1"))),
        };
        let s = LineSettings {
            direction: self.direction.parse().map_err(at)?,
            output_value: value,
            active_low: self.active_low,
            bias: self.bias.parse().map_err(at)?,
            drive: self.drive.parse().map_err(at)?,
            edge: self.edge.parse().map_err(at)?,
            debounce: (self.debounce_us > 0).then(|| Duration::from_micros(self.debounce_us)),
            event_clock: self.event_clock.parse().map_err(at)?,
        };
        Ok((self.offset, s))
    }

    /// Whether the line is an output (its value is restored).
    pub fn is_output(&self) -> bool {
        self.direction == Direction::Output.to_string()
    }
}

/// Reads the state file; a missing file is an empty state.
pub fn load(path: &Path) -> Result<State, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            format!(
                "state file {} is not valid: {e}; fix or remove it",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(format!("reading state file {}: {e}", path.display())),
    }
}

/// Writes the state file atomically: a temporary file beside it, synced, then renamed over
/// it, so a crash or power cut leaves the old state or the new, never half of one.
pub fn save(path: &Path, state: &State) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("writing state file {}: {e}", path.display());
    let mut text =
        serde_json::to_string_pretty(state).map_err(|e| format!("encoding the state: {e}"))?;
    text.push('\n');
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(fail)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename itself is durable once the directory is synced.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hw::{Bias, Drive, Edge, EventClock};

    #[test]
    fn lines_come_back_as_they_were_saved() {
        let s = LineSettings {
            direction: Direction::Output,
            output_value: Value::Active,
            active_low: true,
            bias: Bias::PullUp,
            drive: Drive::OpenDrain,
            edge: Edge::None,
            debounce: None,
            event_clock: EventClock::Realtime,
        };
        let saved = SavedLine::new(7, &s, Value::Active);
        assert!(saved.is_output());
        assert_eq!(saved.settings().unwrap(), (7, s));
        let input = LineSettings {
            direction: Direction::Input,
            edge: Edge::Both,
            debounce: Some(Duration::from_micros(250)),
            ..Default::default()
        };
        let saved = SavedLine::new(2, &input, Value::Inactive);
        assert_eq!(saved.settings().unwrap(), (2, input));
    }

    #[test]
    fn the_file_is_written_atomically_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(
            load(&path).unwrap(),
            State::default(),
            "no file: nothing held"
        );
        let state = State {
            requests: vec![SavedRequest {
                chip_label: "pinctrl-bcm2711".into(),
                chip_name: "gpiochip0".into(),
                consumer: "relay".into(),
                event_buffer_size: None,
                owner: 1000,
                lines: vec![SavedLine::new(
                    17,
                    &LineSettings::output(Value::Active),
                    Value::Active,
                )],
            }],
        };
        save(&path, &state).unwrap();
        assert_eq!(load(&path).unwrap(), state);
        assert!(!path.with_extension("tmp").exists());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"chip-label\": \"pinctrl-bcm2711\"")
                && text.contains("\"owner\": 1000"),
            "{text}"
        );
        // A file from before requests had owners: its requests are root's.
        std::fs::write(&path, text.replace("\"owner\": 1000,", "")).unwrap();
        assert_eq!(load(&path).unwrap().requests[0].owner, 0);
    }

    #[test]
    fn bad_state_files_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{\"requests\": [{\"chip-label\": 3}]}").unwrap();
        let e = load(&path).unwrap_err();
        assert!(
            e.contains("state.json is not valid") && e.contains("fix or remove it"),
            "{e}"
        );
        let mut line = SavedLine::new(1, &LineSettings::input(), Value::Inactive);
        line.bias = "sideways".into();
        let e = line.settings().unwrap_err();
        assert!(
            e.contains("line 1") && e.contains("sideways") && e.contains("pull-up"),
            "{e}"
        );
        line.bias = "as-is".into();
        line.value = 3;
        assert!(line.settings().unwrap_err().contains("value 3"));
    }
}
