//! `io.gpiod1.Request`: lines the daemon holds for a client, until `Release`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use hw::{LineConfig, Offset, Request, Value};
use zbus::interface;
use zbus::message::Header;
use zbus::object_server::ObjectServer;
use zbus::zvariant::OwnedObjectPath;
use zbus::Connection;

use crate::caller;
use crate::edge_events::EdgeWatcher;
use crate::error::{Failure, GET_VALUES_FAILED, RECONFIGURE_FAILED, SET_VALUES_FAILED};
use crate::line_config::{parse_line_config, DbusLineConfig};
use crate::paths;
use crate::registry::Registry;
use crate::state::{SavedLine, SavedRequest};

/// The request object at `/io/gpiod1/requests/requestN`.
pub struct RequestObject {
    /// Its id (the N of its path).
    pub id: u32,
    /// The chip object.
    pub chip_path: OwnedObjectPath,
    /// The line objects, in request order.
    pub line_paths: Vec<OwnedObjectPath>,
    /// The kernel request; `None` once released.
    pub request: Arc<Mutex<Option<Request>>>,
    /// The task that turns its edges into signals; stopped before the request is dropped.
    pub edges: tokio::sync::Mutex<Option<EdgeWatcher>>,
    /// Who holds what.
    pub registry: Arc<Registry>,
    /// The consumer label it was requested with.
    pub consumer: String,
    /// The edge-event buffer size asked for, if any.
    pub event_buffer_size: Option<u32>,
    /// The Unix user that made it: only they (and root) may release, reconfigure or set it.
    pub owner: u32,
}

impl RequestObject {
    fn lock(&self) -> MutexGuard<'_, Option<Request>> {
        self.request.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_request<T>(
        &self,
        error: &'static str,
        f: impl FnOnce(&mut Request) -> hw::Result<T>,
    ) -> Result<T, Failure> {
        let mut guard = self.lock();
        let request = guard.as_mut().ok_or_else(|| {
            Failure::new(
                error,
                format!("{} was released", paths::request(self.id).as_str()),
            )
        })?;
        f(request).map_err(|e| Failure::new(error, e.to_string()))
    }

    /// The request as the state file keeps it; `None` once released or if its values
    /// cannot be read (its chip going).
    pub fn saved(&self, chip_label: &str, chip_name: &str) -> Option<SavedRequest> {
        let guard = self.lock();
        let r = guard.as_ref()?;
        let values = r.values().ok()?;
        let lines = r
            .config()
            .iter()
            .zip(values)
            .map(|((o, s), v)| SavedLine::new(*o, s, v))
            .collect();
        Some(SavedRequest {
            chip_label: chip_label.to_owned(),
            chip_name: chip_name.to_owned(),
            consumer: self.consumer.clone(),
            event_buffer_size: self.event_buffer_size,
            owner: self.owner,
            lines,
        })
    }

    /// Refuses the caller of this call unless it owns the request or is root.
    async fn check_caller(
        &self,
        connection: &Connection,
        header: &Header<'_>,
        action: &str,
    ) -> Result<(), Failure> {
        let caller = caller::uid(connection, header).await?;
        caller::may_act(paths::request(self.id).as_str(), self.owner, caller, action)
    }

    /// Drops the kernel request (releasing its lines) and forgets it; `false` if it was
    /// already gone.
    pub async fn release_lines(&self) -> bool {
        if let Some(watcher) = self.edges.lock().await.take() {
            watcher.stop().await;
        }
        let released = self.lock().take().is_some();
        self.registry.remove(self.id);
        released
    }
}

#[interface(name = "io.gpiod1.Request")]
impl RequestObject {
    /// The chip the lines are on.
    #[zbus(property)]
    fn chip_path(&self) -> OwnedObjectPath {
        self.chip_path.clone()
    }

    /// The lines held.
    #[zbus(property)]
    fn line_paths(&self) -> Vec<OwnedObjectPath> {
        self.line_paths.clone()
    }

    /// Releases the lines and removes this object.
    async fn release(
        &self,
        #[zbus(object_server)] server: &ObjectServer,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), Failure> {
        self.check_caller(connection, &header, "release").await?;
        self.release_lines().await;
        let path = paths::request(self.id);
        eprintln!("hwkitd: released {}", path.as_str());
        server.remove::<RequestObject, _>(path.as_str()).await?;
        crate::daemon::lines_changed(server, &self.line_paths).await;
        Ok(())
    }

    /// Changes the settings of some of the lines held, keeping them held.
    async fn reconfigure_lines(
        &self,
        line_config: DbusLineConfig,
        #[zbus(object_server)] server: &ObjectServer,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), Failure> {
        self.check_caller(connection, &header, "reconfigure")
            .await?;
        let lines = parse_line_config(&line_config).map_err(Failure::invalid_args)?;
        let config = lines.iter().fold(LineConfig::new(), |c, (o, s)| {
            c.with_line(*o).with_settings(*s)
        });
        self.with_request(RECONFIGURE_FAILED, |r| r.reconfigure(&config))?;
        self.registry.touch();
        crate::daemon::lines_changed(server, &self.line_paths).await;
        Ok(())
    }

    /// The logical values of the lines given (all lines, in request order, if none).
    fn get_values(&self, offsets: Vec<u32>) -> Result<Vec<i32>, Failure> {
        let values = self.with_request(GET_VALUES_FAILED, |r| {
            if offsets.is_empty() {
                r.values()
            } else {
                r.values_of(&offsets)
            }
        })?;
        Ok(values
            .into_iter()
            .map(|v| i32::from(v.is_active()))
            .collect())
    }

    /// Drives output lines: offset to logical value (0 or 1).
    async fn set_values(
        &self,
        values: HashMap<u32, i32>,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), Failure> {
        self.check_caller(connection, &header, "set values of")
            .await?;
        if values.is_empty() {
            return Err(Failure::invalid_args(
                "no values given: map at least one offset of the request to 0 or 1",
            ));
        }
        let mut pairs: Vec<(Offset, Value)> = Vec::with_capacity(values.len());
        for (offset, v) in values {
            let value = match v {
                0 => Value::Inactive,
                1 => Value::Active,
                v => {
                    return Err(Failure::invalid_args(format!(
                        "value {v} for line {offset}: expected 0 (inactive) or 1 (active)"
                    )))
                }
            };
            pairs.push((offset, value));
        }
        pairs.sort_by_key(|p| p.0);
        self.with_request(SET_VALUES_FAILED, |r| r.set_values(&pairs))?;
        self.registry.touch();
        Ok(())
    }
}
