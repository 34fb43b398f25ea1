//! `io.gpiod1.Chip`: a GPIO chip, and `RequestLines` to have the daemon hold some of its lines.

use std::sync::{Arc, Mutex};

use hw::{Chip, LineConfig, LineSettings, Offset, Request};
use zbus::interface;
use zbus::message::Header;
use zbus::zvariant::OwnedObjectPath;
use zbus::Connection;

use crate::caller;
use crate::edge_events::EdgeWatcher;
use crate::error::{Failure, REQUEST_FAILED};
use crate::line_config::{
    parse_line_config, parse_request_config, DbusLineConfig, DbusRequestConfig, RequestOptions,
};
use crate::paths;
use crate::registry::{Held, Registry};
use crate::request_object::RequestObject;

/// The chip object at `/io/gpiod1/chips/gpiochipN`.
pub struct ChipObject {
    /// The chip, open.
    pub chip: Arc<Chip>,
    /// Who holds what.
    pub registry: Arc<Registry>,
}

#[interface(name = "io.gpiod1.Chip")]
impl ChipObject {
    /// The kernel's name of the chip, e.g. `gpiochip0`.
    #[zbus(property)]
    fn name(&self) -> String {
        self.chip.info().name.clone()
    }

    /// The driver's label.
    #[zbus(property)]
    fn label(&self) -> String {
        self.chip.info().label.clone()
    }

    /// The number of lines.
    #[zbus(property)]
    fn num_lines(&self) -> u32 {
        self.chip.info().num_lines
    }

    /// The device path, as bytes with a terminating NUL: gpio-manager's `ay` is a GLib
    /// bytestring, which carries one, and its clients read it as a C string.
    #[zbus(property)]
    fn path(&self) -> Vec<u8> {
        let mut bytes = self.chip.path().as_os_str().as_encoded_bytes().to_vec();
        bytes.push(0);
        bytes
    }

    /// Requests lines and holds them until the request object's `Release`, whether or not
    /// the caller is still running. The request belongs to the caller's Unix user.
    async fn request_lines(
        &self,
        line_config: DbusLineConfig,
        request_config: DbusRequestConfig,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<OwnedObjectPath, Failure> {
        let lines = parse_line_config(&line_config).map_err(Failure::invalid_args)?;
        let options = parse_request_config(&request_config).map_err(Failure::invalid_args)?;
        let owner = caller::uid(connection, &header).await?;
        hold_lines(
            connection,
            &self.registry,
            &self.chip,
            &lines,
            &options,
            owner,
        )
        .await
    }
}

/// Requests `lines` of `chip` for user `owner` and serves the request object; its path.
pub async fn hold_lines(
    connection: &Connection,
    registry: &Arc<Registry>,
    chip: &Arc<Chip>,
    lines: &[(Offset, LineSettings)],
    options: &RequestOptions,
    owner: u32,
) -> Result<OwnedObjectPath, Failure> {
    let server = connection.object_server();
    let config = lines.iter().fold(LineConfig::new(), |c, (o, s)| {
        c.with_line(*o).with_settings(*s)
    });
    let mut builder = Request::builder()
        .on_chip(chip.path())
        .consumer(options.consumer.clone())
        .with_config(config);
    if let Some(n) = options.event_buffer_size {
        builder = builder.event_buffer_size(n);
    }
    let request = builder
        .request()
        .map_err(|e| Failure::new(REQUEST_FAILED, e.to_string()))?;
    let chip_name = chip.info().name.clone();
    let offsets: Vec<u32> = request.offsets().to_vec();
    let request = Arc::new(Mutex::new(Some(request)));
    let edges = match EdgeWatcher::start(connection.clone(), request.clone(), chip_name.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            // The lines are still worth holding; only their edge signals are lost.
            eprintln!("hwkitd: lines {offsets:?} of {chip_name}: no EdgeEvent signals: {e}");
            None
        }
    };
    let id = registry.insert(Held {
        chip: chip_name.clone(),
        offsets: offsets.clone(),
    });
    let path = paths::request(id);
    let line_paths: Vec<OwnedObjectPath> = offsets
        .iter()
        .map(|&o| paths::line(&chip_name, o))
        .collect();
    let object = RequestObject {
        id,
        chip_path: paths::chip(&chip_name),
        line_paths: line_paths.clone(),
        request,
        edges: tokio::sync::Mutex::new(edges),
        registry: registry.clone(),
        consumer: options.consumer.clone(),
        event_buffer_size: options.event_buffer_size,
        owner,
    };
    if let Err(e) = server.at(path.as_str(), object).await {
        // Not served, so not held: the lines go back (the object, dropped, stopped its
        // watcher task and closed the request).
        registry.remove(id);
        return Err(Failure::new(
            REQUEST_FAILED,
            format!("exporting {}: {e}", path.as_str()),
        ));
    }
    eprintln!(
        "hwkitd: {} holds lines {offsets:?} of {chip_name} for '{}' of {}",
        path.as_str(),
        options.consumer,
        caller::user(owner)
    );
    crate::daemon::lines_changed(server, &line_paths).await;
    Ok(path)
}
