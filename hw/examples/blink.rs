//! Blinks an LED: `blink [LINE] [TIMES] [PERIOD_MS]`.
//!
//! LINE is a line name (found on whichever chip has it) or `CHIP:OFFSET`, where CHIP is a path,
//! name, number or label. Default: `GPIO17`, the Raspberry Pi header's pin 11. Try it without
//! hardware, on a simulated Raspberry Pi 4 chip:
//!
//! ```text
//! cargo build --release -p hw --examples
//! cargo run --release -p hwkit-testbed -- vm --chips pi4 --bin target/release/examples/blink -- blink GPIO17 3
//! ```

use std::time::Duration;

use embedded_hal::digital::{OutputPin, StatefulOutputPin};
use hw::{Request, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let line = args.next().unwrap_or_else(|| "GPIO17".into());
    let times: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let period = Duration::from_millis(args.next().map(|s| s.parse()).transpose()?.unwrap_or(200));

    let mut led = Request::builder()
        .with_line_spec(&line)
        .consumer("blink")
        .as_output(Value::Inactive)
        .request_line()?;
    println!(
        "blinking {line} (offset {} on {}) {times} times",
        led.offset(),
        led.chip().describe()
    );
    for i in 1..=times {
        led.set_high()?;
        println!(
            "{i}: on  (reads back {})",
            if led.is_set_high()? { "high" } else { "low" }
        );
        std::thread::sleep(period / 2);
        led.set_low()?;
        println!(
            "{i}: off (reads back {})",
            if led.is_set_high()? { "high" } else { "low" }
        );
        std::thread::sleep(period / 2);
    }
    // Dropping the line releases it.
    Ok(())
}
