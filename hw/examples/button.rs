//! Reports button presses: `button [LINE] [COUNT] [TIMEOUT_SECS]`.
//!
//! The button connects LINE to ground, so the line is requested with a pull-up, falling edges
//! are presses and rising edges releases, debounced by 5 ms. LINE is a name or `CHIP:OFFSET`;
//! default `GPIO27` (pin 13 of a Raspberry Pi header). Exits after COUNT events (default 10)
//! or TIMEOUT_SECS without one (default 30). Without hardware, press the simulated button from
//! the gpio-sim side:
//!
//! ```text
//! cargo run --release -p hwkit-testbed -- vm --chips pi4 --bin target/release/examples/button -- \
//!   sh -c 'button GPIO27 2 5 & sleep 1; s=$(ls -d /sys/devices/platform/gpio-sim.*/gpiochip*/sim_gpio27);
//!          echo pull-down > $s/pull; sleep 0.1; echo pull-up > $s/pull; wait'
//! ```

use std::time::Duration;

use hw::{Bias, Edge, EdgeKind, Request};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let line = args.next().unwrap_or_else(|| "GPIO27".into());
    let count: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let timeout = Duration::from_secs(args.next().map(|s| s.parse()).transpose()?.unwrap_or(30));

    let mut button = Request::builder()
        .with_line_spec(&line)
        .consumer("button")
        .as_input()
        .with_bias(Bias::PullUp)
        .with_edge_detection(Edge::Both)
        .with_debounce(Duration::from_millis(5))
        .request_line()?;
    println!(
        "watching {line} (offset {} on {}); press the button",
        button.offset(),
        button.chip().describe()
    );
    let mut seen = 0;
    while seen < count {
        let Some(event) = button.read_edge_event_timeout(timeout)? else {
            println!("no press for {timeout:?}; bye");
            break;
        };
        let what = match event.kind {
            EdgeKind::Falling => "pressed",
            EdgeKind::Rising => "released",
        };
        println!(
            "{what} at {}.{:09} (event {})",
            event.timestamp_ns / 1_000_000_000,
            event.timestamp_ns % 1_000_000_000,
            event.seqno
        );
        seen += 1;
    }
    if button.lost_edge_events() > 0 {
        println!(
            "{} events were lost to buffer overflow",
            button.lost_edge_events()
        );
    }
    Ok(())
}
