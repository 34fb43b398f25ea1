//! The daemon's objects on the bus: chips and their lines exported (at start and as chips
//! appear), removed with their requests when chips go, property changes announced, and
//! everything the daemon holds released at shutdown.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::JoinHandle;
use zbus::fdo::{ObjectManager, Properties};
use zbus::object_server::{Interface, ObjectServer};
use zbus::zvariant::{OwnedObjectPath, Value};
use zbus::Connection;

use crate::chip_object::ChipObject;
use crate::line_object::LineObject;
use crate::paths;
use crate::registry::Registry;
use crate::request_object::RequestObject;

/// A chip on the bus: its kernel name and line count.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Exported {
    name: String,
    num_lines: u32,
}

/// The daemon: its connection, who holds what, and the chips it serves (by device path).
pub struct Daemon {
    /// The bus connection.
    pub connection: Connection,
    /// Who holds what.
    pub registry: Arc<Registry>,
    chips: Mutex<BTreeMap<PathBuf, Exported>>,
    // The line-info watch of each chip, by device path.
    watchers: Mutex<HashMap<PathBuf, JoinHandle<()>>>,
    // One resync at a time: two at once (start and a hot-plug event) would export a chip twice.
    syncing: tokio::sync::Mutex<()>,
}

impl Daemon {
    /// A daemon serving nothing yet.
    pub fn new(connection: Connection) -> Daemon {
        Daemon {
            connection,
            registry: Arc::new(Registry::default()),
            chips: Mutex::new(BTreeMap::new()),
            watchers: Mutex::new(HashMap::new()),
            syncing: tokio::sync::Mutex::new(()),
        }
    }

    fn chips(&self) -> MutexGuard<'_, BTreeMap<PathBuf, Exported>> {
        self.chips.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings the exported chips in line with `/dev`: chips gone are removed (with their
    /// requests), new ones exported. A chip that cannot be opened (being removed, no
    /// permission) is logged and left out; `false` if one such chip is still in `/dev`.
    pub async fn sync_chips(&self) -> bool {
        let _one_at_a_time = self.syncing.lock().await;
        let present = match hw::chip_paths() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("hwkitd: listing GPIO chips: {e}");
                return true;
            }
        };
        let gone: Vec<(PathBuf, Exported)> = self
            .chips()
            .iter()
            .filter(|(p, _)| !present.contains(p))
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect();
        for (path, chip) in gone {
            self.unexport_chip(&path, &chip).await;
        }
        let mut complete = true;
        for path in present {
            if self.chips().contains_key(&path) {
                continue;
            }
            match self.export_chip(&path).await {
                Ok(true) => {}
                Ok(false) => complete = false,
                Err(e) => eprintln!("hwkitd: exporting {}: {e}", path.display()),
            }
        }
        complete
    }

    /// Exports one chip and its lines; `Ok(false)` if the chip could not be opened (logged).
    async fn export_chip(&self, dev: &Path) -> zbus::Result<bool> {
        let server = self.connection.object_server();
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
                registry: self.registry.clone(),
            };
            server.at(paths::line(&name, offset).as_str(), line).await?;
        }
        let object = ChipObject {
            chip: chip.clone(),
            registry: self.registry.clone(),
        };
        // The chip interface first: the object manager added next at the same path manages
        // the lines below it (gpio-manager's per-chip line manager), not the chip itself.
        server.at(chip_path.as_str(), object).await?;
        server.at(chip_path.as_str(), ObjectManager).await?;
        match crate::info_watch::start(self.connection.clone(), chip.clone()) {
            Ok(task) => {
                self.watchers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(dev.to_owned(), task);
            }
            // The chip is still served; only changes made by others go unannounced.
            Err(e) => eprintln!("hwkitd: {name}: line changes will not be signalled: {e}"),
        }
        self.chips().insert(
            dev.to_owned(),
            Exported {
                name,
                num_lines: chip.info().num_lines,
            },
        );
        eprintln!("hwkitd: serving {} as {}", chip.info(), chip_path.as_str());
        Ok(true)
    }

    /// Removes a chip that has gone: its lines, the chip, then its requests (their lines
    /// went with it). Errors are logged: the rest of the daemon serves on.
    ///
    /// The order matters on Linux 6.1: releasing a request of a removed chip notifies every
    /// fd that watches its lines, and building that notice reads the chip, which is gone (a
    /// NULL dereference, `gpio_desc_to_lineinfo`; later kernels guard it). So the daemon's
    /// own watching fd is closed first: the watch task ended, and the line and chip objects,
    /// which share that fd, removed.
    async fn unexport_chip(&self, dev: &Path, chip: &Exported) {
        self.chips().remove(dev);
        let server = self.connection.object_server();
        let watcher = self
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(dev);
        if let Some(task) = watcher {
            task.abort();
            let _ = task.await;
        }
        for offset in 0..chip.num_lines {
            let _ = server
                .remove::<LineObject, _>(paths::line(&chip.name, offset).as_str())
                .await;
        }
        let chip_path = paths::chip(&chip.name);
        let _ = server.remove::<ObjectManager, _>(chip_path.as_str()).await;
        if let Err(e) = server.remove::<ChipObject, _>(chip_path.as_str()).await {
            eprintln!("hwkitd: removing {}: {e}", chip_path.as_str());
        }
        for (id, held) in self.registry.all() {
            if held.chip != chip.name {
                continue;
            }
            let path = paths::request(id);
            if let Ok(iface) = server.interface::<_, RequestObject>(path.as_str()).await {
                iface.get().await.release_lines().await;
            }
            self.registry.remove(id);
            if let Err(e) = server.remove::<RequestObject, _>(path.as_str()).await {
                eprintln!("hwkitd: removing {}: {e}", path.as_str());
            }
            eprintln!(
                "hwkitd: released {} with its chip {}",
                path.as_str(),
                chip.name
            );
        }
        eprintln!(
            "hwkitd: no longer serving {} ({})",
            chip.name,
            dev.display()
        );
    }

    /// Releases every request (at shutdown): every chip is unexported, which closes the
    /// daemon's watching fds before the requests are released (see `unexport_chip`).
    /// Outputs stay where the kernel leaves a released line: on most drivers, at the last
    /// value driven.
    pub async fn release_all(&self) {
        let _one_at_a_time = self.syncing.lock().await;
        let chips: Vec<(PathBuf, Exported)> = self
            .chips()
            .iter()
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect();
        for (path, chip) in chips {
            self.unexport_chip(&path, &chip).await;
        }
    }
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
