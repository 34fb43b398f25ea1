//! Which request holds which lines: the daemon's one piece of shared state.
//!
//! Request ids are the lowest free number, as gpio-manager allocates them, so a released
//! `request0` is the next one handed out.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use hw::Offset;

/// The lines of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// The kernel's name of the chip, e.g. `gpiochip0`.
    pub chip: String,
    /// The offsets held, in request order.
    pub offsets: Vec<Offset>,
}

/// The requests the daemon holds, by id.
#[derive(Debug, Default)]
pub struct Registry {
    requests: Mutex<BTreeMap<u32, Held>>,
    changed: tokio::sync::Notify,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u32, Held>> {
        // A panic elsewhere must not take the registry down with it: the map stays valid
        // between statements, so a poisoned lock is still consistent.
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a request and returns its id.
    pub fn insert(&self, held: Held) -> u32 {
        let id = {
            let mut map = self.lock();
            let id = (0..).find(|i| !map.contains_key(i)).unwrap_or(u32::MAX);
            map.insert(id, held);
            id
        };
        self.touch();
        id
    }

    /// Forgets a request; returns what it held.
    pub fn remove(&self, id: u32) -> Option<Held> {
        let held = self.lock().remove(&id);
        if held.is_some() {
            self.touch();
        }
        held
    }

    /// Notes that what the daemon holds changed (a request, a release, values, settings),
    /// for the state file.
    pub fn touch(&self) {
        self.changed.notify_one();
    }

    /// Waits for the next change (changes while nobody waits are remembered as one).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The request holding a line, if the daemon holds it.
    pub fn holder(&self, chip: &str, offset: Offset) -> Option<u32> {
        self.lock()
            .iter()
            .find(|(_, h)| h.chip == chip && h.offsets.contains(&offset))
            .map(|(id, _)| *id)
    }

    /// Every request, by id.
    pub fn all(&self) -> Vec<(u32, Held)> {
        self.lock().iter().map(|(i, h)| (*i, h.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(chip: &str, offsets: &[Offset]) -> Held {
        Held {
            chip: chip.into(),
            offsets: offsets.to_vec(),
        }
    }

    #[test]
    fn ids_are_the_lowest_free() {
        let r = Registry::default();
        assert_eq!(r.insert(held("gpiochip0", &[1])), 0);
        assert_eq!(r.insert(held("gpiochip0", &[2, 3])), 1);
        assert_eq!(r.insert(held("gpiochip1", &[2])), 2);
        assert_eq!(r.holder("gpiochip0", 3), Some(1));
        assert_eq!(r.holder("gpiochip1", 3), None);
        assert_eq!(r.remove(1), Some(held("gpiochip0", &[2, 3])));
        assert_eq!(r.holder("gpiochip0", 3), None);
        assert_eq!(r.insert(held("gpiochip0", &[4])), 1);
        assert_eq!(r.remove(7), None);
    }
}
