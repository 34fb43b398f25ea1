//! `io.gpiod1.Line`: one line of a chip, its properties read from the kernel when asked.
//!
//! Reading the kernel's line info on every property read keeps the properties true whoever
//! changed the line (this daemon, another process, a driver) without a cache to go stale.

use std::sync::Arc;

use hw::{Bias, Chip, Direction, LineInfo, Offset};
use zbus::interface;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedObjectPath;

use crate::paths;
use crate::registry::Registry;

/// The line object at `/io/gpiod1/chips/gpiochipN/lineM`.
pub struct LineObject {
    /// The chip, open for line-info reads.
    pub chip: Arc<Chip>,
    /// The line's offset.
    pub offset: Offset,
    /// Who holds what.
    pub registry: Arc<Registry>,
}

impl LineObject {
    fn info(&self) -> zbus::fdo::Result<LineInfo> {
        self.chip.line_info(self.offset).map_err(|e| {
            zbus::fdo::Error::Failed(format!(
                "reading line {} of {}: {e}",
                self.offset,
                self.chip.info().name
            ))
        })
    }

    fn holder(&self) -> Option<u32> {
        self.registry.holder(&self.chip.info().name, self.offset)
    }
}

#[interface(name = "io.gpiod1.Line")]
impl LineObject {
    /// The line's offset on its chip.
    #[zbus(property)]
    fn offset(&self) -> u32 {
        self.offset
    }

    /// The line's name, empty if the chip names none.
    #[zbus(property)]
    fn name(&self) -> zbus::fdo::Result<String> {
        Ok(self.info()?.name)
    }

    /// Whether anything holds the line (this daemon, another process, a driver, a hog).
    #[zbus(property)]
    fn used(&self) -> zbus::fdo::Result<bool> {
        Ok(self.info()?.used)
    }

    /// The holder's consumer label.
    #[zbus(property)]
    fn consumer(&self) -> zbus::fdo::Result<String> {
        Ok(self.info()?.consumer)
    }

    /// `input` or `output`.
    #[zbus(property)]
    fn direction(&self) -> zbus::fdo::Result<String> {
        Ok(match self.info()?.direction {
            Direction::Output => "output",
            _ => "input",
        }
        .to_owned())
    }

    /// `none`, `falling`, `rising` or `both`.
    #[zbus(property)]
    fn edge_detection(&self) -> zbus::fdo::Result<String> {
        Ok(self.info()?.edge.to_string())
    }

    /// `unknown`, `disabled`, `pull-up` or `pull-down`.
    #[zbus(property)]
    fn bias(&self) -> zbus::fdo::Result<String> {
        Ok(match self.info()?.bias {
            Bias::AsIs => "unknown".to_owned(),
            b => b.to_string(),
        })
    }

    /// `push-pull`, `open-drain` or `open-source`.
    #[zbus(property)]
    fn drive(&self) -> zbus::fdo::Result<String> {
        Ok(self.info()?.drive.to_string())
    }

    /// Whether the line is active-low.
    #[zbus(property)]
    fn active_low(&self) -> zbus::fdo::Result<bool> {
        Ok(self.info()?.active_low)
    }

    /// Whether the line is debounced.
    #[zbus(property)]
    fn debounced(&self) -> zbus::fdo::Result<bool> {
        Ok(self.info()?.debounce.is_some())
    }

    /// The debounce period in microseconds, 0 if none.
    #[zbus(property)]
    fn debounce_period_us(&self) -> zbus::fdo::Result<u64> {
        Ok(self
            .info()?
            .debounce
            .map_or(0, |d| d.as_micros().min(u64::MAX as u128) as u64))
    }

    /// `monotonic`, `realtime` or `hte`.
    #[zbus(property)]
    fn event_clock(&self) -> zbus::fdo::Result<String> {
        Ok(self.info()?.event_clock.to_string())
    }

    /// Whether this daemon holds the line.
    #[zbus(property)]
    fn managed(&self) -> bool {
        self.holder().is_some()
    }

    /// The request holding the line, `/` if the daemon does not hold it.
    #[zbus(property)]
    fn request_path(&self) -> OwnedObjectPath {
        self.holder().map_or_else(paths::none, paths::request)
    }

    /// An edge on the line while a request of this daemon watches it: (1 rising or
    /// 0 falling, timestamp in ns, sequence number in the request, sequence number on the line).
    #[zbus(signal)]
    pub async fn edge_event(
        emitter: &SignalEmitter<'_>,
        event_data: (i32, u64, u64, u64),
    ) -> zbus::Result<()>;
}

impl LineObject {
    /// Every property that can change, with its current value, for one `PropertiesChanged`.
    pub fn changeable_properties(
        &self,
    ) -> zbus::fdo::Result<Vec<(&'static str, zbus::zvariant::OwnedValue)>> {
        use zbus::zvariant::{OwnedValue, Value};
        let info = self.info()?;
        let owned = |v: Value<'_>| {
            OwnedValue::try_from(v).map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
        };
        Ok(vec![
            ("Used", owned(info.used.into())?),
            ("Consumer", owned(info.consumer.clone().into())?),
            ("Direction", owned(self.direction()?.into())?),
            ("EdgeDetection", owned(info.edge.to_string().into())?),
            ("Bias", owned(self.bias()?.into())?),
            ("Drive", owned(info.drive.to_string().into())?),
            ("ActiveLow", owned(info.active_low.into())?),
            ("Debounced", owned(info.debounce.is_some().into())?),
            (
                "DebouncePeriodUs",
                owned(self.debounce_period_us()?.into())?,
            ),
            ("EventClock", owned(info.event_clock.to_string().into())?),
            ("Managed", owned(self.managed().into())?),
            ("RequestPath", owned(Value::from(self.request_path()))?),
        ])
    }
}
