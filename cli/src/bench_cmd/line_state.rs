//! The lines' state before a benchmark, and putting it back after: a benchmark leaves a line
//! as it found it, whatever ends the run.

use hw::{Chip, Direction, Request, Value};

use super::backends::BenchLines;

/// What one line was before the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Before {
    Input,
    Output(Value),
}

/// Holds the lines' earlier state; puts it back on [`restore`](LineGuard::restore) or drop.
pub struct LineGuard {
    lines: BenchLines,
    consumer: String,
    before: Vec<Before>,
    restored: bool,
}

impl LineGuard {
    /// Checks that nobody holds the lines (the kernel included: a line a driver claims is not
    /// a free GPIO) and notes their direction and output level.
    pub fn take(lines: &BenchLines, consumer: &str) -> Result<LineGuard, String> {
        let chip = Chip::open(&lines.dev_path).map_err(|e| e.to_string())?;
        let mut outputs = Vec::new();
        let mut before = Vec::with_capacity(lines.offsets.len());
        for &offset in &lines.offsets {
            let info = chip.line_info(offset).map_err(|e| e.to_string())?;
            if info.used {
                let holder = if info.consumer.is_empty() {
                    "a holder that gave no consumer name".to_owned()
                } else {
                    format!("'{}'", info.consumer)
                };
                return Err(format!(
                    "{} offset {offset} is in use by {holder}: hwkit bench toggles only free \
                     lines; release it first, or choose another line",
                    lines.chip
                ));
            }
            if info.direction == Direction::Output {
                outputs.push(offset);
            }
            before.push(Before::Input);
        }
        if !outputs.is_empty() {
            // Requested as they are, so reading the level does not change it.
            let req = Request::builder()
                .on_chip(&lines.dev_path)
                .consumer(consumer)
                .with_lines(&outputs)
                .as_is()
                .request()
                .map_err(|e| format!("reading the lines' levels before the run: {e}"))?;
            let levels = req
                .values()
                .map_err(|e| format!("reading the lines' levels before the run: {e}"))?;
            for (offset, level) in outputs.iter().zip(levels) {
                let i = lines.offsets.iter().position(|o| o == offset).unwrap_or(0);
                before[i] = Before::Output(level);
            }
        }
        Ok(LineGuard {
            lines: lines.clone(),
            consumer: consumer.to_owned(),
            before,
            restored: false,
        })
    }

    /// Requests the lines once more with the direction and level they had, and releases them.
    pub fn restore(mut self) -> Result<(), String> {
        self.restored = true;
        self.put_back()
    }

    fn put_back(&self) -> Result<(), String> {
        let mut builder = Request::builder()
            .on_chip(&self.lines.dev_path)
            .consumer(self.consumer.as_str());
        for (&offset, before) in self.lines.offsets.iter().zip(&self.before) {
            builder = builder.with_line(offset);
            builder = match *before {
                Before::Input => builder.as_input(),
                Before::Output(v) => builder.as_output(v),
            };
        }
        builder.request().map(drop).map_err(|e| {
            format!(
                "putting {} back as it was before the run: {e}",
                self.lines.describe()
            )
        })
    }
}

impl Drop for LineGuard {
    fn drop(&mut self) {
        if !self.restored {
            if let Err(e) = self.put_back() {
                eprintln!("hwkit: {e}");
            }
        }
    }
}
