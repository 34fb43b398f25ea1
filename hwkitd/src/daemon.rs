//! The daemon's objects on the bus: chips and their lines exported at start, property
//! changes announced, everything the daemon holds released at shutdown.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use zbus::fdo::{ObjectManager, Properties};
use zbus::object_server::{Interface, ObjectServer};
use zbus::zvariant::{OwnedObjectPath, Value};
use zbus::Connection;

use crate::chip_object::ChipObject;
use crate::line_object::LineObject;
use crate::paths;
use crate::registry::Registry;
use crate::request_object::RequestObject;

/// Exports every chip present: a chip that cannot be opened (removed in between, no
/// permission) is logged and left out, the others are served.
pub async fn export_chips(connection: &Connection, registry: &Arc<Registry>) -> zbus::Result<()> {
    let chip_paths = match hw::chip_paths() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("hwkitd: listing GPIO chips: {e}");
            Vec::new()
        }
    };
    for path in chip_paths {
        export_chip(connection, registry, &path).await?;
    }
    Ok(())
}

/// Exports one chip and its lines; `Ok(false)` if the chip could not be opened (logged).
pub async fn export_chip(
    connection: &Connection,
    registry: &Arc<Registry>,
    dev: &Path,
) -> zbus::Result<bool> {
    let server = connection.object_server();
    let chip = match hw::Chip::open(dev) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("hwkitd: skipping {}: {e}", dev.display());
            return Ok(false);
        }
    };
    let name = chip.info().name.clone();
    let chip_path = paths::chip(&name);
    for offset in 0..chip.info().num_lines {
        let line = LineObject {
            chip: chip.clone(),
            offset,
            registry: registry.clone(),
        };
        server.at(paths::line(&name, offset).as_str(), line).await?;
    }
    let object = ChipObject {
        chip: chip.clone(),
        registry: registry.clone(),
    };
    // The chip interface first: the object manager added next at the same path manages
    // the lines below it (gpio-manager's per-chip line manager), not the chip itself.
    server.at(chip_path.as_str(), object).await?;
    server.at(chip_path.as_str(), ObjectManager).await?;
    if let Err(e) = crate::info_watch::start(connection.clone(), chip.clone()) {
        // The chip is still served; only changes made by others go unannounced.
        eprintln!("hwkitd: {name}: line changes will not be signalled: {e}");
    }
    eprintln!("hwkitd: serving {} as {}", chip.info(), chip_path.as_str());
    Ok(true)
}

/// Announces the current properties of some lines (after a request, reconfiguration or
/// release), one `PropertiesChanged` per line. A line whose chip has gone is skipped.
pub async fn lines_changed(server: &ObjectServer, lines: &[OwnedObjectPath]) {
    for path in lines {
        let Ok(iface) = server.interface::<_, LineObject>(path.as_str()).await else {
            continue;
        };
        let props = match iface.get().await.changeable_properties() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("hwkitd: {e}");
                continue;
            }
        };
        let changed: HashMap<&str, Value<'_>> = props
            .iter()
            .filter_map(|(k, v)| Value::try_from(v).ok().map(|v| (*k, v)))
            .collect();
        if let Err(e) = Properties::properties_changed(
            iface.signal_emitter(),
            LineObject::name(),
            changed,
            Cow::Borrowed(&[]),
        )
        .await
        {
            eprintln!("hwkitd: announcing changes of {}: {e}", path.as_str());
        }
    }
}

/// Releases every request (at shutdown). Outputs stay where the kernel leaves a released
/// line: on most drivers, at the last value driven.
pub async fn release_all(server: &ObjectServer, registry: &Registry) {
    for (id, _) in registry.all() {
        let path = paths::request(id);
        if let Ok(iface) = server.interface::<_, RequestObject>(path.as_str()).await {
            iface.get().await.release_lines().await;
        }
        registry.remove(id);
    }
}
