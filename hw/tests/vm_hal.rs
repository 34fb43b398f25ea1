//! embedded-hal 1.0 on a single line, and (feature `tokio`, which `vm` enables) the async
//! `Wait` trait and the edge-event stream.

mod common;

use std::time::Duration;

use common::*;
use embedded_hal::digital::{InputPin, OutputPin, PinState, StatefulOutputPin};
use embedded_hal_async::digital::Wait;
use gpiosim::Level;
use hw::{AsyncLine, Edge, EdgeEventStream, EdgeKind, Request, Value};

#[test]
fn output_pin_drives_physical_levels() {
    for uapi in both() {
        let s = sim(4);
        let mut led = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_line(2)
            .as_output(Value::Inactive)
            .request_line()
            .unwrap();
        led.set_high().unwrap();
        assert_eq!(level(&s, 2), Level::High, "{uapi}");
        assert!(led.is_set_high().unwrap());
        led.set_low().unwrap();
        assert_eq!(level(&s, 2), Level::Low, "{uapi}");
        assert!(led.is_set_low().unwrap());
        led.toggle().unwrap();
        assert_eq!(level(&s, 2), Level::High, "{uapi}");
        led.set_state(PinState::Low).unwrap();
        assert_eq!(level(&s, 2), Level::Low, "{uapi}");
    }
}

#[test]
fn active_low_pins_still_speak_physical_levels() {
    let s = sim(4);
    let mut led = Request::builder()
        .on_chip(path(&s))
        .with_line(0)
        .as_output(Value::Inactive)
        .as_active_low()
        .request_line()
        .unwrap();
    assert_eq!(
        level(&s, 0),
        Level::High,
        "inactive active-low output is high"
    );
    assert!(led.is_set_high().unwrap());
    led.set_low().unwrap();
    assert_eq!(level(&s, 0), Level::Low);
    assert_eq!(led.get().unwrap(), Value::Active);
    pull(&s, 1, Level::High);
    let mut button = Request::builder()
        .on_chip(path(&s))
        .with_line(1)
        .as_input()
        .as_active_low()
        .request_line()
        .unwrap();
    assert!(button.is_high().unwrap());
    assert_eq!(button.get().unwrap(), Value::Inactive);
    pull(&s, 1, Level::Low);
    assert!(button.is_low().unwrap());
}

#[test]
fn input_pin_reads_the_simulator() {
    for uapi in both() {
        let s = sim(2);
        pull(&s, 1, Level::High);
        let mut b = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_line(1)
            .as_input()
            .request_line()
            .unwrap();
        assert!(b.is_high().unwrap(), "{uapi}");
        pull(&s, 1, Level::Low);
        assert!(b.is_low().unwrap(), "{uapi}");
    }
}

#[test]
fn line_direction_can_be_switched() {
    let s = sim(2);
    let mut l = Request::builder()
        .on_chip(path(&s))
        .with_line(0)
        .as_input()
        .request_line()
        .unwrap();
    l.make_output(Value::Active).unwrap();
    assert_eq!(level(&s, 0), Level::High);
    assert_eq!(info(&s, 0).direction, hw::Direction::Output);
    l.make_input().unwrap();
    assert_eq!(info(&s, 0).direction, hw::Direction::Input);
    let e = l.set_high().unwrap_err();
    assert!(e.to_string().contains("is an input"), "{e}");
    assert_eq!(
        embedded_hal::digital::Error::kind(&e),
        embedded_hal::digital::ErrorKind::Other
    );
}

/// The stream's next item.
async fn next(stream: &mut EdgeEventStream) -> Option<hw::Result<hw::EdgeEvent>> {
    std::future::poll_fn(|cx| futures_core::Stream::poll_next(std::pin::Pin::new(&mut *stream), cx))
        .await
}

/// The stream's next edge event, which must come within 2 s.
async fn next_event(stream: &mut EdgeEventStream) -> hw::EdgeEvent {
    tokio::time::timeout(Duration::from_secs(2), next(stream))
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn wait_for_levels_and_edges() {
    let s = sim(2);
    pull(&s, 0, Level::Low);
    let p = path(&s);
    rt().block_on(async {
        // No edge detection asked for: Wait turns it on.
        let line = Request::builder()
            .on_chip(&p)
            .with_line(0)
            .as_input()
            .request_line()
            .unwrap();
        let mut pin = AsyncLine::new(line).unwrap();
        // Already low: returns at once.
        tokio::time::timeout(Duration::from_secs(2), pin.wait_for_low())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info(&s, 0).edge, Edge::Both);

        let s_ref = &s;
        let driver = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            pull(s_ref, 0, Level::High);
            tokio::time::sleep(Duration::from_millis(50)).await;
            pull(s_ref, 0, Level::Low);
            tokio::time::sleep(Duration::from_millis(50)).await;
            pull(s_ref, 0, Level::High);
        };
        let waiter = async {
            pin.wait_for_high().await.unwrap();
            pin.wait_for_falling_edge().await.unwrap();
            pin.wait_for_any_edge().await.unwrap();
        };
        tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(driver, waiter)
        })
        .await
        .expect("waits finished");
        assert!(pin.line().level().unwrap());
    });
}

#[test]
fn wait_for_rising_edge_ignores_edges_from_before_the_call() {
    let s = sim(2);
    pull(&s, 1, Level::Low);
    let p = path(&s);
    rt().block_on(async {
        let line = Request::builder()
            .on_chip(&p)
            .with_line(1)
            .with_edge_detection(Edge::Both)
            .request_line()
            .unwrap();
        let mut pin = AsyncLine::new(line).unwrap();
        pull(&s, 1, Level::High);
        pull(&s, 1, Level::Low);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let r = tokio::time::timeout(Duration::from_millis(200), pin.wait_for_rising_edge()).await;
        assert!(r.is_err(), "an old edge satisfied the wait");
    });
}

#[test]
fn async_stream_yields_edge_events() {
    let s = sim(4);
    let p = path(&s);
    rt().block_on(async {
        let req = Request::builder()
            .on_chip(&p)
            .with_lines(&[0, 3])
            .with_edge_detection(Edge::Both)
            .request()
            .unwrap();
        let mut stream = EdgeEventStream::new(req).unwrap();
        pull(&s, 3, Level::High);
        let e = next_event(&mut stream).await;
        assert_eq!((e.offset, e.kind), (3, EdgeKind::Rising));
        pull(&s, 0, Level::High);
        pull(&s, 0, Level::Low);
        let a = next_event(&mut stream).await;
        let b = next_event(&mut stream).await;
        assert_eq!(
            (a.offset, a.kind, b.offset, b.kind),
            (0, EdgeKind::Rising, 0, EdgeKind::Falling)
        );
        assert_eq!((a.seqno, b.seqno), (2, 3));
        // Nothing more: the stream stays pending.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), next(&mut stream))
                .await
                .is_err()
        );
    });
}

#[test]
fn async_stream_ends_in_an_error_when_the_chip_goes() {
    let s = sim(2);
    let p = path(&s);
    rt().block_on(async {
        let req = Request::builder()
            .on_chip(&p)
            .with_line(0)
            .with_edge_detection(Edge::Both)
            .request()
            .unwrap();
        let mut stream = EdgeEventStream::new(req).unwrap();
        drop(s);
        let r = tokio::time::timeout(Duration::from_secs(5), next(&mut stream))
            .await
            .expect("the stream noticed");
        assert!(matches!(r, Some(Err(hw::Error::ChipGone { .. }))), "{r:?}");
    });
}

#[test]
fn async_stream_works_over_uapi_v1_too() {
    if !v1_or_refused() {
        return;
    }
    let s = sim(2);
    let p = path(&s);
    rt().block_on(async {
        let req = Request::builder()
            .on_chip(&p)
            .with_uapi(hw::Uapi::V1)
            .with_line(1)
            .with_edge_detection(Edge::Both)
            .request()
            .unwrap();
        let mut stream = EdgeEventStream::new(req).unwrap();
        pull(&s, 1, Level::High);
        pull(&s, 1, Level::Low);
        let a = next_event(&mut stream).await;
        let b = next_event(&mut stream).await;
        assert_eq!(
            (a.kind, a.seqno, b.kind, b.seqno),
            (EdgeKind::Rising, 1, EdgeKind::Falling, 2)
        );
    });
}
