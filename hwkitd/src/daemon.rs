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

use crate::chip_object::{hold_lines, ChipObject};
use crate::line_config::RequestOptions;
use crate::line_object::LineObject;
use crate::paths;
use crate::registry::Registry;
use crate::request_object::RequestObject;
use crate::state::State;

/// A chip on the bus: its kernel name, label and line count, and the open chip.
#[derive(Clone, Debug)]
struct Exported {
    name: String,
    label: String,
    num_lines: u32,
    chip: Arc<hw::Chip>,
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

    /// The chips served now, open, in device-path order.
    pub fn chips_served(&self) -> Vec<Arc<hw::Chip>> {
        self.chips().values().map(|e| e.chip.clone()).collect()
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
            self.unexport_chip(&path, chip).await;
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
                label: chip.info().label.clone(),
                num_lines: chip.info().num_lines,
                chip: chip.clone(),
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
    async fn unexport_chip(&self, dev: &Path, chip: Exported) {
        let Exported {
            name,
            num_lines,
            chip: handle,
            ..
        } = chip;
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
        for offset in 0..num_lines {
            let _ = server
                .remove::<LineObject, _>(paths::line(&name, offset).as_str())
                .await;
        }
        let chip_path = paths::chip(&name);
        let _ = server.remove::<ObjectManager, _>(chip_path.as_str()).await;
        if let Err(e) = server.remove::<ChipObject, _>(chip_path.as_str()).await {
            eprintln!("hwkitd: removing {}: {e}", chip_path.as_str());
        }
        // The last handle on the chip fd (the objects removed above held the others).
        drop(handle);
        for (id, held) in self.registry.all() {
            if held.chip != name {
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
            eprintln!("hwkitd: released {} with its chip {}", path.as_str(), name);
        }
        eprintln!("hwkitd: no longer serving {} ({})", name, dev.display());
    }

    /// What the daemon holds, as the state file keeps it.
    pub async fn snapshot(&self) -> State {
        let server = self.connection.object_server();
        // Names and labels only: a chip handle held across the awaits below could outlive
        // the chip's removal (see `unexport_chip`).
        let chips: Vec<(String, String)> = self
            .chips()
            .values()
            .map(|c| (c.name.clone(), c.label.clone()))
            .collect();
        let mut state = State::default();
        for (id, held) in self.registry.all() {
            let Some((name, label)) = chips.iter().find(|c| c.0 == held.chip) else {
                continue;
            };
            let path = paths::request(id);
            if let Ok(iface) = server.interface::<_, RequestObject>(path.as_str()).await {
                if let Some(saved) = iface.get().await.saved(label, name) {
                    state.requests.push(saved);
                }
            }
        }
        state
    }

    /// Requests again what a state file lists, logging every line restored and every
    /// request that cannot be (its chip missing, its lines busy): the others still are.
    pub async fn restore(&self, state: &State) {
        for saved in &state.requests {
            let chip = self
                .chips()
                .values()
                .find(|c| {
                    if saved.chip_label.is_empty() {
                        c.name == saved.chip_name
                    } else {
                        c.label == saved.chip_label
                    }
                })
                .cloned();
            let Some(chip) = chip else {
                eprintln!(
                    "hwkitd: not restoring lines of chip '{}' ({} when saved): no such chip now",
                    saved.chip_label, saved.chip_name
                );
                continue;
            };
            let lines: Result<Vec<_>, String> = saved.lines.iter().map(|l| l.settings()).collect();
            let lines = match lines {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("hwkitd: not restoring a request on {}: {e}", chip.name);
                    continue;
                }
            };
            let options = RequestOptions {
                consumer: saved.consumer.clone(),
                event_buffer_size: saved.event_buffer_size,
            };
            match hold_lines(
                &self.connection,
                &self.registry,
                &chip.chip,
                &lines,
                &options,
                saved.owner,
            )
            .await
            {
                Ok(path) => {
                    for l in &saved.lines {
                        let value = if l.is_output() {
                            format!(", driving {}", l.value)
                        } else {
                            String::new()
                        };
                        eprintln!(
                            "hwkitd: restored {}: line {} of {} [{}], {}{value}, for {}",
                            path.as_str(),
                            l.offset,
                            chip.name,
                            chip.label,
                            l.direction,
                            crate::caller::user(saved.owner)
                        );
                    }
                }
                Err(e) => eprintln!(
                    "hwkitd: not restoring lines {:?} of {}: {e}",
                    saved.lines.iter().map(|l| l.offset).collect::<Vec<_>>(),
                    chip.name
                ),
            }
        }
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
            self.unexport_chip(&path, chip).await;
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
