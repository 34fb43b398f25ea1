//! Edge events on tokio: [`AsyncLine`] implements `embedded_hal_async::digital::Wait`, and
//! [`EdgeEventStream`] is a `futures_core::Stream` of edge events. Both wait on the request's
//! event fd through tokio's `AsyncFd` (feature `tokio`).

use std::collections::VecDeque;
use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::{sleep, Sleep};

use crate::config::LineConfig;
use crate::error::{Error, Result};
use crate::event::{EdgeEvent, EdgeKind};
use crate::request::{Line, Request};
use crate::settings::{Direction, Edge, LineSettings};

/// How often a wait with nothing happening checks that the chip still exists (older kernels do
/// not wake pollers when a chip is removed).
const LIVENESS: Duration = Duration::from_millis(500);

/// Registers a duplicate of the request's event fd: the `AsyncFd` owns its fd, so nothing the
/// caller does with the request can close it under tokio's feet.
fn register(request: &Request) -> Result<AsyncFd<OwnedFd>> {
    let fd = request
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::Io {
            action: "duplicating the edge-event fd".into(),
            source: e,
        })?;
    // SAFETY: `fd` is a valid open fd owned by the `AsyncFd` for its whole life, and
    // `OwnedFd::as_raw_fd` always returns that same fd.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| Error::Io {
        action: "registering the edge-event fd with tokio".into(),
        source: e.into(),
    })
}

fn io_err(e: std::io::Error) -> Error {
    Error::Io {
        action: "waiting for edge events".into(),
        source: e,
    }
}

/// A single line whose edge events are awaited on tokio.
pub struct AsyncLine {
    fd: AsyncFd<OwnedFd>,
    line: Line,
}

impl std::fmt::Debug for AsyncLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncLine")
            .field("line", &self.line)
            .finish()
    }
}

impl AsyncLine {
    /// Wraps a line; must be called inside a tokio runtime.
    pub fn new(line: Line) -> Result<AsyncLine> {
        Ok(AsyncLine {
            fd: register(&line)?,
            line,
        })
    }

    /// The line.
    pub fn line(&mut self) -> &mut Line {
        &mut self.line
    }

    /// Gives the line back.
    pub fn into_inner(self) -> Line {
        let AsyncLine { fd, line } = self;
        drop(fd);
        line
    }

    /// The next edge event.
    pub async fn read_edge_event(&mut self) -> Result<EdgeEvent> {
        loop {
            tokio::select! {
                guard = self.fd.readable() => {
                    let mut guard = guard.map_err(io_err)?;
                    if self.line.wait_edge_event(Duration::ZERO)? {
                        return self.line.read_edge_event();
                    }
                    guard.clear_ready();
                }
                _ = sleep(LIVENESS) => {
                    self.line.get()?;
                }
            }
        }
    }

    /// Makes sure both edges are detected, reconfiguring the line if needed (uAPI v2).
    fn ensure_edges(&mut self) -> Result<()> {
        let s = self.line.line_settings();
        if s.edge == Edge::Both {
            return Ok(());
        }
        let next = LineSettings {
            direction: Direction::Input,
            edge: Edge::Both,
            ..s
        };
        let o = self.line.offset();
        self.line
            .reconfigure(&LineConfig::new().with_line(o).with_settings(next))
    }

    /// Drops events that happened before the wait started.
    fn drain(&mut self) -> Result<()> {
        while self.line.try_read_edge_event()?.is_some() {}
        Ok(())
    }

    async fn wait_level(&mut self, high: bool) -> Result<()> {
        self.ensure_edges()?;
        loop {
            if self.line.level()? == high {
                return Ok(());
            }
            self.read_edge_event().await?;
        }
    }

    async fn wait_edge(&mut self, want: Option<bool>) -> Result<()> {
        self.ensure_edges()?;
        self.drain()?;
        let active_low = self.line.line_settings().active_low;
        loop {
            let e = self.read_edge_event().await?;
            // Physical direction: a logical rising edge on an active-low line is a falling level.
            let rising = (e.kind == EdgeKind::Rising) != active_low;
            if want.is_none_or(|w| w == rising) {
                return Ok(());
            }
        }
    }
}

impl embedded_hal::digital::ErrorType for AsyncLine {
    type Error = Error;
}

impl embedded_hal_async::digital::Wait for AsyncLine {
    async fn wait_for_high(&mut self) -> Result<()> {
        self.wait_level(true).await
    }

    async fn wait_for_low(&mut self) -> Result<()> {
        self.wait_level(false).await
    }

    async fn wait_for_rising_edge(&mut self) -> Result<()> {
        self.wait_edge(Some(true)).await
    }

    async fn wait_for_falling_edge(&mut self) -> Result<()> {
        self.wait_edge(Some(false)).await
    }

    async fn wait_for_any_edge(&mut self) -> Result<()> {
        self.wait_edge(None).await
    }
}

/// A stream of a request's edge events.
pub struct EdgeEventStream {
    fd: AsyncFd<OwnedFd>,
    request: Request,
    pending: VecDeque<EdgeEvent>,
    buf: Vec<EdgeEvent>,
    tick: Pin<Box<Sleep>>,
}

impl std::fmt::Debug for EdgeEventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeEventStream")
            .field("request", &self.request)
            .finish()
    }
}

impl EdgeEventStream {
    /// Streams the events of `request`; must be called inside a tokio runtime.
    pub fn new(request: Request) -> Result<EdgeEventStream> {
        Ok(EdgeEventStream {
            fd: register(&request)?,
            request,
            pending: VecDeque::new(),
            buf: vec![EdgeEvent::default(); 16],
            tick: Box::pin(sleep(LIVENESS)),
        })
    }

    /// The request, e.g. to set values while streaming.
    pub fn request(&mut self) -> &mut Request {
        &mut self.request
    }

    /// Gives the request back.
    pub fn into_inner(self) -> Request {
        let EdgeEventStream { fd, request, .. } = self;
        drop(fd);
        request
    }
}

impl futures_core::Stream for EdgeEventStream {
    type Item = Result<EdgeEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(e) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(e)));
            }
            match this.fd.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => match this.request.wait_edge_event(Duration::ZERO) {
                    Ok(true) => match this.request.read_edge_events(&mut this.buf) {
                        Ok(n) => this.pending.extend(&this.buf[..n]),
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    },
                    Ok(false) => guard.clear_ready(),
                    Err(e) => return Poll::Ready(Some(Err(e))),
                },
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(io_err(e)))),
                Poll::Pending => {
                    if this.tick.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    let deadline = tokio::time::Instant::now() + LIVENESS;
                    this.tick.as_mut().reset(deadline);
                    let first = this.request.offsets()[0];
                    if let Err(e) = this.request.value(first) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }
}
